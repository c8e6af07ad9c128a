/**
 * packet_diag (linux/packet_diag.h): the request and the decoder of AF_PACKET sockets.
 *
 *   struct packet_diag_req { u8 sdiag_family, sdiag_protocol; u16 pad; u32 pdiag_ino, pdiag_show, pdiag_cookie[2]; }
 *   struct packet_diag_msg { u8 pdiag_family, pdiag_type; u16 pdiag_num; u32 pdiag_ino, pdiag_cookie[2]; }
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { encodeRequest, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/message.js';
import { SOCK_DIAG_BY_FAMILY, TCP_CLOSE } from './constants.js';
import {
  baseSocket,
  bpfProgram,
  diagRequestBody,
  finishWalk,
  SK_MEMINFO_RMEM_ALLOC,
  u32List,
  type FamilySocket,
  type PacketDetails,
  type PacketRing,
} from './family-socket.js';

export const AF_PACKET = 17;
export const PACKET_DIAG_MSG_SIZE = 16;

/** PACKET_SHOW_* */
export const PacketShow = { INFO: 0x1, MCLIST: 0x2, RING_CFG: 0x4, FANOUT: 0x8, MEMINFO: 0x10, FILTER: 0x20 } as const;
/** PACKET_DIAG_* attribute types */
export const PacketAttr = { INFO: 0, MCLIST: 1, RX_RING: 2, TX_RING: 3, FANOUT: 4, UID: 5, MEMINFO: 6, FILTER: 7 } as const;
/** pdi_flags (PDI_*) in ss's order and words */
export const PDI_FLAGS: readonly [number, string][] = [
  [0x1, 'running'],
  [0x2, 'auxdata'],
  [0x4, 'origdev'],
  [0x8, 'vnethdr'],
  [0x10, 'loss'],
];
/** ETH_P_ALL: a packet socket that receives every protocol */
export const ETH_P_ALL = 3;

/** What ss asks (INFO, MEMINFO, FILTER, RING_CFG, FANOUT), and the multicast list for the JSON record. */
export const PACKET_SHOW_ALL = PacketShow.INFO | PacketShow.MCLIST | PacketShow.RING_CFG | PacketShow.FANOUT | PacketShow.MEMINFO | PacketShow.FILTER;

export function packetDumpRequest(show: number, seq: number): Uint8Array {
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, diagRequestBody(AF_PACKET, 0, [0, show, 0, 0]));
}

/** struct packet_diag_ring: seven u32s */
function ring(d: AttributeDecoder): PacketRing | undefined {
  if (d.length < 28) return undefined;
  const u = (i: number) => d.view.getUint32(d.offset + 4 * i, true);
  return { blockSize: u(0), blockCount: u(1), frameSize: u(2), frameCount: u(3), retireTimeoutMs: u(4), privateSize: u(5), features: u(6) };
}

