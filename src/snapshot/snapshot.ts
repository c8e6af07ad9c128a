/**
 * One snapshot per gather: every requested protocol dumped once over NETLINK_SOCK_DIAG into one SocketTable,
 * with /proc/net standing in for a protocol the kernel cannot dump, and the source of each protocol recorded.
 *
 * The parts, one concern each: session.ts (transport and session), plan.ts (what to ask), retry.ts (the one
 * dump-with-retry policy of the table, the stream and the census), proc-fallback.ts (/proc/net), and here the
 * protocol loop of the table and the stream; census-dump.ts counts without a table.
 */
import {
  AF_INET,
  AF_INET6,
  ALL_STATES,
  EXT_ALL,
  Ext,
  INET_DIAG_MSG_SIZE,
  Proto,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
} from '../diag/constants.js';
import {
  derivedEstablished,
  type EstablishedMemo,
  establishedMode,
  FullSocketCount,
  type Inuse,
  judgePremise,
  liveProcRoot,
  localPortsBytecode,
} from './established.js';
import { appendInetMessage } from '../diag/inet.js';
import { appendUnixMessage } from '../diag/unix.js';
import { estimateSockets, keepsAttributes, normalize, plans, SOCK_TYPE_OF } from './plan.js';

export { READ_AHEAD_FROM } from './plan.js';
import { fallbackReason, readFromProc } from './proc-fallback.js';
import { dumpWithRetry } from './retry.js';
import { errnoName } from '../sys/errno.js';
import type { DumpOutcome } from './dump.js';
import { type DiagSession, openSession } from './session.js';
import { SocketTable } from './table.js';
import type { ProtocolSource, Snapshot, SnapshotOptions } from './types.js';

export { DiagSession, type Transport } from './session.js';
export type { Census, ProtocolSource, Snapshot, SnapshotOptions, Source } from './types.js';
export { takeCensus } from './census-dump.js';
import { noUdpSockets, type SockstatCounters, sockstatCounters } from './sockstat.js';

/** Extensions for a full snapshot: every attribute that fits in idiag_ext. */
export const FULL_EXT = EXT_ALL;

/**
 * `into`: a table to fill (emptied first) instead of a new one, for a caller that takes snapshot after snapshot
 * and is done with each before the next (the agent's namespace walk): its columns are allocated once, not once
 * per namespace per gather. Not with attributes kept (their arena is sized per dump).
 */
export async function takeSnapshot(options: SnapshotOptions = {}, session?: DiagSession, into?: SocketTable): Promise<Snapshot> {
  const o = normalize(options);
  const keep = keepsAttributes(options, o);
  const all = keep === true;
  let table: SocketTable;
  if (into && !all) {
    table = into;
    table.length = 0;
    table.arenaUsed = 0;
  } else {
    const expected = estimateSockets(o.protocols, o.procRoot);
    // Size the arena for the whole dump up front: pages never written cost no memory, while growing by doubling
    // would copy and re-fault everything received so far.
    const perSocket = o.ext & Ext.info ? 640 : 192;
    table = new SocketTable(Math.max(4096, expected), all ? Math.max(1 << 20, Math.ceil(expected * 1.25) * perSocket) : 0);
  }
  const meta = await gather(options, session, { table, keep, inArena: all, canRetry: true });
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
  options: SnapshotOptions,
  onBatch: (table: SocketTable, takenAt: number) => void,
  session?: DiagSession,
): Promise<Omit<Snapshot, 'table'>> {
  const o = normalize(options);
  const keep = keepsAttributes(options, o);
  const table = new SocketTable(STREAM_BATCH, keep !== false ? STREAM_BATCH * 1024 : 0);
  const takenAt = Date.now();
  const flush = () => {
    if (table.length === 0) return;
    onBatch(table, takenAt);
    table.length = 0;
    table.arenaUsed = 0;
  };
  // Datagrams are received into the batch's arena (kept attributes are not copied), and a batch is handed out
  // between datagrams, once it has STREAM_BATCH rows: then none of its rows points into a datagram still being read.
  return gather(options, session, {
    table,
    keep,
    inArena: keep === true,
    canRetry: false,
    takenAt,
    beforeRead: () => table.length >= STREAM_BATCH && flush(),
    flush,
  });
}

