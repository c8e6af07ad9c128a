/**
 * The compilers of ss-details.ts: one closure per declared word (socket-members.ts: SocketMember.ss,
 * StructField.ss, TCP_INFO_SS), reading the writer's current row. A declaration that cannot be compiled (an
 * unknown field, a time without a unit, a format for the wrong source) throws when the listing starts.
 */
import { ABSENT as NO } from '../../diag/attribute-index.js';
import { AF_INET6, InetAttr } from '../../diag/constants.js';
import { MS_PER, readTcpInfoAt, TCP_INFO_FIELDS, TCP_INFO_KIND_CODE, TCP_INFO_KIND_SIZE, unitName, type TcpInfoField } from '../../diag/tcp-info.js';
import { fragment, type Fragment } from '../text/bytes.js';
import type { JsonBytes } from '../text/json-bytes.js';
import { cookieHex } from './socket-ndjson.js';
import { TCPI_OPTION_SS, TCPI_OPTIONS, TIMER_NAMES, type SocketMember, type SsFlag, type SsShow, type SsWord, type StructField } from './socket-members.js';
import type { RecordOptions } from './socket-record.js';
import type { DetailsWriter } from './ss-details.js';
import { cgroupPath, fmtG, ssBandwidth, ssDev, ssTimerText } from './ss-words.js';

const SPACE = 32;
const OPEN = 40; // (
const CLOSE = 41; // )
const COMMA = 44;
const OPTION_BIT: Readonly<Record<string, number>> = Object.fromEntries(TCPI_OPTIONS.map(([bit, n]) => [n, bit]));
export const OPTIONS_OFFSET = TCP_INFO_FIELDS.find((f) => f.name === 'options')!.offset;
const SKMEM_PREFIX = ['r', ',rb', ',t', ',tb', ',f', ',w', ',o', ',bl', ',d'].map(fragment);
const F = { bps: fragment('bps'), ms: fragment('ms'), dev: fragment(' dev:') };

/** A compiled word: writes itself (with its leading space) for the writer's current row, or nothing. */
export type Word = (w: DetailsWriter) => void;
/** A compiled number: the value for the current row (NaN: absent). */
type Read = (w: DetailsWriter) => number;
/** A compiled value writer for a format. */
type Put = (w: DetailsWriter, v: number) => void;

/** The flags of a listing, by SsFlag. */
export function flagsOf(o: RecordOptions): Record<SsFlag, boolean> {
  return {
    extended: !!o.extended,
    timers: !!o.timers,
    info: !!o.info,
    memory: !!o.memory,
    processes: !!o.processes,
    cgroup: !!o.cgroup,
    tos: !!o.tos,
  };
}

export const wordsOf = (x: SsWord | readonly SsWord[] | undefined): readonly SsWord[] => (x === undefined ? [] : Array.isArray(x) ? x : [x as SsWord]);

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
    case 'chex':
      return (w, v) => (v === 0 ? w.b.num(0) : w.b.ascii(`0x${v.toString(16)}`));
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

export function tcpWord(name: string, word: SsWord): Word {
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
    // one closure per column (a read by key, t[name][i], is several times slower per row)
    switch (from.column) {
      case 'uid':
        return (w) => w.t.uid[w.i];
      case 'inode':
        return (w) => w.t.inode[w.i];
      case 'rqueue':
        return (w) => w.t.rqueue[w.i];
      case 'wqueue':
        return (w) => w.t.wqueue[w.i];
      case 'sport':
        return (w) => w.t.sport[w.i];
      case 'dport':
        return (w) => w.t.dport[w.i];
      case 'ifindex':
        return (w) => w.t.ifindex[w.i];
      default: {
        const col = from.column;
        return (w) => w.t[col][w.i];
      }
    }
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

export function memberWord(m: SocketMember, word: SsWord): Word {
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
