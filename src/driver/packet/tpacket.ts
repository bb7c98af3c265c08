/**
 * AF_PACKET constants and struct layouts: include/uapi/linux/if_packet.h, include/uapi/linux/if_ether.h,
 * Documentation/networking/packet_mmap.rst ("TPACKET versions", "AF_PACKET TPACKET_V3 example"), packet(7).
 * Offsets are in bytes; every u32 field is 4-aligned so the rings are read through a Uint32Array.
 */

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
/** ETH_P_ALL in network byte order, as socket()/bind() want it (htons(0x0003)). */
export const ETH_P_ALL_BE = 0x0300;
export const SOL_PACKET = 263;
export const MSG_DONTWAIT = 0x40;

// Socket options (if_packet.h "Packet socket options").
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_TX_RING = 13;
export const PACKET_LOSS = 14;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const TPACKET_V3 = 2;
export const PACKET_MR_PROMISC = 1;

// tp_status / block_status bits.
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
/** The skb is CHECKSUM_PARTIAL: its TCP/UDP checksum field holds only the pseudo-header sum, left to an offload. */
export const TP_STATUS_CSUMNOTREADY = 1 << 3;
export const TP_STATUS_VLAN_VALID = 1 << 4;
export const TP_STATUS_VLAN_TPID_VALID = 1 << 6;
/** The checksum was verified (CHECKSUM_UNNECESSARY, or CHECKSUM_COMPLETE that matched). */
export const TP_STATUS_CSUM_VALID = 1 << 7;
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1;
export const TP_STATUS_SENDING = 2;
export const TP_STATUS_WRONG_FORMAT = 4;

/** TPACKET_ALIGNMENT: frames and blocks are 16-byte aligned. */
export const TPACKET_ALIGNMENT = 16;

/** struct tpacket_req3 (28 bytes): the argument of PACKET_RX_RING / PACKET_TX_RING on a V3 socket. */
export const REQ3_SIZE = 28;
export const REQ3 = {
  blockSize: 0, blockNr: 4, frameSize: 8, frameNr: 12, retireBlkTov: 16, sizeofPriv: 20, featureReqWord: 24,
} as const;

/** struct tpacket_block_desc (version, offset_to_priv, then struct tpacket_hdr_v1). */
export const BD = {
  blockStatus: 8, numPkts: 12, offsetToFirstPkt: 16, blkLen: 20,
} as const;

/** struct tpacket3_hdr (48 bytes). tp_mac/tp_net are u16; the hv1 variant follows at 28. */
export const H3 = {
  nextOffset: 0, snaplen: 12, len: 16, status: 20, mac: 24, net: 26, vlanTci: 32, vlanTpid: 36,
} as const;
export const TPACKET3_HDR_SIZE = 48;

/**
 * Where frame data starts in a TX ring slot of a V3 socket: tpacket_parse_header() in net/packet/af_packet.c uses
 * `tp_hdrlen - sizeof(struct sockaddr_ll)` = TPACKET3_HDRLEN - 20 = TPACKET_ALIGN(48) = 48 (without
 * PACKET_TX_HAS_OFF), reads tp_len, and rejects a slot whose tp_next_offset is not 0.
 */
export const TX_DATA_OFFSET = 48;

/** struct tpacket_stats_v3 (12 bytes): tp_packets, tp_drops, tp_freeze_q_cnt. Reading resets them. */
export const STATS3_SIZE = 12;

/** struct packet_mreq (16 bytes): mr_ifindex s32 @0, mr_type u16 @4, mr_alen u16 @6, mr_address[8] @8. */
export const MREQ_SIZE = 16;

/** struct sockaddr_ll (20 bytes): family u16 @0, protocol be16 @2, ifindex s32 @4, … */
export const SOCKADDR_LL_SIZE = 20;

/** 802.1Q tag: TPID 0x8100 unless the kernel reports another (TP_STATUS_VLAN_TPID_VALID). */
export const ETH_P_8021Q = 0x8100;