/** Where gather() puts rows: one table for a snapshot, or a reused batch table for streaming. */
interface RowSink {
  table: SocketTable;
  keep: boolean | 'ipv6-wildcard';
  /** receive datagrams straight into table.arena (the rows stay), or into one buffer (attributes are copied) */
  inArena: boolean;
  canRetry: boolean;
  /** the time to report (streams hand it out with every batch) */
  takenAt?: number;
  /** before each datagram is received (DiagSession.dump) */
  beforeRead?: () => void;
  flush?: () => void;
}

/** The attributes of the row just appended when it is an IPv6 socket on the wildcard address (either end). */
function keepIfIpv6Wildcard(table: SocketTable, bytes: Uint8Array, off: number, len: number): void {
  const row = table.length - 1;
  if (table.family[row] !== AF_INET6 || len <= INET_DIAG_MSG_SIZE) return;
  const w = row << 2;
  const src = table.src32;
  const dst = table.dst32;
  if ((src[w] | src[w + 1] | src[w + 2] | src[w + 3]) === 0 || (dst[w] | dst[w + 1] | dst[w + 2] | dst[w + 3]) === 0) {
    table.setAttributes(row, bytes, off + INET_DIAG_MSG_SIZE, off + len);
  }
}

/** The protocol loop shared by takeSnapshot and streamSnapshot: dumps, retries, fallbacks, metadata. */
async function gather(options: SnapshotOptions, session: DiagSession | undefined, sink: RowSink): Promise<Omit<Snapshot, 'table'>> {
  const o = normalize(options);
  const started = performance.now();
  const takenAt = sink.takenAt ?? Date.now();
  const { table, keep } = sink;
  const keepInet = keep === true;
  const keepWildcard = keep === 'ipv6-wildcard';
  const sources: ProtocolSource[] = [];
  const notes: string[] = [];
  let establishedNotDumped: [number, number] | undefined;
  let establishedAgain: number | undefined;
  // the namespace's sockstat and sockstat6, read once (no UDP socket to dump; ESTABLISHED counted)
  let counters: SockstatCounters | undefined;
  const kernelCounters = (fresh = false) =>
    fresh || !counters ? (counters = sockstatCounters(o.procRoot, !!options.skipEmptyUdp, options.established !== undefined, options.sockstatFiles)) : counters;
  // read-ahead where asked and the dump is big enough to outlast the worker's start (~30 ms)
  const readAhead = !session && options.readAheadFrom !== undefined && estimateSockets(o.protocols, o.procRoot) >= options.readAheadFrom;
  const own = session ? undefined : await openSession(options, readAhead);
  const s = session ?? (typeof own === 'string' ? undefined : own);
  if (typeof own === 'string') notes.push(`${own}: every protocol is read from /proc/net; tcp_info, memory and cookies are not available`);
  try {
    for (const protocol of o.protocols) {
      const src: ProtocolSource = { protocol, source: 'netlink', retries: 0, interrupted: false, malformed: 0, sockets: 0 };
      sources.push(src);
      // no UDP socket in the namespace by its own counters (options.skipEmptyUdp, as the census): nothing to dump
      if (protocol === 'udp' && s && options.skipEmptyUdp && noUdpSockets(kernelCounters(), o.families)) continue;
      const mark = { length: table.length, arena: table.arenaUsed };
      let failed: DumpOutcome | undefined;
      const p = Proto[protocol];
      const sockType = protocol === 'unix' ? 0 : SOCK_TYPE_OF[protocol];
      const visit =
        protocol === 'unix'
          ? (view: DataView, _w: Uint32Array, bytes: Uint8Array, off: number, len: number) => {
              if (appendUnixMessage(table, view, bytes, off, len, keep !== false)) src.sockets++;
              else src.malformed++;
            }
          : (view: DataView, words: Uint32Array, bytes: Uint8Array, off: number, len: number) => {
              if (appendInetMessage(table, view, words, bytes, off, len, p, sockType, keepInet)) {
                src.sockets++;
                if (keepWildcard) keepIfIpv6Wildcard(table, bytes, off, len);
              } else src.malformed++;
            };
      // ESTABLISHED asked for less (options.established): established.ts
      const mode =
        protocol === 'tcp' && s && sink.canRetry && reducible(options, o)
          ? establishedMode(options.established, !!s.transport.live && liveProcRoot(o.procRoot))
          : 'full';
      const full = mode === 'full' ? undefined : new FullSocketCount();
      const before = mode === 'verify' ? kernelCounters(true).tcpInuse : undefined;
      // a kept session's ESTABLISHED sockets of the last gather (EstablishedMemo): the opening counts before any dump
      const memo = mode === 'derive' ? s?.memo : undefined;
      const opens = memo ? options.tcpOpens?.() : undefined;
      const dumpAll = (states: number, bytecode = o.bytecode): DumpOutcome | undefined => {
        for (const plan of plans({ ...o, states, bytecode }, protocol)) {
          const planMark = { length: table.length, arena: table.arenaUsed, sockets: src.sockets, full: full?.full.slice() };
          const r = dumpWithRetry(
            s!,
            plan,
            src,
            { maxRetries: o.maxRetries, canRetry: sink.canRetry },
            {
              visit: full
                ? (view, words, bytes, off, len) => {
                    visit(view, words, bytes, off, len);
                    full.visit(view, off, len);
                  }
                : visit,
              rollback: () => {
                table.length = planMark.length;
                table.arenaUsed = planMark.arena;
                src.sockets = planMark.sockets;
                if (full) full.full.splice(0, 2, ...planMark.full!);
              },
              arena: sink.inArena ? table : undefined,
              beforeRead: sink.beforeRead,
            },
            notes,
          );
          if (r) return r;
        }
        return undefined;
      };
      if (s) {
        failed = dumpAll(mode === 'derive' ? o.states & ~(1 << TCP_ESTABLISHED) : o.states);
        if (!failed && mode === 'verify') {
          const note = judgePremise(before, kernelCounters(true).tcpInuse, full!.full);
          if (note) notes.push(note);
        } else if (!failed && mode === 'derive') {
          const r = dumpEstablished(
            table,
            mark.length,
            kernelCounters().tcpInuse,
            full!.full,
            options,
            dumpAll,
            memo && { memo, opens, attributes: keep !== false, src },
          );
          failed = r.failed;
          establishedAgain = r.again;
          if (!failed && r.notDumped) {
            establishedNotDumped = r.notDumped;
            src.sockets += r.notDumped[0] + r.notDumped[1];
          }
        }
      }
      if (failed || !s) {
        establishedNotDumped = protocol === 'tcp' ? undefined : establishedNotDumped;
        table.length = mark.length;
        table.arenaUsed = mark.arena;
        let why: string | undefined;
        if (failed) {
          src.errno = errnoName(failed.errno);
          why = fallbackReason(protocol, failed.errno);
        }
        readFromProc(table, protocol, o.families, o.states, o.procRoot, src, why);
        src.sockets = table.length - mark.length;
      }
      sink.flush?.();
    }
  } finally {
    if (!session && s) s.close();
  }
  return {
    sources,
    takenAt,
    durationMs: performance.now() - started,
    ext: s ? o.ext : 0,
    notes,
    ...(establishedNotDumped ? { establishedNotDumped } : {}),
    ...(establishedAgain !== undefined ? { establishedAgain } : {}),
  };
}

