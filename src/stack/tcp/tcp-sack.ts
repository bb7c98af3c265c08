/**
 * The sender's SACK scoreboard (RFC 2018, loss recovery after RFC 6675): the ranges above SND.UNA the peer reported
 * holding, so that during fast recovery each duplicate or partial ACK retransmits the next hole instead of only the
 * segment at SND.UNA (NewReno repairs one loss per round trip; with SACK several losses in a window are repaired in
 * one). A simplification of RFC 6675: at most SACK_RANGES ranges are remembered and one hole is resent per ACK.
 */
import type { TcpOptions } from '../../wire/index.js';
import { seqGe, seqGt, seqLe, seqLt, type TcpConn } from './tcp-conn.js';

export const SACK_RANGES = 8;

/** Merges the blocks of an arriving ACK into `c`'s scoreboard and forgets what SND.UNA has passed. */
export function sackUpdate(c: TcpConn, o: TcpOptions): void {
  for (let k = 0; k < o.sackBlocks; k++) {
    const l = o.sackLeft[k], r = o.sackRight[k];
    // RFC 2018 §4 / RFC 6675 §5.1: ignore blocks that are below SND.UNA, beyond what we sent, or empty.
    if (!seqLt(l, r) || seqLe(r, c.sndUna) || seqGt(r, c.sndMax)) continue;
    insert(c, seqLt(l, c.sndUna) ? c.sndUna : l, r);
  }
  sackPrune(c);
}

/** Drops ranges at or below SND.UNA (after it advanced). */
export function sackPrune(c: TcpConn): void {
  let w = 0;
  for (let i = 0; i < c.sackN; i++) {
    if (seqLe(c.sackR[i], c.sndUna)) continue;
    c.sackL[w] = seqLt(c.sackL[i], c.sndUna) ? c.sndUna : c.sackL[i];
    c.sackR[w] = c.sackR[i];
    w++;
  }
  c.sackN = w;
}

export function sackClear(c: TcpConn): void {
  c.sackN = 0;
}

/** Inserts [l, r) keeping the ranges sorted and disjoint; when full, the highest range is dropped. */
function insert(c: TcpConn, l: number, r: number): void {
  const L = c.sackL, R = c.sackR;
  let i = 0;
  while (i < c.sackN && seqLt(R[i], l)) i++;
  // Merge with every range that overlaps or touches [l, r).
  let j = i;
  while (j < c.sackN && seqLe(L[j], r)) {
    if (seqLt(L[j], l)) l = L[j];
    if (seqGt(R[j], r)) r = R[j];
    j++;
  }
  const removed = j - i;
  if (removed === 0) {
    if (c.sackN === SACK_RANGES) {
      if (i === SACK_RANGES) return; // higher than everything kept: the lower holes matter first
      c.sackN--;
    }
    for (let k = c.sackN; k > i; k--) { L[k] = L[k - 1]; R[k] = R[k - 1]; }
    c.sackN++;
  } else if (removed > 1) {
    for (let k = i + 1; k + removed - 1 < c.sackN; k++) { L[k] = L[k + removed - 1]; R[k] = R[k + removed - 1]; }
    c.sackN -= removed - 1;
  }
  L[i] = l;
  R[i] = r;
}

/**
 * The next hole to resend: the first sequence number at or above max(SND.UNA, HighRxt) that no range covers and
 * that lies below the highest SACKed byte (RFC 6675 §4 NextSeg rule 1, simplified). Writes its start to
 * `c.holeSeq` and returns its length (0 = none).
 */
export function sackNextHole(c: TcpConn): number {
  let start = seqGt(c.highRxt, c.sndUna) ? c.highRxt : c.sndUna;
  for (let i = 0; i < c.sackN; i++) {
    if (seqLt(start, c.sackL[i])) {
      c.holeSeq = start;
      return (c.sackL[i] - start) | 0;
    }
    if (seqGe(c.sackR[i], start)) start = c.sackR[i];
  }
  return 0;
}
