/**
 * ss's filter language (iproute2 6.1, misc/ssfilter.y and the state loop of misc/ss.c main()):
 *
 *   filter     := clause* exprlist?
 *   clause     := ('state' | 'exclude' | 'excl') STATE-NAME
 *   exprlist   := expr ( ('and' | 'or')? expr )*          left to right, and/or of EQUAL precedence
 *   expr       := '(' exprlist ')' | 'not' expr | condition
 *   condition  := ('src' | 'dst') '='? HOST
 *               | ('sport' | 'dport') CMP? PORT             CMP: = != < > <= >= (and eq ne gt lt ge le ...)
 *               | 'dev' ('=' | '!=')? DEVICE
 *               | 'fwmark' ('=' | '!=')? MARK['/'MASK]
 *               | 'cgroup' ('=' | '!=')? PATH
 *               | 'autobound'
 *
 * As in ss, `a or b and c` means `(a or b) and c` (bison rules `exprlist '|' expr` and `exprlist '&' expr`), two
 * conditions side by side mean `and`, and `not` takes the single expression after it.
 */
import type { AndNode, FilterNode, HostNode, OrNode, ParsedFilter, PortNode, Span, StateClause } from './ast.js';
import { endOf, filterError } from './errors.js';
import { tokenize, type Comparison, type Token } from './lexer.js';
import { systemServices, type ServiceTable } from './services.js';
import { STATE_NAME_LIST, stateMask } from './states.js';
import type { LinkFamily } from './link-values.js';
import { sysfsIfindex } from './resolve.js';
import { parseHost, parseMark, parsePort } from './values.js';

export interface ParseOptions {
  /** service names for ports; default /etc/services (read once) */
  services?: ServiceTable;
  /** protocols a service name is looked up for, as ss does with its -t/-u tables; default tcp and udp */
  protocols?: readonly string[];
  /**
   * ss's preferred family when the last family option was -0 / -f link ('packet') or -f netlink ('netlink'):
   * every src/dst/sport/dport then reads that family's protocol and interface or port id (link-values.ts)
   */
  linkFamily?: LinkFamily | 'unix';
  /** device name → ifindex for packet conditions (default /sys/class/net/NAME/ifindex) */
  ifindex?: (name: string) => number | undefined;
}

const CONDITION_WORDS = ['src', 'dst', 'sport', 'dport', 'dev', 'fwmark', 'cgroup', 'autobound'] as const;
const STATE_WORDS = new Set(['state', 'exclude', 'excl']);
/** Parentheses and nots inside one another: past this the parser would run out of stack. */
const MAX_NESTING = 500;
const EXPECTED = "a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound), 'not' or '('";

/** The expression text positions refer to: an argv is joined with single spaces, as ss reads it. */
export function filterText(input: string | readonly string[]): string {
  return typeof input === 'string' ? input : input.join(' ');
}

const describe = (t: Token): string => `'${t.text}'`;

class Parser {
  private i = 0;
  /** parentheses and nots open at the moment: the parser recurses on them */
  private depth = 0;
  /** the family the last packet or netlink condition was read in (ss's parse_hostcond resets the families to it) */
  private bound: LinkFamily | 'unix' | undefined;

