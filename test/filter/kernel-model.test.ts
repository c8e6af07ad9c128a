/**
 * Properties over random filters and random sockets, against the model of the kernel in test/helpers/kernel-filter-model.ts:
 * - with CAP_NET_ADMIN every expression is compiled whole, the kernel accepts the program, and the program
 *   lets through exactly the rows matches() selects (so ss's composition of and/or/not jumps is right for
 *   any nesting, and the two paths agree);
 * - without it, the kernel still accepts the program (no MARK_COND: no EPERM) and it never drops a row
 *   matches() selects;
 * - any text either parses or fails with ESOCKSCOPE_FILTER_SYNTAX pointing inside the expression.
 * `autobound` is left out: the kernel's AUTO and user space's port range are different tests by design.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AF_INET, AF_INET6, InetAttr } from '../../src/diag/constants.js';
import { parseAddress } from '../../src/diag/address.js';
import { isSockscopeError } from '../../src/errors.js';
import { compileFilter, parseFilter, parseServices, type FilterContext } from '../../src/filter/index.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { budget } from '../helpers/fuzz-budget.js';
import { le16, le32, le64 } from '../helpers/bytes.js';
import { audit, run, type DiagEntry } from '../helpers/kernel-filter-model.js';

const services = parseServices('ssh 22/tcp\nhttps 443/tcp\n');
const ctx = (netAdmin: boolean): FilterContext => ({
  defaultStates: 0xfff,
  services,
  netAdmin,
  resolveDevice: (name) => ({ lo: 1, eth0: 2 })[name],
  resolveCgroup: (path) => ({ '/': 1n, '/a': 0x1_0000_0002n })[path],
});

const PORTS = [0, 22, 80, 443, 1023, 1024, 1025, 40000, 65535];
const port = fc.constantFrom(...PORTS);
const hostText = fc
  .tuple(
    fc.constantFrom(
      '127.0.0.1',
      '127.0.0.0/8',
      '127.0.0.1/31',
      '10.0.0.0/8',
      '0.0.0.0/0',
      '128.0.0.0/1',
      '[::1]',
      '[::1/127]',
      '[::ffff:127.0.0.1]',
      '[::ffff:127.0.0.0/104]',
      '::/0',
      '[2001:db8::/32]',
      '[fe80::/10]',
      '*',
      '',
    ),
    fc.option(port, { nil: undefined }),
  )
  .map(([addr, p]) => (p === undefined ? addr || '*' : `${addr}:${p}`));

const leaf: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('src', 'dst'), fc.constantFrom('', '= '), hostText).map(([k, eq, h]) => `${k} ${eq}${h}`),
  fc
    .tuple(fc.constantFrom('sport', 'dport'), fc.constantFrom('', '= ', '== ', '!= ', '< ', '> ', '<= ', '>= ', 'eq ', 'gt ', 'le '), port, fc.boolean())
    .map(([k, op, p, colon]) => `${k} ${op}${colon ? ':' : ''}${p}`),
  fc.tuple(fc.constantFrom('', '= ', '!= '), fc.constantFrom('lo', 'eth0', '0', '7')).map(([op, d]) => `dev ${op}${d}`),
  fc.tuple(fc.constantFrom('', '= ', '!= '), fc.constantFrom('0x2a', '0x2a/0xff', '0', '1/1', '0x100/0x100')).map(([op, m]) => `fwmark ${op}${m}`),
  fc.tuple(fc.constantFrom('', '= ', '!= '), fc.constantFrom('/', '/a')).map(([op, c]) => `cgroup ${op}${c}`),
);

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('expr').map((e) => `not ${e}`),
    tie('expr').map((e) => `( ${e} )`),
    fc.tuple(tie('expr'), fc.constantFrom(' and ', ' or ', ' ', ' && ', ' || '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
  ),
}));

interface Row {
  family: 2 | 10;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ifindex: number;
  mark?: number;
  cgroup?: bigint;
}

const V4 = ['127.0.0.1', '127.0.0.2', '10.1.2.3', '0.0.0.0', '128.0.0.1'];
const V6 = ['::1', '::', '::2', 'fe80::1', '2001:db8::5', '::ffff:127.0.0.1', '::ffff:10.1.2.3', '::ffff:128.0.0.1'];
const row: fc.Arbitrary<Row> = fc
  .record({
    v6: fc.boolean(),
    a: fc.nat(),
    b: fc.nat(),
    sport: port,
    dport: port,
    ifindex: fc.constantFrom(0, 1, 2),
    mark: fc.option(fc.constantFrom(0, 0x2a, 0x12a, 1, 0x100), { nil: undefined }),
    cgroup: fc.option(fc.constantFrom(1n, 2n, 0x1_0000_0002n), { nil: undefined }),
  })
  .map((r) => {
    const pool = r.v6 ? V6 : V4;
    const out: Row = {
      family: r.v6 ? AF_INET6 : AF_INET,
      src: pool[r.a % pool.length],
      dst: pool[r.b % pool.length],
      sport: r.sport,
      dport: r.dport,
      ifindex: r.ifindex,
    };
    if (r.mark !== undefined) out.mark = r.mark;
    if (r.cgroup !== undefined) out.cgroup = r.cgroup;
    return out;
  });

function attr(type: number, payload: number[]): number[] {
  const len = 4 + payload.length;
  const out = [...le16(len), ...le16(type), ...payload];
  while (out.length % 4) out.push(0);
  return out;
}

function build(rows: Row[]): { table: SocketTable; entries: DiagEntry[] } {
  const table = new SocketTable(rows.length, 4096);
  const entries: DiagEntry[] = [];
  for (const r of rows) {
    const i = table.addRow();
    table.family[i] = r.family;
    table.state[i] = 1;
    table.sport[i] = r.sport;
    table.dport[i] = r.dport;
    table.ifindex[i] = r.ifindex;
    const saddr = parseAddress(r.src)!.bytes;
    const daddr = parseAddress(r.dst)!.bytes;
    table.src.set(saddr, i * 16);
    table.dst.set(daddr, i * 16);
    // other attributes around the ones read, as the kernel sends them
    const attrs = [
      ...attr(InetAttr.SHUTDOWN, [0]),
      ...(r.mark !== undefined ? attr(InetAttr.MARK, le32(r.mark)) : []),
      ...(r.cgroup !== undefined ? attr(InetAttr.CGROUP_ID, le64(r.cgroup)) : []),
      ...attr(InetAttr.SOCKOPT, [0, 0]),
    ];
    table.setAttributes(i, Uint8Array.from(attrs), 0, attrs.length);
    entries.push({
      family: r.family,
      saddr,
      daddr,
      sport: r.sport,
      dport: r.dport,
      ifindex: r.ifindex,
      bindPortLock: false,
      mark: r.mark ?? 0,
      cgroupId: r.cgroup ?? 0n,
    });
  }
  return { table, entries };
}

describe('filters against a model of the kernel', () => {
  it('with CAP_NET_ADMIN: the whole expression in the kernel, and the same answer as matches()', () => {
    fc.assert(
      fc.property(expr, fc.array(row, { minLength: 1, maxLength: 40 }), (text, rows) => {
        const f = compileFilter(text, ctx(true));
        assert.ok(f.bytecode, `${text}: no program`);
        assert.equal(audit(f.bytecode, true), 0, `${text}: the kernel refuses the program`);
        const { table, entries } = build(rows);
        for (let i = 0; i < rows.length; i++) {
          assert.equal(
            run(f.bytecode, entries[i]),
            f.matches(table, i),
            `${text} on ${JSON.stringify(rows[i], (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
          );
        }
      }),
      budget(400),
    );
  });

  it('without it: a program the kernel accepts, never dropping a row matches() selects', () => {
    fc.assert(
      fc.property(expr, fc.array(row, { minLength: 1, maxLength: 40 }), (text, rows) => {
        const f = compileFilter(text, ctx(false));
        if (f.bytecode) assert.equal(audit(f.bytecode, false), 0, `${text}: the kernel refuses the program`);
        const { table, entries } = build(rows);
        for (let i = 0; i < rows.length; i++) {
          if (f.matches(table, i)) assert.ok(!f.bytecode || run(f.bytecode, entries[i]), `${text}: the kernel drops row ${i}`);
        }
      }),
      budget(400),
    );
  });

  it('a row without attributes counts as mark 0 and cgroup 0, in the kernel and in matches()', () => {
    const { table, entries } = build([{ family: AF_INET, src: '127.0.0.1', dst: '127.0.0.1', sport: 1, dport: 2, ifindex: 0 }]);
    table.attrLength[0] = 0;
    for (const text of ['fwmark 0', 'fwmark 1', 'cgroup /', 'not cgroup /']) {
      const f = compileFilter(text, ctx(true));
      assert.equal(f.matches(table, 0), run(f.bytecode!, entries[0]), text);
    }
  });
});

describe('fuzz: any text', () => {
  const soup = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'src',
          'dst',
          'sport',
          'dport',
          'dev',
          'fwmark',
          'cgroup',
          'autobound',
          'state',
          'exclude',
          'established',
          'and',
          'or',
          'not',
          '!',
          '&&',
          '||',
          '(',
          ')',
          '=',
          '==',
          '!=',
          '<',
          '>=',
          'eq',
          'gt',
          ':22',
          '22',
          '*',
          '[::1]',
          '127.0.0.1/8',
          '1.2.3.256',
          '/33',
          'lo',
          '0x2a/0xff',
          '\\',
          '[',
          ']',
          ':https',
          ':nope',
          '70000',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 12 },
    )
    .chain((words) => fc.constantFrom(' ', '', '\t').map((sep) => words.join(sep)));

  it('parses, or fails with ESOCKSCOPE_FILTER_SYNTAX and a caret inside the expression', () => {
    fc.assert(
      fc.property(soup, (text) => {
        try {
          parseFilter(text, { services });
        } catch (e) {
          assert.ok(isSockscopeError(e), `not a SockscopeError: ${String(e)}`);
          assert.equal(e.code, 'ESOCKSCOPE_FILTER_SYNTAX');
          const position = e.facts.position as number;
          assert.ok(position >= 0 && position <= text.length, `position ${position} outside ${JSON.stringify(text)}`);
          const lines = e.message.split('\n');
          assert.equal(lines.length, 3);
          assert.equal(lines[2].indexOf('^'), 2 + position);
          assert.equal(e.facts.expression, text);
        }
      }),
      budget(2000),
    );
  });
});
