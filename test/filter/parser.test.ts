/**
 * The lexer and the parser, as tables: tokens with their offsets, syntax trees with their spans, the values
 * of host conditions, ports and marks, and the state clauses under ss's rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, CONNECTED_STATES, parseFilter, parseServices, tokenize, type FilterNode } from '../../src/filter/index.js';

/** A fixed services table, so the tests do not depend on /etc/services. */
const services = parseServices('ssh 22/tcp\nhttp 80/tcp www\nhttps 443/tcp\nhttps 443/udp\ndomain 53/tcp\ndomain 53/udp\nweird 1000/tcp\nweird 2000/udp\n');

/** An S-expression of the tree with spans: (kind ...)@start-end, and 'p' for a parenthesized node. */
function show(n: FilterNode): string {
  const span = `@${n.start}-${n.end}${n.parenthesized ? 'p' : ''}`;
  switch (n.kind) {
    case 'and':
      return `(and${n.implicit ? '~' : ''} ${show(n.left)} ${show(n.right)})${span}`;
    case 'or':
      return `(or ${show(n.left)} ${show(n.right)})${span}`;
    case 'not':
      return `(not ${show(n.operand)})${span}`;
    case 'host':
      return `(${n.side} ${n.text})${span}`;
    case 'port':
      return `(${n.side === 'src' ? 'sport' : 'dport'} ${n.op} ${n.port})${span}`;
    case 'dev':
      return `(dev ${n.op} ${n.name})${span}`;
    case 'fwmark':
      return `(fwmark ${n.op} 0x${n.mark.toString(16)}/0x${n.mask.toString(16)})${span}`;
    case 'cgroup':
      return `(cgroup ${n.op} ${n.path})${span}`;
    case 'autobound':
      return `(autobound)${span}`;
  }
}

const tree = (text: string): string => {
  const root = parseFilter(text, { services }).root;
  return root ? show(root) : '';
};

describe('lexer', () => {
  const cases: [string, string][] = [
    ['sport = :22', 'word:sport@0 cmp:=@6 word::22@8'],
    ['sport == 22', 'word:sport@0 cmp:=@6 word:22@9'],
    ['dport eq :22', 'word:dport@0 cmp:=@6 word::22@9'],
    ['sport ne 1 neq 2 != 3', 'word:sport@0 cmp:!=@6 word:1@9 cmp:!=@11 word:2@15 cmp:!=@17 word:3@20'],
    ['a gt lt ge geq le leq > < >= <=', 'word:a@0 cmp:>@2 cmp:<@5 cmp:>=@8 cmp:>=@11 cmp:<=@15 cmp:<=@18 cmp:>@22 cmp:<@24 cmp:>=@26 cmp:<=@29'],
    ['not ! and && & or || |', 'not:not@0 not:not@4 and:and@6 and:and@10 and:and@13 or:or@15 or:or@18 or:or@21'],
    ['( sport = :22 )', 'lparen:(@0 word:sport@2 cmp:=@8 word::22@10 rparen:)@14'],
    // glued: ss would need blanks; here the symbols split words
    ['(sport=:22)||!dport>=:1024', 'lparen:(@0 word:sport@1 cmp:=@6 word::22@7 rparen:)@10 or:or@11 not:not@13 word:dport@14 cmp:>=@19 word::1024@21'],
    ['src [::1]:5432', 'word:src@0 word:[::1]:5432@4'],
    ['dst *:80', 'word:dst@0 word:*:80@4'],
    ['  dev\tlo\n', 'word:dev@2 word:lo@6'],
    // a backslash takes the next character: an escaped word operator is a word
    ['dev eth\\(0\\) cgroup \\and', 'word:dev@0 word:eth(0)@4 word:cgroup@13 word:and@20'],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      assert.equal(
        tokenize(text)
          .map((t) => `${t.kind}:${t.value}@${t.start}`)
          .join(' '),
        expected,
      );
    });
  }

  it('keeps each token as written, with its end', () => {
    const [dev, name] = tokenize('dev eth\\ 0');
    assert.deepEqual({ ...dev }, { kind: 'word', text: 'dev', value: 'dev', start: 0, end: 3 });
    assert.deepEqual({ ...name }, { kind: 'word', text: 'eth\\ 0', value: 'eth 0', start: 4, end: 10 });
  });
});

