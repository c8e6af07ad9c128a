/**
 * The socket record as JSON, written straight from the table's columns and raw attribute bytes into a byte
 * buffer: exactly the UTF-8 of `JSON.stringify(socketRecord(t, i, view, o))` (same keys in the same order, same
 * omissions, same nulls, same numbers), without building the record, the decoded-attribute objects, the string
 * pieces or the string itself. `ls --format ndjson|json` writes one per socket; socketRecord() stays the
 * reference (and serves -r); test/outputs/socket-ndjson.test.ts holds the two together over the recorded
 * fixtures and random tables.
 *
 * How the reference's semantics are kept:
 *  - attributes are walked as the decoders walk them (socket-scan.ts);
 *  - strings that can hold anything (unix names, congestion names, interface names, host names, process comm)
 *    are escaped as JSON.stringify escapes them; the rest (addresses, cookies, enum names) cannot need it;
 *  - numbers are written as JSON.stringify writes them (Number#toString: plain digits for integers below
 *    2^53, String() for anything else), after the same arithmetic (u64 as hi * 2^32 + lo, rates × 8, BBR
 *    gains / 256).
 */
import { PROTO_NAMES, Proto, SOCK_TYPE_NAMES, STATE_KEYS } from '../diag/constants.js';
import { devMajor, devMinor } from '../diag/unix.js';
import { readTcpInfoAt, TCP_INFO_FIELDS, TCP_INFO_KIND_CODE as KIND, TCP_INFO_KIND_SIZE as SIZE } from '../diag/tcp-info.js';
import type { SocketHolders } from '../procfs/processes.js';
import { UID_UNKNOWN, type SocketTable } from '../snapshot/table.js';
import { AttributeScan, cString, NO, unixName } from './socket-scan.js';
import { AddressText } from './address-text.js';
import { ByteBuffer, encoder, fragment, putU32, type Fragment } from './bytes.js';
import { cookieHex, familyName, MEM_NAMES, TCP_INFO_OUTPUT, TCPI_OPTIONS, TIMER_NAMES, type RecordOptions } from './socket-record.js';

// ---------------------------------------------------------------------------------------------------------
// strings and bytes

export { fragment, type Fragment } from './bytes.js';

const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s) for a string: the same text, without the call when nothing needs escaping. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * ByteBuffer with JSON strings: the buffer socket records are written into (bytes.ts has the generic part).
 */
export class JsonBytes extends ByteBuffer {
  /** JSON.stringify(s), as UTF-8 */
  str(s: string): void {
    const n = s.length;
    if (this.pos + n + 2 > this.buf.length) this.ensure(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x20 || c === 34 || c === 92 || c > 0x7f) return this.escaped(s);
      buf[p++] = c;
    }
    buf[p++] = 34;
    this.pos = p;
  }

  private escaped(s: string): void {
    const j = jsonString(s);
    if (this.pos + 3 * j.length > this.buf.length) this.ensure(3 * j.length);
    this.pos += encoder.encodeInto(j, this.buf.subarray(this.pos)).written;
  }
}

// ---------------------------------------------------------------------------------------------------------
// fragments

const A = fragment;

