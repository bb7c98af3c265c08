/**
 * The process side of test/linux/net-ref.test.ts: `ixy.ts/net` on a TAP device, one server listening; with `unref`
 * the server is unref'd, and the process must then end by itself (Node's `server.unref()`), without it it must keep
 * running. Prints "listening" and, at exit, "exit". Does nothing unless IXY_NETNS_SCRIPT=1.
 *
 *   node net-unref.js <tap name> <ip/prefix> [unref|ref]
 */
import { attach, createServer } from 'ixy.ts/net';

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const [tap, ip, mode] = process.argv.slice(2);
  await attach({ device: `tap:${tap}`, ip });
  const server = createServer((s) => s.pipe(s)).listen(7, () => console.log('listening'));
  if (mode === 'unref') server.unref();
  process.on('exit', () => console.log('exit'));
}
