/**
 * Filters against iproute2 `ss`, in a throwaway network namespace holding a known, idle population
 * (test/helpers/population-holder.ts) plus a few sockets the filters need (test/helpers/filter-extras.ts:
 * bound to a device, marked, explicitly bound ports).
 *
 * For every expression below, `ss -tan EXPR` (or `-uan`) says which sockets match; sockscope must select
 * exactly those (by state, local address:port, peer address:port) with takeSnapshot({ states, bytecode })
 * followed by matches(), as `sockscope ls` does. Nothing expected is written here: ss says what is true.
 *
 * Then, on the same captures:
 * - the kernel program alone already filters: fewer sockets cross for a port filter than without it;
 * - matches() alone (every state, no program) selects what program + matches() selects;
 * - matches() over the /proc/net source selects the same, where /proc has what the filter needs.
 *
 * Placeholders in the expressions ({L4}, {CG}, ...) are filled from the population once it exists.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { cgroup2Mount } from '../../src/filter/index.js';
import { startExtras, type Extras } from '../helpers/filter-extras.js';
import type { SelectedSocket, SelectMode, SelectResult, SelectRun } from '../helpers/filter-select.js';
import { netnsSupport, PopulationNetns, type Population } from '../helpers/netns.js';
import { parseSs, SS_STATE_NUMBERS, type SsRow } from '../helpers/ss.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const SELECT_SCRIPT = fileURLToPath(new URL('../helpers/filter-select.js', import.meta.url));

type Proto = 'tcp' | 'udp';
interface Case {
  protocol: Proto;
  expression: string;
  /** what the case is about, for the test name */
  about: string;
  /** also run with netAdmin: true (MARK_COND in the kernel) */
  netAdmin?: boolean;
  /** /proc/net has what this filter needs (no dev, fwmark, cgroup: /proc rows have no ifindex or attributes) */
  proc?: boolean;
}

const tcp = (about: string, expression: string, extra: Partial<Case> = {}): Case => ({ protocol: 'tcp', expression, about, proc: true, ...extra });
const udp = (about: string, expression: string, extra: Partial<Case> = {}): Case => ({ protocol: 'udp', expression, about, proc: true, ...extra });

