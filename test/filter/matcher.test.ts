/**
 * matches() on hand-made rows: the user-space semantics, condition by condition (docs/filters.md), the state
 * mask, unix rows, attributes read from the arena, and no allocation per call.
 */
import assert from 'node:assert/strict';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, it } from 'node:test';
import { AF_INET, AF_INET6, AF_UNIX, InetAttr } from '../../src/diag/constants.js';
import { parseAddress } from '../../src/diag/address.js';
import { compileFilter, parseServices, type FilterContext } from '../../src/filter/index.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { le16, le32, le64 } from '../helpers/bytes.js';
import { sleep } from '../helpers/wait.js';

const ctx: FilterContext = {
  defaultStates: 0xfff,
  services: parseServices('ssh 22/tcp\nhttp 80/tcp\n'),
  resolveDevice: (name) => ({ lo: 1, eth0: 2 })[name],
  resolveCgroup: (path) => ({ '/': 1n, '/big': 0x1_0000_0002n })[path],
  ephemeralPorts: { low: 32768, high: 60999 },
};

interface RowSpec {
  name: string;
  family: number;
  state: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  ifindex?: number;
  mark?: number;
  cgroup?: bigint;
}

const ROWS: RowSpec[] = [
  { name: 'v4', family: AF_INET, state: 1, src: '127.0.0.1', dst: '10.1.2.3', sport: 22, dport: 40000, mark: 0x2a, cgroup: 1n },
  { name: 'v4-listen', family: AF_INET, state: 10, src: '0.0.0.0', dst: '0.0.0.0', sport: 80, dport: 0, ifindex: 2 },
  { name: 'mapped', family: AF_INET6, state: 1, src: '::ffff:127.0.0.1', dst: '::ffff:10.1.2.3', sport: 80, dport: 33000, cgroup: 0x1_0000_0002n },
  { name: 'v6', family: AF_INET6, state: 1, src: '::1', dst: '2001:db8::7', sport: 50000, dport: 443, ifindex: 1, mark: 0x12a },
  { name: 'v6-tw', family: AF_INET6, state: 6, src: '::1', dst: '::1', sport: 40001, dport: 22 },
  { name: 'unix', family: AF_UNIX, state: 10 },
];

function attr(type: number, payload: number[]): number[] {
  const out = [...le16(4 + payload.length), ...le16(type), ...payload];
  while (out.length % 4) out.push(0);
  return out;
}

function table(): SocketTable {
  const t = new SocketTable(16, 1024);
  for (const r of ROWS) {
    const i = t.addRow();
    t.family[i] = r.family;
    t.state[i] = r.state;
    t.sport[i] = r.sport ?? 0;
    t.dport[i] = r.dport ?? 0;
    t.ifindex[i] = r.ifindex ?? 0;
    if (r.src) t.src.set(parseAddress(r.src)!.bytes, i * 16);
    if (r.dst) t.dst.set(parseAddress(r.dst)!.bytes, i * 16);
    const attrs = [
      ...attr(InetAttr.SHUTDOWN, [0]),
      ...(r.mark !== undefined ? attr(InetAttr.MARK, le32(r.mark)) : []),
      ...(r.cgroup !== undefined ? attr(InetAttr.CGROUP_ID, le64(r.cgroup)) : []),
    ];
    t.setAttributes(i, Uint8Array.from(attrs), 0, attrs.length);
  }
  return t;
}

const T = table();
const selected = (text: string, extra: Partial<FilterContext> = {}): string[] => {
  const f = compileFilter(text, { ...ctx, ...extra });
  return ROWS.filter((_, i) => f.matches(T, i)).map((r) => r.name);
};

