/**
 * The XDP programs of `bench/fwd-linux`, assembled with src/sys/bpf-asm.ts and loaded/attached with src/sys/bpf.ts
 * (their public API only), plus a small CLI that holds them attached inside a network namespace until it is told
 * to stop (SIGTERM/SIGINT or its stdin closing): BPF links die with the process, so nothing outlives it.
 *
 *   node dist/bench/xdp-redirect.js redirect IF_A IF_B   the in-kernel forwarder: every frame arriving on IF_A goes
 *                                                       out of IF_B and vice versa (DEVMAP_HASH keyed by the
 *                                                       ingress ifindex + bpf_redirect_map)
 *   node dist/bench/xdp-redirect.js drop IF              XDP_DROP on IF (the cheapest sink)
 *   node dist/bench/xdp-redirect.js pass IF              XDP_PASS on IF (turns on veth's NAPI path, see below)
 *   node dist/bench/xdp-redirect.js tcdrop IF            a tc (tcx ingress) program returning TC_ACT_SHOT: drops
 *                                                       socket buffers right after the interface counted them
 *   node dist/bench/xdp-redirect.js gen IF HEXFRAME      traffic generator: BPF_PROG_TEST_RUN with
 *         [--batch 64] [--chunk 4194304]                BPF_F_TEST_XDP_LIVE_FRAMES runs a program that returns
 *                                                       bpf_redirect(IF) on copies of HEXFRAME, in a loop of
 *                                                       calls of --chunk frames each, in batches of --batch
 *
 * Why big chunks: a test run with repeat > 1 adds the program to the XDP dispatcher and removes it afterwards
 * (bpf_prog_change_xdp), which waits for RCU grace periods; with 256 Ki frames per call the generator spent ~30 %
 * of its time asleep in synchronize_rcu here, with 4 Mi ~2 %.
 *
 * Each prints one JSON line `{"ready":true,...}` once attached (or `{"error":...}` and exits 1), and a final JSON
 * line when it stops. All programs attach in native (driver) mode: on veth that is where XDP_REDIRECT works.
 *
 * veth and XDP (drivers/net/veth.c): frames redirected *into* a veth (ndo_xdp_xmit) are queued on its peer's
 * NAPI ring, which exists only while the peer has an XDP program attached (or GRO enabled); otherwise they are
 * dropped and counted as xdp_xmit errors. So the sink end of the forwarder's egress veth must carry a program
 * (our XDP_DROP does), and the generator's peer (the forwarder's ingress) must too (the forwarders' own program,
 * or XDP_PASS for the forwarders that read from the kernel stack).
 */
import * as fs from 'node:fs';
import {
  BPF_ANY, BPF_MAP_TYPE_DEVMAP_HASH, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP, BPF_TCX_INGRESS, BPF_XDP, bpfCall, closeFd,
  createLink, createMap, loadProgram, u32Bytes, updateMapElem,
} from '../src/sys/bpf.js';
import { BPF_FUNC, BpfAsm, R0, R1, R2, R3, R4 } from '../src/sys/bpf-asm.js';
import { koffi } from '../src/sys/libc.js';

import { XDP_ABORTED, XDP_DROP, XDP_PASS } from '../src/sys/bpf.js';
/** TC_ACT_SHOT (include/uapi/linux/pkt_cls.h): drop the packet. */
export const TC_ACT_SHOT = 2;
/** struct xdp_md: data, data_end, ingress_ifindex (include/uapi/linux/bpf.h). */
const XDP_MD_DATA = 0;
const XDP_MD_DATA_END = 4;
const XDP_MD_INGRESS_IFINDEX = 12;
/** XDP_FLAGS_DRV_MODE (include/uapi/linux/if_link.h): native mode only, fail rather than fall back to generic. */
export const XDP_FLAGS_DRV_MODE = 1 << 2;
/** enum bpf_cmd BPF_PROG_TEST_RUN, and its flag BPF_F_TEST_XDP_LIVE_FRAMES (include/uapi/linux/bpf.h, since 5.18). */
export const BPF_PROG_TEST_RUN = 10;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

/** `return action;` */
export function actionProgram(action: number): Uint8Array {
  return new BpfAsm().mov64Imm(R0, action).exit().assemble();
}

