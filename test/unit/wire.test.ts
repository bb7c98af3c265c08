import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ArpOp, emitArp, emitEthernet, emitIcmp, emitIpv4, emitTcp, emitTcpOptions, emitUdp, EtherType, IcmpType, IPV4_DF,
  ipv4AddrSum, ipv4FillChecksum, IpProtocol, parseTcpOptions, pseudoAddrSum, TcpFlag, TcpOptions, WireError,
  wireErrorName, ZERO_MAC,
} from '../../src/wire/index.js';
import {
  buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame, hex, MAC_A, MAC_B, newViews, type TcpFields,
} from '../helpers/wire-frames.js';

// Captured with tshark on a veth pair between two namespaces (checksum offload off), Linux 6.x as both peers;
// tshark marked every checksum [correct]. 10.99.0.2 (26:c5:06:e4:60:83) talks to 10.99.0.1 (ba:e4:be:39:76:92).
const MAC_1 = hex('ba e4 be 39 76 92');
const MAC_2 = hex('26 c5 06 e4 60 83');
const IP_1 = 0x0a630001;
const IP_2 = 0x0a630002;

/** `ping -c1 10.99.0.1` from 10.99.0.2 resolves the address first: Linux's ARP request (42 bytes, unpadded on veth). */
const ARP_REQUEST = hex(
  'ff ff ff ff ff ff', // Ethernet destination: broadcast
  '26 c5 06 e4 60 83', // Ethernet source
  '08 06', //             EtherType ARP
  '00 01', //             hardware type Ethernet (RFC 826)
  '08 00', //             protocol type IPv4
  '06 04', //             hardware length 6, protocol length 4
  '00 01', //             op request
  '26 c5 06 e4 60 83', // sender hardware address
  '0a 63 00 02', //       sender protocol address 10.99.0.2
  '00 00 00 00 00 00', // target hardware address: unknown
  '0a 63 00 01', //       target protocol address 10.99.0.1
);
/** Linux's reply to it. */
const ARP_REPLY = hex(
  '26 c5 06 e4 60 83 ba e4 be 39 76 92 08 06', // Ethernet: to the requester, from us, ARP
  '00 01 08 00 06 04 00 02', //                   Ethernet/IPv4, op reply
  'ba e4 be 39 76 92 0a 63 00 01', //             sender: us, 10.99.0.1
  '26 c5 06 e4 60 83 0a 63 00 02', //             target: the requester
);
/** The echo request of Linux `ping` (iputils): 56 data bytes = struct timeval + 0x10, 0x11, ... */
const ECHO_REQUEST = hex(
  'ba e4 be 39 76 92 26 c5 06 e4 60 83 08 00', // Ethernet, IPv4
  '45', //          version 4, IHL 5
  '00', //          DSCP/ECN 0
  '00 54', //       total length 84
  '81 4a', //       identification
  '40 00', //       flags DF, fragment offset 0
  '40', //          TTL 64
  '01', //          protocol ICMP
  'a4 96', //       header checksum
  '0a 63 00 02', // source 10.99.0.2
  '0a 63 00 01', // destination 10.99.0.1
  '08 00', //       ICMP type 8 echo request, code 0
  '43 eb', //       ICMP checksum
  '64 98', //       identifier
  '00 01', //       sequence number 1
  '90 79 05 6b 00 00 00 00 f5 c3 05 00 00 00 00 00', // timestamp (tv_sec, tv_usec, little-endian 64-bit)
  '10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f',
  '30 31 32 33 34 35 36 37', // iputils' fill pattern
);
/** Linux's echo reply to it (IP ident 0x096c, no DF). */
const ECHO_REPLY = hex(
  '26 c5 06 e4 60 83 ba e4 be 39 76 92 08 00',
  '45 00 00 54 09 6c 00 00 40 01 5c 75 0a 63 00 01 0a 63 00 02',
  '00 00 4b eb 64 98 00 01', // type 0 code 0, checksum 0x4beb, identifier and sequence number echoed
  '90 79 05 6b 00 00 00 00 f5 c3 05 00 00 00 00 00',
  '10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f',
  '30 31 32 33 34 35 36 37',
);
/** `nc -z 10.99.0.1 9`: the SYN Linux sends, with its usual 20 bytes of options. */
const TCP_SYN = hex(
  'ba e4 be 39 76 92 26 c5 06 e4 60 83 08 00',
  '45 00 00 3c 39 0a 40 00 40 06 ec e9 0a 63 00 02 0a 63 00 01', // IPv4: length 60, id 0x390a, DF, TTL 64, TCP
  '95 2e', //       source port 38190
  '00 09', //       destination port 9 (discard)
  '0c f3 48 46', // sequence number (ISN)
  '00 00 00 00', // acknowledgment number 0
  'a0', //          data offset 10 words (40 bytes), reserved 0
  '02', //          flags SYN
  'fa f0', //       window 64240
  '94 3d', //       checksum
  '00 00', //       urgent pointer
  '02 04 05 b4', // MSS 1460
  '04 02', //       SACK permitted
  '08 0a c6 8c f3 08 00 00 00 00', // timestamps: TSval 0xc68cf308, TSecr 0
  '01', //          NOP
  '03 03 0a', //    window scale 10
);
/** The RST|ACK Linux answers with (closed port). */
const TCP_RST = hex(
  '26 c5 06 e4 60 83 ba e4 be 39 76 92 08 00',
  '45 00 00 28 00 00 40 00 40 06 26 08 0a 63 00 01 0a 63 00 02', // IPv4: length 40, id 0, DF
  '00 09 95 2e', // ports 9 → 38190
  '00 00 00 00', // sequence number 0
  '0c f3 48 47', // acknowledgment: ISN + 1 (the SYN occupies one sequence number)
  '50 14', //       data offset 5, flags RST|ACK
  '00 00 b0 96 00 00', // window 0, checksum, urgent pointer
);
/** `echo hi | nc -u 10.99.0.1 7`. */
const UDP_DATAGRAM = hex(
  'ba e4 be 39 76 92 26 c5 06 e4 60 83 08 00',
  '45 00 00 1f f2 9a 40 00 40 11 33 6b 0a 63 00 02 0a 63 00 01', // IPv4: length 31, UDP
  'ec 75', // source port 60533
  '00 07', // destination port 7 (echo)
  '00 0b', // length 11
  '8c 29', // checksum
  '68 69 0a', // "hi\n"
);
/** The port-unreachable Linux answers with: TOS 0xc0, no DF, quoting the datagram's IP header and payload. */
const PORT_UNREACHABLE = hex(
  '26 c5 06 e4 60 83 ba e4 be 39 76 92 08 00',
  '45 c0 00 3b 09 6d 00 00 40 01 5b cd 0a 63 00 01 0a 63 00 02',
  '03 03 11 e2 00 00 00 00', // type 3 code 3, checksum, unused
  '45 00 00 1f f2 9a 40 00 40 11 33 6b 0a 63 00 02 0a 63 00 01 ec 75 00 07 00 0b 8c 29 68 69 0a',
);

