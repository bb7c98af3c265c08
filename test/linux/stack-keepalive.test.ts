/**
 * TCP keepalive against Linux (`NetApi.setKeepAlive`, RFC 1122 §4.2.3.6):
 *
 *   ns P: Linux 10.N.0.1, a Node echo server --veth-- ns S: a stack on xdp: 10.N.0.2 (test/netns-scripts/stack-keepalive.ts)
 *
 * The stack connects and turns keepalive on (idle 1 s, interval 1 s, 3 probes), then sends nothing. Named nftables
 * counters in P count the bare ACKs that reach Linux from the stack (the probes) and those Linux sends back (its
 * answers); the connection stays ESTABLISHED on Linux and alive on the stack. Then P drops everything from the stack's
 * address: the stack's probes go unanswered and it reports the connection dead, timed out, within idle + 3 × interval
 * of the last answer.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import {
  directTopology, missingTools, nft, PEER, SCRIPT_ENV, sleep, StackProc, tcpStates, waitListening,
} from '../helpers/stack-netns.js';

const SCRIPT = fileURLToPath(new URL('../netns-scripts/stack-keepalive.js', import.meta.url));
const TOOLS = ['nft', 'ss', 'ethtool'];
const missing = canUseNetns() ? missingTools(TOOLS) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')}` : false;

const PORT = 7300;
const IDLE_MS = 1000;
const INTERVAL_MS = 1000;
const PROBES = 3;

interface Line { event: string; lport?: number; keepalive?: number; reason?: number; reasonName?: string; ms?: number; tcp?: Record<string, number> }

/** The script's JSON lines so far. */
function lines(p: StackProc): Line[] {
  return p.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

async function waitLine(p: StackProc, event: string, ms: number): Promise<Line> {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = lines(p).find((x) => x.event === event);
    if (l) return l;
    if (!p.running || Date.now() > deadline) throw new Error(`no '${event}' line within ${ms} ms\n${p.log()}`);
    await sleep(10);
  }
}

/** Packets a named counter of table `inet <table>` has counted. */
function counter(ns: string, table: string, name: string): number {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'counter', 'inet', table, name], { encoding: 'utf8' });
  const m = /packets (\d+)/.exec(text);
  if (!m) throw new Error(`counter ${name}: ${text}`);
  return Number(m[1]);
}

describe('TCP keepalive: the stack ↔ Linux', { skip }, () => {
  test(`xdp: probes every ${IDLE_MS} ms are answered by Linux (ESTABLISHED on both sides); once Linux drops the stack's packets, dead: timed out after ${PROBES} probes`, { timeout: 90_000 }, async (tc) => {
    const lab = new Netlab();
    try {
      const t = directTopology(lab, 'xdp', 74);
      // Bare ACKs (no SYN/FIN/RST/PSH) between the stack and the server: after the handshake nothing else flows.
      nft(t.peer, `table inet ka {
  counter probes {}
  counter answers {}
  chain in { type filter hook input priority 0; policy accept; ip saddr ${t.stackIp} tcp dport ${PORT} tcp flags == ack counter name "probes"; }
  chain out { type filter hook output priority 0; policy accept; ip daddr ${t.stackIp} tcp sport ${PORT} tcp flags == ack counter name "answers"; }
}
`);
      const server = new StackProc(lab.spawn(t.peer, ['node', PEER, 'echo-server', String(PORT)], SCRIPT_ENV), 'echo-server');
      await waitListening(lab, t.peer, PORT);
      const cmd = ['node', SCRIPT, t.dev, t.stackCidr, t.peerIp, String(PORT), String(IDLE_MS), String(INTERVAL_MS), String(PROBES), '60000'];
      const stack = new StackProc(lab.spawn(t.stackNs, cmd, SCRIPT_ENV), cmd.join(' '));
      const connected = await waitLine(stack, 'connected', 30_000);
      assert.equal(connected.keepalive, 0, 'setKeepAlive returned 0');
      await sleep(300); // the handshake's last ACK is behind us
      const [probes0, answers0] = [counter(t.peer, 'ka', 'probes'), counter(t.peer, 'ka', 'answers')];

      // (a) Linux answers every probe: the connection lives on though neither side sends data.
      await sleep(4 * IDLE_MS + 500);
      const probes = counter(t.peer, 'ka', 'probes') - probes0;
      const answers = counter(t.peer, 'ka', 'answers') - answers0;
      assert.ok(probes >= 3 && probes <= 5, `about one probe a second reached Linux: ${probes}\n${stack.log()}`);
      assert.ok(answers >= probes - 1, `Linux answered them: ${answers} answers to ${probes} probes`);
      assert.deepEqual(tcpStates(lab, t.peer, PORT), { LISTEN: 1, ESTAB: 1 }, 'ESTABLISHED on Linux');
      assert.ok(stack.running && !lines(stack).some((l) => l.event === 'dead'), `alive on the stack\n${stack.log()}`);

      // (b) Linux stops hearing the stack: nothing from its address gets in, so no probe is answered.
      nft(t.peer, `table inet kadrop {
  counter dropped {}
  chain in { type filter hook input priority -10; policy accept; ip saddr ${t.stackIp} counter name "dropped" drop; }
}
`);
      const cut = performance.now();
      const dead = await waitLine(stack, 'dead', IDLE_MS + PROBES * INTERVAL_MS + 5000);
      const after = performance.now() - cut;
      assert.equal(dead.reasonName, 'timed out', stack.log());
      // The last answer came at most an idle time (and a round trip) before the cut; death follows it by idle + 3 × interval.
      assert.ok(after >= PROBES * INTERVAL_MS - 300 && after <= IDLE_MS + PROBES * INTERVAL_MS + 1000,
        `dead ${after.toFixed(0)} ms after the cut (expected ${PROBES * INTERVAL_MS}–${IDLE_MS + PROBES * INTERVAL_MS} ms)`);
      assert.equal(dead.tcp!.keepaliveTimeouts, 1);
      assert.ok(dead.tcp!.keepaliveProbes >= probes + PROBES, `probes sent: ${dead.tcp!.keepaliveProbes}`);
      assert.equal(dead.tcp!.retransmits, 0, 'no data, so nothing was retransmitted');
      await sleep(100);
      assert.ok(counter(t.peer, 'kadrop', 'dropped') >= PROBES + 1, 'the unanswered probes and the RST reached the dropping rule');
      assert.equal(await stack.wait(10_000), 0, stack.log());
      tc.diagnostic(`${probes} probes and ${answers} answers in ${4 * IDLE_MS + 500} ms; dead ${after.toFixed(0)} ms after the cut, ` +
        `${dead.tcp!.keepaliveProbes} probes in all`);
      await server.stop();
    } finally {
      await lab.cleanup();
    }
  });
});
