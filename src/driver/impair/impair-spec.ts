/**
 * `impair:SEED[,loss=P%][,reorder=P%][,dup=P%][,corrupt=P%][,delay=D]/INNER`
 *
 * SEED is a decimal integer 0..4294967295. P is a percentage 0..100 with optional decimals and a mandatory `%`
 * (`loss=0.5%`). D is a delay with a unit, `us` or `ms`, up to 1 s (`delay=250us`, `delay=2ms`; `delay=0` is
 * allowed bare). Every option is optional and appears at most once; absent ones are 0. INNER is everything after
 * the first `/`: any device spec, another `impair:` included.
 */
import { IxyError, UsageError } from '../../util/errors.js';
import { parseDeviceSpec, type DeviceSpec } from '../open.js';

export interface ImpairConfig {
  seed: number;
  /** Probabilities in percent, 0..100. */
  lossPct: number;
  reorderPct: number;
  dupPct: number;
  corruptPct: number;
  /** Milliseconds (performance.now()'s unit); 0 = none. */
  delayMs: number;
}

export interface ImpairSpec {
  config: ImpairConfig;
  inner: DeviceSpec;
}

export const IMPAIR_USAGE =
  'impair:SEED[,loss=P%][,reorder=P%][,dup=P%][,corrupt=P%][,delay=Nus|Nms]/INNER — any device INNER behind a ' +
  'deterministic netem in both directions (e.g. impair:42,loss=5%,delay=1ms/tap:t0)';
const USE = `use ${IMPAIR_USAGE.split(' ')[0]}, e.g. impair:42,loss=5%,delay=1ms/sim:0`;
const MAX_DELAY_MS = 1000;

const PCT_KEYS = { loss: 'lossPct', reorder: 'reorderPct', dup: 'dupPct', corrupt: 'corruptPct' } as const;

export function parseImpairSpec(spec: DeviceSpec): ImpairSpec {
  const slash = spec.arg.indexOf('/');
  if (slash < 0 || slash === spec.arg.length - 1) throw new UsageError(`'${spec.text}' names no inner device after '/': ${USE}`, 'EBADSPEC');
  const [seedText, ...options] = spec.arg.slice(0, slash).split(',');
  if (!/^\d{1,10}$/.test(seedText) || Number(seedText) > 0xffffffff) {
    throw new UsageError(`'${spec.text}': '${seedText}' is not a seed: the first field is an integer 0..4294967295; ${USE}`, 'EBADSPEC');
  }
  const config: ImpairConfig = { seed: Number(seedText), lossPct: 0, reorderPct: 0, dupPct: 0, corruptPct: 0, delayMs: 0 };
  const seen = new Set<string>();
  for (const o of options) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? '' : o.slice(eq + 1);
    if (key !== 'delay' && !Object.hasOwn(PCT_KEYS, key)) {
      throw new UsageError(`'${spec.text}' has an unknown option '${o}': the options are loss, reorder, dup, corrupt (=P%) and delay (=Nus or Nms)`, 'EBADSPEC');
    }
    if (seen.has(key)) throw new UsageError(`'${spec.text}' sets ${key} twice: give each option once`, 'EBADSPEC');
    seen.add(key);
    if (key === 'delay') {
      config.delayMs = parseDelay(spec.text, value);
    } else {
      const m = /^(\d{1,3}(?:\.\d+)?)%$/.exec(value);
      if (!m || Number(m[1]) > 100) {
        throw new UsageError(`'${spec.text}': ${key}=${value} is not a percentage: use 0..100 with a % sign, e.g. ${key}=0.5%`, 'EBADSPEC');
      }
      config[PCT_KEYS[key as keyof typeof PCT_KEYS]] = Number(m[1]);
    }
  }
  const innerText = spec.arg.slice(slash + 1);
  let inner: DeviceSpec;
  try {
    inner = parseDeviceSpec(innerText);
  } catch (e) {
    if (innerText.startsWith('impair:')) throw e; // it names its own spec and inner device
    if (e instanceof UsageError) throw new UsageError(`'${spec.text}': inner device: ${e.message}`, 'EBADSPEC');
    if (e instanceof IxyError) throw new IxyError(`'${spec.text}': inner device: ${e.message}`);
    throw e;
  }
  return { config, inner };
}

function parseDelay(text: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms)$/.exec(value);
  const ms = value === '0' ? 0 : m ? Number(m[1]) / (m[2] === 'us' ? 1000 : 1) : NaN;
  if (!(ms <= MAX_DELAY_MS)) {
    throw new UsageError(`'${text}': delay=${value} is not a delay: use a number with us or ms up to ${MAX_DELAY_MS}ms, e.g. delay=500us or delay=2ms`, 'EBADSPEC');
  }
  return ms;
}
