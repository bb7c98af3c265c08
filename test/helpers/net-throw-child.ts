/**
 * The child process of test/unit/net-http.test.ts's "a 'data' listener that throws" (the test runner owns its own
 * process's 'uncaughtException'): a server on ixy.ts/net (the simulated 82599's two ports cabled to each other)
 * whose 'data' listener throws on "throw" and echoes anything else; one connection sends "throw", the next "hello".
 * Prints one JSON object a line: {"uncaught"} from the process's handler, {"first"}, {"second"}, {"leaked":[a,b]}.
 * Runs only as the main module: `node dist/test/helpers/net-throw-child.js`.
 */
import { fileURLToPath } from 'node:url';
import { SimNic } from 'ixy.ts/sim';
import { attach, type NetInterface } from 'ixy.ts/net';

const say = (v: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };

/** Sends `msg` on a new connection; resolves with the answer up to the server's end, or 'no answer' after 500 ms. */
function ask(client: NetInterface, host: string, msg: string): Promise<string> {
  return new Promise((resolve) => {
    const c = client.connect({ port: 7, host });
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    c.on('end', () => resolve(got));
    c.on('connect', () => setTimeout(() => c.write(msg), 50));
    setTimeout(() => { c.destroy(); resolve('no answer'); }, 500);
  });
}

async function main(): Promise<void> {
  process.on('uncaughtException', (e) => say({ uncaught: e.message }));
  const nic = await SimNic.start({ ports: 2, wire: 'loop', physMiB: 64 });
  SimNic.setCurrent(nic);
  const a = await attach({ device: 'sim:0', ip: '10.0.8.1/24' });
  const b = await attach({ device: 'sim:1', ip: '10.0.8.2/24' });
  b.createServer((s) => s.on('data', (d: Buffer) => {
    if (d.toString() === 'throw') throw new Error('thrown in data');
    s.end(`echo ${d.toString()}`);
  })).listen(7);
  say({ first: await ask(a, b.address, 'throw') });
  say({ second: await ask(a, b.address, 'hello') });
  const r = await Promise.all([a.close(), b.close()]);
  say({ leaked: r.map((x) => x.leakedBuffers) });
  await nic.stop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
