import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertNoAlloc } from '../helpers/no-alloc.js';
import {
  cookieSackOk, cookieTsval, cookieWscale, SYN_COOKIE_MSS, SYN_COOKIE_PERIOD_MS, SynCookies,
} from '../../src/stack/syn-cookie.js';

const P = SYN_COOKIE_PERIOD_MS;
const LIP = 0xc0a80001 | 0; // int32, as wire/ reads addresses
const RIP = 0x0a000002;
const NOW = 1_700_000_000_000; // a Date.now() value

// A false accept of a forged or altered cookie has probability 2^-24 (24-bit MAC); the property tests use a fixed
// seed so that they are reproducible and cannot flake on such a (legitimate) collision.
const SEED = { seed: 0x5eed, numRuns: 400 };
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const port = fc.integer({ min: 0, max: 65535 });


describe('SYN cookies', () => {
  const sc = new SynCookies(Uint32Array.of(0x01234567, 0x89abcdef));

  test('round trip for every MSS in the table; other MSS values round down (536 at least)', () => {
    for (const mss of SYN_COOKIE_MSS) {
      const isn = sc.encode(LIP, 80, RIP, 40000, 12345, mss, NOW);
      assert.equal(sc.decode(LIP, 80, RIP, 40000, 12345, isn, NOW), mss);
    }
    const cases: Array<[number, number]> = [[0, 536], [535, 536], [537, 536], [1219, 536], [1300, 1220], [1459, 1440],
      [1500, 1460], [8959, 1460], [9000, 8960], [65535, 8960]];
    for (const [mss, want] of cases) {
      const isn = sc.encode(LIP, 80, RIP, 40000, -7, mss, NOW);
      assert.equal(sc.decode(LIP, 80, RIP, 40000, -7, isn, NOW), want, `mss ${mss}`);
    }
  });

  test('bit layout: MAC in bits 31–8, t mod 32 in bits 7–3, MSS index in bits 2–0; an int32', () => {
    for (let i = 0; i < SYN_COOKIE_MSS.length; i++) {
      const isn = sc.encode(LIP, 80, RIP, 40000, 1, SYN_COOKIE_MSS[i]!, 37 * P + 5);
      assert.equal(isn & 7, i);
      assert.equal((isn >>> 3) & 31, 5);
      assert.equal(isn | 0, isn);
    }
  });

  test('accepted across one counter boundary, rejected after two or before it was made', () => {
    const isn = sc.encode(LIP, 80, RIP, 40000, 99, 1460, 10 * P - 1); // the last ms of period 9
    const at = (ms: number): number => sc.decode(LIP, 80, RIP, 40000, 99, isn, ms);
    assert.equal(at(10 * P - 1), 1460);
    assert.equal(at(10 * P), 1460); // one boundary later
    assert.equal(at(11 * P - 1), 1460);
    assert.equal(at(11 * P), -1); // two boundaries: too old
    assert.equal(at(9 * P - 1), -1); // from the future
    assert.equal(at(41 * P), -1, 't mod 32 matches again 32 periods later, but the MAC covers the full counter');
    assert.equal(at(42 * P - 1), -1);
  });

  test('property: valid while age ≤ 1 period, for any tuple, client ISN, MSS and time (fast-check)', () => {
    fc.assert(fc.property(i32, port, i32, port, i32, fc.integer({ min: 0, max: 20000 }),
      fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: -P, max: 3 * P }),
      (lip, lport, rip, rport, cisn, mss, now, later) => {
        const isn = sc.encode(lip, lport, rip, rport, cisn, mss, now);
        const want = [...SYN_COOKIE_MSS].reverse().find((m) => m <= mss) ?? 536;
        const age = Math.floor((now + later) / P) - Math.floor(now / P);
        const got = sc.decode(lip, lport, rip, rport, cisn, isn, now + later);
        assert.equal(got, age === 0 || age === 1 ? want : -1);
      }), SEED);
  });

  test('property: wrong tuple, wrong client ISN, other key or any flipped bit → -1 (fast-check)', () => {
    const other = new SynCookies(Uint32Array.of(0x01234567, 0x89abcdee));
    fc.assert(fc.property(i32, port, i32, port, i32, fc.constantFrom(...SYN_COOKIE_MSS), fc.integer({ min: 0, max: 2 ** 45 }),
      fc.integer({ min: 0, max: 0x7fffffff }), (lip, lport, rip, rport, cisn, mss, now, d) => {
        const isn = sc.encode(lip, lport, rip, rport, cisn, mss, now);
        const dd = d === 0 ? 1 : d;
        assert.equal(sc.decode(lip, lport, rip, rport, cisn, isn, now), mss);
        assert.equal(sc.decode(lip ^ dd, lport, rip, rport, cisn, isn, now), -1, 'local address');
        assert.equal(sc.decode(lip, lport ^ (dd & 0xffff || 1), rip, rport, cisn, isn, now), -1, 'local port');
        assert.equal(sc.decode(lip, lport, rip ^ dd, rport, cisn, isn, now), -1, 'remote address');
        assert.equal(sc.decode(lip, lport, rip, rport ^ (dd & 0xffff || 1), cisn, isn, now), -1, 'remote port');
        assert.equal(sc.decode(lip, lport, rip, rport, (cisn + dd) | 0, isn, now), -1, 'client ISN');
        assert.equal(sc.decode(rip, rport, lip, lport, cisn, isn, now), lip === rip && lport === rport ? mss : -1, 'swapped ends');
        assert.equal(other.decode(lip, lport, rip, rport, cisn, isn, now), -1, 'another key');
        for (let bit = 0; bit < 32; bit++) {
          assert.equal(sc.decode(lip, lport, rip, rport, cisn, isn ^ (1 << bit), now), -1, `bit ${bit} flipped`);
        }
      }), SEED);
  });

  test('a random key by default: two instances disagree', () => {
    const a = new SynCookies();
    const b = new SynCookies();
    let same = 0;
    for (let i = 0; i < 8; i++) if (a.encode(LIP, 80, RIP, 1000 + i, 0, 1460, NOW) === b.encode(LIP, 80, RIP, 1000 + i, 0, 1460, NOW)) same++;
    assert.ok(same < 8);
    assert.throws(() => new SynCookies(new Uint32Array(1)), RangeError);
  });
});

