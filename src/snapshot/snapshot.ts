/**
 * One snapshot per gather: every requested protocol dumped once over NETLINK_SOCK_DIAG into one SocketTable,
 * with /proc/net standing in for a protocol the kernel cannot dump, and the source of each protocol recorded.
 */
import { readFileSync } from 'node:fs';
import {
  AF_INET, AF_INET6, AF_UNIX, ALL_PROTOS, ALL_STATES, EXT_ALL, Ext, INET_DIAG_MSG_SIZE, IPPROTO_OF, NETLINK_SOCK_DIAG, Proto,
  SOCK_DGRAM, SOCK_DIAG_BY_FAMILY, SOCK_RAW, SOCK_STREAM, TCP_TIME_WAIT, TCPDIAG_GETSOCK, UnixShow,
  type ProtoName,
} from '../diag/constants.js';
import { appendInetMessage } from '../diag/inet.js';
import { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest } from '../diag/requests.js';
import { appendUnixMessage } from '../diag/unix.js';
import { isSockscopeError } from '../errors.js';
import { parseProcNetInet, parseProcNetUnix, parseSockstat, procNetFile } from '../procfs/net.js';
import { ENOENT, errnoName } from '../sys/errno.js';
import { CLONE_NEWNET, loadLibc } from '../sys/libc.js';
import { CensusCounts } from './census.js';
import { newReceiveBuffer, runDump, type DatagramReader, type DumpOutcome, type ReceiveBuffer } from './dump.js';

/** Room left for one datagram when receiving into an arena; the kernel caps dump datagrams near 32 KiB. */
const MAX_DATAGRAM = 64 * 1024;
import { SocketTable } from './table.js';

export type Source = 'netlink' | 'proc' | 'unavailable';

export interface ProtocolSource {
  protocol: ProtoName;
  source: Source;
  /** why the source is not netlink, or what is missing */
  note?: string;
  /** errno name the kernel answered the dump with, if any */
  errno?: string;
  /** dumps repeated because the kernel flagged NLM_F_DUMP_INTR */
  retries: number;
  /** still flagged after the last retry: counts may mix two moments */
  interrupted: boolean;
  /** messages or lines skipped as malformed */
  malformed: number;
  sockets: number;
}

export interface SnapshotOptions {
  protocols?: readonly ProtoName[];
  /** AF_INET and/or AF_INET6 (default both) */
  families?: readonly number[];
  /** state bitmask (1 << TCP_*), default every state 0..11 */
  states?: number;
  /** inet_diag extension bits (Ext.*); 0 = headers only */
  ext?: number;
  /**
   * An INET_DIAG_REQ_BYTECODE program (src/filter compiles ss's filter language to it) run by the kernel on
   * every inet socket, so only matching sockets cross into user space. Not applied to unix sockets.
   */
  bytecode?: Uint8Array;
  /** unix_diag UDIAG_SHOW_* flags */
  unixShow?: number;
  /** keep each socket's raw attributes in the table (default: when ext or unixShow asks for more than queues) */
  keepAttributes?: boolean;
  /** TCP over both families: one legacy TCPDIAG_GETSOCK walk (default) or one v2 dump per family */
  tcpStrategy?: 'legacy' | 'v2';
  /** NLM_F_DUMP_INTR retries before the result is returned flagged */
  maxRetries?: number;
  /** read everything from /proc/net instead of netlink */
  source?: 'auto' | 'proc';
  /** root of the proc filesystem (tests replay recorded /proc/net files) */
  procRoot?: string;
  /** a network namespace file to enter first (e.g. /var/run/netns/NAME or /proc/PID/ns/net) */
  netns?: string;
  /**
   * Census only: count TCP TIME_WAIT from the kernel's per-namespace counter instead of dumping those sockets
   * (/proc/thread-self/net/sockstat "tw", which also counts orphaned FIN_WAIT2 sockets the kernel keeps as
   * timewait minisockets: those are dumped and subtracted). The count has no family: it lands in
   * CensusCounts.tcpTimeWaitUnsplit (in totals over both families, in no per-family figure). For callers that
   * want TCP states summed over families (netstat without per-ip-version): a third of a busy host's dump.
   * Ignored with a bytecode filter, one family only, or TIME_WAIT not selected; when the counter cannot be
   * read TIME_WAIT is dumped as usual.
   */
  timeWaitFromCounter?: boolean;
}

