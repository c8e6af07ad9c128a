/**
 * xdp_diag (linux/xdp_diag.h): the request and the decoder of AF_XDP sockets. The kernel answers ENOENT when it
 * was built without CONFIG_XDP_SOCKETS_DIAG (or the xsk_diag module is not loaded).
 *
 *   struct xdp_diag_req { u8 sdiag_family, sdiag_protocol; u16 pad; u32 xdiag_ino, xdiag_show, xdiag_cookie[2]; }
 *   struct xdp_diag_msg { u8 xdiag_family, xdiag_type; u16 pad; u32 xdiag_ino, xdiag_cookie[2]; }
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { encodeRequest, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/message.js';
import { SOCK_DIAG_BY_FAMILY, TCP_CLOSE } from './constants.js';
import { baseSocket, diagRequestBody, finishWalk, SK_MEMINFO_RMEM_ALLOC, u32List, type FamilySocket, type XdpDetails } from './family-socket.js';

export const AF_XDP = 44;
export const XDP_DIAG_MSG_SIZE = 16;
/** XDP_SHOW_* */
export const XdpShow = { INFO: 0x1, RING_CFG: 0x2, UMEM: 0x4, MEMINFO: 0x8, STATS: 0x10 } as const;
/** what ss asks: everything */
export const XDP_SHOW_ALL = 0x1f;
/** XDP_DIAG_* attribute types */
export const XdpAttr = { NONE: 0, INFO: 1, UID: 2, RX_RING: 3, TX_RING: 4, UMEM: 5, UMEM_FILL_RING: 6, UMEM_COMPLETION_RING: 7, MEMINFO: 8, STATS: 9 } as const;

export function xdpDumpRequest(show: number, seq: number): Uint8Array {
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, diagRequestBody(AF_XDP, 0, [0, show, 0, 0]));
}

/** One xdp_diag_msg and its attributes; undefined when shorter than the header. */
export function decodeXdpMessage(view: DataView, off: number, len: number): FamilySocket | undefined {
  if (len < XDP_DIAG_MSG_SIZE) return undefined;
  const s = baseSocket('xdp', view.getUint8(off + 1), TCP_CLOSE, view.getUint32(off + 4, true), view.getUint32(off + 8, true), view.getUint32(off + 12, true));
  const x: XdpDetails = { ifindex: 0, queueId: 0 };
  s.xdp = x;
  const d = new AttributeDecoder(view, off + XDP_DIAG_MSG_SIZE, off + len);
  const u32 = (i: number) => view.getUint32(d.offset + 4 * i, true);
  const u64 = (at: number) => view.getBigUint64(d.offset + at, true);
  while (d.next()) {
    switch (d.type) {
      case XdpAttr.INFO:
        // struct xdp_diag_info { u32 ifindex, queue_id; }
        if (d.length >= 8) {
          x.ifindex = u32(0);
          x.queueId = u32(1);
        }
        break;
      case XdpAttr.UID: {
        const v = d.u32();
        if (!d.error) s.uid = v;
        break;
      }
      case XdpAttr.RX_RING:
        if (d.length >= 4) x.rxEntries = u32(0);
        break;
      case XdpAttr.TX_RING:
        if (d.length >= 4) x.txEntries = u32(0);
        break;
      case XdpAttr.UMEM_FILL_RING:
        if (d.length >= 4) x.fillEntries = u32(0);
        break;
      case XdpAttr.UMEM_COMPLETION_RING:
        if (d.length >= 4) x.completionEntries = u32(0);
        break;
      case XdpAttr.UMEM:
        // struct xdp_diag_umem { u64 size; u32 id, num_pages, chunk_size, headroom, ifindex, queue_id, flags, refs; }
        if (d.length >= 40)
          x.umem = {
            size: u64(0),
            id: u32(2),
            pages: u32(3),
            chunkSize: u32(4),
            headroom: u32(5),
            ifindex: u32(6),
            queueId: u32(7),
            flags: u32(8),
            refs: u32(9),
          };
        break;
      case XdpAttr.MEMINFO:
        s.skmem = u32List(d);
        s.rqueue = s.skmem[SK_MEMINFO_RMEM_ALLOC] ?? 0;
        break;
      case XdpAttr.STATS:
        // struct xdp_diag_stats: six u64 counters
        if (d.length >= 48)
          x.stats = { rxDropped: u64(0), rxInvalid: u64(8), rxFull: u64(16), fillRingEmpty: u64(24), txInvalid: u64(32), txRingEmpty: u64(40) };
        break;
      default:
        (s.unknown ??= []).push(d.type);
    }
  }
  return finishWalk(s, d);
}
