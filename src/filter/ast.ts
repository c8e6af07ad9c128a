/**
 * The syntax tree of a filter. Every node keeps where it stands in the expression text (0-based offsets, end
 * exclusive), so errors found after parsing (an unknown device, a missing cgroup) can still point at the word.
 */
import type { Comparison, Token } from './lexer.js';

export interface Span {
  start: number;
  end: number;
}

interface NodeBase extends Span {
  /** written inside parentheses (the span covers the parentheses) */
  parenthesized?: boolean;
}

/** `a and b`, `a && b`, `a & b`, or two conditions side by side (`implicit`) */
export interface AndNode extends NodeBase {
  kind: 'and';
  left: FilterNode;
  right: FilterNode;
  implicit: boolean;
}

export interface OrNode extends NodeBase {
  kind: 'or';
  left: FilterNode;
  right: FilterNode;
}

export interface NotNode extends NodeBase {
  kind: 'not';
  operand: FilterNode;
}

/**
 * `src PREFIX` / `dst PREFIX`: ss's S_COND / D_COND host condition. family 0 (AF_UNSPEC) when the address part
 * is absent or `*`; port -1 when any port will do.
 */
export interface HostNode extends NodeBase {
  kind: 'host';
  side: 'src' | 'dst';
  /** the prefix as written */
  text: string;
  /**
   * AF_UNSPEC, AF_INET, AF_INET6; AF_UNIX (1): `pattern` is a unix name pattern; AF_NETLINK (16) / AF_PACKET (17):
   * the protocol as a host-order u32
   */
  family: 0 | 1 | 2 | 10 | 16 | 17;
  /** AF_UNIX: the fnmatch(3) pattern of the socket's name (`unix:/run/*`, or any src/dst after -x) */
  pattern?: string;
  prefixLength: number;
  /** 16 bytes, network order; IPv4 in the first 4 */
  address: Uint8Array;
  port: number;
}

/** `sport OP PORT` / `dport OP PORT`; port -1 is `*` (any), allowed with = and != only */
export interface PortNode extends NodeBase {
  kind: 'port';
  side: 'src' | 'dst';
  op: Comparison;
  port: number;
  /** the port as written (`:https`) */
  text: string;
}

export interface DevNode extends NodeBase {
  kind: 'dev';
  op: '=' | '!=';
  /** a device name or an ifindex, resolved when the filter is compiled */
  name: string;
  /** where the name is written */
  operand: Span;
}

export interface MarkNode extends NodeBase {
  kind: 'fwmark';
  op: '=' | '!=';
  mark: number;
  mask: number;
}

export interface CgroupNode extends NodeBase {
  kind: 'cgroup';
  op: '=' | '!=';
  /** a cgroup v2 path, resolved to its id when the filter is compiled */
  path: string;
  /** where the path is written */
  operand: Span;
}

export interface AutoboundNode extends NodeBase {
  kind: 'autobound';
}

export type FilterNode = AndNode | OrNode | NotNode | HostNode | PortNode | DevNode | MarkNode | CgroupNode | AutoboundNode;

/** `state NAME` or `exclude NAME` (also `excl`), before the expression */
export interface StateClause extends Span {
  kind: 'state' | 'exclude';
  /** the name as written */
  name: string;
  mask: number;
}

export interface ParsedFilter {
  /** the text every position refers to (tokens given as an argv are joined with single spaces) */
  expression: string;
  tokens: Token[];
  states: StateClause[];
  /** undefined when there is no expression (only state clauses, or nothing) */
  root?: FilterNode;
  /**
   * Set when a condition was read as a packet or netlink one (a `link:`/`netlink:` prefix, or -0 / -f netlink as
   * the last family option): as ss's parse_hostcond does, the listing is then of that family alone.
   */
  family?: 'packet' | 'netlink' | 'unix';
}

/**
 * The operands of a chain of one operator, left to right: `a or b or c` parses as ((a or b) or c), and long
 * chains (a generated list of ports) must not cost a stack frame per operand. Only the left spine is followed,
 * so the order and grouping ss compiles are kept.
 */
export function chainOperands(node: AndNode | OrNode): FilterNode[] {
  const out: FilterNode[] = [];
  let n: FilterNode = node;
  while (n.kind === node.kind) {
    const link = n as AndNode | OrNode;
    out.push(link.right);
    n = link.left;
  }
  out.push(n);
  return out.reverse();
}

/** Every node, parents first, without recursion. */
export function eachNode(root: FilterNode | undefined, visit: (n: FilterNode) => void): void {
  const stack: FilterNode[] = root ? [root] : [];
  while (stack.length > 0) {
    const n = stack.pop()!;
    visit(n);
    if (n.kind === 'and' || n.kind === 'or') stack.push(n.right, n.left);
    else if (n.kind === 'not') stack.push(n.operand);
  }
}

/** Nesting depth, counting a chain of one operator as one level (what compiling and matching recurse on). */
export function nestingDepth(root: FilterNode | undefined): number {
  let max = 0;
  const stack: [FilterNode, number][] = root ? [[root, 1]] : [];
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (d > max) max = d;
    if (n.kind === 'and' || n.kind === 'or') for (const o of chainOperands(n)) stack.push([o, d + 1]);
    else if (n.kind === 'not') stack.push([n.operand, d + 1]);
  }
  return max;
}
