/**
 * `ixy kv`'s app on the simulated 82599 (ports cabled to each other): the server is run by the runtime on sim:1, a
 * client on sim:0 is `ixy.ts/net` in this thread. Over real TCP segments through the model: a scripted session's
 * replies byte for byte, a 600 KB value and a 100-key multiget (GETs sent from the item memory, many segments), a
 * pipelined burst, the figures once a second, and every packet buffer back at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Figures, start } from 'ixy.ts';
import { SimNic } from 'ixy.ts/sim';
import { attach, type NetInterface, type Socket } from 'ixy.ts/net';

const KV = new URL('../../src/apps/kv-server.js', import.meta.url);

/** Writes `req` and collects the reply until it is `want.length` bytes long (or the timeout). */
function exchange(sock: Socket, req: string | Buffer, wantLength: number, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => { sock.off('data', onData); reject(new Error(`reply ${n} of ${wantLength} bytes: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`)); }, ms);
    const onData = (d: Buffer): void => {
      chunks.push(d);
      n += d.length;
      if (n >= wantLength) { clearTimeout(timer); sock.off('data', onData); resolve(Buffer.concat(chunks).toString('latin1')); }
    };
    sock.on('data', onData);
    sock.write(typeof req === 'string' ? Buffer.from(req, 'latin1') : req);
  });
}

describe('ixy kv on the simulated NIC, a client on ixy.ts/net', () => {
  let nic: SimNic | null = null;
  let client: NetInterface | null = null;
  before(async () => {
    nic = await SimNic.start({ ports: 2, wire: 'loop', physMiB: 64 });
    SimNic.setCurrent(nic);
  });
  after(async () => {
    SimNic.setCurrent(null);
    await nic?.stop();
  });

  test('replies byte for byte, big values, multigets and pipelining over TCP through the model', { timeout: 60_000 }, async () => {
    const abort = new AbortController();
    const server = await start({ module: KV, options: { port: 11211, memoryMiB: 16, itemSizeMax: 1 << 20, maxConns: 64 } },
      { devices: ['sim:1'], ip: '10.0.9.2/24', signal: abort.signal });
    const figures: Figures[] = [];
    server.on('figures', (f) => figures.push(f));
    client = await attach({ device: 'sim:0', ip: '10.0.9.1/24' });
    const sock = client.connect({ host: '10.0.9.2', port: 11211 });
    await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
    try {
      const ask = async (req: string, want: string): Promise<void> => assert.equal(await exchange(sock, req, want.length), want, JSON.stringify(req.slice(0, 60)));
      await ask('set a 0 0 5\r\nhello\r\n', 'STORED\r\n');
      await ask('gets a\r\n', 'VALUE a 0 5 1\r\nhello\r\nEND\r\n');
      await ask('set n 0 0 3\r\n100\r\ndecr n 1\r\nget n\r\n', 'STORED\r\n99\r\nVALUE n 0 3\r\n99 \r\nEND\r\n');
      await ask('cas a 0 0 1 1\r\nx\r\ncas a 0 0 1 1\r\ny\r\nget a\r\n', 'STORED\r\nEXISTS\r\nVALUE a 0 1\r\nx\r\nEND\r\n');
      await ask(`get ${'k'.repeat(251)}\r\nbogus\r\n`, 'CLIENT_ERROR bad command line format\r\nERROR\r\n');
      // a 600 KB value: in over many segments, out from the item memory
      const big = Buffer.alloc(600_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
      await ask(`set big 42 0 ${big.length}\r\n${big.toString('latin1')}\r\n`, 'STORED\r\n');
      const wantBig = `VALUE big 42 ${big.length}\r\n${big.toString('latin1')}\r\nEND\r\n`;
      assert.ok((await exchange(sock, 'get big\r\n', wantBig.length)) === wantBig, 'the 600 KB value comes back intact');
      // 100 keys, then a multiget of all of them
      let sets = '';
      let want = '';
      for (let i = 0; i < 100; i++) { const v = `value-${i}-${'x'.repeat(i * 13)}`; sets += `set key${i} ${i} 0 ${v.length} noreply\r\n${v}\r\n`; want += `VALUE key${i} ${i} ${v.length}\r\n${v}\r\n`; }
      await ask(`${sets}get ${Array.from({ length: 100 }, (_, i) => `key${i}`).join(' ')}\r\n`, `${want}END\r\n`);
      // a pipelined burst of 2000 commands in a few writes
      const burst = 'incr n 1\r\n'.repeat(2000);
      const replies = Array.from({ length: 2000 }, (_, i) => `${100 + i}\r\n`).join('');
      await ask(burst, replies);
      await ask('get n\r\n', 'VALUE n 0 4\r\n2099\r\nEND\r\n');
    } finally {
      sock.destroy();
    }
    await new Promise((r) => setTimeout(r, 1200));
    const c = await client.close();
    abort.abort();
    const r = await server.done;
    assert.equal(r.leakedBuffers, 0);
    assert.equal(c.leakedBuffers, 0);
    assert.ok(figures.length >= 1, 'figures once a second');
    const app = r.threads[0].app;
    assert.ok(app.get >= 4 && app.set >= 100 && app.incr >= 2000, JSON.stringify(app));
    assert.equal(app.items, 103);
    assert.equal(app.totalConnections, 1);
    const stats = (r.summaries[0] as { stats: Record<string, number> }).stats;
    assert.equal(stats.curr_items, 103);
  });
});