/** Expressions written so that ss accepts them too: parentheses and operators stand apart. */
const CASES: readonly Case[] = [
  tcp('port equality', 'sport = :{L4}'),
  tcp('destination port', 'dport = :{L4}'),
  tcp('port without colon, ==', 'sport == {L4}'),
  tcp('word operator eq', 'sport eq :{L6}'),
  tcp('port inequality', 'sport != :{L4}'),
  tcp('ne and neq', 'sport ne :{L4} and dport neq :{L4}'),
  tcp('greater than', 'sport > :{L4}'),
  tcp('lt', 'sport lt :{L4}'),
  tcp('>=', 'sport >= :{L4}'),
  tcp('<=', 'sport <= :{L4}'),
  tcp('port range', 'dport geq :{LOW} and dport leq :{HIGH}'),
  tcp('range or port', '( sport ge :{LOW} and sport le :{HIGH} ) or dport = :{DUAL}'),
  tcp('IPv4 address (v4 and v4-mapped sockets)', 'src 127.0.0.1'),
  tcp('IPv4 prefix', 'src 127.0.0.0/8'),
  tcp('IPv4 address and port', 'src 127.0.0.1:{L4}'),
  tcp('destination address and port', 'dst 127.0.0.1:{L4}'),
  tcp('prefix that matches nothing', 'dst 10.0.0.0/8'),
  tcp('IPv6 address in brackets', 'src [::1]'),
  tcp('IPv6 address and port', 'src [::1]:{L6}'),
  tcp('bare IPv6 prefix', 'dst ::1/128'),
  tcp('IPv6 prefix in brackets with port', 'dst [::1/128]:{L6}'),
  tcp('v4-mapped address selects only v6 sockets', 'src [::ffff:127.0.0.1]'),
  tcp('v4-mapped address and port, with =', 'src = [::ffff:127.0.0.1]:{DUAL}'),
  tcp('v4-mapped prefix', 'dst [::ffff:127.0.0.0/104]'),
  tcp('any address, one port', 'src *:{DUAL}'),
  tcp('IPv4 /0: v4 and v4-mapped, not v6', 'dst 0.0.0.0/0'),
  tcp('IPv6 /0: every v6 socket', 'src ::/0'),
  tcp('state', 'state established'),
  tcp('group connected', 'state connected'),
  tcp('group synchronized', 'state synchronized'),
  tcp('group bucket', 'state bucket'),
  tcp('group big', 'state big'),
  tcp('state and expression', 'state listening src 127.0.0.1'),
  tcp('syn-sent', 'state syn-sent'),
  tcp('repeated state', 'state close-wait state fin-wait-2'),
  tcp('exclude', 'exclude established'),
  tcp('repeated exclude and an expression', 'exclude listening exclude time-wait sport > :1024'),
  tcp('state then exclude', 'state connected exclude established'),
  tcp('not', 'not sport = :{L4}'),
  tcp('! with || inside parentheses', '! ( sport = :{L4} || dport = :{L4} )'),
  tcp('nested parentheses', '( sport = :{L4} or sport = :{L6} ) and ( dport > :40000 or not ( src 127.0.0.1 ) )'),
  tcp('and/or grouping left to right, as in ss', 'sport = :{L4} or dport = :{L4} and src 127.0.0.1'),
  tcp('&& and ||', 'sport = :{L4} && dst 127.0.0.1 || sport = :{L6}'),
  tcp('juxtaposition is and', 'src 127.0.0.1 sport = :{L4}'),
  tcp('dev by name', 'dev lo', { proc: false }),
  tcp('dev by index', 'dev = 1', { proc: false }),
  tcp('not dev', 'not dev lo', { proc: false }),
  tcp('dev != and port', 'dev != lo and sport = :{DEV}', { proc: false }),
  tcp('autobound', 'autobound'),
  tcp('not autobound', 'not autobound'),
  tcp('autobound and a port', 'autobound and dport = :http'),
  tcp('service name', 'sport = :http'),
  tcp('fwmark', 'fwmark = 0x2a', { netAdmin: true, proc: false }),
  tcp('fwmark with mask, !=', 'fwmark != 0x2a/0xff', { netAdmin: true, proc: false }),
  tcp('fwmark 0', 'fwmark 0', { netAdmin: true, proc: false }),
  tcp('cgroup', 'cgroup {CG}', { proc: false }),
  tcp('not cgroup', 'not cgroup {CG}', { proc: false }),
  udp('UDP port', 'sport = :{U4}'),
  udp('UDP IPv6 address', 'src [::1]'),
  udp('UDP destination', 'dst 127.0.0.1'),
  udp('UDP connected', 'state established'),
  udp('UDP unconnected and address', 'state unconnected src 127.0.0.1'),
  udp('UDP dev', 'dev lo', { proc: false }),
  udp('UDP not autobound', 'not autobound'),
  udp('UDP service name', 'sport = :domain'),
];

/**
 * Where sockscope answers differently from ss on purpose (docs/filters.md, "Differences from ss"): ss's user
 * space compares an IPv4 prefix's bits against IPv6 addresses too (and an IPv6 prefix against IPv4 ones),
 * which shows under `not`; sockscope keeps the kernel's meaning, family first. `extra` says which of
 * sockscope's sockets ss leaves out: exactly those, and nothing else differs.
 */
const DIFFERENCES: readonly { expression: string; extra: (local: string) => boolean }[] = [
  // every IPv6 address here starts with 8 zero bits, v4-mapped ones included: ss's raw compare says "in 0.0.0.0/8"
  { expression: 'not src 0.0.0.0/8', extra: (local) => local.includes(':') },
  { expression: 'not src [::/1]', extra: (local) => !local.includes(':') },
];

