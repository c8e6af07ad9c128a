/**
 * `ls --format table`: aligned columns for people, ss's column set and state names, human units in the
 * details (-e -o -i -m -p), made straight from the table's columns and attribute bytes (lsTableBytes). The
 * detail words are written by ss-details.ts, compiled from the member table; test/golden pins the text.
 */
import { formatColumns } from '../text-table.js';
import { AF_INET, AF_INET6, PROTO_NAMES, Proto, SOCK_TYPE_NAMES, STATE_KEYS } from '../../diag/constants.js';
import type { SocketTable } from '../../snapshot/table.js';
import { AddressText } from '../text/address-text.js';
import { fragment, putU32, type Fragment } from '../text/bytes.js';
import { JsonBytes } from '../text/json-bytes.js';
import type { RecordOptions } from './socket-record.js';
import { ABSENT as NO, AttributeIndex } from '../../diag/attribute-index.js';
import { InetAttr, UnixAttr } from '../../diag/constants.js';
import { unixName } from '../text/attribute-text.js';
import { DetailsWriter } from './ss-details.js';

const SS_STATE: Record<string, string> = {
  established: 'ESTAB',
  syn_sent: 'SYN-SENT',
  syn_recv: 'SYN-RECV',
  fin_wait1: 'FIN-WAIT-1',
  fin_wait2: 'FIN-WAIT-2',
  time_wait: 'TIME-WAIT',
  close: 'UNCONN',
  close_wait: 'CLOSE-WAIT',
  last_ack: 'LAST-ACK',
  listen: 'LISTEN',
  closing: 'CLOSING',
  bound_inactive: 'UNDEF',
};
const UNIX_NETID: Record<string, string> = { stream: 'u_str', dgram: 'u_dgr', seqpacket: 'u_seq' };

/** 1234567 → "1.2M" style, for rates and sizes */
export function human(n: number, unit: string): string {
  const steps: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [k, p] of steps) if (n >= k) return `${(n / k).toFixed(n / k >= 100 ? 0 : 1)}${p}${unit}`;
  return `${n}${unit}`;
}