/** A fragment per u8 column value. */
const fragments = (f: (v: number) => string): readonly Fragment[] => Array.from({ length: 256 }, (_, v) => A(f(v)));
/** `{"protocol":"tcp",` per proto code; `{` when PROTO_NAMES has no entry (the key is then undefined: left out) */
const PROTOCOL_HEAD = fragments((p) => (PROTO_NAMES[p] === undefined ? '{' : `{"protocol":${jsonString(PROTO_NAMES[p])},`));
const STATE_FRAG = fragments((s) => (STATE_KEYS[s] === undefined ? '' : `"state":${jsonString(STATE_KEYS[s])},`));
const FAMILY_FRAG = { ipv4: A('"family":"ipv4",'), ipv6: A('"family":"ipv6",'), unix: A('"family":"unix",') } as const;
const SOCK_TYPE_FRAG = fragments((v) => `,"socket_type":${jsonString(SOCK_TYPE_NAMES[v] ?? String(v))}`);
const TIMER_FRAG = fragments((v) => `,"timer":{"name":${jsonString(TIMER_NAMES[v] ?? String(v))},"expires_ms":`);
const SHUTDOWN_FRAG = [0, 1, 2, 3].map((s) => A(`,"shutdown":{"receive":${(s & 1) !== 0},"send":${(s & 2) !== 0}}`));
/** tcpi_options bits → the `,"options":[...]` member, for every byte value */
const OPTIONS_JSON = (v: number) => JSON.stringify(TCPI_OPTIONS.filter(([bit]) => v & bit).map(([, n]) => n));
const OPTIONS_FRAG = fragments((v) => `,"options":${OPTIONS_JSON(v)}`);
const MEM_KEY = (i: number): string => `"${MEM_NAMES[i] ?? `skmem_${i}`}":`;
const MEM_FIRST = A(`{${MEM_KEY(0)}`);
const MEM_REST: Fragment[] = [];

const F = {
  recvQ: A('"recv_q":'), sendQ: A(',"send_q":'), localAddress: A(',"local_address":"'), localPort: A('","local_port":'),
  remoteAddress: A(',"remote_address":"'), remotePort: A('","remote_port":'), localHost: A(',"local_host":'), remoteHost: A(',"remote_host":'),
  iface: A(',"interface":'), uid: A(',"uid":'), inode: A(',"inode":'), cookie: A(',"cookie":"'), v6true: A(',"v6only":true'),
  v6false: A(',"v6only":false'), cgroup: A(',"cgroup_id":'), mark: A(',"mark":'), tos: A(',"tos":'), tclass: A(',"tclass":'),
  classId: A(',"class_id":'), ipProtocol: A(',"ip_protocol":'), retransmits: A(',"retransmits":'), tcpInfo: A(',"tcp_info":'),
  congestion: A(',"congestion":'), bbr: A(',"bbr":{"bandwidth_bps":'), minRttUs: A(',"min_rtt_us":'), pacingGain: A(',"pacing_gain":'),
  cwndGain: A(',"cwnd_gain":'), dctcp: A(',"dctcp":{"enabled":'), ceState: A(',"ce_state":'), alpha: A(',"alpha":'), abEcn: A(',"ab_ecn":'),
  abTot: A(',"ab_tot":'), vegas: A(',"vegas":{"enabled":'), rttCount: A(',"rtt_count":'), rttUs: A(',"rtt_us":'), memory: A(',"memory":'),
  queueMemory: A(',"queue_memory":{"rmem":'), wmem: A(',"wmem":'), fmem: A(',"fmem":'), tmem: A(',"tmem":'), processes: A(',"processes":'),
  path: A(',"path":'), null: A('null'), peerInode: A(',"peer_inode":'), vfs: A(',"vfs":{"inode":'), device: A(',"device":"'),
  pending: A(',"pending_connections":'), infoBytes: A(',"info_bytes":'), infoBytesFirst: A('{"info_bytes":'), emptyList: A('[]'), emptyObject: A('{}'),
  pid: A('{"pid":'), nextPid: A(',{"pid":'), comm: A(',"comm":'), fd: A(',"fd":'),
};
const QUOTE = 34;
const CLOSE = 125; // }
const COMMA = 44;
const COLON = 58;

/** the u32 list at [off, off+len) as a JSON array */
function u32List(b: JsonBytes, view: DataView, off: number, len: number): void {
  b.byte(91); // [
  for (let k = 0; k + 4 <= len; k += 4) {
    if (k) b.byte(COMMA);
    b.num(view.getUint32(off + k, true));
  }
  b.byte(93); // ]
}