/** A kept session's memo of its ESTABLISHED sockets (EstablishedMemo) and what this gather tells it. */
interface KeptEstablished {
  memo: EstablishedMemo;
  /** Tcp ActiveOpens and PassiveOpens, read before this gather's dumps (undefined: unreadable) */
  opens: readonly [number, number] | undefined;
  /** whether the table keeps attributes (the kept rows have theirs then) */
  attributes: boolean;
  /** the protocol's source: a dump flagged NLM_F_DUMP_INTR is not kept; rows handed out again count as its sockets */
  src: ProtocolSource;
}

/** Whether the dump asked for can leave ESTABLISHED out: both families, every state, no filter program of the caller's. */
const reducible = (options: SnapshotOptions, o: ReturnType<typeof normalize>): boolean =>
  options.established !== undefined &&
  options.established !== 'all' &&
  !o.bytecode &&
  (o.states & ALL_STATES) === ALL_STATES &&
  o.families.includes(AF_INET) &&
  o.families.includes(AF_INET6);

/**
 * The ESTABLISHED part of a table whose other states are dumped (rows from `from`): with 'listening-ports', the
 * ESTABLISHED sockets on a listening port (or options.establishedPorts) are dumped through a filter program; the
 * others are counted per family from the counters less the other states' full sockets. Unreadable counters or a
 * program too long: every ESTABLISHED socket is dumped.
 */
