/**
 * The ls table's detail words (what ss 6.1 prints after a socket's addresses), generated from the member table:
 * every member declares its words (SocketMember.ss, StructField.ss, and TCP_INFO_SS for the tcp_info members:
 * name, format, when ss shows it, rank), and compileDetails() turns them, once per listing's flags, into a list
 * of small closures per family and line, sorted by rank. A row runs its list: one attribute walk, no
 * interpretation of the declarations, no strings built for numbers.
 *
 * Lines (as ss): the socket's own line (`sameLine`: -p's users:((...)), the timer, -e's words; unix: -m's
 * skmem too) and ss's second line (`nextLine`, inet: -m's skmem, then -i's tcp_info words, which ss prints
 * for TCP sockets that sent tcp_info). test/integration/ls-vs-ss.test.ts compares them with ss in a namespace;
 * test/golden pins the bytes.
 */
import { ABSENT as NO, AttributeIndex } from '../../diag/attribute-index.js';
import { AF_INET6, InetAttr, Proto, TCP_LISTEN } from '../../diag/constants.js';
import { MS_PER, readTcpInfoAt, TCP_INFO_FIELDS, TCP_INFO_KIND_CODE, TCP_INFO_KIND_SIZE, unitName, type TcpInfoField } from '../../diag/tcp-info.js';
import type { SocketHolders } from '../../procfs/processes.js';
import type { SocketTable } from '../../snapshot/table.js';
import { cString } from '../text/attribute-text.js';
import { fragment, type Fragment } from '../text/bytes.js';
import type { JsonBytes } from '../text/json-bytes.js';
import { cookieHex } from './socket-ndjson.js';
import {
  INET_MEMBERS,
  TCP_INFO_SS,
  TCPI_OPTION_SS,
  TCPI_OPTIONS,
  TIMER_NAMES,
  UNIX_MEMBERS,
  type SocketMember,
  type SsFlag,
  type SsShow,
  type SsWord,
  type StructField,
} from './socket-members.js';
import type { RecordOptions } from './socket-record.js';
import { cgroupPath, fmtG, processContext, ssBandwidth, ssDev, ssTimerText } from './ss-words.js';

const SPACE = 32;
const OPEN = 40; // (
const CLOSE = 41; // )
const COMMA = 44;
const OPTION_BIT: Readonly<Record<string, number>> = Object.fromEntries(TCPI_OPTIONS.map(([bit, n]) => [n, bit]));
const OPTIONS_OFFSET = TCP_INFO_FIELDS.find((f) => f.name === 'options')!.offset;
const SKMEM_PREFIX = ['r', ',rb', ',t', ',tb', ',f', ',w', ',o', ',bl', ',d'].map(fragment);
const F = { bps: fragment('bps'), ms: fragment('ms'), dev: fragment(' dev:') };

/** A compiled word: writes itself (with its leading space) for the writer's current row, or nothing. */
type Word = (w: DetailsWriter) => void;
/** A compiled number: the value for the current row (NaN: absent). */
type Read = (w: DetailsWriter) => number;
/** A compiled value writer for a format. */
type Put = (w: DetailsWriter, v: number) => void;

/** The flags of a listing, by SsFlag. */
function flagsOf(o: RecordOptions): Record<SsFlag, boolean> {
  return { extended: !!o.extended, timers: !!o.timers, info: !!o.info, memory: !!o.memory, processes: !!o.processes, cgroup: !!o.cgroup };
}

const wordsOf = (x: SsWord | readonly SsWord[] | undefined): readonly SsWord[] => (x === undefined ? [] : Array.isArray(x) ? x : [x as SsWord]);

/** SsShow as a predicate over a value and the row. */
function shows(s: SsShow | undefined, defaultNonzero = false): (v: number, w: DetailsWriter) => boolean {
  const nz = s?.nonzero ?? defaultNonzero;
  const ex = s?.except ?? Number.NaN;
  const lim = s?.below ?? Number.POSITIVE_INFINITY;
  const bit = s?.option === undefined ? 0 : OPTION_BIT[s.option];
  if (s?.option !== undefined && bit === undefined) throw new Error(`ss word: no tcpi_options bit '${s.option}'`);
  const connected = !!s?.connected;
  const ipv6 = !!s?.ipv6;
  if (!bit && !connected && !ipv6) return (v) => !((nz && v === 0) || v === ex || v >= lim);
  return (v, w) =>
    !((nz && v === 0) || v === ex || v >= lim || (bit !== 0 && !(w.options & bit)) || (connected && w.listen) || (ipv6 && w.t.family[w.i] !== AF_INET6));
}