describe('parser: trees with spans', () => {
  const cases: [string, string][] = [
    ['sport = :22', '(sport = 22)@0-11'],
    ['sport :22', '(sport = 22)@0-9'],
    ['dport != :https', '(dport != 443)@0-15'],
    ['sport > :1024', '(sport > 1024)@0-13'],
    ['dport <= 1023', '(dport <= 1023)@0-13'],
    ['sport = *', '(sport = -1)@0-9'],
    ['src 10.0.0.0/8', '(src 10.0.0.0/8)@0-14'],
    ['dst = [::1]:5432', '(dst [::1]:5432)@0-16'],
    ['dev lo', '(dev = lo)@0-6'],
    ['dev != 3', '(dev != 3)@0-8'],
    ['fwmark 0x10/0xff', '(fwmark = 0x10/0xff)@0-16'],
    ['fwmark != 7', '(fwmark != 0x7/0xffffffff)@0-11'],
    ['cgroup /system.slice', '(cgroup = /system.slice)@0-20'],
    ['autobound', '(autobound)@0-9'],
    // and/or: left to right, equal precedence (ssfilter.y)
    ['sport = :22 or dport = :22', '(or (sport = 22)@0-11 (dport = 22)@15-26)@0-26'],
    ['sport = :22 or dport = :22 and src 1.2.3.4', '(and (or (sport = 22)@0-11 (dport = 22)@15-26)@0-26 (src 1.2.3.4)@31-42)@0-42'],
    ['sport = :22 and dport = :22 or src 1.2.3.4', '(or (and (sport = 22)@0-11 (dport = 22)@16-27)@0-27 (src 1.2.3.4)@31-42)@0-42'],
    // juxtaposition is and
    ['src 1.2.3.4 sport = :22', '(and~ (src 1.2.3.4)@0-11 (sport = 22)@12-23)@0-23'],
    // not takes one expression
    ['not sport = :22 and autobound', '(and (not (sport = 22)@4-15)@0-15 (autobound)@20-29)@0-29'],
    ['! ! autobound', '(not (not (autobound)@4-13)@2-13)@0-13'],
    ['not ( sport = :22 or dport = :22 )', '(not (or (sport = 22)@6-17 (dport = 22)@21-32)@4-34p)@0-34'],
    ['( ( autobound ) )', '(autobound)@0-17p'],
    ['sport = :1 or ( dport = :2 and src 1.2.3.4 )', '(or (sport = 1)@0-10 (and (dport = 2)@16-26 (src 1.2.3.4)@31-42)@14-44p)@0-44'],
    ['(sport=:22)||!dport>=:1024', '(or (sport = 22)@0-11p (not (dport >= 1024)@14-26)@13-26)@0-26'],
    ['sport = :22 && dst 1.2.3.4 || dev 2', '(or (and (sport = 22)@0-11 (dst 1.2.3.4)@15-26)@0-26 (dev = 2)@30-35)@0-35'],
    ['state established', ''],
    ['', ''],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.equal(tree(text), expected));
  }

  it('reads an argv joined with spaces, as ss does', () => {
    const parsed = parseFilter(['state', 'established', '( dport = :ssh', 'or', 'sport = :ssh )'], { services });
    assert.equal(parsed.expression, 'state established ( dport = :ssh or sport = :ssh )');
    assert.equal(show(parsed.root!), '(or (dport = 22)@20-32 (sport = 22)@36-48)@18-50p');
    assert.deepEqual(
      parsed.states.map((s) => ({ ...s })),
      [{ kind: 'state', name: 'established', mask: 1 << 1, start: 0, end: 17 }],
    );
  });
});