function dumpEstablished(
  table: SocketTable,
  from: number,
  inuse: Inuse | undefined,
  otherFull: readonly number[],
  options: SnapshotOptions,
  dumpAll: (states: number, bytecode?: Uint8Array) => DumpOutcome | undefined,
  kept?: KeptEstablished,
): { failed?: DumpOutcome; notDumped?: [number, number]; again?: number } {
  const EST = 1 << TCP_ESTABLISHED;
  if (!inuse) {
    kept?.memo.forget();
    return { failed: dumpAll(EST) };
  }
  const established = derivedEstablished(inuse, otherFull);
  if (options.established === 'count') return { notDumped: established };
  const ports = new Set(options.establishedPorts ?? []);
  // the listening ports, and the sockets still opening (SYN-SENT, SYN-RECV: they could become ESTABLISHED uncounted)
  let opening = 0;
  for (let i = from; i < table.length; i++) {
    if (table.proto[i] !== Proto.tcp) continue;
    const state = table.state[i];
    if (state === TCP_LISTEN) ports.add(table.sport[i]);
    else if (state === TCP_SYN_SENT || state === TCP_SYN_RECV) opening++;
  }
  if (ports.size === 0) {
    kept?.memo.forget();
    return { notDumped: established };
  }
  const sorted = [...ports].sort((a, b) => a - b);
  const bytecode = localPortsBytecode(sorted);
  if (!bytecode) {
    kept?.memo.forget();
    return { failed: dumpAll(EST) };
  }
  const mark = table.length;
  let failed: DumpOutcome | undefined;
  let again: number | undefined;
  if (kept) {
    const key = sorted.join(',');
    if (!kept.src.interrupted && kept.memo.unchanged(kept.opens, established, key, kept.attributes)) {
      // no socket became or stopped being ESTABLISHED since the last gather: its sockets on these ports, again
      again = kept.memo.replay(table);
      kept.src.sockets += again;
      kept.memo.keep(kept.opens, established, key, opening);
    } else {
      failed = dumpAll(EST, bytecode);
      if (failed || kept.src.interrupted) kept.memo.forget();
      else kept.memo.commit(table, mark, table.length, kept.attributes, kept.opens, established, key, opening);
    }
  } else failed = dumpAll(EST, bytecode);
  if (failed) return { failed };
  const dumped = [0, 0];
  for (let i = mark; i < table.length; i++) dumped[table.family[i] === AF_INET6 ? 1 : 0]++;
  // a program the kernel refused is dropped (dumpWithRetry): every ESTABLISHED socket is then in the table
  return { notDumped: [Math.max(0, established[0] - dumped[0]), Math.max(0, established[1] - dumped[1])], again };
}
