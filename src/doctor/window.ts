/**
 * Reading a doctor window (two samples a window apart and the holders of the second one's sockets) for the
 * checks in checks.ts: its shape and an observation's, and what several checks ask of it: endpoints as text,
 * rows grouped by endpoints or holding process, a namespace counter's rate, the listener a socket belongs to.
 */
import { formatAddress } from '../diag/address.js';
import { AF_INET6, Proto, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_ESTABLISHED, TCP_LAST_ACK, TCP_LISTEN } from '../diag/constants.js';
import type { Subject } from './definitions.js';
import type { HolderIndex } from './holders.js';
import type { NamespaceCounters } from './host.js';
import type { DoctorSample } from './sample.js';

export interface DoctorWindow {
  a: DoctorSample;
  b: DoctorSample;
  /** between the two dumps' starts */
  elapsedMs: number;
  /** the holders of b's sockets (undefined: attribution unavailable) */
  holders?: HolderIndex;
  /** what to call the namespace in subjects */
  netns: string;
}

export interface Observation {
  measure: string;
  subject: Subject;
  value: number;
  /** the numbers behind value, with units in their names */
  facts: Record<string, unknown>;
  /** one line: what was seen */
  text: string;
  /** advice specific to this observation, before the check's general advice */
  advice?: string;
}

export type Evaluate = (w: DoctorWindow, t: Record<string, number>) => Observation[];

/**
 * Bytes the application has not read: Recv-Q less the peer's FIN, which takes a sequence number (inet_diag's
 * rqueue is rcv_nxt - copied_seq) once it has arrived (CLOSE_WAIT, LAST_ACK, CLOSING): ss shows Recv-Q 1 for a
 * CLOSE-WAIT socket with nothing to read.
 */
export const unread = (s: DoctorSample, i: number): number => {
  const st = s.state[i];
  return st === TCP_CLOSE_WAIT || st === TCP_LAST_ACK || st === TCP_CLOSING ? Math.max(0, s.rqueue[i] - 1) : s.rqueue[i];
};

/** states in which a connection exchanges data */
export const DATA_STATES = new Set([TCP_ESTABLISHED, TCP_CLOSE_WAIT]);

/** idiag_timer 4: the zero window probe timer (ss "persist") */
export const TIMER_PROBE0 = 4;

export const endpoint = (s: DoctorSample, addr: Uint8Array, i: number, port: number): string => {
  const a = formatAddress(s.family[i], addr, i * 16);
  return s.family[i] === AF_INET6 ? `[${a}]:${port}` : `${a}:${port}`;
};
export const local = (s: DoctorSample, i: number) => endpoint(s, s.src, i, s.sport[i]);
export const remote = (s: DoctorSample, i: number) => endpoint(s, s.dst, i, s.dport[i]);
export const peerAddr = (s: DoctorSample, i: number) => formatAddress(s.family[i], s.dst, i * 16);

export const perMinute = (delta: number, ms: number) => (ms > 0 ? (delta * 60_000) / ms : 0);
export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The first holder of a socket, or undefined. */
export function holderOf(w: DoctorWindow, inode: number): { pid: number; comm: string } | undefined {
  if (!w.holders || inode === 0 || !w.holders.has(inode)) return undefined;
  const h = w.holders.holders(inode)[0];
  return { pid: h.pid, comm: h.comm };
}
export const processText = (p: { pid: number; comm: string } | undefined) => (p ? `${p.comm || '?'} (pid ${p.pid})` : 'an unidentified process');

/** Rows of `s` grouped by a key; the groups in order of size, largest first. */
export function groupRows(s: DoctorSample, pick: (i: number) => boolean, key: (i: number) => string | number): Map<string | number, number[]> {
  const m = new Map<string | number, number[]>();
  for (let i = 0; i < s.length; i++) {
    if (!pick(i)) continue;
    const k = key(i);
    const g = m.get(k);
    if (g) g.push(i);
    else m.set(k, [i]);
  }
  return new Map([...m].sort((x, y) => y[1].length - x[1].length));
}

