/**
 * The client side of test/linux/kv-linux.test.ts, run in the peer namespace against `ixy kv` and a real memcached.
 * Does nothing unless IXY_NETNS_SCRIPT=1 (`node --test dist/test/` loads every file). Prints one JSON line.
 *
 *   node kv-peer.js session <ixyHost> <ixyPort> <mcHost> <mcPort> <seed> <randomCommands>
 *     the same scripted session, then `randomCommands` random and mutated commands from `seed`, sent to both
 *     servers one step at a time (a step's bytes, then "version\r\n" to mark the end of its replies): the replies,
 *     with VERSION lines and the values of full `stats` listings masked, must be the same bytes.
 *     { steps, mismatches: [{ step, sent, ixy, memcached }], closes }
 *   node kv-peer.js client <ixyHost> <ixyPort> <mcHost> <mcPort>
 *     the npm `memcached` client (text protocol): set/get/getMulti/delete/incr/decr/gets+cas/touch/add/replace/
 *     append/prepend and expiry, on both servers: { ixy: [...results], memcached: [...results] }
 */
import * as net from 'node:net';
import Memcached from 'memcached';

const say = (line: string): Promise<void> => new Promise((r) => process.stdout.write(`${line}\n`, () => r()));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One connection that sends a step and reads its replies up to the closing VERSION line (or a close, or a pause). */
class Conn {
  private sock: net.Socket;
  private buf = Buffer.alloc(0);
  closed = false;
  constructor(private readonly host: string, private readonly port: number) { this.sock = this.open(); }
  private open(): net.Socket {
    const s = net.connect(this.port, this.host);
    s.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.closed = false;
    s.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); });
    s.on('close', () => { this.closed = true; });
    s.on('error', () => { this.closed = true; });
    return s;
  }
  async ready(): Promise<void> {
    if (this.sock.connecting) await new Promise((r, j) => { this.sock.once('connect', r); this.sock.once('error', j); });
  }
  reopen(): Promise<void> { this.sock.destroy(); this.sock = this.open(); return this.ready(); }
  /** Sends `bytes` + "version\r\n"; resolves with what came back before the last VERSION line, `<CLOSED>` or `<PAUSE>`. */
  async step(bytes: Buffer, ms = 1500): Promise<string> {
    this.buf = Buffer.alloc(0);
    this.sock.write(Buffer.concat([bytes, Buffer.from('version\r\n')]));
    const end = Date.now() + ms;
    for (;;) {
      const s = this.buf.toString('latin1');
      const m = /VERSION [^\r\n]*\r\n$/.exec(s);
      if (m) return s.slice(0, m.index);
      if (this.closed) return `${s}<CLOSED>`;
      if (Date.now() > end) return `${s}<PAUSE>`;
      await sleep(1);
    }
  }
  end(): void { this.sock.destroy(); }
}

const K250 = 'k'.repeat(250);
const K251 = 'k'.repeat(251);