describe('parser: values', () => {
  const host = (text: string) => {
    const n = parseFilter(`src ${text}`, { services }).root!;
    assert.equal(n.kind, 'host');
    return { family: n.family, prefixLength: n.prefixLength, address: Array.from(n.address.subarray(0, n.family === 10 ? 16 : 4)).join('.'), port: n.port };
  };
  const cases: [string, ReturnType<typeof host>][] = [
    ['127.0.0.1', { family: 2, prefixLength: 32, address: '127.0.0.1', port: -1 }],
    ['10.0.0.0/8', { family: 2, prefixLength: 8, address: '10.0.0.0', port: -1 }],
    ['10/8', { family: 2, prefixLength: 8, address: '10.0.0.0', port: -1 }],
    ['172.16/12', { family: 2, prefixLength: 12, address: '172.16.0.0', port: -1 }],
    ['192.168.0.0/255.255.0.0', { family: 2, prefixLength: 16, address: '192.168.0.0', port: -1 }],
    ['1.2.3.4:443', { family: 2, prefixLength: 32, address: '1.2.3.4', port: 443 }],
    ['1.2.3.4:https', { family: 2, prefixLength: 32, address: '1.2.3.4', port: 443 }],
    ['10.0.0.0/8:22', { family: 2, prefixLength: 8, address: '10.0.0.0', port: 22 }],
    // host bits stay as written (ss sends them; only prefixLength bits are compared)
    ['127.0.0.1/8', { family: 2, prefixLength: 8, address: '127.0.0.1', port: -1 }],
    ['*', { family: 0, prefixLength: 0, address: '0.0.0.0', port: -1 }],
    ['*:80', { family: 0, prefixLength: 0, address: '0.0.0.0', port: 80 }],
    [':80', { family: 0, prefixLength: 0, address: '0.0.0.0', port: 80 }],
    ['*:*', { family: 0, prefixLength: 0, address: '0.0.0.0', port: -1 }],
    ['[::1]', { family: 10, prefixLength: 128, address: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1', port: -1 }],
    ['[::1]:5432', { family: 10, prefixLength: 128, address: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1', port: 5432 }],
    ['[2001:db8::/32]:443', { family: 10, prefixLength: 32, address: '32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.0', port: 443 }],
    ['::1/128', { family: 10, prefixLength: 128, address: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1', port: -1 }],
    ['::/0', { family: 10, prefixLength: 0, address: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0', port: -1 }],
    ['[::ffff:127.0.0.1]', { family: 10, prefixLength: 128, address: '0.0.0.0.0.0.0.0.0.0.255.255.127.0.0.1', port: -1 }],
    ['[127.0.0.1]:22', { family: 2, prefixLength: 32, address: '127.0.0.1', port: 22 }],
  ];
  for (const [text, expected] of cases) it(`src ${text}`, () => assert.deepEqual(host(text), expected));

  it('ports: number, :number, service names per protocol, *', () => {
    const port = (text: string, protocols?: string[]) => {
      const n = parseFilter(`dport = ${text}`, { services, ...(protocols ? { protocols } : {}) }).root!;
      return n.kind === 'port' ? n.port : NaN;
    };
    assert.equal(port('22'), 22);
    assert.equal(port(':0'), 0);
    assert.equal(port(':65535'), 65535);
    assert.equal(port(':ssh'), 22);
    assert.equal(port('www'), 80);
    assert.equal(port(':*'), -1);
    // a name with different TCP and UDP ports is fine when only one of them is listed
    assert.equal(port(':weird', ['tcp']), 1000);
    assert.equal(port(':weird', ['udp']), 2000);
    assert.throws(() => port(':weird'), /'weird' is ambiguous: 1000\/tcp but 2000\/udp/);
  });

  it('marks: C integers, mask defaulting to all ones', () => {
    const mark = (text: string) => {
      const n = parseFilter(`fwmark ${text}`).root!;
      return n.kind === 'fwmark' ? [n.mark, n.mask] : [];
    };
    assert.deepEqual(mark('42'), [42, 0xffffffff]);
    assert.deepEqual(mark('0x2a/0xff'), [42, 255]);
    assert.deepEqual(mark('052'), [42, 0xffffffff]); // %i: octal
    assert.deepEqual(mark('0'), [0, 0xffffffff]);
    assert.deepEqual(mark('0xffffffff/0'), [0xffffffff, 0]);
  });
});

describe('state clauses (ss main())', () => {
  const states = (text: string, defaultStates = 0x2) => compileFilter(text, { defaultStates, services }).states;
  const bits = (...s: number[]) => s.reduce((m, x) => m | (1 << x), 0);

  it("no clause: the caller's default", () => assert.equal(states('sport = :22', 0x400), 0x400));
  it('state: only those named, repeatable', () => {
    assert.equal(states('state established'), bits(1));
    assert.equal(states('state established state listening'), bits(1, 10));
    assert.equal(states('state ESTABLISHED'), bits(1)); // strcasecmp
  });
  it('every name', () => {
    const names: [string, number][] = [
      ['established', 1],
      ['syn-sent', 2],
      ['syn-recv', 3],
      ['syn-rcv', 3],
      ['fin-wait-1', 4],
      ['fin-wait-2', 5],
      ['time-wait', 6],
      ['closed', 7],
      ['close', 7],
      ['unconnected', 7],
      ['close-wait', 8],
      ['last-ack', 9],
      ['listening', 10],
      ['listen', 10],
      ['closing', 11],
    ];
    for (const [name, state] of names) assert.equal(states(`state ${name}`), bits(state), name);
  });
  it('groups: as ss defines them (SS_ALL = 0xfff)', () => {
    assert.equal(states('state all'), 0xfff);
    assert.equal(states('state connected'), 0xfff & ~bits(7, 10));
    assert.equal(states('state connected'), CONNECTED_STATES);
    assert.equal(states('state synchronized'), 0xfff & ~bits(2, 7, 10));
    assert.equal(states('state bucket'), bits(3, 6));
    assert.equal(states('state big'), 0xfff & ~bits(3, 6));
  });
  it('exclude starts from every state, not from the default', () => {
    assert.equal(states('exclude established', bits(10)), 0xfff & ~bits(1));
    assert.equal(states('excl time-wait exclude listening'), 0xfff & ~bits(6, 10));
    assert.equal(states('state connected exclude established'), CONNECTED_STATES & ~bits(1));
    assert.equal(states('exclude bucket state listening'), (0xfff & ~bits(3, 6)) | bits(10));
  });
  it('keeps the clauses with their spans', () => {
    const p = parseFilter('state established excl time-wait sport = :22', { services });
    assert.deepEqual(
      p.states.map((s) => ({ ...s })),
      [
        { kind: 'state', name: 'established', mask: bits(1), start: 0, end: 17 },
        { kind: 'exclude', name: 'time-wait', mask: bits(6), start: 18, end: 32 },
      ],
    );
    assert.equal(show(p.root!), '(sport = 22)@33-44');
  });
});
