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
  family: 0 | 2 | 10;
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
}
