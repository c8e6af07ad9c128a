/**
 * What the netstat-style collectors count, as an accessor over rows rather than one object per socket: a
 * snapshot's table (tableConnections) or, in tests, the connection lists of Telegraf's and DataKit's own
 * test vectors. Addresses are formatted only when a collector asks.
 */
import { formatAddress } from '../diag/address.js';
import { AF_INET6, Proto, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, TCP_LISTEN } from '../diag/constants.js';
import { decodeUnixAttributes } from '../diag/unix.js';
import type { SocketHolders } from '../procfs/processes.js';
import type { SocketTable } from '../snapshot/table.js';

const PORT_TEXT: (string | undefined)[] = [];
/** A port's decimal text, made once per port: collectors label thousands of points with the same few ports. */
export const portText = (port: number): string => (PORT_TEXT[port] ??= String(port));

/**
 * Rows a collector's loop takes per call. An agent runs each collector once per gather: one call over 150k
 * rows gives V8 a single invocation to learn from, its loop outruns the optimizing compiler (on-stack
 * replacement compiles concurrently, and the loop is done first), and the optimized code came only after some
 * ten gathers; calls over slices of the rows are optimized within the first gather.
 */
export const ROWS_PER_CALL = 8192;

/** Row indices of the TCP sockets in LISTEN, in table order. */
export function tcpListenerRows(t: SocketTable): number[] {
  const rows: number[] = [];
  for (let from = 0; from < t.length; from += ROWS_PER_CALL) listenerRowsIn(t.proto, t.state, from, Math.min(t.length, from + ROWS_PER_CALL), rows);
  return rows;
}

function listenerRowsIn(proto: Uint8Array, state: Uint8Array, from: number, to: number, rows: number[]): void {
  for (let i = from; i < to; i++) if (proto[i] === Proto.tcp && state[i] === TCP_LISTEN) rows.push(i);
}

export const Kind = { other: 0, tcp: 1, udp: 2, unixStream: 3, unixDgram: 4, unixSeqpacket: 5 } as const;
export type IpVersion = '4' | '6' | 'unknown';

export interface ConnectionSource {
  readonly length: number;
  kind(i: number): number;
  /** TCP_* state number; for gopsutil-style statuses with no number (NONE, ''), 0 */
  state(i: number): number;
  /** gopsutil's status "NONE" (unix stream/seqpacket sockets) */
  isStatusNone(i: number): boolean;
  ipVersion(i: number): IpVersion;
  localPort(i: number): number;
  localAddress(i: number): string;
  remotePort(i: number): number;
  remoteAddress(i: number): string;
  /** a process holding the socket, 0 when unknown */
  pid(i: number): number;
  /** gopsutil's de-duplication key: (type, laddr, raddr, status) */
  dedupKey(i: number): string;
}

/**
 * The rows of a snapshot table. `holders` (process attribution) is optional: pid() is then 0. A class, not an
 * object of closures: each gather makes a new one, and methods on one prototype keep the collectors' call
 * sites monomorphic (inlined) from one gather to the next.
 */
export function tableConnections(t: SocketTable, holders?: SocketHolders): ConnectionSource {
  return new TableConnections(t, holders);
}

class TableConnections implements ConnectionSource {
  readonly length: number;
  constructor(
    private readonly t: SocketTable,
    private readonly holders: SocketHolders | undefined,
  ) {
    this.length = t.length;
  }

  kind(i: number): number {
    const t = this.t;
    const p = t.proto[i];
    if (p === Proto.tcp) return Kind.tcp;
    if (p === Proto.udp) return Kind.udp;
    if (p === Proto.unix) {
      const st = t.sockType[i];
      return st === SOCK_STREAM ? Kind.unixStream : st === SOCK_DGRAM ? Kind.unixDgram : st === SOCK_SEQPACKET ? Kind.unixSeqpacket : Kind.other;
    }
    return Kind.other;
  }

  state(i: number): number {
    return this.t.state[i];
  }

  isStatusNone(i: number): boolean {
    return this.t.proto[i] === Proto.unix && this.t.sockType[i] !== SOCK_DGRAM;
  }

  ipVersion(i: number): IpVersion {
    return this.t.proto[i] === Proto.unix ? 'unknown' : this.t.family[i] === AF_INET6 ? '6' : '4';
  }

  localPort(i: number): number {
    return this.t.sport[i];
  }

  localAddress(i: number): string {
    return formatAddress(this.t.family[i], this.t.src, i * 16);
  }

  remotePort(i: number): number {
    return this.t.dport[i];
  }

  remoteAddress(i: number): string {
    return formatAddress(this.t.family[i], this.t.dst, i * 16);
  }

  pid(i: number): number {
    if (!this.holders) return 0;
    const hs = this.holders.holders(this.t.inode[i]);
    return hs.length ? hs[0].pid : 0;
  }

  dedupKey(i: number): string {
    const t = this.t;
    if (t.proto[i] === Proto.unix) {
      // gopsutil ≥ 4.26.3 keys unix sockets by path; unnamed ones stay distinct (by inode). Its status for a
      // unix socket is always NONE, so the state is not part of the key: a named listener and the
      // connections it accepted (which carry its name) count once, as in gopsutil.
      const name = t.attrLength[i] > 0 ? decodeUnixAttributes(t.arenaView(), t.attrStart[i], t.attrStart[i] + t.attrLength[i]).name : undefined;
      return `u${t.sockType[i]}|${name ?? `#${t.inode[i]}`}`;
    }
    return `${t.proto[i]}|${t.family[i]}|${this.localAddress(i)}|${t.sport[i]}|${this.remoteAddress(i)}|${t.dport[i]}|${t.state[i]}`;
  }
}