/** `unit` per millisecond for a time format (µs: 1000); the unit is declared on the member or the tcp_info field. */
function perMs(unit: string | undefined, what: string): number {
  const n = unit === undefined ? undefined : MS_PER[unit as keyof typeof MS_PER];
  if (n === undefined) throw new Error(`ss word ${what}: a time needs a unit (us or ms), not ${unit}`);
  return n;
}

/**
 * Milliseconds with %g (ss's "%g" of us / 1000) into b: below 1e6 µs the digits of us with a point before the
 * last three, trailing zeros dropped (what %g's six digits give); beyond, %g itself.
 */
function putTime(b: JsonBytes, v: number, per: number): void {
  if (per !== 1000 || !(v >>> 0 === v) || v >= 1e6) {
    b.ascii(fmtG(v / per));
    return;
  }
  const r = v % 1000;
  b.num((v - r) / 1000);
  if (r === 0) return;
  b.byte(46); // .
  const d2 = ((r / 10) | 0) % 10;
  const d3 = r % 10;
  b.byte(48 + ((r / 100) | 0));
  if (d2 || d3) b.byte(48 + d2);
  if (d3) b.byte(48 + d3);
}

/** ss's sprint_bw into b: the number with -n, K/M/G/T otherwise. */
function putRate(w: DetailsWriter, bps: number): void {
  if (w.numeric && bps <= Number.MAX_SAFE_INTEGER && Math.floor(bps) === bps) w.b.num(bps);
  else w.b.ascii(ssBandwidth(bps, w.numeric));
}

/** The value writer of a numeric format; `unit`/`scale` say what the value is in. */
function putter(format: string, unit: string | undefined, scale: number, what: string): Put {
  switch (format) {
    case 'flag':
      return () => {}; // the name says it
    case 'int':
      return (w, v) => w.b.num(v);
    case 'hex':
      return (w, v) => w.b.ascii(`0x${v.toString(16)}`);
    case 'g':
      return scale === 1 ? (w, v) => w.b.ascii(fmtG(v)) : (w, v) => w.b.ascii(fmtG(v * scale));
    case 'time': {
      const per = perMs(unit, what);
      return (w, v) => putTime(w.b, v, per);
    }
    case 'timeTrunc': {
      const per = perMs(unit, what);
      return (w, v) => {
        w.b.num(Math.trunc(v / per));
        w.b.raw(F.ms);
      };
    }
    case 'rate':
      // the published value (bits per second): the kernel's × the member's scale
      return (w, v) => {
        putRate(w, v * scale);
        w.b.raw(F.bps);
      };
    default:
      throw new Error(`ss word ${what}: format ${format} is not a number's`);
  }
}

/** ` name:` (a rate: ` name `; no name: ` `) */
const prefixOf = (word: SsWord | { name: string; format: string }): Fragment =>
  fragment(word.name === '' ? ' ' : word.format === 'rate' ? ` ${word.name} ` : ` ${word.name}:`);

