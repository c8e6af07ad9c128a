/**
 * struct unix_diag_msg (16 bytes) → one row of a SocketTable. RQLEN and UID are folded into columns (rqueue,
 * wqueue, uid) at dump time; the other attributes stay raw in the arena for decodeUnixAttributes().
 *
 *   u8 family, type, state, pad; u32 ino; u32 cookie[2]
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { UID_UNKNOWN, type SocketTable } from '../snapshot/table.js';
import { Proto, UNIX_DIAG_MSG_SIZE, UnixAttr } from './constants.js';

export function appendUnixMessage(table: SocketTable, view: DataView, bytes: Uint8Array, off: number, len: number, keepAttributes: boolean): boolean {
  if (len < UNIX_DIAG_MSG_SIZE) return false;
  const row = table.addRow();
  table.proto[row] = Proto.unix;
  table.family[row] = bytes[off];
  table.sockType[row] = bytes[off + 1];
  table.state[row] = bytes[off + 2];
  table.timer[row] = 0;
  table.retrans[row] = 0;
  table.sport[row] = 0;
  table.dport[row] = 0;
  table.inode[row] = view.getUint32(off + 4, true);
  table.cookieLo[row] = view.getUint32(off + 8, true);
  table.cookieHi[row] = view.getUint32(off + 12, true);
  table.ifindex[row] = 0;
  table.expires[row] = 0;
  table.rqueue[row] = 0;
  table.wqueue[row] = 0;
  table.uid[row] = UID_UNKNOWN;
  // Pull the columns' worth out of the attributes; malformed attributes end the walk, keeping the row.
  let at = off + UNIX_DIAG_MSG_SIZE;
  const end = off + len;
  while (end - at >= 4) {
    const alen = view.getUint16(at, true);
    if (alen < 4 || alen > end - at) break;
    const type = view.getUint16(at + 2, true) & 0x3fff;
    if (type === UnixAttr.RQLEN && alen >= 12) {
      table.rqueue[row] = view.getUint32(at + 4, true);
      table.wqueue[row] = view.getUint32(at + 8, true);
    } else if (type === UnixAttr.UID && alen >= 8) {
      table.uid[row] = view.getUint32(at + 4, true);
    }
    at += (alen + 3) & ~3;
  }
  if (keepAttributes && len > UNIX_DIAG_MSG_SIZE) {
    if (bytes === table.arena) table.setAttributeRange(row, off + UNIX_DIAG_MSG_SIZE, len - UNIX_DIAG_MSG_SIZE);
    else table.setAttributes(row, bytes, off + UNIX_DIAG_MSG_SIZE, end);
  } else {
    table.attrStart[row] = 0;
    table.attrLength[row] = 0;
  }
  return true;
}

export interface UnixAttributes {
  /** sun_path; abstract names start with '@' and every NUL is shown as '@', as ss does */
  name?: string;
  vfs?: { inode: number; dev: number; major: number; minor: number };
  peer?: number;
  /** inodes of connections not yet accept()ed (listeners) */
  pending?: number[];
  rqueue?: number;
  wqueue?: number;
  skmeminfo?: number[];
  shutdown?: number;
  uid?: number;
  unknown?: number[];
  error?: string;
}

/**
 * UNIX_DIAG_VFS carries the kernel's internal dev_t (s_dev: MAJOR = dev >> 20, MINOR = dev & 0xfffff,
 * include/linux/kdev_t.h), not the userspace encoding. `ss -xe` decodes it with glibc's major()/minor() and so
 * prints 254:0 as "0/65024"; sockscope reports the real numbers.
 */
export const devMajor = (dev: number): number => dev >>> 20;
export const devMinor = (dev: number): number => dev & 0xfffff;

export function decodeUnixAttributes(view: DataView, start: number, end: number): UnixAttributes {
  const out: UnixAttributes = {};
  const d = new AttributeDecoder(view, start, end);
  while (d.next()) {
    switch (d.type) {
      case UnixAttr.NAME: {
        // A path name arrives with its terminating NUL (addr->len counts it): it ends there, as in ss.
        // An abstract name (leading NUL) is all bytes, every NUL shown as '@'.
        let n = d.length;
        if (n > 0 && view.getUint8(d.offset) !== 0)
          for (let i = 0; i < d.length; i++)
            if (view.getUint8(d.offset + i) === 0) {
              n = i;
              break;
            }
        const raw = new Uint8Array(view.buffer, view.byteOffset + d.offset, n);
        let s = '';
        for (const b of raw) s += b === 0 ? '@' : String.fromCharCode(b);
        // Names are bytes; decode UTF-8 where it is valid, keeping '@' for NULs.
        try {
          s = new TextDecoder('utf-8', { fatal: true }).decode(raw).replace(/\0/g, '@');
        } catch {
          /* keep the latin-1 rendering */
        }
        out.name = s;
        break;
      }
      case UnixAttr.VFS:
        if (d.length >= 8) {
          const dev = view.getUint32(d.offset + 4, true);
          out.vfs = { inode: view.getUint32(d.offset, true), dev, major: devMajor(dev), minor: devMinor(dev) };
        }
        break;
      case UnixAttr.PEER:
        {
          const v = d.u32();
          if (!d.error) out.peer = v;
        }
        break;
      case UnixAttr.ICONS: {
        const list: number[] = [];
        for (let i = 0; i + 4 <= d.length; i += 4) list.push(view.getUint32(d.offset + i, true));
        out.pending = list;
        break;
      }
      case UnixAttr.RQLEN:
        if (d.length >= 8) {
          out.rqueue = view.getUint32(d.offset, true);
          out.wqueue = view.getUint32(d.offset + 4, true);
        }
        break;
      case UnixAttr.MEMINFO: {
        const list: number[] = [];
        for (let i = 0; i + 4 <= d.length; i += 4) list.push(view.getUint32(d.offset + i, true));
        out.skmeminfo = list;
        break;
      }
      case UnixAttr.SHUTDOWN:
        {
          const v = d.u8();
          if (!d.error) out.shutdown = v;
        }
        break;
      case UnixAttr.UID:
        {
          const v = d.u32();
          if (!d.error) out.uid = v;
        }
        break;
      default:
        (out.unknown ??= []).push(d.type);
    }
  }
  if (d.error) out.error = d.error;
  return out;
}