/** The scripted part: every command and error reply, one step each (several commands in one step are pipelined). */
function scripted(): string[] {
  return [
    'set a 0 0 5\r\nhello\r\n', 'get a\r\n', 'gets a\r\n', 'add a 0 0 1\r\nx\r\n', 'add new 7 0 3\r\nnew\r\n', 'replace a 3 0 2\r\nhi\r\n',
    'replace nope 0 0 1\r\nx\r\n', 'append a 0 0 3\r\n!!!\r\n', 'prepend a 0 0 2\r\n>>\r\n', 'gets a new\r\n', 'append nope 0 0 1\r\nx\r\n',
    'cas a 0 0 1 999\r\nq\r\n', 'cas nope 0 0 1 1\r\nq\r\n', 'cas a 0 0 1 0\r\nq\r\n', 'gets a\r\n', 'cas a 9 0 3 5\r\ncas\r\n', 'gets a\r\n',
    'set a 4294967296 0 1\r\na\r\nget a\r\n', 'set a 4294967297 0 1\r\na\r\nget a\r\n', 'set a -1 0 1\r\na\r\n', 'set a 99999999999999999999 0 1\r\na\r\n',
    'set a 0 0 1\r\nabc\r\n', 'set a 0 0 1 noreply\r\nxyz\r\n', 'get a\r\n', 'set a 0 0 -1\r\n', 'set a 0 0 abc\r\nx\r\n', 'set a 0 abc 1\r\nx\r\n',
    'set a 0 0\r\n', 'set a 0 0 1 2 3\r\nx\r\n', 'cas a 0 0 1 abc\r\nx\r\n', 'set a 0 0 1 \r\nx\r\n', 'set  a  0  0  1\r\nx\r\n', 'set a 0 0 1\tx\r\nx\r\n',
    'set a\t0 0 1\r\nx\r\nget a\t\r\n', 'set a 0 0 1\r\nx\r\nget a\x00b\r\n', 'set a 0 0 1\rx\nx\r\n', 'set a 0 0 1\r\nxy\r\n', 'set a 0 0 +1\r\nx\r\nget a\r\n',
    `set ${K251} 0 0 1\r\na\r\n`, `get ${K251}\r\n`, `get a ${K251} b\r\n`, `delete ${K251}\r\n`, `incr ${K251} 1\r\n`, `touch ${K251} 1\r\n`, `gat 1 ${K251}\r\n`,
    `set ${K250} 0 0 1\r\na\r\n`, `get ${K250}\r\n`, '\r\n', '\n', 'GET a\r\n', 'g\r\n', 'get\r\n', 'get \r\n', 'gets\r\n', 'foo bar\r\n', 'shutdown\r\n',
    'set n 0 0 3\r\n100\r\n', 'decr n 1\r\n', 'incr n 5\r\n', 'incr n 1 noreply\r\n', 'decr n 1000\r\n', 'incr n 18446744073709551615\r\n', 'incr n 1\r\n',
    'incr n 18446744073709551616\r\n', 'incr n abc\r\n', 'incr n -1\r\n', 'incr n -0\r\n', 'incr n +3\r\n', 'incr nx 1\r\n', 'decr nx 1\r\n', 'incr a 1\r\n',
    'set m 0 0 20\r\n18446744073709551615\r\nincr m 1\r\n', 'set m 0 0 20\r\n18446744073709551616\r\nincr m 1\r\n', 'set m 0 0 21\r\n000000000000000000005\r\nincr m 1\r\n',
    'set m 0 0 3\r\n 12\r\nincr m 1\r\n', 'set m 0 0 3\r\n12a\r\nincr m 1\r\n', 'set m 0 0 3\r\n1 a\r\nincr m 1\r\n', 'set m 0 0 2\r\n-1\r\nincr m 1\r\n',
    'set m 0 0 2\r\n-0\r\nincr m 1\r\n', 'set m 0 0 0\r\n\r\nincr m 1\r\n', 'set m 0 0 2\r\n+5\r\nincr m 1\r\n', 'set m 0 0 1\r\n9\r\nincr m 1\r\n', 'set m 5 0 2\r\n\t5\r\nincr m 1\r\n',
    'get n m\r\n', 'incr\r\n', 'incr a\r\n', 'decr a 1 2 3\r\n',
    'set t 0 0 1\r\nt\r\n', 'touch t 1000\r\n', 'touch t abc\r\n', 'touch t\r\n', 'touch t 1 2 3\r\n', 'touch x 10\r\n', 'touch t 10 noreply\r\n', 'gat 1000 t\r\n',
    'gats 1000 t x t\r\n', 'gat abc t\r\n', 'gat 10\r\n', 'gat -1 t\r\n', 'get t\r\n', 'set t 0 -1 1\r\nt\r\nget t\r\n', 'set t 0 9999999999 1\r\nt\r\nget t\r\n',
    'set t 0 2592000 1\r\nt\r\nget t\r\n', 'touch t -1\r\nget t\r\n',
    'set d 0 0 1\r\nd\r\n', 'delete d 0\r\n', 'delete d 1\r\n', 'delete d 0 noreply\r\n', 'delete d noreply\r\n', 'delete d 0 0\r\n', 'delete d x noreply\r\n',
    'delete\r\n', 'delete a b c d\r\n', 'delete d\r\n',
    'flush_all abc\r\n', 'flush_all 1 2 3\r\n', 'flush_all noreply 5\r\n', 'flush_all 0\r\n', 'get a n t\r\n', 'set a 0 0 1\r\nz\r\ngets a\r\n', 'flush_all noreply\r\n', 'gets a\r\n',
    'verbosity\r\n', 'verbosity 1\r\n', 'verbosity abc\r\n', 'verbosity 1 noreply\r\n', 'verbosity 1 2\r\n', 'verbosity 1 2 3\r\n', 'verbosity -1\r\n', 'verbosity 0\r\n',
    'version x\r\n', 'stats reset\r\n', 'stats foo\r\n', 'stats detail\r\n', 'stats detail on\r\n', 'stats detail off\r\n', 'stats sizes\r\n', 'stats noreply\r\n',
    'stats\r\n', 'stats settings\r\n', 'stats items\r\n', 'stats slabs\r\n',
    // pipelined: many commands in one step, values with "\r\n" inside
    'set p1 1 0 12\r\nline\r\nbreak!\r\nset p2 2 0 3\r\nabc\r\nget p1 p2 p3\r\ngets p2\r\nappend p2 0 0 3\r\ndef\r\nget p2\r\ndelete p1\r\nget p1\r\n',
    `${'set q 0 0 1\r\nq\r\n'.repeat(50)}get q\r\n`,
    `get ${Array.from({ length: 60 }, (_, i) => (i % 2 ? 'p2' : `nokey${i}`)).join(' ')}\r\n`,
    // a value far larger than a segment, and the item size limit (memcached's accounting)
    `set big 3 0 300000\r\n${'B'.repeat(300000)}\r\n`, 'get big\r\n', `set big 0 0 1048516\r\n${'y'.repeat(1048516)}\r\n`, `set big 0 0 1048517\r\n${'y'.repeat(1048517)}\r\n`,
    'get big\r\n', `set big 1 0 1048512\r\n${'y'.repeat(1048512)}\r\n`, `set big 1 0 1048513\r\n${'y'.repeat(1048513)}\r\n`, 'get big\r\n',
    `set a 0 0 1\r\na\r\nadd a 0 0 2000000\r\n${'x'.repeat(2000000)}\r\nget a\r\n`, 'set a 0 0 2000000 noreply\r\n' + 'x'.repeat(2000000) + '\r\nget a\r\n',
    `set ${'k'.repeat(2044)}\r\n`,
    // commands that close the connection (the session goes on on a new one)
    'quit\r\n', 'set q 0 0 1\r\nq\r\nquit\r\nget q\r\n', 'get q\r\n', 'foo HTTP/1.1\r\n', 'get q\r\n',
  ];
}

