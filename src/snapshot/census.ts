/**
 * Counts per protocol, family and state. The census path asks the kernel for no extensions and decodes nothing
 * past the state byte.
 */
import { AF_INET6, PROTO_NAMES, type ProtoName, Proto, TCP_TIME_WAIT } from '../diag/constants.js';

/** Index of the TCP TIME_WAIT count that has no family (see SnapshotOptions.timeWaitFromCounter). */
const TCP_TIME_WAIT_UNSPLIT = PROTO_NAMES.length * 2 * 16;

/**
 * Index: ((proto * 2) + (family is AF_INET6 ? 1 : 0)) * 16 + state. Unix sockets use the first family slot.
 * One more slot at the end: TCP TIME_WAIT sockets counted without a family (the kernel's per-namespace
 * counter), included in sums over both families and in no per-family figure.
 */
export class CensusCounts {
  readonly counts = new Float64Array(PROTO_NAMES.length * 2 * 16 + 1);

  /** TCP TIME_WAIT sockets known only as a total (0 unless the census used the kernel's counter) */
  get tcpTimeWaitUnsplit(): number {
    return this.counts[TCP_TIME_WAIT_UNSPLIT];
  }

  set tcpTimeWaitUnsplit(n: number) {
    this.counts[TCP_TIME_WAIT_UNSPLIT] = n;
  }

  static index(proto: number, family: number, state: number): number {
    return (proto * 2 + (family === AF_INET6 ? 1 : 0)) * 16 + (state & 15);
  }

  add(proto: number, family: number, state: number, n = 1): void {
    this.counts[CensusCounts.index(proto, family, state)] += n;
  }

  get(proto: ProtoName, family: number, state: number): number {
    return this.counts[CensusCounts.index(Proto[proto], family, state)];
  }

  /** Sum over states (and both families when family is undefined). */
  total(proto: ProtoName, family?: number): number {
    let sum = 0;
    const p = Proto[proto];
    for (const fam of family === undefined ? [0, 1] : [family === AF_INET6 ? 1 : 0]) {
      const base = (p * 2 + fam) * 16;
      for (let s = 0; s < 16; s++) sum += this.counts[base + s];
    }
    if (family === undefined && p === Proto.tcp) sum += this.tcpTimeWaitUnsplit;
    return sum;
  }

  /** Per-state counts for one protocol, families summed (or one family). */
  states(proto: ProtoName, family?: number): number[] {
    const out = new Array<number>(16).fill(0);
    const p = Proto[proto];
    for (const fam of family === undefined ? [0, 1] : [family === AF_INET6 ? 1 : 0]) {
      const base = (p * 2 + fam) * 16;
      for (let s = 0; s < 16; s++) out[s] += this.counts[base + s];
    }
    if (family === undefined && p === Proto.tcp) out[TCP_TIME_WAIT] += this.tcpTimeWaitUnsplit;
    return out;
  }
}