export interface Snapshot {
  table: SocketTable;
  sources: ProtocolSource[];
  /** wall-clock time the gather started (ms since the epoch) */
  takenAt: number;
  durationMs: number;
  /** what the table holds: whether tcp_info etc. were asked for */
  ext: number;
  notes: string[];
}

export interface Census {
  counts: CensusCounts;
  sources: ProtocolSource[];
  takenAt: number;
  durationMs: number;
  notes: string[];
}

/** Extensions for a full snapshot: every attribute that fits in idiag_ext. */
export const FULL_EXT = EXT_ALL;

const SOCK_TYPE_OF: Record<Exclude<ProtoName, 'unix'>, number> = {
  tcp: SOCK_STREAM, udp: SOCK_DGRAM, udplite: SOCK_DGRAM, raw: SOCK_RAW, sctp: SOCK_STREAM, mptcp: SOCK_STREAM,
};

/**
 * Where requests go and datagrams come from: a NETLINK_SOCK_DIAG socket (openNetlinkTransport), or recorded
 * datagrams replayed by src/snapshot/replay.ts.
 */
export interface Transport {
  send(message: Uint8Array): void;
  /** one datagram into buf; its length */
  recv(buf: Uint8Array): number;
  close(): void;
}

async function openNetlinkTransport(netns?: string): Promise<Transport> {
  const libc = await loadLibc();
  if (netns) {
    const nsfd = libc.openReadOnly(netns);
    try {
      libc.setns(nsfd, CLONE_NEWNET);
    } finally {
      libc.close(nsfd);
    }
  }
  const fd = libc.openNetlink(NETLINK_SOCK_DIAG);
  return { send: (m) => libc.sendToKernel(fd, m), recv: (b) => libc.recv(fd, b), close: () => libc.close(fd) };
}

/** A netlink session: one transport, one receive buffer, increasing sequence numbers. */
export class DiagSession {
  private seq = 1;
  private readonly read: DatagramReader;

  /** rb: a receive buffer to reuse (a walk over many namespaces opens a session in each) */
  constructor(readonly transport: Transport, readonly rb: ReceiveBuffer = newReceiveBuffer()) {
    this.read = (buf) => transport.recv(buf);
  }

  static async open(netns?: string, rb?: ReceiveBuffer): Promise<DiagSession> {
    return new DiagSession(await openNetlinkTransport(netns), rb);
  }

  /**
   * Send one dump request and run it through `visit`. With `arena`, datagrams are received straight into the
   * table's arena (so kept attributes are never copied); otherwise into one reusable buffer. `beforeRead` runs
   * before each datagram is received, when every message of the previous one has been visited (a stream hands
   * out its batch there, and its arena starts over).
   */
  dump(
    request: (seq: number) => Uint8Array, messageType: number, visit: Parameters<typeof runDump>[4], arena?: SocketTable,
    beforeRead?: () => void,
  ): DumpOutcome {
    const seq = this.seq++;
    this.transport.send(request(seq));
    if (!arena) return runDump(beforeRead ? (buf, rb) => (beforeRead(), this.read(buf, rb)) : this.read, this.rb, seq, messageType, visit);
    const rb: ReceiveBuffer = { bytes: arena.arena, view: new DataView(arena.arena.buffer), words: new Uint32Array(arena.arena.buffer), base: 0 };
    const read: DatagramReader = () => {
      beforeRead?.();
      arena.reserveArena(MAX_DATAGRAM);
      if (rb.bytes !== arena.arena) {
        rb.bytes = arena.arena;
        rb.view = new DataView(arena.arena.buffer);
        rb.words = new Uint32Array(arena.arena.buffer);
      }
      rb.base = arena.arenaUsed;
      const n = this.transport.recv(new Uint8Array(arena.arena.buffer, arena.arenaUsed, MAX_DATAGRAM));
      arena.arenaUsed += (n + 3) & ~3;
      return n;
    };
    return runDump(read, rb, seq, messageType, visit);
  }

  close(): void {
    this.transport.close();
  }
}

interface DumpPlan {
  protocol: ProtoName;
  family: number; // AF_UNSPEC for the legacy both-families TCP walk
  request: (seq: number) => Uint8Array;
  messageType: number;
}

