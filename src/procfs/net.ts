/**
 * /proc/net fallback: the same SocketTable rows, parsed from /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,unix}.
 * Used for a protocol whose diag module is missing, or for everything when netlink is unavailable (seccomp,
 * gVisor). What /proc does not carry (tcp_info, cookies, a listener's max backlog) is simply absent.
 *
 * Parsers are pure (text → rows); reading the files is the caller's.
 */
import { AF_INET6, AF_UNIX, Proto, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN, UnixAttr } from '../diag/constants.js';
import { encodeAttribute } from '../netlink/attributes.js';
import type { SocketTable } from '../snapshot/table.js';

/** USER_HZ: /proc/net/tcp prints timers in clock ticks (jiffies_delta_to_clock_t). */
const USER_HZ = 100;

export interface ProcParseResult {
  rows: number;
  /** lines that did not parse (skipped) */
  malformed: number;
}

const hexWord = (s: string, from: number): number => parseInt(s.slice(from, from + 8), 16) >>> 0;

/** "0100007F:0CEA" (v4) or 32 hex digits + ":PORT" (v6): address words in host order, port in hex. */
function parseEndpoint(field: string, table: SocketTable, row: number, which: 'src' | 'dst'): number | undefined {
  if (!/^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):[0-9A-Fa-f]{4}$/.test(field)) return undefined;
  const colon = field.indexOf(':');
  const words = which === 'src' ? table.src32 : table.dst32;
  const r4 = row << 2;
  // Each 8-digit group is one u32 printed in host (little-endian) order: storing it as a native u32 yields
  // the address bytes in network order, the same layout netlink gives.
  for (let i = 0; i < 4; i++) words[r4 + i] = i * 8 < colon ? hexWord(field, i * 8) : 0;
  const port = parseInt(field.slice(colon + 1), 16);
  return Number.isFinite(port) ? port : undefined;
}

/**
 * Parse /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6}. Columns:
 *   sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
 */
export function parseProcNetInet(text: string, table: SocketTable, proto: number, family: number): ProcParseResult {
  const out: ProcParseResult = { rows: 0, malformed: 0 };
  const lines = text.split('\n');
  const sockType = proto === Proto.tcp ? SOCK_STREAM : proto === Proto.raw ? SOCK_RAW : SOCK_DGRAM;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    if (f.length < 10) {
      out.malformed++;
      continue;
    }
    const row = table.addRow();
    const sport = parseEndpoint(f[1], table, row, 'src');
    const dport = parseEndpoint(f[2], table, row, 'dst');
    const state = parseInt(f[3], 16);
    const [tx, rx] = f[4].split(':').map((x) => parseInt(x, 16));
    const [tr, when] = f[5].split(':').map((x) => parseInt(x, 16));
    const retrans = parseInt(f[6], 16);
    const uid = parseInt(f[7], 10);
    const inode = parseInt(f[9], 10);
    if (sport === undefined || dport === undefined || [state, tx, rx, tr, when, retrans, uid, inode].some((x) => !Number.isFinite(x))) {
      table.length--; // drop the half-written row
      out.malformed++;
      continue;
    }
    table.proto[row] = proto;
    table.family[row] = family;
    table.state[row] = state;
    table.timer[row] = tr;
    table.retrans[row] = Math.min(retrans, 255);
    table.sockType[row] = sockType;
    table.sport[row] = sport;
    table.dport[row] = dport;
    table.ifindex[row] = 0;
    table.cookieLo[row] = 0;
    table.cookieHi[row] = 0;
    table.expires[row] = tr === 0 ? 0 : Math.round((when * 1000) / USER_HZ);
    // For a listener the kernel prints sk_ack_backlog as rx_queue and 0 as tx_queue (no max backlog here).
    table.rqueue[row] = rx;
    table.wqueue[row] = tx;
    table.uid[row] = uid;
    table.inode[row] = inode;
    table.attrStart[row] = 0;
    table.attrLength[row] = 0;
    out.rows++;
  }
  return out;
}

const SS_CONNECTING = 2;
const SS_CONNECTED = 3;
const SO_ACCEPTCON = 0x10000;