const { eth, ip, arp, icmp, udp, tcp } = newViews();

function ipOf(f: Uint8Array): void {
  assert.equal(eth.wrap(f, 0, f.length), WireError.Ok);
  assert.equal(eth.etherType, EtherType.Ipv4);
  assert.equal(ip.wrap(f, eth.payloadOff, eth.payloadLen), WireError.Ok);
}

describe('wire: Linux vectors', () => {
  test('ARP request parses; toReply gives Linux reply byte for byte; emitArp rebuilds the request', () => {
    const f = ARP_REQUEST.slice();
    assert.equal(eth.wrap(f, 0, f.length), WireError.Ok);
    assert.equal(eth.etherType, EtherType.Arp);
    assert.ok(eth.dstIsBroadcast() && eth.dstIsMulticast());
    assert.equal(arp.wrap(f, eth.payloadOff, eth.payloadLen), WireError.Ok);
    assert.equal(arp.op, ArpOp.Request);
    assert.equal(arp.senderIp, IP_2);
    assert.equal(arp.targetIp, IP_1);
    assert.deepEqual(f.subarray(arp.senderMacOff, arp.senderMacOff + 6), MAC_2);

    arp.toReply(MAC_1, 0, IP_1);
    emitEthernet(f, 0, f, arp.targetMacOff, MAC_1, 0, EtherType.Arp);
    assert.deepEqual(f, ARP_REPLY);

    const g = new Uint8Array(42);
    emitEthernet(g, 0, hex('ff ff ff ff ff ff'), 0, MAC_2, 0, EtherType.Arp);
    emitArp(g, 14, ArpOp.Request, MAC_2, 0, IP_2, ZERO_MAC, 0, IP_1);
    assert.deepEqual(g, ARP_REQUEST);
  });

  test('ping echo request parses; the in-place reply matches Linux reply', () => {
    const f = ECHO_REQUEST.slice();
    ipOf(f);
    assert.equal(ip.version, 4);
    assert.equal(ip.headerLen, 20);
    assert.equal(ip.totalLen, 84);
    assert.equal(ip.ident, 0x814a);
    assert.ok(ip.dontFragment && !ip.moreFragments && ip.fragOffset === 0);
    assert.equal(ip.ttl, 64);
    assert.equal(ip.protocol, IpProtocol.Icmp);
    assert.equal(ip.src, IP_2);
    assert.equal(ip.dst, IP_1);
    assert.equal(ip.payloadLen, 64);
    assert.equal(icmp.wrap(f, ip.payloadOff, ip.payloadLen), WireError.Ok);
    assert.equal(icmp.type, IcmpType.Echo);
    assert.equal(icmp.code, 0);
    assert.equal(icmp.ident, 0x6498);
    assert.equal(icmp.seq, 1);
    assert.equal(icmp.dataLen, 56);
    assert.equal(f[icmp.dataOff + 16], 0x10);

    icmp.echoToReply(); // RFC 1624 incremental checksum
    assert.deepEqual(f.subarray(34), ECHO_REPLY.subarray(34), 'ICMP message as Linux sends it');
    // The IP header the way Linux builds it: fresh ident, no DF.
    emitIpv4(f, 14, IP_1, IP_2, IpProtocol.Icmp, 64, 0x096c, 64, false);
    emitEthernet(f, 0, MAC_2, 0, MAC_1, 0, EtherType.Ipv4);
    assert.deepEqual(f, ECHO_REPLY);
    // Or keep the request's header: swap addresses (checksum unchanged) and reset TTL (incremental).
    const g = ECHO_REQUEST.slice();
    ipOf(g);
    ip.swapAddresses();
    ip.setTtl(63);
    assert.equal(ip.wrap(g, 14, g.length - 14), WireError.Ok, 'checksum still verifies');
    assert.equal(ip.src, IP_1);
    assert.equal(ip.ttl, 63);
  });

  test('Linux SYN: options parse; emitTcpOptions/emitTcp/emitIpv4 rebuild it byte for byte', () => {
    ipOf(TCP_SYN);
    assert.equal(ip.protocol, IpProtocol.Tcp);
    assert.equal(tcp.wrap(TCP_SYN, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
    assert.equal(tcp.srcPort, 38190);
    assert.equal(tcp.dstPort, 9);
    assert.equal(tcp.seq, 0x0cf34846);
    assert.equal(tcp.ack, 0);
    assert.equal(tcp.flags, TcpFlag.Syn);
    assert.equal(tcp.window, 64240);
    assert.equal(tcp.headerLen, 40);
    assert.equal(tcp.payloadLen, 0);
    assert.equal(tcp.segLen, 1, 'SYN takes one sequence number');
    const o = tcp.options;
    assert.deepEqual(
      [o.hasMss, o.mss, o.sackPermitted, o.hasTimestamps, o.tsVal, o.tsEcr, o.hasWindowScale, o.windowScale, o.sackBlocks],
      [true, 1460, true, true, 0xc68cf308 | 0, 0, true, 10, 0],
    );

    const f = new Uint8Array(TCP_SYN.length);
    emitEthernet(f, 0, MAC_1, 0, MAC_2, 0, EtherType.Ipv4);
    const optLen = emitTcpOptions(f, 54, o);
    assert.equal(optLen, 20);
    emitIpv4(f, 14, IP_2, IP_1, IpProtocol.Tcp, 20 + optLen, 0x390a, 64, true);
    emitTcp(f, 34, 38190, 9, 0x0cf34846, 0, TcpFlag.Syn, 64240, optLen, 0, pseudoAddrSum(IP_2, IP_1));
    assert.deepEqual(f, TCP_SYN);
  });

  test('Linux RST|ACK parses and is rebuilt byte for byte', () => {
    ipOf(TCP_RST);
    assert.equal(tcp.wrap(TCP_RST, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
    assert.equal(tcp.flags, TcpFlag.Rst | TcpFlag.Ack);
    assert.equal(tcp.ack, 0x0cf34847);
    assert.equal(tcp.options.hasMss || tcp.options.hasTimestamps, false);
    const f = new Uint8Array(TCP_RST.length);
    emitEthernet(f, 0, MAC_2, 0, MAC_1, 0, EtherType.Ipv4);
    emitIpv4(f, 14, IP_1, IP_2, IpProtocol.Tcp, 20, 0, 64, true);
    emitTcp(f, 34, 9, 38190, 0, (0x0cf34846 + 1) | 0, TcpFlag.Rst | TcpFlag.Ack, 0, 0, 0, ipv4AddrSum(f, 14));
    assert.deepEqual(f, TCP_RST);
  });

  test('UDP datagram parses and is rebuilt byte for byte', () => {
    ipOf(UDP_DATAGRAM);
    assert.equal(udp.wrap(UDP_DATAGRAM, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
    assert.equal(udp.srcPort, 60533);
    assert.equal(udp.dstPort, 7);
    assert.equal(udp.length, 11);
    assert.equal(Buffer.from(UDP_DATAGRAM.subarray(udp.payloadOff, udp.payloadOff + udp.payloadLen)).toString(), 'hi\n');
    const f = new Uint8Array(UDP_DATAGRAM.length);
    emitEthernet(f, 0, MAC_1, 0, MAC_2, 0, EtherType.Ipv4);
    emitIpv4(f, 14, IP_2, IP_1, IpProtocol.Udp, 11, 0xf29a, 64, true);
    f.set(hex('68 69 0a'), 42);
    emitUdp(f, 34, 60533, 7, 3, ipv4AddrSum(f, 14));
    assert.deepEqual(f, UDP_DATAGRAM);
  });

  test('ICMP port unreachable parses and is rebuilt byte for byte (emitIcmp, ipv4FillChecksum)', () => {
    ipOf(PORT_UNREACHABLE);
    assert.equal(ip.tos, 0xc0);
    assert.equal(icmp.wrap(PORT_UNREACHABLE, ip.payloadOff, ip.payloadLen), WireError.Ok);
    assert.equal(icmp.type, IcmpType.DestUnreachable);
    assert.equal(icmp.code, 3);
    assert.equal(icmp.restOfHeader, 0);
    const f = new Uint8Array(PORT_UNREACHABLE.length);
    emitEthernet(f, 0, MAC_2, 0, MAC_1, 0, EtherType.Ipv4);
    emitIpv4(f, 14, IP_1, IP_2, IpProtocol.Icmp, 8 + 31, 0x096d, 64, false);
    f[15] = 0xc0; // Linux sends ICMP errors with precedence "internetwork control"
    ipv4FillChecksum(f, 14);
    f.set(UDP_DATAGRAM.subarray(14), 42); // the offending datagram, quoted
    emitIcmp(f, 34, IcmpType.DestUnreachable, 3, 0, 31);
    assert.deepEqual(f, PORT_UNREACHABLE);
  });
});

describe('wire: malformed input is a value', () => {
  const cases: Array<[string, Uint8Array, (f: Uint8Array) => void, () => number, number]> = [
    ['ethernet 13 bytes', TCP_SYN, () => {}, () => eth.wrap(TCP_SYN, 0, 13), WireError.TooShort],
    ['ipv4 19 bytes', TCP_SYN, () => {}, () => ip.wrap(TCP_SYN, 14, 19), WireError.TooShort],
    ['ipv4 version 6', TCP_SYN, (f) => { f[14] = 0x65; }, () => 0, WireError.BadVersion],
    ['ipv4 IHL 4', TCP_SYN, (f) => { f[14] = 0x44; }, () => 0, WireError.BadIhl],
    ['ipv4 IHL 15 > bytes', TCP_RST, (f) => { f[14] = 0x4f; }, () => 0, WireError.BadIhl],
    ['ipv4 total length 19', TCP_SYN, (f) => { f[16] = 0; f[17] = 19; }, () => 0, WireError.BadTotalLength],
    ['ipv4 total length past the frame', TCP_SYN, (f) => { f[17] = 61; }, () => 0, WireError.BadTotalLength],
    ['ipv4 checksum', TCP_SYN, (f) => { f[22] = 63; }, () => 0, WireError.BadChecksum],
    ['ipv4 more fragments', TCP_SYN, (f) => { f[20] = 0x20; ipv4FillChecksum(f, 14); }, () => 0, WireError.Fragment],
    ['ipv4 fragment offset', TCP_SYN, (f) => { f[21] = 1; ipv4FillChecksum(f, 14); }, () => 0, WireError.Fragment],
  ];
  for (const [name, vec, mutate, direct, want] of cases) {
    test(name, () => {
      const f = vec.slice();
      mutate(f);
      const got = direct() || ip.wrap(f, 14, f.length - 14);
      assert.equal(wireErrorName(got), wireErrorName(want));
    });
  }

  test('a fragment keeps a usable view (RFC 791 §2.3), offset in bytes', () => {
    const f = UDP_DATAGRAM.slice();
    f[20] = 0x20 | 0x00; f[21] = 0x03; // MF, offset 3 × 8 bytes
    ipv4FillChecksum(f, 14);
    assert.equal(ip.wrap(f, 14, f.length - 14), WireError.Fragment);
    assert.ok(ip.moreFragments && !ip.dontFragment);
    assert.equal(ip.fragOffset, 24);
    assert.equal(ip.payloadLen, 11);
    assert.equal(ip.protocol, IpProtocol.Udp);
  });

  test('ipv4: Ethernet padding is excluded from the payload; options are skipped', () => {
    const f = new Uint8Array(64);
    f.set(TCP_RST); // 54 bytes + 10 of padding
    assert.equal(ip.wrap(f, 14, 50), WireError.Ok);
    assert.equal(ip.payloadLen, 20);
    // IHL 6: one option word (4 NOPs) before the payload.
    const g = new Uint8Array(58);
    g.set(TCP_RST.subarray(0, 34));
    g.set(TCP_RST.subarray(34), 38);
    g[14] = 0x46; g[17] = 44; g.fill(1, 34, 38);
    ipv4FillChecksum(g, 14);
    assert.equal(ip.wrap(g, 14, 44), WireError.Ok);
    assert.equal(ip.headerLen, 24);
    assert.equal(ip.payloadOff, 38);
    assert.equal(tcp.wrap(g, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
  });

  test('arp: unsupported hardware/protocol/op, too short', () => {
    assert.equal(arp.wrap(ARP_REQUEST, 14, 27), WireError.TooShort);
    for (const [i, v] of [[15, 6], [16, 0x86], [18, 8], [19, 16], [21, 3]]) {
      const f = ARP_REQUEST.slice();
      f[i] = v;
      assert.equal(arp.wrap(f, 14, 28), WireError.Unsupported, `byte ${i}`);
    }
  });

  test('icmp: too short, bad checksum', () => {
    assert.equal(icmp.wrap(ECHO_REQUEST, 34, 7), WireError.TooShort);
    const f = ECHO_REQUEST.slice();
    f[97] ^= 1;
    assert.equal(icmp.wrap(f, 34, 64), WireError.BadChecksum);
    icmp.verifyChecksum = false;
    assert.equal(icmp.wrap(f, 34, 64), WireError.Ok);
    icmp.verifyChecksum = true;
  });

  test('udp: too short, length field out of range, bad checksum; checksum 0 means none (RFC 768)', () => {
    const s = pseudoAddrSum(IP_2, IP_1);
    assert.equal(udp.wrap(UDP_DATAGRAM, 34, 7, s), WireError.TooShort);
    const f = UDP_DATAGRAM.slice();
    f[39] = 7;
    assert.equal(udp.wrap(f, 34, 11, s), WireError.BadLength);
    f[39] = 12;
    assert.equal(udp.wrap(f, 34, 11, s), WireError.BadLength);
    f[39] = 11;
    f[44] ^= 0x20;
    assert.equal(udp.wrap(f, 34, 11, s), WireError.BadChecksum);
    f[40] = 0; f[41] = 0;
    assert.equal(udp.wrap(f, 34, 11, s), WireError.Ok);
    assert.equal(udp.wrap(UDP_DATAGRAM, 34, 11, s + 1), WireError.BadChecksum, 'wrong pseudo-header');
  });

  test('tcp: too short, data offset, checksum, option lengths', () => {
    const s = pseudoAddrSum(IP_2, IP_1);
    assert.equal(tcp.wrap(TCP_SYN, 34, 19, s), WireError.TooShort);
    const f = TCP_SYN.slice();
    f[46] = 0x40;
    assert.equal(tcp.wrap(f, 34, 40, s), WireError.BadDataOffset);
    f[46] = 0xb0;
    assert.equal(tcp.wrap(f, 34, 40, s), WireError.BadDataOffset);
    f[46] = 0xa0;
    f[57] ^= 1;
    assert.equal(tcp.wrap(f, 34, 40, s), WireError.BadChecksum);
    tcp.verifyChecksum = false;
    try {
      // Option bytes at 54: MSS kind/len @54/55, SACK-permitted len @59, timestamps len @61, window scale len @72.
      for (const [i, v] of [[55, 5], [55, 0], [55, 1], [59, 3], [61, 8], [61, 11], [72, 2], [72, 30]]) {
        const g = TCP_SYN.slice();
        g[i] = v;
        assert.equal(wireErrorName(tcp.wrap(g, 34, 40, s)), 'BadOptionLength', `byte ${i} = ${v}`);
      }
    } finally {
      tcp.verifyChecksum = true;
    }
  });
});

describe('wire: TCP options', () => {
  const o = new TcpOptions();
  const parse = (...parts: string[]): number => { const b = hex(...parts); return parseTcpOptions(b, 0, b.length, o); };

  test('NOP padding, EOL stops, unknown kinds skipped by length, later duplicate wins, shift clamped to 14', () => {
    assert.equal(parse('01 01 fe 06 aa bb cc dd 02 04 02 18 03 03 0e 03 03 0f 00 02 04 ff'), WireError.Ok);
    assert.equal(o.mss, 0x218, 'the MSS after EOL is ignored');
    assert.ok(o.hasWindowScale);
    assert.equal(o.windowScale, 14, 'RFC 7323 §2.3');
    assert.equal(parse('13 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'), WireError.Ok, 'MD5 signature (kind 19) skipped');
    assert.ok(!o.hasMss && !o.hasWindowScale, 'cleared between parses');
    assert.equal(parse('01'), WireError.Ok);
    assert.equal(parse(''), WireError.Ok);
    assert.equal(parse('fe'), WireError.BadOptionLength, 'no length byte');
    assert.equal(parse('fe 01'), WireError.BadOptionLength, 'length 1');
    assert.equal(parse('fe 04 00'), WireError.BadOptionLength, 'runs past the end');
    assert.equal(parse('05 0a 00 00 00 01 00 00 00 02 05 02'), WireError.BadOptionLength, 'SACK without blocks');
  });

  test('SACK blocks parse (RFC 2018) and emit, as many as fit beside timestamps', () => {
    assert.equal(parse('01 01 05 12', '00 00 00 10 00 00 00 20', 'ff ff ff f0 00 00 00 08'), WireError.Ok);
    assert.equal(o.sackBlocks, 2);
    assert.deepEqual([o.sackLeft[0], o.sackRight[0], o.sackLeft[1], o.sackRight[1]], [0x10, 0x20, -16, 8]);
    const w = new TcpOptions();
    w.sackBlocks = 4;
    for (let k = 0; k < 4; k++) { w.sackLeft[k] = 0x80000000 + k * 100; w.sackRight[k] = 0x80000000 + k * 100 + 50; }
    const b = new Uint8Array(40);
    assert.equal(emitTcpOptions(b, 0, w), 36);
    assert.equal(parseTcpOptions(b, 0, 36, o), WireError.Ok);
    assert.equal(o.sackBlocks, 4);
    w.hasTimestamps = true;
    w.tsVal = 0xdeadbeef;
    assert.equal(emitTcpOptions(b, 0, w), 40, 'TS (12) + 3 blocks (28)');
    assert.equal(parseTcpOptions(b, 0, 40, o), WireError.Ok);
    assert.equal(o.sackBlocks, 3);
    assert.equal(o.tsVal >>> 0, 0xdeadbeef);
    assert.equal(o.sackRight[2], (0x80000000 + 250) | 0);
  });
});

// Round trips: emit → parse gives the same fields.
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const l3Arb = fc.record({ src: u32, dst: u32, ident: u16, ttl: fc.integer({ min: 0, max: 255 }), df: fc.boolean() });
const optsArb = fc.record({
  hasMss: fc.boolean(), mss: u16, hasWindowScale: fc.boolean(), windowScale: fc.integer({ min: 0, max: 14 }),
  sackPermitted: fc.boolean(), hasTimestamps: fc.boolean(), tsVal: u32, tsEcr: u32,
  sack: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
});
type OptsRecord = typeof optsArb extends fc.Arbitrary<infer T> ? T : never;
function toOptions(r: OptsRecord): TcpOptions {
  const o = new TcpOptions();
  Object.assign(o, { ...r, sack: undefined });
  delete (o as unknown as { sack?: unknown }).sack;
  o.sackBlocks = r.sack.length;
  r.sack.forEach(([l, h], k) => { o.sackLeft[k] = l; o.sackRight[k] = h; });
  return o;
}

describe('wire: round trips (fast-check)', () => {
  test('TCP segment with options and payload', () => {
    fc.assert(fc.property(
      l3Arb, u16, u16, u32, u32, fc.integer({ min: 0, max: 255 }), u16, optsArb, fc.uint8Array({ maxLength: 300 }),
      (l3, sport, dport, seq, ack, flags, window, opts, payload) => {
        const t: TcpFields = { ...l3, sport, dport, seq, ack, flags, window, opts: toOptions(opts), payload };
        const f = buildTcpFrame(t);
        ipOf(f);
        assert.deepEqual([ip.src, ip.dst, ip.ident, ip.ttl, ip.dontFragment, ip.protocol], [l3.src | 0, l3.dst | 0, l3.ident, l3.ttl, l3.df, 6]);
        assert.equal(tcp.wrap(f, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
        assert.deepEqual([tcp.srcPort, tcp.dstPort, tcp.seq, tcp.ack, tcp.flags, tcp.window], [sport, dport, seq | 0, ack | 0, flags, window]);
        assert.deepEqual(f.subarray(tcp.payloadOff, tcp.payloadOff + tcp.payloadLen), payload);
        const o = tcp.options;
        assert.equal(o.hasMss, opts.hasMss);
        if (opts.hasMss) assert.equal(o.mss, opts.mss);
        assert.equal(o.hasWindowScale, opts.hasWindowScale);
        if (opts.hasWindowScale) assert.equal(o.windowScale, opts.windowScale);
        assert.equal(o.sackPermitted, opts.sackPermitted);
        assert.equal(o.hasTimestamps, opts.hasTimestamps);
        if (opts.hasTimestamps) assert.deepEqual([o.tsVal, o.tsEcr], [opts.tsVal | 0, opts.tsEcr | 0]);
        // Blocks that do not fit in 40 bytes are dropped from the end.
        const used = (opts.hasMss ? 4 : 0) + (opts.hasTimestamps ? 12 : opts.sackPermitted ? 4 : 0) + (opts.hasWindowScale ? 4 : 0);
        const fit = Math.min(opts.sack.length, (40 - used - 4) >> 3);
        assert.equal(o.sackBlocks, Math.max(0, fit));
        for (let k = 0; k < o.sackBlocks; k++) assert.deepEqual([o.sackLeft[k], o.sackRight[k]], [opts.sack[k][0] | 0, opts.sack[k][1] | 0]);
        assert.ok(tcp.headerLen <= 60 && tcp.headerLen % 4 === 0);
      },
    ), { numRuns: 300 });
  });

  test('UDP datagram', () => {
    fc.assert(fc.property(l3Arb, u16, u16, fc.uint8Array({ maxLength: 1472 }), (l3, sport, dport, payload) => {
      const f = buildUdpFrame(l3, sport, dport, payload);
      ipOf(f);
      assert.equal(udp.wrap(f, ip.payloadOff, ip.payloadLen, ip.addrSum), WireError.Ok);
      assert.notEqual(udp.checksum, 0, 'a computed 0 goes out as 0xffff');
      assert.deepEqual([udp.srcPort, udp.dstPort, udp.length], [sport, dport, payload.length + 8]);
      assert.deepEqual(f.subarray(udp.payloadOff, udp.payloadOff + udp.payloadLen), payload);
    }), { numRuns: 200 });
  });

  test('ICMP echo request → in-place reply verifies', () => {
    fc.assert(fc.property(l3Arb, u16, u16, fc.uint8Array({ maxLength: 200 }), (l3, ident, seq, data) => {
      const f = buildIcmpEchoFrame(l3, IcmpType.Echo, ident, seq, data);
      ipOf(f);
      assert.equal(icmp.wrap(f, ip.payloadOff, ip.payloadLen), WireError.Ok);
      assert.deepEqual([icmp.type, icmp.code, icmp.ident, icmp.seq, icmp.dataLen], [8, 0, ident, seq, data.length]);
      icmp.echoToReply();
      assert.equal(icmp.wrap(f, ip.payloadOff, ip.payloadLen), WireError.Ok);
      assert.deepEqual([icmp.type, icmp.ident, icmp.seq], [IcmpType.EchoReply, ident, seq]);
    }), { numRuns: 200 });
  });

  test('ARP and Ethernet', () => {
    fc.assert(fc.property(fc.constantFrom(1, 2), u32, u32, (op, spa, tpa) => {
      const f = buildArpFrame(op, spa, tpa);
      assert.equal(eth.wrap(f, 0, f.length), WireError.Ok);
      assert.equal(eth.etherType, EtherType.Arp);
      assert.ok(eth.dstEquals(MAC_B, 0) && !eth.dstIsMulticast() && !eth.dstIsBroadcast());
      assert.deepEqual(f.subarray(eth.srcOff, eth.srcOff + 6), MAC_A);
      assert.equal(arp.wrap(f, eth.payloadOff, eth.payloadLen), WireError.Ok);
      assert.deepEqual([arp.op, arp.senderIp, arp.targetIp], [op, spa | 0, tpa | 0]);
    }));
  });

  test('IPv4 header: emitted fields read back, checksum verifies, DF flag', () => {
    fc.assert(fc.property(l3Arb, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 100 }), (l3, proto, plen) => {
      const f = new Uint8Array(20 + plen);
      emitIpv4(f, 0, l3.src, l3.dst, proto, plen, l3.ident, l3.ttl, l3.df);
      assert.equal(ip.wrap(f, 0, f.length), WireError.Ok);
      assert.equal(((f[6] << 8) & IPV4_DF) !== 0, l3.df);
      assert.deepEqual([ip.src, ip.dst, ip.protocol, ip.payloadLen, ip.ident, ip.ttl], [l3.src | 0, l3.dst | 0, proto, plen, l3.ident, l3.ttl]);
      assert.equal(ip.addrSum, pseudoAddrSum(l3.src, l3.dst));
      // Signed inputs write the same bytes as unsigned ones.
      const g = new Uint8Array(20 + plen);
      emitIpv4(g, 0, l3.src | 0, l3.dst | 0, proto, plen, l3.ident, l3.ttl, l3.df);
      assert.deepEqual(g, f);
    }));
  });
});
