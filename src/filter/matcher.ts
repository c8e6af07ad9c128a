/**
 * The whole filter in user space, over SocketTable rows: what ss re-checks with run_ssfilter() on every socket
 * the kernel returns, and the only check for rows the kernel's program never saw (/proc fallback rows, unix
 * sockets, protocols without bytecode). Built once per filter as a tree of closures; a call allocates nothing.
 *
 * Semantics, condition by condition:
 * - src/dst: the kernel's (inet_diag_bc_run S_COND/D_COND): the port must match when one is given; then an
 *   AF_UNSPEC condition (`*`, `:80`) matches any address; otherwise the socket's family must be the
 *   condition's, except that an IPv4 condition also matches an IPv6 socket whose address is v4-mapped
 *   (::ffff:a.b.c.d) in its last 32 bits. A v4-mapped condition ([::ffff:127.0.0.1]) matches only v6 sockets.
 * - sport/dport comparisons: on the port numbers.
 * - dev: the socket's bound device (idiag_if; 0 when not bound).
 * - fwmark: (mark & mask) == value, the mark from the MARK attribute (kept attributes only; the kernel sends it
 *   only to CAP_NET_ADMIN); absent counts as 0, as in ss.
 * - cgroup: the CGROUP_ID attribute (kept attributes only); absent (TIME-WAIT, SYN-RECV, /proc rows) is 0.
 * - autobound: the local port is inside ip_local_port_range (ss is_ephemeral()).
 * Rows that are not AF_INET/AF_INET6 (unix sockets) fail every condition, so `not ...` keeps them.
 */
import { AF_INET, AF_INET6, InetAttr } from '../diag/constants.js';
import type { SocketTable } from '../snapshot/table.js';
import { chainOperands, type FilterNode, type HostNode, type PortNode } from './ast.js';

export type RowMatcher = (table: SocketTable, row: number) => boolean;

export interface MatcherContext {
  ifindex: (node: FilterNode & { kind: 'dev' }) => number;
  cgroupId: (node: FilterNode & { kind: 'cgroup' }) => bigint;
  ephemeral: () => { low: number; high: number };
}

const isInet = (family: number): boolean => family === AF_INET || family === AF_INET6;

/**
 * The value of a u32 (or the low/high halves of a u64) attribute of a row, read straight from the arena
 * bytes (no DataView, no allocation). `half` 0 = first u32 of the payload, 1 = the second. undefined when the
 * row has no such attribute.
 */
function attributeU32(t: SocketTable, row: number, type: number, minPayload: number, half: 0 | 1): number | undefined {
  const a = t.arena;
  let at = t.attrStart[row];
  const end = at + t.attrLength[row];
  while (end - at >= 4) {
    const len = a[at] | (a[at + 1] << 8);
    if (len < 4 || len > end - at) return undefined;
    if (((a[at + 2] | (a[at + 3] << 8)) & 0x3fff) === type && len - 4 >= minPayload) {
      const p = at + 4 + half * 4;
      return (a[p] | (a[p + 1] << 8) | (a[p + 2] << 16) | (a[p + 3] << 24)) >>> 0;
    }
    at += (len + 3) & ~3;
  }
  return undefined;
}

/** The first `bits` bits of bytes[at..] equal those of prefix[0..]? */
function prefixMatches(bytes: Uint8Array, at: number, prefix: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[at + i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[at + whole] ^ prefix[whole]) & mask) === 0;
}

/** ::ffff:a.b.c.d */
function isV4Mapped(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

function hostMatcher(n: HostNode): RowMatcher {
  const src = n.side === 'src';
  const { family, prefixLength, port } = n;
  const prefix = n.address;
  return (t, r) => {
    const f = t.family[r];
    if (!isInet(f)) return false;
    if (port !== -1 && port !== (src ? t.sport[r] : t.dport[r])) return false;
    if (family === 0) return true;
    const bytes = src ? t.src : t.dst;
    const at = r * 16;
    if (f === family) return prefixMatches(bytes, at, prefix, prefixLength);
    if (f === AF_INET6 && family === AF_INET) return isV4Mapped(bytes, at) && prefixMatches(bytes, at + 12, prefix, prefixLength);
    return false;
  };
}

function portMatcher(n: PortNode): RowMatcher {
  const src = n.side === 'src';
  const p = n.port;
  const port = (t: SocketTable, r: number) => (src ? t.sport[r] : t.dport[r]);
  switch (n.op) {
    case '=':
      return p === -1 ? (t, r) => isInet(t.family[r]) : (t, r) => isInet(t.family[r]) && port(t, r) === p;
    // ssfilter.y: != is not (=), so it holds for rows = cannot see
    case '!=':
      return p === -1 ? (t, r) => !isInet(t.family[r]) : (t, r) => !isInet(t.family[r]) || port(t, r) !== p;
    case '>=':
      return (t, r) => isInet(t.family[r]) && port(t, r) >= p;
    case '<=':
      return (t, r) => isInet(t.family[r]) && port(t, r) <= p;
    // ssfilter.y: > is not (<=), < is not (>=)
    case '>':
      return (t, r) => !isInet(t.family[r]) || port(t, r) > p;
    case '<':
      return (t, r) => !isInet(t.family[r]) || port(t, r) < p;
  }
}

const negated =
  (m: RowMatcher): RowMatcher =>
  (t, r) =>
    !m(t, r);

export function buildMatcher(node: FilterNode, ctx: MatcherContext): RowMatcher {
  switch (node.kind) {
    case 'and': {
      const all = chainOperands(node).map((n) => buildMatcher(n, ctx));
      if (all.length === 2) {
        const [a, b] = all;
        return (t, r) => a(t, r) && b(t, r);
      }
      return (t, r) => {
        for (let i = 0; i < all.length; i++) if (!all[i](t, r)) return false;
        return true;
      };
    }
    case 'or': {
      const any = chainOperands(node).map((n) => buildMatcher(n, ctx));
      if (any.length === 2) {
        const [a, b] = any;
        return (t, r) => a(t, r) || b(t, r);
      }
      return (t, r) => {
        for (let i = 0; i < any.length; i++) if (any[i](t, r)) return true;
        return false;
      };
    }
    case 'not':
      return negated(buildMatcher(node.operand, ctx));
    case 'host':
      return hostMatcher(node);
    case 'port':
      return portMatcher(node);
    case 'dev': {
      const ifindex = ctx.ifindex(node);
      const m: RowMatcher = (t, r) => isInet(t.family[r]) && t.ifindex[r] === ifindex;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'fwmark': {
      const { mark, mask } = node;
      const m: RowMatcher = (t, r) => isInet(t.family[r]) && ((attributeU32(t, r, InetAttr.MARK, 4, 0) ?? 0) & mask) >>> 0 === mark;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'cgroup': {
      const id = ctx.cgroupId(node);
      const lo = Number(id & 0xffffffffn);
      const hi = Number(id >> 32n);
      const m: RowMatcher = (t, r) =>
        isInet(t.family[r]) && (attributeU32(t, r, InetAttr.CGROUP_ID, 8, 0) ?? 0) === lo && (attributeU32(t, r, InetAttr.CGROUP_ID, 8, 1) ?? 0) === hi;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'autobound': {
      const { low, high } = ctx.ephemeral();
      return (t, r) => isInet(t.family[r]) && t.sport[r] >= low && t.sport[r] <= high;
    }
  }
}
