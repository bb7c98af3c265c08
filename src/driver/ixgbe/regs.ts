/**
 * 82599 register offsets and bits used by the driver and modelled by the simulator.
 * Section numbers refer to the Intel 82599 10 GbE Controller Datasheet (rev. 3.3), chapter 8 "Programming Interface";
 * the values agree with ixgbe_type.h of the Linux driver.
 */

// §8.2.3.1 General control
export const CTRL = 0x00000;
export const STATUS = 0x00008;
export const CTRL_EXT = 0x00018;
export const CTRL_LNK_RST = 1 << 3;
export const CTRL_RST = 1 << 26; // self-clearing (§8.2.3.1.1)
export const CTRL_RST_MASK = CTRL_LNK_RST | CTRL_RST;
export const CTRL_EXT_NS_DIS = 1 << 16; // no-snoop disable (§8.2.3.1.3)

// §8.2.3.5 Interrupts
export const EICR = 0x00800; // cause, cleared by reading (§8.2.3.5.1)
export const EICS = 0x00808;
export const EIMS = 0x00880; // mask set; reads return the mask
export const EIMC = 0x00888; // write 1 to clear mask bits
export const EIAC = 0x00810;
export const EICR_LSC = 1 << 20; // link status change
export const EIMC_ALL = 0x7fffffff;

// §8.2.3.2 EEPROM / flash
export const EEC = 0x10010;
export const EEC_ARD = 1 << 9; // auto-read done

// §8.2.3.8 Receive DMA
export const RDRXCTL = 0x02f00;
export const RDRXCTL_CRCSTRIP = 1 << 1;
export const RDRXCTL_DMAIDONE = 1 << 3;
export const RXCTRL = 0x03000;
export const RXCTRL_RXEN = 1 << 0;
export const RXPBSIZE = (i: number): number => 0x03c00 + i * 4;
export const RDBAL = (q: number): number => (q < 64 ? 0x01000 + q * 0x40 : 0x0d000 + (q - 64) * 0x40);
export const RDBAH = (q: number): number => RDBAL(q) + 0x04;
export const RDLEN = (q: number): number => RDBAL(q) + 0x08;
export const RDH = (q: number): number => RDBAL(q) + 0x10;
export const RDT = (q: number): number => RDBAL(q) + 0x18;
export const RXDCTL = (q: number): number => RDBAL(q) + 0x28;
export const RXDCTL_ENABLE = 1 << 25;
export const SRRCTL = (q: number): number =>
  q <= 15 ? 0x02100 + q * 4 : q < 64 ? 0x01014 + q * 0x40 : 0x0d014 + (q - 64) * 0x40;
export const SRRCTL_BSIZEPKT_MASK = 0x7f; // in 1 KB units
export const SRRCTL_DESCTYPE_MASK = 0x0e000000;
export const SRRCTL_DESCTYPE_ADV_ONEBUF = 0x02000000;
export const SRRCTL_DROP_EN = 1 << 28;
export const DCA_RXCTRL = (q: number): number =>
  q <= 15 ? 0x02200 + q * 4 : q < 64 ? 0x0100c + q * 0x40 : 0x0d00c + (q - 64) * 0x40;
export const DCA_RXCTRL_RELAXED_ORDERING = 1 << 12; // must be cleared (§4.6.7)

// §8.2.3.7 Receive filters
export const FCTRL = 0x05080;
export const FCTRL_MPE = 1 << 8; // multicast promiscuous
export const FCTRL_UPE = 1 << 9; // unicast promiscuous
export const FCTRL_BAM = 1 << 10; // accept broadcast
export const RAL0 = 0x0a200; // receive address 0 (alias 0x05400 kept for 82598 compatibility)
export const RAH0 = 0x0a204;
export const RAH_AV = 1 << 31;

// §8.2.3.22 MAC
export const HLREG0 = 0x04240;
export const HLREG0_TXCRCEN = 1 << 0;
export const HLREG0_RXCRCSTRP = 1 << 1;
export const HLREG0_JUMBOEN = 1 << 2;
export const HLREG0_TXPADEN = 1 << 10;
export const AUTOC = 0x042a0;
export const AUTOC_AN_RESTART = 1 << 12; // self-clearing
export const AUTOC_LMS_SHIFT = 13;
export const AUTOC_LMS_MASK = 0x7 << 13;
export const AUTOC_LMS_10G_SERIAL = 0x3 << 13;
export const AUTOC_10G_PMA_PMD_MASK = 0x3 << 7;
export const AUTOC_10G_XAUI = 0x0 << 7;
export const LINKS = 0x042a4;
export const LINKS_UP = 1 << 30;
export const LINKS_SPEED_MASK = 0x3 << 28;
export const LINKS_SPEED_10G = 0x3 << 28;
export const LINKS_SPEED_1G = 0x2 << 28;
export const LINKS_SPEED_100M = 0x1 << 28;

