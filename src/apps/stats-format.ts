/** Per-second lines in ixy's style: packet rate, and bit rate counting the 20 bytes of preamble and gap per frame. */
export function rateLine(name: string, rxPackets: number, rxBytes: number, txPackets: number, txBytes: number, seconds: number): string {
  const mpps = (p: number): string => (p / seconds / 1e6).toFixed(2);
  const mbit = (b: number, p: number): string => (((b + p * 20) * 8) / seconds / 1e6).toFixed(0);
  return `[${name}] RX: ${mpps(rxPackets)} Mpps, ${mbit(rxBytes, rxPackets)} Mbit/s | TX: ${mpps(txPackets)} Mpps, ${mbit(txBytes, txPackets)} Mbit/s`;
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}
