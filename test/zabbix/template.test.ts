/**
 * `sockscope zabbix template` (trapper) and `--passive`: valid YAML in the Zabbix 6.0 export structure
 * (zabbix_export.version '6.0'; UUIDv4-shaped 32-hex uuids, unique, on every object; groups; templates with
 * items, discovery_rules with item_prototypes, macros; triggers whose /template/key references are existing
 * items; graphs over existing items), and consistent with what sockscope sends: every trapper item and every
 * LLD prototype (after Zabbix's macro substitution and key quoting) is a key of a real gather's push — the items
 * of the lifecycle collector (off by default) only for a gather in which it ran, with its tracker's counters.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { NETSTAT_FIELDS } from '../../src/collectors/netstat.js';
import { TCP_LISTEN } from '../../src/diag/constants.js';
import { LifecycleTracker } from '../../src/lifecycle/tracker.js';
import { DISCOVERY, ITEMS } from '../../src/zabbix/catalog.js';
import { itemValues, quoteParam } from '../../src/zabbix/items.js';
import { parseItemKey } from '../../src/zabbix/keys.js';
import { connTable } from '../helpers/lifecycle-rows.js';
import { gatherHere } from '../helpers/zabbix.js';

const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));
const UUID4 = /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/;
const STATES = ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing'];

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 }, (e, out, err) =>
      e ? reject(new Error(`${e.message}\n${err}`)) : resolve(out),
    ),
  );
}

type Obj = Record<string, any>;

/** Every object holding a given key, anywhere in the tree. */
function objectsWith(node: unknown, key: string, out: Obj[] = []): Obj[] {
  if (Array.isArray(node)) for (const x of node) objectsWith(x, key, out);
  else if (node && typeof node === 'object') {
    if (key in node) out.push(node as Obj);
    for (const v of Object.values(node)) objectsWith(v, key, out);
  }
  return out;
}

/** Keys of the items and rules that only a gather with their collector (lifecycle, doctor) sends. */
const OPTIONAL = new Set([...ITEMS.filter((i) => i.collector), ...DISCOVERY.filter((r) => r.collector)].map((x) => x.key));
/** ... and the lifecycle collector's alone (the doctor's: test/doctor/zabbix.test.ts) */
const LIFECYCLE = new Set([...ITEMS.filter((i) => i.collector === 'lifecycle'), ...DISCOVERY.filter((r) => r.collector === 'lifecycle')].map((x) => x.key));

/**
 * A real gather with the lifecycle collector's points added: a tracker fed real destroy messages (recorded, with
 * the numbers under test written in) — 2 inbound connections to :443, 1 outbound to :5432.
 */
function withLifecycle(here: Awaited<ReturnType<typeof gatherHere>>) {
  const tr = new LifecycleTracker();
  // a gather that saw the listener and connection 2 open (at 0 ms): its duration is known when it closes
  tr.observe(connTable({ cookie: 1, sport: 443, dport: 0, state: TCP_LISTEN }, { cookie: 2, sport: 443, dport: 40000, state: 1 }), 0);
  tr.closed(
    connTable(
      { cookie: 2, sport: 443, dport: 40000, acked: 10, received: 20, retrans: 3, rttUs: 80 },
      { cookie: 3, sport: 443, dport: 40001, acked: 100, received: 200, rttUs: 3000 },
      { cookie: 4, sport: 40002, dport: 5432, acked: 7, received: 9, rttUs: 700_000 },
    ),
    2500,
  );
  tr.setSubscriptionStats({ events: 3, malformed: 0, overruns: 1, lost: 2, rcvbufBytes: 65_536, batches: 1 });
  return { ...here, metrics: [...here.metrics, ...tr.collect(1_000)] };
}

