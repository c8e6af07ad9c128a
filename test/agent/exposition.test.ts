/**
 * The agent renders a gather's Prometheus samples once, in the gather worker, and assembles /metrics from them
 * and its self-metrics on the main thread. These tests hold that path to the main-thread rendering it replaced:
 *   - SnapshotWorker: the exposition of a gather (rendered in the worker, UTF-8 byte ranges) assembled in either
 *     format equals PrometheusWriter.text() over the same gather's metrics; with self-metrics merged in, it
 *     equals one writer holding both; labels with escapes and multi-byte characters keep their byte ranges right;
 *   - the metrics a worker keeps for /api/snapshot are that gather's, as JSON, the netstat families merged or
 *     not, and a gather it no longer holds answers undefined;
 *   - assembleExposition: one HELP/TYPE per family, families sorted across parts, one `# EOF`;
 *   - the agent, black box: /metrics (both formats) is, family for family, the rendering of /api/snapshot's
 *     metrics plus self-metrics, each family once.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { GatherConfig } from '../../src/gather/gather.js';
import { mergeIpVersions } from '../../src/collectors/netstat.js';
import { SCHEMAS } from '../../src/collectors/registry.js';
import type { Metric } from '../../src/model/metric.js';
import { metricJson } from '../../src/outputs/metrics/json.js';
import { assembleExposition, PrometheusWriter, type ExpositionFormat } from '../../src/outputs/metrics/prometheus.js';
import { SnapshotWorker } from '../../src/agent/worker.js';
import { AgentProcess, cleanEnv, firstGather, request, targetOf, type Target } from '../helpers/agent.js';

const FORMATS: ExpositionFormat[] = ['text', 'openmetrics'];
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0';

/** A listener held by this process, so auto_listen_ports and listen have a known socket to report. */
function listen(): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => resolve(s));
  });
}

/** Families of an exposition in order: name (from # TYPE) → its HELP, TYPE and sample lines. */
function families(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    const help = /^# HELP (\S+) /.exec(line);
    if (help) {
      assert.ok(!out.has(help[1]), `family ${help[1]} declared once`);
      out.set(help[1], (current = [line]));
    } else {
      assert.ok(current, `a line before any family: ${line}`);
      current.push(line);
    }
  }
  return out;
}

describe('Prometheus samples rendered in the gather worker', () => {
  let worker: SnapshotWorker;
  let server: net.Server;
  let config: GatherConfig;

  before(async () => {
    server = await listen();
    worker = new SnapshotWorker();
    config = {
      measurements: ['netstat', 'netstat_port', 'listen', 'socketstat'],
      netstat: { perIpVersion: true },
      netstatPort: { groups: [], autoListenPorts: true },
      socketstat: { protocols: ['tcp'] },
      // escapes and multi-byte characters in label values: byte ranges, not character counts
      tags: { host: 'hôte "1"\\n', zone: 'zürich\nnord', emoji: '🧦' },
    };
  });
  after(async () => {
    await worker?.close();
    server?.close();
  });

  test('the worker-rendered exposition equals the main-thread rendering of the same gather, in both formats', async () => {
    const r = await worker.gather(config, { metrics: true, exposition: true, keep: false });
    assert.ok(r.exposition, 'an exposition was asked for');
    const port = (server.address() as net.AddressInfo).port;
    assert.ok(
      r.metrics.some((m) => m.schema.name === 'listen' && m.tags.local_port === String(port)),
      'the held listener is in the gather',
    );
    const w = new PrometheusWriter();
    for (const m of r.metrics) w.write(m);
    for (const format of FORMATS) {
      const assembled = assembleExposition([r.exposition], format).toString('utf8');
      assert.equal(assembled, w.text(format), format);
    }
    assert.ok(assembleExposition([r.exposition], 'text').toString('utf8').includes('zone="zürich\\nnord"'));
  });

  test('self-metrics merged into the worker-rendered samples equal one writer holding both', async () => {
    const r = await worker.gather(config, { metrics: true, exposition: true, keep: false });
    const self = (w: PrometheusWriter) => {
      w.sample('gathers_total', 'gathers run', 'counter', {}, 3);
      w.sample('collector_duration_seconds', 'how long', 'gauge', { collector: 'netstat' }, 0.0125);
      w.sample('listen_zz_self', 'sorts among the gather families', 'gauge', { where: 'é' }, 1); // between listen_* and local_*
      w.sample('zz_last', 'sorts after every gather family', 'gauge', {}, 2);
      return w;
    };
    const both = new PrometheusWriter();
    for (const m of r.metrics) both.write(m);
    self(both);
    for (const format of FORMATS) {
      const assembled = assembleExposition([r.exposition!, self(new PrometheusWriter()).exposition()], format).toString('utf8');
      assert.equal(assembled, both.text(format), format);
    }
  });

  test("the worker keeps a gather's metrics for /api/snapshot, as JSON, until the next gather", async () => {
    const first = await worker.gather(config, { metrics: true, exposition: false, keep: true });
    assert.equal(first.exposition, undefined);
    const json = (ms: Metric[]) => JSON.stringify(ms.map(metricJson));
    assert.equal(await worker.metricsJson(first.gather, true), json(first.metrics));
    assert.equal(await worker.metricsJson(first.gather, false), json(mergeIpVersions(first.metrics)));
    const netstat = JSON.parse((await worker.metricsJson(first.gather, false))!).filter((m: { name: string }) => m.name === 'netstat');
    assert.equal(netstat.length, 1, 'families merged');
    const second = await worker.gather(config, { metrics: false, exposition: false, keep: true });
    assert.equal(second.metrics.length, 0, 'metrics not shipped when not asked for');
    assert.ok(second.gather > first.gather);
    assert.equal(await worker.metricsJson(first.gather, true), undefined, 'an older gather is gone');
    assert.ok(JSON.parse((await worker.metricsJson(second.gather, true))!).length > 0);
    await worker.gather(config, { metrics: false, exposition: false, keep: false });
    assert.equal(await worker.metricsJson(second.gather, true), undefined, 'nothing kept when not asked');
  });
});