// §8.2.3.9 Transmit DMA
export const DMATXCTL = 0x04a80;
export const DMATXCTL_TE = 1 << 0;
export const DTXMXSZRQ = 0x08100;
export const RTTDCS = 0x04900;
export const RTTDCS_ARBDIS = 1 << 6;
export const TXPBSIZE = (i: number): number => 0x0cc00 + i * 4;
export const TDBAL = (q: number): number => 0x06000 + q * 0x40;
export const TDBAH = (q: number): number => TDBAL(q) + 0x04;
export const TDLEN = (q: number): number => TDBAL(q) + 0x08;
export const TDH = (q: number): number => TDBAL(q) + 0x10;
export const TDT = (q: number): number => TDBAL(q) + 0x18;
export const TXDCTL = (q: number): number => TDBAL(q) + 0x28;
export const TXDCTL_ENABLE = 1 << 25;
export const TXDCTL_PTHRESH_SHIFT = 0;
export const TXDCTL_HTHRESH_SHIFT = 8;
export const TXDCTL_WTHRESH_SHIFT = 16;

// §8.2.3.23 Statistics: all clear on read
export const GPRC = 0x04074;
export const GPTC = 0x04080;
export const GORCL = 0x04088;
export const GORCH = 0x0408c;
export const GOTCL = 0x04090;
export const GOTCH = 0x04094;
export const MPC = (i: number): number => 0x03fa0 + i * 4; // missed packets per packet buffer
export const QPRC = (q: number): number => 0x01030 + q * 0x40; // 16 of them
export const QPTC = (q: number): number => 0x06030 + q * 0x40;

/** Size of the register space the model implements (BAR0 of the 82599 is 128 KiB). */
export const BAR0_SIZE = 0x20000;
export const MAX_QUEUES = 64;

/**
 * Advanced descriptors (§7.1.6 receive, §7.2.3.2.4 transmit), 16 bytes = four 32-bit words.
 * RX read format: w0/w1 packet buffer address, w2/w3 header buffer address (0).
 * RX write-back: w2 status/error, w3 low 16 bits length, high 16 bits VLAN.
 * TX data: w0/w1 buffer address, w2 cmd_type_len, w3 olinfo_status (PAYLEN << 14; DD written back into bit 0).
 */
export const RXD_STAT_DD = 1 << 0;
export const RXD_STAT_EOP = 1 << 1;
export const TXD_DCMD_EOP = 1 << 24;
export const TXD_DCMD_IFCS = 1 << 25;
export const TXD_DCMD_RS = 1 << 27;
export const TXD_DCMD_DEXT = 1 << 29;
export const TXD_DTYP_DATA = 0x3 << 20;
export const TXD_DTYP_MASK = 0xf << 20;
export const TXD_PAYLEN_SHIFT = 14;
export const TXD_STAT_DD = 1 << 0;
export const TXD_LEN_MASK = 0xffff;
/** What the driver writes into cmd_type_len for a one-buffer frame, before or-ing in the length. */
export const TXD_CMD_FRAME = TXD_DCMD_EOP | TXD_DCMD_RS | TXD_DCMD_IFCS | TXD_DCMD_DEXT | TXD_DTYP_DATA;
export const DESC_BYTES = 16;

// Receive-side scaling (§7.1.2.8, registers §8.2.3.7.12–14). The addresses are the ones the Linux ixgbe driver
// programs on the 82599 (the 82598-compatible block); the model accepts them there.
export const MRQC = 0x05818; // multiple receive queues command
export const MRQC_RSSEN = 0x1; // MRQE = 0001b: RSS only
export const MRQC_RSS_FIELD_IPV4_TCP = 1 << 16;
export const MRQC_RSS_FIELD_IPV4 = 1 << 17;
export const MRQC_RSS_FIELD_IPV4_UDP = 1 << 22;
/** Redirection table: 32 registers of four 8-bit entries (entry 4i+k in byte k of RETA(i)), queue in bits 3:0. */
export const RETA = (i: number): number => 0x05c00 + i * 4;
export const RETA_ENTRIES = 128;
/** RSS key: 10 registers, key byte 4i+k in byte k (bits 8k+7:8k) of RSSRK(i). */
export const RSSRK = (i: number): number => 0x05c80 + i * 4;
