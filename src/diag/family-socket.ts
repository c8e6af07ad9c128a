/**
 * The sockets of the families ss lists beside inet and unix: packet (packet_diag), netlink (netlink_diag), vsock
 * (vsock_diag) and XDP (xdp_diag). Hosts hold few of them, so each is decoded into one plain object (no columns):
 * the shape below, declared once, is what the decoders (packet.ts, netlink-diag.ts, vsock.ts, xdp.ts) fill, the
 * snapshot (src/snapshot/families.ts) returns and the outputs (src/outputs/listing/family-*.ts) read.
 */
import type { AttributeDecoder } from '../netlink/attributes.js';

export type FamilyName = 'packet' | 'netlink' | 'vsock' | 'xdp';
export const FAMILY_NAMES: readonly FamilyName[] = ['packet', 'netlink', 'vsock', 'xdp'];

/** One classic BPF instruction (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct packet_diag_ring (packet) or the first four fields of it (netlink_diag_ring). */
export interface PacketRing {
  blockSize: number;
  blockCount: number;
  frameSize: number;
  frameCount: number;
  retireTimeoutMs: number;
  privateSize: number;
  features: number;
}

export interface PacketDetails {
  /** pdiag_num: the ethernet protocol the socket receives (host order; 3 = ETH_P_ALL) */
  protocol: number;
  /** PACKET_DIAG_INFO pdi_index: the bound interface (0: every interface) */
  ifindex: number;
  /** struct packet_diag_info */
  info?: { version: number; reserve: number; copyThreshold: number; timestamp: number; flags: number };
  /** struct packet_diag_mclist entries */
  multicast?: { ifindex: number; count: number; type: number; address: string }[];
  rxRing?: PacketRing;
  txRing?: PacketRing;
  /** PACKET_DIAG_FANOUT: id in the low 16 bits, type and flags in the high 16 */
  fanout?: number;
}

export interface NetlinkDetails {
  /** ndiag_protocol: NETLINK_ROUTE (0), NETLINK_SOCK_DIAG (4), ... */
  protocol: number;
  /** ndiag_portid as ss reads it: a signed int (autobound ids past the pids are negative) */
  portid: number;
  dstPortid: number;
  dstGroup: number;
  /** ndiag_state: NETLINK_CONNECTED (1) or NETLINK_UNCONNECTED (0) */
  connected: boolean;
  /** NETLINK_DIAG_GROUPS: the multicast groups joined, as the kernel's bitmap words (u32 each) */
  groups?: number[];
  /** NETLINK_DIAG_FLAGS: NDIAG_FLAG_* */
  flags?: number;
  /** read from /proc/net/netlink (no netlink_diag): its sk and Dump columns as written, which ss -e prints */
  procSk?: string;
  procCb?: string;
}

export interface VsockDetails {
  localCid: number;
  localPort: number;
  remoteCid: number;
  remotePort: number;
  /** vdiag_shutdown: RCV_SHUTDOWN (1) | SEND_SHUTDOWN (2) */
  shutdown: number;
}

export interface XdpDetails {
  /** XDP_DIAG_INFO: the bound device and queue (0: not bound) */
  ifindex: number;
  queueId: number;
  /** ring sizes (struct xdp_diag_ring entries) */
  rxEntries?: number;
  txEntries?: number;
  fillEntries?: number;
  completionEntries?: number;
  umem?: { id: number; size: bigint; pages: number; chunkSize: number; headroom: number; ifindex: number; queueId: number; flags: number; refs: number };
  stats?: { rxDropped: bigint; rxInvalid: bigint; rxFull: bigint; fillRingEmpty: bigint; txInvalid: bigint; txRingEmpty: bigint };
}

export interface FamilySocket {
  family: FamilyName;
  /** SOCK_RAW, SOCK_DGRAM, SOCK_STREAM */
  type: number;
  /** a TCP_* state number: 7 (close, ss's UNCONN) for packet, netlink and XDP sockets, which have no states */
  state: number;
  /** Recv-Q and Send-Q as ss computes them (from the memory info: SK_MEMINFO_RMEM_ALLOC / WMEM_ALLOC) */
  rqueue: number;
  wqueue: number;
  inode: number;
  cookieLo: number;
  cookieHi: number;
  uid?: number;
  /** SK_MEMINFO_* u32s */
  skmem?: number[];
  /** the socket's classic BPF program (SO_ATTACH_FILTER), packet sockets */
  filter?: BpfInstruction[];
  packet?: PacketDetails;
  netlink?: NetlinkDetails;
  vsock?: VsockDetails;
  xdp?: XdpDetails;
  /** attribute types this decoder does not know (a newer kernel): kept out, not an error */
  unknown?: number[];
  /** a malformed attribute ended the walk: what the decoder saw */
  error?: string;
}

/** SK_MEMINFO_RMEM_ALLOC and SK_MEMINFO_WMEM_ALLOC (linux/sock_diag.h) */
export const SK_MEMINFO_RMEM_ALLOC = 0;
export const SK_MEMINFO_WMEM_ALLOC = 2;

/** u32s of an attribute's payload (SK_MEMINFO_*, group bitmaps) */
export function u32List(d: AttributeDecoder): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= d.length; i += 4) out.push(d.view.getUint32(d.offset + i, true));
  return out;
}

/** struct sock_filter[] of an attribute's payload */
export function bpfProgram(d: AttributeDecoder): BpfInstruction[] {
  const out: BpfInstruction[] = [];
  for (let at = d.offset; at + 8 <= d.offset + d.length; at += 8)
    out.push({ code: d.view.getUint16(at, true), jt: d.view.getUint8(at + 2), jf: d.view.getUint8(at + 3), k: d.view.getUint32(at + 4, true) });
  return out;
}

/** The common header of the four families' requests: u8 family, u8 protocol, u16 pad, then u32s, little-endian. */
export function diagRequestBody(family: number, protocol: number, words: readonly number[]): Uint8Array {
  const body = new Uint8Array(4 + 4 * words.length);
  const v = new DataView(body.buffer);
  v.setUint8(0, family);
  v.setUint8(1, protocol);
  words.forEach((w, i) => v.setUint32(4 + 4 * i, w >>> 0, true));
  return body;
}

/** A socket with the fields every family has; its details filled by the family's decoder. */
export function baseSocket(family: FamilyName, type: number, state: number, inode: number, cookieLo: number, cookieHi: number): FamilySocket {
  return { family, type, state, rqueue: 0, wqueue: 0, inode, cookieLo, cookieHi };
}

/** The walk's end: a malformed attribute's words, kept on the socket. */
export function finishWalk(s: FamilySocket, d: AttributeDecoder): FamilySocket {
  if (d.error) s.error = d.error;
  return s;
}
