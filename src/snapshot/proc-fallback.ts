/**
 * /proc/net standing in for a protocol the kernel cannot dump over sock_diag (no diag module, a refused dump, no
 * netlink at all). The reason is worded once (fallbackReason) for the table, the stream and the census. The packet
 * and netlink sockets' files too (/proc/net/packet, /proc/net/netlink), which ss reads when packet_diag or
 * netlink_diag is missing.
 */
import { readFileSync } from 'node:fs';
import { AF_UNIX, Proto, SOCK_RAW, TCP_CLOSE, type ProtoName } from '../diag/constants.js';
import { baseSocket, type FamilyName, type FamilySocket } from '../diag/family-socket.js';
import { parseProcNetInet, parseProcNetUnix, procNetFile } from '../procfs/net.js';
import { ENOENT, errnoName } from '../sys/errno.js';
import { NUMBER_COLUMNS, type SocketTable } from './table.js';
import type { ProtocolSource } from './types.js';

/**
 * Why a protocol is read from /proc after the kernel answered its dump with `errno`: ENOENT is the kernel's
 * answer for a protocol without its diag module; anything else is a refusal (EPERM, EINVAL, ...), said as such.
 */
export function fallbackReason(protocol: ProtoName, errno: number): string {
  const name = errnoName(errno);
  return errno === ENOENT
    ? `the kernel cannot dump ${protocol} over sock_diag (${name}: no diag module)`
    : `the kernel refused to dump ${protocol} over sock_diag (${name})`;
}

const SCTP_NOTE = 'SCTP has no sock_diag module here and /proc/net/sctp is not read by sockscope';

export function readFromProc(
  table: SocketTable,
  protocol: ProtoName,
  families: readonly number[],
  states: number,
  procRoot: string,
  src: ProtocolSource,
  why?: string,
): void {
  src.source = 'proc';
  if (why) src.note = why;
  const from = table.length;
  const files: { file: string; family: number }[] =
    protocol === 'unix'
      ? [{ file: 'unix', family: AF_UNIX }]
      : families.flatMap((family) => {
          const file = procNetFile(Proto[protocol], family);
          return file ? [{ file, family }] : [];
        });
  if (files.length === 0) {
    src.source = 'unavailable';
    src.note = protocol === 'sctp' ? SCTP_NOTE : `${why ? `${why}; ` : ''}/proc/net has no table for ${protocol}`;
    return;
  }
  const missing: string[] = [];
  for (const { file, family } of files) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/net/${file}`, 'latin1');
    } catch {
      missing.push(file);
      continue;
    }
    const r = protocol === 'unix' ? parseProcNetUnix(text, table) : parseProcNetInet(text, table, Proto[protocol], family);
    src.malformed += r.malformed;
  }
  if (missing.length === files.length) {
    src.source = 'unavailable';
    src.note = `${why ? `${why}; ` : ''}${missing.map((f) => `/proc/net/${f}`).join(', ')} not present (${protocol} not in this kernel)`;
  } else if (missing.length > 0) {
    src.note = `${src.note ? `${src.note}; ` : ''}missing ${missing.map((f) => `/proc/net/${f}`).join(', ')}`;
  }
  // /proc lists every state; apply the requested mask the kernel would have applied.
  if ((states & 0xfff) !== 0xfff) {
    let w = from;
    for (let r = from; r < table.length; r++) {
      if (states & (1 << table.state[r])) {
        if (w !== r) copyRow(table, r, w);
        w++;
      }
    }
    table.length = w;
  }
}

function copyRow(t: SocketTable, from: number, to: number): void {
  for (const k of NUMBER_COLUMNS) (t[k] as Uint32Array)[to] = (t[k] as Uint32Array)[from];
  t.src.copyWithin(to * 16, from * 16, from * 16 + 16);
  t.dst.copyWithin(to * 16, from * 16, from * 16 + 16);
}

/**
 * /proc/net/packet (net/packet/af_packet.c packet_seq_show) as ss's packet_show_line reads it, for a kernel
 * without packet_diag: "sk RefCnt Type Proto Iface R Rmem User Inode", the protocol in hex. No ring, fanout,
 * filter or memory details (the file has none); the cookie is 0, as ss prints sk:0 there.
 */
export function parseProcNetPacket(text: string): { sockets: FamilySocket[]; malformed: number } {
  return eachLine(text, (f) => {
    const [type, protocol, ifindex, rmem, uid, inode] = [Number(f[2]), parseInt(f[3], 16), Number(f[4]), Number(f[6]), Number(f[7]), Number(f[8])];
    if (f.length < 9 || ![type, protocol, ifindex, rmem, uid, inode].every(Number.isInteger)) return undefined;
    const s = baseSocket('packet', type, TCP_CLOSE, inode, 0, 0);
    s.rqueue = rmem;
    s.uid = uid;
    s.packet = { protocol, ifindex };
    return s;
  });
}

/** Each line after the header through `parse` (its whitespace-separated fields): the sockets, and the lines it refused */
function eachLine(text: string, parse: (fields: string[]) => FamilySocket | undefined): { sockets: FamilySocket[]; malformed: number } {
  const sockets: FamilySocket[] = [];
  let malformed = 0;
  for (const line of text.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const s = parse(line.trim().split(/\s+/));
    if (s) sockets.push(s);
    else malformed++;
  }
  return { sockets, malformed };
}

/**
 * /proc/net/netlink (net/netlink/af_netlink.c netlink_seq_show) as ss's netlink_show reads it, for a kernel
 * without netlink_diag: "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode". The port id is printed unsigned and
 * read as ss reads it, an int; the socket is never "connected" here (the file does not say).
 */
export function parseProcNetNetlink(text: string): { sockets: FamilySocket[]; malformed: number } {
  return eachLine(text, (f) => {
    const [protocol, portid, groups, rmem, wmem, inode] = [Number(f[1]), Number(f[2]), parseInt(f[3], 16), Number(f[4]), Number(f[5]), Number(f[9])];
    if (f.length < 10 || !/^[0-9a-f]+$/i.test(f[0]) || !/^[0-9a-f]+$/i.test(f[6]) || ![protocol, portid, groups, rmem, wmem, inode].every(Number.isInteger))
      return undefined;
    const s = baseSocket('netlink', SOCK_RAW, TCP_CLOSE, inode, 0, 0);
    s.rqueue = rmem;
    s.wqueue = wmem;
    s.netlink = {
      protocol,
      portid: portid | 0,
      dstPortid: 0,
      dstGroup: 0,
      connected: false,
      groups: [groups >>> 0],
      procSk: BigInt(`0x${f[0]}`).toString(16),
      procCb: BigInt(`0x${f[6]}`).toString(16),
    };
    return s;
  });
}

/** The /proc/net file of a family ss reads when its diag module is missing (vsock and XDP have none). */
export const FAMILY_PROC_FILES: Partial<Record<FamilyName, { file: string; parse: typeof parseProcNetPacket }>> = {
  packet: { file: 'packet', parse: parseProcNetPacket },
  netlink: { file: 'netlink', parse: parseProcNetNetlink },
};
