/**
 * `ls --format table`: aligned columns for people, ss's column set and state names, human units in the
 * details (-e -o -i -m -p), made straight from the table's columns and attribute bytes (lsTableBytes). The
 * tcp_info words read the record's tcp_info members (socket-members.ts) by name; test/golden pins the text.
 */
import { formatColumns } from '../text-table.js';
import { PROTO_NAMES, Proto, SOCK_TYPE_NAMES, STATE_KEYS } from '../../diag/constants.js';
import { devMajor, devMinor } from '../../diag/unix.js';
import type { SocketHolders } from '../../procfs/processes.js';
import { UID_UNKNOWN, type SocketTable } from '../../snapshot/table.js';
import { AddressText } from '../text/address-text.js';
import { fragment, JsonBytes, tcpInfoMember, tcpInfoMemberOf, type Fragment, type TcpInfoMember } from './socket-ndjson.js';
import { cookieHex, TCPI_OPTIONS, TIMER_NAMES, type RecordOptions } from './socket-record.js';
import { ABSENT as NO, AttributeIndex } from '../../diag/attribute-index.js';
import { InetAttr, UnixAttr } from '../../diag/constants.js';
import { cString, unixName } from '../text/attribute-text.js';

const SS_STATE: Record<string, string> = {
  established: 'ESTAB', syn_sent: 'SYN-SENT', syn_recv: 'SYN-RECV', fin_wait1: 'FIN-WAIT-1', fin_wait2: 'FIN-WAIT-2',
  time_wait: 'TIME-WAIT', close: 'UNCONN', close_wait: 'CLOSE-WAIT', last_ack: 'LAST-ACK', listen: 'LISTEN', closing: 'CLOSING',
  bound_inactive: 'UNDEF',
};
const UNIX_NETID: Record<string, string> = { stream: 'u_str', dgram: 'u_dgr', seqpacket: 'u_seq' };

