/**
 * struct inet_diag_msg (72 bytes) → one row of a SocketTable; its attributes are kept raw in the table's arena
 * and decoded on demand by decodeInetAttributes().
 *
 *   u8 family, state, timer, retrans; inet_diag_sockid id (48 B); u32 expires, rqueue, wqueue, uid, inode
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import type { SocketTable } from '../snapshot/table.js';
import { AF_INET6, INET_DIAG_MSG_SIZE, InetAttr, Proto } from './constants.js';
import { decodeTcpInfo, type TcpInfo } from './tcp-info.js';

/**
 * Append the message at [off, off+len) of `view`/`bytes` (one recv buffer) to `table`. Returns false when the
 * message is too short to be an inet_diag_msg (it is then skipped by the caller).
 */
export function appendInetMessage(
  table: SocketTable,
  view: DataView,
  words: Uint32Array,
  bytes: Uint8Array,
  off: number,
  len: number,
  proto: number,
  sockType: number,
  keepAttributes: boolean,
): boolean {
  if (len < INET_DIAG_MSG_SIZE) return false;
  const row = table.addRow();
  table.proto[row] = proto;
  table.family[row] = bytes[off];
  table.state[row] = bytes[off + 1];
  table.timer[row] = bytes[off + 2];
  table.retrans[row] = bytes[off + 3];
  table.sockType[row] = sockType;
  table.sport[row] = (bytes[off + 4] << 8) | bytes[off + 5];
  table.dport[row] = (bytes[off + 6] << 8) | bytes[off + 7];
  // id.idiag_src at off+8, idiag_dst at off+24: netlink messages are 4-aligned, so copy as words.
  const w = (off + 8) >> 2;
  const r4 = row << 2;
  const src32 = table.src32;
  const dst32 = table.dst32;
  src32[r4] = words[w];
  src32[r4 + 1] = words[w + 1];
  src32[r4 + 2] = words[w + 2];
  src32[r4 + 3] = words[w + 3];
  dst32[r4] = words[w + 4];
  dst32[r4 + 1] = words[w + 5];
  dst32[r4 + 2] = words[w + 6];
  dst32[r4 + 3] = words[w + 7];
  table.ifindex[row] = words[w + 8];
  table.cookieLo[row] = words[w + 9];
  table.cookieHi[row] = words[w + 10];
  table.expires[row] = words[w + 11];
  table.rqueue[row] = words[w + 12];
  table.wqueue[row] = words[w + 13];
  table.uid[row] = words[w + 14];
  table.inode[row] = words[w + 15];
  if (keepAttributes && len > INET_DIAG_MSG_SIZE) {
    if (bytes === table.arena) table.setAttributeRange(row, off + INET_DIAG_MSG_SIZE, len - INET_DIAG_MSG_SIZE);
    else table.setAttributes(row, bytes, off + INET_DIAG_MSG_SIZE, off + len);
  } else {
    table.attrStart[row] = 0;
    table.attrLength[row] = 0;
  }
  void view;
  return true;
}

export interface InetAttributes {
  meminfo?: { rmem: number; wmem: number; fmem: number; tmem: number };
  /** struct tcp_info as sent; tcpInfoLength records how many bytes the kernel sent */
  tcpInfo?: TcpInfo;
  tcpInfoLength?: number;
  /** length of INET_DIAG_INFO whatever it holds (tcp_info, mptcp_info, sctp_info) */
  infoLength?: number;
  vegas?: { enabled: number; rttcnt: number; rtt: number; minrtt: number };
  dctcp?: { enabled: number; ce_state: number; alpha: number; ab_ecn: number; ab_tot: number };
  bbr?: { bw_bytes_per_second: number; min_rtt: number; pacing_gain: number; cwnd_gain: number };
  congestion?: string;
  tos?: number;
  tclass?: number;
  skmeminfo?: number[];
  shutdown?: number;
  protocol?: number;
  v6only?: boolean;
  mark?: number;
  classId?: number;
  cgroupId?: number;
  sockopt?: InetSockopt;
  ulp?: string;
  md5sigCount?: number;
  /** attribute types this build does not know, skipped (a newer kernel) */
  unknown?: number[];
  /** set when the attribute region was malformed; what was decoded before it is kept */
  error?: string;
}

export interface InetSockopt {
  recverr: boolean;
  is_icsk: boolean;
  freebind: boolean;
  hdrincl: boolean;
  mc_loop: boolean;
  transparent: boolean;
  mc_all: boolean;
  nodefrag: boolean;
  bind_address_no_port: boolean;
  recverr_rfc4884: boolean;
  defer_connect: boolean;
}

const u32s = (d: AttributeDecoder): number[] => {
  const out: number[] = [];
  for (let i = 0; i + 4 <= d.length; i += 4) out.push(d.view.getUint32(d.offset + i, true));
  return out;
};