describe('matches(): one row at a time', () => {
  const cases: [string, string[]][] = [
    ['', ['v4', 'v4-listen', 'mapped', 'v6', 'v6-tw', 'unix']],
    ['state established', ['v4', 'mapped', 'v6']],
    ['exclude established', ['v4-listen', 'v6-tw', 'unix']],
    // an IPv4 condition takes v4-mapped IPv6 sockets too; a mapped one takes only them
    ['src 127.0.0.1', ['v4', 'mapped']],
    ['src 127.0.0.0/8', ['v4', 'mapped']],
    ['src [::ffff:127.0.0.1]', ['mapped']],
    ['src [::ffff:0.0.0.0/96]', ['mapped']],
    ['dst 10.0.0.0/8', ['v4', 'mapped']],
    // an unnamed unix socket's address is all zeros to ss (a NULL name pointer): zero prefixes take it
    ['src 0.0.0.0/0', ['v4', 'v4-listen', 'mapped', 'unix']],
    ['src ::/0', ['mapped', 'v6', 'v6-tw', 'unix']],
    // an IPv6 prefix never takes an IPv4 socket, whatever the bits (ss's user space would compare them)
    ['src [::/1]', ['mapped', 'v6', 'v6-tw', 'unix']],
    ['src 0.0.0.0/1', ['v4', 'v4-listen', 'mapped', 'unix']],
    ['dst [2001:db8::/32]:443', ['v6']],
    ['src *', ['v4', 'v4-listen', 'mapped', 'v6', 'v6-tw', 'unix']],
    ['src *:80', ['v4-listen', 'mapped']],
    ['src [::1]:50000', ['v6']],
    ['src 127.0.0.1:80', ['mapped']],
    ['sport = :ssh', ['v4']],
    ['dport = :22', ['v6-tw']],
    ['sport >= :80', ['v4-listen', 'mapped', 'v6', 'v6-tw']],
    // a unix row's port is its inode (0 here), as ss's unix_show_sock sets lport
    ['sport <= :80', ['v4', 'v4-listen', 'mapped', 'unix']],
    // > and < are not(<=) and not(>=), and != is not(=), as in ssfilter.y
    ['sport > :80', ['v6', 'v6-tw']],
    ['sport < :80', ['v4', 'unix']],
    ['sport != :80', ['v4', 'v6', 'v6-tw', 'unix']],
    ['not sport = :80', ['v4', 'v6', 'v6-tw', 'unix']],
    ['dport = *', ['v4', 'v4-listen', 'mapped', 'v6', 'v6-tw', 'unix']],
    ['dev lo', ['v6']],
    ['dev eth0', ['v4-listen']],
    ['dev 0', ['v4', 'mapped', 'v6-tw', 'unix']],
    ['dev != lo', ['v4', 'v4-listen', 'mapped', 'v6-tw', 'unix']],
    ['fwmark 0x2a', ['v4']],
    ['fwmark 0x2a/0xff', ['v4', 'v6']],
    // no MARK attribute is mark 0
    ['fwmark 0', ['v4-listen', 'mapped', 'v6-tw', 'unix']],
    ['cgroup /', ['v4']],
    ['cgroup /big', ['mapped']],
    ['cgroup != /', ['v4-listen', 'mapped', 'v6', 'v6-tw', 'unix']],
    // a unix socket without a name is autobound to ss
    ['autobound', ['v6', 'v6-tw', 'unix']],
    ['not autobound', ['v4', 'v4-listen', 'mapped']],
    ['state established sport = :22 or sport = :80', ['v4', 'mapped']],
    ['sport = :22 or sport = :80 and src 127.0.0.1', ['v4', 'mapped']],
    ['sport = :22 or ( sport = :80 and src 0.0.0.0 )', ['v4', 'v4-listen']],
    ['not ( src 127.0.0.1 or src [::1] )', ['v4-listen', 'unix']],
    ['sport = :1 or sport = :2 or sport = :22 or sport = :3', ['v4']],
    ['src 127.0.0.1 and sport = :22 and dport = :40000 and fwmark 0x2a', ['v4']],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(selected(text), expected));
  }

  it('autobound uses the ephemeral range it is given', () => {
    assert.deepEqual(selected('autobound', { ephemeralPorts: { low: 1, high: 80 } }), ['v4', 'v4-listen', 'mapped', 'unix']);
  });

  it('unix rows as ss 6.1 reads them: name patterns (fnmatch, any case), the inode as port, autobind names', () => {
    const t = new SocketTable(8, 1024);
    const rows: [string, number, string | undefined, number | undefined][] = [
      ['docker', 5000, '/run/Docker.sock', 4000],
      ['abstract', 5001, '\0sspar\0x', undefined],
      ['autobind', 5002, '\x0000f3a', 5003],
      ['unnamed', 5003, undefined, 5002],
    ];
    for (const [, inode, name, peer] of rows) {
      const i = t.addRow();
      t.family[i] = AF_UNIX;
      t.state[i] = 1;
      t.inode[i] = inode;
      const attrs = [
        ...(name !== undefined ? attr(0, [...Buffer.from(name, 'latin1'), ...(name[0] === '\0' ? [] : [0])]) : []),
        ...(peer ? attr(2, le32(peer)) : []),
      ];
      t.setAttributes(i, Uint8Array.from(attrs), 0, attrs.length);
    }
    const which = (text: string, linkFamily?: 'unix') => {
      const f = compileFilter(text, { ...ctx, linkFamily });
      return rows.filter((_, i) => f.matches(t, i)).map((r) => r[0]);
    };
    assert.deepEqual(which('src unix:/run/*'), ['docker']);
    assert.deepEqual(which('src /RUN/docker.SOCK', 'unix'), ['docker']);
    assert.deepEqual(which('src @sspar@?', 'unix'), ['abstract']);
    assert.deepEqual(which('src [/@]*', 'unix'), ['docker', 'abstract', 'autobind']);
    assert.deepEqual(which('src [^/]*', 'unix'), ['abstract', 'autobind']);
    // the peer side has no name to ss: only a pattern that matches "" holds
    assert.deepEqual(which('dst unix:*'), ['docker', 'abstract', 'autobind', 'unnamed']);
    assert.deepEqual(which('dst unix:/run/*'), []);
    assert.deepEqual(which('sport = :5001'), ['abstract']);
    assert.deepEqual(which('dport = :5003'), ['autobind']);
    assert.deepEqual(which('dport < :1'), ['abstract']);
    assert.deepEqual(which('autobound'), ['autobind', 'unnamed']);
    // an address against a name: ss compares the name's pointer (not reproducible: false), zeros when unnamed
    assert.deepEqual(which('src 0.0.0.0'), ['unnamed']);
    assert.deepEqual(which('dst 0.0.0.0'), ['docker', 'abstract', 'autobind', 'unnamed']);
    assert.equal(compileFilter('src unix:/run/*', ctx).parsed.family, 'unix');
  });

  it('reads the arena the table has now (it may have grown since compiling)', () => {
    const f = compileFilter('fwmark 0x2a', ctx);
    const t = table();
    const before = t.arena;
    t.reserveArena(before.byteLength * 4);
    assert.notEqual(t.arena, before);
    assert.equal(f.matches(t, 0), true);
  });

  it('allocates nothing: no garbage collection over millions of calls', async () => {
    const f = compileFilter('( src 127.0.0.0/8 or src [::1] ) and not dport = :443 and sport >= :1 or fwmark 0x2a/0xff or cgroup /big', ctx);
    const warm = () => {
      let n = 0;
      for (let k = 0; k < 200_000; k++) for (let i = 0; i < ROWS.length; i++) if (f.matches(T, i)) n++;
      return n;
    };
    warm();
    // Start from an empty young generation: a matcher allocating even a small typed-array view per call
    // (t.src.subarray(...)) causes about a hundred collections here.
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
    let collections = 0;
    const obs = new PerformanceObserver((list) => {
      // entries arrive asynchronously: count only those that started during the loop
      collections += list.getEntries().filter((e) => e.startTime >= started && e.startTime <= ended).length;
    });
    obs.observe({ entryTypes: ['gc'] });
    const started = performance.now();
    const n = warm() + warm();
    const ended = performance.now();
    await sleep(50);
    obs.disconnect();
    assert.ok(n > 0);
    assert.equal(collections, 0, `${collections} garbage collections during ${2 * 200_000 * ROWS.length} calls`);
  });
});

