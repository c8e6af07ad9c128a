/**
 * Asking the kernel for fewer ESTABLISHED TCP sockets (SnapshotOptions.established): the census and the table
 * share this one plan.
 *
 * The kernel counts its hashed full TCP sockets per family and namespace: sock_prot_inuse_add() runs when a
 * socket enters the hash tables (__inet_hash for a listener, inet_ehash_nolisten for a connect()ing or accepted
 * socket) and when it leaves them (inet_unhash from tcp_set_state(TCP_CLOSE), inet_twsk_hashdance when a
 * timewait minisocket takes its place), against sk->sk_prot: tcp_prot for AF_INET, tcpv6_prot for AF_INET6
 * (v4-mapped connections of an IPv6 socket included). /proc/net/sockstat prints it as "TCP: inuse N",
 * sockstat6 as "TCP6: inuse N". Request sockets (SYN_RECV of a listener, in the hash as TCP_NEW_SYN_RECV) and
 * timewait minisockets (TIME_WAIT, and FIN_WAIT2 of an orphan: tw_substate) are not counted. So the ESTABLISHED
 * sockets of a family are its inuse count less the full sockets of that family the dump of every other state
 * returns. inet_diag tells them apart: only a full socket's message carries INET_DIAG_SHUTDOWN
 * (inet_diag_msg_attrs_fill puts it first, whatever the extensions asked), a timewait one has idiag_timer 3 and
 * no attribute, a request one idiag_timer 1 and at most INET_DIAG_MARK. (/proc/net/snmp's CurrEstab has no
 * family and counts CLOSE_WAIT too since Linux 6.10: unusable for ip_version counts.)
 *
 * That is the kernel's behaviour today; whether this kernel behaves so is checked at run time, not assumed from
 * its version: until one dump of every state shows a family's full sockets equal to its inuse count with the
 * counters unchanged across the dump (no socket came or went), every ESTABLISHED socket is dumped; a mismatch in
 * such a still moment means the premise does not hold here, and ESTABLISHED sockets are dumped from then on. The
 * verdict is kept for the boot (the cache directory), for the next process.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { AF_INET6, BcOp, InetAttr, INET_DIAG_MSG_SIZE, MAX_BYTECODE } from '../diag/constants.js';
import { readProcText } from '../procfs/read.js';
import { cacheRoots, privateDir } from '../util/cache-dir.js';
import { SocketTable } from './table.js';

/**
 * What a gather needs of ESTABLISHED TCP sockets: 'all' (every row), 'listening-ports' (the rows whose local
 * port is a listening port or one of SnapshotOptions.establishedPorts; the rest counted per family), 'count'
 * (their count per family only).
 */
export type EstablishedNeed = 'all' | 'listening-ports' | 'count';

const RANK: Record<EstablishedNeed, number> = { count: 0, 'listening-ports': 1, all: 2 };

/** The need that covers both. */
export const widerNeed = (a: EstablishedNeed, b: EstablishedNeed): EstablishedNeed => (RANK[a] >= RANK[b] ? a : b);

/** Hashed full TCP sockets per family [IPv4, IPv6] (sockstat "TCP: inuse", sockstat6 "TCP6: inuse"). */
export type Inuse = readonly [number, number];

/**
 * Whether the counters are the live kernel's for the namespace dumped: /proc itself, or a thread's or process's
 * /proc directory (the namespace walk's). A recorded /proc (tests replaying a dump) is not.
 */
export const liveProcRoot = (procRoot: string): boolean => /^\/proc(\/(thread-self|self|\d+))?$/.test(procRoot);

/** Whether the inet_diag message at [off, off+len) is a full socket's: it carries INET_DIAG_SHUTDOWN. */
export function isFullSocket(view: DataView, off: number, len: number): boolean {
  let at = off + INET_DIAG_MSG_SIZE;
  const end = off + len;
  while (end - at >= 4) {
    const alen = view.getUint16(at, true);
    if (alen < 4) return false;
    if ((view.getUint16(at + 2, true) & 0x3fff) === InetAttr.SHUTDOWN) return true;
    at += (alen + 3) & ~3;
  }
  return false;
}

/**
 * Whether this kernel's counters were found to match its dumps: unknown until a still moment says. The verdict
 * is kept in sockscope's private cache directory for this boot of this kernel (/proc/sys/kernel/random/boot_id),
 * so that the next process (a one-shot gather of one namespace) need not dump everything to find it again.
 */
let premise: 'unknown' | 'holds' | 'broken' | undefined;

type Verdict = 'unknown' | 'holds' | 'broken';

const VERDICT_FILE = 'established-counters';

