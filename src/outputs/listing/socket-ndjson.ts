/**
 * The socket record as JSON, written straight from the table's columns and raw attribute bytes into a byte
 * buffer, by interpreting the member table (socket-members.ts): each family's members are compiled once into a
 * program of small ops with their key fragments, as OUT_FIELDS is for tcp_info, and each row runs the program.
 * No record, no decoded-attribute objects, no string pieces. `ls --format json|ndjson` writes one per socket;
 * socketRecord() is this writer's text parsed.
 *
 * The output is the JSON text JSON.stringify would give of the same record (test/outputs/socket-ndjson.test.ts
 * parses and re-serializes it over the recorded fixtures and random tables):
 *  - attributes are found by one AttributeIndex walk (src/diag/attribute-index.ts: the decoders' rules);
 *  - strings that can hold anything (unix names, congestion names, interface names, host names, process comm)
 *    are escaped as JSON.stringify escapes them; the rest (addresses, cookies, enum names) cannot need it;
 *  - numbers are written as JSON.stringify writes them (Number#toString), after the member table's arithmetic
 *    (u64 as hi * 2^32 + lo, scales).
 */
import { AF_INET6, PROTO_NAMES, Proto, SOCK_TYPE_NAMES, STATE_KEYS } from '../../diag/constants.js';
import { ABSENT, AttributeIndex } from '../../diag/attribute-index.js';
import { devMajor, devMinor } from '../../diag/unix.js';
import type { SocketHolders } from '../../procfs/processes.js';
import { UID_UNKNOWN, type SocketTable } from '../../snapshot/table.js';
import { cString, unixName } from '../text/attribute-text.js';
import { AddressText } from '../text/address-text.js';
import { fragment, FragmentTable, type Fragment } from '../text/bytes.js';
import { JsonBytes, jsonString } from '../text/json-bytes.js';
import { tcpInfo } from './tcp-info-json.js';
import { INET_MEMBERS, MEM_NAMES, TIMER_NAMES, UNIX_MEMBERS, type Section, type SocketMember } from './socket-members.js';
import type { RecordOptions } from './socket-record.js';

export { fragment, type Fragment } from '../text/bytes.js';
export { JsonBytes, jsonString } from '../text/json-bytes.js';
export { tcpInfoJson, tcpInfoMember, tcpInfoMemberOf, type TcpInfoMember } from './tcp-info-json.js';

// ---------------------------------------------------------------------------------------------------------
// fragments

const A = fragment;

/** A fragment per u8 column value (made on first use). */
const fragments = (f: (v: number) => string): FragmentTable => new FragmentTable(f);
const MEM_KEY = (i: number): string => `"${MEM_NAMES[i] ?? `skmem_${i}`}":`;
const MEM_FIRST = A(`{${MEM_KEY(0)}`);
const MEM_REST: Fragment[] = [];