/**
 * Parse /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path". St is the socket layer state
 * (SS_*), mapped to the TCP_* numbers unix_diag uses: listening (__SO_ACCEPTCON) → LISTEN, connected →
 * ESTABLISHED (SS_CONNECTED, or SS_CONNECTING for a connection not yet accept()ed), otherwise CLOSE. The path
 * is kept as a UNIX_DIAG_NAME attribute so that both sources read the same way.
 */
export function parseProcNetUnix(text: string, table: SocketTable): ProcParseResult {
  const out: ProcParseResult = { rows: 0, malformed: 0 };
  const lines = text.split('\n');
  const encoder = new TextEncoder();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || !f[0].endsWith(':')) {
      out.malformed++;
      continue;
    }
    const flags = parseInt(f[3], 16);
    const type = parseInt(f[4], 16);
    const st = parseInt(f[5], 16);
    const inode = parseInt(f[6], 10);
    if (![flags, type, st, inode].every(Number.isFinite)) {
      out.malformed++;
      continue;
    }
    // Inode 0: the server end of a connection not yet accept()ed (no file yet). unix_diag skips these (and so
    // does ss); skip them too so both sources list the same sockets.
    if (inode === 0) continue;
    const row = table.addRow();
    table.proto[row] = Proto.unix;
    table.family[row] = AF_UNIX;
    table.sockType[row] = type;
    // unix_seq_show prints SS_CONNECTING for a connection not yet accept()ed (no struct socket, sk_state
    // TCP_ESTABLISHED): unix_diag reports it ESTABLISHED too.
    table.state[row] = flags & SO_ACCEPTCON ? TCP_LISTEN : st === SS_CONNECTED || st === SS_CONNECTING ? TCP_ESTABLISHED : TCP_CLOSE;
    table.timer[row] = 0;
    table.retrans[row] = 0;
    table.sport[row] = 0;
    table.dport[row] = 0;
    for (let k = 0; k < 4; k++) {
      table.src32[(row << 2) + k] = 0;
      table.dst32[(row << 2) + k] = 0;
    }
    table.ifindex[row] = 0;
    table.expires[row] = 0;
    table.rqueue[row] = 0;
    table.wqueue[row] = 0;
    table.uid[row] = 0xffffffff;
    table.inode[row] = inode;
    table.cookieLo[row] = 0;
    table.cookieHi[row] = 0;
    table.attrStart[row] = 0;
    table.attrLength[row] = 0;
    // The path is everything after the 7th field and its one separating space (paths may contain, start or end
    // with spaces); abstract names start with '@'.
    const pathAt = nthFieldEnd(line, 7);
    const path = pathAt < 0 ? '' : line.slice(pathAt + 1);
    if (path !== '') {
      // Text read as latin1 (one char per byte, as takeSnapshot reads /proc) goes back to the same bytes.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: a path of latin-1 code units is raw bytes
      const raw = /^[\u0000-\u00ff]*$/.test(path) ? Uint8Array.from(path, (c) => c.charCodeAt(0)) : encoder.encode(path);
      if (path.startsWith('@')) raw[0] = 0;
      const attr = encodeAttribute(UnixAttr.NAME, raw);
      table.setAttributes(row, attr, 0, attr.byteLength);
    }
    out.rows++;
  }
  return out;
}

function nthFieldEnd(line: string, n: number): number {
  let i = 0;
  for (let k = 0; k < n; k++) {
    while (i < line.length && line[i] === ' ') i++;
    if (i >= line.length) return -1;
    while (i < line.length && line[i] !== ' ') i++;
  }
  return i;
}

/** /proc/net/sockstat: "TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1" etc. → { TCP: { inuse: 5, ... }, ... } */
export function parseSockstat(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const parts = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const rec: Record<string, number> = {};
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const v = Number(parts[i + 1]);
      if (Number.isFinite(v)) rec[parts[i]] = v;
    }
    out[key] = rec;
  }
  return out;
}

/** The /proc/net file names for an inet protocol and family. */
export function procNetFile(proto: number, family: number): string | undefined {
  const v6 = family === AF_INET6 ? '6' : '';
  switch (proto) {
    case Proto.tcp:
      return `tcp${v6}`;
    case Proto.udp:
      return `udp${v6}`;
    case Proto.udplite:
      return `udplite${v6}`;
    case Proto.raw:
      return `raw${v6}`;
    default:
      return undefined;
  }
}
