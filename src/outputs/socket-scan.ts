/**
 * One walk over a row's raw attributes that notes where each attribute the listing uses lies, for the direct
 * writers (socket-ndjson.ts, ls-table.ts) that skip decodeInetAttributes / decodeUnixAttributes and their
 * objects. The walk keeps the decoders' semantics exactly, because the writers must give the same text as the
 * records built from those decoders:
 *  - the framing of AttributeDecoder#next(): stop at a header that does not fit or a bad nla_len;
 *  - a scalar attribute shorter than its type ends the walk after it (the decoder's sticky error from need());
 *  - a later attribute of a type overrides an earlier one, except INET_DIAG_INFO: socketRecord reads it with
 *    findAttribute(), which returns the first (present only when the decoder's walk reached it);
 *  - the decoders' minimum lengths (MEMINFO, VEGAS, DCTCP ≥ 16, BBR ≥ 20, VFS ≥ 8).
 * Fields hold -1 (NO) when the attribute is absent.
 */
import { InetAttr, UnixAttr } from '../diag/constants.js';
import { NLA_TYPE_MASK } from '../netlink/attributes.js';

export const NO = -1;

export class AttributeScan {
  // inet
  v6only = NO;
  shutdown = NO;
  mark = NO;
  tos = NO;
  tclass = NO;
  classId = NO;
  ipProtocol = NO;
  /** NaN when absent (a u64: any number is possible) */
  cgroup = NaN;
  infoOff = NO;
  infoLen = 0;
  congOff = NO;
  congLen = 0;
  bbrOff = NO;
  dctcpOff = NO;
  vegasOff = NO;
  skmemOff = NO;
  skmemLen = 0;
  meminfoOff = NO;
  // unix (shutdown and skmem shared with inet)
  nameOff = NO;
  nameLen = 0;
  vfsOff = NO;
  peer = NO;
  iconsOff = NO;
  iconsLen = 0;

  /** Walk [start, end) as decodeInetAttributes does. */
  inet(view: DataView, start: number, end: number): this {
    this.v6only = this.shutdown = this.mark = this.tos = this.tclass = this.classId = this.ipProtocol = NO;
    this.cgroup = NaN;
    this.infoOff = this.congOff = this.bbrOff = this.dctcpOff = this.vegasOff = this.skmemOff = this.meminfoOff = NO;
    let at = start;
    while (end - at >= 4) {
      const len = view.getUint16(at, true);
      if (len < 4 || len > end - at) break;
      const type = view.getUint16(at + 2, true) & NLA_TYPE_MASK;
      const off = at + 4;
      const plen = len - 4;
      at += (len + 3) & ~3;
      switch (type) {
        case InetAttr.MEMINFO: if (plen >= 16) this.meminfoOff = off; break;
        case InetAttr.INFO: if (this.infoOff === NO) { this.infoOff = off; this.infoLen = plen; } break;
        case InetAttr.VEGASINFO: if (plen >= 16) this.vegasOff = off; break;
        case InetAttr.DCTCPINFO: if (plen >= 16) this.dctcpOff = off; break;
        case InetAttr.BBRINFO: if (plen >= 20) this.bbrOff = off; break;
        case InetAttr.CONG: this.congOff = off; this.congLen = plen; break;
        case InetAttr.SKMEMINFO: this.skmemOff = off; this.skmemLen = plen; break;
        case InetAttr.TOS: if (plen < 1) at = end; else this.tos = view.getUint8(off); break;
        case InetAttr.TCLASS: if (plen < 1) at = end; else this.tclass = view.getUint8(off); break;
        case InetAttr.SHUTDOWN: if (plen < 1) at = end; else this.shutdown = view.getUint8(off); break;
        case InetAttr.PROTOCOL: if (plen < 1) at = end; else this.ipProtocol = view.getUint8(off); break;
        case InetAttr.SKV6ONLY: if (plen < 1) at = end; else this.v6only = view.getUint8(off) !== 0 ? 1 : 0; break;
        case InetAttr.MARK: if (plen < 4) at = end; else this.mark = view.getUint32(off, true); break;
        case InetAttr.CLASS_ID: if (plen < 4) at = end; else this.classId = view.getUint32(off, true); break;
        case InetAttr.CGROUP_ID:
          // Number(getBigUint64()) and this are both the u64 rounded once to the nearest double
          if (plen < 8) at = end;
          else this.cgroup = view.getUint32(off + 4, true) * 0x100000000 + view.getUint32(off, true);
          break;
        default: break; // SOCKOPT, ULP_INFO, MD5SIG, PAD, ...: not in the record
      }
    }
    return this;
  }

  /** Walk [start, end) as decodeUnixAttributes does. */
  unix(view: DataView, start: number, end: number): this {
    this.nameOff = this.vfsOff = this.peer = this.iconsOff = this.skmemOff = this.shutdown = NO;
    let at = start;
    while (end - at >= 4) {
      const len = view.getUint16(at, true);
      if (len < 4 || len > end - at) break;
      const type = view.getUint16(at + 2, true) & NLA_TYPE_MASK;
      const off = at + 4;
      const plen = len - 4;
      at += (len + 3) & ~3;
      switch (type) {
        case UnixAttr.NAME: this.nameOff = off; this.nameLen = plen; break;
        case UnixAttr.VFS: if (plen >= 8) this.vfsOff = off; break;
        case UnixAttr.PEER: if (plen < 4) at = end; else this.peer = view.getUint32(off, true); break;
        case UnixAttr.ICONS: this.iconsOff = off; this.iconsLen = plen; break;
        case UnixAttr.MEMINFO: this.skmemOff = off; this.skmemLen = plen; break;
        case UnixAttr.SHUTDOWN: if (plen < 1) at = end; else this.shutdown = view.getUint8(off); break;
        case UnixAttr.UID: if (plen < 4) at = end; break; // in the uid column already; a short one still ends the walk
        default: break;
      }
    }
    return this;
  }
}

/**
 * A NUL-terminated string payload, decoded as AttributeDecoder#string() does (UTF-8 with replacement
 * characters, a leading BOM dropped); ASCII, the usual case, without a TextDecoder.
 */
export function cString(view: DataView, off: number, len: number): string {
  let end = off + len;
  let ascii = true;
  for (let i = off; i < end; i++) {
    const b = view.getUint8(i);
    if (b === 0) {
      end = i;
      break;
    }
    if (b >= 0x80) ascii = false;
  }
  if (!ascii) return new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + off, end - off));
  let s = '';
  for (let i = off; i < end; i++) s += String.fromCharCode(view.getUint8(i));
  return s;
}

/** A unix socket's name, decoded as decodeUnixAttributes does (a path ends at its NUL; abstract: NULs as '@'). */
export function unixName(view: DataView, off: number, len: number): string {
  let n = len;
  if (n > 0 && view.getUint8(off) !== 0) {
    for (let i = 0; i < len; i++) {
      if (view.getUint8(off + i) === 0) {
        n = i;
        break;
      }
    }
  }
  let s = '';
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const b = view.getUint8(off + i);
    if (b >= 0x80) ascii = false;
    s += b === 0 ? '@' : String.fromCharCode(b);
  }
  if (ascii) return s; // the UTF-8 decoding of ASCII is its latin-1 rendering
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(view.buffer, view.byteOffset + off, n)).replace(/\0/g, '@');
  } catch {
    return s;
  }
}