describe('errors found while compiling', () => {
  it('an unknown device is a usage error naming it, with a caret', () => {
    assert.throws(
      () => compileFilter('sport = :22 and dev eth9', ctx),
      (e: any) => {
        assert.equal(e.code, 'ESOCKSCOPE_USAGE');
        assert.equal(e.exitCode, 2);
        assert.deepEqual(e.facts, { position: 20, token: 'eth9', expression: 'sport = :22 and dev eth9' });
        assert.equal(
          e.message,
          [
            "invalid filter: unknown device 'eth9' at position 20: not a device of the namespace listed and not an interface index",
            '  sport = :22 and dev eth9',
            '                      ^^^^',
          ].join('\n'),
        );
        return true;
      },
    );
  });
  it('a device index is taken as it is', () => {
    assert.equal(compileFilter('dev 0x10', ctx).bytecode![4], 16);
  });
  it('an unknown cgroup is a usage error naming it', () => {
    assert.throws(
      () => compileFilter('cgroup = /nope', ctx),
      (e: any) => e.code === 'ESOCKSCOPE_USAGE' && e.facts.token === '/nope' && /unknown cgroup '\/nope'/.test(e.message),
    );
  });
  it('state clauses that leave nothing', () => {
    assert.throws(
      () => compileFilter('state established exclude established', ctx),
      (e: any) => e.code === 'ESOCKSCOPE_FILTER_SYNTAX' && e.facts.token === 'state established exclude established',
    );
  });
  it('too deep', () => {
    const deep = `${'( '.repeat(600)}autobound${' )'.repeat(600)}`;
    assert.throws(() => compileFilter(deep, ctx), /nests more than 500 levels deep/);
    const nots = `${'not '.repeat(10_000)}autobound`;
    assert.throws(() => compileFilter(nots, ctx), /nests more than 500 levels deep/);
    // long flat chains are fine
    const flat = Array.from({ length: 20_000 }, (_, i) => `sport = :${i % 65536}`).join(' or ');
    assert.equal(compileFilter(flat, ctx).matches(T, 0), true);
  });
});