/**
 * Decode the attributes of one inet_diag_msg. Unknown types are listed, not errors. `proto` (sockscope's
 * Proto code) says what INET_DIAG_INFO holds: struct tcp_info for TCP (the default); for MPTCP (mptcp_info)
 * and SCTP (sctp_info) only its length is recorded. A scalar attribute shorter than its type is absent.
 */
export function decodeInetAttributes(view: DataView, start: number, end: number, proto: number = Proto.tcp): InetAttributes {
  const out: InetAttributes = {};
  const d = new AttributeDecoder(view, start, end);
  while (d.next()) {
    switch (d.type) {
      case InetAttr.MEMINFO: {
        const [rmem = 0, wmem = 0, fmem = 0, tmem = 0] = u32s(d);
        if (d.length >= 16) out.meminfo = { rmem, wmem, fmem, tmem };
        break;
      }
      case InetAttr.INFO:
        out.infoLength = d.length;
        if (proto === Proto.tcp) {
          out.tcpInfoLength = d.length;
          out.tcpInfo = decodeTcpInfo(view, d.offset, d.length);
        }
        break;
      case InetAttr.VEGASINFO:
        if (d.length >= 16) {
          const [enabled, rttcnt, rtt, minrtt] = u32s(d);
          out.vegas = { enabled, rttcnt, rtt, minrtt };
        }
        break;
      case InetAttr.DCTCPINFO:
        if (d.length >= 16) {
          const v = view;
          const o = d.offset;
          out.dctcp = {
            enabled: v.getUint16(o, true),
            ce_state: v.getUint16(o + 2, true),
            alpha: v.getUint32(o + 4, true),
            ab_ecn: v.getUint32(o + 8, true),
            ab_tot: v.getUint32(o + 12, true),
          };
        }
        break;
      case InetAttr.BBRINFO:
        if (d.length >= 20) {
          const [lo, hi, minRtt, pacingGain, cwndGain] = u32s(d);
          out.bbr = { bw_bytes_per_second: hi * 0x100000000 + lo, min_rtt: minRtt, pacing_gain: pacingGain, cwnd_gain: cwndGain };
        }
        break;
      case InetAttr.CONG:
        out.congestion = d.string();
        break;
      case InetAttr.TOS:
        {
          const v = d.u8();
          if (!d.error) out.tos = v;
        }
        break;
      case InetAttr.TCLASS:
        {
          const v = d.u8();
          if (!d.error) out.tclass = v;
        }
        break;
      case InetAttr.SKMEMINFO:
        out.skmeminfo = u32s(d);
        break;
      case InetAttr.SHUTDOWN:
        {
          const v = d.u8();
          if (!d.error) out.shutdown = v;
        }
        break;
      case InetAttr.PROTOCOL:
        {
          const v = d.u8();
          if (!d.error) out.protocol = v;
        }
        break;
      case InetAttr.SKV6ONLY:
        {
          const v = d.u8();
          if (!d.error) out.v6only = v !== 0;
        }
        break;
      case InetAttr.MARK:
        {
          const v = d.u32();
          if (!d.error) out.mark = v;
        }
        break;
      case InetAttr.CLASS_ID:
        {
          const v = d.u32();
          if (!d.error) out.classId = v;
        }
        break;
      case InetAttr.CGROUP_ID:
        {
          const v = d.u64();
          if (!d.error) out.cgroupId = Number(v);
        }
        break;
      case InetAttr.SOCKOPT:
        if (d.length >= 2) {
          const b0 = view.getUint8(d.offset);
          const b1 = view.getUint8(d.offset + 1);
          out.sockopt = {
            recverr: !!(b0 & 1),
            is_icsk: !!(b0 & 2),
            freebind: !!(b0 & 4),
            hdrincl: !!(b0 & 8),
            mc_loop: !!(b0 & 16),
            transparent: !!(b0 & 32),
            mc_all: !!(b0 & 64),
            nodefrag: !!(b0 & 128),
            bind_address_no_port: !!(b1 & 1),
            recverr_rfc4884: !!(b1 & 2),
            defer_connect: !!(b1 & 4),
          };
        }
        break;
      case InetAttr.ULP_INFO: {
        const n = d.nested();
        while (n.next()) if (n.type === 1) out.ulp = n.string();
        break;
      }
      case InetAttr.MD5SIG:
        out.md5sigCount = Math.floor(d.length / 100); // struct tcp_diag_md5sig is 100 bytes
        break;
      case InetAttr.PAD:
      case InetAttr.LOCALS:
      case InetAttr.PEERS:
      case InetAttr.SK_BPF_STORAGES:
        break;
      default:
        (out.unknown ??= []).push(d.type);
    }
  }
  if (d.error) out.error = d.error;
  return out;
}

export const isV6 = (family: number): boolean => family === AF_INET6;
