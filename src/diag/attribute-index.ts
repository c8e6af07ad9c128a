/**
 * Where each attribute of a socket lies, from one walk over its raw attributes, for the writers that read the
 * bytes directly (the JSON writer, the table's details) instead of decoding into objects. The walk is
 * AttributeDecoder's (the same framing, the same stop at a broken header), and the rules below are the
 * decoders' (decodeInetAttributes, decodeUnixAttributes), so a writer shows exactly what the decoded record has:
 *  - a scalar attribute shorter than its type ends the walk after it (the decoder's sticky error);
 *  - a struct attribute shorter than the decoder's minimum is absent (rather than misread);
 *  - a later attribute of a type overrides an earlier one, except INET_DIAG_INFO: the first one counts
 *    (findAttribute's answer, as the record reads tcp_info).
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { InetAttr, UnixAttr } from './constants.js';

export const ABSENT = -1;

/** Per attribute type: 0 any length; > 0 a scalar of that size; < 0 a struct of at least -n bytes. */
export type AttributeRules = Int8Array;

const rules = (entries: [number, number][]): AttributeRules => {
  const r = new Int8Array(64);
  for (const [type, rule] of entries) r[type] = rule;
  return r;
};

/** decodeInetAttributes' sizes: u8 scalars, u32 scalars, the u64 cgroup id, and the structs' minimum lengths. */
export const INET_ATTRIBUTE_RULES = rules([
  [InetAttr.TOS, 1],
  [InetAttr.TCLASS, 1],
  [InetAttr.SHUTDOWN, 1],
  [InetAttr.PROTOCOL, 1],
  [InetAttr.SKV6ONLY, 1],
  [InetAttr.MARK, 4],
  [InetAttr.CLASS_ID, 4],
  [InetAttr.CGROUP_ID, 8],
  [InetAttr.MEMINFO, -16],
  [InetAttr.VEGASINFO, -16],
  [InetAttr.DCTCPINFO, -16],
  [InetAttr.BBRINFO, -20],
]);

/** decodeUnixAttributes' sizes. */
export const UNIX_ATTRIBUTE_RULES = rules([
  [UnixAttr.PEER, 4],
  [UnixAttr.SHUTDOWN, 1],
  [UnixAttr.UID, 4],
  [UnixAttr.VFS, -8],
]);

/** The type whose first occurrence counts (INET_DIAG_INFO), per family. */
const FIRST_WINS_INET = InetAttr.INFO;

export class AttributeIndex {
  /** payload offset per attribute type, ABSENT when the socket has none (or a malformed one) */
  readonly off = new Int32Array(64).fill(ABSENT);
  /** payload length per attribute type */
  readonly len = new Int32Array(64);
  private readonly d = new AttributeDecoder(new DataView(new ArrayBuffer(0)), 0, 0);

  /** Walk [start, end) of an inet socket's attributes. */
  inet(view: DataView, start: number, end: number): this {
    return this.walk(view, start, end, INET_ATTRIBUTE_RULES, FIRST_WINS_INET);
  }

  /** Walk [start, end) of a unix socket's attributes. */
  unix(view: DataView, start: number, end: number): this {
    return this.walk(view, start, end, UNIX_ATTRIBUTE_RULES, -1);
  }

  walk(view: DataView, start: number, end: number, r: AttributeRules, firstWins: number): this {
    const off = this.off;
    const len = this.len;
    off.fill(ABSENT);
    const d = this.d.reset(view, start, end);
    while (d.next()) {
      const type = d.type;
      if (type >= 64) continue;
      const rule = r[type];
      const n = d.length;
      if (rule > 0) {
        if (n < rule) break; // the decoder's sticky error: nothing after it
      } else if (rule < 0 && n < -rule) {
        continue;
      }
      if (type === firstWins && off[type] !== ABSENT) continue;
      off[type] = d.offset;
      len[type] = n;
    }
    return this;
  }

  has(type: number): boolean {
    return this.off[type] !== ABSENT;
  }
}
