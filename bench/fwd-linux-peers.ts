/**
 * The forwarders `bench/fwd-linux` compares, between f0 (ingress) and f1 (egress) of the fwd namespace. The
 * user-space ones run pinned to CPU_FWD with `taskset`; the kernel ones run in f0's NAPI kernel thread, which the
 * benchmark pins to CPU_FWD as well.
 */
import { CPU_FWD, nsExec, type Topology } from './fwd-linux-topo.js';
import { ealArgs, findPmd, Proc, which } from './fwd-linux-proc.js';
import { IXY_CLI, startXdpHelper, XDP_HELPER } from './fwd-linux-gen.js';
import * as fs from 'node:fs';

export interface Running {
  /** The forwarder's process (absent for kernel forwarders), for its CPU time. */
  proc?: Proc;
  /** Helper processes it started (idle; listed so they are not counted as other users of the machine). */
  aux?: Proc[];
  /** Stops it; returns what it reported about itself, if anything. */
  stop(): Promise<Record<string, unknown> | undefined>;
}

export interface Forwarder {
  name: string;
  label: string;
  kind: 'user' | 'kernel';
  /**
   * Where f0's NAPI runs: 'softirq' = the kernel's default for veth (where the sender runs: the generator's CPU);
   * 'pin' = a NAPI kernel thread pinned to CPU_FWD. The kernel forwarders *are* that NAPI work.
   */
  napi: 'pin' | 'softirq';
  /**
   * Needs an XDP_PASS program on f0. Frames redirected into a veth by XDP (our generator) queue on the peer's NAPI
   * ring, which exists only while the peer has an XDP program; the forwarders that read from the kernel stack get
   * XDP_PASS, the others attach their own program.
   */
  ingressPass: boolean;
  /** The command line, for the report (f0/f1 stand for the interface names). */
  command: string;
  unavailable(): string | null;
  start(topo: Topology, prefix: string): Promise<Running>;
}

/** Extra `ixy fwd` options for experiments, e.g. IXY_FWD_OPTIONS="--batch 64 --ring-size 2048". */
const IXY_FWD_OPTIONS = (process.env.IXY_FWD_OPTIONS ?? '').split(' ').filter((a) => a !== '');

function ixy(kind: 'xdp' | 'packet'): Forwarder {
  const command = `taskset -c ${CPU_FWD} node dist/src/cli/main.js fwd ${kind}:f0 ${kind}:f1 --json`;
  return {
    name: `ixy-${kind}`,
    label: `ixy.ts fwd ${kind}`,
    kind: 'user',
    napi: 'softirq',
    ingressPass: kind === 'packet',
    command,
    unavailable: () => (fs.existsSync(IXY_CLI) ? null : `${IXY_CLI} missing (build first)`),
    async start(topo) {
      const f = topo.fwdIn!.ifname;
      const g = topo.fwdOut!.ifname;
      // Runs until SIGTERM, then prints its totals as one JSON line (--json also turns the per-second lines off).
      const p = new Proc(topo.lab, topo.fwdIn!.ns, [process.execPath, IXY_CLI, 'fwd', `${kind}:${f}`, `${kind}:${g}`, '--json', ...IXY_FWD_OPTIONS], CPU_FWD, `ixy fwd ${kind}`);
      // No output until it stops: give it time to open both devices (and attach XDP), and make sure it did not fail.
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && p.running) {
        if (kind === 'xdp' && /"xdp"|prog\/xdp/.test(nsExec(topo.fwdIn!.ns, ['ip', '-d', 'link', 'show', 'dev', g], { ignoreError: true }))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!p.running) throw new Error(p.failure());
      return {
        proc: p,
        async stop() {
          await p.stop('SIGTERM', 15000);
          const r = p.jsonLine<Record<string, unknown>>('work');
          if (!r) throw new Error(`no JSON totals from ixy fwd: ${p.failure()}`);
          const work = Number(r.work);
          const cpuNs = Number(r.cpuNs);
          return { work, cpuNs, elapsedMs: r.elapsedMs, dropped: r.dropped, threadNsPerPktWholeRun: work > 0 ? cpuNs / work : null, totals: r.totals };
        },
      };
    },
  };
}

