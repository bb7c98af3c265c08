/**
 * One side of test/linux/net-connect-timeout.test.ts: connects with `{ timeout }` to an address that never answers
 * (no host has it on the link: ARP gets no reply), destroys the socket on 'timeout', and prints the events it saw as
 * one JSON line, with node:net (`node`) or ixy.ts/net on a device (`ixy DEV IP/N`). Does nothing unless
 * IXY_NETNS_SCRIPT=1.
 *
 *   node net-connect-timeout.js node|ixy <target ip> <timeout ms> [dev ip/prefix]
 */
import * as net from 'node:net';
import { attach } from 'ixy.ts/net';

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const [impl, target, ms, dev, ip] = process.argv.slice(2);
  const iface = impl === 'ixy' ? await attach({ device: dev, ip }) : null;
  const log: string[] = [];
  const t0 = performance.now();
  const options = { host: target, port: 80, timeout: Number(ms) };
  const s = iface ? iface.connect(options) : net.connect(options);
  for (const ev of ['connect', 'ready', 'end', 'finish']) s.on(ev, () => log.push(ev));
  s.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code}`));
  s.on('timeout', () => { log.push(`timeout ${s.connecting ? 'connecting' : 'connected'} ${s.readyState}`); s.destroy(); });
  s.on('close', async (hadError: boolean) => {
    log.push(`close ${hadError}`);
    const afterMs = Math.round(performance.now() - t0);
    await iface?.close();
    console.log(JSON.stringify({ log, afterMs }));
  });
}