/** A number word: reader, when, prefix, value, and the optional second value. */
function numberWord(word: SsWord, read: Read, put: Put, second?: { read: Read; put: Put }): Word {
  const pre = prefixOf(word);
  const ok = shows(word.show, word.format === 'flag');
  if (word.format === 'flag') {
    const bare = fragment(` ${word.name}`);
    return (w) => {
      const v = read(w);
      if (!Number.isNaN(v) && ok(v, w)) w.b.raw(bare);
    };
  }
  if (!second || !word.with) {
    return (w) => {
      const v = read(w);
      if (Number.isNaN(v) || !ok(v, w)) return;
      w.b.raw(pre);
      put(w, v);
    };
  }
  const sep = word.with.sep === '/' ? 47 : COMMA;
  const either = !!word.with.either;
  const ok2 = shows(word.with.show, either);
  return (w) => {
    const v = read(w);
    if (Number.isNaN(v)) return;
    const v2 = second.read(w);
    const first = ok(v, w);
    const next = !Number.isNaN(v2) && ok2(v2, w);
    if (either ? !(first || next) : !first) return;
    w.b.raw(pre);
    put(w, v);
    if (either || next) {
      w.b.byte(sep);
      second.put(w, v2);
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// tcp_info words (read from the INET_DIAG_INFO payload; a field past the length the kernel sent reads 0, as ss)

function tcpReader(f: TcpInfoField): Read {
  const at = f.offset;
  const end = at + TCP_INFO_KIND_SIZE[f.kind];
  const code = TCP_INFO_KIND_CODE[f.kind];
  if (f.kind === 'u64') return (w) => (end <= w.infoLen ? w.view.getUint32(w.info + at + 4, true) * 0x100000000 + w.view.getUint32(w.info + at, true) : 0);
  return (w) => (end <= w.infoLen ? readTcpInfoAt(w.view, w.info + at, code) : 0);
}

const TCP_FIELD = new Map(TCP_INFO_FIELDS.map((f) => [f.name, f]));
const tcpField = (name: string): TcpInfoField => {
  const f = TCP_FIELD.get(name);
  if (!f) throw new Error(`ss word: no tcp_info field '${name}'`);
  return f;
};
const tcpPut = (format: string, f: TcpInfoField): Put => putter(format, f.unit, unitName(f).scale, f.name);

function tcpWord(name: string, word: SsWord): Word {
  const f = tcpField(name);
  const read = tcpReader(f);
  switch (word.format) {
    case 'options': {
      const names = (word.bits ?? []).map((n) => {
        const bit = OPTION_BIT[n];
        if (bit === undefined || !TCPI_OPTION_SS[n]) throw new Error(`ss word: no tcpi_options bit '${n}'`);
        return [bit, fragment(` ${TCPI_OPTION_SS[n]}`)] as const;
      });
      return (w) => {
        for (const [bit, frag] of names) if (w.options & bit) w.b.raw(frag);
      };
    }
    case 'send': {
      // ss's send rate: cwnd × mss × 8 bits over the rtt (µs; vegas' rtt when it measured one)
      const mss = tcpReader(tcpField('snd_mss'));
      const rtt = tcpReader(tcpField('rtt'));
      const pre = prefixOf({ name: word.name, format: 'rate' });
      return (w) => {
        let r = rtt(w);
        const v = w.off[InetAttr.VEGASINFO];
        if (v !== NO) {
          const vr = w.view.getUint32(v + 8, true);
          if (w.view.getUint32(v, true) && vr && vr !== 0x7fffffff) r = vr;
        }
        const m = mss(w);
        const cwnd = read(w);
        if (!(r > 0 && m && cwnd)) return;
        w.b.raw(pre);
        w.b.ascii(ssBandwidth((cwnd * m * 8000000) / r, w.numeric));
        w.b.raw(F.bps);
      };
    }
    case 'limited': {
      if (!word.of) throw new Error(`ss word ${word.name}: limited needs 'of'`);
      const of = tcpReader(tcpField(word.of));
      const per = perMs(f.unit, name);
      const pre = prefixOf(word);
      const ok = shows(word.show);
      return (w) => {
        const total = of(w);
        const v = read(w);
        if (!total || !ok(v, w)) return;
        w.b.raw(pre);
        w.b.num(Math.trunc(v / per));
        w.b.raw(F.ms);
        w.b.byte(OPEN);
        w.b.ascii(((100 * v) / total).toFixed(1));
        w.b.ascii('%)');
      };
    }
    default: {
      const second = word.with ? tcpField(word.with.field) : undefined;
      return numberWord(word, read, tcpPut(word.format, f), second && { read: tcpReader(second), put: tcpPut(word.format, second) });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// the other members' words

/** A member's value as a number (columns and scalar attributes); NaN when absent. */
function memberReader(m: SocketMember): Read {
  const from = m.from;
  if (from.kind === 'column') {
    const col = from.column;
    return (w) => w.t[col][w.i];
  }
  if (from.kind === 'scalar') {
    const attr = from.attr;
    if (from.read === 'u64')
      return (w) => (w.off[attr] === NO ? Number.NaN : w.view.getUint32(w.off[attr] + 4, true) * 0x100000000 + w.view.getUint32(w.off[attr], true));
    if (from.read === 'u32') return (w) => (w.off[attr] === NO ? Number.NaN : w.view.getUint32(w.off[attr], true));
    return (w) => (w.off[attr] === NO ? Number.NaN : w.view.getUint8(w.off[attr]));
  }
  throw new Error(`ss word for ${m.key}: a number word needs a column or a scalar attribute`);
}

const attrOf = (m: SocketMember): number => {
  if (!('attr' in m.from)) throw new Error(`ss word for ${m.key}: needs an attribute source`);
  return m.from.attr;
};

function structRead(f: StructField): (view: DataView, at: number) => number {
  const o = f.at;
  if (f.kind === 'u64') return (view, at) => view.getUint32(at + o + 4, true) * 0x100000000 + view.getUint32(at + o, true);
  if (f.kind === 'u16') return (view, at) => view.getUint16(at + o, true);
  return (view, at) => view.getUint32(at + o, true);
}

/** name:(field:value,...) from a struct member's fields; `off`: the text instead when that field is 0. */
function groupWord(m: SocketMember, word: SsWord): Word {
  if (m.from.kind !== 'struct') throw new Error(`ss word for ${m.key}: a group needs a struct attribute`);
  const attr = m.from.attr;
  const fields = m.from.fields.flatMap((f) => {
    if (!f.ss) return [];
    const name = f.ss.name ?? f.key;
    return [
      {
        read: structRead(f),
        ok: shows(f.ss.show),
        put: putter(f.ss.format, f.unit, f.scale ?? 1, `${m.key}.${f.key}`),
        pre: fragment(`${name}:`),
        rest: fragment(`,${name}:`),
      },
    ];
  });
  const offField = word.off ? m.from.fields.find((f) => f.key === word.off!.field) : undefined;
  if (word.off && !offField) throw new Error(`ss word for ${m.key}: no field '${word.off.field}'`);
  const offRead = offField && structRead(offField);
  const offText = word.off && fragment(` ${word.name}:${word.off.text}`);
  const pre = fragment(` ${word.name}:(`);
  return (w) => {
    const at = w.off[attr];
    if (at === NO) return;
    const view = w.view;
    if (offRead && !offRead(view, at)) {
      w.b.raw(offText!);
      return;
    }
    w.b.raw(pre);
    let first = true;
    for (const f of fields) {
      const v = f.read(view, at);
      if (!f.ok(v, w)) continue;
      w.b.raw(first ? f.pre : f.rest);
      first = false;
      f.put(w, v);
    }
    w.b.byte(CLOSE);
  };
}

function memberWord(m: SocketMember, word: SsWord): Word {
  switch (word.format) {
    case 'users':
      return (w) => {
        const users = w.users?.(w.t.inode[w.i]);
        if (users) w.b.byte(SPACE), w.b.utf8(users);
      };
    case 'timer': {
      const pre = fragment(` ${word.name}:(`);
      return (w) => {
        const { t, i } = w;
        if (t.timer[i] === 0) return;
        w.b.raw(pre);
        w.b.utf8(TIMER_NAMES[Math.min(t.timer[i], 5)]);
        w.b.byte(COMMA);
        w.b.ascii(ssTimerText(t.expires[i]));
        w.b.byte(COMMA);
        w.b.num(t.retrans[i]);
        w.b.byte(CLOSE);
      };
    }
    case 'text': {
      if (m.from.kind !== 'cookie') throw new Error(`ss word for ${m.key}: text is the cookie's`);
      const pre = prefixOf(word);
      return (w) => {
        w.b.raw(pre);
        w.b.ascii(cookieHex(w.t, w.i));
      };
    }
    case 'cgroupPath': {
      const read = memberReader(m);
      const ok = shows(word.show);
      const pre = prefixOf(word);
      return (w) => {
        const v = read(w);
        if (Number.isNaN(v) || !ok(v, w)) return;
        w.b.raw(pre);
        w.b.utf8(cgroupPath(v));
      };
    }
    case 'shutdown': {
      const attr = attrOf(m);
      return (w) => {
        if (w.off[attr] === NO) return;
        const mask = w.view.getUint8(w.off[attr]);
        w.b.byte(SPACE);
        w.b.byte(mask & 1 ? 45 : 60);
        w.b.byte(45);
        w.b.byte(mask & 2 ? 45 : 62);
      };
    }
    case 'skmem': {
      const attr = attrOf(m);
      const pre = fragment(` ${word.name}:(`);
      return (w) => {
        const off = w.off[attr];
        if (off === NO) return;
        const len = w.len[attr];
        // ss prints r..o always, bl and d when the kernel sent them
        w.b.raw(pre);
        for (let k = 0; k < 9; k++) {
          if (k >= 7 && 4 * k + 4 > len) break;
          w.b.raw(SKMEM_PREFIX[k]);
          w.b.num(4 * k + 4 <= len ? w.view.getUint32(off + 4 * k, true) : 0);
        }
        w.b.byte(CLOSE);
      };
    }
    case 'vfs': {
      const attr = attrOf(m);
      const pre = prefixOf(word);
      return (w) => {
        const off = w.off[attr];
        if (off === NO) return;
        w.b.raw(pre);
        w.b.num(w.view.getUint32(off, true));
        w.b.raw(F.dev);
        w.b.ascii(ssDev(w.view.getUint32(off + 4, true)));
      };
    }
    case 'list': {
      const attr = attrOf(m);
      const pre = prefixOf(word);
      return (w) => {
        const off = w.off[attr];
        if (off === NO) return;
        w.b.raw(pre);
        for (let k = 0; k + 4 <= w.len[attr]; k += 4) w.b.byte(SPACE), w.b.num(w.view.getUint32(off + k, true));
      };
    }
    case 'bare': {
      if (m.from.kind !== 'name' || m.from.decode !== 'cString') throw new Error(`ss word for ${m.key}: bare is a name's`);
      const attr = m.from.attr;
      return (w) => {
        if (w.off[attr] === NO) return;
        const name = w.congestion(w.off[attr], w.len[attr]);
        if (name) w.b.byte(SPACE), w.b.utf8(name);
      };
    }
    case 'group':
      return groupWord(m, word);
    default:
      return numberWord(word, memberReader(m), putter(word.format, m.unit, 1, m.key));
  }
}

// ---------------------------------------------------------------------------------------------------------
// compiling

interface Line {
  words: Word[];
  /** the words read attributes (the row's attributes are walked first) */
  attributes: boolean;
}

/** A family's compiled lines for a set of flags. */
export interface CompiledDetails {
  same: Line;
  /** ss's second line: the words outside tcp_info, then (TCP with tcp_info) the -i words */
  next: Line;
  tcp: Word[];
}

const NEEDS_NO_ATTRIBUTES = new Set(['column', 'cookie', 'timer', 'processes']);

/**
 * The words of `members` (and, for inet, the tcp_info words) that `o`'s flags show, compiled and sorted by rank.
 * Exported with the member table as a parameter so a test can add a member and see its word.
 */
export function compileDetails(
  members: readonly SocketMember[],
  o: RecordOptions,
  tcpInfoWords: Readonly<Record<string, SsWord | readonly SsWord[]>> = TCP_INFO_SS,
): CompiledDetails {
  const flags = flagsOf(o);
  const shown = (word: SsWord, section: SsFlag | undefined): boolean =>
    (word.flags ?? (section ? [section] : [])).some((f) => flags[f]) && !(word.unless && flags[word.unless]);
  type Entry = { rank: number; word: Word; attributes: boolean };
  const same: Entry[] = [];
  const next: Entry[] = [];
  const tcp: Entry[] = [];
  let hasInfo = false;
  for (const m of members) {
    if (m.from.kind === 'tcpInfo') hasInfo = true;
    for (const word of wordsOf(m.ss)) {
      if (!shown(word, m.when === 'always' || m.when === 'names' || m.when === 'bound' || m.when === 'netns' ? undefined : m.when)) continue;
      const entry = { rank: word.rank, word: memberWord(m, word), attributes: !NEEDS_NO_ATTRIBUTES.has(m.from.kind) };
      // ss prints the -i members' words inside tcp_info's (TCP sockets that sent it)
      (word.line !== 'next' ? same : m.when === 'info' ? tcp : next).push(entry);
    }
  }
  if (hasInfo && flags.info) {
    for (const [name, words] of Object.entries(tcpInfoWords))
      for (const word of wordsOf(words)) if (shown(word, 'info')) tcp.push({ rank: word.rank, word: tcpWord(name, word), attributes: true });
  }
  const byRank = (a: Entry, b: Entry) => a.rank - b.rank;
  same.sort(byRank);
  next.sort(byRank);
  tcp.sort(byRank);
  if (next.length && tcp.length && next[next.length - 1].rank > tcp[0].rank) throw new Error('ss words: the second line ranks its -i words last');
  const line = (e: Entry[]): Line => ({ words: e.map((x) => x.word), attributes: e.some((x) => x.attributes) });
  return { same: line(same), next: line(next), tcp: tcp.map((x) => x.word) };
}

/**
 * Writes the words ss prints after a socket's addresses for ls-table.ts, each with its leading space, from the
 * member table's compiled words: `sameLine` and `nextLine` (which -O keeps on the first line).
 */
export class DetailsWriter {
  private readonly scan = new AttributeIndex();
  /** the current row (the compiled words read these) */
  t!: SocketTable;
  i = 0;
  view!: DataView;
  readonly off = this.scan.off;
  readonly len = this.scan.len;
  /** tcp_info's payload, its options byte, and whether the socket listens */
  info = 0;
  infoLen = 0;
  options = 0;
  listen = false;
  /** -n (no -r): rates as numbers */
  readonly numeric: boolean;
  readonly users: ((inode: number) => string) | undefined;
  private readonly inet: CompiledDetails;
  private readonly unix: CompiledDetails;
  private readonly anyNext: boolean;
  private congKey: number[] = [];
  private congName = '';

  constructor(
    readonly b: JsonBytes,
    private readonly o: RecordOptions,
  ) {
    this.numeric = !o.hostName;
    this.inet = compileDetails(INET_MEMBERS, o);
    this.unix = compileDetails(UNIX_MEMBERS, o);
    this.anyNext = !!(o.memory || o.info);
    const holders = o.processes as (SocketHolders & { ssUsers?: (inode: number) => string }) | undefined;
    this.users =
      holders && o.securityContext
        ? (inode) => {
            const ps = holders.holders(inode);
            return ps.length ? `users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},proc_ctx=${processContext(p.pid)},fd=${p.fd})`).join(',')})` : '';
          }
        : holders && typeof holders.ssUsers === 'function'
          ? (inode) => holders.ssUsers!(inode)
          : holders
            ? (inode) => {
                const ps = holders.holders(inode);
                return ps.length ? `users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`).join(',')})` : '';
              }
            : undefined;
  }

  private row(t: SocketTable, i: number, view: DataView, attributes: boolean, unix: boolean): void {
    this.t = t;
    this.i = i;
    this.view = view;
    if (!attributes) return;
    const start = t.attrStart[i];
    if (unix) this.scan.unix(view, start, start + t.attrLength[i]);
    else this.scan.inet(view, start, start + t.attrLength[i]);
  }

  /** The words on the socket's own line; returns whether there were any. */
  sameLine(t: SocketTable, i: number, view: DataView): boolean {
    const unix = t.proto[i] === Proto.unix;
    const line = unix ? this.unix.same : this.inet.same;
    const words = line.words;
    if (words.length === 0) return false;
    const before = this.b.pos;
    this.row(t, i, view, line.attributes, unix);
    for (let k = 0; k < words.length; k++) words[k](this);
    return this.b.pos !== before;
  }

  /** ss's second line (inet): -m's skmem, -i's tcp_info words; returns whether there were any. */
  nextLine(t: SocketTable, i: number, view: DataView): boolean {
    const proto = t.proto[i];
    if (!this.anyNext || proto === Proto.unix || !(this.o.memory || (this.o.info && proto !== Proto.udp))) return false;
    const before = this.b.pos;
    const c = this.inet;
    this.row(t, i, view, c.tcp.length > 0 || c.next.attributes, false);
    for (let k = 0; k < c.next.words.length; k++) c.next.words[k](this);
    if (c.tcp.length && proto === Proto.tcp && this.off[InetAttr.INFO] !== NO) {
      this.info = this.off[InetAttr.INFO];
      this.infoLen = this.len[InetAttr.INFO];
      this.options = this.infoLen > OPTIONS_OFFSET ? view.getUint8(this.info + OPTIONS_OFFSET) : 0;
      this.listen = t.state[i] === TCP_LISTEN;
      for (let k = 0; k < c.tcp.length; k++) c.tcp[k](this);
    }
    return this.b.pos !== before;
  }

  /** the congestion control's name; the last one's text is reused */
  congestion(off: number, len: number): string {
    const view = this.view;
    const key = this.congKey;
    let same = key.length === len;
    for (let k = 0; same && k < len; k++) same = key[k] === view.getUint8(off + k);
    if (!same) {
      this.congName = cString(view, off, len);
      this.congKey = Array.from({ length: len }, (_, k) => view.getUint8(off + k));
    }
    return this.congName;
  }
}