/**
 * The forwarder: `return bpf_redirect_map(&ports, ctx->ingress_ifindex, XDP_DROP)`, with `ports` a DEVMAP_HASH
 * { ifindex A → ifindex B, B → A }. The low bits of the flags argument are the action when the key is missing.
 */
export function redirectProgram(devmapFd: number): Uint8Array {
  return new BpfAsm()
    .ldx('w', R2, R1, XDP_MD_INGRESS_IFINDEX)
    .ldMapFd(R1, devmapFd)
    .mov64Imm(R3, XDP_DROP)
    .call(BPF_FUNC.redirect_map)
    .exit()
    .assemble();
}

/**
 * The generator's program: writes `frame` over the packet, then `return bpf_redirect(ifindex, 0)` (XDP_REDIRECT
 * towards `ifindex`'s transmit side). The rewrite matters: in live-frames mode the kernel copies the frame into
 * its page pool once per page and recycles the pages, so whatever a receiver changed in place (Linux's
 * ip_forward rewrites the MACs and the TTL) would otherwise be sent again (bpf_prog_run.rst, "live frames").
 */
export function generatorProgram(ifindex: number, frame: Uint8Array): Uint8Array {
  const words = Math.ceil(frame.length / 4);
  const padded = new Uint8Array(words * 4);
  padded.set(frame);
  const dv = new DataView(padded.buffer);
  const a = new BpfAsm()
    .ldx('w', R2, R1, XDP_MD_DATA)
    .ldx('w', R3, R1, XDP_MD_DATA_END)
    .mov64Reg(R4, R2)
    .add64Imm(R4, words * 4)
    .jmpReg('jgt', R4, R3, 'short');
  for (let i = 0; i < words; i++) a.st('w', R2, i * 4, dv.getUint32(i * 4, true));
  return a
    .mov64Imm(R1, ifindex).mov64Imm(R2, 0).call(BPF_FUNC.redirect).exit()
    .label('short').mov64Imm(R0, XDP_ABORTED).exit()
    .assemble();
}

/** The interface's index in the current network namespace (sysfs). */
export function ifindexOf(ifname: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim());
  } catch {
    throw new Error(`no interface '${ifname}' in this network namespace`);
  }
}

/** Programs, maps and links of one role; `close()` detaches everything. */
export class XdpSet {
  private readonly fds: number[] = [];

  track(fd: number): number {
    this.fds.push(fd);
    return fd;
  }

  load(name: string, insns: Uint8Array): number {
    return this.track(loadProgram({ type: BPF_PROG_TYPE_XDP, insns, name, expectedAttachType: BPF_XDP, license: 'GPL' }));
  }

  /** Attaches `progFd` to `ifname` in native mode with a BPF link. */
  attach(ifname: string, progFd: number): void {
    this.track(createLink({ progFd, target: ifindexOf(ifname), attachType: BPF_XDP, flags: XDP_FLAGS_DRV_MODE }));
  }

  /** Loads `insns` as a tc program and attaches it at `ifname`'s tcx ingress hook (kernel ≥ 6.6) with a link. */
  attachTcIngress(ifname: string, name: string, insns: Uint8Array): void {
    const prog = this.track(loadProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns, name, expectedAttachType: BPF_TCX_INGRESS, license: 'GPL' }));
    this.track(createLink({ progFd: prog, target: ifindexOf(ifname), attachType: BPF_TCX_INGRESS }));
  }

  close(): void {
    while (this.fds.length > 0) closeFd(this.fds.pop()!); // links first (last opened), then programs and maps
  }
}

/** XDP_REDIRECT between two interfaces of this namespace, both directions. */
export function attachRedirect(set: XdpSet, a: string, b: string): void {
  const ia = ifindexOf(a);
  const ib = ifindexOf(b);
  const map = set.track(createMap({ type: BPF_MAP_TYPE_DEVMAP_HASH, keySize: 4, valueSize: 4, maxEntries: 4, name: 'fwd_ports' }));
  updateMapElem(map, u32Bytes(ia), u32Bytes(ib), BPF_ANY);
  updateMapElem(map, u32Bytes(ib), u32Bytes(ia), BPF_ANY);
  const prog = set.load('fwd_redirect', redirectProgram(map));
  set.attach(a, prog);
  set.attach(b, prog);
}