/** socket-record's memoryRecord of the u32 list at [off, off+len) */
function memory(b: JsonBytes, view: DataView, off: number, len: number): void {
  if (len < 4) return b.raw(F.emptyObject);
  for (let k = 0, i = 0; k + 4 <= len; k += 4, i++) {
    b.raw(i === 0 ? MEM_FIRST : (MEM_REST[i] ??= A(`,${MEM_KEY(i)}`)));
    b.num(view.getUint32(off + k, true));
  }
  b.byte(CLOSE);
}

// ---------------------------------------------------------------------------------------------------------
// tcp_info

const SPECIAL_NONE = 0;
const SPECIAL_MIN_RTT = 1;
const SPECIAL_WSCALE = 2;

interface OutField {
  /** `,"name":` */
  rest: Fragment;
  /** `{"name":` (when it is the first member) */
  first: Fragment;
  offset: number;
  /** offset + size: the field is present when the kernel sent at least this many bytes */
  end: number;
  kind: number;
  scale: number;
  special: number;
}

const OUT_FIELDS: readonly OutField[] = TCP_INFO_OUTPUT.map(({ field, name, scale }) => ({
  rest: A(`,"${name}":`), first: A(`{"${name}":`), offset: field.offset, end: field.offset + SIZE[field.kind], kind: KIND[field.kind], scale,
  special: field.name === 'min_rtt' ? SPECIAL_MIN_RTT : field.name === 'snd_wscale' || field.name === 'rcv_wscale' ? SPECIAL_WSCALE : SPECIAL_NONE,
}));
const OPTIONS_OFFSET = TCP_INFO_FIELDS[5].offset;
const OUT_BY_NAME = new Map(TCP_INFO_OUTPUT.map(({ name }, k) => [name, OUT_FIELDS[k]]));

/** A tcp_info member by output name (rtt_us, pacing_rate_bps), for tcpInfoMember(). */
export type TcpInfoMember = OutField;
export function tcpInfoMemberOf(name: string): TcpInfoMember {
  const f = OUT_BY_NAME.get(name);
  if (!f) throw new Error(`no tcp_info member '${name}'`);
  return f;
}

/**
 * One tcp_info member as tcpInfoRecord has it (scaled), or undefined when the record leaves it out: past the
 * length the kernel sent, ~0 for a u64 ("unlimited"), min_rtt unset, wscale without the wscale option.
 */
export function tcpInfoMember(view: DataView, off: number, len: number, f: TcpInfoMember): number | undefined {
  if (f.end > len) return undefined;
  const at = off + f.offset;
  const v = readTcpInfoAt(view, at, f.kind);
  if (v === Infinity) return undefined; // a u64's ~0
  if (f.special === SPECIAL_MIN_RTT && v === 0xffffffff) return undefined;
  // wscale lies at offset 6, so the options byte (5) is there
  if (f.special === SPECIAL_WSCALE && !(view.getUint8(off + OPTIONS_OFFSET) & 4)) return undefined;
  return f.scale === 1 ? v : v * f.scale;
}

/** Bytes enough for any tcp_info member list: every member at its longest, the options, info_bytes. */
const TCP_INFO_ROOM = OUT_FIELDS.reduce((n, f) => n + f.first.words.length * 4 + 24, 0) + 256;

/** socket-record's tcpInfoRecord(view, off, len) as JSON, into b. */
function tcpInfo(b: JsonBytes, view: DataView, off: number, len: number): void {
  b.ensure(TCP_INFO_ROOM);
  let buf = b.buf;
  let dv = b.view();
  let p = b.pos;
  let started = false;
  for (let k = 0; k < OUT_FIELDS.length; k++) {
    const f = OUT_FIELDS[k];
    if (f.end > len) break; // fields are in offset order
    const v = tcpInfoMember(view, off, len, f);
    if (v === undefined) continue;
    const pre = started ? f.rest : f.first;
    started = true;
    const words = pre.words;
    for (let j = 0; j < words.length; j++) dv.setInt32(p + 4 * j, words[j], true);
    p += pre.length;
    if (v >>> 0 === v) {
      p = putU32(buf, p, v);
    } else {
      b.pos = p;
      b.num(v);
      p = b.pos;
      buf = b.buf;
      dv = b.view();
    }
  }
  b.pos = p;
  if (len > OPTIONS_OFFSET) {
    const frag = OPTIONS_FRAG[view.getUint8(off + OPTIONS_OFFSET)];
    if (started) b.raw(frag);
    else b.utf8(`{"options":${OPTIONS_JSON(view.getUint8(off + OPTIONS_OFFSET))}`); // (unreachable: ca_state comes first)
    started = true;
  }
  b.raw(started ? F.infoBytes : F.infoBytesFirst);
  b.num(len);
  b.byte(CLOSE);
}