function plans(o: Required<Pick<SnapshotOptions, 'families' | 'states' | 'ext' | 'unixShow' | 'tcpStrategy'>> & Pick<SnapshotOptions, 'bytecode'>, protocol: ProtoName): DumpPlan[] {
  if (protocol === 'unix') {
    return [{ protocol, family: AF_UNIX, messageType: SOCK_DIAG_BY_FAMILY, request: (seq) => unixDumpRequest({ states: o.states, show: o.unixShow }, seq) }];
  }
  const both = o.families.includes(AF_INET) && o.families.includes(AF_INET6);
  if (protocol === 'tcp' && both && o.tcpStrategy === 'legacy') {
    return [{ protocol, family: 0, messageType: SOCK_DIAG_BY_FAMILY, request: (seq) => legacyTcpDumpRequest({ states: o.states, ext: o.ext, bytecode: o.bytecode }, seq) }];
  }
  return o.families.map((family) => ({
    protocol, family, messageType: SOCK_DIAG_BY_FAMILY,
    request: (seq: number) => inetDumpRequest({ family, protocol: IPPROTO_OF[protocol], states: o.states, ext: o.ext, bytecode: o.bytecode }, seq),
  }));
}

const plansWithoutBytecode = (o: Parameters<typeof plans>[0], protocol: ProtoName): DumpPlan[] => plans({ ...o, bytecode: undefined }, protocol);

/** The legacy dump answers with messages of its request type. */
const replyType = (p: DumpPlan): number => (p.family === 0 ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY);

function normalize(options: SnapshotOptions) {
  return {
    protocols: options.protocols ?? ALL_PROTOS,
    families: options.families ?? [AF_INET, AF_INET6],
    states: options.states ?? ALL_STATES,
    ext: options.ext ?? 0,
    unixShow: options.unixShow ?? UnixShow.RQLEN,
    tcpStrategy: options.tcpStrategy ?? 'legacy',
    bytecode: options.bytecode,
    maxRetries: options.maxRetries ?? 3,
    procRoot: options.procRoot ?? '/proc',
  } as const;
}

/** Open a session, or explain in one line why netlink cannot be used. */
async function openSession(options: SnapshotOptions): Promise<DiagSession | string> {
  if (options.source === 'proc') return 'the /proc source was requested';
  try {
    return await DiagSession.open(options.netns);
  } catch (e) {
    if (isSockscopeError(e) && e.facts.syscall === 'setns') throw e;
    if (isSockscopeError(e) && e.facts.syscall === 'open') throw e;
    return `netlink is unavailable (${(e as Error).message})`;
  }
}

export async function takeSnapshot(options: SnapshotOptions = {}, session?: DiagSession): Promise<Snapshot> {
  const o = normalize(options);
  const keep = keepsAttributes(options, o);
  const expected = estimateSockets(o.protocols, o.procRoot);
  // Size the arena for the whole dump up front: pages never written cost no memory, while growing by doubling
  // would copy and re-fault everything received so far.
  const perSocket = o.ext & Ext.info ? 640 : 192;
  const table = new SocketTable(Math.max(4096, expected), keep ? Math.max(1 << 20, Math.ceil(expected * 1.25) * perSocket) : 0);
  const meta = await gather(options, session, { table, keep, inArena: keep, canRetry: true });
  return { table, ...meta };
}

/** Rows per batch when streaming. */
const STREAM_BATCH = 512;

/**
 * The same dumps as takeSnapshot, handed out in batches as they arrive (STREAM_BATCH rows and the rest of the
 * datagram being read: at most a few hundred more), so memory stays bounded whatever the number of sockets.
 * `onBatch` gets a table it must consume before returning (it is reused), and the stream's `takenAt` (the time a
 * snapshot would carry). A streamed dump cannot take rows back, so NLM_F_DUMP_INTR is reported (`interrupted`)
 * rather than retried.
 */