/** Random commands (no incr/decr: memcached's in-place incr depends on its LRU thread's timing) from a seed. */
function random(seed: number, n: number): string[] {
  let s = seed >>> 0;
  const rnd = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
  const keys = ['a', 'b', 'c', 'k1', 'key_two', K250, K251];
  const nums = ['0', '1', '5', '-1', '-0', '+3', '10', '4294967295', '4294967296', '4294967297', '18446744073709551615', '18446744073709551616', 'abc', '1a', '1\t', '\t7', '2147483648'];
  const exps = ['0', '-1', '1000', '2592000', '4294967295', 'abc', '9999999999'];
  const val = (): string => { const k = Math.floor(rnd() * 40); let v = ''; for (let i = 0; i < k; i++) v += String.fromCharCode(32 + Math.floor(rnd() * 95)); return v; };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const nr = rnd() < 0.15 ? ' noreply' : '';
    const k = pick(keys);
    if (r < 0.4) {
      const c = pick(['set', 'add', 'replace', 'append', 'prepend', 'cas']);
      const v = val();
      const len = rnd() < 0.92 ? String(v.length) : pick(nums);
      const cas = c === 'cas' ? ` ${rnd() < 0.5 ? String(Math.floor(rnd() * 30)) : pick(nums)}` : '';
      const term = rnd() < 0.95 ? '\r\n' : pick(['\n', 'x\r\n', '\r\r\n']);
      out.push(`${c} ${k} ${rnd() < 0.8 ? pick(['0', '1', '65535', '4294967295']) : pick(nums)} ${rnd() < 0.9 ? '0' : pick(exps)} ${len}${cas}${nr}\r\n${v}${term}`);
    } else if (r < 0.7) {
      const g = pick(['get', 'gets', 'gat', 'gats', 'bget']);
      const ks = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(keys));
      out.push(`${g}${g.startsWith('gat') ? ` ${pick(['0', '1000', 'abc', '-1'])}` : ''} ${ks.join(' ')}\r\n`);
    } else if (r < 0.78) out.push(`touch ${k} ${pick(exps)}${nr}\r\n`);
    else if (r < 0.86) out.push(pick([`delete ${k}${nr}\r\n`, `delete ${k} 0${nr}\r\n`, `delete ${k} 1\r\n`, `delete ${k} x noreply\r\n`, 'delete\r\n']));
    else if (r < 0.88) out.push(pick(['flush_all\r\n', 'flush_all 0\r\n', 'flush_all -1\r\n', 'flush_all noreply\r\n', 'flush_all abc\r\n', 'flush_all 1 2 3\r\n']));
    else {
      // a valid command with a few characters deleted, inserted or doubled spaces
      let c = pick(['set a 0 0 1\r\nx\r\n', 'get a b\r\n', 'delete a\r\n', 'touch a 0\r\n', 'cas a 0 0 1 5\r\nz\r\n', 'gat 0 a\r\n', 'append a 0 0 2\r\nzz\r\n']);
      const m = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < m; j++) {
        const p = Math.floor(rnd() * c.length);
        const o = rnd();
        if (o < 0.4) c = c.slice(0, p) + c.slice(p + 1);
        else if (o < 0.7) c = c.slice(0, p) + pick([' ', '\t', 'x', '0', '\0', '\r']) + c.slice(p);
        else c = c.slice(0, p) + c.slice(p).replace(' ', '  ');
      }
      out.push(c.endsWith('\n') ? c : `${c}\r\n`);
    }
  }
  return out;
}