/** One packet_diag_msg and its attributes at [off, off+len) of view; undefined when shorter than the header. */
export function decodePacketMessage(view: DataView, off: number, len: number): FamilySocket | undefined {
  if (len < PACKET_DIAG_MSG_SIZE) return undefined;
  // packet sockets have no state: ss prints them UNCONN (SS_CLOSE)
  const s = baseSocket(
    'packet',
    view.getUint8(off + 1),
    TCP_CLOSE,
    view.getUint32(off + 4, true),
    view.getUint32(off + 8, true),
    view.getUint32(off + 12, true),
  );
  const p: PacketDetails = { protocol: view.getUint16(off + 2, true), ifindex: 0 };
  s.packet = p;
  const d = new AttributeDecoder(view, off + PACKET_DIAG_MSG_SIZE, off + len);
  while (d.next()) {
    switch (d.type) {
      case PacketAttr.INFO:
        // struct packet_diag_info: pdi_index, pdi_version, pdi_reserve, pdi_copy_thresh, pdi_tstamp, pdi_flags
        if (d.length >= 24) {
          const u = (i: number) => view.getUint32(d.offset + 4 * i, true);
          p.ifindex = u(0);
          p.info = { version: u(1), reserve: u(2), copyThreshold: u(3), timestamp: u(4), flags: u(5) };
        }
        break;
      case PacketAttr.MCLIST: {
        // struct packet_diag_mclist: u32 index, count; u16 type, alen; u8 addr[32]
        const list: NonNullable<PacketDetails['multicast']> = [];
        for (let at = d.offset; at + 44 <= d.offset + d.length; at += 44) {
          const alen = Math.min(view.getUint16(at + 10, true), 32);
          const bytes: string[] = [];
          for (let k = 0; k < alen; k++)
            bytes.push(
              view
                .getUint8(at + 12 + k)
                .toString(16)
                .padStart(2, '0'),
            );
          list.push({ ifindex: view.getUint32(at, true), count: view.getUint32(at + 4, true), type: view.getUint16(at + 8, true), address: bytes.join(':') });
        }
        p.multicast = list;
        break;
      }
      case PacketAttr.RX_RING:
        p.rxRing = ring(d);
        break;
      case PacketAttr.TX_RING:
        p.txRing = ring(d);
        break;
      case PacketAttr.FANOUT: {
        const v = d.u32();
        if (!d.error) p.fanout = v;
        break;
      }
      case PacketAttr.UID: {
        const v = d.u32();
        if (!d.error) s.uid = v;
        break;
      }
      case PacketAttr.MEMINFO:
        s.skmem = u32List(d);
        // ss: Recv-Q is SK_MEMINFO_RMEM_ALLOC, Send-Q 0
        s.rqueue = s.skmem[SK_MEMINFO_RMEM_ALLOC] ?? 0;
        break;
      case PacketAttr.FILTER:
        s.filter = bpfProgram(d);
        break;
      default:
        (s.unknown ??= []).push(d.type);
    }
  }
  return finishWalk(s, d);
}

/** ss's llproto_names (iproute2 lib/ll_proto.c), host-order ETH_P_* → the name ss prints without -n; the first wins */
export const LL_PROTOCOL_NAMES: ReadonlyMap<number, string> = new Map(
  (
    [
      [0x0060, 'loop'],
      [0x0200, 'pup'],
      [0x0201, 'pupat'],
      [0x0800, 'ip'],
      [0x0805, 'x25'],
      [0x0806, 'arp'],
      [0x08ff, 'bpq'],
      [0x0a00, 'ieeepup'],
      [0x0a01, 'ieeepupat'],
      [0x6000, 'dec'],
      [0x6001, 'dna_dl'],
      [0x6002, 'dna_rc'],
      [0x6003, 'dna_rt'],
      [0x6004, 'lat'],
      [0x6005, 'diag'],
      [0x6006, 'cust'],
      [0x6007, 'sca'],
      [0x8035, 'rarp'],
      [0x809b, 'atalk'],
      [0x80f3, 'aarp'],
      [0x8137, 'ipx'],
      [0x86dd, 'ipv6'],
      [0x8863, 'ppp_disc'],
      [0x8864, 'ppp_ses'],
      [0x884c, 'atmmpoa'],
      [0x8884, 'atmfate'],
      [0x0001, '802_3'],
      [0x0002, 'ax25'],
      [0x0003, 'all'],
      [0x0004, '802_2'],
      [0x0005, 'snap'],
      [0x0006, 'ddcmp'],
      [0x0007, 'wan_ppp'],
      [0x0008, 'ppp_mp'],
      [0x0009, 'localtalk'],
      [0x000c, 'can'],
      [0x0010, 'ppptalk'],
      [0x0011, 'tr_802_2'],
      [0x0015, 'mobitex'],
      [0x0016, 'control'],
      [0x0017, 'irda'],
      [0x0018, 'econet'],
      [0x88ca, 'tipc'],
      [0x8892, 'profinet'],
      [0x88a2, 'aoe'],
      [0x88a4, 'ethercat'],
      [0x8100, '802.1Q'],
      [0x88a8, '802.1ad'],
      [0x8847, 'mpls_uc'],
      [0x8848, 'mpls_mc'],
      [0x6558, 'teb'],
      [0x88cc, 'LLDP'],
    ] as const
  ).map(([n, name]) => [n, name] as [number, string]),
);
