import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeathReason } from '../../src/api/codes.js';
import { EventKind, EventQueue } from '../../src/api/events.js';

test('event columns read by name match the table of kinds (and survive the arrays growing)', () => {
  const q = new EventQueue(2, new Uint8Array(16));
  q.push(EventKind.Knock, 5, 0, 7, 0, 0x0a000001, 40000, 0);
  q.push(EventKind.Recv, 5, 9, 100, 64, 0, 0, 0);
  q.push(EventKind.Sent, 5, 9, 64, 4096, 0, 0, 0);
  q.push(EventKind.Dead, 5, 9, DeathReason.Reset, 0, 0, 0, 0);
  q.push(EventKind.UdpRecv, 53, 0, 200, 12, 0x0a000002, 5353, 17);
  q.push(EventKind.Connected, 6, 3, DeathReason.Refused, 0, 0, 0, 0);
  assert.equal(q.grown, 2);
  assert.deepEqual([q.localPort(0), q.remoteIp(0), q.remotePort(0)], [7, 0x0a000001, 40000]);
  assert.deepEqual([q.offset(1), q.length(1)], [100, 64]);
  assert.deepEqual([q.acked(2), q.sendRoom(2)], [64, 4096]);
  assert.equal(q.reason(3), DeathReason.Reset);
  assert.deepEqual([q.localPort(4), q.offset(4), q.length(4), q.remoteIp(4), q.remotePort(4), q.buf[4]], [53, 200, 12, 0x0a000002, 5353, 17]);
  assert.equal(q.reason(5), DeathReason.Refused);
});