/** An IPv4 address of a row as one number (uint32), or -1 for IPv6: a key that needs no string per socket. */
export const v4 = (s: DoctorSample, addr: Uint8Array, i: number): number =>
  s.family[i] === AF_INET6 ? -1 : ((addr[i * 16] << 24) | (addr[i * 16 + 1] << 16) | (addr[i * 16 + 2] << 8) | addr[i * 16 + 3]) >>> 0;

/**
 * Rows grouped by (source address, destination address:port), largest group first: numeric keys for IPv4 (a
 * busy host has ~100k connections: a string per socket is most of the check's time), text for IPv6.
 */
export function groupByEndpoints(s: DoctorSample, pick: (i: number) => boolean): number[][] {
  const v4Groups = new Map<number, Map<number, number[]>>();
  const v6Groups = new Map<string, number[]>();
  for (let i = 0; i < s.length; i++) {
    if (!pick(i)) continue;
    const src = v4(s, s.src, i);
    let g: number[] | undefined;
    if (src >= 0) {
      const dst = v4(s, s.dst, i) * 65536 + s.dport[i];
      let bySrc = v4Groups.get(dst);
      if (!bySrc) v4Groups.set(dst, (bySrc = new Map()));
      g = bySrc.get(src);
      if (!g) bySrc.set(src, (g = []));
    } else {
      const key = `${formatAddress(s.family[i], s.src, i * 16)}\u0000${remote(s, i)}`;
      g = v6Groups.get(key);
      if (!g) v6Groups.set(key, (g = []));
    }
    g.push(i);
  }
  const out = [...v6Groups.values()];
  for (const bySrc of v4Groups.values()) out.push(...bySrc.values());
  return out.sort((x, y) => y.length - x.length);
}

/** Group rows by the process holding them (pid; -1: no holder seen). */
export const byProcess = (w: DoctorWindow, pick: (i: number) => boolean) => groupRows(w.b, pick, (i) => holderOf(w, w.b.inode[i])?.pid ?? -1);
export const processOfGroup = (w: DoctorWindow, rows: number[]) => holderOf(w, w.b.inode[rows[0]]);

/** A rate of a namespace counter over the window, or nothing when the kernel lacks it. */
export function counterRate(w: DoctorWindow, measure: string, counter: keyof NamespaceCounters, name: string): Observation[] {
  const x = w.a.host.counters[counter];
  const y = w.b.host.counters[counter];
  if (x === undefined || y === undefined) return [];
  const delta = Math.max(0, y - x);
  const rate = perMinute(delta, w.elapsedMs);
  return [
    {
      measure,
      subject: { netns: w.netns },
      value: round(rate),
      facts: { counter: name, increase: delta, window_ms: Math.round(w.elapsedMs), total: y },
      text: `${name} rose by ${delta} in ${(w.elapsedMs / 1000).toFixed(1)} s (${round(rate)}/min)`,
    },
  ];
}

/** The listener a SYN_RECV or accepted socket belongs to: same local port, same address or a wildcard one. */
export function listenerIndex(s: DoctorSample): (i: number) => number {
  const byPort = new Map<number, number[]>();
  for (let i = 0; i < s.length; i++) {
    if (s.proto[i] !== Proto.tcp || s.state[i] !== TCP_LISTEN) continue;
    const g = byPort.get(s.sport[i]);
    if (g) g.push(i);
    else byPort.set(s.sport[i], [i]);
  }
  const isWildcard = (i: number) => {
    for (let k = 0; k < 16; k++) if (s.src[i * 16 + k] !== 0) return false;
    return true;
  };
  const sameAddr = (i: number, j: number) => {
    if (s.family[i] !== s.family[j]) return false;
    for (let k = 0; k < 16; k++) if (s.src[i * 16 + k] !== s.src[j * 16 + k]) return false;
    return true;
  };
  return (i) => {
    const g = byPort.get(s.sport[i]);
    if (!g) return -1;
    return g.find((l) => sameAddr(l, i)) ?? g.find((l) => isWildcard(l) && (s.family[l] === s.family[i] || s.family[l] === AF_INET6)) ?? -1;
  };
}
