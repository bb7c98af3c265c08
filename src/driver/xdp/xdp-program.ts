/**
 * The XDP side of an AF_XDP device: an XSKMAP (queue id → socket) and a five-instruction program that redirects
 * each frame to the socket bound to the queue it arrived on, attached with a BPF link so it goes away with the
 * process. Frames of queues without a socket go to the kernel stack (XDP_PASS).
 */
import {
  BPF_MAP_TYPE_XSKMAP, BPF_PROG_TYPE_XDP, BPF_XDP, BpfError, closeFd, createLink, createMap, loadProgram,
  u32Bytes, updateMapElem,
} from '../../sys/bpf.js';
import { BPF_FUNC, BpfAsm, R0, R1, R2, R3 } from '../../sys/bpf-asm.js';
import { type LinkHolder, xdpLinkHolders } from '../../sys/bpf-links.js';
import { IxyError } from '../../util/errors.js';

import { XDP_PASS } from '../../sys/bpf.js';

/** Offsets in `struct xdp_md`, the XDP program's context (include/uapi/linux/bpf.h). */
export const XDP_MD = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;

// Attach flags (include/uapi/linux/if_link.h).
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;

export type XdpMode = 'native' | 'generic';
export type XdpModeRequest = XdpMode | 'auto';

const EPERM = 1, EACCES = 13, EBUSY = 16, EEXIST = 17, ERANGE = 34;

/** `return bpf_redirect_map(&xskmap, ctx->rx_queue_index, XDP_PASS)`: the low bits of the flags are the fallback action. */
export function xskRedirectProgram(xskmapFd: number): Uint8Array {
  return new BpfAsm()
    .ldx('w', R2, R1, XDP_MD.rx_queue_index)
    .ldMapFd(R1, xskmapFd)
    .mov64Imm(R3, XDP_PASS)
    .call(BPF_FUNC.redirect_map)
    .exit()
    .assemble();
}

/** `return XDP_PASS`: does nothing, handy to test attach conflicts. */
export function passProgram(): Uint8Array {
  return new BpfAsm().mov64Imm(R0, XDP_PASS).exit().assemble();
}

export function privilegeError(ifname: string, what: string): IxyError {
  return new IxyError(`${what} on ${ifname} was refused: AF_XDP needs root (or CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF): run as root`);
}

/**
 * A program attached with a BPF link (ixy's way) cannot be removed with `ip link set … xdp off` ("Can't replace active
 * BPF XDP link"): only by closing the link, i.e. by stopping the process that holds it.
 */
export function busyError(ifname: string, ifindex: number, holders: LinkHolder[] = xdpLinkHolders(ifindex)): IxyError {
  if (holders.length > 0) {
    const who = holders.map((h) => `pid ${h.pid} (${h.command.length > 60 ? `${h.command.slice(0, 57)}...` : h.command})`).join(', ');
    return new IxyError(`${ifname} already has an XDP program, attached with a BPF link held by ${who}: stop that process ` +
      `(kill ${holders.map((h) => h.pid).join(' ')}), or use packet:${ifname}`);
  }
  return new IxyError(
    `${ifname} already has an XDP program: see it with \`ip link show dev ${ifname}\`; if another program attached it with a BPF link ` +
      `(ixy does), stop that process; otherwise detach it with \`ip link set dev ${ifname} xdp off\`; or use packet:${ifname}`,
  );
}

/** The map, the program and the link of one device; close() undoes all three. */
export class XdpRedirect {
  private mapFd = -1;
  private progFd = -1;
  private linkFd = -1;
  mode: XdpMode = 'generic';
  /** False when this device only joined another's map (see join): close() then leaves the map alone. */
  private owner = true;

  private constructor(readonly ifname: string) {}

  /** The XSKMAP's fd, for devices in other threads of this process to join. */
  get mapFdNumber(): number { return this.mapFd; }

  /**
   * Uses the XSKMAP of a program attached by another part of this process (fds are per process): sockets are added
   * to it, and nothing is attached or detached here.
   */
  static join(ifname: string, mapFd: number, mode: XdpMode): XdpRedirect {
    const x = new XdpRedirect(ifname);
    x.mapFd = mapFd;
    x.mode = mode;
    x.owner = false;
    return x;
  }

  /** Creates the XSKMAP (`maxEntries` = queues of the interface) and the program, then attaches it. */
  static attach(ifname: string, ifindex: number, maxEntries: number, request: XdpModeRequest): XdpRedirect {
    const x = new XdpRedirect(ifname);
    try {
      x.mapFd = createMap({ type: BPF_MAP_TYPE_XSKMAP, keySize: 4, valueSize: 4, maxEntries, name: 'ixy_xsks' });
      x.progFd = loadProgram({ type: BPF_PROG_TYPE_XDP, insns: xskRedirectProgram(x.mapFd), name: 'ixy_xsk_redir', expectedAttachType: BPF_XDP });
      x.link(ifindex, request);
      return x;
    } catch (e) {
      x.close();
      if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw privilegeError(ifname, 'loading the XDP program');
      throw e;
    }
  }

  private link(ifindex: number, request: XdpModeRequest): void {
    const tryMode = (mode: XdpMode): void => {
      this.linkFd = createLink({
        progFd: this.progFd, target: ifindex, attachType: BPF_XDP, flags: mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
      });
      this.mode = mode;
    };
    try {
      tryMode(request === 'generic' ? 'generic' : 'native');
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      if (e.errno === EBUSY || e.errno === EEXIST) throw busyError(this.ifname, ifindex);
      if (e.errno === EPERM || e.errno === EACCES || request === 'generic') throw e;
      if (request === 'native') {
        const hint = e.errno === ERANGE ? ' (veth: native XDP needs the peer\'s MTU at most 3506)' : '';
        throw new IxyError(`native XDP on ${this.ifname} failed: ${e.message}${hint}: use mode=generic or mode=auto`);
      }
      // auto: the driver has no native XDP (EOPNOTSUPP) or refuses it in this configuration: use the generic path
      try {
        tryMode('generic');
      } catch (e2) {
        if (e2 instanceof BpfError && (e2.errno === EBUSY || e2.errno === EEXIST)) throw busyError(this.ifname, ifindex);
        throw e2;
      }
    }
  }

  /** Points queue `queue` at socket `fd` (the socket must be bound to that queue). */
  setSocket(queue: number, fd: number): void {
    updateMapElem(this.mapFd, u32Bytes(queue), u32Bytes(fd));
  }

  /** Detaches the program (closing the link), then drops program and map. Idempotent. */
  close(): void {
    if (!this.owner) { this.mapFd = -1; return; }
    closeFd(this.linkFd);
    closeFd(this.progFd);
    closeFd(this.mapFd);
    this.linkFd = this.progFd = this.mapFd = -1;
  }
}
