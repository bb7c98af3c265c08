/**
 * Registers `xdp:IF[@Q][,mode=native|generic|auto]`: interface IF through AF_XDP, first queue Q (default 0),
 * the XDP program in the driver (native), on the generic skb path (generic), or native when the driver can (auto).
 */
import { linuxMemory } from '../../mem/mmap-dma.js';
import { IxyError, UsageError } from '../../util/errors.js';
import { ifindexOf, readQueueCounts } from '../../sys/netif.js';
import { refuseDefaultRouteLink } from '../default-route-guard.js';
import { registerDriver, type DeviceSpec, type QueueShare } from '../open.js';
import { type XdpTarget, XdpDevice } from './xdp-device.js';
import { XdpRedirect, type XdpModeRequest } from './xdp-program.js';
import { XDP_PACKET_HEADROOM } from './xsk-socket.js';

const USAGE = 'xdp:IF[@QUEUE][,mode=native|generic|auto] — Linux interface IF through AF_XDP (e.g. xdp:veth0, xdp:eth1@2,mode=generic)';

export function parseXdpSpec(spec: DeviceSpec): XdpTarget {
  const [head, ...opts] = spec.arg.split(',');
  const at = head.lastIndexOf('@');
  const ifname = at < 0 ? head : head.slice(0, at);
  let queue = 0;
  if (at >= 0) {
    const q = head.slice(at + 1);
    if (!/^\d{1,4}$/.test(q)) throw new UsageError(`'${spec.text}': '${q}' is not a queue number: use xdp:${ifname}@N with N = 0, 1, …`, 'EBADSPEC');
    queue = Number(q);
  }
  if (ifname === '') throw new UsageError(`'${spec.text}' names no interface: use ${USAGE.split(' ')[0]}`, 'EBADSPEC');
  let mode: XdpModeRequest = 'auto';
  let xskmapFd: number | undefined;
  for (const o of opts) {
    const j = /^xskmap=(\d{1,9})$/.exec(o);
    if (j) { xskmapFd = Number(j[1]); continue; } // set by shareQueues for --threads, not by users
    const m = /^mode=(.*)$/.exec(o);
    if (!m) throw new UsageError(`'${spec.text}': unknown option '${o}': the only option is mode=native|generic|auto`, 'EBADSPEC');
    if (m[1] !== 'native' && m[1] !== 'generic' && m[1] !== 'auto') {
      throw new UsageError(`'${spec.text}': mode '${m[1]}' is invalid: use mode=native, mode=generic or mode=auto`, 'EBADSPEC');
    }
    mode = m[1];
  }
  return { ifname, queue, mode, xskmapFd };
}

/**
 * `--threads N`: one XDP program and XSKMAP for the interface, attached here; thread i opens queue Q+i with a spec
 * that joins them (`,xskmap=FD`: the map's fd is valid in every thread of this process).
 */
function shareQueues(spec: DeviceSpec, threads: number, force?: boolean): QueueShare {
  const t = parseXdpSpec(spec);
  refuseDefaultRouteLink(spec.text, t.ifname, 'xdp', force);
  const have = readQueueCounts(t.ifname)?.rx ?? null;
  if (have !== null && t.queue + threads > have) {
    throw new IxyError(
      `--threads ${threads} needs ${threads} queues of ${t.ifname} from ${t.queue} on, and it has ${have}: ` +
        `use fewer threads or an interface with more queues (veth: ip link add … numrxqueues ${threads} numtxqueues ${threads})`,
    );
  }
  const prog = XdpRedirect.attach(t.ifname, ifindexOf(t.ifname), Math.max(have ?? 0, t.queue + threads), t.mode);
  return {
    specs: Array.from({ length: threads }, (_, i) => `xdp:${t.ifname}@${t.queue + i},mode=${prog.mode},xskmap=${prog.mapFdNumber}`),
    steering: 'partition',
    close: () => prog.close(),
  };
}

registerDriver({
  kind: 'xdp',
  usage: USAGE,
  check: (spec) => { parseXdpSpec(spec); },
  dmaAllocator: () => linuxMemory,
  poolHeadroom: XDP_PACKET_HEADROOM,
  open: (spec, opts) => {
    const t = parseXdpSpec(spec);
    if (t.xskmapFd === undefined) refuseDefaultRouteLink(spec.text, t.ifname, 'xdp', opts.force);
    return new XdpDevice(spec.text, t, opts);
  },
  shareQueues,
});