/** Masks what may differ: the version string, and the values of a full stats listing. */
function mask(reply: string, sent: string): string {
  let r = reply.replace(/VERSION [^\r\n]*\r\n/g, 'VERSION *\r\n');
  if (/^stats( settings| items| slabs)?\r\n$/.test(sent)) {
    const lines = r.split('\r\n');
    const shape = lines.every((l, i) => l === '' ? i === lines.length - 1 : l === 'END' || /^STAT \S+ .*$/.test(l));
    r = shape && r.endsWith('END\r\n') ? '<STATS>END\r\n' : r;
  }
  return r;
}

async function session(ixyHost: string, ixyPort: number, mcHost: string, mcPort: number, seed: number, n: number): Promise<void> {
  const ixy = new Conn(ixyHost, ixyPort);
  const mc = new Conn(mcHost, mcPort);
  await Promise.all([ixy.ready(), mc.ready()]);
  const steps = [...scripted(), ...random(seed, n)];
  const mismatches: { step: number; sent: string; ixy: string; memcached: string }[] = [];
  let closes = 0;
  for (let i = 0; i < steps.length; i++) {
    const b = Buffer.from(steps[i], 'latin1');
    const [x, y] = await Promise.all([ixy.step(b), mc.step(b)]);
    const mx = mask(x, steps[i]);
    const my = mask(y, steps[i]);
    if (mx !== my && mismatches.length < 20) mismatches.push({ step: i, sent: steps[i].slice(0, 200), ixy: mx.slice(0, 400), memcached: my.slice(0, 400) });
    if (x.endsWith('<CLOSED>') || y.endsWith('<CLOSED>')) { closes++; await Promise.all([ixy.reopen(), mc.reopen()]); }
    else if (x.endsWith('<PAUSE>') || y.endsWith('<PAUSE>')) {
      // a command still waiting for its value on both: the next step completes it (scripted), or blank lines end it
      if (i >= scripted().length) { const blank = Buffer.from('\r\n'.repeat(40)); await Promise.all([ixy.step(blank, 400), mc.step(blank, 400)]); }
    }
  }
  ixy.end();
  mc.end();
  await say(JSON.stringify({ steps: steps.length, mismatches, closes }));
}

type Result = unknown;