/** 1234567 → "1.2M" style, for rates and sizes */
export function human(n: number, unit: string): string {
  const steps: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
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
/** `${r.protocol}${r.socket_type ?? ''}`: the key ls decides the Netid column by */
const UNIX_KEY: readonly string[] = Array.from({ length: 256 }, (_, st) => `unix${SOCK_TYPE_NAMES[st] ?? String(st)}`);

/**
 * Whether ls shows the Netid column: more than one protocol asked for, or the listed sockets are not all of one
 * kind (or there are none): what `new Set(records.map((r) => `${r.protocol}${r.socket_type ?? ''}`)).size !== 1`
 * says of their records.
 */
export function lsShowsNetid(t: SocketTable, rows: readonly number[], protocolsAsked: number): boolean {
  if (protocolsAsked > 1 || rows.length === 0) return true;
  const key = (i: number) => (t.proto[i] === Proto.unix ? UNIX_KEY[t.sockType[i]] : INET_NETID[t.proto[i]]);
  const first = key(rows[0]);
  for (let k = 1; k < rows.length; k++) if (key(rows[k]) !== first) return true;
  return false;
}

const W = (s: string): Fragment => fragment(s);
const OPTION_WORDS: readonly Fragment[] = Array.from({ length: 256 }, (_, v) =>
  W(TCPI_OPTIONS.filter(([bit, n]) => v & bit && n !== 'wscale').map(([, n]) => (n === 'timestamps' ? 'ts' : n)).join(' ')));
const M = (name: string) => tcpInfoMemberOf(name);
const TI = {
  sndWscale: M('snd_wscale'), rcvWscale: M('rcv_wscale'), rto: M('rto_us'), rtt: M('rtt_us'), rttvar: M('rttvar_us'), mss: M('snd_mss'),
  cwnd: M('snd_cwnd'), pacing: M('pacing_rate_bps'), delivery: M('delivery_rate_bps'), retrans: M('retrans'), totalRetrans: M('total_retrans'),
  lost: M('lost'), unacked: M('unacked'), minRtt: M('min_rtt_us'), notsent: M('notsent_bytes'),
};
const TI_BYTES = ['bytes_sent', 'bytes_retrans', 'bytes_acked', 'bytes_received'].map((k) => [W(`${k}:`), M(k)] as const);
const TI_SEGS = ['segs_out', 'segs_in', 'data_segs_out', 'data_segs_in'].map((k) => [W(`${k}:`), M(k)] as const);
const D = {
  timer: W('timer:('), sec: W('sec,'), uid: W('uid:'), ino: W('ino:'), sk: W('sk:'), cgroup: W('cgroup_id:'), v6only: W('v6only:1'),
  dev: W(' dev:'), pending: W('pending:'), wscale: W('wscale:'), rto: W('rto:'), rtt: W('rtt:'), mss: W('mss:'), cwnd: W('cwnd:'),
  pacing: W('pacing_rate '), delivery: W('delivery_rate '), retrans: W('retrans:'), lost: W('lost:'), unacked: W('unacked:'),
  minrtt: W('minrtt:'), notsent: W('notsent:'), undefined: W('undefined'), detailsStart: W('\t '), sep: W('  '),
};
const SKMEM_PREFIX = ['skmem:(r', ',rb', ',t', ',tb', ',f', ',w', ',o', ',bl', ',d'].map(W);
const SPACE = 32;
const NEWLINE = 10;

/** decimal digits of a u32 (String(n).length) */
const digits = (n: number): number => (n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10);

function endpointText(address: string, port: number, host: string | undefined): string {
  if (host) return `${host}:${port === 0 ? '*' : port}`;
  const a = address === '0.0.0.0' || address === '::' ? '*' : address;
  return `${a.includes(':') ? `[${a}]` : a}:${port === 0 ? '*' : port}`;
}

/** Writes details(record) of rows into a JsonBytes: the same words in the same order, separated by spaces. */
class DetailsWriter {
  private readonly scan = new AttributeIndex();
  private readonly attributes: boolean;
  private readonly users: ((inode: number) => string) | undefined;
  private congKey: number[] = [];
  private congName = '';
  /** where the current row's details began (a space goes before every word but the first) */
  private start = 0;

  constructor(private readonly b: JsonBytes, private readonly o: RecordOptions) {
    this.attributes = !!(o.extended || o.info || o.memory);
    const holders = o.processes as (SocketHolders & { ssUsers?: (inode: number) => string }) | undefined;
    this.users = holders && typeof holders.ssUsers === 'function'
      ? (inode) => holders.ssUsers!(inode)
      : holders ? (inode) => {
        const ps = holders.holders(inode);
        return ps.length ? `users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`).join(',')})` : '';
      } : undefined;
  }

  private word(f: Fragment): void {
    if (this.b.pos !== this.start) this.b.byte(SPACE);
    this.b.raw(f);
  }

  private text(s: string): void {
    if (this.b.pos !== this.start) this.b.byte(SPACE);
    this.b.utf8(s);
  }

  /** Write row i's details; returns whether there were any. */
  write(t: SocketTable, i: number, view: DataView): boolean {
    const b = this.b;
    const o = this.o;
    this.start = b.pos;
    const start = t.attrStart[i];
    const end = start + t.attrLength[i];
    if (t.proto[i] === Proto.unix) {
      const { off, len } = this.scan.unix(view, start, end);
      if (o.extended) {
        if (t.uid[i] !== UID_UNKNOWN) this.word(D.uid), b.num(t.uid[i]);
        this.word(D.sk);
        b.ascii(cookieHex(t, i));
        const vfs = off[UnixAttr.VFS];
        if (vfs !== NO) {
          const dev = view.getUint32(vfs + 4, true);
          this.word(D.ino);
          b.num(view.getUint32(vfs, true));
          b.raw(D.dev);
          b.num(devMajor(dev));
          b.byte(58); // :
          b.num(devMinor(dev));
        }
        if (off[UnixAttr.ICONS] !== NO) this.word(D.pending), b.num(len[UnixAttr.ICONS] >> 2);
      }
      if (o.memory && off[UnixAttr.MEMINFO] !== NO) this.skmem(view, off[UnixAttr.MEMINFO], len[UnixAttr.MEMINFO]);
    } else {
      if (o.timers) {
        const name = TIMER_NAMES[t.timer[i]] ?? String(t.timer[i]);
        const expires = t.expires[i];
        if (name !== 'off') {
          this.word(D.timer);
          b.utf8(name);
          b.byte(44); // ,
          b.ascii((expires / 1000).toFixed(expires < 1000 ? 3 : 0));
          b.raw(D.sec);
          b.num(t.retrans[i]);
          b.byte(41); // )
        }
      }
      if (this.attributes) {
        const { off, len } = this.scan.inet(view, start, end);
        if (o.extended) {
          this.word(D.uid);
          b.num(t.uid[i]);
          this.word(D.ino);
          b.num(t.inode[i]);
          this.word(D.sk);
          b.ascii(cookieHex(t, i));
          const cgroup = off[InetAttr.CGROUP_ID];
          if (cgroup !== NO) this.word(D.cgroup), b.num(view.getUint32(cgroup + 4, true) * 0x100000000 + view.getUint32(cgroup, true));
          if (off[InetAttr.SKV6ONLY] !== NO && view.getUint8(off[InetAttr.SKV6ONLY]) !== 0) this.word(D.v6only);
        }
        if (o.memory && off[InetAttr.SKMEMINFO] !== NO) this.skmem(view, off[InetAttr.SKMEMINFO], len[InetAttr.SKMEMINFO]);
        if (o.info) {
          if (off[InetAttr.CONG] !== NO) {
            const cong = this.congestion(view, off[InetAttr.CONG], len[InetAttr.CONG]);
            if (cong) this.text(cong);
          }
          if (off[InetAttr.INFO] !== NO && t.proto[i] === Proto.tcp) this.tcpInfo(view, off[InetAttr.INFO], len[InetAttr.INFO]);
        }
      }
    }
    if (this.users) {
      const users = this.users(t.inode[i]);
      if (users) this.text(users);
    }
    return b.pos !== this.start;
  }

  private skmem(view: DataView, off: number, len: number): void {
    const b = this.b;
    for (let k = 0; k < 9; k++) {
      if (k === 0) this.word(SKMEM_PREFIX[0]);
      else b.raw(SKMEM_PREFIX[k]);
      if (4 * k + 4 <= len) b.num(view.getUint32(off + 4 * k, true));
      else b.raw(D.undefined);
    }
    b.byte(41); // )
  }

  /** String(record.congestion): the name decoded as the decoder does; the last one's text is reused */
  private congestion(view: DataView, off: number, len: number): string {
    const key = this.congKey;
    let same = key.length === len;
    for (let k = 0; same && k < len; k++) same = key[k] === view.getUint8(off + k);
    if (!same) {
      this.congName = cString(view, off, len);
      this.congKey = Array.from({ length: len }, (_, k) => view.getUint8(off + k));
    }
    return this.congName;
  }

  private tcpInfo(view: DataView, off: number, len: number): void {
    const b = this.b;
    if (len >= 6) {
      const words = OPTION_WORDS[view.getUint8(off + 5)];
      if (words.length) this.word(words);
    }
    const n = (m: TcpInfoMember) => tcpInfoMember(view, off, len, m);
    const snd = n(TI.sndWscale);
    if (snd !== undefined) {
      this.word(D.wscale);
      b.num(snd);
      b.byte(44);
      b.num(n(TI.rcvWscale)!); // the same byte: present with snd_wscale
    }
    const rto = n(TI.rto);
    if (rto) this.word(D.rto), msInto(b, rto);
    const rtt = n(TI.rtt);
    if (rtt) {
      this.word(D.rtt);
      msInto(b, rtt);
      b.byte(47); // /
      msInto(b, n(TI.rttvar) ?? 0);
    }
    const mss = n(TI.mss);
    if (mss) this.word(D.mss), b.num(mss);
    const cwnd = n(TI.cwnd);
    if (cwnd) this.word(D.cwnd), b.num(cwnd);
    for (const [k, m] of TI_BYTES) {
      const v = n(m);
      if (v) this.word(k), b.ascii(human(v, 'B'));
    }
    for (const [k, m] of TI_SEGS) {
      const v = n(m);
      if (v) this.word(k), b.num(v);
    }
    const pacing = n(TI.pacing);
    if (pacing) this.word(D.pacing), b.ascii(human(pacing, 'bps'));
    const delivery = n(TI.delivery);
    if (delivery) this.word(D.delivery), b.ascii(human(delivery, 'bps'));
    const retrans = n(TI.retrans);
    const total = n(TI.totalRetrans);
    if (retrans || total) {
      this.word(D.retrans);
      b.num(retrans ?? 0);
      b.byte(47);
      b.num(total ?? 0);
    }
    const lost = n(TI.lost);
    if (lost) this.word(D.lost), b.num(lost);
    const unacked = n(TI.unacked);
    if (unacked) this.word(D.unacked), b.num(unacked);
    const minRtt = n(TI.minRtt);
    if (minRtt) this.word(D.minrtt), msInto(b, minRtt);
    const notsent = n(TI.notsent);
    if (notsent) this.word(D.notsent), b.ascii(human(notsent, 'B'));
  }
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

/**
 * The table of rows as UTF-8, made from the columns: the cells and the detail words directly, laid out as
 * formatColumns lays them out (widths over every row and the
 * header; right-aligned cells padded at the start, left-aligned ones but the last at the end; two spaces
 * between; trailing whitespace trimmed), each socket's details on the line after it.
 */
export function lsTableBytes(t: SocketTable, rows: readonly number[], view: DataView, o: RecordOptions, layout: { header: boolean; netid: boolean }): Uint8Array {
  const n = rows.length;
  const localCol = new Array<string>(n);
  const peerCol = new Array<string>(n);
  const localText = new AddressText();
  const remoteText = new AddressText();
  const scan = new AttributeIndex();
  const header = layout.header ? [...(layout.netid ? ['Netid'] : []), 'State', 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port'] : undefined;
  let netidW = layout.netid && header ? 5 : 0;
  let stateW = header ? 5 : 0;
  let recvW = header ? 6 : 0;
  let sendW = header ? 6 : 0;
  let localW = header ? 18 : 0;
  let peerW = header ? 17 : 0;
  // a cell holding a newline (a unix path, a host name) shifts the lines, and trailing whitespace in the last
  // cell is trimmed: both go through formatColumns
  let awkward = false;
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
    } else {
      if (layout.netid) netidW = Math.max(netidW, INET_NETID[proto].length);
      const fam = t.family[i];
      const la = localText.of(fam, t.src, t.src32, i);
      const ra = remoteText.of(fam, t.dst, t.dst32, i);
      local = endpointText(la, t.sport[i], o.hostName ? o.hostName(la) : undefined);
      peer = endpointText(ra, t.dport[i], o.hostName ? o.hostName(ra) : undefined);
    }
    localCol[k] = local;
    peerCol[k] = peer;
    stateW = Math.max(stateW, STATE_CELL[t.state[i]].length);
    recvW = Math.max(recvW, digits(t.rqueue[i]));
    sendW = Math.max(sendW, digits(t.wqueue[i]));
    if (local.length > localW) localW = local.length;
    if (peer.length > peerW) peerW = peer.length;
    if (!awkward && (local.includes('\n') || peer.includes('\n') || TRAILING_SPACE.test(peer))) awkward = true;
  }

  const b = new JsonBytes(Math.max(1 << 16, n * (o.info ? 400 : 128)));
  const details = new DetailsWriter(b, o);
  if (awkward) {
    // formatColumns over the same cells, with the details made by the same writer
    const cells: string[][] = header ? [header] : [];
    const extra: string[] = [];
    for (let k = 0; k < n; k++) {
      const i = rows[k];
      const unix = t.proto[i] === Proto.unix;
      cells.push([...(layout.netid ? [unix ? UNIX_NETID_CELL[t.sockType[i]] : INET_NETID[t.proto[i]]] : []), STATE_CELL[t.state[i]], `${t.rqueue[i]}`, `${t.wqueue[i]}`, localCol[k], peerCol[k]]);
      b.pos = 0;
      extra.push(details.write(t, i, view) ? b.text() : '');
    }
    const lines = formatColumns(cells, [...(layout.netid ? ['l' as const] : []), 'l', 'r', 'r', 'l', 'l']).split('\n');
    const out: string[] = [];
    const offset = header ? 1 : 0;
    if (header) out.push(lines[0]);
    for (let k = 0; k < n; k++) {
      out.push(lines[k + offset]);
      if (extra[k]) out.push(`\t ${extra[k]}`);
    }
    b.pos = 0;
    b.utf8(out.join('\n') + (out.length ? '\n' : ''));
    return b.take();
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
    padEnd(header[c++], stateW);
    b.raw(D.sep);
    for (let k = header[c].length; k < recvW; k++) b.byte(SPACE);
    b.utf8(header[c++]);
    b.raw(D.sep);
    for (let k = header[c].length; k < sendW; k++) b.byte(SPACE);
    b.utf8(header[c++]);
    b.raw(D.sep);
    padEnd(header[c++], localW);
    b.raw(D.sep);
    b.utf8(header[c]);
    b.byte(NEWLINE);
  }
  for (let k = 0; k < n; k++) {
    const i = rows[k];
    if (layout.netid) padEnd(t.proto[i] === Proto.unix ? UNIX_NETID_CELL[t.sockType[i]] : INET_NETID[t.proto[i]], netidW), b.raw(D.sep);
    padEnd(STATE_CELL[t.state[i]], stateW);
    b.raw(D.sep);
    padStart(t.rqueue[i], recvW);
    b.raw(D.sep);
    padStart(t.wqueue[i], sendW);
    b.raw(D.sep);
    padEnd(localCol[k], localW);
    b.raw(D.sep);
    b.utf8(peerCol[k]);
    b.byte(NEWLINE);
    const mark = b.pos;
    b.raw(D.detailsStart);
    if (details.write(t, i, view)) b.byte(NEWLINE);
    else b.pos = mark;
  }
  return b.take();
}

/** lsTableBytes as text (tests). */
export function renderLsTableRows(t: SocketTable, rows: readonly number[], view: DataView, o: RecordOptions, layout: { header: boolean; netid: boolean }): string {
  return Buffer.from(lsTableBytes(t, rows, view, o, layout)).toString('utf8');
}