export async function streamSnapshot(
  options: SnapshotOptions, onBatch: (table: SocketTable, takenAt: number) => void, session?: DiagSession,
): Promise<Omit<Snapshot, 'table'>> {
  const o = normalize(options);
  const keep = keepsAttributes(options, o);
  const table = new SocketTable(STREAM_BATCH, keep ? STREAM_BATCH * 1024 : 0);
  const takenAt = Date.now();
  const flush = () => {
    if (table.length === 0) return;
    onBatch(table, takenAt);
    table.length = 0;
    table.arenaUsed = 0;
  };
  // Datagrams are received into the batch's arena (kept attributes are not copied), and a batch is handed out
  // between datagrams, once it has STREAM_BATCH rows: then none of its rows points into a datagram still being read.
  return gather(options, session, { table, keep, inArena: keep, canRetry: false, takenAt, beforeRead: () => table.length >= STREAM_BATCH && flush(), flush });
}

const keepsAttributes = (options: SnapshotOptions, o: ReturnType<typeof normalize>): boolean =>
  options.keepAttributes ?? (o.ext !== 0 || (o.unixShow & ~UnixShow.RQLEN & ~UnixShow.UID) !== 0);

/** Where gather() puts rows: one table for a snapshot, or a reused batch table for streaming. */
interface RowSink {
  table: SocketTable;
  keep: boolean;
  /** receive datagrams straight into table.arena (the rows stay), or into one buffer (attributes are copied) */
  inArena: boolean;
  canRetry: boolean;
  /** the time to report (streams hand it out with every batch) */
  takenAt?: number;
  /** before each datagram is received (DiagSession.dump) */
  beforeRead?: () => void;
  flush?: () => void;
}

/** The protocol loop shared by takeSnapshot and streamSnapshot: dumps, retries, fallbacks, metadata. */
async function gather(options: SnapshotOptions, session: DiagSession | undefined, sink: RowSink): Promise<Omit<Snapshot, 'table'>> {
  const o = normalize(options);
  const started = performance.now();
  const takenAt = sink.takenAt ?? Date.now();
  const { table, keep } = sink;
  const sources: ProtocolSource[] = [];
  const notes: string[] = [];
  const own = session ? undefined : await openSession(options);
  const s = session ?? (typeof own === 'string' ? undefined : own);
  if (typeof own === 'string') notes.push(`${own}: every protocol is read from /proc/net; tcp_info, memory and cookies are not available`);
  try {
    for (const protocol of o.protocols) {
      const src: ProtocolSource = { protocol, source: 'netlink', retries: 0, interrupted: false, malformed: 0, sockets: 0 };
      sources.push(src);
      const mark = { length: table.length, arena: table.arenaUsed };
      let failed: DumpOutcome | undefined;
      const p = Proto[protocol];
      const sockType = protocol === 'unix' ? 0 : SOCK_TYPE_OF[protocol];
      const visit = protocol === 'unix'
        ? (view: DataView, _w: Uint32Array, bytes: Uint8Array, off: number, len: number) => {
          if (appendUnixMessage(table, view, bytes, off, len, keep)) src.sockets++;
          else src.malformed++;
        }
        : (view: DataView, words: Uint32Array, bytes: Uint8Array, off: number, len: number) => {
          if (appendInetMessage(table, view, words, bytes, off, len, p, sockType, keep)) src.sockets++;
          else src.malformed++;
        };
      for (const plan of s ? plans(o, protocol) : []) {
        const planMark = { length: table.length, arena: table.arenaUsed, sockets: src.sockets };
        let request = plan.request;
        for (let attempt = 0; ; attempt++) {
          const r = s!.dump(request, replyType(plan), visit, sink.inArena ? table : undefined, sink.beforeRead);
          src.malformed += r.malformed;
          if (r.errno !== 0 && r.errno !== ENOENT && o.bytecode && request === plan.request) {
            // The kernel refused the filter program (EPERM for a mark test without CAP_NET_ADMIN, EINVAL from
            // an older kernel): dump unfiltered; the caller's user-space check still decides.
            notes.push(`${protocol}: the kernel refused the filter program (${errnoName(r.errno)}); filtering in user space`);
            request = plansWithoutBytecode(o, protocol).find((p) => p.family === plan.family)!.request;
            table.length = planMark.length;
            table.arenaUsed = planMark.arena;
            src.sockets = planMark.sockets;
            attempt--;
            continue;
          }
          if (r.errno !== 0) {
            failed = r;
            break;
          }
          if (r.problem) notes.push(`${protocol}: ${r.problem}`);
          if (!r.interrupted) break;
          if (!sink.canRetry || attempt >= o.maxRetries) {
            src.interrupted = true;
            notes.push(`${protocol}: the socket table kept changing during the dump (NLM_F_DUMP_INTR after ${attempt + 1} tries); counts may mix two moments`);
            break;
          }
          src.retries++;
          table.length = planMark.length;
          table.arenaUsed = planMark.arena;
          src.sockets = planMark.sockets;
        }
        if (failed) break;
      }
      if (failed || !s) {
        table.length = mark.length;
        table.arenaUsed = mark.arena;
        let why: string | undefined;
        if (failed) {
          src.errno = errnoName(failed.errno);
          why = failed.errno === ENOENT
            ? `the kernel cannot dump ${protocol} over sock_diag (${src.errno}: no diag module)`
            : `the kernel refused to dump ${protocol} over sock_diag (${src.errno})`;
        }
        readFromProc(table, protocol, o.families, o.states, o.procRoot, src, why);
        src.sockets = table.length - mark.length;
      }
      sink.flush?.();
    }
  } finally {
    if (!session && s) s.close();
  }
  return { sources, takenAt, durationMs: performance.now() - started, ext: s ? o.ext : 0, notes };
}