const F = {
  null: A('null'),
  infoBytes: A(',"info_bytes":'),
  infoBytesFirst: A('{"info_bytes":'),
  emptyList: A('[]'),
  emptyObject: A('{}'),
  pid: A('{"pid":'),
  nextPid: A(',{"pid":'),
  comm: A(',"comm":'),
  fd: A(',"fd":'),
  retransmits: A(',"retransmits":'),
  v6true: A('true'),
  v6false: A('false'),
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

/** SK_MEMINFO_* u32s at [off, off+len) under their names (skmem_N past the known ones) */
function memory(b: JsonBytes, view: DataView, off: number, len: number): void {
  if (len < 4) {
    b.raw(F.emptyObject);
    return;
  }
  for (let k = 0, i = 0; k + 4 <= len; k += 4, i++) {
    b.raw(i === 0 ? MEM_FIRST : (MEM_REST[i] ??= A(`,${MEM_KEY(i)}`)));
    b.num(view.getUint32(off + k, true));
  }
  b.byte(CLOSE);
}

// ---------------------------------------------------------------------------------------------------------
// the record: the member table compiled into a program per family

const SECTION_BIT: Readonly<Record<Section, number>> = {
  always: 1,
  names: 2,
  bound: 4,
  extended: 8,
  timers: 16,
  info: 32,
  memory: 64,
  processes: 128,
  netns: 256,
};

const OP = {
  head: 0,
  u32Column: 1,
  address: 2,
  host: 3,
  iface: 4,
  cookie: 5,
  timer: 6,
  bool: 7,
  shutdown: 8,
  u8: 9,
  u32: 10,
  u64: 11,
  struct: 12,
  cString: 13,
  unixName: 14,
  nullableU32: 15,
  u32List: 16,
  skmem: 17,
  vfs: 18,
  tcpInfo: 19,
  processes: 20,
  textColumn: 21,
  /** the head's text members (protocol, family, state) fused, with the first number after them */
  heads: 22,
} as const;

type Column = 'proto' | 'family' | 'state' | 'rqueue' | 'wqueue' | 'sport' | 'dport' | 'uid' | 'inode' | 'sockType' | 'ifindex';
const COLUMNS: readonly Column[] = ['proto', 'family', 'state', 'rqueue', 'wqueue', 'sport', 'dport', 'uid', 'inode', 'sockType', 'ifindex'];

/** A column's value by its index in COLUMNS: one property load per case, not a keyed lookup. */
function columnValue(t: SocketTable, column: number, i: number): number {
  switch (column) {
    case 0:
      return t.proto[i];
    case 1:
      return t.family[i];
    case 2:
      return t.state[i];
    case 3:
      return t.rqueue[i];
    case 4:
      return t.wqueue[i];
    case 5:
      return t.sport[i];
    case 6:
      return t.dport[i];
    case 7:
      return t.uid[i];
    case 8:
      return t.inode[i];
    case 9:
      return t.sockType[i];
    default:
      return t.ifindex[i];
  }
}

interface StructOut {
  frag: Fragment;
  at: number;
  kind: string;
  scale: number;
}
const NO_TEXTS = new FragmentTable(() => '');
const NO_FIELDS: readonly StructOut[] = [];
/** a text column of the record's head: its column and its member's text for a value (with its key and comma) */
interface HeadPart {
  column: number;
  text: (v: number, proto: number) => string;
}
const NO_HEADS: readonly HeadPart[] = [];

/** One compiled member. Every instruction has every field (one object shape: the loop's loads stay monomorphic). */
class Instr {
  op = 0;
  section = 0;
  /** the member's name as JSON text (quoted) */
  key = '';
  /** `,"key":` (or, for the members before the first number, `"key":…,` per value) */
  frag: Fragment = A('');
  /** per-value fragments of a text column (a u8 code → its whole member) */
  texts: FragmentTable = NO_TEXTS;
  /** the column (index in COLUMNS), -1 for none */
  column = -1;
  /** the address column: 0 src (local), 1 dst (remote) */
  side = 0;
  attr = ABSENT;
  /** a column value meaning "no member" (the unix uid column's unknown), -1 for none */
  absentIf = -1;
  fields: readonly StructOut[] = NO_FIELDS;
  /** a u32 column written right after this member (its key in `next`), -1 for none: one instruction, not two */
  nextColumn = -1;
  next: Fragment = A('');
  /** OP.heads: the fused text columns (indexes in COLUMNS, the family column as familyName's) and their texts */
  heads: readonly HeadPart[] = NO_HEADS;
  /**
   * OP.heads: the fused text per combination of the head columns' values (a listing meets a handful), keyed by
   * the values as base-256 digits: the head's columns (proto, family, state) are u8 columns (table.ts's U8)
   */
  headTexts: Map<number, Fragment> = new Map();

  constructor(o: Partial<Omit<Instr, 'column' | 'side' | 'nextColumn' | 'next' | 'headTexts'>> & { column?: Column; side?: 'src' | 'dst' }) {
    if (o.op !== undefined) this.op = o.op;
    if (o.section !== undefined) this.section = o.section;
    if (o.key !== undefined) this.key = o.key;
    if (o.frag !== undefined) this.frag = o.frag;
    if (o.texts !== undefined) this.texts = o.texts;
    if (o.column !== undefined) this.column = COLUMNS.indexOf(o.column);
    if (o.side !== undefined) this.side = o.side === 'src' ? 0 : 1;
    if (o.attr !== undefined) this.attr = o.attr;
    if (o.absentIf !== undefined) this.absentIf = o.absentIf;
    if (o.fields !== undefined) this.fields = o.fields;
    if (o.heads !== undefined) this.heads = o.heads;
  }
}

function compile(members: readonly SocketMember[]): Instr[] {
  let first = true;
  // members another command adds to the record (ls --all-netns) are not the writer's
  return fuse(members.filter((m) => m.from.kind !== 'added').map((m) => new Instr(instruction(m))));

  function instruction(m: SocketMember): ConstructorParameters<typeof Instr>[0] {
    const section = SECTION_BIT[m.when];
    const f = m.from;
    const key = JSON.stringify(m.key);
    const frag = A(`${first ? '' : ','}${key}:`);
    const base = { section, frag, key, attr: 'attr' in f ? f.attr : ABSENT };
    if (f.kind === 'column' && f.text && f.text !== 'interface') {
      // the members before the first number: each value's fragment holds its key and a trailing comma, as a
      // member whose name is unknown (undefined: left out) must leave no comma behind
      if (f.text === 'socket_type') {
        return { ...base, op: OP.textColumn, column: f.column, texts: fragments((v) => `,${key}:${jsonString(SOCK_TYPE_NAMES[v] ?? String(v))}`) };
      }
      const text: HeadPart['text'] =
        f.text === 'protocol'
          ? (p) => (PROTO_NAMES[p] === undefined ? '{' : `{${key}:${jsonString(PROTO_NAMES[p])},`)
          : f.text === 'state'
            ? (v) => (STATE_KEYS[v] === undefined ? '' : `${key}:${jsonString(STATE_KEYS[v])},`)
            : (v, proto) => `${key}:"${familyName(v, proto)}",`;
      return { ...base, op: OP.head, column: f.column, heads: [{ column: COLUMNS.indexOf(f.column), text }] };
    }
    first = false;
    switch (f.kind) {
      case 'column':
        if (f.text === 'interface') return { ...base, op: OP.iface, column: f.column };
        return { ...base, op: OP.u32Column, column: f.column, absentIf: m.on === 'unix' && f.column === 'uid' ? UID_UNKNOWN : -1 };
      case 'address':
        return { ...base, op: OP.address, frag: A(`,${key}:"`), side: f.column };
      case 'host':
        return { ...base, op: OP.host, side: f.column };
      case 'cookie':
        return { ...base, op: OP.cookie, frag: A(`,${key}:"`) };
      case 'timer':
        return { ...base, op: OP.timer, texts: fragments((v) => `,${key}:{"name":${jsonString(TIMER_NAMES[v] ?? String(v))},"expires_ms":`) };
      case 'scalar':
        if (f.read === 'shutdown') return { ...base, op: OP.shutdown, texts: fragments((v) => `,${key}:{"receive":${(v & 1) !== 0},"send":${(v & 2) !== 0}}`) };
        return { ...base, op: OP[f.read] };
      case 'struct':
        return {
          ...base,
          op: OP.struct,
          fields: f.fields.map((x, k) => ({ frag: A(`${k === 0 ? `,${key}:{` : ','}${JSON.stringify(x.key)}:`), at: x.at, kind: x.kind, scale: x.scale ?? 1 })),
        };
      case 'name':
        return { ...base, op: f.decode === 'unixName' ? OP.unixName : OP.cString };
      case 'nullableU32':
        return { ...base, op: OP.nullableU32 };
      case 'u32List':
        return { ...base, op: OP.u32List };
      case 'skmem':
        return { ...base, op: OP.skmem };
      case 'vfs':
        return { ...base, op: OP.vfs, frag: A(`,${key}:{"inode":`) };
      case 'tcpInfo':
        return { ...base, op: OP.tcpInfo };
      case 'processes':
        return { ...base, op: OP.processes };
      default:
        throw new Error(`socket member ${m.key}: unknown source ${(f as { kind: string }).kind}`);
    }
  }
}

/** a fragment's text back (compile time only) */
const fragmentText = (f: Fragment): string => new TextDecoder().decode(new Uint8Array(f.words.buffer, f.words.byteOffset, f.length));

/**
 * The compiled members with the record's per-row constant text joined: the head's text members (protocol,
 * family, state: their values' texts) into one OP.heads instruction, whose text per combination of values is
 * made once; and a u32 column after the head or after an address (recv_q, the ports) into the instruction
 * before it, its key written with that instruction's text (the address's closing quote and the port's key as
 * one fragment).
 */
function fuse(program: Instr[]): Instr[] {
  const out: Instr[] = [];
  for (let k = 0; k < program.length; k++) {
    let x = program[k];
    if (x.op === OP.head) {
      const heads: HeadPart[] = [];
      for (; k < program.length && program[k].op === OP.head; k++) heads.push(...program[k].heads);
      if (heads.length > 3) throw new Error('socket members: more than 3 text columns in the head (its key is 3 u8 values)');
      x = new Instr({ op: OP.heads, section: x.section, key: x.key, heads });
      k--;
    }
    const after = program[k + 1];
    const joins = (x.op === OP.heads || x.op === OP.address) && after?.op === OP.u32Column && after.absentIf === -1 && after.section === x.section;
    if (joins) {
      const text = fragmentText(after.frag);
      x.nextColumn = after.column;
      // an address closes its quote before the number's key
      x.next = A(`${x.op === OP.address ? '"' : ''}${text}`);
      k++;
    }
    out.push(x);
  }
  return out;
}

const INET_PROGRAM = compile(INET_MEMBERS);
const UNIX_PROGRAM = compile(UNIX_MEMBERS);
/** ops that read attributes: a row whose program has none enabled is written without walking them */
const READS_ATTRIBUTES = new Set<number>([
  OP.bool,
  OP.shutdown,
  OP.u8,
  OP.u32,
  OP.u64,
  OP.struct,
  OP.cString,
  OP.unixName,
  OP.nullableU32,
  OP.u32List,
  OP.skmem,
  OP.vfs,
  OP.tcpInfo,
]);
const DEVICE = A(',"device":"');

/**
 * Writes socket records as JSON into `bytes` (append), or returns one as text (write). One writer per set of
 * options; it keeps small caches (the last addresses, the last congestion name).
 */
export class SocketJsonWriter {
  readonly bytes = new JsonBytes();
  private readonly o: RecordOptions;
  private readonly inet: readonly Instr[];
  private readonly unix: readonly Instr[];
  private readonly inetAttributes: boolean;
  private readonly holders: SocketHolders | undefined;
  private readonly holdersJson: ((inode: number) => string) | undefined;
  private readonly index = new AttributeIndex();
  private readonly local = new AddressText();
  private readonly remote = new AddressText();
  private localText = '';
  private remoteText = '';
  // the last congestion control name: its bytes, and its member's bytes
  private congKey: number[] = [];
  private congFrag: Fragment = A('');

  constructor(o: RecordOptions) {
    this.o = o;
    const on =
      SECTION_BIT.always |
      SECTION_BIT.bound |
      (o.hostName ? SECTION_BIT.names : 0) |
      (o.extended ? SECTION_BIT.extended : 0) |
      (o.timers ? SECTION_BIT.timers : 0) |
      (o.info ? SECTION_BIT.info : 0) |
      (o.memory ? SECTION_BIT.memory : 0) |
      (o.processes ? SECTION_BIT.processes : 0);
    this.inet = INET_PROGRAM.filter((x) => x.section & on);
    this.unix = UNIX_PROGRAM.filter((x) => x.section & on);
    this.inetAttributes = this.inet.some((x) => READS_ATTRIBUTES.has(x.op));
    this.holders = o.processes;
    const p = o.processes as (SocketHolders & { holdersJson?: (inode: number) => string }) | undefined;
    this.holdersJson = p && typeof p.holdersJson === 'function' ? (inode) => p.holdersJson!(inode) : undefined;
  }

  /** One record's JSON text. `view` is t.arenaView(). */
  write(t: SocketTable, i: number, view: DataView): string {
    return this.bytes.written(() => this.append(t, i, view));
  }

  /** Append row i's record, as UTF-8 JSON, to this.bytes. */
  append(t: SocketTable, i: number, view: DataView): void {
    const unix = t.proto[i] === Proto.unix;
    const program = unix ? this.unix : this.inet;
    const idx = this.index;
    const start = t.attrStart[i];
    if (unix) idx.unix(view, start, start + t.attrLength[i]);
    else if (this.inetAttributes) idx.inet(view, start, start + t.attrLength[i]);
    const off = idx.off;
    const len = idx.len;
    const b = this.bytes;
    for (let k = 0; k < program.length; k++) {
      const x = program[k];
      switch (x.op) {
        case OP.heads: {
          const heads = x.heads;
          let v = 0;
          for (let h = heads.length - 1; h >= 0; h--) v = v * 256 + columnValue(t, heads[h].column, i);
          b.raw(x.headTexts.get(v) ?? this.headText(x, t, i, v));
          if (x.nextColumn >= 0) b.num(columnValue(t, x.nextColumn, i));
          break;
        }
        case OP.textColumn:
          b.raw(x.texts.at(columnValue(t, x.column, i)));
          break;
        case OP.u32Column: {
          const v = columnValue(t, x.column, i);
          if (v !== x.absentIf) b.raw(x.frag), b.num(v);
          break;
        }
        case OP.address: {
          const text =
            x.side === 0
              ? (this.localText = this.local.of(t.family[i], t.src, t.src32, i))
              : (this.remoteText = this.remote.of(t.family[i], t.dst, t.dst32, i));
          b.raw(x.frag);
          b.ascii(text);
          if (x.nextColumn >= 0) b.raw(x.next), b.num(columnValue(t, x.nextColumn, i));
          else b.byte(QUOTE);
          break;
        }
        case OP.host: {
          const name = this.o.hostName!(x.side === 0 ? this.localText : this.remoteText);
          if (name) b.raw(x.frag), b.str(name);
          break;
        }
        case OP.iface: {
          const ifindex = t.ifindex[i];
          if (ifindex !== 0) b.raw(x.frag), b.str(this.o.interfaceName?.(ifindex) ?? String(ifindex));
          break;
        }
        case OP.cookie:
          b.raw(x.frag);
          b.ascii(cookieHex(t, i));
          b.byte(QUOTE);
          break;
        case OP.timer:
          b.raw(x.texts.at(t.timer[i]));
          b.num(t.expires[i]);
          b.raw(F.retransmits);
          b.num(t.retrans[i]);
          b.byte(CLOSE);
          break;
        case OP.processes:
          this.processes(x.frag, t.inode[i]);
          break;
        default: {
          const at = off[x.attr];
          if (at === ABSENT) {
            if (x.op === OP.unixName || x.op === OP.nullableU32) b.raw(x.frag), b.raw(F.null);
            break;
          }
          this.attribute(x, view, at, len[x.attr], t.proto[i]);
        }
      }
    }
    b.byte(CLOSE);
  }

  /** The head's text for the columns' values `v` (row i's), made once per combination. */
  private headText(x: Instr, t: SocketTable, i: number, v: number): Fragment {
    const proto = t.proto[i];
    let text = '';
    for (const h of x.heads) text += h.text(columnValue(t, h.column, i), proto);
    const frag = A(text + fragmentText(x.next));
    x.headTexts.set(v, frag);
    return frag;
  }

  /** A member read from the attribute at [at, at+n). */
  private attribute(x: Instr, view: DataView, at: number, n: number, proto: number): void {
    const b = this.bytes;
    switch (x.op) {
      case OP.bool:
        b.raw(x.frag);
        b.raw(view.getUint8(at) !== 0 ? F.v6true : F.v6false);
        break;
      case OP.shutdown:
        b.raw(x.texts.at(view.getUint8(at) & 3));
        break;
      case OP.u8:
        b.raw(x.frag);
        b.num(view.getUint8(at));
        break;
      case OP.u32:
      case OP.nullableU32:
        b.raw(x.frag);
        b.num(view.getUint32(at, true));
        break;
      // Number(getBigUint64()) and this are both the u64 rounded once to the nearest double
      case OP.u64:
        b.raw(x.frag);
        b.num(view.getUint32(at + 4, true) * 0x100000000 + view.getUint32(at, true));
        break;
      case OP.struct: {
        const fields = x.fields;
        for (let k = 0; k < fields.length; k++) {
          const f = fields[k];
          const p = at + f.at;
          const v =
            f.kind === 'u16'
              ? view.getUint16(p, true)
              : f.kind === 'u32'
                ? view.getUint32(p, true)
                : view.getUint32(p + 4, true) * 0x100000000 + view.getUint32(p, true);
          b.raw(f.frag);
          b.num(f.scale === 1 ? v : v * f.scale);
        }
        b.byte(CLOSE);
        break;
      }
      case OP.cString:
        this.congestion(x.key, view, at, n);
        break;
      case OP.unixName:
        b.raw(x.frag);
        b.str(unixName(view, at, n));
        break;
      case OP.u32List:
        b.raw(x.frag);
        u32List(b, view, at, n);
        break;
      case OP.skmem:
        b.raw(x.frag);
        memory(b, view, at, n);
        break;
      case OP.vfs: {
        const dev = view.getUint32(at + 4, true);
        b.raw(x.frag);
        b.num(view.getUint32(at, true));
        b.raw(DEVICE);
        b.num(devMajor(dev));
        b.byte(COLON);
        b.num(devMinor(dev));
        b.byte(QUOTE);
        b.byte(CLOSE);
        break;
      }
      case OP.tcpInfo:
        if (proto === Proto.tcp) b.raw(x.frag), tcpInfo(b, view, at, n);
        break;
    }
  }

  /** `,"congestion":"cubic"`, or nothing for an empty name; the last name's bytes are reused. */
  private congestion(key: string, view: DataView, off: number, len: number): void {
    const last = this.congKey;
    let same = last.length === len;
    for (let k = 0; same && k < len; k++) same = last[k] === view.getUint8(off + k);
    if (!same) {
      const name = cString(view, off, len);
      this.congFrag = A(name ? `,${key}:${jsonString(name)}` : '');
      this.congKey = Array.from({ length: len }, (_, k) => view.getUint8(off + k));
    }
    this.bytes.raw(this.congFrag);
  }

  /** `,"processes":[...]`: the holders as [{pid, comm, fd}] */
  private processes(frag: Fragment, inode: number): void {
    const b = this.bytes;
    b.raw(frag);
    if (this.holdersJson) {
      b.utf8(this.holdersJson(inode));
      return;
    }
    const list = this.holders!.holders(inode);
    if (list.length === 0) {
      b.raw(F.emptyList);
      return;
    }
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

export function familyName(family: number, proto: number): 'ipv4' | 'ipv6' | 'unix' {
  return proto === Proto.unix ? 'unix' : family === AF_INET6 ? 'ipv6' : 'ipv4';
}

/** The socket cookie as ss prints it after "sk:" (%llx). */
export function cookieHex(t: SocketTable, i: number): string {
  const hi = t.cookieHi[i];
  const lo = t.cookieLo[i].toString(16);
  return hi ? hi.toString(16) + lo.padStart(8, '0') : lo;
}

/** One record's text with a throwaway writer (tests, one-off callers; a listing keeps one writer). */
export function socketJson(t: SocketTable, i: number, view: DataView, o: RecordOptions): string {
  return new SocketJsonWriter(o).write(t, i, view);
}