export const ms = (us: number) => (us / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';

// ---------------------------------------------------------------------------------------------------------
// The table straight from the columns, as UTF-8 (what ls prints): no records, no detail strings. Cells are made
// first (the widths need them all), then every line and its details are written into one byte buffer.

const STATE_CELL: readonly string[] = Array.from({ length: 256 }, (_, s) => {
  const key = STATE_KEYS[s];
  return (key === undefined ? undefined : SS_STATE[key]) ?? String(key);
});
/** The Netid cell per proto code (inet) and per socket type (unix) */
const INET_NETID: readonly string[] = Array.from({ length: 256 }, (_, p) => String(PROTO_NAMES[p]));
const UNIX_NETID_CELL: readonly string[] = Array.from({ length: 256 }, (_, st) => UNIX_NETID[SOCK_TYPE_NAMES[st] ?? String(st)] ?? 'u_???');

/**
 * Whether ls shows the Netid column, as ss decides it: more than one protocol asked for, or unix sockets (ss
 * reads three tables for them).
 */
export function lsShowsNetid(t: SocketTable, rows: ArrayLike<number>, protocolsAsked: number): boolean {
  // ss shows Netid when it reads more than one of its tables; unix is three (u_str, u_dgr, u_seq)
  if (protocolsAsked > 1) return true;
  for (let k = 0; k < rows.length; k++) if (t.proto[rows[k]] === Proto.unix) return true;
  return protocolsAsked === 0;
}

/**
 * The rows in ss's line order: each protocol's IPv4 lines before its IPv6 ones (ss.c inet_show_netlink dumps one
 * family, then the other, where TCP's one legacy walk answers both in the kernel's hash order); the protocols and
 * the lines of a family in the order they came (the dumps follow ss's order of tables). Stable.
 */
export function ssLineOrder(t: SocketTable, rows: ArrayLike<number>): Uint32Array {
  const n = rows.length;
  const out = new Uint32Array(n);
  let at = 0;
  for (let start = 0; start < n; ) {
    const proto = t.proto[rows[start]];
    let end = start;
    while (end < n && t.proto[rows[end]] === proto) end++;
    for (let k = start; k < end; k++) if (t.family[rows[k]] !== AF_INET6) out[at++] = rows[k];
    for (let k = start; k < end; k++) if (t.family[rows[k]] === AF_INET6) out[at++] = rows[k];
    start = end;
  }
  return out;
}

const W = (s: string): Fragment => fragment(s);
const D = {
  timer: W('timer:('),
  uid: W('uid:'),
  ino: W('ino:'),
  sk: W('sk:'),
  cgroup: W('cgroup:'),
  v6only: W('v6only:'),
  dev: W(' dev:'),
  peers: W('peers:'),
  nextLine: W('\n\t'),
  sep: W('  '),
};
const _SKMEM_PREFIX = ['skmem:(r', ',rb', ',t', ',tb', ',f', ',w', ',o', ',bl', ',d'].map(W);
const SPACE = 32;
const SPACE_FRAGMENT = W(' ');
const NEWLINE = 10;

/** decimal digits of a u32 (String(n).length) */
const digits = (n: number): number =>
  n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;

/** digits of a byte */
const digits3 = (v: number): number => (v < 10 ? 1 : v < 100 ? 2 : 3);

/** the length of `a.b.c.d:port` (port 0: `*`) */
function v4Length(bytes: Uint8Array, at: number, port: number): number {
  return digits3(bytes[at]) + digits3(bytes[at + 1]) + digits3(bytes[at + 2]) + digits3(bytes[at + 3]) + 4 + (port === 0 ? 1 : digits(port));
}

/** `a.b.c.d:port` (port 0: `*`) at buf[p..]; returns the end */
function putV4(buf: Uint8Array, p: number, bytes: Uint8Array, at: number, port: number): number {
  p = putU32(buf, p, bytes[at]);
  buf[p++] = 46;
  p = putU32(buf, p, bytes[at + 1]);
  buf[p++] = 46;
  p = putU32(buf, p, bytes[at + 2]);
  buf[p++] = 46;
  p = putU32(buf, p, bytes[at + 3]);
  buf[p++] = 58;
  if (port === 0) buf[p++] = 42;
  else p = putU32(buf, p, port);
  return p;
}

/** an ASCII cell left-aligned in w columns, and the two spaces after it */
function paddedCell(text: string, w: number): Uint8Array {
  const cell = new Uint8Array(Math.max(w, text.length) + 2).fill(SPACE);
  for (let k = 0; k < text.length; k++) cell[k] = text.charCodeAt(k);
  return cell;
}

function putCell(buf: Uint8Array, p: number, cell: Uint8Array): number {
  for (let k = 0; k < cell.length; k++) buf[p++] = cell[k];
  return p;
}

/** v right-aligned in w columns, and the two spaces after it */
function putPadded(buf: Uint8Array, p: number, v: number, w: number): number {
  for (let k = digits(v); k < w; k++) buf[p++] = SPACE;
  p = putU32(buf, p, v);
  buf[p] = SPACE;
  buf[p + 1] = SPACE;
  return p + 2;
}

/** putV4 as a string */
const v4Text = (bytes: Uint8Array, at: number, port: number): string =>
  `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}:${port === 0 ? '*' : port}`;

/**
 * An address and port as ss 6.1 prints them: `0.0.0.0:8080`; for IPv6 `[::]:8443` when the socket is v6only
 * and `*:9000` for a dual-stack wildcard; port 0 as `*`; with -r the host and service names; a local address
 * bound to a device with its name after `%` (`127.0.0.53%lo:53`, ss's sock_addr_print).
 */
function endpointText(
  address: string,
  port: number,
  host: string | undefined,
  v6only: boolean,
  service: ((port: number) => string) | undefined,
  ifname?: string,
): string {
  const p = port === 0 ? '*' : service ? service(port) : port;
  const dev = ifname === undefined ? '' : `%${ifname}`;
  if (host) return `${host}${dev}:${p}`;
  if (address === '::' && !v6only) return `*${dev}:${p}`;
  return `${address.includes(':') ? `[${address}]` : address}${dev}:${p}`;
}

/**
 * ms(us) into b: for an integer 0 <= us < 2^32 (every tcp_info time), (us / 1000).toFixed(3) is the digits of
 * us with a point before the last three (the nearest to us / 1000 of the candidates toFixed picks from is us
 * itself), and the regex drops trailing zeros and a bare point; anything else goes through ms().
 */
export function msInto(b: JsonBytes, us: number): void {
  if (!(us >>> 0 === us)) {
    b.ascii(ms(us));
    return;
  }
  const r = us % 1000;
  b.num((us - r) / 1000);
  if (r === 0) return;
  b.byte(46); // .
  const d1 = (r / 100) | 0;
  const d2 = ((r / 10) | 0) % 10;
  const d3 = r % 10;
  b.byte(48 + d1);
  if (d2 || d3) b.byte(48 + d2);
  if (d3) b.byte(48 + d3);
}

const TRAILING_SPACE = /\s$/;

export interface LsLayout {
  header: boolean;
  netid: boolean;
  /** the State column (ss hides it when the filter allows one state only); default true */
  state?: boolean;
  /** -O: ss's second line (skmem, tcp_info) on the socket's own line */
  oneline?: boolean;
  /** -r: service names for ports */
  service?: (port: number, proto: string) => string;
  /**
   * Hand the text over in chunks as it is made (stdout) instead of returning it: memory for the output stays
   * at one chunk; `drained` says whether the chunk's buffer may be reused. lsTableBytes then returns nothing.
   */
  write?: (chunk: Uint8Array) => void;
  drained?: () => boolean;
  /**
   * A listing written in parts (a streamed table, one part per batch): the column widths so far, at least the
   * widths of the part's rows afterwards. Each part is aligned over itself and the parts before it (a later,
   * wider cell widens the lines after it, not those already written).
   */
  widths?: LsWidths;
  /** the buffer to write into (a listing written in parts reuses one) */
  bytes?: JsonBytes;
}

/** The widths of the aligned columns (0: not shown, or no row yet) */
export interface LsWidths {
  netid: number;
  state: number;
  recv: number;
  send: number;
  local: number;
  peer: number;
}

const CHUNK = 1 << 17;

/**
 * The table of rows as UTF-8, made from the columns: ss's columns (Netid, State, Recv-Q, Send-Q, Local and Peer
 * Address:Port, Process) with the widths over every row and the header (right-aligned queues, two spaces
 * between), then the words ss prints on the socket's line (users:((...)) in the Process column, timers, -e),
 * and ss's second line, a tab and the -m/-i words (on the same line with -O).
 */
export function lsTableBytes(t: SocketTable, rows: ArrayLike<number>, view: DataView, o: RecordOptions, layout: LsLayout): Uint8Array {
  const n = rows.length;
  const showState = layout.state !== false;
  // the cells as text, for the rows not written straight from the bytes (IPv4 without names is): made when
  // the first such row comes, so a listing of IPv4 sockets holds no string per row
  let localCol: string[] | undefined;
  let peerCol: string[] | undefined;
  const localText = new AddressText();
  const remoteText = new AddressText();
  const scan = new AttributeIndex();
  const header = layout.header
    ? [...(layout.netid ? ['Netid'] : []), ...(showState ? ['State'] : []), 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port', 'Process']
    : undefined;
  const from = layout.widths;
  let netidW = Math.max(layout.netid && header ? 5 : 0, from?.netid ?? 0);
  let stateW = Math.max(header ? 5 : 0, from?.state ?? 0);
  let recvW = Math.max(header ? 6 : 0, from?.recv ?? 0);
  let sendW = Math.max(header ? 6 : 0, from?.send ?? 0);
  let localW = Math.max(header ? 18 : 0, from?.local ?? 0);
  let peerW = Math.max(header ? 17 : 0, from?.peer ?? 0);
  // a cell holding a newline (a unix path, a host name) shifts the lines, and trailing whitespace in a cell
  // is trimmed: both go through formatColumns
  let awkward = false;
  const plainV4 = !o.hostName && !layout.service;
  for (let k = 0; k < n; k++) {
    const i = rows[k];
    const proto = t.proto[i];
    let local: string;
    let peer: string;
    if (proto === Proto.unix) {
      if (layout.netid) netidW = Math.max(netidW, UNIX_NETID_CELL[t.sockType[i]].length);
      const { off, len } = scan.unix(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]);
      const name = off[UnixAttr.NAME];
      local = `${name === NO ? '*' : unixName(view, name, len[UnixAttr.NAME])} ${t.inode[i]}`;
      peer = `* ${off[UnixAttr.PEER] === NO ? 0 : view.getUint32(off[UnixAttr.PEER], true)}`;
    } else if (plainV4 && t.family[i] === AF_INET && t.ifindex[i] === 0) {
      // IPv4 without names: the widths from the bytes, the text written straight in the second pass
      if (layout.netid) netidW = Math.max(netidW, INET_NETID[proto].length);
      const ll = v4Length(t.src, i << 4, t.sport[i]);
      const pl = v4Length(t.dst, i << 4, t.dport[i]);
      if (ll > localW) localW = ll;
      if (pl > peerW) peerW = pl;
      stateW = Math.max(stateW, STATE_CELL[t.state[i]].length);
      recvW = Math.max(recvW, digits(t.rqueue[i]));
      sendW = Math.max(sendW, digits(t.wqueue[i]));
      continue;
    } else {
      if (layout.netid) netidW = Math.max(netidW, INET_NETID[proto].length);
      const fam = t.family[i];
      const la = localText.of(fam, t.src, t.src32, i);
      const ra = remoteText.of(fam, t.dst, t.dst32, i);
      let v6only = false;
      if (fam === AF_INET6 && (la === '::' || ra === '::')) {
        const { off } = scan.inet(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]);
        v6only = off[InetAttr.SKV6ONLY] !== NO && view.getUint8(off[InetAttr.SKV6ONLY]) !== 0;
      }
      const service = layout.service ? (port: number) => layout.service!(port, INET_NETID[proto]) : undefined;
      // ss names the device as iproute2's ll_index_to_name does: "if<index>" when it knows no name
      const ifindex = t.ifindex[i];
      const ifname = ifindex === 0 ? undefined : (o.interfaceName?.(ifindex) ?? `if${ifindex}`);
      local = endpointText(la, t.sport[i], o.hostName ? o.hostName(la) : undefined, v6only, service, ifname);
      peer = endpointText(ra, t.dport[i], o.hostName ? o.hostName(ra) : undefined, v6only, service);
    }
    localCol ??= new Array<string>(n);
    peerCol ??= new Array<string>(n);
    localCol[k] = local;
    peerCol[k] = peer;
    stateW = Math.max(stateW, STATE_CELL[t.state[i]].length);
    recvW = Math.max(recvW, digits(t.rqueue[i]));
    sendW = Math.max(sendW, digits(t.wqueue[i]));
    if (local.length > localW) localW = local.length;
    if (peer.length > peerW) peerW = peer.length;
    if (!awkward && (local.includes('\n') || peer.includes('\n') || TRAILING_SPACE.test(peer) || TRAILING_SPACE.test(local))) awkward = true;
  }

  if (from) Object.assign(from, { netid: netidW, state: stateW, recv: recvW, send: sendW, local: localW, peer: peerW });

  const b = layout.bytes ?? new JsonBytes(layout.write ? 2 * CHUNK : Math.max(1 << 16, n * (o.info ? 600 : o.processes ? 180 : 128)));
  const finish = (): Uint8Array => {
    if (!layout.write) return b.take();
    b.flush(layout.write, layout.drained ?? (() => false));
    return new Uint8Array(0);
  };
  const details = new DetailsWriter(b, o);
  const netidCell = (i: number) => (t.proto[i] === Proto.unix ? UNIX_NETID_CELL[t.sockType[i]] : INET_NETID[t.proto[i]]);
  /** the words after the addresses: b holds them from `from`; returns whether there were any */
  const writeDetails = (i: number, cellEnd = b.pos): boolean => {
    const same = details.sameLine(t, i, view);
    if (!same) b.pos = cellEnd; // no padding before ss's second line
    const mark = b.pos;
    b.raw(layout.oneline ? SPACE_FRAGMENT : D.nextLine);
    if (details.nextLine(t, i, view)) {
      if (layout.oneline) {
        // the words bring their own space
        b.buf.copyWithin(mark, mark + 1, b.pos);
        b.pos--;
      }
      return true;
    }
    b.pos = mark;
    return same;
  };
  if (awkward) {
    // formatColumns over the same cells, the words appended to each line
    localCol ??= new Array<string>(n);
    peerCol ??= new Array<string>(n);
    for (let k = 0; k < n; k++) {
      const i = rows[k];
      if (localCol[k] === undefined) {
        localCol[k] = v4Text(t.src, i << 4, t.sport[i]);
        peerCol[k] = v4Text(t.dst, i << 4, t.dport[i]);
      }
    }
    const cells: string[][] = header ? [header.slice(0, -1)] : [];
    const extra: string[] = [];
    for (let k = 0; k < n; k++) {
      const i = rows[k];
      cells.push([
        ...(layout.netid ? [netidCell(i)] : []),
        ...(showState ? [STATE_CELL[t.state[i]]] : []),
        `${t.rqueue[i]}`,
        `${t.wqueue[i]}`,
        localCol[k],
        peerCol![k],
      ]);
      b.pos = 0;
      extra.push(writeDetails(i) ? b.text() : '');
    }
    const align = [...(layout.netid ? ['l' as const] : []), ...(showState ? ['l' as const] : []), 'r' as const, 'r' as const, 'l' as const, 'l' as const];
    const lines = formatColumns(cells, align).split('\n');
    const out: string[] = [];
    const offset = header ? 1 : 0;
    if (header) out.push(`${lines[0]}  Process`);
    for (let k = 0; k < n; k++) out.push(lines[k + offset] + extra[k]);
    b.pos = 0;
    b.utf8(out.join('\n') + (out.length ? '\n' : ''));
    return finish();
  }

  const padEnd = (s: string, w: number) => {
    b.utf8(s);
    for (let k = s.length; k < w; k++) b.byte(SPACE);
  };
  const padStart = (v: number, w: number) => {
    for (let k = digits(v); k < w; k++) b.byte(SPACE);
    b.num(v);
  };
  if (header) {
    let c = 0;
    if (layout.netid) padEnd(header[c++], netidW), b.raw(D.sep);
    if (showState) padEnd(header[c++], stateW), b.raw(D.sep);
    for (let k = header[c].length; k < recvW; k++) b.byte(SPACE);
    b.utf8(header[c++]);
    b.raw(D.sep);
    for (let k = header[c].length; k < sendW; k++) b.byte(SPACE);
    b.utf8(header[c++]);
    b.raw(D.sep);
    padEnd(header[c++], localW);
    b.raw(D.sep);
    padEnd(header[c++], peerW);
    b.byte(SPACE);
    b.utf8(header[c]);
    b.byte(NEWLINE);
  }
  // the common line (IPv4, no names, no words after the addresses), written with one bounds check: the Netid
  // and State cells padded once per code, the numbers and addresses digit by digit
  const lineRoom = netidW + stateW + recvW + sendW + localW + peerW + 16;
  const netidCells: Uint8Array[] = [];
  const stateCells: Uint8Array[] = [];
  const plainLines = details.noneForInet;
  for (let k = 0; k < n; k++) {
    const i = rows[k];
    if (plainLines && localCol?.[k] === undefined) {
      if (b.pos + lineRoom > b.buf.length) b.ensure(lineRoom);
      const buf = b.buf;
      let p = b.pos;
      if (layout.netid) p = putCell(buf, p, (netidCells[t.proto[i]] ??= paddedCell(INET_NETID[t.proto[i]], netidW)));
      if (showState) p = putCell(buf, p, (stateCells[t.state[i]] ??= paddedCell(STATE_CELL[t.state[i]], stateW)));
      p = putPadded(buf, p, t.rqueue[i], recvW);
      p = putPadded(buf, p, t.wqueue[i], sendW);
      const at = p;
      p = putV4(buf, p, t.src, i << 4, t.sport[i]);
      while (p - at < localW) buf[p++] = SPACE;
      buf[p++] = SPACE;
      buf[p++] = SPACE;
      p = putV4(buf, p, t.dst, i << 4, t.dport[i]);
      buf[p++] = NEWLINE;
      b.pos = p;
      if (layout.write && p > CHUNK) b.flush(layout.write, layout.drained ?? (() => false));
      continue;
    }
    if (layout.netid) padEnd(netidCell(i), netidW), b.raw(D.sep);
    if (showState) padEnd(STATE_CELL[t.state[i]], stateW), b.raw(D.sep);
    padStart(t.rqueue[i], recvW);
    b.raw(D.sep);
    padStart(t.wqueue[i], sendW);
    b.raw(D.sep);
    let peerEnd: number;
    const local = localCol?.[k];
    if (local === undefined) {
      const at = b.pos;
      b.ensure(21);
      b.pos = putV4(b.buf, b.pos, t.src, i << 4, t.sport[i]);
      for (let w = b.pos - at; w < localW; w++) b.byte(SPACE);
      b.raw(D.sep);
      const pat = b.pos;
      b.ensure(21);
      b.pos = putV4(b.buf, b.pos, t.dst, i << 4, t.dport[i]);
      peerEnd = b.pos;
      for (let w = b.pos - pat; w < peerW; w++) b.byte(SPACE);
    } else {
      const peer = peerCol![k];
      padEnd(local, localW);
      b.raw(D.sep);
      peerEnd = b.pos + Buffer.byteLength(peer);
      padEnd(peer, peerW);
    }
    if (!writeDetails(i, peerEnd)) b.pos = peerEnd;
    b.byte(NEWLINE);
    if (layout.write && b.pos > CHUNK) b.flush(layout.write, layout.drained ?? (() => false));
  }
  return finish();
}

/** lsTableBytes as text (tests). */
export function renderLsTableRows(t: SocketTable, rows: ArrayLike<number>, view: DataView, o: RecordOptions, layout: LsLayout): string {
  return Buffer.from(lsTableBytes(t, rows, view, o, layout)).toString('utf8');
}