/** ss '*' is the IPv6 wildcard of a socket that is not v6only; sockscope formats it as '::'. */
const normAddr = (a: string): string => (a === '*' ? '::' : a);

function ssKey(row: SsRow): string {
  const state = SS_STATE_NUMBERS[row.state];
  assert.ok(state !== undefined, `ss printed an unknown state ${row.state}: ${row.raw}`);
  return `${state}|${normAddr(row.local.address)}|${row.local.port}|${normAddr(row.peer.address)}|${row.peer.port}`;
}
const ourKey = (s: SelectedSocket): string => `${s.state}|${s.local}|${s.localPort}|${s.remote}|${s.remotePort}`;
const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

function fill(expression: string, vars: Record<string, string | number>): string {
  return expression.replace(/\{(\w+)\}/g, (_, k: string) => {
    assert.ok(k in vars, `no value for {${k}}`);
    return String(vars[k]);
  });
}

interface Captures {
  vars: Record<string, string | number>;
  extras: Extras;
  /** per case index: ss's output */
  ssText: string[];
  /** per case index: ss's keys (filled by the first test) */
  ss: string[][];
  results: Map<string, SelectResult>;
  /** per DIFFERENCES entry: ss's keys */
  ssDifferent: string[][];
  later: string;
  first: string;
}

const runId = (i: number, mode: SelectMode, netAdmin = false) => `${i}:${mode}${netAdmin ? ':admin' : ''}`;