const scratch = new JsonBytes(4096);

/** JSON.stringify(tcpInfoRecord(view, off, len)), for tests. */
export function tcpInfoJson(view: DataView, off: number, len: number): string {
  scratch.pos = 0;
  tcpInfo(scratch, view, off, len);
  return scratch.text();
}

// ---------------------------------------------------------------------------------------------------------
// the record

/**
 * Writes socket records as JSON into `bytes` (append), or returns one as text (write). One writer per set of
 * options; it keeps small caches (the last addresses, the last congestion name).
 */
export class SocketJsonWriter {
  readonly bytes = new JsonBytes();
  private readonly o: RecordOptions;
  private readonly attributes: boolean;
  private readonly holders: SocketHolders | undefined;
  private readonly holdersJson: ((inode: number) => string) | undefined;
  private readonly scan = new AttributeScan();
  private readonly local = new AddressText();
  private readonly remote = new AddressText();
  // the last congestion control name: its bytes, and its member's bytes
  private congKey: number[] = [];
  private congFrag: Fragment = A('');

  constructor(o: RecordOptions) {
    this.o = o;
    this.attributes = !!(o.extended || o.info || o.memory);
    this.holders = o.processes;
    const p = o.processes as (SocketHolders & { holdersJson?: (inode: number) => string }) | undefined;
    this.holdersJson = p && typeof p.holdersJson === 'function' ? (inode) => p.holdersJson!(inode) : undefined;
  }

  /** JSON.stringify(socketRecord(t, i, view, o)). `view` is t.arenaView(). */
  write(t: SocketTable, i: number, view: DataView): string {
    return this.bytes.written(() => this.append(t, i, view));
  }

  /** Append the UTF-8 of JSON.stringify(socketRecord(t, i, view, o)) to this.bytes. */
  append(t: SocketTable, i: number, view: DataView): void {
    const proto = t.proto[i];
    if (proto === Proto.unix) return this.unix(t, i, view);
    const b = this.bytes;
    const o = this.o;
    const fam = t.family[i];
    b.raw(PROTOCOL_HEAD[proto]);
    b.raw(FAMILY_FRAG[familyName(fam, proto)]);
    b.raw(STATE_FRAG[t.state[i]]);
    b.raw(F.recvQ);
    b.num(t.rqueue[i]);
    b.raw(F.sendQ);
    b.num(t.wqueue[i]);
    const local = this.local.of(fam, t.src, t.src32, i);
    const remote = this.remote.of(fam, t.dst, t.dst32, i);
    b.raw(F.localAddress);
    b.ascii(local);
    b.raw(F.localPort);
    b.num(t.sport[i]);
    b.raw(F.remoteAddress);
    b.ascii(remote);
    b.raw(F.remotePort);
    b.num(t.dport[i]);
    if (o.hostName) {
      const lh = o.hostName(local);
      const rh = o.hostName(remote);
      if (lh) b.raw(F.localHost), b.str(lh);
      if (rh) b.raw(F.remoteHost), b.str(rh);
    }
    const ifindex = t.ifindex[i];
    if (ifindex !== 0) {
      b.raw(F.iface);
      b.str(o.interfaceName?.(ifindex) ?? String(ifindex));
    }
    if (this.attributes) this.inetAttributes(t, i, view, proto);
    else if (o.timers) this.timer(t, i);
    if (this.holders) this.processes(t.inode[i]);
    b.byte(CLOSE);
  }

