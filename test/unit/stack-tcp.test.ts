import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { EventKind } from '../../src/api/events.js';
import { DeathReason } from '../../src/api/codes.js';
import { IP_A, IP_B, poolBalanced, sha256, stackPair } from '../helpers/stack-pair.js';

test('TCP: connect, 4 MiB each way, close both ways — bytes equal, pools balanced', () => {
  const { a, b, pump } = stackPair();
  const PORT = 5001;
  assert.equal(b.api.listen(PORT), 0);
  const payload = randomBytes(4 << 20);
  const gotB: Buffer[] = [];
  const gotA: Buffer[] = [];
  let serverHandle = -1, clientHandle = -1, connected = false, deadA = -1, deadB = -1;
  let aSent = 0, bSent = 0, aEof = false, bEof = false;
  let aOff = 0, bOff = 0;
  const pushA = (): void => {
    while (aOff < payload.length) { const n = a.api.sendv(clientHandle, payload, aOff, payload.length - aOff); if (n <= 0) break; aOff += n; }
  };
  const pushB = (): void => {
    while (bOff < payload.length) { const n = b.api.sendv(serverHandle, payload, bOff, payload.length - bOff); if (n <= 0) break; bOff += n; }
  };
  b.app.handler = (ev, api) => {
    for (let i = 0; i < ev.count; i++) {
      switch (ev.kind[i]) {
        case EventKind.Knock: serverHandle = ev.handle[i]; assert.equal(ev.c[i], IP_A); assert.equal(api.accept(serverHandle, 7), 0); pushB(); break;
        case EventKind.Recv:
          assert.equal(ev.cookie[i], 7);
          if (ev.b[i] === 0) { bEof = true; break; }
          gotB.push(Buffer.from(ev.bytes.subarray(ev.a[i], ev.a[i] + ev.b[i])));
          assert.equal(api.recvDone(ev.handle[i], ev.b[i]), 0);
          break;
        case EventKind.Sent: bSent += ev.a[i]; pushB(); if (bSent === payload.length) api.close(serverHandle); break;
        case EventKind.Dead: deadB = ev.a[i]; break;
      }
    }
  };
  a.app.handler = (ev, api) => {
    for (let i = 0; i < ev.count; i++) {
      switch (ev.kind[i]) {
        case EventKind.Connected: assert.equal(ev.a[i], 0); assert.equal(ev.cookie[i], 99); connected = true; pushA(); break;
        case EventKind.Recv:
          if (ev.b[i] === 0) { aEof = true; break; }
          gotA.push(Buffer.from(ev.bytes.subarray(ev.a[i], ev.a[i] + ev.b[i])));
          api.recvDone(ev.handle[i], ev.b[i]);
          break;
        case EventKind.Sent: aSent += ev.a[i]; pushA(); if (aSent === payload.length) api.close(clientHandle); break;
        case EventKind.Dead: deadA = ev.a[i]; break;
      }
    }
  };
  clientHandle = a.api.connect(IP_B, PORT, 99);
  assert.ok(clientHandle >= 0, `connect: ${clientHandle}`);
  pump(() => deadA >= 0 && deadB >= 0);
  assert.ok(connected && aEof && bEof);
  assert.equal(deadA, DeathReason.Closed);
  assert.equal(deadB, DeathReason.Closed);
  assert.equal(sha256(Buffer.concat(gotB)), sha256(payload));
  assert.equal(sha256(Buffer.concat(gotA)), sha256(payload));
  for (const s of [a, b]) {
    const { allocated, held } = poolBalanced(s);
    assert.equal(allocated, held);
  }
  assert.equal(a.api.sendv(clientHandle, payload, 0, 1), -1); // BadHandle after dead
});
