/**
 * The tokens of ss's filter language (misc/ssfilter.y yylex()), with their place in the expression text.
 *
 * ss splits its arguments at blanks only, so `(sport` is one (bad) word there. Here a word also ends at an
 * unescaped `(`, `)`, `!`, `=`, `<`, `>`, `&` or `|`, so `(sport=:22)` reads as `( sport = :22 )`; everything ss
 * accepts reads the same. As in ss, a backslash takes the next character literally (`dev eth\(0\)`), and the
 * word operators (and, or, not, eq, ne, neq, gt, lt, ge, geq, le, leq) are operators wherever they stand.
 */
export type Comparison = '=' | '!=' | '<' | '>' | '<=' | '>=';

export type TokenKind = 'word' | 'lparen' | 'rparen' | 'not' | 'and' | 'or' | 'cmp';

export interface Token {
  kind: TokenKind;
  /** the characters as written */
  text: string;
  /** a word with its escapes removed; an operator in canonical form ('and', 'or', 'not', '>=', ...) */
  value: string;
  /** 0-based offset of the first character in the expression text */
  start: number;
  /** offset just past the last character */
  end: number;
  /** for kind 'cmp' */
  cmp?: Comparison;
}

const WORD_OPERATORS: ReadonlyMap<string, { kind: TokenKind; cmp?: Comparison }> = new Map([
  ['and', { kind: 'and' }],
  ['or', { kind: 'or' }],
  ['not', { kind: 'not' }],
  ['eq', { kind: 'cmp', cmp: '=' }],
  ['ne', { kind: 'cmp', cmp: '!=' }],
  ['neq', { kind: 'cmp', cmp: '!=' }],
  ['gt', { kind: 'cmp', cmp: '>' }],
  ['lt', { kind: 'cmp', cmp: '<' }],
  ['ge', { kind: 'cmp', cmp: '>=' }],
  ['geq', { kind: 'cmp', cmp: '>=' }],
  ['le', { kind: 'cmp', cmp: '<=' }],
  ['leq', { kind: 'cmp', cmp: '<=' }],
]);

/** Symbol operators, longest first. */
const SYMBOLS: readonly [string, TokenKind, Comparison?][] = [
  ['==', 'cmp', '='],
  ['!=', 'cmp', '!='],
  ['<=', 'cmp', '<='],
  ['>=', 'cmp', '>='],
  ['&&', 'and'],
  ['||', 'or'],
  ['=', 'cmp', '='],
  ['<', 'cmp', '<'],
  ['>', 'cmp', '>'],
  ['!', 'not'],
  ['&', 'and'],
  ['|', 'or'],
  ['(', 'lparen'],
  [')', 'rparen'],
];

const isBlank = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isSymbol = (c: string): boolean => '()!=<>&|'.includes(c);

/** Split an expression into tokens. Never throws: a trailing lone backslash stays part of its word. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (isBlank(c)) {
      i++;
      continue;
    }
    if (isSymbol(c)) {
      const sym = SYMBOLS.find(([s]) => text.startsWith(s, i))!;
      const [s, kind, cmp] = sym;
      const token: Token = {
        kind,
        text: s,
        value: kind === 'cmp' ? cmp! : kind === 'lparen' ? '(' : kind === 'rparen' ? ')' : kind,
        start: i,
        end: i + s.length,
      };
      if (cmp) token.cmp = cmp;
      tokens.push(token);
      i += s.length;
      continue;
    }
    const start = i;
    let value = '';
    let escaped = false;
    while (i < text.length && !isBlank(text[i]) && !isSymbol(text[i])) {
      if (text[i] === '\\' && i + 1 < text.length) {
        escaped = true;
        value += text[i + 1];
        i += 2;
        continue;
      }
      value += text[i++];
    }
    const op = escaped ? undefined : WORD_OPERATORS.get(value);
    const token: Token = { kind: op?.kind ?? 'word', text: text.slice(start, i), value: op ? (op.cmp ?? op.kind) : value, start, end: i };
    if (op?.cmp) token.cmp = op.cmp;
    tokens.push(token);
  }
  return tokens;
}
