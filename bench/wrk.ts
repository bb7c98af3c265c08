/**
 * wrk (https://github.com/wg/wrk, Debian's `wrk` 4.1) for bench/http: its command line and what its report says —
 * requests/s, the latency distribution of `--latency`, socket errors and non-2xx/3xx responses.
 */

export interface WrkRun {
  url: string;
  connections: number;
  threads: number;
  /** Whole seconds (wrk takes no fractions). */
  seconds: number;
  /** Send `Connection: close`: a connection per request. */
  close: boolean;
  latency: boolean;
}

export function wrkArgs(r: WrkRun): string[] {
  return ['wrk', '-t', String(r.threads), '-c', String(r.connections), '-d', `${r.seconds}s`, ...(r.latency ? ['--latency'] : []),
    ...(r.close ? ['-H', 'Connection: close'] : []), r.url];
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  seconds: number;
  /** From `--latency`: percentiles of the requests' latency, and wrk's mean and max, ms. */
  latencyMs: { p50: number; p75: number; p90: number; p99: number; mean: number; max: number };
  errors: { connect: number; read: number; write: number; timeout: number; non2xx3xx: number };
  errorsTotal: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** "1.50ms", "850.00us", "1.02s" → ms. */
function durationMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(v);
  if (!m) throw new Error(`wrk: '${v}' is not a duration`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

function num(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m ? Number(m[1]) : 0;
}

/** Parses wrk's report; throws (with its last lines) if it has none. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  if (!rps || !total) throw new Error(`wrk printed no result: ${out.trim().split('\n').slice(-3).join(' | ')}`);
  const pctl = (p: number): number => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? durationMs(m[1]) : NaN;
  };
  const lat = /^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = {
    connect: sock ? Number(sock[1]) : 0, read: sock ? Number(sock[2]) : 0, write: sock ? Number(sock[3]) : 0, timeout: sock ? Number(sock[4]) : 0,
    non2xx3xx: num(out, /Non-2xx or 3xx responses: (\d+)/),
  };
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    seconds: durationMs(`${total[2]}${total[3]}`) / 1000,
    latencyMs: { p50: pctl(50), p75: pctl(75), p90: pctl(90), p99: pctl(99), mean: lat ? durationMs(lat[1]) : NaN, max: lat ? durationMs(lat[3]) : NaN },
    errors,
    errorsTotal: errors.connect + errors.read + errors.write + errors.timeout + errors.non2xx3xx,
  };
}