/** LLD macro substitution in a key as Zabbix does it: per parameter, quoting the result when it needs it. */
function substitute(key: string, row: Record<string, string>): string {
  const k = parseItemKey(key);
  const params = k.params.map((p) => quoteParam(p.replace(/\{#[A-Z_]+\}/g, (m) => row[m] ?? m)));
  return `${k.key}[${params.join(',')}]`;
}

for (const passive of [false, true]) {
  describe(`sockscope zabbix template${passive ? ' --passive' : ''}`, () => {
    let text = '';
    let doc: Obj;
    let tpl: Obj;
    let itemKeys: Set<string>;
    let here: Awaited<ReturnType<typeof gatherHere>>;
    let pushed: Map<string, string>;
    let pushedLifecycle: Map<string, string>;

    before(async () => {
      text = await cli(['zabbix', 'template', ...(passive ? ['--passive'] : [])]);
      const parsed = parseDocument(text, { uniqueKeys: true, strict: true });
      assert.deepEqual(parsed.errors, [], 'valid YAML');
      doc = parsed.toJS() as Obj;
      tpl = doc.zabbix_export.templates[0];
      itemKeys = new Set((tpl.items as Obj[]).map((i) => i.key));
      here = await gatherHere();
      pushed = itemValues(here);
      pushedLifecycle = itemValues(withLifecycle(here));
    });
    after(() => here?.close());

    test('6.0 export structure: version, groups, one template in a group', () => {
      assert.equal(doc.zabbix_export.version, '6.0');
      assert.match(text, /^zabbix_export:\n {2}version: "?'?6\.0/);
      const groups: Obj[] = doc.zabbix_export.groups;
      assert.ok(groups.length >= 1 && groups.every((g) => typeof g.name === 'string'));
      assert.equal(doc.zabbix_export.templates.length, 1);
      assert.equal(tpl.template, tpl.name);
      for (const g of tpl.groups)
        assert.ok(
          groups.some((x) => x.name === g.name),
          `template group ${g.name} is exported`,
        );
    });

    test('a UUIDv4-shaped 32-hex uuid on every group, template, item, trigger, discovery rule, prototype and graph; all distinct', () => {
      const all = objectsWith(doc, 'uuid').map((o) => o.uuid);
      for (const u of all) assert.match(u, UUID4);
      assert.equal(new Set(all).size, all.length, 'unique');
      const x = doc.zabbix_export;
      const must = [
        ...x.groups,
        ...x.templates,
        ...tpl.items,
        ...tpl.discovery_rules,
        ...tpl.discovery_rules.flatMap((r: Obj) => r.item_prototypes),
        ...tpl.discovery_rules.flatMap((r: Obj) => r.trigger_prototypes ?? []),
        ...x.triggers,
        ...tpl.items.flatMap((i: Obj) => i.triggers ?? []),
        ...x.graphs,
      ];
      for (const o of must) assert.match(o.uuid ?? 'none', UUID4, JSON.stringify(o).slice(0, 80));
      assert.equal(all.length, must.length, 'and nothing else carries one');
    });

    test(`items: every TCP state, udp_socket, tcp_none, socket counts (${passive ? 'ZABBIX_PASSIVE with a delay' : 'TRAP (Zabbix trapper), no delay'})`, () => {
      for (const s of STATES) assert.ok(itemKeys.has(`sockscope.netstat[tcp_${s}]`), s);
      for (const k of [
        'sockscope.netstat[udp_socket]',
        'sockscope.netstat[tcp_none]',
        'sockscope.sockets[tcp]',
        'sockscope.sockets[udp]',
        'sockscope.sockets[unix]',
      ])
        assert.ok(itemKeys.has(k), k);
      assert.equal(itemKeys.size, tpl.items.length, 'keys are unique');
      for (const i of [...tpl.items, ...tpl.discovery_rules.flatMap((r: Obj) => r.item_prototypes)]) {
        // CXmlConstantName's names (include/classes/xml/CXmlConstantName.php): a trapper item is TRAP
        if (i.type === 'CALCULATED') {
          // the lifecycle groups' percentiles and means: computed by the server, in both templates
          assert.match(i.key, /^sockscope\.lifecycle\[\{#LIFECYCLE_GROUP\},(rtt_p50|rtt_p99|rtt_mean|duration_mean)\]$/);
          assert.equal(i.delay, '1m');
          continue;
        }
        assert.equal(i.type, passive ? 'ZABBIX_PASSIVE' : 'TRAP', i.key);
        assert.equal('delay' in i, passive, `${i.key} delay`);
        parseItemKey(i.key); // a valid key
      }
    });

    for (const lifecycle of [false, true]) {
      test(`every item is something sockscope sends (trapper) or answers (passive) for a real gather${lifecycle ? ' with the lifecycle collector' : ' (default collectors: no lifecycle item)'}, and every key it sends is the template's`, () => {
        const sent = lifecycle ? pushedLifecycle : pushed;
        assert.ok(OPTIONAL.size >= 3, 'the lifecycle items and rule are optional');
        for (const k of itemKeys) {
          const expected = !OPTIONAL.has(k) || (lifecycle && LIFECYCLE.has(k));
          assert.equal(sent.has(k), expected, `${k} is ${expected ? '' : 'not '}in a gather's items`);
        }
        const fromRules = new Set<string>();
        for (const r of tpl.discovery_rules as Obj[]) {
          if (!sent.has(r.key)) {
            assert.ok(!lifecycle && OPTIONAL.has(r.key), `${r.key} is sent`);
            continue;
          }
          fromRules.add(r.key);
          for (const row of JSON.parse(sent.get(r.key)!)) for (const p of r.item_prototypes) if (p.type !== 'CALCULATED') fromRules.add(substitute(p.key, row));
        }
        for (const k of sent.keys()) assert.ok(itemKeys.has(k) || fromRules.has(k), `${k} is a template item, a discovery rule or a discovered prototype`);
      });
    }

    test('lifecycle: per group, closed connections, bytes each way and retransmitted segments stored per second; the RTT histogram and duration counters as they are; percentiles and means calculated', () => {
      const rule = (tpl.discovery_rules as Obj[]).find((r) => r.key === 'sockscope.lifecycle.discovery')!;
      const rows: Record<string, string>[] = JSON.parse(pushedLifecycle.get(rule.key)!);
      assert.deepEqual(rows, [
        { '{#LIFECYCLE_GROUP}': 'inbound:443', '{#DIRECTION}': 'inbound', '{#ADDR_PORT}': '443' },
        { '{#LIFECYCLE_GROUP}': 'outbound:remote:5432', '{#DIRECTION}': 'outbound', '{#ADDR_PORT}': 'remote:5432' },
      ]);
      const value = (group: string, field: string) =>
        pushedLifecycle.get(substitute(`sockscope.lifecycle[{#LIFECYCLE_GROUP},${field}]`, { '{#LIFECYCLE_GROUP}': group }));
      assert.deepEqual(
        ['closed', 'bytes_sent', 'bytes_received', 'closed_retrans_segs'].map((f) => value('inbound:443', f)),
        ['2', '110', '220', '3'],
      );
      assert.deepEqual(
        ['closed', 'bytes_sent', 'bytes_received', 'closed_retrans_segs'].map((f) => value('outbound:remote:5432', f)),
        ['1', '7', '9', '0'],
      );
      assert.equal(pushedLifecycle.get('sockscope.lifecycle.events[received]'), '3');
      assert.equal(pushedLifecycle.get('sockscope.lifecycle.events[lost]'), '2');
      const RATES = ['closed', 'bytes_sent', 'bytes_received', 'closed_retrans_segs'];
      for (const i of [
        ...rule.item_prototypes.filter((p: Obj) => RATES.some((f) => p.key.endsWith(`,${f}]`))),
        ...(tpl.items as Obj[]).filter((x) => LIFECYCLE.has(x.key)),
      ]) {
        assert.deepEqual(i.preprocessing, [{ type: 'CHANGE_PER_SECOND', parameters: [''] }], i.key);
        assert.equal(i.value_type, 'FLOAT', `${i.key}: a rate`);
      }
      // the final-RTT histogram and the duration sums: the counters as they are (Zabbix's rate(), bucket_rate_foreach()
      // and bucket_percentile() take the rate), the bucket's upper bound as key parameter 1
      const BOUNDS = ['0.0001', '0.0005', '0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
      const counters = rule.item_prototypes.filter((p: Obj) => p.type !== 'CALCULATED' && !RATES.some((f) => p.key.endsWith(`,${f}]`)));
      assert.deepEqual(
        counters.map((p: Obj) => p.key),
        [
          ...['rtt_count', 'rtt_sum_seconds', 'duration_known', 'duration_seconds_sum'].map((f) => `sockscope.lifecycle[{#LIFECYCLE_GROUP},${f}]`),
          ...BOUNDS.map((le) => `sockscope.lifecycle.rtt[${le},{#LIFECYCLE_GROUP}]`),
        ],
      );
      for (const p of counters) assert.equal(p.preprocessing, undefined, p.key);
      const bucket = (le: string, group: string) => pushedLifecycle.get(`sockscope.lifecycle.rtt[${le},${group}]`);
      // inbound:443: RTTs 80 µs and 3 ms; outbound:remote:5432: 700 ms (cumulative buckets)
      assert.deepEqual(
        BOUNDS.map((le) => bucket(le, 'inbound:443')),
        ['1', '1', '1', '2', '2', '2', '2', '2', '2', '2', '2', '2', '2'],
      );
      assert.deepEqual(
        BOUNDS.map((le) => bucket(le, 'outbound:remote:5432')),
        ['0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '1', '1', '1'],
      );
      assert.deepEqual(
        ['rtt_count', 'rtt_sum_seconds', 'duration_known', 'duration_seconds_sum'].map((f) => value('inbound:443', f)),
        ['2', '0.00308', '1', '2.5'],
      );
      assert.deepEqual(
        ['rtt_count', 'rtt_sum_seconds', 'duration_known', 'duration_seconds_sum'].map((f) => value('outbound:remote:5432', f)),
        ['1', '0.7', '0', '0'],
      );
      // the percentiles and means: calculated by the server from those, over {$SOCKSCOPE.LIFECYCLE.WINDOW}
      const calc = Object.fromEntries(rule.item_prototypes.filter((p: Obj) => p.type === 'CALCULATED').map((p: Obj) => [p.key, p.params]));
      const G = '{#LIFECYCLE_GROUP}';
      const W = '{$SOCKSCOPE.LIFECYCLE.WINDOW}';
      const rate = (f: string) => `rate(//sockscope.lifecycle[${G},${f}],${W})`;
      assert.deepEqual(calc, {
        [`sockscope.lifecycle[${G},rtt_p50]`]: `bucket_percentile(//sockscope.lifecycle.rtt[*,${G}],${W},50)`,
        [`sockscope.lifecycle[${G},rtt_p99]`]: `bucket_percentile(//sockscope.lifecycle.rtt[*,${G}],${W},99)`,
        [`sockscope.lifecycle[${G},rtt_mean]`]: `${rate('rtt_sum_seconds')}/(${rate('rtt_count')}+(${rate('rtt_count')}=0))`,
        [`sockscope.lifecycle[${G},duration_mean]`]: `${rate('duration_seconds_sum')}/(${rate('duration_known')}+(${rate('duration_known')}=0))`,
      });
      assert.ok((tpl.macros as Obj[]).some((m) => m.macro === W && m.value === '5m'));
      const lost = (tpl.items as Obj[]).find((x) => x.key === 'sockscope.lifecycle.events[lost]')!;
      assert.equal(lost.triggers.length, 1);
    });

    test('the three discovery rules cannot make the same key: a port group "22", a listening port 22, a lifecycle group inbound:22', () => {
      const [groups, ports, lifecycle] = ['sockscope.portgroups.discovery', 'sockscope.ports.discovery', 'sockscope.lifecycle.discovery'].map(
        (k) => (tpl.discovery_rules as Obj[]).find((r) => r.key === k)!,
      );
      const a = groups.item_prototypes.map((p: Obj) => substitute(p.key, { '{#ADDR_PORT}': '22' }));
      const b = ports.item_prototypes.map((p: Obj) => substitute(p.key, { '{#PORT}': '22', '{#ADDR}': '0.0.0.0' }));
      const c = lifecycle.item_prototypes.flatMap((p: Obj) =>
        ['inbound:22', 'outbound:remote:22', '22'].map((g) => substitute(p.key, { '{#LIFECYCLE_GROUP}': g, '{#DIRECTION}': 'inbound', '{#ADDR_PORT}': '22' })),
      );
      const all = [...a, ...b, ...c];
      assert.equal(new Set(all).size, all.length);
      // and no prototype key is a template item's
      for (const k of all) assert.ok(!itemKeys.has(k), k);
    });

    test('port groups: a prototype for each of the 13 fields that are pushed; rules keep lost entities for {$SOCKSCOPE.LLD.LIFETIME}', () => {
      const groups = (tpl.discovery_rules as Obj[]).find((r) => r.key === 'sockscope.portgroups.discovery')!;
      assert.deepEqual(groups.item_prototypes.map((p: Obj) => p.key).sort(), NETSTAT_FIELDS.map((f) => `sockscope.port[{#ADDR_PORT},${f}]`).sort());
      for (const r of tpl.discovery_rules as Obj[]) assert.equal(r.lifetime, '{$SOCKSCOPE.LLD.LIFETIME}');
      assert.ok((tpl.macros as Obj[]).some((m) => m.macro === '{$SOCKSCOPE.LLD.LIFETIME}' && /^\d+d$/.test(m.value)));
    });

    test('discovery rules: port groups, listening ports and lifecycle groups, with item prototypes whose keys fill from the LLD rows', () => {
      const rules: Obj[] = tpl.discovery_rules;
      assert.deepEqual(rules.map((r) => r.key).sort(), ['sockscope.lifecycle.discovery', 'sockscope.portgroups.discovery', 'sockscope.ports.discovery']);
      for (const r of rules) {
        assert.ok(r.item_prototypes.length >= 1, r.key);
        const rows: Record<string, string>[] = JSON.parse(pushedLifecycle.get(r.key)!);
        assert.ok(rows.length >= 1, `${r.key} discovers something here`);
        for (const p of r.item_prototypes) {
          const macros = p.key.match(/\{#[A-Z_]+\}/g) ?? [];
          assert.ok(macros.length >= 1, `${p.key} uses an LLD macro`);
          for (const m of macros) assert.ok(m in rows[0], `${m} is provided by ${r.key}`);
          for (const row of rows) {
            const key = substitute(p.key, row);
            assert.equal(
              pushedLifecycle.has(key),
              p.type !== 'CALCULATED',
              `${p.key} for ${JSON.stringify(row)} → ${key} is an item sockscope sends (a calculated one is not)`,
            );
          }
        }
      }
    });

    test('triggers: CLOSE_WAIT, listen backlog, TIME_WAIT vs the ephemeral range; /template/key references exist; thresholds are macros', () => {
      const triggers: Obj[] = [...doc.zabbix_export.triggers, ...tpl.items.flatMap((i: Obj) => i.triggers ?? [])];
      const protoKeys = new Set((tpl.discovery_rules as Obj[]).flatMap((r) => r.item_prototypes.map((p: Obj) => p.key)));
      for (const t of (tpl.discovery_rules as Obj[]).flatMap((r) => r.trigger_prototypes ?? [])) {
        for (const [, host, key] of (t.expression as string).matchAll(/\/([^/]+)\/([\w.]+(?:\[[^\]]*\])?)/g))
          assert.ok(host === tpl.template && protoKeys.has(key), `${t.name}: ${key} is a prototype`);
      }
      const macros = new Set((tpl.macros as Obj[]).map((m) => m.macro));
      const referenced = new Set<string>();
      for (const t of triggers) {
        const refs = [...(t.expression as string).matchAll(/\/([^/]+)\/([\w.]+(?:\[[^\]]*\])?)/g)];
        assert.ok(refs.length >= 1, t.expression);
        for (const [, host, key] of refs) {
          assert.equal(host, tpl.template, t.expression);
          assert.ok(itemKeys.has(key), `${key} of ${t.name} is an item of the template`);
          referenced.add(key);
        }
        const used = (t.expression as string).match(/\{\$[A-Z0-9_.]+\}/g) ?? [];
        assert.ok(used.length >= 1, `${t.name}: threshold is a macro`);
        for (const m of used) assert.ok(macros.has(m), `${m} is defined`);
        assert.ok(['INFO', 'WARNING', 'AVERAGE', 'HIGH', 'DISASTER'].includes(t.priority));
      }
      for (const k of [
        'sockscope.netstat[tcp_close_wait]',
        'sockscope.listen.backlog.max_pct',
        'sockscope.netstat[tcp_time_wait]',
        'sockscope.local_port_range.size',
      ])
        assert.ok(referenced.has(k), k);
      // an item's own triggers reference that item only; multi-item triggers are top level
      for (const i of tpl.items)
        for (const t of i.triggers ?? []) assert.ok([...t.expression.matchAll(/\/[^/]+\/([\w.]+(?:\[[^\]]*\])?)/g)].every((m) => m[1] === i.key));
    });

    test('graph of TCP states over existing items', () => {
      const g = (doc.zabbix_export.graphs as Obj[]).find((x) => x.name === 'TCP states')!;
      const keys = g.graph_items.map((gi: Obj) => gi.item.key);
      for (const gi of g.graph_items) {
        assert.equal(gi.item.host, tpl.template);
        assert.ok(itemKeys.has(gi.item.key), gi.item.key);
        assert.match(gi.color, /^[0-9A-F]{6}$/);
      }
      for (const s of STATES) assert.ok(keys.includes(`sockscope.netstat[tcp_${s}]`), s);
      assert.equal(new Set(g.graph_items.map((gi: Obj) => gi.sortorder)).size, g.graph_items.length);
    });

    test('the same template every time (uuids derived from names)', async () => {
      assert.equal(await cli(['zabbix', 'template', ...(passive ? ['--passive'] : [])]), text);
      assert.equal(NETSTAT_FIELDS.length, 13);
    });
  });
}
