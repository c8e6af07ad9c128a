/**
 * The filter over packet, netlink, vsock and XDP sockets (src/diag/family-socket.ts), as ss 6.1's run_ssfilter()
 * sees them: these families have no kernel program, so this is ss's only check and its meaning is ss's. ss fills
 * a struct sockstat for each socket (misc/ss.c packet_stats_print, netlink_show_one, vsock_show_sock,
 * xdp_show_sock) and every condition reads the same fields whatever the family:
 *
 *   family   lport (the "port")     rport   local address word 0   iface     autobound
 *   packet   bound ifindex          0       ethernet protocol      ifindex   lport == 0 and protocol == 0
 *   netlink  port id (signed)       -1      netlink protocol       0         lport < 0
 *   vsock    local port             remote  local CID (remote: CID) 0        lport > 1023
 *   xdp      queue id               0       0                      ifindex   lport in ip_local_port_range
 *
 * - src/dst (S_COND/D_COND): the port must match when one is given; then the address's first prefixLength bits
 *   are compared with the socket's address words as they lie in memory (inet_addr_match: no family check, so an
 *   IPv4 prefix compares with the protocol's bytes: `src 0.0.0.0/8` holds for NETLINK_ROUTE sockets).
 * - sport/dport: = and != as S_COND/D_COND on the port alone; >= <= on the number; > and < negate them.
 * - dev: the iface above. fwmark and cgroup: these sockets have none (0), as in ss.
 */
import type { FamilySocket } from '../diag/family-socket.js';
import { chainOperands, type FilterNode, type HostNode } from './ast.js';
import { fnmatchRegExp } from './matcher.js';

/** The fields of ss's struct sockstat that run_ssfilter reads. */
interface SsView {
  lport: number;
  rport: number;
  /** local.data / remote.data as memory: u32 words in host (little-endian) order */
  local: Uint8Array;
  remote: Uint8Array;
  iface: number;
  /** SSF_S_AUTO, decided per family */
  autobound: (ephemeral: () => { low: number; high: number }) => boolean;
}

export type FamilyMatcher = (s: FamilySocket) => boolean;

export interface FamilyMatcherContext {
  ifindex: (node: FilterNode & { kind: 'dev' }) => number;
  cgroupId: (node: FilterNode & { kind: 'cgroup' }) => bigint;
  ephemeral: () => { low: number; high: number };
}

const word0 = (n: number): Uint8Array => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const ZERO = new Uint8Array(16);
/** vsock's ports are u32s that ss keeps in an int: VMADDR_PORT_ANY (~0) reads as -1 */
const asInt = (n: number): number => n | 0;

/** A socket as ss's struct sockstat, the way its family's show function fills it. */
export function ssView(s: FamilySocket): SsView {
  if (s.packet) {
    const { ifindex, protocol } = s.packet;
    return { lport: ifindex, rport: 0, local: word0(protocol), remote: ZERO, iface: ifindex, autobound: () => ifindex === 0 && protocol === 0 };
  }
  if (s.netlink) {
    const { portid, protocol } = s.netlink;
    return { lport: portid, rport: -1, local: word0(protocol), remote: ZERO, iface: 0, autobound: () => portid < 0 };
  }
  if (s.vsock) {
    const v = s.vsock;
    const lport = asInt(v.localPort);
    return { lport, rport: asInt(v.remotePort), local: word0(v.localCid), remote: word0(v.remoteCid), iface: 0, autobound: () => lport > 1023 };
  }
  const queue = s.xdp?.queueId ?? 0;
  return {
    lport: queue,
    rport: 0,
    local: ZERO,
    remote: ZERO,
    iface: s.xdp?.ifindex ?? 0,
    autobound: (ephemeral) => {
      const { low, high } = ephemeral();
      return queue >= low && queue <= high;
    },
  };
}

/** inet_addr_match over the first `bits` bits, byte by byte as memcmp and the masked word do */
function prefixMatches(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== prefix[i]) return false;
  const rest = bits & 7;
  return rest === 0 || ((bytes[whole] ^ prefix[whole]) & ((0xff << (8 - rest)) & 0xff)) === 0;
}

type ViewMatcher = (v: SsView) => boolean;

/** SSF_SCOND / SSF_DCOND */
function hostcond(src: boolean, port: number, prefixLength: number, address: Uint8Array): ViewMatcher {
  return (v) => {
    if (port !== -1 && port !== (src ? v.lport : v.rport)) return false;
    return prefixLength === 0 || prefixMatches(src ? v.local : v.remote, address, prefixLength);
  };
}

const not =
  (m: ViewMatcher): ViewMatcher =>
  (v) =>
    !m(v);

function build(node: FilterNode, ctx: FamilyMatcherContext): ViewMatcher {
  switch (node.kind) {
    case 'and': {
      const all = chainOperands(node).map((n) => build(n, ctx));
      return (v) => all.every((m) => m(v));
    }
    case 'or': {
      const any = chainOperands(node).map((n) => build(n, ctx));
      return (v) => any.some((m) => m(v));
    }
    case 'not':
      return not(build(node.operand, ctx));
    case 'host': {
      const h: HostNode = node;
      // a unix pattern: these sockets have no name (ss's data is 0: fnmatch against "")
      if (h.family === 1) {
        const empty = fnmatchRegExp(Buffer.from(h.pattern ?? '', 'utf8').toString('latin1')).test('');
        return () => empty;
      }
      return hostcond(h.side === 'src', h.port, h.prefixLength, h.address);
    }
    case 'port': {
      const src = node.side === 'src';
      const p = node.port;
      const port = (v: SsView) => (src ? v.lport : v.rport);
      const ge: ViewMatcher = (v) => port(v) >= p;
      const le: ViewMatcher = (v) => port(v) <= p;
      // ssfilter.y: = and != are S_COND/D_COND with the port alone; > is not <=, < is not >=
      switch (node.op) {
        case '=':
          return hostcond(src, p, 0, ZERO);
        case '!=':
          return not(hostcond(src, p, 0, ZERO));
        case '>=':
          return ge;
        case '<=':
          return le;
        case '>':
          return not(le);
        case '<':
          return not(ge);
      }
      break;
    }
    case 'dev': {
      const index = ctx.ifindex(node);
      const m: ViewMatcher = (v) => v.iface === index;
      return node.op === '!=' ? not(m) : m;
    }
    case 'fwmark': {
      // no mark on these sockets: ss's (0 & mask) == mark
      const m: ViewMatcher = () => (0 & node.mask) === node.mark;
      return node.op === '!=' ? not(m) : m;
    }
    case 'cgroup': {
      const id = ctx.cgroupId(node);
      const m: ViewMatcher = () => id === 0n;
      return node.op === '!=' ? not(m) : m;
    }
    case 'autobound':
      return (v) => v.autobound(ctx.ephemeral);
  }
  throw new Error(`unreachable: ${(node as FilterNode).kind}`);
}

/** The expression over one packet, netlink, vsock or XDP socket (states are checked by the caller). */
export function buildFamilyMatcher(root: FilterNode, ctx: FamilyMatcherContext): FamilyMatcher {
  const m = build(root, ctx);
  return (s) => m(ssView(s));
}
