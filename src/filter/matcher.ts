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
 * Unix rows as ss 6.1's unix_show_sock fills its struct sockstat for run_ssfilter (no kernel program for them):
 * the "port" is the inode, the peer's port the peer's inode (0 without one); a unix pattern (`src unix:/run/*`, or
 * any src/dst after -x) is fnmatch(3) on the name, case-insensitive (the peer side has no name: ""); an address
 * compares with the name as ss lays it in memory, which is a pointer: all zeros for an unnamed socket and its
 * peer side (so `dst 0.0.0.0` holds for every unix socket, as in ss), not reproducible for a named one (false);
 * no device, mark or cgroup (0); autobound: no name, or an autobind name (`@` and five hex digits).
 */
import { AF_INET, AF_INET6, InetAttr, UnixAttr } from '../diag/constants.js';
import type { SocketTable } from '../snapshot/table.js';
import { chainOperands, type FilterNode, type HostNode, type PortNode } from './ast.js';

export type RowMatcher = (table: SocketTable, row: number) => boolean;

export interface MatcherContext {
  ifindex: (node: FilterNode & { kind: 'dev' }) => number;
  cgroupId: (node: FilterNode & { kind: 'cgroup' }) => bigint;
  ephemeral: () => { low: number; high: number };
}

const isInet = (family: number): boolean => family === AF_INET || family === AF_INET6;

/** Where a row's first attribute of `type` starts in the arena (its 4-byte header), or -1: the walk over the raw bytes */
function attributeAt(t: SocketTable, row: number, type: number): number {
  const a = t.arena;
  let at = t.attrStart[row];
  const end = at + t.attrLength[row];
  while (end - at >= 4) {
    const len = a[at] | (a[at + 1] << 8);
    if (len < 4 || len > end - at) return -1;
    if (((a[at + 2] | (a[at + 3] << 8)) & 0x3fff) === type) return at;
    at += (len + 3) & ~3;
  }
  return -1;
}

/**
 * The value of a u32 (or the low/high halves of a u64) attribute of a row, read straight from the arena
 * bytes (no DataView, no allocation). `half` 0 = first u32 of the payload, 1 = the second. undefined when the
 * row has no such attribute.
 */
function attributeU32(t: SocketTable, row: number, type: number, minPayload: number, half: 0 | 1): number | undefined {
  const at = attributeAt(t, row, type);
  const a = t.arena;
  if (at < 0 || (a[at] | (a[at + 1] << 8)) - 4 < minPayload) return undefined;
  const p = at + 4 + half * 4;
  return (a[p] | (a[p + 1] << 8) | (a[p + 2] << 16) | (a[p + 3] << 24)) >>> 0;
}

/** The name of a unix row (UNIX_DIAG_NAME) as ss sees it: up to its NUL, or an abstract one with '@' for NULs */
function unixName(t: SocketTable, row: number): string | undefined {
  const at = attributeAt(t, row, UnixAttr.NAME);
  if (at < 0) return undefined;
  const a = t.arena;
  let bytes = a.subarray(at + 4, at + (a[at] | (a[at + 1] << 8)));
  if (bytes[0] !== 0) {
    const nul = bytes.indexOf(0);
    if (nul >= 0) bytes = bytes.subarray(0, nul);
  }
  return Buffer.from(bytes).toString('latin1').replace(/\0/g, '@');
}

/** fnmatch(pattern, name, FNM_CASEFOLD) as a RegExp: * and ? match any character (/ too), [...] a class */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i]);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + (pattern[i + 1] === '!' || pattern[i + 1] === '^' ? 3 : 2));
      if (close < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, close);
        const negate = body[0] === '!' || body[0] === '^';
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = close;
      }
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`, 'is');
}
const escapeRegExp = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** a unix row's ss "ports": the inode, and the peer's inode (UNIX_DIAG_PEER; 0 without one) */
const unixPort = (t: SocketTable, r: number, src: boolean): number => (src ? t.inode[r] : (attributeU32(t, r, UnixAttr.PEER, 4, 0) ?? 0));

/** A host condition on a unix row (SSF_SCOND / SSF_DCOND) */
function unixHost(n: HostNode): RowMatcher {
  const src = n.side === 'src';
  if (n.family === AF_UNIX_PATTERN) {
    // names are bytes (latin1 here): the pattern's UTF-8 bytes likewise
    const re = fnmatchRegExp(Buffer.from(n.pattern ?? '', 'utf8').toString('latin1'));
    return (t, r) => re.test((src ? unixName(t, r) : undefined) ?? '');
  }
  const { port, prefixLength } = n;
  const zeros = n.address.every(
    (b, i) => i >= Math.ceil(prefixLength / 8) || (i === prefixLength >> 3 ? (b & (0xff << (8 - (prefixLength & 7)))) === 0 : b === 0),
  );
  return (t, r) => {
    if (port !== -1 && port !== unixPort(t, r, src)) return false;
    // the name's pointer: zeros when unnamed (and on the peer side); a named one's cannot be told (false)
    return prefixLength === 0 || (zeros && (!src || unixName(t, r) === undefined));
  };
}
const AF_UNIX_PATTERN = 1;

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
  const unix = unixHost(n);
  return (t, r) => {
    const f = t.family[r];
    if (!isInet(f)) return unix(t, r);
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
  // a unix row's port is its inode (the peer's inode on the dst side)
  const port = (t: SocketTable, r: number) => (isInet(t.family[r]) ? (src ? t.sport[r] : t.dport[r]) : unixPort(t, r, src));
  switch (n.op) {
    case '=':
      return p === -1 ? () => true : (t, r) => port(t, r) === p;
    // ssfilter.y: != is not (=), > is not (<=), < is not (>=)
    case '!=':
      return p === -1 ? () => false : (t, r) => port(t, r) !== p;
    case '>=':
      return (t, r) => port(t, r) >= p;
    case '<=':
      return (t, r) => port(t, r) <= p;
    case '>':
      return (t, r) => port(t, r) > p;
    case '<':
      return (t, r) => port(t, r) < p;
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
      // a unix row has no device: 0
      const m: RowMatcher = (t, r) => (isInet(t.family[r]) ? t.ifindex[r] : 0) === ifindex;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'fwmark': {
      const { mark, mask } = node;
      const m: RowMatcher = (t, r) => ((isInet(t.family[r]) ? (attributeU32(t, r, InetAttr.MARK, 4, 0) ?? 0) : 0) & mask) >>> 0 === mark;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'cgroup': {
      const id = ctx.cgroupId(node);
      const lo = Number(id & 0xffffffffn);
      const hi = Number(id >> 32n);
      const m: RowMatcher = (t, r) =>
        isInet(t.family[r])
          ? (attributeU32(t, r, InetAttr.CGROUP_ID, 8, 0) ?? 0) === lo && (attributeU32(t, r, InetAttr.CGROUP_ID, 8, 1) ?? 0) === hi
          : lo === 0 && hi === 0;
      return node.op === '!=' ? negated(m) : m;
    }
    case 'autobound': {
      const { low, high } = ctx.ephemeral();
      // unix (ss SSF_S_AUTO): no name, or an autobind name: '@' and five hex digits
      return (t, r) => {
        if (isInet(t.family[r])) return t.sport[r] >= low && t.sport[r] <= high;
        const name = unixName(t, r);
        return name === undefined || /^@[0-9a-f]{5}$/.test(name);
      };
    }
  }
}
