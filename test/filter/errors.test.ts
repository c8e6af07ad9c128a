/**
 * What a user sees for a filter that does not parse: one message naming what was expected and where, the
 * expression, and a caret under the offending token; code ESOCKSCOPE_FILTER_SYNTAX (exit status 2) and the
 * facts { position, token, expression } for programs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSockscopeError } from '../../src/errors.js';
import { parseFilter, parseServices } from '../../src/filter/index.js';

const services = parseServices('ssh 22/tcp\nhttps 443/tcp\nhttps 443/udp\n');

/** [expression, first line of the message, caret line (under the two-space indented expression), token] */
const CASES: [string, string, string, string][] = [
  [
    'sport = foo and dst 1.2.3.4',
    "invalid filter: expected a port after 'sport =' at position 8: 'foo' is not a port number or a service name in /etc/services",
    '          ^^^',
    'foo',
  ],
  ['sport = :70000', "invalid filter: expected a port after 'sport =' at position 8: 70000 is out of range (0-65535)", '          ^^^^^^', ':70000'],
  ['dport >= ', "invalid filter: expected a port after 'dport >=' at position 9: the expression ends there", '           ^', ''],
  [
    'src 1.2.3.256/8',
    "invalid filter: expected an address prefix after 'src' at position 4: 1.2.3.256 is not an IPv4 address",
    '      ^^^^^^^^^^^',
    '1.2.3.256/8',
  ],
  [
    'dst 10.0.0.0/33 or sport = :22',
    "invalid filter: expected an address prefix after 'dst' at position 4: prefix length 33 is longer than 32",
    '      ^^^^^^^^^^^',
    '10.0.0.0/33',
  ],
  [
    'dst [2001:db8::/129]',
    "invalid filter: expected an address prefix after 'dst' at position 4: prefix length 129 is longer than 128",
    '      ^^^^^^^^^^^^^^^^',
    '[2001:db8::/129]',
  ],
  [
    'src ::1',
    "invalid filter: expected an address prefix after 'src' at position 4: an IPv6 address needs brackets: [::1] (bare, it reads as address ':' and port 1)",
    '      ^^^',
    '::1',
  ],
  [
    'src example.com',
    "invalid filter: expected an address prefix after 'src' at position 4: 'example.com' is not an IP address (host names are not resolved)",
    '      ^^^^^^^^^^^',
    'example.com',
  ],
  [
    'state establisehd',
    "invalid filter: unknown state 'establisehd' after 'state' at position 6: expected established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, connected, synchronized, bucket, big",
    '        ^^^^^^^^^^^',
    'establisehd',
  ],
  [
    'exclude',
    "invalid filter: expected a state name after 'exclude' at position 7: one of established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, connected, synchronized, bucket, big",
    '         ^',
    '',
  ],
  [
    'sport = :22 or frobnicate',
    "invalid filter: unknown word 'frobnicate' at position 15: expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound), 'not' or '('",
    '                 ^^^^^^^^^^',
    'frobnicate',
  ],
  ['( sport = :22 or dport = :22', "invalid filter: unbalanced parentheses: the '(' at position 0 is never closed", '  ^', '('],
  ['sport = :22 ) or dport = :22', "invalid filter: unbalanced parentheses: the ')' at position 12 has no matching '('", '              ^', ')'],
  [
    '( )',
    "invalid filter: empty parentheses at position 0: expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound), 'not' or '(' inside",
    '  ^^^',
    '( )',
  ],
  ['sport = :22 and', "invalid filter: the 'and' at position 12 is not followed by a condition: the expression ends there", '              ^^^', 'and'],
  ['sport = :22 || )', "invalid filter: the '||' at position 12 is not followed by a condition: found ')'", '              ^^', '||'],
  ['not', "invalid filter: the 'not' at position 0 is not followed by a condition: the expression ends there", '  ^^^', 'not'],
  ['or dport = :22', "invalid filter: the 'or' at position 0 has no condition before it", '  ^^', 'or'],
  [
    'sport = :22 = :80',
    "invalid filter: unexpected '=' at position 12: expected 'and', 'or' or a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound), 'not' or '('",
    '              ^',
    '=',
  ],
  ['src != 10.0.0.1', "invalid filter: 'src' does not take '!=' at position 4: 'src' takes '=' or nothing; to negate, write 'not src ...'", '      ^^', '!='],
  ['dev > 3', "invalid filter: 'dev' does not take '>' at position 4: 'dev' takes '=', '!=' or nothing", '      ^', '>'],
  ['sport >= *', "invalid filter: expected a port number after 'sport >=' at position 9: '*' (any port) goes with = and != only", '           ^', '*'],
  ['fwmark 0x1/zz', "invalid filter: expected MARK or MARK/MASK after 'fwmark' at position 7: 'zz' is not a 32-bit mask", '         ^^^^^^', '0x1/zz'],
  [
    'sport = :22 state established',
    "invalid filter: the 'state' at position 12 comes after the expression: state and exclude clauses go first: 'state NAME ... EXPRESSION'",
    '              ^^^^^',
    'state',
  ],
  [
    'dst vsock:2:22',
    "invalid filter: expected an address prefix after 'dst' at position 4: family prefixes like 'vsock:' are not supported: sockscope filters inet, unix (unix:), packet (link:) and netlink (netlink:) sockets",
    '      ^^^^^^^^^^',
    'vsock:2:22',
  ],
];

describe('filter syntax errors', () => {
  for (const [expression, headline, caret, token] of CASES) {
    it(JSON.stringify(expression), () => {
      assert.throws(
        () => parseFilter(expression, { services }),
        (e: unknown) => {
          assert.ok(isSockscopeError(e));
          assert.equal(e.code, 'ESOCKSCOPE_FILTER_SYNTAX');
          assert.equal(e.exitCode, 2);
          assert.equal(e.message, [headline, `  ${expression}`, caret].join('\n'));
          assert.deepEqual(e.facts, { position: caret.indexOf('^') - 2, token, expression });
          return true;
        },
      );
    });
  }

  it('tabs and newlines in the expression keep the caret in line', () => {
    assert.throws(
      () => parseFilter('sport = :22\tand\nbogus', { services }),
      (e: any) => {
        assert.equal(e.message.split('\n').slice(1).join('\n'), '  sport = :22 and bogus\n                  ^^^^^');
        return true;
      },
    );
  });

  it('positions refer to the argv joined with spaces', () => {
    assert.throws(
      () => parseFilter(['state', 'established', '( sport = :ssh', 'or', 'sport = 99999 )'], { services }),
      (e: any) => {
        assert.equal(e.facts.expression, 'state established ( sport = :ssh or sport = 99999 )');
        assert.equal(e.facts.position, 44);
        assert.equal(e.facts.token, '99999');
        return true;
      },
    );
  });
});
