/**
 * The text protocol of `ixy kv` through the server app's own `onEvents` (test/helpers/kv-harness.ts: Recv pieces
 * in a receive region, sendv references read only when "transmitted", Sent acknowledgements):
 * - request → reply byte strings, each as memcached 1.6.18 answers it (recorded from `memcached -t 1 -U 0`):
 *   every error reply, the number parsing quirks, noreply, CAS uniques, incr/decr padding, the item size limit;
 * - the same session as one piece, one byte per piece and random pieces gives the same replies (pipelining and
 *   requests or values split over segments);
 * - a long line without a newline closes that connection only; a multiget line may be long;
 * - a GET's value leaves from the store (zero-copy) and an overwrite while it is unacknowledged does not change
 *   what the client receives; the pins are gone once acknowledged;
 * - a client that does not read: the unacknowledged replies stay under the bound, the server stops releasing its
 *   requests, and everything arrives once it reads;
 * - connections over -c are told so and closed; quit and the peer's FIN close after the replies;
 * - 100 000 random and mutated command lines (fixed seed) over several connections: no exception, the store
 *   consistent and within its limit, every pin and pool entry back at the end.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvHarness } from '../helpers/kv-harness.js';
import { KvStore } from '../../src/kv/store.js';

const K250 = 'k'.repeat(250);
const K251 = 'k'.repeat(251);

/** [request, memcached's reply, 'closed' if memcached closes the connection] — each on a fresh server. */
const CASES: [string, string, string?][] = [
  ['set a 0 0 1\r\nabc\r\nget a\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n'],
  ['set a 0 0 1\r\nabc\r\nget a\r\nset a 0 0 1 noreply\r\nxyz\r\nget a\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\nERROR\r\nEND\r\n'],
  ['set a 4294967296 0 1\r\na\r\nget a\r\n', 'STORED\r\nVALUE a 0 1\r\na\r\nEND\r\n'],
  ['set a 4294967297 0 1\r\na\r\nget a\r\n', 'STORED\r\nVALUE a 1 1\r\na\r\nEND\r\n'],
  ['set a -1 0 1\r\na\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 99999999999999999999 0 1\r\na\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set n 0 0 3\r\n100\r\ndecr n 1\r\nget n\r\nincr n 5\r\nget n\r\n', 'STORED\r\n99\r\nVALUE n 0 3\r\n99 \r\nEND\r\n104\r\nVALUE n 0 3\r\n104\r\nEND\r\n'],
  ['set a 0 0 1\r\na\r\ngets a\r\nadd a 0 0 1\r\nb\r\nset b 0 0 1\r\nb\r\ngets b\r\nflush_all\r\nset c 0 0 1\r\nc\r\ngets c\r\ngets a\r\n' +
    'touch c 100\r\ngets c\r\nincr c 1\r\nappend c 0 0 1\r\nx\r\ngets c\r\nset d 0 0 1\r\n1\r\nincr d 1\r\ngets d\r\ncas d 0 0 1 0\r\n5\r\n' +
    'cas d 0 0 1 99\r\n5\r\ncas e 0 0 1 1\r\n5\r\ngets d\r\ndelete d\r\nset e 0 0 1\r\ne\r\ngets e\r\n',
  'STORED\r\nVALUE a 0 1 1\r\na\r\nEND\r\nNOT_STORED\r\nSTORED\r\nVALUE b 0 1 2\r\nb\r\nEND\r\nOK\r\nSTORED\r\nVALUE c 0 1 4\r\nc\r\nEND\r\nEND\r\n' +
    'TOUCHED\r\nVALUE c 0 1 4\r\nc\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\nVALUE c 0 2 5\r\ncx\r\nEND\r\n' +
    'STORED\r\n2\r\nVALUE d 0 1 7\r\n2\r\nEND\r\nEXISTS\r\nEXISTS\r\nNOT_FOUND\r\nVALUE d 0 1 7\r\n2\r\nEND\r\nDELETED\r\nSTORED\r\nVALUE e 0 1 8\r\ne\r\nEND\r\n'],
  // keys
  [`set ${K251} 0 0 1\r\na\r\n`, 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  [`get ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`get a ${K251} b\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`delete ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`incr ${K251} 1\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`touch ${K251} 1\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`gat 1 ${K251}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`set ${K250} 0 0 1\r\na\r\nget ${K250}\r\n`, `STORED\r\nVALUE ${K250} 0 1\r\na\r\nEND\r\n`],
  // command lines
  ['\r\n', 'ERROR\r\n'], ['\n', 'ERROR\r\n'], ['GET a\r\n', 'ERROR\r\n'], ['g\r\n', 'ERROR\r\n'], ['get\r\n', 'ERROR\r\n'],
  ['get \r\n', 'ERROR\r\n'], ['gets\r\n', 'ERROR\r\n'], ['foo bar\r\n', 'ERROR\r\n'], ['foo HTTP/1.1\r\n', '', 'closed'],
  ['shutdown\r\n', 'ERROR: shutdown not enabled\r\n'],
  ['cas a 0 0 1 abc\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 0 0\r\n', 'ERROR\r\n'], ['set a 0 0 1 2 3\r\nx\r\n', 'ERROR\r\nERROR\r\n'], ['set a 0 0 -1\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['set a 0 0 abc\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'], ['set a 0 abc 1\r\nx\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['set a 0 0 1 \r\nx\r\n', 'STORED\r\n'], ['set  a  0  0  1\r\nx\r\n', 'STORED\r\n'], ['set a 0 0 1\tx\r\nx\r\n', 'STORED\r\n'],
  ['set a\t0 0 1\r\nx\r\nget a\t\r\n', 'ERROR\r\nERROR\r\nEND\r\n'], ['set a 0 0 1\r\nx\r\nget a\x00b\r\n', 'STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n'],
  ['set a 0 0 1\rx\nx\r\n', 'STORED\r\n'], ['set a 0 0 1\nx\n', ''], ['set a 0 0 1\r\nxy\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
  ['set a 0 0 1\r\nx\rz', 'CLIENT_ERROR bad data chunk\r\n'],
  ['set a 0 0 +1\r\nx\r\nget a\r\nincr a +3\r\nincr a -0\r\nincr a -1\r\nincr a  5\r\n',
    'STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n' +
    'CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  // incr/decr
  ['set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\n', 'STORED\r\n0\r\nVALUE n 0 20\r\n0                   \r\nEND\r\n'],
  ['set n 0 0 20\r\n18446744073709551616\r\nincr n 1\r\n', 'STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['set n 0 0 21\r\n000000000000000000005\r\nincr n 1\r\nget n\r\n', 'STORED\r\n6\r\nVALUE n 0 21\r\n6                    \r\nEND\r\n'],
  ['set n 0 0 3\r\n 12\r\nincr n 1\r\nget n\r\n', 'STORED\r\n13\r\nVALUE n 0 3\r\n13 \r\nEND\r\n'],
  ['set n 0 0 3\r\n12a\r\nincr n 1\r\n', 'STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['set n 0 0 3\r\n1 a\r\nincr n 1\r\nget n\r\n', 'STORED\r\n2\r\nVALUE n 0 3\r\n2  \r\nEND\r\n'],
  ['set n 0 0 2\r\n-1\r\nincr n 1\r\n', 'STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['set n 0 0 2\r\n-0\r\nincr n 1\r\nget n\r\n', 'STORED\r\n1\r\nVALUE n 0 2\r\n1 \r\nEND\r\n'],
  ['set n 0 0 0\r\n\r\nincr n 1\r\n', 'STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['set n 0 0 1\r\n5\r\ndecr n 10\r\nincr n 18446744073709551615\r\nincr n 18446744073709551616\r\nincr n abc\r\nincr nx 1\r\nincr n 1 noreply\r\nget n\r\n',
    'STORED\r\n0\r\n18446744073709551615\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nNOT_FOUND\r\nVALUE n 0 20\r\n0                   \r\nEND\r\n'],
  ['set n 0 0 2\r\n+5\r\nincr n 1\r\nget n\r\n', 'STORED\r\n6\r\nVALUE n 0 2\r\n6 \r\nEND\r\n'],
  ['set n 0 0 1\r\n9\r\nincr n 1\r\nget n\r\n', 'STORED\r\n10\r\nVALUE n 0 2\r\n10\r\nEND\r\n'],
  ['set n 5 0 1\r\n9\r\nincr n 1\r\ngets n\r\n', 'STORED\r\n10\r\nVALUE n 5 2 2\r\n10\r\nEND\r\n'],
  ['set n 0 0 2\r\n\t5\r\nincr n 1\r\nget n\r\n', 'STORED\r\n6\r\nVALUE n 0 2\r\n6 \r\nEND\r\n'],
  ['incr\r\nincr a\r\ndecr a 1 2 3\r\nappend a 0 0 1\r\nx\r\nprepend a 0 0 1\r\nx\r\nreplace a 0 0 1\r\nx\r\n', 'ERROR\r\nERROR\r\nERROR\r\nNOT_STORED\r\nNOT_STORED\r\nNOT_STORED\r\n'],
  // touch, gat, delete, flush_all, verbosity, version, quit, stats
  ['set t 0 0 1\r\nt\r\ntouch t 10\r\ntouch t abc\r\ntouch t\r\ntouch t 1 2 3\r\ntouch x 10\r\ntouch t 10 noreply\r\ntouch t -1\r\nget t\r\n',
    'STORED\r\nTOUCHED\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\nERROR\r\nNOT_FOUND\r\nTOUCHED\r\nEND\r\n'],
  ['set t 0 0 1\r\nt\r\ngat 100 t\r\ngats 100 t x t\r\ngat abc t\r\ngat 10\r\ngat -1 t\r\nget t\r\n',
    'STORED\r\nVALUE t 0 1\r\nt\r\nEND\r\nVALUE t 0 1 1\r\nt\r\nVALUE t 0 1 1\r\nt\r\nEND\r\nCLIENT_ERROR invalid exptime argument\r\nEND\r\nVALUE t 0 1\r\nt\r\nEND\r\nEND\r\n'],
  ['set a 0 0 1\r\na\r\ndelete a 0\r\ndelete a 1\r\ndelete a 0 noreply\r\ndelete a noreply\r\ndelete a 0 0\r\ndelete a x noreply\r\ndelete\r\ndelete a b c d\r\n',
    'STORED\r\nDELETED\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nERROR\r\nERROR\r\n'],
  ['flush_all abc\r\nflush_all 0\r\nflush_all -1\r\nflush_all 1 2\r\nflush_all noreply\r\nflush_all 10 noreply\r\nflush_all 1 2 3\r\nflush_all noreply 5\r\nflush_all 0\r\n',
    'CLIENT_ERROR invalid exptime argument\r\nOK\r\nOK\r\nOK\r\nERROR\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\n'],
  ['verbosity\r\nverbosity 1\r\nverbosity abc\r\nverbosity 1 noreply\r\nverbosity 1 2\r\nverbosity 1 2 3\r\nverbosity -1\r\n',
    'ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nOK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n'],
  ['version\r\nversion x\r\nquit x\r\nversion\r\n', 'VERSION 1.6.18-ixy.ts\r\nVERSION 1.6.18-ixy.ts\r\n', 'closed'],
  ['quit\r\nversion\r\n', '', 'closed'],
  ['stats reset\r\nstats foo\r\nstats detail\r\nstats detail on\r\nstats sizes\r\nstats reset x\r\nstats noreply\r\n',
    'RESET\r\nERROR\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nOK\r\nSTAT sizes_status disabled\r\nEND\r\nRESET\r\nERROR\r\n'],
];

describe('replies byte for byte as memcached 1.6.18 sends them', () => {
  for (const [req, want, closed] of CASES) {
    test(JSON.stringify(req.length > 70 ? `${req.slice(0, 70)}…` : req), () => {
      const k = new KvHarness();
      const h = k.connect();
      assert.equal(k.ask(h, req), want);
      assert.equal(k.closedByServer(h), closed === 'closed');
      k.app.store.check();
    });
  }

  test('the item size limit (-I 1m): memcached\'s accounting to the byte, a set too large removes the old value, an add does not', () => {
    const k = new KvHarness();
    const h = k.connect();
    const big = (n: number, flags = 0): string => `set b ${flags} 0 ${n}\r\n${'y'.repeat(n)}\r\n`;
    assert.equal(k.ask(h, big(1048516)), 'STORED\r\n');
    assert.equal(k.ask(h, big(1048517)), 'SERVER_ERROR object too large for cache\r\n');
    assert.equal(k.ask(h, 'get b\r\n'), 'END\r\n', 'the failed set removed b');
    assert.equal(k.ask(h, big(1048512, 1)), 'STORED\r\n');
    assert.equal(k.ask(h, big(1048513, 1)), 'SERVER_ERROR object too large for cache\r\n');
    const x = 'x'.repeat(2_000_000);
    assert.equal(k.ask(h, `set a 0 0 1\r\na\r\nadd a 0 0 2000000\r\n${x}\r\nget a\r\n`), 'STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE a 0 1\r\na\r\nEND\r\n');
    assert.equal(k.ask(h, `set a 0 0 2000000 noreply\r\n${x}\r\nget a\r\n`), 'END\r\n');
  });

  test('-I 2m takes values up to 2 MiB', () => {
    const k = new KvHarness({ itemSizeMax: 2 << 20, memoryMiB: 16 });
    const h = k.connect();
    const v = 'v'.repeat(1_500_000);
    assert.equal(k.ask(h, `set big 0 0 ${v.length}\r\n${v}\r\n`), 'STORED\r\n');
    assert.equal(k.ask(h, 'get big\r\n'), `VALUE big 0 ${v.length}\r\n${v}\r\nEND\r\n`);
  });
});

/** A session touching every command, with values containing "\r\n" and a multiget. */
const SESSION = [
  'set a 1 0 5\r\nhello\r\n', 'set b 2 0 12\r\nline\r\nbreak!\r\n', 'get a b c\r\n', 'gets a\r\n', 'append a 0 0 3\r\n!!!\r\n',
  'prepend a 0 0 2\r\n>>\r\n', 'get a\r\n', 'set n 0 0 2\r\n10\r\n', 'incr n 5\r\n', 'decr n 100\r\n', 'get n\r\n',
  'add a 0 0 1\r\nz\r\n', 'replace zz 0 0 1\r\nz\r\n', 'cas a 0 0 1 999\r\nq\r\n', 'touch a 1000\r\n', 'gat 1000 a b\r\n',
  'delete b\r\n', 'delete b\r\n', 'set c 0 0 3 noreply\r\nccc\r\n', 'get c\r\n', 'bogus\r\n', `get ${'k '.repeat(40)}\r\n`,
  'flush_all\r\n', 'get a c n\r\n', 'version\r\n',
].join('');

describe('pipelining and split requests', () => {
  const run = (split: (n: number) => number[]): string => {
    const k = new KvHarness();
    const h = k.connect();
    return k.ask(h, SESSION, split(SESSION.length));
  };
  const whole = run((n) => [n]);

  test('one segment holding the whole session', () => {
    assert.match(whole, /^STORED\r\nSTORED\r\nVALUE a 1 5\r\nhello\r\nVALUE b 2 12\r\nline\r\nbreak!\r\nEND\r\nVALUE a 1 5 1\r\nhello\r\nEND\r\nSTORED\r\nSTORED\r\nVALUE a 1 10\r\n>>hello!!!\r\nEND\r\n/);
    assert.ok(whole.endsWith('OK\r\nEND\r\nVERSION 1.6.18-ixy.ts\r\n'), whole.slice(-80));
  });

  test('one byte per segment gives the same replies', () => {
    assert.equal(run((n) => new Array<number>(n).fill(1)), whole);
  });

  test('random segment sizes (every request and value split somewhere) give the same replies', () => {
    let seed = 7;
    for (let r = 0; r < 20; r++) {
      assert.equal(run((n) => {
        const out: number[] = [];
        for (let t = 0; t < n;) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; const s = 1 + (seed % 97); out.push(s); t += s; }
        return out;
      }), whole);
    }
  });

  test('replies of a pipelined session come in order across Again (small send buffer)', () => {
    const k = new KvHarness();
    k.sndBuf = 7;
    const h = k.connect();
    assert.equal(k.ask(h, SESSION), whole);
  });
});

describe('lines without a newline, connection ends', () => {
  test('more than 2048 bytes without a newline close that connection only', () => {
    const k = new KvHarness();
    const a = k.connect();
    const b = k.connect();
    k.send(a, `set ${'k'.repeat(3000)}`, [1000]);
    k.deliver();
    assert.equal(k.closedByServer(a), true);
    assert.equal(k.ask(b, 'set x 0 0 1\r\n1\r\nget x\r\n'), 'STORED\r\nVALUE x 0 1\r\n1\r\nEND\r\n');
    assert.equal(k.closedByServer(b), false);
    k.send(b, 'x'.repeat(2048));
    k.deliver();
    assert.equal(k.closedByServer(b), false, '2048 bytes may wait for their newline');
    k.send(b, 'x');
    k.deliver();
    assert.equal(k.closedByServer(b), true, 'the 2049th byte without a newline closes it');
  });

  test('a line longer than 2048 bytes that arrives with its newline is a command; a long multiget line is fine', () => {
    const k = new KvHarness();
    const h = k.connect();
    assert.equal(k.ask(h, `set ${'k'.repeat(2044)}\r\nversion\r\n`), 'ERROR\r\nVERSION 1.6.18-ixy.ts\r\n');
    k.ask(h, 'set k 0 0 1\r\nv\r\n');
    assert.equal(k.ask(h, `get ${'k '.repeat(20_000)}\r\n`, [1448]), `${'VALUE k 0 1\r\nv\r\n'.repeat(20_000)}END\r\n`);
    assert.equal(k.closedByServer(h), false);
  });

  test('quit answers what came before and closes; the peer\'s FIN closes after the replies; a reset frees everything', () => {
    const k = new KvHarness();
    const a = k.connect();
    assert.equal(k.ask(a, 'set q 0 0 1\r\n1\r\nquit\r\nget q\r\n'), 'STORED\r\n');
    assert.equal(k.closedByServer(a), true);
    const b = k.connect();
    k.send(b, 'get q\r\n');
    k.fin(b);
    k.deliver();
    assert.equal(k.take(b), 'VALUE q 0 1\r\n1\r\nEND\r\n');
    assert.equal(k.closedByServer(b), true);
    const c = k.connect();
    k.send(c, 'set big 0 0 100000\r\n' + 'z'.repeat(50_000));
    k.kill(c);
    k.app.store.check();
    assert.equal(k.app.proto.conns, 0);
    assert.equal(k.app.proto.poolsInUse, 0);
  });

  test('connections over -c get memcached\'s "ERROR Too many open connections" and are closed', () => {
    const k = new KvHarness({ maxConns: 2 });
    const a = k.connect();
    k.connect();
    const c = k.connect();
    k.deliver();
    assert.equal(k.take(c), 'ERROR Too many open connections\r\n');
    assert.equal(k.closedByServer(c), true);
    assert.equal(k.app.proto.rejectedConns, 1);
    assert.equal(k.ask(a, 'version\r\n'), 'VERSION 1.6.18-ixy.ts\r\n');
  });
});

describe('zero-copy GET and the per-connection bound', () => {
  test('a GET sends the value from the store; overwritten before it is acknowledged, the client still receives the old bytes', () => {
    const k = new KvHarness();
    const h = k.connect();
    const v1 = 'A'.repeat(100_000);
    const v2 = 'B'.repeat(100_000);
    k.ask(h, `set big 0 0 ${v1.length}\r\n${v1}\r\n`);
    k.send(h, 'get big\r\n');
    const it = k.app.store.find(Buffer.from('big'), 0, 3);
    assert.equal(k.app.store.pins(it), 1, 'the item is pinned while its bytes are referenced');
    // the overwrite and an incr-free append arrive before the client has acknowledged anything
    k.send(h, `set big 0 0 ${v2.length}\r\n${v2}\r\nappend big 0 0 1\r\n!\r\n`);
    k.deliver();
    assert.equal(k.take(h), `VALUE big 0 ${v1.length}\r\n${v1}\r\nEND\r\nSTORED\r\nSTORED\r\n`);
    assert.equal(k.ask(h, 'get big\r\n'), `VALUE big 0 ${v2.length + 1}\r\n${v2}!\r\nEND\r\n`);
    const now = k.app.store.find(Buffer.from('big'), 0, 3);
    assert.equal(k.app.store.pins(now), 0, 'acknowledged: no pin left');
    k.app.store.check();
  });

  test('values shorter than copyBelow are copied into the reply; the result is the same', () => {
    const k = new KvHarness({ copyBelow: 64 });
    const h = k.connect();
    assert.equal(k.ask(h, 'set s 0 0 3\r\nabc\r\nget s\r\nset s 0 0 1\r\nz\r\n'), 'STORED\r\nVALUE s 0 3\r\nabc\r\nEND\r\nSTORED\r\n');
    assert.equal(k.app.store.pins(k.app.store.find(Buffer.from('s'), 0, 1)), 0);
  });

  test('a client that does not read: replies stay under the bound, its requests are not released, all arrive once it reads', () => {
    const bound = 64 * 1024;
    const k = new KvHarness({ outputBound: bound });
    k.sndBuf = 16 * 1024;
    const h = k.connect();
    const v = 'V'.repeat(10_000);
    k.ask(h, `set v 0 0 ${v.length}\r\n${v}\r\n`);
    const gets = 'get v\r\n'.repeat(200);
    k.send(h, gets, [1448]);
    const slot = k.conns.get(h)!.cookie;
    let maxPending = 0;
    for (let i = 0; i < 20; i++) {
      k.deliver(0);
      maxPending = Math.max(maxPending, k.app.proto.pending(slot));
    }
    assert.ok(maxPending <= bound + v.length + 64, `unacknowledged ${maxPending} bytes`);
    assert.ok(k.held(h) > 0, `the server stopped releasing requests (${k.held(h)} bytes held)`);
    assert.ok(k.app.proto.throttled > 0);
    // a slow reader: a few KiB at a time
    for (let i = 0; i < 10_000 && k.held(h) > 0; i++) {
      k.deliver(4096);
      assert.ok(k.app.proto.pending(slot) <= bound + v.length + 64);
    }
    k.deliver();
    assert.equal(k.take(h), `VALUE v 0 ${v.length}\r\n${v}\r\nEND\r\n`.repeat(200));
    assert.equal(k.held(h), 0);
  });
});

describe('fuzz', () => {
  test('100 000 random and mutated command lines from a fixed seed: no exception, the store consistent and within its limit', () => {
    let seed = 20240517;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
    const keys = ['a', 'b', 'counter', 'k'.repeat(250), 'k'.repeat(251), 'x y', '', '\t'];
    const words = ['set', 'add', 'replace', 'append', 'prepend', 'cas', 'get', 'gets', 'gat', 'gats', 'bget', 'incr', 'decr', 'touch',
      'delete', 'flush_all', 'version', 'verbosity', 'stats', 'quit', 'noreply', 'mg', 'ms', 'cache_memlimit', 'shutdown', 'HTTP/1.0'];
    const nums = ['0', '1', '-1', '4294967296', '18446744073709551615', '18446744073709551616', 'abc', '+5', '\t3', '2000000', '1048576', '100'];
    const line = (): string => {
      const r = rnd();
      if (r < 0.3) {
        const v = 'v'.repeat(Math.floor(rnd() * (rnd() < 0.05 ? 70_000 : 60)));
        const len = rnd() < 0.9 ? String(v.length) : pick(nums);
        return `${pick(['set', 'add', 'replace', 'append', 'prepend'])} ${pick(keys)} ${pick(['0', '7', ...nums])} ${pick(['0', '0', '-1', '100', ...nums])} ${len}${rnd() < 0.2 ? ' noreply' : ''}\r\n${v}\r\n`;
      }
      if (r < 0.5) return `${pick(['get', 'gets', 'gat 0', 'gats 100'])} ${pick(keys)} ${pick(keys)}\r\n`;
      if (r < 0.6) return `${pick(['incr', 'decr'])} ${pick(keys)} ${pick(nums)}\r\n`;
      // a random line of random words, or random bytes
      let s = '';
      const n = Math.floor(rnd() * 8);
      for (let i = 0; i < n; i++) s += (i ? pick([' ', '  ', '\t']) : '') + (rnd() < 0.7 ? pick(words) : rnd() < 0.5 ? pick(nums) : pick(keys));
      if (rnd() < 0.2) { const b = Math.floor(rnd() * 40); for (let i = 0; i < b; i++) s += String.fromCharCode(Math.floor(rnd() * 256)); }
      return s + pick(['\r\n', '\n', '\r\n', '\r\r\n']);
    };
    const k = new KvHarness({ memoryMiB: 2, itemSizeMax: 64 * 1024, maxConns: 8, outputBound: 256 * 1024 });
    let handles = [k.connect(), k.connect(), k.connect()];
    let lines = 0;
    while (lines < 100_000) {
      const h = pick(handles);
      let batch = '';
      const m = 1 + Math.floor(rnd() * 20);
      for (let i = 0; i < m; i++) batch += line();
      lines += m;
      const sizes: number[] = [];
      for (let t = 0; t < batch.length;) { const s = 1 + Math.floor(rnd() * 3000); sizes.push(s); t += s; }
      k.send(h, batch, sizes);
      k.deliver(rnd() < 0.1 ? 10_000 : Infinity);
      k.take(h);
      if (k.closedByServer(h) || rnd() < 0.01) {
        if (!k.conns.get(h)!.dead) k.kill(h);
        handles = handles.filter((x) => x !== h).concat(k.connect());
      }
      k.app.store.check();
      const st = k.app.store;
      assert.ok(st.pagesInUse * st.pageSize <= st.memoryBytes);
    }
    for (const h of handles) k.kill(h);
    k.deliver();
    assert.equal(k.app.proto.conns, 0);
    assert.equal(k.app.proto.poolsInUse, 0, 'every piece and reply segment back in its pool');
    assert.equal(k.recvDoneErrors, 0, 'recvDone never released more than was delivered');
    const st = k.app.store;
    for (let c = 1; c <= st.classes; c++) for (const it of st.lruOrder(c)) assert.equal(st.pins(it), 0, 'no pin left');
    st.check();
    void KvStore;
  });
});
