/**
 * Counts per protocol, family and state. The census path asks the kernel for no extensions and decodes nothing
 * past the state byte.
 */
import { AF_INET6, PROTO_NAMES, type ProtoName, Proto } from '../diag/constants.js';

/** Index: ((proto * 2) + (family is AF_INET6 ? 1 : 0)) * 16 + state. Unix sockets use the first family slot. */
export class CensusCounts {
  readonly counts = new Float64Array(PROTO_NAMES.length * 2 * 16);

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
    return out;
  }
}
