/**
 * A namespace's socket counters from its /proc/net/sockstat and sockstat6, read once per snapshot or census: what
 * lets a dump be left out (no UDP socket; ESTABLISHED counted, src/snapshot/established.ts) and TIME_WAIT's count.
 */
import { AF_INET, AF_INET6 } from '../diag/constants.js';
import { parseSockstat } from '../procfs/net.js';
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
  const v4 = text === undefined ? undefined : parseSockstat(text);
  const udp4 = count(v4?.UDP?.inuse);
  // sockstat6 only when it can still matter: with IPv4 UDP sockets there are UDP dumps anyway
  const text6 = tcp || (udp && udp4 === 0) ? read('sockstat6') : undefined;
  const v6 = text6 === undefined ? undefined : parseSockstat(text6);
  const out: SockstatCounters = { tcpTimeWait: count(v4?.TCP?.tw), udp: udp4, udp6: count(v6?.UDP6?.inuse) };
  if (tcp && v4 !== undefined) {
    const a = count(v4.TCP?.inuse);
    // no sockstat6: a kernel without IPv6 has no IPv6 socket
    const b = v6 === undefined ? 0 : count(v6.TCP6?.inuse);
    if (a !== undefined && b !== undefined) out.tcpInuse = [a, b];
  }
  return out;
}

/** Whether the counters say there is no UDP socket of the families asked for (unreadable: not known, so no). */
export function noUdpSockets(k: SockstatCounters, families: readonly number[]): boolean {
  return families.every((f) => (f === AF_INET ? k.udp : f === AF_INET6 ? k.udp6 : undefined) === 0);
}