describe('filters against ss in a throwaway network namespace', () => {
  let ns: PopulationNetns | undefined;
  let stopExtras: (() => Promise<void>) | undefined;
  let cap: Captures;
  let pop: Population;

  before(
    async () => {
      if (support.skip) return;
      ns = await PopulationNetns.start({ readyTimeoutMs: 20_000 });
      pop = ns.population;
      const started = await startExtras(ns);
      stopExtras = started.stop;
      const extras = started.extras;
      const listener = (name: string) => {
        const l = pop.tcp.listeners.find((x) => x.name === name);
        assert.ok(l, `the population has no listener ${name}`);
        return l.port;
      };
      const L4 = listener('node-v4');
      const L6 = listener('node-v6');
      const u4 = pop.udp.bound.find((b) => b.family === 4);
      assert.ok(u4);
      const vars: Record<string, string | number> = {
        L4,
        L6,
        DUAL: listener('node-dual'),
        LOW: Math.min(L4, L6),
        HIGH: Math.max(L4, L6),
        U4: u4.port,
        DEV: extras.devListener,
        CG: cgroup2Mount(),
      };
      // Both views while nothing moves: ss first, then sockscope in one process, then ss once more.
      const ssTable = async (c: Case) => {
        const args = [c.protocol === 'tcp' ? '-tan' : '-uan', ...fill(c.expression, vars).split(/\s+/)];
        return ns!.check('ss', args);
      };
      const first = (await ns.check('ss', ['-tuan'])).split('\n').sort().join('\n');
      const ssText: string[] = [];
      for (const c of CASES) ssText.push(await ssTable(c));
      const ssDifferent: string[] = [];
      for (const d of DIFFERENCES) ssDifferent.push(await ssTable(tcp('', d.expression)));
      const runs: SelectRun[] = [];
      CASES.forEach((c, i) => {
        const expression = fill(c.expression, vars);
        const modes: SelectMode[] = ['both', 'matches'];
        if (c.proc) modes.push('proc');
        for (const mode of modes) runs.push({ id: runId(i, mode), protocols: [c.protocol], expression, mode });
        if (c.netAdmin) runs.push({ id: runId(i, 'both', true), protocols: [c.protocol], expression, mode: 'both', netAdmin: true });
        if (i === 0) {
          runs.push({ id: runId(i, 'kernel'), protocols: [c.protocol], expression, mode: 'kernel' });
          runs.push({ id: runId(i, 'unfiltered'), protocols: [c.protocol], expression, mode: 'unfiltered' });
        }
      });
      DIFFERENCES.forEach((d, i) => {
        runs.push({ id: `difference:${i}`, protocols: ['tcp'], expression: d.expression, mode: 'both' });
      });
      const out = JSON.parse(await ns.node(SELECT_SCRIPT, [JSON.stringify({ runs })], { timeoutMs: 60_000 })) as SelectResult[];
      const later = (await ns.check('ss', ['-tuan'])).split('\n').sort().join('\n');
      const results = new Map(out.map((r) => [r.id, r]));
      // ss drops the State column when only one state is listed; the state is then the one the filter names.
      const ss = ssText.map((text, i) => {
        if (!text.startsWith('Recv-Q')) return parseSs(text).rows.map(ssKey);
        const r = results.get(runId(i, 'both'));
        const states = r && !('error' in r) ? r.states : 0;
        const state = Object.entries(SS_STATE_NUMBERS).find(([, n]) => states === 1 << n);
        assert.ok(state, `ss printed no State column, but the filter lists states ${states.toString(16)}`);
        const lines = text.split('\n');
        return parseSs([`State ${lines[0]}`, ...lines.slice(1).map((l) => (l.trim() ? `${state[0]} ${l}` : l))].join('\n')).rows.map(ssKey);
      });
      cap = { vars, extras, ssText, ss, results, first, later, ssDifferent: ssDifferent.map((text) => parseSs(text).rows.map(ssKey)) };
    },
    { timeout: 90_000 },
  );

  after(async () => {
    await stopExtras?.();
    await ns?.stop();
  });

  const result = (id: string) => {
    const r = cap.results.get(id);
    assert.ok(r, `no result for run ${id}`);
    assert.ok(!('error' in r), `run ${id} failed: ${'error' in r ? r.error.message : ''}`);
    return r;
  };

  test('the sockets stayed put while ss and sockscope looked', opts, () => {
    assert.equal(cap.later, cap.first);
    assert.ok(CASES.length >= 30, `${CASES.length} expressions`);
  });

  CASES.forEach((c, i) => {
    test(`${c.protocol}: ${c.about}: ${c.expression}`, opts, () => {
      const expression = fill(c.expression, cap.vars);
      const ss = sorted(cap.ss[i]);
      const ours = result(runId(i, 'both'));
      assert.deepEqual(sorted(ours.selected.map(ourKey)), ss, `ss -${c.protocol[0]}an ${expression}`);
      if (c.netAdmin) {
        const admin = result(runId(i, 'both', true));
        assert.ok(admin.bytecodeLength > ours.bytecodeLength, 'with netAdmin the program holds MARK_COND');
        assert.deepEqual(sorted(admin.selected.map(ourKey)), ss, `with MARK_COND in the kernel: ${expression}`);
      }
    });
  });

  test('the expressions discriminate: most select some sockets but not all of them', opts, () => {
    const everything = new Set<string>();
    for (const [i, c] of CASES.entries()) if (c.protocol === 'tcp') for (const k of cap.ss[i]) everything.add(k);
    const proper = CASES.filter((c, i) => c.protocol === 'tcp' && cap.ss[i].length > 0 && cap.ss[i].length < everything.size);
    assert.ok(proper.length >= 30, `only ${proper.length} TCP expressions select a proper, non-empty subset`);
    // the sockets that make dev, fwmark and autobound differ are really selected
    const has = (about: string, port: number) => {
      const i = CASES.findIndex((c) => c.about === about);
      assert.ok(
        cap.ss[i].some((k) => k.split('|')[2] === String(port)),
        `${about} selects port ${port}`,
      );
    };
    has('dev by name', cap.extras.devListener);
    has('fwmark', cap.extras.markListener);
    has('not autobound', cap.extras.http);
    const auto = CASES.findIndex((c) => c.about === 'autobound');
    assert.ok(!cap.ss[auto].some((k) => k.split('|')[2] === String(cap.extras.explicitEphemeral)), 'autobound leaves out the explicitly bound port');
  });

  test('the kernel program alone already filters a port filter', opts, () => {
    const withProgram = result(runId(0, 'kernel'));
    const without = result(runId(0, 'unfiltered'));
    assert.ok(withProgram.bytecodeLength > 0);
    assert.ok(
      withProgram.crossed > 0 && withProgram.crossed < without.crossed,
      `${withProgram.crossed} sockets crossed with the program, ${without.crossed} without`,
    );
    // for ports the program is exact: what crossed is what ss shows
    assert.deepEqual(sorted(withProgram.selected.map(ourKey)), sorted(cap.ss[0]));
  });

  test('matches() alone selects what program + matches() selects', opts, () => {
    let compared = 0;
    const keys = (id: string) => sorted(result(id).selected.map(ourKey));
    CASES.forEach((c, i) => {
      const both = keys(runId(i, 'both'));
      const alone = keys(runId(i, 'matches'));
      if (!c.expression.includes('autobound')) {
        assert.deepEqual(alone, both, `${c.protocol}: ${fill(c.expression, cap.vars)}`);
        compared++;
        return;
      }
      // The designed difference: the kernel's AUTO asks whether the port was bound explicitly, which user
      // space cannot see (matches() tests the port range, as ss's user space does). The program only removes.
      const extra = alone.filter((k) => !both.includes(k));
      assert.deepEqual(
        both.filter((k) => !alone.includes(k)),
        [],
        `${c.expression}: the program never adds`,
      );
      if (c.about === 'autobound') {
        // bound explicitly inside the range: in the range, but not AUTO
        assert.deepEqual(
          extra.map((k) => k.split('|')[2]),
          [String(cap.extras.explicitEphemeral)],
        );
      } else if (c.about === 'not autobound') {
        // accepted from the explicitly bound :80 listener: out of the range, yet AUTO to the kernel
        assert.deepEqual(extra, [`1|127.0.0.1|80|127.0.0.1|${cap.extras.httpClient}`]);
      }
    });
    assert.ok(compared >= 30, `${compared} compared`);
  });

  test('matches() over the /proc/net source selects what matches() selects over netlink', opts, () => {
    let compared = 0;
    CASES.forEach((c, i) => {
      if (!c.proc) return;
      const alone = sorted(result(runId(i, 'matches')).selected.map(ourKey));
      const proc = sorted(result(runId(i, 'proc')).selected.map(ourKey));
      assert.deepEqual(proc, alone, `${c.protocol}: ${fill(c.expression, cap.vars)} from /proc`);
      compared++;
    });
    assert.ok(compared >= 30, `${compared} compared`);
  });

  for (const [i, d] of DIFFERENCES.entries()) {
    test(`known difference from ss, by design: ${d.expression}`, opts, () => {
      const ours = sorted(result(`difference:${i}`).selected.map(ourKey));
      const ss = sorted(cap.ssDifferent[i]);
      assert.deepEqual(
        ss.filter((k) => !ours.includes(k)),
        [],
        'sockscope shows everything ss shows',
      );
      const extra = ours.filter((k) => !ss.includes(k));
      assert.ok(extra.length > 0, 'the difference shows in this population');
      for (const k of extra) assert.ok(d.extra(k.split('|')[1]), `unexpected extra socket ${k}`);
      assert.deepEqual(
        ours.filter((k) => d.extra(k.split('|')[1])),
        extra,
        'every socket of that kind is the difference',
      );
    });
  }

  test('warnings: the ss grouping of and/or is pointed out', opts, () => {
    const i = CASES.findIndex((c) => c.about.startsWith('and/or grouping'));
    assert.equal(result(runId(i, 'both')).warnings.length, 1);
    assert.equal(result(runId(0, 'both')).warnings.length, 0);
  });
});
