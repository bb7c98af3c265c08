/** One device's rates over an interval: Mpps, and Mbit/s counting the 20 bytes of preamble and gap per frame. */
export interface Rates { rxMpps: number; rxMbits: number; txMpps: number; txMbits: number }

export function rates(rxPackets: number, rxBytes: number, txPackets: number, txBytes: number, seconds: number): Rates {
  const mpps = (p: number): number => p / seconds / 1e6;
  const mbit = (b: number, p: number): number => ((b + p * 20) * 8) / seconds / 1e6;
  return { rxMpps: mpps(rxPackets), rxMbits: mbit(rxBytes, rxPackets), txMpps: mpps(txPackets), txMbits: mbit(txBytes, txPackets) };
}

/** Per-second lines in ixy's style. */
export function rateLine(name: string, r: Rates): string {
  return `[${name}] RX: ${r.rxMpps.toFixed(2)} Mpps, ${r.rxMbits.toFixed(0)} Mbit/s | TX: ${r.txMpps.toFixed(2)} Mpps, ${r.txMbits.toFixed(0)} Mbit/s`;
}

/**
 * `--json` live figures: one JSON object a line (NDJSON), `{"type":"stats","t":<seconds since start>,…}` once a
 * second and `{"type":"summary",…}` at the end (README.md, Commands).
 */
export function statsJson(t: number, figures: object): string {
  return JSON.stringify({ type: 'stats', t: Math.round(t * 1000) / 1000, ...figures });
}

export function summaryJson(figures: object): string {
  return JSON.stringify({ type: 'summary', ...figures });
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}
