/**
 * What a stack app's user must hear about without asking for --json: the link is down, frames are being dropped
 * (bad checksums, too long for a buffer) or an address does not answer ARP. Checked once a second from the main
 * thread's timer (never per packet); each kind of problem is one line on stderr the first time, with the command
 * that fixes it, and the drops are counted in the live figures.
 */
import type { Device } from '../driver/device.js';
import { formatIpv4 } from '../stack/ip-interface.js';
import type { Stack } from '../stack/stack.js';
import { isAdminUp, vethPeer } from '../sys/netif.js';

export class StackWatch {
  private badChecksum = 0;
  private oversize = 0;
  private unresolved = 0;
  private linkUp: boolean;
  private warnedChecksum = false;
  private warnedOversize = false;

  constructor(
    private readonly stack: Stack,
    private readonly device: Device,
    private readonly warn: (line: string) => void,
  ) {
    // Judged at the first check, a second from now: a veth just made or brought up takes a moment (linkwatch).
    this.linkUp = true;
  }

  /** Checks the counters; returns what was dropped since the last call (for the live line), or ''. */
  check(): string {
    const c = this.stack.counters;
    const dev = this.device;
    const badChecksum = c.badChecksum - this.badChecksum;
    this.badChecksum = c.badChecksum;
    const oversizeNow = dev.rxOversize ?? 0;
    const oversize = oversizeNow - this.oversize;
    this.oversize = oversizeNow;
    if (badChecksum > 0 && !this.warnedChecksum) {
      this.warnedChecksum = true;
      this.warn(`ixy: warning: ${dev.spec}: TCP/UDP segments with bad checksums dropped; if the Linux side leaves ` +
        `checksums to an offload, turn it off: ${this.onPeer('ethtool -K', 'tx off')}`);
    }
    if (oversize > 0 && !this.warnedOversize) {
      this.warnedOversize = true;
      const native = dev.driverName.startsWith('af_xdp/generic') ? ` (or use mode=native: then the kernel stops it itself)` : '';
      this.warn(`ixy: warning: ${dev.spec}: frames longer than a buffer dropped (TSO/GSO super-frames from the Linux side): ` +
        `${this.onPeer('ethtool -K', 'tso off gso off')}${native}`);
    }
    const arp = this.stack.iface.arp;
    if (arp.unresolvedAddresses !== this.unresolved) {
      this.unresolved = arp.unresolvedAddresses;
      this.warn(`ixy: no ARP reply from ${formatIpv4(arp.lastUnresolvedIp)} on ${dev.spec} after ${arp.maxRequests} requests: ` +
        'check the address (--connect, --gateway) and that the peer is up on that link');
    }
    const up = dev.linkSpeedMbps() > 0;
    if (up !== this.linkUp) {
      this.linkUp = up;
      this.warn(up ? `ixy: ${dev.spec}: link up` : this.linkDownLine());
    }
    const parts: string[] = [];
    if (badChecksum > 0) parts.push(`${badChecksum} bad checksum`);
    if (oversize > 0) parts.push(`${oversize} too long`);
    return parts.length ? ` | dropped: ${parts.join(', ')}` : '';
  }

  /** Whether an address was given up on by ARP. */
  arpFailed(ip: number): boolean {
    return this.stack.iface.arp.unresolvedAddresses > 0 && this.stack.iface.arp.lastUnresolvedIp === ip;
  }

  private linkDownLine(): string {
    const dev = this.device;
    const ifname = dev.ifname;
    if (!ifname) return `ixy: warning: ${dev.spec}: link down (no carrier): check the cable or the other end`;
    if (!isAdminUp(ifname)) return `ixy: warning: ${dev.spec}: link down: ip link set dev ${ifname} up`;
    return `ixy: warning: ${dev.spec}: link down: ${ifname} is up, its other end is not: ${this.onPeer('ip link set dev', 'up')}`;
  }

  /** `<cmd> PEER <args>`, naming the veth peer as well as it can be named from this namespace. */
  private onPeer(cmd: string, args: string): string {
    const ifname = this.device.ifname;
    const peer = ifname ? vethPeer(ifname) : null;
    if (peer?.name) return `${cmd} ${peer.name} ${args}`;
    if (peer) return `${cmd} PEER ${args} in the namespace of ${ifname}'s veth peer (ifindex ${peer.ifindex} there; ip link show ${ifname} names the namespace)`;
    return `${cmd} IF ${args} on the Linux end of the link of ${ifname ?? this.device.spec}`;
  }
}