  constructor(
    readonly expression: string,
    readonly tokens: Token[],
    readonly options: {
      services: () => ServiceTable;
      protocols: readonly string[];
      linkFamily?: LinkFamily | 'unix';
      ifindex: (name: string) => number | undefined;
    },
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private fail(at: Span, what: string | ((where: string) => string), detail?: string): never {
    throw filterError(this.expression, at, what, detail);
  }

  private isWord(t: Token | undefined, ...words: string[]): boolean {
    return t !== undefined && t.kind === 'word' && t.text === t.value && words.includes(t.value);
  }

  parse(): ParsedFilter {
    const states: StateClause[] = [];
    while (this.isWord(this.peek(), ...STATE_WORDS)) states.push(this.stateClause());
    let root: FilterNode | undefined;
    if (this.peek()) {
      root = this.exprlist();
      const extra = this.peek();
      if (extra) {
        // exprlist stops only at ')' here
        this.fail(extra, (w) => `unbalanced parentheses: the ')' ${w} has no matching '('`);
      }
    }
    const parsed: ParsedFilter = { expression: this.expression, tokens: this.tokens, states };
    if (root) parsed.root = root;
    if (this.bound) parsed.family = this.bound;
    return parsed;
  }

  private stateClause(): StateClause {
    const keyword = this.tokens[this.i++];
    const name = this.peek();
    if (name?.kind !== 'word') {
      this.fail(name ?? endOf(this.expression), `expected a state name after '${keyword.text}'`, `one of ${STATE_NAME_LIST}`);
    }
    this.i++;
    const mask = stateMask(name.value);
    if (mask === undefined) this.fail(name, `unknown state '${name.value}' after '${keyword.text}'`, `expected ${STATE_NAME_LIST}`);
    return { kind: keyword.value === 'state' ? 'state' : 'exclude', name: name.value, mask, start: keyword.start, end: name.end };
  }

  /** Can this token begin an expression (so that two side by side mean 'and')? */
  private startsExpr(t: Token): boolean {
    return t.kind === 'lparen' || t.kind === 'not' || t.kind === 'word';
  }

  private exprlist(): FilterNode {
    let left = this.expr();
    for (;;) {
      const t = this.peek();
      if (!t || t.kind === 'rparen') return left;
      if (t.kind === 'and' || t.kind === 'or') {
        this.i++;
        const next = this.peek();
        if (!next || !this.startsExpr(next)) {
          this.fail(t, (w) => `the '${t.text}' ${w} is not followed by a condition`, next ? `found ${describe(next)}` : 'the expression ends there');
        }
        const right = this.expr();
        left =
          t.kind === 'or'
            ? ({ kind: 'or', left, right, start: left.start, end: right.end } satisfies OrNode)
            : ({ kind: 'and', left, right, implicit: false, start: left.start, end: right.end } satisfies AndNode);
        continue;
      }
      if (this.startsExpr(t)) {
        const right = this.expr();
        left = { kind: 'and', left, right, implicit: true, start: left.start, end: right.end } satisfies AndNode;
        continue;
      }
      // a comparison operator out of place
      this.fail(t, `unexpected ${describe(t)}`, `expected 'and', 'or' or ${EXPECTED}`);
    }
  }

  private expr(): FilterNode {
    const t = this.peek();
    if (!t) this.fail(endOf(this.expression), `expected ${EXPECTED}`, 'the expression ends there');
    if (t.kind === 'lparen' || t.kind === 'not') {
      if (++this.depth > MAX_NESTING) this.fail(t, (w) => `the '${t.text}' ${w} nests more than ${MAX_NESTING} levels deep`);
      try {
        return this.nested(t);
      } finally {
        this.depth--;
      }
    }
    return this.nested(t);
  }

  private nested(t: Token): FilterNode {
    switch (t.kind) {
      case 'lparen': {
        this.i++;
        const inner = this.peek();
        if (!inner) this.fail(t, (w) => `unbalanced parentheses: the '(' ${w} is never closed`);
        if (inner.kind === 'rparen') this.fail({ start: t.start, end: inner.end }, 'empty parentheses', `expected ${EXPECTED} inside`);
        const node = this.exprlist();
        const close = this.peek();
        if (!close) this.fail(t, (w) => `unbalanced parentheses: the '(' ${w} is never closed`);
        this.i++;
        node.parenthesized = true;
        node.start = t.start;
        node.end = close.end;
        return node;
      }
      case 'not': {
        this.i++;
        const next = this.peek();
        if (!next || !this.startsExpr(next)) {
          this.fail(t, (w) => `the '${t.text}' ${w} is not followed by a condition`, next ? `found ${describe(next)}` : 'the expression ends there');
        }
        const operand = this.expr();
        return { kind: 'not', operand, start: t.start, end: operand.end };
      }
      case 'rparen':
        return this.fail(t, (w) => `unbalanced parentheses: the ')' ${w} has no matching '('`);
      case 'and':
      case 'or':
        return this.fail(t, (w) => `the '${t.text}' ${w} has no condition before it`);
      case 'cmp':
        return this.fail(t, `unexpected ${describe(t)}`, `expected ${EXPECTED}`);
      case 'word':
        return this.condition(t);
    }
  }

  /** The optional operator after a keyword; `allowed` lists what the keyword takes. */
  private comparison(keyword: Token, allowed: readonly Comparison[], hint: string): { op: Comparison; token?: Token } {
    const t = this.peek();
    if (t?.kind !== 'cmp') return { op: '=' };
    if (!allowed.includes(t.cmp!)) this.fail(t, `'${keyword.text}' does not take '${t.text}'`, hint);
    this.i++;
    return { op: t.cmp!, token: t };
  }

  /** The word a keyword (and its operator) must be followed by. */
  private operand(keyword: Token, op: Token | undefined, what: string): Token {
    const t = this.peek();
    const after = op ? `'${keyword.text} ${op.text}'` : `'${keyword.text}'`;
    if (t?.kind !== 'word') {
      this.fail(t ?? endOf(this.expression), `expected ${what} after ${after}`, t ? `found ${describe(t)}` : 'the expression ends there');
    }
    this.i++;
    return t;
  }

  /**
   * sport/dport after -x, as ss reads them: the word is a name pattern (parse_hostcond with AF_UNIX), so = and != are
   * src/dst PATTERN (and its negation); the comparisons compare the inode with ss's "no port" (-1).
   */
  private unixPort(kw: string, op: Comparison, value: Token, keyword: Token): FilterNode {
    this.bound = 'unix';
    const side = kw === 'sport' ? 'src' : 'dst';
    const span = { start: keyword.start, end: value.end };
    if (op !== '=' && op !== '!=') return { kind: 'port', side, op, port: -1, text: value.value, ...span } satisfies PortNode;
    const host: HostNode = {
      kind: 'host',
      side,
      text: value.value,
      family: 1,
      prefixLength: 0,
      address: new Uint8Array(16),
      port: -1,
      pattern: value.value,
      ...span,
    };
    return op === '=' ? host : { kind: 'not', operand: host, ...span };
  }

  private condition(keyword: Token): FilterNode {
    const kw = keyword.text === keyword.value ? keyword.value : '';
    if (!(CONDITION_WORDS as readonly string[]).includes(kw)) {
      if (STATE_WORDS.has(kw))
        this.fail(keyword, (w) => `the '${kw}' ${w} comes after the expression`, `state and exclude clauses go first: '${kw} NAME ... EXPRESSION'`);
      this.fail(keyword, `unknown word '${keyword.text}'`, `expected ${EXPECTED}`);
    }
    this.i++;
    const lookup = { services: this.options.services, protocols: this.options.protocols, linkFamily: this.options.linkFamily, ifindex: this.options.ifindex };
    switch (kw) {
      case 'src':
      case 'dst': {
        const { token: op } = this.comparison(keyword, ['='], `'${kw}' takes '=' or nothing; to negate, write 'not ${kw} ...'`);
        const value = this.operand(keyword, op, 'an address prefix');
        const host = parseHost(value.value, lookup);
        if (!host.ok) this.fail(value, `expected an address prefix after '${kw}'`, host.reason);
        if (host.value.family === 16 || host.value.family === 17 || host.value.family === 1)
          this.bound = host.value.family === 17 ? 'packet' : host.value.family === 16 ? 'netlink' : 'unix';
        return { kind: 'host', side: kw, text: value.value, ...host.value, start: keyword.start, end: value.end } satisfies HostNode;
      }
      case 'sport':
      case 'dport': {
        const { op, token } = this.comparison(keyword, ['=', '!=', '<', '>', '<=', '>='], '');
        const value = this.operand(keyword, token, 'a port');
        if (lookup.linkFamily === 'unix') return this.unixPort(kw, op, value, keyword);
        const port = parsePort(value.value, lookup);
        const after = token ? `'${kw} ${token.text}'` : `'${kw}'`;
        if (!port.ok) this.fail(value, `expected a port after ${after}`, port.reason);
        if (port.value === -1 && op !== '=' && op !== '!=') this.fail(value, `expected a port number after ${after}`, "'*' (any port) goes with = and != only");
        if (lookup.linkFamily) this.bound = lookup.linkFamily;
        return {
          kind: 'port',
          side: kw === 'sport' ? 'src' : 'dst',
          op,
          port: port.value,
          text: value.value,
          start: keyword.start,
          end: value.end,
        } satisfies PortNode;
      }
      case 'dev': {
        const { op, token } = this.comparison(keyword, ['=', '!='], "'dev' takes '=', '!=' or nothing");
        const value = this.operand(keyword, token, 'a device name or index');
        return { kind: 'dev', op: op as '=' | '!=', name: value.value, operand: { start: value.start, end: value.end }, start: keyword.start, end: value.end };
      }
      case 'fwmark': {
        const { op, token } = this.comparison(keyword, ['=', '!='], "'fwmark' takes '=', '!=' or nothing");
        const value = this.operand(keyword, token, 'MARK or MARK/MASK');
        const mark = parseMark(value.value);
        if (!mark.ok) this.fail(value, `expected MARK or MARK/MASK after '${kw}'`, mark.reason);
        return { kind: 'fwmark', op: op as '=' | '!=', ...mark.value, start: keyword.start, end: value.end };
      }
      case 'cgroup': {
        const { op, token } = this.comparison(keyword, ['=', '!='], "'cgroup' takes '=', '!=' or nothing");
        const value = this.operand(keyword, token, 'a cgroup path');
        return {
          kind: 'cgroup',
          op: op as '=' | '!=',
          path: value.value,
          operand: { start: value.start, end: value.end },
          start: keyword.start,
          end: value.end,
        };
      }
      default:
        return { kind: 'autobound', start: keyword.start, end: keyword.end };
    }
  }
}

/**
 * Parse what follows ss's options: state clauses, then an expression. Throws SockscopeError
 * ESOCKSCOPE_FILTER_SYNTAX (exit status 2) with the position of the offending token.
 */
export function parseFilter(input: string | readonly string[], options: ParseOptions = {}): ParsedFilter {
  const expression = filterText(input);
  const given = options.services;
  const services = given ? () => given : systemServices;
  return new Parser(expression, tokenize(expression), {
    services,
    protocols: options.protocols ?? ['tcp', 'udp'],
    linkFamily: options.linkFamily,
    ifindex: options.ifindex ?? ((name) => sysfsIfindex(name)),
  }).parse();
}