describe('SYN-cookie timestamps', () => {
  test('wscale (0–14 or none) and SACK-permitted round trip through TSval/TSecr; TSval ≤ clock, within 32 ticks', () => {
    fc.assert(fc.property(i32, fc.integer({ min: -1, max: 14 }), fc.boolean(), (now, ws, sack) => {
      const ts = cookieTsval(now, ws, sack);
      assert.equal(ts | 0, ts, 'an int32');
      const behind = (now - ts) | 0;
      assert.ok(behind >= 0 && behind < 32, `TSval ${ts} is ${behind} ticks behind ${now}`);
      assert.equal(cookieWscale(ts), ws);
      assert.equal(cookieSackOk(ts), sack);
    }), { numRuns: 2000 });
  });

  test('edge cases: wrap of the timestamp clock, shifts above 14 clamp to 14 (RFC 7323 §2.3)', () => {
    const ts = cookieTsval(-0x80000000 + 3, 14, true); // 0x80000003: rounding down crosses 2^31
    assert.equal(ts, 0x7fffffe0 | 30);
    assert.equal(cookieWscale(ts), 14);
    assert.equal(cookieTsval(0, -1, false), -32 | 15);
    assert.equal(cookieWscale(cookieTsval(31, -1, true)), -1);
    assert.equal(cookieTsval(31, -1, true), 31);
    assert.equal(cookieWscale(cookieTsval(1000, 15, false)), 14);
    assert.equal(cookieWscale(cookieTsval(1000, 200, false)), 14);
  });
  test('encode / decode / timestamp helpers allocate nothing (1e6 rounds, no GC)', () => {
    const sc = new SynCookies();
    assertNoAlloc('SynCookies', (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const rip = (0x80000000 + i) | 0;
        const cisn = Math.imul(i, 0x9e3779b1);
        const now = 1_000_000_000 + i * 97; // integer ms below 2^31: a small integer (see the header of syn-cookie.ts)
        const isn = sc.encode(LIP, 80, rip, i & 0xffff, cisn, 1460, now);
        acc += sc.decode(LIP, 80, rip, i & 0xffff, cisn, isn, now + 1000);
        acc += sc.decode(LIP, 80, rip, i & 0xffff, cisn ^ 1, isn, now); // rejected
        const ts = cookieTsval((0xf0000000 + i) | 0, (i % 16) - 1, (i & 1) === 0);
        acc = (acc + cookieWscale(ts) + (cookieSackOk(ts) ? 1 : 0)) | 0;
      }
      return acc;
    });
  });
});
