/**
 * The three serializers over hand-made metrics: Influx line protocol (escaping, i/u, dropped values, sorted
 * tags), Prometheus text 0.0.4 and OpenMetrics 1.0 (HELP/TYPE, counters, # EOF, label escaping, duplicates),
 * Accept negotiation with the headers Prometheus really sends, and the JSON shape. Where promtool is
 * available, every exposition made here also goes through it (test/golden/metrics.test.ts and
 * netns.test.ts do the same for real gathers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NETSTAT_SCHEMA } from '../../../src/collectors/netstat.js';
import { NETSTAT_PORT_SCHEMA } from '../../../src/collectors/netstat-port.js';
import { SOCKETSTAT_AGGREGATE_SCHEMA, SOCKETSTAT_SCHEMA } from '../../../src/collectors/socketstat.js';
import type { MeasurementSchema, Metric } from '../../../src/model/metric.js';
import { influxLine, InfluxWriter } from '../../../src/outputs/metrics/influx.js';
import { JsonWriter, metricJson } from '../../../src/outputs/metrics/json.js';
import { CONTENT_TYPE, negotiateFormat, PrometheusWriter } from '../../../src/outputs/metrics/prometheus.js';
import { parseExposition, parseLine, parseLines, promtoolCheckMetrics, promtoolParseOpenMetrics, unexplainedOpenMetricsLint } from '../../helpers/metrics.js';
import { findPromtool } from '../../helpers/tools.js';

const T = Date.UTC(2026, 10, 21, 22, 41, 52, 48); // ms

const SCHEMA: MeasurementSchema = {
  name: 'test',
  help: 'a test measurement',
  fields: {
    n: { type: 'int', help: 'an int', prom: { name: 'test_n' } },
    u: { type: 'uint', help: 'a uint', prom: { name: 'test_u_total' }, counter: true },
    f: { type: 'float', help: 'a float', prom: { name: 'test_f_seconds', scale: 1e-6 } },
    b: { type: 'bool', help: 'a bool' },
    s: { type: 'string', help: 'a string' },
    st: { type: 'string', help: 'a state', promLabel: 'state' },
    'f 1': { type: 'int', help: 'a field key with a space' },
  },
};
const metric = (tags: Record<string, string>, fields: Metric['fields'], schema: MeasurementSchema = SCHEMA): Metric => ({ schema, tags, fields, time: T });

describe('Influx line protocol', () => {
  it('escapes the measurement, tag keys and values, field keys, and string values', () => {
    const schema = { ...SCHEMA, name: 'my meas,x' };
    const m = metric({ 'a b,c=d': 'x=y z,w', plain: 'v' }, { 'f 1': 1, s: 'say "hi" \\ there' }, schema);
    const line = influxLine(m);
    assert.equal(line, `my\\ meas\\,x,a\\ b\\,c\\=d=x\\=y\\ z\\,w,plain=v f\\ 1=1i,s="say \\"hi\\" \\\\ there" ${BigInt(T) * 1_000_000n}`);
    const p = parseLine(line);
    assert.equal(p.measurement, 'my meas,x');
    assert.deepEqual(p.tags, { 'a b,c=d': 'x=y z,w', plain: 'v' });
    assert.deepEqual(p.fields['f 1'], { type: 'i', value: 1 });
    assert.deepEqual(p.fields.s, { type: 's', value: 'say "hi" \\ there' });
  });

  it('a newline (which line protocol cannot escape) becomes a space; a trailing backslash is dropped (it would escape the separator)', () => {
    const line = influxLine(metric({ k: 'two\nlines', path: 'C:\\dir\\', only: '\\\\' }, { n: 1 }));
    assert.ok(!line.includes('\n'));
    const p = parseLine(line);
    assert.deepEqual(p.tags, { k: 'two lines', path: 'C:\\dir' });
    assert.deepEqual(Object.keys(p.fields), ['n']);
  });

  it('integers end in i; unsigned in i by default (Telegraf influx_uint_support = false), u with uintAsInt false', () => {
    const m = metric({}, { n: -3, u: 5, f: 1.5, b: true });
    assert.deepEqual(parseLine(influxLine(m)).fields, {
      n: { type: 'i', value: -3 },
      u: { type: 'i', value: 5 },
      f: { type: 'f', value: 1.5 },
      b: { type: 'b', value: true },
    });
    assert.deepEqual(parseLine(influxLine(m, { uintAsInt: false })).fields.u, { type: 'u', value: 5 });
    assert.match(influxLine(m, { uintAsInt: false }), / n=-3i,u=5u,f=1\.5,b=true /);
  });

  it('NaN and ±Infinity are dropped, and so is a negative uint; a point left with no field is not written', () => {
    const p = parseLine(influxLine(metric({}, { n: NaN, u: Infinity, f: -Infinity, s: 'kept' })));
    assert.deepEqual(Object.keys(p.fields), ['s']);
    assert.equal(influxLine(metric({}, { u: -1, n: 1 })).includes('u='), false);
    assert.equal(influxLine(metric({ a: 'b' }, { n: NaN, f: Infinity })), '');
    const w = new InfluxWriter();
    w.write(metric({ a: 'b' }, { n: NaN }));
    assert.equal(w.take(), '');
  });

  it('tags are sorted by key; empty tag values are left out (invalid line protocol)', () => {
    const p = influxLine(metric({ zeta: '1', alpha: '2', mid: '3', empty: '' }, { n: 1 }));
    assert.match(p, /^test,alpha=2,mid=3,zeta=1 n=1i /);
  });

  it('fields outside the schema are never written (their type is unknown)', () => {
    assert.deepEqual(Object.keys(parseLine(influxLine(metric({}, { n: 1, stray: 2 }))).fields), ['n']);
  });

  it('timestamps are nanoseconds', () => {
    assert.equal(parseLine(influxLine(metric({}, { n: 1 }))).time, `${T}000000`);
    const other = { ...metric({}, { n: 1 }), time: 1 };
    assert.equal(parseLine(influxLine(other)).time, '1000000');
  });

  it('InfluxWriter: newline-terminated lines, and take() resets', () => {
    const w = new InfluxWriter();
    w.write(metric({ a: '1' }, { n: 1 }));
    w.write(metric({ a: '2' }, { n: 2 }));
    const text = w.take();
    assert.equal(parseLines(text).length, 2);
    assert.ok(text.endsWith('\n'));
    assert.equal(w.take(), '');
  });
});

describe('Prometheus text 0.0.4 and OpenMetrics 1.0', () => {
  const promtool = findPromtool();

  const sample = (): PrometheusWriter => {
    const w = new PrometheusWriter();
    w.write(metric({ host: 'h1', ip_version: '4' }, { n: 1, u: 10, f: 57, st: 'ESTAB', b: true, s: 'x' }));
    w.write(metric({ host: 'h1', ip_version: '6' }, { n: 2, u: 20, f: 1_500_000, st: 'CLOSE-WAIT' }));
    w.write(metric({ host: 'h1', ip_version: 'unknown' }, { n: 3, u: 30, st: 'ESTAB' }));
    return w;
  };

  it('text: HELP and TYPE on every family, families sorted, tags as labels, ip_version as family="ipv4|ipv6|unknown"', () => {
    const text = sample().text('text');
    const { families, eof } = parseExposition(text);
    assert.equal(eof, false, 'no # EOF in text 0.0.4');
    assert.deepEqual([...families.keys()], ['sockscope_test_f_seconds', 'sockscope_test_n', 'sockscope_test_u_total']);
    for (const [name, f] of families) {
      assert.ok(f.help && f.type, `${name} has HELP and TYPE`);
      for (const s of f.samples) assert.equal(s.name, name);
    }
    assert.equal(families.get('sockscope_test_u_total')!.type, 'counter');
    assert.equal(families.get('sockscope_test_n')!.type, 'gauge');
    assert.deepEqual(
      families.get('sockscope_test_n')!.samples.map((s) => `${s.labels} ${s.value}`),
      ['{host="h1",family="ipv4",state="ESTAB"} 1', '{host="h1",family="ipv6",state="CLOSE-WAIT"} 2', '{host="h1",family="unknown",state="ESTAB"} 3'],
    );
    // a field's scale converts to the base unit: 57 µs → seconds
    assert.deepEqual(
      families.get('sockscope_test_f_seconds')!.samples.map((s) => Number(s.value)),
      [57e-6, 1.5],
    );
    // fields without a prom mapping (bool, plain strings) are not exposed
    assert.ok(!text.includes('x"') && !/\bb\b/.test(text.replace(/# HELP.*\n/g, '')));
  });

  it('OpenMetrics: a counter family is named without _total and its samples keep it; # EOF ends the text', () => {
    const text = sample().text('openmetrics');
    assert.ok(text.endsWith('# EOF\n'));
    const { families, eof } = parseExposition(text);
    assert.ok(eof);
    const c = families.get('sockscope_test_u')!;
    assert.equal(c.type, 'counter');
    assert.ok(c.samples.length === 3 && c.samples.every((s) => s.name === 'sockscope_test_u_total'));
    assert.ok(!families.has('sockscope_test_u_total'));
    assert.equal(families.get('sockscope_test_n')!.type, 'gauge');
  });

  it('label values escape \\, " and newline; HELP escapes \\ and newline; label names are made valid', () => {
    const schema: MeasurementSchema = { name: 'e', help: '', fields: { v: { type: 'int', help: 'back\\slash\nnewline', prom: { name: 'e_v' } } } };
    const w = new PrometheusWriter();
    w.write(metric({ path: 'C:\\x "q"\nnext', 'a-b': '1', '9lives': '2' }, { v: 1 }, schema));
    const text = w.text();
    assert.ok(text.includes('# HELP sockscope_e_v back\\\\slash\\nnewline\n'));
    assert.ok(text.includes('sockscope_e_v{path="C:\\\\x \\"q\\"\\nnext",a_b="1",_9lives="2"} 1\n'), text);
  });

  it("a label name appears once: the measurement's own labels win over a user tag of the same name", () => {
    const w = new PrometheusWriter();
    w.write(metric({ family: 'mine', state: 'mine', 'a-b': '1', a_b: '2', ip_version: '6' }, { n: 1, st: 'ESTAB' }));
    w.write(metric({ state: 'mine' }, { tcp_listen: 1 }, { ...NETSTAT_SCHEMA, fields: { tcp_listen: NETSTAT_SCHEMA.fields.tcp_listen } }));
    const text = w.text();
    assert.ok(text.includes('sockscope_test_n{family="ipv6",state="ESTAB",a_b="2"} 1\n'), text);
    assert.ok(text.includes('sockscope_tcp_connections{state="listen"} 1\n'), text);
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const names = [...line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]);
      assert.equal(new Set(names).size, names.length, line);
    }
  });

  it('a second sample with the same labels in a family is dropped (Prometheus rejects duplicates)', () => {
    const w = new PrometheusWriter();
    w.write(metric({ a: '1' }, { n: 1 }));
    w.write(metric({ a: '1' }, { n: 2 }));
    w.write(metric({ a: '2' }, { n: 3 }));
    const { families } = parseExposition(w.text());
    assert.deepEqual(
      families.get('sockscope_test_n')!.samples.map((s) => s.value),
      ['1', '3'],
    );
  });

  it('duplicates are found whichever way the labels split between the metric and the field', () => {
    // one family from fields with and without labels of their own: {k="1"} + state="a" is the same label set
    // as {k="1",state="a"} + nothing, and so are the per-state samples of two metrics with equal tags
    const schema: MeasurementSchema = {
      name: 'd',
      help: '',
      fields: {
        a: { type: 'int', help: 'h', prom: { name: 'd_x', labels: { state: 'a' } } },
        b: { type: 'int', help: 'h', prom: { name: 'd_x', labels: { state: 'b' } } },
        plain: { type: 'int', help: 'h', prom: { name: 'd_x' } },
      },
    };
    const w = new PrometheusWriter();
    w.write(metric({ k: '1' }, { a: 1, b: 2 }, schema));
    w.write(metric({ k: '1' }, { a: 3, b: 4 }, schema)); // both dropped
    w.write(metric({ k: '1', state: 'a' }, { plain: 5 }, schema)); // dropped: k="1",state="a" again
    w.write(metric({ k: '1', state: 'c' }, { plain: 6 }, schema));
    w.write(metric({ k: '2' }, { b: 7 }, schema));
    const { families } = parseExposition(w.text());
    assert.deepEqual(
      families.get('sockscope_d_x')!.samples.map((s) => `${s.labels} ${s.value}`),
      ['{k="1",state="a"} 1', '{k="1",state="b"} 2', '{k="1",state="c"} 6', '{k="2",state="b"} 7'],
    );
  });

  it('duplicates are found among many families and many label sets (the writer widens its record of them as they come)', () => {
    // 100 families of two label sets each (more than the record's first width), then 300 more label sets
    const fields: Record<string, MeasurementSchema['fields'][string]> = {};
    for (let k = 0; k < 100; k++) fields[`f${k}`] = { type: 'int', help: 'h', prom: { name: `wide_${k}`, labels: { side: k % 2 ? 'odd' : 'even' } } };
    const schema: MeasurementSchema = { name: 'wide', help: '', fields };
    const all = (v: number) => Object.fromEntries(Object.keys(fields).map((k) => [k, v]));
    const w = new PrometheusWriter();
    w.write(metric({ k: 'a' }, all(1), schema));
    for (let n = 0; n < 300; n++) w.write(metric({ k: `n${n}` }, { f0: n, f99: n }, schema));
    w.write(metric({ k: 'a' }, all(2), schema)); // every sample a duplicate
    w.write(metric({ k: 'n7' }, { f0: 0, f1: 8, f99: 0 }, schema)); // only f1 is new for n7
    const { families } = parseExposition(w.text());
    assert.equal(families.size, 100);
    assert.deepEqual(
      families.get('sockscope_wide_1')!.samples.map((s) => `${s.labels} ${s.value}`),
      ['{k="a",side="odd"} 1', '{k="n7",side="odd"} 8'],
    );
    const f0 = families.get('sockscope_wide_0')!.samples;
    assert.equal(f0.length, 301);
    assert.equal(new Set(f0.map((s) => s.labels)).size, 301);
    assert.equal(f0.find((s) => s.labels === '{k="n7",side="even"}')!.value, '7');
  });

  it('NaN and infinities are written as Prometheus spells them', () => {
    const w = new PrometheusWriter();
    w.write(metric({ a: '1' }, { n: NaN }));
    w.write(metric({ a: '2' }, { n: Infinity }));
    w.write(metric({ a: '3' }, { n: -Infinity }));
    assert.deepEqual(
      parseExposition(w.text())
        .families.get('sockscope_test_n')!
        .samples.map((s) => s.value),
      ['NaN', '+Inf', '-Inf'],
    );
  });

  it('nothing written: text is empty, OpenMetrics is just # EOF', () => {
    assert.equal(new PrometheusWriter().text('text'), '');
    assert.equal(new PrometheusWriter().text('openmetrics'), '# EOF\n');
  });

  it('content types', () => {
    assert.equal(CONTENT_TYPE.text, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(CONTENT_TYPE.openmetrics, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  });

  // every family of every schema, with label values that need escaping, through promtool
  const everything = (): PrometheusWriter => {
    const w = new PrometheusWriter();
    const fill = (schema: MeasurementSchema, tags: Record<string, string>) => {
      const fields: Metric['fields'] = {};
      for (const [k, spec] of Object.entries(schema.fields)) fields[k] = spec.type === 'string' ? 'ESTAB' : 7;
      w.write(metric(tags, fields, schema));
    };
    for (const v of ['4', '6', 'unknown']) fill(NETSTAT_SCHEMA, { host: 'h"1\\', ip_version: v });
    fill(NETSTAT_PORT_SCHEMA, { host: 'h', addr_port: '[::1]:80', ip_version: '6', service: 'web\napp' });
    fill(SOCKETSTAT_SCHEMA, { proto: 'tcp', local_addr: '[fe80::1]%eth0', local_port: '22', remote_addr: '[fe80::2]', remote_port: '5000' });
    fill(SOCKETSTAT_AGGREGATE_SCHEMA, { proto: 'tcp', local_addr: '10.0.0.1', remote_addr: '10.0.0.2' });
    return w;
  };

  it('promtool check metrics passes on the text format of every schema', { skip: promtool.skip ?? false }, () => {
    const r = promtoolCheckMetrics(promtool.path!, everything().text('text'));
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output, '');
  });

  it("OpenMetrics of every schema: Prometheus's OpenMetrics parser accepts it; promtool's linter finds nothing else", { skip: promtool.skip ?? false }, () => {
    const text = everything().text('openmetrics');
    const parsed = promtoolParseOpenMetrics(promtool.path!, text, 1_800_000_000);
    assert.equal(parsed.status, 0, parsed.output);
    assert.deepEqual(unexplainedOpenMetricsLint(promtool.path!, text), []);
  });

  it('CI has promtool (.ci/run unpacks it): the promtool checks must not skip there', { skip: process.env.CI ? false : 'not in CI' }, () => {
    assert.ok(promtool.path, promtool.skip);
  });

  it('promtool rejects what it should (the checks above are not vacuous)', { skip: promtool.skip ?? false }, () => {
    assert.notEqual(promtoolCheckMetrics(promtool.path!, '# TYPE x_total counter\nx_total 1\n').status, 0, 'no HELP');
    assert.notEqual(promtoolParseOpenMetrics(promtool.path!, '# TYPE x gauge\nx 1\n', 1).status, 0, 'no # EOF');
    assert.notEqual(promtoolParseOpenMetrics(promtool.path!, '# TYPE x gauge\nx{a="b} 1\n# EOF\n', 1).status, 0, 'bad label');
  });
});

describe('negotiateFormat: the Accept headers Prometheus sends', () => {
  const cases: [string, string | undefined, 'text' | 'openmetrics'][] = [
    [
      'Prometheus 2.5 .. 2.48 (scrape.go scrapeAcceptHeader)',
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    [
      'Prometheus 2.49+ default scrape_protocols',
      'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      'openmetrics',
    ],
    [
      'Prometheus 3 default (escaping parameter, text 1.0.0)',
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      'openmetrics',
    ],
    [
      'native histograms on: protobuf first (not offered by sockscope)',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      'openmetrics',
    ],
    ['scrape_protocols: [PrometheusText0.0.4]', 'text/plain;version=0.0.4;q=0.5,*/*;q=0.4', 'text'],
    ['Prometheus before 2.5', 'text/plain;version=0.0.4;q=1,*/*;q=0.1', 'text'],
    ['only OpenMetrics 0.0.1 (not produced): falls back to */*', 'application/openmetrics-text;version=0.0.1;q=0.5,*/*;q=0.4', 'text'],
    ['OpenMetrics without a version', 'application/openmetrics-text', 'openmetrics'],
    ['OpenMetrics refused with q=0', 'application/openmetrics-text;version=1.0.0;q=0,text/plain;version=0.0.4', 'text'],
    ['text preferred by q', 'application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.9', 'text'],
    ['spaces around parameters', 'application/openmetrics-text; version=1.0.0; q=0.9, text/plain; q=0.5', 'openmetrics'],
    ['curl', '*/*', 'text'],
    ['a browser', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text'],
    ['no Accept header', undefined, 'text'],
  ];
  for (const [name, header, want] of cases) it(`${name} → ${want}`, () => assert.equal(negotiateFormat(header), want));
});

describe("JSON (Telegraf's json serializer, batch shape)", () => {
  it('{"metrics":[{fields,name,tags,timestamp}]}: timestamp in whole seconds, string fields kept, non-finite numbers dropped', () => {
    const w = new JsonWriter();
    w.write(metric({ host: 'h' }, { n: 1, u: 2, s: 'x', f: NaN, b: false }));
    const text = w.take();
    assert.ok(text.endsWith('\n'));
    const doc = JSON.parse(text);
    assert.deepEqual(doc, { metrics: [{ fields: { n: 1, u: 2, s: 'x', b: false }, name: 'test', tags: { host: 'h' }, timestamp: Math.floor(T / 1000) }] });
    assert.deepEqual(Object.keys(doc.metrics[0]), ['fields', 'name', 'tags', 'timestamp']);
    assert.deepEqual(metricJson(metric({}, { n: Infinity })).fields, {});
  });

  it('an empty gather is {"metrics":[]}, and take() resets', () => {
    const w = new JsonWriter();
    assert.equal(w.take(), '{"metrics":[]}\n');
    w.write(metric({}, { n: 1 }));
    w.take();
    assert.equal(w.take(), '{"metrics":[]}\n');
  });
});
