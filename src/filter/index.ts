/**
 * ss's filter language for sockscope: parse once, then hand the kernel what it can test (idiag_states and an
 * INET_DIAG_REQ_BYTECODE program) and keep a user-space check of the whole filter for every row, as ss does.
 *
 *   const f = compileFilter('state established ( dport = :443 or sport = :443 )', { defaultStates: SS_CONN });
 *   const snap = await takeSnapshot({ protocols: ['tcp'], states: f.states, bytecode: f.bytecode, keepAttributes: f.needsAttributes || undefined });
 *   for (let i = 0; i < snap.table.length; i++) if (f.matches(snap.table, i)) ...
 *
 * See docs/filters.md.
 */
import { ALL_STATES } from '../diag/constants.js';
import type { FamilySocket } from '../diag/family-socket.js';
import type { SocketTable } from '../snapshot/table.js';
import { eachNode, nestingDepth, type CgroupNode, type DevNode, type ParsedFilter } from './ast.js';
import { compileBytecode } from './bytecode.js';
import { filterError } from './errors.js';
import { buildFamilyMatcher } from './family-matcher.js';
import type { LinkFamily } from './link-values.js';
import { buildMatcher, type RowMatcher } from './matcher.js';
import { parseFilter, type ParseOptions } from './parser.js';
import { cgroup2Mount, cgroupId, ephemeralPortRange, hasNetAdmin, sysfsIfindex } from './resolve.js';
import type { ServiceTable } from './services.js';

export { chainOperands, eachNode, nestingDepth } from './ast.js';
export type {
  AndNode,
  AutoboundNode,
  CgroupNode,
  DevNode,
  FilterNode,
  HostNode,
  MarkNode,
  NotNode,
  OrNode,
  ParsedFilter,
  PortNode,
  Span,
  StateClause,
} from './ast.js';
export { BcOp, compileBytecode } from './bytecode.js';
export { buildFamilyMatcher, ssView, type FamilyMatcher } from './family-matcher.js';
export { tokenize, type Comparison, type Token, type TokenKind } from './lexer.js';
export type { LinkFamily } from './link-values.js';
export { filterText, parseFilter, type ParseOptions } from './parser.js';
export { cgroup2Mount, cgroupId, ephemeralPortRange, hasNetAdmin, sysfsIfindex } from './resolve.js';
export { lookupService, parseServices, systemServices, type ServiceTable } from './services.js';
export { CONNECTED_STATES, STATE_NAMES, stateMask } from './states.js';

export interface FilterContext {
  /** the states to list when the filter has no state clause: ss's default for the options given (-a, -l, ...) */
  defaultStates: number;
  /** the protocols listed: service names are looked up for TCP and/or UDP accordingly (default both) */
  protocols?: readonly string[];
  /**
   * Put fwmark conditions in the kernel program (MARK_COND). The kernel refuses a program holding one with
   * EPERM unless the requester has CAP_NET_ADMIN, so the default is false: fwmark is then checked in user space
   * only, against the MARK attribute (which the kernel also sends only to CAP_NET_ADMIN). See hasNetAdmin().
   */
  netAdmin?: boolean;
  /**
   * device name → ifindex (default /sys/class/net/NAME/ifindex; ls gives the listed namespace's, from rtnetlink);
   * a decimal or 0x index is taken as it is
   */
  resolveDevice?: (name: string) => number | undefined;
  /** cgroup path → cgroup v2 id (default: the inode of the directory under the cgroup2 mount) */
  resolveCgroup?: (path: string) => bigint | undefined;
  /** ports `autobound` means in user space (default net.ipv4.ip_local_port_range, read when needed) */
  ephemeralPorts?: { low: number; high: number };
  /** service names (default /etc/services, read once, when a filter names a service) */
  services?: ServiceTable;
  /** ss's preferred family when the last family option was -0 / -f link or -f netlink (parser.ts ParseOptions) */
  linkFamily?: LinkFamily | 'unix';
}

export interface CompiledFilter {
  /** the expression text every position refers to */
  expression: string;
  parsed: ParsedFilter;
  /** idiag_states: the state clauses applied to ss's rules, or defaultStates */
  states: number;
  /** the kernel's program; undefined when there is nothing for the kernel to test */
  bytecode?: Uint8Array;
  /**
   * matches() reads MARK or CGROUP_ID attributes: take the snapshot with keepAttributes: true, or those
   * conditions see 0.
   */
  needsAttributes: boolean;
  /** things worth telling the user (stderr), e.g. how `a or b and c` groups */
  warnings: string[];
  /** The whole filter (states included) for one row. Allocation-free. */
  matches(table: SocketTable, row: number): boolean;
  /** The whole filter (states included) for a packet, netlink, vsock or XDP socket, as ss (family-matcher.ts). */
  matchesFamily(socket: FamilySocket): boolean;
}

/** ss main(): the first `state` starts from nothing, the first `exclude` from every state. */
function statesOf(parsed: ParsedFilter, defaultStates: number): number {
  if (parsed.states.length === 0) return defaultStates;
  let mask = 0;
  parsed.states.forEach((c, i) => {
    if (c.kind === 'state') mask = (i === 0 ? 0 : mask) | c.mask;
    else mask = (i === 0 ? ALL_STATES : mask) & ~c.mask;
  });
  if (mask === 0) {
    const first = parsed.states[0];
    const last = parsed.states[parsed.states.length - 1];
    throw filterError(parsed.expression, { start: first.start, end: last.end }, 'the state clauses leave no state to list');
  }
  return mask >>> 0;
}