/**
 * The kernel's TIME_WAIT counter for the calling thread's network namespace (a worker thread may have entered
 * another one: /proc/thread-self, not /proc/self), or undefined when unreadable.
 */
function timeWaitCounter(procRoot: string): number | undefined {
  const dir = procRoot === '/proc' ? '/proc/thread-self/net' : `${procRoot}/net`;
  try {
    const tw = parseSockstat(readFileSync(`${dir}/sockstat`, 'latin1')).TCP?.tw;
    return tw !== undefined && Number.isInteger(tw) && tw >= 0 ? tw : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How many sockets to expect, from /proc/net/sockstat{,6} ("TCP: inuse N ... tw N", "TCP6: inuse N", ...):
 * a sizing hint only, 0 when unreadable.
 */
function estimateSockets(protocols: readonly ProtoName[], procRoot: string): number {
  let n = 0;
  try {
    const v4 = parseSockstat(readFileSync(`${procRoot}/net/sockstat`, 'latin1'));
    let v6: ReturnType<typeof parseSockstat> = {};
    try {
      v6 = parseSockstat(readFileSync(`${procRoot}/net/sockstat6`, 'latin1'));
    } catch {
      /* no IPv6 */
    }
    const key: Partial<Record<ProtoName, string>> = { tcp: 'TCP', udp: 'UDP', udplite: 'UDPLITE', raw: 'RAW' };
    for (const p of protocols) {
      const k = key[p];
      if (!k) continue;
      n += (v4[k]?.inuse ?? 0) + (v6[`${k}6`]?.inuse ?? 0) + (p === 'tcp' ? v4.TCP?.tw ?? 0 : 0);
    }
  } catch {
    return 0;
  }
  return n;
}

const SCTP_NOTE = 'SCTP has no sock_diag module here and /proc/net/sctp is not read by sockscope';

function readFromProc(
  table: SocketTable, protocol: ProtoName, families: readonly number[], states: number, procRoot: string,
  src: ProtocolSource, why?: string,
): void {
  src.source = 'proc';
  if (why) src.note = why;
  const from = table.length;
  const files: { file: string; family: number }[] = protocol === 'unix'
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
  for (const k of ['proto', 'family', 'state', 'timer', 'retrans', 'sockType', 'sport', 'dport', 'ifindex', 'expires', 'rqueue', 'wqueue', 'uid', 'inode', 'cookieLo', 'cookieHi', 'attrStart', 'attrLength'] as const) {
    (t[k] as Uint32Array)[to] = (t[k] as Uint32Array)[from];
  }
  t.src.copyWithin(to * 16, from * 16, from * 16 + 16);
  t.dst.copyWithin(to * 16, from * 16, from * 16 + 16);
}

/**
 * Counts per protocol, family and state, with nothing decoded past the state byte. Uses the same dump plans
 * (and fallbacks) as takeSnapshot, without building a table.
 */
export async function takeCensus(options: Omit<SnapshotOptions, 'ext' | 'keepAttributes'> = {}, session?: DiagSession): Promise<Census> {
  const o = normalize({ ...options, ext: 0, unixShow: 0 });
  const started = performance.now();
  const takenAt = Date.now();
  const counts = new CensusCounts();
  const own = session ? undefined : await openSession(options);
  const s = session ?? (typeof own === 'string' ? undefined : own);
  const notes: string[] = [];
  const sources: ProtocolSource[] = [];
  if (typeof own === 'string') notes.push(`${own}: every protocol is read from /proc/net`);
  try {
    for (const protocol of o.protocols) {
      const src: ProtocolSource = { protocol, source: 'netlink', retries: 0, interrupted: false, malformed: 0, sockets: 0 };
      sources.push(src);
      const p = Proto[protocol];
      const base = p * 32;
      const c = counts.counts;
      let failed = !s;
      // TIME_WAIT from the kernel's counter (options.timeWaitFromCounter): dump every other state
      const twCounter = protocol === 'tcp' && !!options.timeWaitFromCounter && !o.bytecode && (o.states & (1 << TCP_TIME_WAIT)) !== 0
        && o.families.includes(AF_INET) && o.families.includes(AF_INET6);
      let finWait2Timewait = 0;
      if (s) {
        const dumpStates = twCounter ? o.states & ~(1 << TCP_TIME_WAIT) : o.states;
        for (const plan of plans({ ...o, states: dumpStates }, protocol)) {
          const saved = c.slice(base, base + 32);
          for (let attempt = 0; ; attempt++) {
            // unix_diag_msg: state at byte 2; inet_diag_msg: family at 0, state at 1.
            const r = protocol === 'unix'
              ? s.dump(plan.request, replyType(plan), (_v, _w, b, off, len) => {
                if (len >= 16) c[base + (b[off + 2] & 15)]++;
              })
              : s.dump(plan.request, replyType(plan), (_v, _w, b, off, len) => {
                if (len < INET_DIAG_MSG_SIZE) return;
                c[base + (b[off] === AF_INET6 ? 16 : 0) + (b[off + 1] & 15)]++;
                // idiag_timer 3: a timewait minisocket (here an orphaned FIN_WAIT2 one)
                if (twCounter && b[off + 2] === 3) finWait2Timewait++;
              });
            src.malformed += r.malformed;
            if (r.errno !== 0) {
              failed = true;
              src.errno = errnoName(r.errno);
              break;
            }
            if (!r.interrupted) break;
            if (attempt >= o.maxRetries) {
              src.interrupted = true;
              break;
            }
            src.retries++;
            c.set(saved, base);
            finWait2Timewait = 0;
          }
          if (failed) break;
        }
      }
      if (!failed && s && protocol === 'tcp' && twCounter) {
        // TIME_WAIT was left out of the dump: the counter, less the FIN_WAIT2 timewait sockets it also counts
        const tw = timeWaitCounter(o.procRoot);
        if (tw !== undefined) counts.tcpTimeWaitUnsplit = Math.max(0, tw - finWait2Timewait);
        else {
          for (const plan of plans({ ...o, states: 1 << TCP_TIME_WAIT }, protocol)) {
            const r = s.dump(plan.request, replyType(plan), (_v, _w, b, off, len) => {
              if (len >= INET_DIAG_MSG_SIZE) c[base + (b[off] === AF_INET6 ? 16 : 0) + (b[off + 1] & 15)]++;
            });
            src.malformed += r.malformed;
            if (r.interrupted) src.interrupted = true;
            if (r.errno !== 0) failed = true;
          }
        }
      }
      if (failed) {
        if (protocol === 'tcp') counts.tcpTimeWaitUnsplit = 0;
        c.fill(0, base, base + 32);
        const t = new SocketTable(1024);
        readFromProc(t, protocol, o.families, o.states, o.procRoot, src, src.errno ? `the kernel cannot dump ${protocol} over sock_diag (${src.errno}: no diag module)` : undefined);
        for (let i = 0; i < t.length; i++) counts.add(t.proto[i], t.family[i], t.state[i]);
      }
      src.sockets = counts.total(protocol);
    }
  } finally {
    if (!session && s) s.close();
  }
  return { counts, sources, takenAt, durationMs: performance.now() - started, notes };
}