function verdictPath(): { path: string; boot: string } | undefined {
  const boot = readProcText('/proc/sys/kernel/random/boot_id')?.trim();
  const root = cacheRoots().find((r) => privateDir(r));
  return boot && root ? { path: join(root, VERDICT_FILE), boot } : undefined;
}

function kept(): Verdict {
  try {
    const where = verdictPath();
    if (!where) return 'unknown';
    const [boot, verdict] = readFileSync(where.path, 'latin1').trim().split(' ');
    return boot === where.boot && (verdict === 'holds' || verdict === 'broken') ? verdict : 'unknown';
  } catch {
    return 'unknown';
  }
}

function keep(verdict: Verdict): void {
  premise = verdict;
  try {
    const where = verdictPath();
    if (!where) return;
    const tmp = `${where.path}.${process.pid}.${threadId}`;
    writeFileSync(tmp, `${where.boot} ${verdict}\n`, { mode: 0o600 });
    renameSync(tmp, where.path);
  } catch {
    /* a cache: this process still knows */
  }
}

export const establishedPremise = (): Verdict => (premise ??= kept());

/**
 * Judge the premise from a dump of every state: `full` the full sockets per family it returned, `before` and
 * `after` the inuse counts read around it. Counters that moved decide nothing. Returns a note when it is found
 * broken.
 */
export function judgePremise(before: Inuse | undefined, after: Inuse | undefined, full: readonly number[]): string | undefined {
  if (establishedPremise() !== 'unknown' || !before || !after || before[0] !== after[0] || before[1] !== after[1]) return undefined;
  if (full[0] === after[0] && full[1] === after[1]) {
    keep('holds');
    return undefined;
  }
  keep('broken');
  return `tcp: the kernel's socket counters (sockstat inuse ${after[0]}/${after[1]}) do not match its dump (${full[0]}/${full[1]} full sockets): ESTABLISHED sockets are dumped, not counted`;
}

/**
 * How a dump of TCP goes for a need: 'full' (every ESTABLISHED socket dumped, as always), 'verify' (the same,
 * judging the premise on the way), 'derive' (ESTABLISHED counted from the counters).
 */
export function establishedMode(need: EstablishedNeed | undefined, live: boolean): 'full' | 'verify' | 'derive' {
  if (need === undefined || need === 'all' || !live) return 'full';
  const p = establishedPremise();
  return p === 'broken' ? 'full' : p === 'holds' ? 'derive' : 'verify';
}

/** Full sockets per family counted over a dump's messages (a retried dump starts over: reset()). */
export class FullSocketCount {
  readonly full = [0, 0];

  visit(view: DataView, off: number, len: number): void {
    if (len >= INET_DIAG_MSG_SIZE && isFullSocket(view, off, len)) this.full[view.getUint8(off) === AF_INET6 ? 1 : 0]++;
  }

  reset(): void {
    this.full[0] = 0;
    this.full[1] = 0;
  }
}

/** ESTABLISHED sockets per family from the counters and the full sockets of the other states (never below 0). */
export const derivedEstablished = (inuse: Inuse, otherFull: readonly number[]): [number, number] => [
  Math.max(0, inuse[0] - otherFull[0]),
  Math.max(0, inuse[1] - otherFull[1]),
];

/**
 * The filter program "sport is one of `ports`" (sorted, distinct), or undefined when it would be too long for the
 * kernel (then every ESTABLISHED socket is dumped). A balanced search, not src/filter's chain of "sport = p or
 * ...": each socket is tested against log2(n) + 2 ports, not n. The kernel's inet_diag_bc_run takes an op's `yes`
 * (a u8) when its test holds and its `no` (a u16) when not, and accepts a socket whose run ends exactly at the
 * end of the program; inet_diag_bc_audit follows the `yes` chain only and wants every `no` to land on that chain
 * or at most 4 bytes past the end. So every `yes` is the op's own length (fall through) and the search branches
 * by `no`, forward only: a node "sport >= p[m]" falls through to the ports from p[m] up and jumps over them to the
 * ports below; a leaf tests "sport >= p" (unless a node above already did) and "sport <= p", failing to the
 * reject (4 past the end), then a JMP to the end (accept). 20 bytes at most per port.
 */