function testpmd(name: string, label: string, pmd: string, vdev: (i: number, ifname: string) => string): Forwarder {
  const cmdline = (pmdPath: string, f: string, g: string, prefix: string): string[] => [
    'dpdk-testpmd', ...ealArgs(CPU_FWD, prefix, [pmdPath, findPmd('librte_mempool_ring') ?? 'librte_mempool_ring.so'], [vdev(0, f), vdev(1, g)]), '--',
    // io: each received burst is sent unchanged out of the paired port (port 0 ↔ 1, --port-topology=paired,
    // the default); non-interactive with --stats-period, stopped with SIGINT (it then prints its totals).
    '--forward-mode=io', '--total-num-mbufs=16384', '--stats-period=1',
  ];
  return {
    name,
    label,
    kind: 'user',
    napi: 'softirq',
    ingressPass: pmd === 'librte_net_af_packet',
    command: cmdline(findPmd(pmd) ?? `${pmd}.so`, 'f0', 'f1', 'PREFIX').join(' ').replace(/^/, `taskset -c ${CPU_FWD} `),
    unavailable: () => (which('dpdk-testpmd') ? (findPmd(pmd) ? null : `${pmd}.so not found`) : 'dpdk-testpmd not installed'),
    async start(topo, prefix) {
      const p = new Proc(topo.lab, topo.fwdIn!.ns, cmdline(findPmd(pmd)!, topo.fwdIn!.ifname, topo.fwdOut!.ifname, prefix), CPU_FWD, `testpmd ${name}`);
      await p.waitFor(/Port statistics/, 20000);
      return {
        proc: p,
        async stop() {
          await p.stop('SIGINT', 10000);
          const m = /Accumulated forward statistics for all ports[\s\S]*?RX-packets: (\d+)\s+RX-dropped: (\d+)[\s\S]*?TX-packets: (\d+)\s+TX-dropped: (\d+)/.exec(p.stdout);
          return m ? { rxPackets: Number(m[1]), rxDropped: Number(m[2]), txPackets: Number(m[3]), txDropped: Number(m[4]) } : undefined;
        },
      };
    },
  };
}

const vdevAfXdp = (i: number, ifname: string): string => `net_af_xdp${i},iface=${ifname}`;
const vdevAfPacket = (i: number, ifname: string): string => `net_af_packet${i},iface=${ifname},qdisc_bypass=1`;

function ipForward(napi: 'pin' | 'softirq'): Forwarder {
  return {
    name: napi === 'pin' ? 'linux-ipfwd' : 'linux-ipfwd-cpu0',
    label: napi === 'pin' ? 'Linux ip_forward' : 'Linux ip_forward, NAPI on CPU 0',
    kind: 'kernel',
    napi,
    ingressPass: true,
    command: 'sysctl -w net.ipv4.ip_forward=1 (in the fwd namespace)',
    unavailable: () => null,
    async start(topo) {
      const ns = topo.fwdIn!.ns;
      nsExec(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      return { async stop() { nsExec(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=0'], { ignoreError: true }); return undefined; } };
    },
  };
}

function xdpRedirect(napi: 'pin' | 'softirq'): Forwarder {
  return {
    name: napi === 'pin' ? 'xdp-redirect' : 'xdp-redirect-cpu0',
    label: napi === 'pin' ? 'XDP_REDIRECT (in-kernel)' : 'XDP_REDIRECT, NAPI on CPU 0',
    kind: 'kernel',
    napi,
    ingressPass: false,
    command: 'node dist/bench/xdp-redirect.js redirect f0 f1 (in the fwd namespace)',
    unavailable: () => (fs.existsSync(XDP_HELPER) ? null : `${XDP_HELPER} missing (build first)`),
    async start(topo) {
      const p = await startXdpHelper(topo, topo.fwdIn!.ns, ['redirect', topo.fwdIn!.ifname, topo.fwdOut!.ifname]);
      // The helper only holds the links: its process is idle, so it is not the forwarder's CPU.
      return { aux: [p], async stop() { await p.stop(); return undefined; } };
    },
  };
}

export const FORWARDERS: Forwarder[] = [
  ixy('xdp'),
  ixy('packet'),
  testpmd('dpdk-afxdp', 'DPDK testpmd af_xdp', 'librte_net_af_xdp', vdevAfXdp),
  testpmd('dpdk-afpacket', 'DPDK testpmd af_packet', 'librte_net_af_packet', vdevAfPacket),
  ipForward('pin'),
  xdpRedirect('pin'),
  ipForward('softirq'),
  xdpRedirect('softirq'),
];
