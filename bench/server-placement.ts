/**
 * Where the kernel's receive path of a benchmark's server runs (`--placement`), shared by bench/echo and bench/http.
 *
 * On a veth the receiver's kernel work runs on the sender's CPU, inside the sender's `sendto()`/`write()`: for an
 * AF_XDP server the XDP program and the copy into its UMEM, for a Linux TCP server all of IP/TCP input. So by default
 * (`sender`) the server's receive path runs on the client's CPU, and the server is not confined to its core.
 * `own` moves it to the server's CPU: threaded NAPI of the AF_XDP veth pinned there, or RPS of the kernel veth to it.
 * A client with a kernel address (wrk) gets the mirror image with `own`: RPS of its veth to the client's CPU, so its
 * TCP input of the replies is not charged to the server's CPU.
 */
import { pinNapi, type Port } from './fwd-linux-topo.js';
import { CPU_CLIENT, CPU_SERVER, setRps } from './stack-bench-topo.js';

export type Placement = 'own' | 'sender';

/** The `--placement` lines of a benchmark's --help. */
export const PLACEMENT_HELP =
  `  --placement P      where the server's kernel receive path runs: own (default: on the server's CPU ${CPU_SERVER} — threaded NAPI
                     of the AF_XDP veth pinned there for ixy.ts, RPS to CPU ${CPU_SERVER} for Linux) or sender (the kernel's
                     default for veth: on the CPU that sent the frame, i.e. the client's CPU ${CPU_CLIENT})`;

/** Checks a `--placement` value (an option error otherwise). */
export function parsePlacement(v: string | undefined): Placement {
  if (v !== 'own' && v !== 'sender') throw new Error('--placement must be own or sender');
  return v;
}

/** A server end with a kernel address (Linux TCP): RPS to the server's CPU with `own`, none with `sender`. */
export function placeKernelServer(port: Port, p: Placement): void {
  setRps(port, p === 'own' ? CPU_SERVER : null);
}

/** A client end with a kernel address (wrk, NPtcp): RPS to the client's CPU with `own`, none with `sender`. */
export function placeKernelClient(port: Port, p: Placement): void {
  setRps(port, p === 'own' ? CPU_CLIENT : null);
}

/**
 * An AF_XDP server end, once its XDP program is attached (a veth has NAPI only then): with `own`, threaded NAPI
 * pinned to the server's CPU. Returns the NAPI threads' ids (none with `sender`); throws if there are none.
 */
export function placeXdpServer(port: Port, p: Placement): number[] {
  if (p !== 'own') return [];
  const r = pinNapi(port, CPU_SERVER);
  if (r.problem) throw new Error(r.problem);
  return r.tids;
}

/** A sentence for a report: where the servers' (and a kernel client's) receive paths ran. */
export function placementAbout(p: Placement, kernelClient = false): string {
  if (p === 'own') {
    return `own — the server's kernel receive path on the server's CPU ${CPU_SERVER}: ixy.ts: threaded NAPI of its AF_XDP veth (XDP program, copy into the UMEM) pinned to CPU ${CPU_SERVER}; ` +
      `Linux: RPS of its veth to CPU ${CPU_SERVER} (IP/TCP input in CPU ${CPU_SERVER}'s softirq)` +
      (kernelClient ? `; the client's kernel receive path (its TCP input of the replies): RPS of its veth to CPU ${CPU_CLIENT}` : '');
  }
  return `sender — the kernel's default for veth: a frame's receive processing runs on the CPU that sent it, so the server's kernel receive path ` +
    `(ixy.ts: XDP + copy; Linux: all of IP/TCP input) runs on the client's CPU ${CPU_CLIENT}` +
    (kernelClient ? `, and the client's TCP input of the replies on the server's CPU ${CPU_SERVER}` : '');
}