/** How deep compiling and matching may recurse (a chain of one operator counts once). */
const MAX_DEPTH = 500;

function parseIndex(name: string): number | undefined {
  const n = /^\d+$/.test(name) ? Number(name) : /^0x[0-9a-f]+$/i.test(name) ? parseInt(name.slice(2), 16) : NaN;
  return Number.isInteger(n) && n <= 0xffffffff ? n : undefined;
}

/**
 * Parse (unless given parsed) and compile a filter. Throws SockscopeError: ESOCKSCOPE_FILTER_SYNTAX for what
 * does not parse, ESOCKSCOPE_USAGE for a device or cgroup that does not exist; both exit 2 and carry
 * { position, token, expression } and a caret under the word.
 */
export function compileFilter(input: string | readonly string[] | ParsedFilter, ctx: FilterContext): CompiledFilter {
  const parseOptions: ParseOptions = {};
  if (ctx.services) parseOptions.services = ctx.services;
  if (ctx.protocols) parseOptions.protocols = ctx.protocols;
  if (ctx.linkFamily) parseOptions.linkFamily = ctx.linkFamily;
  if (ctx.resolveDevice) parseOptions.ifindex = ctx.resolveDevice;
  const parsed = typeof input === 'string' || Array.isArray(input) ? parseFilter(input as string | readonly string[], parseOptions) : (input as ParsedFilter);
  const { expression, root } = parsed;
  const states = statesOf(parsed, ctx.defaultStates);
  const warnings: string[] = [];

  // Resolve what the system must say, once, with errors pointing at the word.
  const ifindexes = new Map<DevNode, number>();
  const cgroupIds = new Map<CgroupNode, bigint>();
  let needsAttributes = false;
  let fwmark = false;
  let mount: string | undefined;
  if (nestingDepth(root) > MAX_DEPTH) {
    throw filterError(expression, { start: root!.start, end: root!.end }, (w) => `the expression ${w} nests more than ${MAX_DEPTH} levels deep`);
  }
  eachNode(root, (n) => {
    if (n.kind === 'dev') {
      const index = ctx.resolveDevice ? ctx.resolveDevice(n.name) : sysfsIfindex(n.name);
      const resolved = index ?? parseIndex(n.name);
      if (resolved === undefined) {
        throw filterError(
          expression,
          n.operand,
          `unknown device '${n.name}'`,
          'not a device of the namespace listed and not an interface index',
          'ESOCKSCOPE_USAGE',
        );
      }
      ifindexes.set(n, resolved);
    } else if (n.kind === 'cgroup') {
      needsAttributes = true;
      let id: bigint | undefined;
      let where = '';
      if (ctx.resolveCgroup) {
        id = ctx.resolveCgroup(n.path);
      } else {
        mount ??= cgroup2Mount();
        const r = cgroupId(n.path, mount);
        if ('id' in r) id = r.id;
        where = `${r.file} is not a cgroup v2 directory`;
      }
      if (id === undefined) throw filterError(expression, n.operand, `unknown cgroup '${n.path}'`, where || undefined, 'ESOCKSCOPE_USAGE');
      cgroupIds.set(n, id);
    } else if (n.kind === 'fwmark') {
      needsAttributes = true;
      fwmark = true;
    } else if (n.kind === 'and' && !n.parenthesized && n.left.kind === 'or' && !n.left.parenthesized) {
      warnings.push(
        `'and' and 'or' group left to right with equal precedence, as in ss: '${expression.slice(n.start, n.end)}' means '(${expression.slice(n.left.start, n.left.end)}) and ${expression.slice(n.right.start, n.right.end)}'; add parentheses to say otherwise`,
      );
    }
  });
  const netAdmin = ctx.netAdmin ?? false;
  if (fwmark && !(ctx.netAdmin ?? hasNetAdmin())) {
    warnings.push(
      'fwmark is checked in user space only: the kernel reports socket marks to CAP_NET_ADMIN alone, and without them every socket counts as mark 0',
    );
  }

  const ifindex = (n: DevNode) => ifindexes.get(n)!;
  const cgroup = (n: CgroupNode) => cgroupIds.get(n)!;
  const program = compileBytecode(root, { ifindex, cgroupId: cgroup, netAdmin });
  if (program.tooLong) warnings.push('the filter is too long for the kernel; every socket is read and filtered in user space');

  let ephemeral: { low: number; high: number } | undefined;
  const matcherContext = { ifindex, cgroupId: cgroup, ephemeral: () => (ephemeral ??= ctx.ephemeralPorts ?? ephemeralPortRange()) };
  const expr: RowMatcher | undefined = root ? buildMatcher(root, matcherContext) : undefined;
  const matches = expr
    ? (t: SocketTable, r: number) => ((states >>> t.state[r]) & 1) === 1 && expr(t, r)
    : (t: SocketTable, r: number) => ((states >>> t.state[r]) & 1) === 1;
  const familyExpr = root ? buildFamilyMatcher(root, matcherContext) : undefined;
  const matchesFamily = (s: FamilySocket) => ((states >>> s.state) & 1) === 1 && (familyExpr === undefined || familyExpr(s));

  const out: CompiledFilter = { expression, parsed, states, needsAttributes, warnings, matches, matchesFamily };
  if (program.bytecode) out.bytecode = program.bytecode;
  return out;
}
