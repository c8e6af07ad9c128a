/**
 * What a snapshot is asked for (SnapshotOptions) and what it answers (Snapshot, Census, ProtocolSource): the
 * shapes shared by the session, the plan, the retry policy, the /proc fallback and their callers.
 */
import type { ProtoName } from '../diag/constants.js';
import type { CensusCounts } from './census.js';
import type { SockstatFiles } from './sockstat.js';
import type { SocketTable } from './table.js';

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
  /**
   * keep each socket's raw attributes in the table (default: when ext or unixShow asks for more than queues);
   * 'ipv6-wildcard': only those of unix sockets and of IPv6 sockets on the wildcard address (ss's table reads
   * their v6only to print `[::]` or `*`), so a plain listing does not hold every socket's attributes
   */
  keepAttributes?: boolean | 'ipv6-wildcard';
  /** TCP over both families: one legacy TCPDIAG_GETSOCK walk (default) or one v2 dump per family */
  tcpStrategy?: 'legacy' | 'v2';
  /** NLM_F_DUMP_INTR retries before the result is returned flagged */
  maxRetries?: number;
  /**
   * Receive the dumps in a worker thread while this one decodes (src/snapshot/read-ahead.ts) when
   * /proc/net/sockstat counts at least this many sockets of the protocols asked: for a caller that does much
   * with each batch (ls formatting it). ls gives READ_AHEAD_FROM (below, the worker's start costs more than it
   * saves); default: never.
   */
  readAheadFrom?: number;
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
  /**
   * No UDP dump (census or table) when the namespace's own counters (procRoot's net/sockstat "UDP: inuse" and
   * net/sockstat6 "UDP6: inuse", for the families asked) count no UDP socket: a UDP dump walks the whole UDP hash
   * table, shared by every namespace, once per family, however few sockets it finds. For a walk over many
   * namespaces, where the dumps and the counters are the same kernel namespace's (a replayed dump is not).
   */
  skipEmptyUdp?: boolean;
  /**
   * What the caller needs of ESTABLISHED TCP sockets (src/snapshot/established.ts): 'all' (default) dumps them;
   * 'count' dumps none and counts them per family from the namespace's counters (procRoot's net/sockstat and
   * sockstat6 "inuse" less the full sockets of the other states); 'listening-ports' (a table) dumps every other
   * state first, then only the ESTABLISHED sockets whose local port is a listening port of that dump or one of
   * `establishedPorts` (a filter program), and counts the rest. Only with both families, every state, no filter
   * program and live counters (procRoot /proc, /proc/thread-self or /proc/PID); ESTABLISHED sockets are dumped
   * until the counters have been seen to match a dump of every state (Snapshot.establishedNotDumped).
   */
  established?: 'all' | 'listening-ports' | 'count';
  /** with established 'listening-ports': local ports whose ESTABLISHED sockets are dumped too */
  establishedPorts?: readonly number[];
  /**
   * The namespace's net/sockstat and sockstat6 (skipEmptyUdp, timeWaitFromCounter, established) read through
   * files kept open (the agent's walk: src/netns/counters.ts CounterFiles) instead of by path under procRoot.
   */
  sockstatFiles?: SockstatFiles;
  /**
   * The namespace's Tcp ActiveOpens and PassiveOpens (net/snmp), read before the dumps: with a session that keeps
   * its last ESTABLISHED dump (DiagSession.memo), what tells that no socket became ESTABLISHED since.
   */
  tcpOpens?: () => readonly [number, number] | undefined;
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
  /**
   * ESTABLISHED TCP sockets per family [IPv4, IPv6] that the kernel counts and the table does not hold
   * (SnapshotOptions.established): their local port is no port asked for. Absent when every one was dumped.
   */
  establishedNotDumped?: [number, number];
  /**
   * ESTABLISHED rows handed out again from the session's last dump, not dumped (DiagSession.memo: the counters
   * showed no connection opened or closed since): how many. Absent when the kernel was asked.
   */
  establishedAgain?: number;
}

export interface Census {
  counts: CensusCounts;
  sources: ProtocolSource[];
  takenAt: number;
  durationMs: number;
  notes: string[];
}