  private timer(t: SocketTable, i: number): void {
    const b = this.bytes;
    b.raw(TIMER_FRAG[t.timer[i]]);
    b.num(t.expires[i]);
    b.raw(F.retransmits);
    b.num(t.retrans[i]);
    b.byte(CLOSE);
  }

  /** The -e / -o / -i / -m members of an inet socket, from one walk of its attributes. */
  private inetAttributes(t: SocketTable, i: number, view: DataView, proto: number): void {
    const a = this.scan.inet(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]);
    const o = this.o;
    const b = this.bytes;
    if (o.extended) {
      b.raw(F.uid);
      b.num(t.uid[i]);
      b.raw(F.inode);
      b.num(t.inode[i]);
      b.raw(F.cookie);
      b.ascii(cookieHex(t, i));
      b.byte(QUOTE);
      if (a.v6only !== NO) b.raw(a.v6only ? F.v6true : F.v6false);
      if (a.shutdown !== NO) b.raw(SHUTDOWN_FRAG[a.shutdown & 3]);
      if (a.cgroup === a.cgroup) b.raw(F.cgroup), b.num(a.cgroup); // (not NaN)
      if (a.mark !== NO) b.raw(F.mark), b.num(a.mark);
      if (a.tos !== NO) b.raw(F.tos), b.num(a.tos);
      if (a.tclass !== NO) b.raw(F.tclass), b.num(a.tclass);
      if (a.classId !== NO) b.raw(F.classId), b.num(a.classId);
      if (a.ipProtocol !== NO) b.raw(F.ipProtocol), b.num(a.ipProtocol);
    }
    if (o.timers) this.timer(t, i);
    if (o.info) {
      if (a.infoOff !== NO && proto === Proto.tcp) {
        b.raw(F.tcpInfo);
        tcpInfo(b, view, a.infoOff, a.infoLen);
      }
      if (a.congOff !== NO) this.congestion(view, a.congOff, a.congLen);
      const bbr = a.bbrOff;
      if (bbr !== NO) {
        b.raw(F.bbr);
        b.num((view.getUint32(bbr + 4, true) * 0x100000000 + view.getUint32(bbr, true)) * 8);
        b.raw(F.minRttUs);
        b.num(view.getUint32(bbr + 8, true));
        b.raw(F.pacingGain);
        b.num(view.getUint32(bbr + 12, true) / 256);
        b.raw(F.cwndGain);
        b.num(view.getUint32(bbr + 16, true) / 256);
        b.byte(CLOSE);
      }
      const dctcp = a.dctcpOff;
      if (dctcp !== NO) {
        b.raw(F.dctcp);
        b.num(view.getUint16(dctcp, true));
        b.raw(F.ceState);
        b.num(view.getUint16(dctcp + 2, true));
        b.raw(F.alpha);
        b.num(view.getUint32(dctcp + 4, true));
        b.raw(F.abEcn);
        b.num(view.getUint32(dctcp + 8, true));
        b.raw(F.abTot);
        b.num(view.getUint32(dctcp + 12, true));
        b.byte(CLOSE);
      }
      const vegas = a.vegasOff;
      if (vegas !== NO) {
        b.raw(F.vegas);
        b.num(view.getUint32(vegas, true));
        b.raw(F.rttCount);
        b.num(view.getUint32(vegas + 4, true));
        b.raw(F.rttUs);
        b.num(view.getUint32(vegas + 8, true));
        b.raw(F.minRttUs);
        b.num(view.getUint32(vegas + 12, true));
        b.byte(CLOSE);
      }
    }
    if (o.memory) {
      if (a.skmemOff !== NO) b.raw(F.memory), memory(b, view, a.skmemOff, a.skmemLen);
      const m = a.meminfoOff;
      if (m !== NO) {
        b.raw(F.queueMemory);
        b.num(view.getUint32(m, true));
        b.raw(F.wmem);
        b.num(view.getUint32(m + 4, true));
        b.raw(F.fmem);
        b.num(view.getUint32(m + 8, true));
        b.raw(F.tmem);
        b.num(view.getUint32(m + 12, true));
        b.byte(CLOSE);
      }
    }
  }

  /** `,"congestion":"cubic"`, or nothing for an empty name; the last name's bytes are reused. */
  private congestion(view: DataView, off: number, len: number): void {
    const key = this.congKey;
    let same = key.length === len;
    for (let k = 0; same && k < len; k++) same = key[k] === view.getUint8(off + k);
    if (!same) {
      const name = cString(view, off, len);
      this.congFrag = A(name ? `,"congestion":${jsonString(name)}` : '');
      this.congKey = Array.from({ length: len }, (_, k) => view.getUint8(off + k));
    }
    this.bytes.raw(this.congFrag);
  }

  private unix(t: SocketTable, i: number, view: DataView): void {
    const a = this.scan.unix(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]);
    const o = this.o;
    const b = this.bytes;
    b.raw(PROTOCOL_HEAD[Proto.unix]);
    b.raw(FAMILY_FRAG.unix);
    b.raw(STATE_FRAG[t.state[i]]);
    b.raw(F.recvQ);
    b.num(t.rqueue[i]);
    b.raw(F.sendQ);
    b.num(t.wqueue[i]);
    b.raw(SOCK_TYPE_FRAG[t.sockType[i]]);
    b.raw(F.path);
    if (a.nameOff === NO) b.raw(F.null);
    else b.str(unixName(view, a.nameOff, a.nameLen));
    b.raw(F.inode);
    b.num(t.inode[i]);
    b.raw(F.peerInode);
    if (a.peer === NO) b.raw(F.null);
    else b.num(a.peer);
    if (o.extended) {
      if (t.uid[i] !== UID_UNKNOWN) b.raw(F.uid), b.num(t.uid[i]);
      b.raw(F.cookie);
      b.ascii(cookieHex(t, i));
      b.byte(QUOTE);
      if (a.vfsOff !== NO) {
        const dev = view.getUint32(a.vfsOff + 4, true);
        b.raw(F.vfs);
        b.num(view.getUint32(a.vfsOff, true));
        b.raw(F.device);
        b.num(devMajor(dev));
        b.byte(COLON);
        b.num(devMinor(dev));
        b.byte(QUOTE);
        b.byte(CLOSE);
      }
      if (a.iconsOff !== NO) b.raw(F.pending), u32List(b, view, a.iconsOff, a.iconsLen);
      if (a.shutdown !== NO) b.raw(SHUTDOWN_FRAG[a.shutdown & 3]);
    }
    if (o.memory && a.skmemOff !== NO) b.raw(F.memory), memory(b, view, a.skmemOff, a.skmemLen);
    if (this.holders) this.processes(t.inode[i]);
    b.byte(CLOSE);
  }

  /** `,"processes":[...]`: JSON.stringify(holders.holders(inode)) */
  private processes(inode: number): void {
    const b = this.bytes;
    b.raw(F.processes);
    if (this.holdersJson) return b.utf8(this.holdersJson(inode));
    const list = this.holders!.holders(inode);
    if (list.length === 0) return b.raw(F.emptyList);
    b.byte(91);
    for (let k = 0; k < list.length; k++) {
      const h = list[k];
      b.raw(k === 0 ? F.pid : F.nextPid);
      b.num(h.pid);
      b.raw(F.comm);
      b.str(h.comm);
      b.raw(F.fd);
      b.num(h.fd);
      b.byte(CLOSE);
    }
    b.byte(93);
  }
}

/** One record's text with a throwaway writer (tests, one-off callers; a listing keeps one writer). */
export function socketJson(t: SocketTable, i: number, view: DataView, o: RecordOptions): string {
  return new SocketJsonWriter(o).write(t, i, view);
}