describe('assembleExposition', () => {
  test('families sorted across parts, HELP and TYPE once per family, one # EOF', () => {
    const a = new PrometheusWriter();
    a.sample('b_total', 'b help', 'counter', { x: '1' }, 1);
    a.sample('d', 'd help', 'gauge', {}, 4);
    const b = new PrometheusWriter();
    b.sample('a', 'a help', 'gauge', {}, 0);
    b.sample('c', 'c help', 'gauge', { y: 'ü' }, 3);
    b.sample('b_total', 'other help', 'counter', { x: '2' }, 2);
    const om = assembleExposition([a.exposition(), b.exposition()], 'openmetrics').toString('utf8');
    assert.equal(
      om,
      [
        '# HELP sockscope_a a help',
        '# TYPE sockscope_a gauge',
        'sockscope_a 0',
        '# HELP sockscope_b b help',
        '# TYPE sockscope_b counter',
        'sockscope_b_total{x="1"} 1',
        'sockscope_b_total{x="2"} 2',
        '# HELP sockscope_c c help',
        '# TYPE sockscope_c gauge',
        'sockscope_c{y="ü"} 3',
        '# HELP sockscope_d d help',
        '# TYPE sockscope_d gauge',
        'sockscope_d 4',
        '# EOF',
        '',
      ].join('\n'),
    );
    assert.equal(assembleExposition([], 'text').length, 0);
    assert.equal(assembleExposition([new PrometheusWriter().exposition()], 'openmetrics').toString(), '# EOF\n');
  });
});

describe('agent /metrics is the rendering of its gather plus self-metrics', () => {
  let agent: AgentProcess;
  let server: net.Server;
  let t: Target;

  before(async () => {
    server = await listen();
    // one gather (1h interval), so /metrics and /api/snapshot are of the same one; per_ip_version so the
    // snapshot's metrics are the ones Prometheus sees
    agent = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '1h'], {
      env: cleanEnv({ SOCKSCOPE_COLLECTORS_NETSTAT_PER_IP_VERSION: 'true', SOCKSCOPE_AGENT_TAGS: 'dc=eu-1,team=caf\u00e9 "x"' }),
    });
    t = targetOf(await agent.listening());
    await firstGather(t);
  });
  after(async () => {
    server?.close();
    const exit = await agent?.stop();
    assert.equal(exit?.code, 0, agent?.tail());
  });

  test('every gather family equals PrometheusWriter over /api/snapshot; the rest are self-metrics; each family once', async () => {
    const snap = JSON.parse((await request(t, '/api/snapshot')).body);
    const metrics: Metric[] = snap.metrics.map((j: { name: string; tags: Record<string, string>; fields: Metric['fields']; timestamp: number }) => {
      assert.ok(SCHEMAS[j.name], `a known measurement: ${j.name}`);
      return { schema: SCHEMAS[j.name], tags: j.tags, fields: j.fields, time: j.timestamp * 1000 };
    });
    const port = (server.address() as net.AddressInfo).port;
    assert.ok(
      metrics.some((m) => m.schema.name === 'netstat_port' && m.tags.addr_port === String(port)),
      'the held listener has a port group',
    );
    const w = new PrometheusWriter();
    for (const m of metrics) w.write(m);
    const SELF =
      /^sockscope_(build_info|agent_start_time_seconds|gathers|gather_errors|gathers_skipped|dump_retries|snapshot_duration_seconds|last_gather_timestamp_seconds|collector_duration_seconds|collector_success|sockets_seen|http_rejected_requests|http_auth_failures|http_connections|http_max_connections|http_connections_closed)(_total)?$/;
    for (const format of FORMATS) {
      const r = await request(t, '/metrics', { headers: format === 'openmetrics' ? { Accept: OPENMETRICS_ACCEPT } : {} });
      assert.equal(r.status, 200);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      assert.equal(r.body.endsWith('# EOF\n'), format === 'openmetrics');
      assert.equal(r.body.split('\n').filter((l) => l === '# EOF').length, format === 'openmetrics' ? 1 : 0);
      const served = families(r.body);
      const expected = families(w.text(format));
      for (const [name, lines] of expected) assert.deepEqual(served.get(name), lines, `${format}: ${name}`);
      const rest = [...served.keys()].filter((n) => !expected.has(n));
      assert.ok(rest.length >= 10, 'self-metrics are there');
      for (const n of rest) assert.match(n, SELF, `${format}: ${n} is a self-metric`);
      // sorted by the sample names (OpenMetrics declares a counter without its _total, so only text shows it)
      if (format === 'text') assert.deepEqual([...served.keys()], [...served.keys()].sort(), 'families sorted');
    }
  });
});
