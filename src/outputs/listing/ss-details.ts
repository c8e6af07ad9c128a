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
import { InetAttr, Proto, TCP_LISTEN } from '../../diag/constants.js';
import type { SocketHolders } from '../../procfs/processes.js';
import { socketContext } from '../../procfs/security-context.js';
import type { SocketTable } from '../../snapshot/table.js';
import { cString } from '../text/attribute-text.js';
import type { JsonBytes } from '../text/json-bytes.js';
import { INET_MEMBERS, TCP_INFO_SS, UNIX_MEMBERS, type SocketMember, type SsFlag, type SsWord } from './socket-members.js';
import type { RecordOptions } from './socket-record.js';
import { flagsOf, memberWord, OPTIONS_OFFSET, tcpWord, type Word, wordsOf } from './ss-word-compilers.js';
import { processContext } from './ss-words.js';

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
  /** the socket's own line of a socket read from /proc/net (no diag module): -p's words alone, as ss's
   * dgram_show_line prints (no -e, -o, -m, -i, --cgroup words: the file has none of them) */
  proc: Line;
  /** ss's second line: the words outside tcp_info, then (TCP with tcp_info) the -i words */
  next: Line;
  tcp: Word[];
  /** the declarations compiled, in the order they are written */
  shown: readonly SsWord[];
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
  type Entry = { rank: number; word: Word; attributes: boolean; decl: SsWord; kind: string };
  const same: Entry[] = [];
  const next: Entry[] = [];
  const tcp: Entry[] = [];
  let hasInfo = false;
  for (const m of members) {
    if (m.from.kind === 'tcpInfo') hasInfo = true;
    for (const word of wordsOf(m.ss)) {
      if (!shown(word, m.when === 'always' || m.when === 'names' || m.when === 'bound' || m.when === 'netns' ? undefined : m.when)) continue;
      const entry = { rank: word.rank, word: memberWord(m, word), attributes: !NEEDS_NO_ATTRIBUTES.has(m.from.kind), decl: word, kind: m.from.kind };
      // ss prints the -i members' words inside tcp_info's (TCP sockets that sent it)
      (word.line !== 'next' ? same : m.when === 'info' ? tcp : next).push(entry);
    }
  }
  if (hasInfo && flags.info) {
    for (const [name, words] of Object.entries(tcpInfoWords))
      for (const word of wordsOf(words))
        if (shown(word, 'info')) tcp.push({ rank: word.rank, word: tcpWord(name, word), attributes: true, decl: word, kind: 'tcpInfo' });
  }
  const byRank = (a: Entry, b: Entry) => a.rank - b.rank;
  same.sort(byRank);
  next.sort(byRank);
  tcp.sort(byRank);
  if (next.length && tcp.length && next[next.length - 1].rank > tcp[0].rank) throw new Error('ss words: the second line ranks its -i words last');
  const line = (e: Entry[]): Line => ({ words: e.map((x) => x.word), attributes: e.some((x) => x.attributes) });
  return {
    same: line(same),
    proc: line(same.filter((x) => x.kind === 'processes')),
    next: line(next),
    tcp: tcp.map((x) => x.word),
    shown: [...same, ...next, ...tcp].map((x) => x.decl),
  };
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
  /** -n: rates as numbers (ss's sprint_bw follows -n, not -r) */
  readonly numeric: boolean;
  readonly users: ((inode: number) => string) | undefined;
  private readonly inet: CompiledDetails;
  private readonly unix: CompiledDetails;
  private readonly anyNext: boolean;
  private congKey: number[] = [];
  private congName = '';
  /** no words can follow an inet socket's addresses (no -p, and no compiled word for these flags): the table's plain line */
  readonly noneForInet: boolean;

  /** `members`: the member table (a test passes a copy with a member added) */
  constructor(
    readonly b: JsonBytes,
    private readonly o: RecordOptions,
    members: { inet: readonly SocketMember[]; unix: readonly SocketMember[] } = { inet: INET_MEMBERS, unix: UNIX_MEMBERS },
  ) {
    this.numeric = !o.serviceNames;
    this.inet = compileDetails(members.inet, o);
    this.unix = compileDetails(members.unix, o);
    this.anyNext = !!(o.memory || o.info);
    const holders = o.processes as (SocketHolders & { ssUsers?: (inode: number) => string }) | undefined;
    this.users =
      holders && o.securityContext
        ? (inode) => {
            const ps = holders.holders(inode);
            return ps.length
              ? `users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},proc_ctx=${processContext(p.pid)},fd=${p.fd}${o.socketContext ? `,sock_ctx=${socketContext(p.pid, p.fd)}` : ''})`).join(',')})`
              : '';
          }
        : holders && typeof holders.ssUsers === 'function'
          ? (inode) => holders.ssUsers!(inode)
          : holders
            ? (inode) => {
                const ps = holders.holders(inode);
                return ps.length ? `users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`).join(',')})` : '';
              }
            : undefined;
    this.noneForInet = !this.users && !this.anyNext && this.inet.shown.length === 0;
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
    const proto = t.proto[i];
    const unix = proto === Proto.unix;
    // an inet socket without a cookie was read from /proc/net (RAW without raw_diag, UDP without udp_diag)
    const proc = !unix && proto !== Proto.tcp && t.cookieLo[i] === 0 && t.cookieHi[i] === 0;
    const line = unix ? this.unix.same : proc ? this.inet.proc : this.inet.same;
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
    if (proto !== Proto.tcp && t.cookieLo[i] === 0 && t.cookieHi[i] === 0) return false; // read from /proc/net: no skmem
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
