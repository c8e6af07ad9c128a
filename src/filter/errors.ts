/**
 * One error for anything wrong with a filter: the message names what was expected and where, then shows the
 * expression with a caret under the offending token. Facts: position (0-based offset, as JSON.parse counts),
 * token, expression. `what` is a sentence followed by "at position N", or a function placing that phrase.
 *
 *   invalid filter: expected a port after 'sport =' at position 8: 'foo' is not a port number or a service name
 *     sport = foo and dst 1.2.3.4
 *             ^^^
 */
import { SockscopeError, type SockscopeErrorCode } from '../errors.js';
import type { Span } from './ast.js';

export function filterError(
  expression: string,
  at: Span,
  what: string | ((where: string) => string),
  detail?: string,
  code: SockscopeErrorCode = 'ESOCKSCOPE_FILTER_SYNTAX',
): SockscopeError {
  const start = Math.min(at.start, expression.length);
  const width = Math.max(1, at.end - at.start);
  // one character per character, so the caret lines up whatever blanks the expression held
  const shown = expression.replace(/[\t\n\r]/g, ' ');
  const where = `at position ${start}`;
  const headline = typeof what === 'string' ? `${what} ${where}` : what(where);
  const message = `invalid filter: ${headline}${detail ? `: ${detail}` : ''}\n  ${shown}\n  ${' '.repeat(start)}${'^'.repeat(width)}`;
  return new SockscopeError(code, message, { position: start, token: expression.slice(start, at.end), expression });
}

/** A span at the end of the expression (for "expected ... but the expression ended"). */
export const endOf = (expression: string): Span => ({ start: expression.length, end: expression.length + 1 });
