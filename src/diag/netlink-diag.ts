/**
 * netlink_diag (linux/netlink_diag.h): the request and the decoder of AF_NETLINK sockets.
 *
 *   struct netlink_diag_req { u8 sdiag_family, sdiag_protocol; u16 pad; u32 ndiag_ino, ndiag_show, ndiag_cookie[2]; }
 *   struct netlink_diag_msg { u8 ndiag_family, ndiag_type, ndiag_protocol, ndiag_state;
 *                             u32 ndiag_portid, ndiag_dst_portid, ndiag_dst_group, ndiag_ino, ndiag_cookie[2]; }
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { encodeRequest, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/message.js';
import { SOCK_DIAG_BY_FAMILY, TCP_CLOSE } from './constants.js';
import { baseSocket, diagRequestBody, finishWalk, SK_MEMINFO_RMEM_ALLOC, SK_MEMINFO_WMEM_ALLOC, u32List, type FamilySocket } from './family-socket.js';

export const AF_NETLINK = 16;
export const NETLINK_DIAG_MSG_SIZE = 28;
/** NDIAG_PROTO_ALL: every netlink protocol */
export const NDIAG_PROTO_ALL = 255;
/** NDIAG_SHOW_* */
export const NetlinkShow = { MEMINFO: 0x1, GROUPS: 0x2, RING_CFG: 0x4, FLAGS: 0x8 } as const;
/** NETLINK_DIAG_* attribute types */
export const NetlinkAttr = { MEMINFO: 0, GROUPS: 1, RX_RING: 2, TX_RING: 3, FLAGS: 4 } as const;
/** ndiag_state NETLINK_CONNECTED */
export const NETLINK_CONNECTED = 1;

/** ss's nl_proto_tab (iproute2 lib/rt_names.c): the names it prints for netlink protocols */
export const NETLINK_PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  0: 'rtnl',
  1: 'unused',
  2: 'usersock',
  3: 'fw',
  4: 'tcpdiag',
  5: 'nflog',
  6: 'xfrm',
  7: 'selinux',
  8: 'iscsi',
  9: 'audit',
  10: 'fiblookup',
  11: 'connector',
  12: 'nft',
  13: 'ip6fw',
  14: 'dec-rt',
  15: 'uevent',
  16: 'genl',
  18: 'scsi-trans',
  19: 'ecryptfs',
  20: 'rdma',
  21: 'crypto',
};

/** What ss asks (GROUPS, MEMINFO) and the flags for the JSON record. */
export const NETLINK_SHOW_ALL = NetlinkShow.MEMINFO | NetlinkShow.GROUPS | NetlinkShow.FLAGS;

export function netlinkDumpRequest(show: number, seq: number): Uint8Array {
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, diagRequestBody(AF_NETLINK, NDIAG_PROTO_ALL, [0, show, 0, 0]));
}

/** One netlink_diag_msg and its attributes; undefined when shorter than the header. */
export function decodeNetlinkMessage(view: DataView, off: number, len: number): FamilySocket | undefined {
  if (len < NETLINK_DIAG_MSG_SIZE) return undefined;
  // netlink sockets have no TCP state: ss prints them UNCONN, connected or not (the peer says which)
  const s = baseSocket(
    'netlink',
    view.getUint8(off + 1),
    TCP_CLOSE,
    view.getUint32(off + 16, true),
    view.getUint32(off + 20, true),
    view.getUint32(off + 24, true),
  );
  s.netlink = {
    protocol: view.getUint8(off + 2),
    connected: view.getUint8(off + 3) === NETLINK_CONNECTED,
    portid: view.getInt32(off + 4, true),
    dstPortid: view.getInt32(off + 8, true),
    dstGroup: view.getUint32(off + 12, true),
  };
  const d = new AttributeDecoder(view, off + NETLINK_DIAG_MSG_SIZE, off + len);
  while (d.next()) {
    switch (d.type) {
      case NetlinkAttr.MEMINFO:
        s.skmem = u32List(d);
        s.rqueue = s.skmem[SK_MEMINFO_RMEM_ALLOC] ?? 0;
        s.wqueue = s.skmem[SK_MEMINFO_WMEM_ALLOC] ?? 0;
        break;
      case NetlinkAttr.GROUPS:
        s.netlink.groups = u32List(d);
        break;
      case NetlinkAttr.FLAGS: {
        const v = d.u32();
        if (!d.error) s.netlink.flags = v;
        break;
      }
      case NetlinkAttr.RX_RING:
      case NetlinkAttr.TX_RING:
        break; // mmap'ed netlink rings: gone since Linux 4.6
      default:
        (s.unknown ??= []).push(d.type);
    }
  }
  return finishWalk(s, d);
}
