/**
 * The runtime of the public API (`start`, `run` from 'ixy.ts'), on the simulated 82599: an L2 app in its worker and a
 * stack app in this thread, each ended by every way a run can end (its own finish, `seconds`, an AbortSignal,
 * `stop()`), with figures once a second as events and as an async iterator, the leak check, and bad input refused
 * with a typed error (UsageError + code) before anything is opened.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IxyError, type Figures, run, start, UsageError } from 'ixy.ts';
import { SimNic } from 'ixy.ts/sim';

const RX_COUNT = new URL('../helpers/apps/rx-count.js', import.meta.url);
const FAILING = new URL('../helpers/apps/failing-stack.js', import.meta.url);
const FWD = new URL('../../src/apps/forward.js', import.meta.url);
const ECHO_SERVER = new URL('../../src/apps/echo-server.js', import.meta.url);
const ECHO_CLIENT = new URL('../../src/apps/echo-client.js', import.meta.url);

function withNic(wire: 'tester' | 'loop'): () => SimNic {
  let nic: SimNic | null = null;
  before(async () => { nic = await SimNic.start({ ports: 2, wire, physMiB: 64 }); SimNic.setCurrent(nic); });
  after(async () => { SimNic.setCurrent(null); await nic?.stop(); });
  return () => nic!;
}

describe('an L2 app in its worker thread', () => {
  const nic = withNic('tester');

  test('figures once a second (async iterator), stopped by its AbortSignal, every buffer back', { timeout: 30_000 }, async () => {
    nic().setGenerator(0, 0.5);
    const abort = new AbortController();
    const rt = await start({ module: RX_COUNT, options: {} }, { devices: ['sim:0'], signal: abort.signal, poolSize: 1024 });
    assert.equal(rt.kind, 'l2');
    assert.equal(rt.devices.length, 1);
    assert.equal(rt.devices[0].spec, 'sim:0');
    const seen: Figures[] = [];
    for await (const f of rt) {
      seen.push(f);
      if (seen.length === 2) abort.abort();
    }
    nic().setGenerator(0, 0);
    const r = await rt.done;
    assert.equal(r.stoppedBy, 'signal');
    assert.equal(r.leakedBuffers, 0);
    assert.ok(seen[0].t >= 0.9 && seen[1].t > seen[0].t, `t ${seen.map((f) => f.t)}`);
    const [a, b] = seen.map((f) => f.threads[0]);
    assert.ok(a.app.received > 0 && b.app.received > a.app.received, `received ${a.app.received} then ${b.app.received}`);
    assert.ok(b.devices[0].rxPackets >= b.app.received, 'the device counted what the app took');
    assert.equal((r.summaries[0] as { received: number }).received, r.threads[0].app.received);
    assert.ok(r.threads[0].cpuNs > 0);
  });

  test('ends by itself when the app is finished; the figures event fires meanwhile', { timeout: 30_000 }, async () => {
    nic().setGenerator(0, 0.2);
    const rt = await start({ module: RX_COUNT, options: { limit: 300_000 } }, { devices: ['sim:0'] });
    let events = 0;
    rt.on('figures', () => events++);
    const r = await rt.done;
    nic().setGenerator(0, 0);
    assert.equal(r.stoppedBy, 'finished');
    assert.ok(r.threads[0].app.received >= 300_000);
    assert.ok(events >= 1, 'at least one figures event in ~1.5 s');
    assert.equal(r.leakedBuffers, 0);
  });

  test('stop() and seconds end a run: stoppedBy says which', { timeout: 30_000 }, async () => {
    const rt = await start({ module: FWD }, { devices: ['sim:0', 'sim:1'] });
    const r = await rt.stop();
    assert.equal(r.stoppedBy, 'stop');
    assert.equal(r.leakedBuffers, 0);
    const t = await run({ module: FWD }, { devices: ['sim:0', 'sim:1'], seconds: 0.3 });
    assert.equal(t.stoppedBy, 'time');
    assert.ok(t.elapsedMs >= 250, `${t.elapsedMs} ms`);
  });

  test('a device that fails to open after another opened: a one-line IxyError, and the first one is free again', { timeout: 30_000 }, async () => {
    await assert.rejects(start({ module: FWD }, { devices: ['sim:0', 'sim:7'] }), (e: unknown) => {
      assert.ok(e instanceof IxyError, String(e));
      assert.match(e.message, /sim:7 does not exist/);
      return true;
    });
    const r = await run({ module: FWD }, { devices: ['sim:0', 'sim:1'], seconds: 0.2 });
    assert.equal(r.leakedBuffers, 0);
  });
});

describe('a stack app in this thread, and on two threads', () => {
  withNic('loop');

  test('echo server and client on the two cabled ports: the client finishes, the server stops by its signal', { timeout: 60_000 }, async () => {
    const abort = new AbortController();
    const server = await start({ module: ECHO_SERVER, options: { port: 7 } }, { devices: ['sim:1'], ip: '10.0.8.2/24', signal: abort.signal });
    assert.equal(server.kind, 'stack');
    const serverFigures: Figures[] = [];
    server.on('figures', (f) => serverFigures.push(f));
    const client = await run(
      { module: ECHO_CLIENT, options: { ip: (10 << 24) | (8 << 8) | 2, port: 7, connections: 4, size: 64, rounds: 0, messages: 20_000 } },
      { devices: ['sim:0'], ip: '10.0.8.1/24', seconds: 40 },
    );
    abort.abort();
    const srv = await server.done;
    assert.equal(client.stoppedBy, 'finished');
    assert.equal(srv.stoppedBy, 'signal');
    assert.ok(client.threads[0].app.messages >= 20_000);
    assert.equal(client.threads[0].app.failures, 0);
    assert.equal(srv.threads[0].stack!.tcp.passiveOpens, 4);
    assert.ok(serverFigures.length >= 1 && serverFigures[serverFigures.length - 1].threads[0].app.bytesEchoed > 0);
    assert.equal((client.summaries[0] as { rtt: number[] }).rtt.reduce((a, b) => a + b, 0), client.threads[0].app.messages);
    assert.equal(client.leakedBuffers, 0);
    assert.equal(srv.leakedBuffers, 0);
  });

  test("a thread whose app fails to start: start() rejects with the app's error, the other thread and the port are closed", { timeout: 60_000 }, async () => {
    await assert.rejects(start({ module: FAILING }, { devices: ['sim:1'], ip: '10.0.8.2/24', threads: 2 }), (e: unknown) => {
      assert.ok(e instanceof IxyError, String(e));
      assert.equal(e.code, 'ETESTREFUSE');
      assert.equal(e.message, 'thread 1: thread 1 refuses to start');
      return true;
    });
    const r = await run({ module: ECHO_SERVER, options: { port: 7 } }, { devices: ['sim:1'], ip: '10.0.8.2/24', threads: 2, seconds: 0.5 });
    assert.equal(r.stoppedBy, 'time');
    assert.equal(r.threads.length, 2);
    assert.equal(r.leakedBuffers, 0);
  });
});

describe('a stack app that fails once running', () => {
  withNic('loop');

  test("its error ends the run (done rejects with it) and the device is closed: the port can be taken again", { timeout: 30_000 }, async () => {
    const rt = await start({ module: FAILING, options: { failIn: 'start' } }, { devices: ['sim:1'], ip: '10.0.8.2/24' });
    await assert.rejects(rt.done, (e: unknown) => e instanceof IxyError && e.code === 'ETESTSTART');
    const again = await run({ module: ECHO_SERVER, options: { port: 7 } }, { devices: ['sim:1'], ip: '10.0.8.2/24', seconds: 0.3 });
    assert.equal(again.leakedBuffers, 0);
  });
});

describe('bad input: a UsageError with a code, before anything is opened', () => {
  const cases: [string, Parameters<typeof start>[0], Parameters<typeof start>[1], string, RegExp][] = [
    ['a module that does not exist', { module: new URL('./no-such-app.js', RX_COUNT) }, { devices: ['sim:0'] }, 'ENOAPP', /cannot load the app module/],
    ['an export that is no app', { module: RX_COUNT, export: 'notAnApp' }, { devices: ['sim:0'] }, 'ENOAPP', /no app definition in its export 'notAnApp'/],
    ['a spec of no kind', { module: RX_COUNT }, { devices: ['bogus:1'] }, 'EBADSPEC', /unknown device kind 'bogus'/],
    ['a malformed xdp: spec', { module: RX_COUNT }, { devices: ['xdp:veth0,mode=fast'] }, 'EBADSPEC', /mode 'fast' is invalid/],
    ['a sim: device without the simulated NIC', { module: RX_COUNT }, { devices: ['sim:0'] }, 'EBADSPEC', /needs the simulated NIC/],
    ['no devices', { module: RX_COUNT }, { devices: [] }, 'ENOOPTION', /devices is required/],
    ['a stack app without ip', { module: ECHO_SERVER, options: { port: 7 } }, { devices: ['tap:ixyno0'] }, 'ENOOPTION', /needs ip/],
    ['a stack app on two devices', { module: ECHO_SERVER }, { devices: ['tap:ixyno0', 'tap:ixyno1'], ip: '10.0.0.2/24' }, 'EBADOPTION', /one device, not 2/],
    ['an L2 app on too few devices', { module: FWD }, { devices: ['tap:ixyno0'] }, 'EBADOPTION', /takes 2 device\(s\), not 1/],
    ['an L2 app on two threads', { module: RX_COUNT }, { devices: ['tap:ixyno0'], threads: 2 }, 'EBADOPTION', /one thread/],
    ['a ring size that is no power of two', { module: RX_COUNT }, { devices: ['tap:ixyno0'], ringSize: 1000 }, 'EBADOPTION', /ringSize must be a power of two/],
    ['a batch of 0', { module: RX_COUNT }, { devices: ['tap:ixyno0'], batch: 0 }, 'EBADOPTION', /batch must be an integer/],
    ['an address without prefix', { module: ECHO_SERVER }, { devices: ['tap:ixyno0'], ip: '10.0.0.2' }, 'EUSAGE', /no prefix length/],
  ];
  for (const [what, app, o, code, msg] of cases) {
    test(what, async () => {
      await assert.rejects(start(app, o), (e: unknown) => {
        assert.ok(e instanceof UsageError, `not a UsageError: ${String(e)}`);
        assert.equal(e.code, code, e.message);
        assert.match(e.message, msg);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
    });
  }

  test('an AbortSignal that already fired: nothing starts', async () => {
    await assert.rejects(start({ module: FWD }, { devices: ['sim:0', 'sim:1'], signal: AbortSignal.abort() }), (e: unknown) => {
      assert.ok(e instanceof IxyError);
      assert.equal(e.code, 'ABORT_ERR');
      return true;
    });
  });
});
