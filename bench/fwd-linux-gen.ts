/**
 * Traffic generators of `bench/fwd-linux`. All of them send the same 60-byte UDP/IPv4 frame (10.0.0.1:1024 →
 * 10.0.1.1:5000, IPv4 checksum filled in) from the gen namespace's veth, pinned to CPU_GEN; `calibrate()`
 * measures each one straight into the sink (gen → veth → sink, no forwarder) so the benchmark can use the fastest.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, CPU_GEN, type Topology } from './fwd-linux-topo.js';
import { ealArgs, findPmd, Proc, which } from './fwd-linux-proc.js';
import { IXY_CLI } from './paths.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** dist/bench/xdp-redirect.js, next to this file once compiled. */
export const XDP_HELPER = path.join(HERE, 'xdp-redirect.js');
export { IXY_CLI };

export interface Generator {
  name: string;
  /** One line for the report. */
  about: string;
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  /** Starts it (pinned to CPU_GEN) and resolves once it sends. */
  start(topo: Topology, prefix: string): Promise<Proc>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

let tmpDir: string | null = null;
function tmpFile(name: string, text: string): string {
  tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'fwd-linux-'));
  const p = path.join(tmpDir, name);
  fs.writeFileSync(p, text);
  return p;
}

export function removeTmp(): void {
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = null;
}

/** Starts an XDP helper (bench/xdp-redirect.ts) in `ns` and waits for its ready line. */
export async function startXdpHelper(topo: Topology, ns: string, args: string[], cpu?: number): Promise<Proc> {
  const p = new Proc(topo.lab, ns, [process.execPath, XDP_HELPER, ...args], cpu, `xdp-redirect ${args[0]}`);
  await p.waitFor(/"ready":true|"error"/, 10000);
  const err = p.jsonLine<{ error: string }>('error');
  if (err) {
    await p.stop();
    throw new Error(`xdp-redirect ${args[0]}: ${err.error}`);
  }
  return p;
}

function testpmdGen(name: string, pmd: string, vdev: (ifname: string) => string, about: string): Generator {
  return {
    name,
    about,
    unavailable: () => (which('dpdk-testpmd') ? (findPmd(pmd) ? null : `${pmd}.so not found (apt install dpdk)`) : 'dpdk-testpmd not installed'),
    async start(topo, prefix) {
      const pmds = [findPmd(pmd)!, findPmd('librte_mempool_ring')!];
      // txonly: a fixed UDP/IPv4 frame from the port's MAC to --eth-peer, IPv4 checksum computed, UDP checksum 0
      // (doc.dpdk.org/guides-22.11/testpmd_app_ug/run_app.html: --txpkts, --tx-ip, --tx-udp, --eth-peer).
      const cmd = ['dpdk-testpmd', ...ealArgs(CPU_GEN, prefix, pmds, [vdev(topo.gen.ifname)]), '--',
        '--forward-mode=txonly', '--txpkts=60', `--tx-ip=${ADDR.gen},${ADDR.sink}`, '--tx-udp=1024,5000',
        `--eth-peer=0,${topo.dstMac}`, '--total-num-mbufs=16384', '--stats-period=1'];
      const p = new Proc(topo.lab, topo.gen.ns, cmd, CPU_GEN, `${name} generator`);
      await p.waitFor(/Port statistics/, 20000);
      return p;
    },
  };
}

export const GENERATORS: Generator[] = [
  {
    name: 'xdp-live',
    about: 'in-kernel: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, an XDP program returning bpf_redirect(g0) on copies of the frame (bench/xdp-redirect.ts gen)',
    unavailable: () => (fs.existsSync(XDP_HELPER) ? null : `${XDP_HELPER} missing (build first)`),
    async start(topo) {
      const p = new Proc(topo.lab, topo.gen.ns, [process.execPath, XDP_HELPER, 'gen', topo.gen.ifname, hex(topo.frame)], CPU_GEN, 'xdp-live generator');
      await p.waitFor(/"ready":true|"error"/, 10000);
      const err = p.jsonLine<{ error: string }>('error');
      if (err) throw new Error(`xdp-live generator: ${err.error}`);
      return p;
    },
  },
  testpmdGen('testpmd-afxdp', 'librte_net_af_xdp', (i) => `net_af_xdp0,iface=${i}`,
    'dpdk-testpmd --forward-mode=txonly on a net_af_xdp port (AF_XDP copy mode on veth)'),
  testpmdGen('testpmd-afpacket', 'librte_net_af_packet', (i) => `net_af_packet0,iface=${i},qdisc_bypass=1`,
    'dpdk-testpmd --forward-mode=txonly on a net_af_packet port (PACKET_MMAP TX ring, qdisc bypass)'),
  {
    name: 'trafgen',
    about: 'netsniff-ng trafgen, one process, PACKET_MMAP TX ring with qdisc bypass',
    unavailable: () => (which('trafgen') ? null : 'trafgen not installed (apt install netsniff-ng)'),
    async start(topo) {
      const cfg = tmpFile(`trafgen-${topo.gen.ifname}.cfg`, `{ ${Array.from(topo.frame, (b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')} }\n`);
      // --cpus 1: one sender (default: one per CPU); --notouch-irq / --no-sock-mem: change no system settings.
      const p = new Proc(topo.lab, topo.gen.ns, ['trafgen', '--dev', topo.gen.ifname, '--conf', cfg, '--cpus', '1', '--notouch-irq', '--no-sock-mem'], CPU_GEN, 'trafgen');
      await p.waitFor(/Running!/, 10000);
      return p;
    },
  },
  {
    name: 'ixy-pktgen',
    about: "ixy.ts's own `pktgen` on an xdp: device (AF_XDP copy mode, JavaScript)",
    unavailable: () => (fs.existsSync(IXY_CLI) ? null : `${IXY_CLI} missing (build first)`),
    async start(topo) {
      const p = new Proc(topo.lab, topo.gen.ns, [process.execPath, IXY_CLI, 'pktgen', `xdp:${topo.gen.ifname}`, '--dst', topo.dstMac], CPU_GEN, 'ixy pktgen');
      await p.waitFor(/Mpps|pps/i, 15000);
      return p;
    },
  },
];

export function generatorByName(name: string): Generator | undefined {
  return GENERATORS.find((g) => g.name === name);
}