export function localPortsBytecode(ports: readonly number[]): Uint8Array | undefined {
  const n = ports.length;
  if (n === 0) return undefined;
  const size = (lo: number, hi: number, low: boolean): number => {
    if (lo === hi) return (low ? 0 : 8) + 12;
    const m = (lo + hi + 1) >> 1;
    return 8 + size(m, hi, true) + size(lo, m - 1, low);
  };
  const total = size(0, n - 1, false);
  if (total > MAX_BYTECODE) return undefined;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const put = (code: number, yes: number, no: number, operand?: number) => {
    view.setUint8(at, code);
    view.setUint8(at + 1, yes);
    view.setUint16(at + 2, no, true);
    if (operand !== undefined) view.setUint16(at + 6, operand, true);
    at += operand === undefined ? 4 : 8;
  };
  const emit = (lo: number, hi: number, low: boolean): void => {
    if (lo === hi) {
      if (!low) put(BcOp.S_GE, 8, total - at + 4, ports[lo]);
      put(BcOp.S_LE, 8, total - at + 4, ports[lo]);
      put(BcOp.JMP, 4, total - at);
      return;
    }
    const m = (lo + hi + 1) >> 1;
    put(BcOp.S_GE, 8, 8 + size(m, hi, true), ports[m]);
    emit(m, hi, true);
    emit(lo, m - 1, low);
  };
  emit(0, n - 1, false);
  return bytes;
}

/**
 * The ESTABLISHED sockets a kept session's last 'listening-ports' dump returned, to be handed out again while the
 * namespace's counters prove the set unchanged (src/snapshot/snapshot.ts). A socket becomes ESTABLISHED only from
 * SYN_SENT or SYN_RECV, and the kernel counts each opening when it starts: Tcp ActiveOpens (/proc/net/snmp) in
 * tcp_connect, PassiveOpens when a listener's child socket is made (tcp_create_openreq_child), and no socket ever
 * goes back to ESTABLISHED once it left. So when, between two gathers, neither count moved and the previous
 * gather's dump of the other states held no SYN_SENT or SYN_RECV socket (one already counted that could still
 * finish its handshake), no socket entered ESTABLISHED; when each family's ESTABLISHED count (derivedEstablished)
 * is also the same, none left either: the set, and so the sockets on the listening ports (the same ports), is
 * the one dumped before, and the kernel is not asked to walk its hash table and fill them again. The counts are
 * read before the dumps, as the census's are; an opening that falls between the read and the dump is seen by
 * the next gather's counts (the same one-interval, one-socket latitude as derivedEstablished's). A socket made
 * ESTABLISHED by TCP_REPAIR (a checkpoint restored) is not counted as an opening: it shows as a changed count
 * unless another socket closed in the same interval.
 *
 * What is kept is the dump's rows, as the decoder made them (their attributes too when the table keeps them),
 * appended again: addresses, ports, state and inode are the sockets' now, queues and timers those of that dump.
 */
export class EstablishedMemo {
  private opens: readonly [number, number] | undefined;
  private established: readonly [number, number] = [0, 0];
  private ports = '';
  /** SYN_SENT and SYN_RECV sockets in the last gather's dump of the other states */
  private opening = -1;
  private valid = false;
  private withAttributes = false;
  private rows = new SocketTable(16, 0);

  /** Whether the last dump's rows are the ESTABLISHED sockets on `ports` now (see the class). */
  unchanged(opens: readonly [number, number] | undefined, established: readonly [number, number], ports: string, attributes: boolean): boolean {
    return (
      this.valid &&
      opens !== undefined &&
      this.opens !== undefined &&
      this.opening === 0 &&
      attributes === this.withAttributes &&
      opens[0] === this.opens[0] &&
      opens[1] === this.opens[1] &&
      established[0] === this.established[0] &&
      established[1] === this.established[1] &&
      ports === this.ports
    );
  }

  /** The kept rows appended to `table`; how many. */
  replay(table: SocketTable): number {
    table.appendRows(this.rows);
    return this.rows.length;
  }

  /** Rows [from, to) of `table` are this gather's dump: kept, with what they are valid for. */
  commit(
    table: SocketTable,
    from: number,
    to: number,
    attributes: boolean,
    opens: readonly [number, number] | undefined,
    established: readonly [number, number],
    ports: string,
    opening: number,
  ): void {
    const n = to - from;
    // sized to the dump (a namespace that shrank a lot does not keep a table sized for what it held)
    if (this.rows.capacity < n || this.rows.capacity > 2 * n + 64) this.rows = new SocketTable(n, 0);
    this.rows.length = 0;
    this.rows.arenaUsed = 0;
    this.rows.appendRows(table, from, to);
    this.withAttributes = attributes;
    this.keep(opens, established, ports, opening);
  }

  /** The kept rows were handed out again: what the next gather compares with. */
  keep(opens: readonly [number, number] | undefined, established: readonly [number, number], ports: string, opening: number): void {
    this.opens = opens;
    this.established = established;
    this.ports = ports;
    this.opening = opening;
    this.valid = opens !== undefined;
  }

  /** Nothing kept is to be trusted (a dump failed or kept changing). */
  forget(): void {
    this.valid = false;
  }
}
