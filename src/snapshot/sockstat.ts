/**
 * A namespace's socket counters from its /proc/net/sockstat and sockstat6, read once per snapshot or census: what
 * lets a dump be left out (no UDP socket; ESTABLISHED counted, src/snapshot/established.ts) and TIME_WAIT's count.
 */
import { AF_INET, AF_INET6 } from '../diag/constants.js';
import { readProcText } from '../procfs/read.js';

/**
 * The kernel's socket counters of the calling thread's network namespace (a thread may have entered another one:
 * /proc/thread-self, not /proc/self), from net/ipv4/proc.c sockstat_seq_show and net/ipv6/proc.c
 * sockstat6_seq_show: TCP TIME_WAIT sockets ("TCP: ... tw N"), UDP sockets per family ("UDP: inuse N", "UDP6:
 * inuse N": the sockets in the UDP hash table, which is what a UDP dump walks). Each is undefined when unreadable.
 */
export interface SockstatCounters {
  tcpTimeWait?: number;
  udp?: number;
  udp6?: number;
  /**
   * hashed full TCP sockets per family [IPv4, IPv6] ("TCP: inuse N", "TCP6: inuse N"; src/snapshot/established.ts),
   * when asked for (`tcp`); no sockstat6 (a kernel without IPv6) counts no IPv6 socket
   */
  tcpInuse?: readonly [number, number];
}

const count = (n: number | undefined): number | undefined => (n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined);

/** Where a namespace's sockstat files are read from when not by path (SnapshotOptions.sockstatFiles). */
export type SockstatFiles = (name: 'sockstat' | 'sockstat6') => string | undefined;

/**
 * `udp`: whether UDP's counts matter (sockstat6 is read for them only while IPv4 counts none); `tcp`: TCP inuse too;
 * `files`: the files kept open (the agent's walk), read instead of by path under procRoot.
 */
export function sockstatCounters(procRoot: string, udp: boolean, tcp = false, files?: SockstatFiles): SockstatCounters {
  const dir = procRoot === '/proc' ? '/proc/thread-self/net' : `${procRoot}/net`;
  const read = files ?? ((name: 'sockstat' | 'sockstat6') => readProcText(`${dir}/${name}`));
  const text = read('sockstat');
  const udp4 = text === undefined ? undefined : field(text, 'UDP:', 'inuse');
  // sockstat6 only when it can still matter: with IPv4 UDP sockets there are UDP dumps anyway
  const text6 = tcp || (udp && udp4 === 0) ? read('sockstat6') : undefined;
  const out: SockstatCounters = {
    tcpTimeWait: text === undefined ? undefined : field(text, 'TCP:', 'tw'),
    udp: udp4,
    udp6: text6 === undefined ? undefined : field(text6, 'UDP6:', 'inuse'),
  };
  if (tcp && text !== undefined) {
    const a = field(text, 'TCP:', 'inuse');
    // no sockstat6: a kernel without IPv6 has no IPv6 socket
    const b = text6 === undefined ? 0 : field(text6, 'TCP6:', 'inuse');
    if (a !== undefined && b !== undefined) out.tcpInuse = [a, b];
  }
  return out;
}

/**
 * One count of a sockstat line ("TCP: inuse 3 orphan 0 tw 5 ..."): the number after `key` on the line that starts
 * with `line`, or undefined. Read where it stands rather than parsed whole (parseSockstat): a walk reads these
 * files for every namespace every gather.
 */
function field(text: string, line: string, key: string): number | undefined {
  const start = text.startsWith(line) ? 0 : text.indexOf(`\n${line}`) + 1;
  if (start === 0 && !text.startsWith(line)) return undefined;
  const end = text.indexOf('\n', start);
  const words = text
    .slice(start + line.length, end < 0 ? text.length : end)
    .trim()
    .split(' ');
  for (let k = 0; k + 1 < words.length; k += 2) if (words[k] === key) return count(Number(words[k + 1]));
  return undefined;
}

/** Whether the counters say there is no UDP socket of the families asked for (unreadable: not known, so no). */
export function noUdpSockets(k: SockstatCounters, families: readonly number[]): boolean {
  return families.every((f) => (f === AF_INET ? k.udp : f === AF_INET6 ? k.udp6 : undefined) === 0);
}