export function attachAction(set: XdpSet, ifname: string, action: number): void {
  set.attach(ifname, set.load(action === XDP_DROP ? 'sink_drop' : 'pass', actionProgram(action)));
}

/**
 * One BPF_PROG_TEST_RUN in live-frames mode: the kernel runs `progFd` on `repeat` copies of `frame` in batches of
 * `batchSize` (≤ 256) and carries out the XDP_REDIRECT of each (net/bpf/test_run.c, bpf_test_run_xdp_live).
 * Returns false when a signal interrupted it (EINTR).
 */
export function testRunLive(progFd: number, frame: Uint8Array, repeat: number, batchSize: number): boolean {
  const data = Buffer.from(frame);
  const a = Buffer.alloc(80); // the `test` member of union bpf_attr
  a.writeUInt32LE(progFd, 0); // prog_fd
  a.writeUInt32LE(data.length, 8); // data_size_in
  a.writeBigUInt64LE(koffi().address(data) as bigint, 16); // data_in
  a.writeUInt32LE(repeat, 32); // repeat
  a.writeUInt32LE(BPF_F_TEST_XDP_LIVE_FRAMES, 64); // flags
  a.writeUInt32LE(batchSize, 72); // batch_size
  try {
    bpfCall(BPF_PROG_TEST_RUN, a, 'BPF_PROG_TEST_RUN');
    return true;
  } catch (e) {
    if ((e as { errno?: number }).errno === 4) return false; // EINTR
    throw e;
  } finally {
    data.length; // keep `data` referenced until the call returned
  }
}

function hexBytes(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})+$/i.test(s)) throw new Error(`'${s.slice(0, 20)}…' is not a hex string`);
  return Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
}

const USAGE = 'usage: node dist/bench/xdp-redirect.js redirect IF_A IF_B | drop IF | pass IF | tcdrop IF | gen IF HEXFRAME [--batch N] [--chunk N]';

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  const set = new XdpSet();
  let stop = false;
  let wake: () => void = () => {};
  const onStop = (): void => { stop = true; wake(); };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.stdin.on('end', onStop).on('error', onStop).resume();
  const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
  try {
    switch (mode) {
      case 'redirect':
        if (rest.length !== 2) throw new Error(USAGE);
        attachRedirect(set, rest[0], rest[1]);
        break;
      case 'drop':
      case 'pass':
        if (rest.length !== 1) throw new Error(USAGE);
        attachAction(set, rest[0], mode === 'drop' ? XDP_DROP : XDP_PASS);
        break;
      case 'tcdrop':
        if (rest.length !== 1) throw new Error(USAGE);
        set.attachTcIngress(rest[0], 'sink_tc_drop', actionProgram(TC_ACT_SHOT));
        break;
      case 'gen': {
        if (rest.length < 2) throw new Error(USAGE);
        const opt = (name: string, def: number): number => {
          const i = rest.indexOf(name);
          return i >= 0 ? Number(rest[i + 1]) : def;
        };
        const frame = hexBytes(rest[1]);
        if (frame.length < 14 || frame.length % 4 !== 0) throw new Error('the frame must be at least 14 bytes and a multiple of 4 long');
        const batch = opt('--batch', 64);
        const chunk = opt('--chunk', 1 << 22);
        const prog = set.load('gen_redirect', generatorProgram(ifindexOf(rest[0]), frame));
        testRunLive(prog, frame, 1, batch); // fails here (not in the loop) when the kernel refuses
        out({ ready: true, mode, ifname: rest[0], batch, chunk });
        const t0 = process.hrtime.bigint();
        let runs = 0;
        let interrupted = 0;
        while (!stop) {
          if (testRunLive(prog, frame, chunk, batch)) runs++;
          else interrupted++;
          await new Promise((r) => setImmediate(r)); // let signals and stdin's end be seen
        }
        out({ done: true, mode, fullRuns: runs, interruptedRuns: interrupted, framesAtLeast: runs * chunk, ns: Number(process.hrtime.bigint() - t0) });
        return 0;
      }
      default:
        throw new Error(USAGE);
    }
    out({ ready: true, mode, ifnames: rest });
    if (!stop) await new Promise<void>((r) => { wake = r; });
    out({ done: true, mode });
    return 0;
  } catch (e) {
    out({ error: (e as Error).message });
    return 1;
  } finally {
    set.close();
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => { console.error(e); process.exit(1); });
}
