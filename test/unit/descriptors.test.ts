import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeTxData, ringDistance, ringNext, rxLength, rxStatus, txDone, writeRxRead, writeTxData,
} from '../../src/driver/ixgbe/descriptors.js';
import * as R from '../../src/driver/ixgbe/regs.js';
import { PHYS_HI, PHYS_LO } from '../../src/mem/dma.js';

/** Random 52-bit bus addresses (what an IOMMU-less x86 machine can have), as one number. */
const addr52 = fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map(Number);

describe('TX data descriptor', () => {
  test('writeTxData sets EOP, IFCS, RS, DEXT, DTYP=data, length and PAYLEN; decodeTxData reads them back', () => {
    const desc = new Uint32Array(4 * 4).fill(0xffffffff);
    writeTxData(desc, 2, 0x89abcdef, 0x1234, 1514);
    const w = 2 * 4;
    assert.equal(desc[w], 0x89abcdef);
    assert.equal(desc[w + 1], 0x1234);
    assert.equal(desc[w + 2], (R.TXD_DCMD_EOP | R.TXD_DCMD_IFCS | R.TXD_DCMD_RS | R.TXD_DCMD_DEXT | R.TXD_DTYP_DATA | 1514) >>> 0);
    assert.equal(desc[w + 3], 1514 << 14, 'olinfo: PAYLEN in bits 14.., status (DD) clear');
    assert.equal(desc[w + 3] & R.TXD_STAT_DD, 0);
    assert.equal(txDone(desc, 2), false);
    // the other descriptors are untouched
    assert.ok(desc.subarray(0, 8).every((v) => v === 0xffffffff));
    assert.ok(desc.subarray(12).every((v) => v === 0xffffffff));
    assert.deepEqual(decodeTxData(desc, 2), {
      addr: 0x1234 * 2 ** 32 + 0x89abcdef, len: 1514, paylen: 1514, eop: true, rs: true, dext: true, dtyp: 3,
    });
  });

  test('txDone sees the DD bit the NIC writes back', () => {
    const desc = new Uint32Array(8);
    writeTxData(desc, 1, 0x1000, 1, 60);
    assert.equal(txDone(desc, 1), false);
    desc[4 + 3] = R.TXD_STAT_DD;
    assert.equal(txDone(desc, 1), true);
    assert.equal(txDone(desc, 0), false);
  });

  test('property: round trip for lengths 1..16383 and 52-bit addresses split into lo/hi', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16383 }), addr52, fc.integer({ min: 0, max: 255 }), (len, addr, slot) => {
        const desc = new Uint32Array(256 * 4);
        const lo = PHYS_LO(addr);
        const hi = PHYS_HI(addr);
        assert.ok(lo >= 0 && lo < 2 ** 32 && hi >= 0 && hi < 2 ** 20);
        assert.equal(hi * 2 ** 32 + lo, addr);
        writeTxData(desc, slot, lo, hi, len);
        const d = decodeTxData(desc, slot);
        assert.deepEqual(d, { addr, len, paylen: len, eop: true, rs: true, dext: true, dtyp: 3 });
        // PAYLEN must not spill into the status bits
        assert.equal(desc[slot * 4 + 3] & 0x3fff, 0);
        // only this slot is written
        for (let i = 0; i < desc.length; i++) if ((i >>> 2) !== slot) assert.equal(desc[i], 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RX descriptor', () => {
  test('writeRxRead puts the buffer address in and clears the write-back status and length', () => {
    const desc = new Uint32Array(3 * 4).fill(0xffffffff);
    // as the NIC leaves it: DD|EOP and a length
    assert.notEqual(rxStatus(desc, 1) & R.RXD_STAT_DD, 0);
    writeRxRead(desc, 1, 0xdeadbe00, 0x1);
    assert.deepEqual([...desc.subarray(4, 8)], [0xdeadbe00, 1, 0, 0]);
    assert.equal(rxStatus(desc, 1), 0);
    assert.equal(rxStatus(desc, 1) & R.RXD_STAT_DD, 0);
    assert.equal(rxLength(desc, 1), 0);
    assert.ok(desc.subarray(0, 4).every((v) => v === 0xffffffff));
    assert.ok(desc.subarray(8).every((v) => v === 0xffffffff));
  });

  test('rxStatus reads word 2; rxLength takes the low 16 bits of word 3 (VLAN tag in the high half)', () => {
    const desc = new Uint32Array(2 * 4);
    desc[4 + 2] = R.RXD_STAT_DD | R.RXD_STAT_EOP;
    desc[4 + 3] = (0xabcd << 16) | 1514;
    assert.equal(rxStatus(desc, 1), R.RXD_STAT_DD | R.RXD_STAT_EOP);
    assert.equal(rxLength(desc, 1), 1514);
    desc[4 + 3] = 0xffffffff;
    assert.equal(rxLength(desc, 1), 0xffff);
    assert.equal(rxLength(desc, 0), 0);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (len, vlan) => {
      desc[3] = ((vlan << 16) | len) >>> 0;
      assert.equal(rxLength(desc, 0), len);
    }));
  });
});

describe('ring arithmetic', () => {
  test('ringNext wraps at the end of the ring', () => {
    assert.equal(ringNext(0, 511), 1);
    assert.equal(ringNext(510, 511), 511);
    assert.equal(ringNext(511, 511), 0);
    assert.equal(ringNext(63, 63), 0);
  });

  test('ringDistance counts entries from `from` up to `to`, modulo the ring size', () => {
    assert.equal(ringDistance(0, 0, 511), 0);
    assert.equal(ringDistance(0, 5, 511), 5);
    assert.equal(ringDistance(5, 0, 511), 507);
    assert.equal(ringDistance(510, 2, 511), 4);
    assert.equal(ringDistance(2, 510, 511), 508);
    assert.equal(ringDistance(511, 0, 511), 1);
    assert.equal(ringDistance(0, 511, 511), 511);
  });

  test('property: advancing k times with ringNext gives ringDistance(from, result) = k mod size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.nat(), fc.nat(5000), (log2, fromSeed, k) => {
        const size = 1 << log2;
        const mask = size - 1;
        const from = fromSeed % size;
        let i = from;
        for (let s = 0; s < k; s++) {
          i = ringNext(i, mask);
          assert.ok(i >= 0 && i < size);
        }
        assert.equal(i, (from + k) % size);
        assert.equal(ringDistance(from, i, mask), k % size);
        // and the other way round
        assert.equal(ringDistance(i, from, mask), (size - (k % size)) % size);
      }),
      { numRuns: 500 },
    );
  });
});