async function clientOps(host: string, port: number): Promise<Result[]> {
  const m = new Memcached(`${host}:${port}`, { retries: 0, timeout: 3000, poolSize: 2 });
  const call = <T>(f: (cb: (err: unknown, v: T) => void) => void): Promise<[string | null, T | null]> =>
    new Promise((r) => f((err, v) => r([err ? String((err as Error).message ?? err) : null, v ?? null])));
  const out: Result[] = [];
  const rec = async <T>(what: string, f: (cb: (err: unknown, v: T) => void) => void, keep = (v: T | null): unknown => v): Promise<T | null> => {
    const [e, v] = await call(f);
    out.push([what, e, keep(v)]);
    return v;
  };
  await rec('set str', (cb) => m.set('str', 'hello world', 0, cb));
  await rec('set num', (cb) => m.set('num', 41, 0, cb));
  await rec('set obj', (cb) => m.set('obj', { a: 1, b: [2, 3] }, 0, cb));
  await rec('set buf', (cb) => m.set('buf', Buffer.from([0, 1, 2, 255, 13, 10, 0]), 0, cb));
  await rec('set big', (cb) => m.set('big', 'x'.repeat(200_000), 0, cb));
  await rec('get str', (cb) => m.get('str', cb));
  await rec('get num', (cb) => m.get('num', cb));
  await rec('get obj', (cb) => m.get('obj', cb));
  await rec('get buf', (cb) => m.get('buf', cb), (v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
  await rec('get big', (cb) => m.get('big', cb), (v) => (typeof v === 'string' ? v.length : v));
  await rec('get missing', (cb) => m.get('missing', cb));
  await rec('getMulti', (cb) => m.getMulti(['str', 'num', 'missing', 'obj'], cb));
  await rec('incr num', (cb) => m.incr('num', 1, cb));
  await rec('decr num', (cb) => m.decr('num', 50, cb));
  await rec('incr missing', (cb) => m.incr('missing', 1, cb));
  await rec('incr str', (cb) => m.incr('str', 1, cb));
  await rec('del str', (cb) => m.del('str', cb));
  await rec('del str again', (cb) => m.del('str', cb));
  await rec('add obj', (cb) => m.add('obj', 'x', 0, cb));
  await rec('add fresh', (cb) => m.add('fresh', 'x', 0, cb));
  await rec('replace fresh', (cb) => m.replace('fresh', 'y', 0, cb));
  await rec('replace missing', (cb) => m.replace('missing', 'y', 0, cb));
  await rec('append fresh', (cb) => m.append('fresh', 'zz', cb));
  await rec('prepend fresh', (cb) => m.prepend('fresh', 'aa', cb));
  await rec('get fresh', (cb) => m.get('fresh', cb));
  const g = await rec<{ cas: string } & Record<string, unknown>>('gets fresh', (cb) => m.gets('fresh', cb as never), (v) => (v ? { value: v.fresh, hasCas: /^\d+$/.test(String(v.cas)) } : v));
  await rec('cas right', (cb) => m.cas('fresh', 'cas-1', String(g?.cas), 0, cb));
  await rec('cas stale', (cb) => m.cas('fresh', 'cas-2', String(g?.cas), 0, cb));
  await rec('get after cas', (cb) => m.get('fresh', cb));
  await rec('touch fresh', (cb) => m.touch('fresh', 1000, cb as never));
  await rec('touch missing', (cb) => m.touch('missing', 1000, cb as never));
  await rec('set ttl 2', (cb) => m.set('ttl', 'soon gone', 2, cb));
  await rec('get ttl now', (cb) => m.get('ttl', cb));
  await rec('touch obj 2', (cb) => m.touch('obj', 2, cb as never));
  await sleep(3500);
  await rec('get ttl later', (cb) => m.get('ttl', cb));
  await rec('get obj later', (cb) => m.get('obj', cb));
  await rec('get fresh later', (cb) => m.get('fresh', cb));
  m.end();
  return out;
}

async function client(ixyHost: string, ixyPort: number, mcHost: string, mcPort: number): Promise<void> {
  const [ixy, memcached] = await Promise.all([clientOps(ixyHost, ixyPort), clientOps(mcHost, mcPort)]);
  await say(JSON.stringify({ ixy, memcached }));
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const [mode, ...a] = process.argv.slice(2);
  const run = mode === 'session' ? session(a[0], Number(a[1]), a[2], Number(a[3]), Number(a[4]), Number(a[5]))
    : mode === 'client' ? client(a[0], Number(a[1]), a[2], Number(a[3]))
      : Promise.reject(new Error(`unknown mode ${mode}`));
  run.then(() => process.exit(0), async (e: Error) => { await say(JSON.stringify({ error: String(e.stack ?? e) })); process.exit(1); });
}
