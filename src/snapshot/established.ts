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
import { AF_INET6, InetAttr, INET_DIAG_MSG_SIZE } from '../diag/constants.js';
import type { FilterNode } from '../filter/ast.js';
import { compileBytecode } from '../filter/bytecode.js';
import { readProcText } from '../procfs/read.js';
import { cacheRoots, privateDir } from '../util/cache-dir.js';

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

const programs = new Map<string, Uint8Array | undefined>();

/**
 * The filter program "sport = :p1 or sport = :p2 ..." (src/filter's compiler), or undefined when it would be too
 * long for the kernel (then every ESTABLISHED socket is dumped). The last few are kept by their port list.
 */
export function localPortsBytecode(ports: readonly number[]): Uint8Array | undefined {
  const key = ports.join(',');
  if (programs.has(key)) return programs.get(key);
  const span = { start: 0, end: 0 };
  const leaf = (port: number): FilterNode => ({ kind: 'port', side: 'src', op: '=', port, text: String(port), ...span });
  let node = leaf(ports[0]);
  for (let k = 1; k < ports.length; k++) node = { kind: 'or', left: node, right: leaf(ports[k]), ...span };
  const { bytecode } = compileBytecode(node, {
    netAdmin: false,
    ifindex: () => 0,
    cgroupId: () => 0n,
  });
  if (programs.size >= 64) programs.clear();
  programs.set(key, bytecode);
  return bytecode;
}
