/**
 * `sockscope agent` scraped by a real Prometheus (Debian's, unpacked by .ci/run), both in a throwaway network
 * namespace holding the known socket population, on its loopback:
 *   - the embedded default: no configuration at all serves /metrics on 127.0.0.1:11979 with netstat and
 *     netstat_port;
 *   - Prometheus runs deploy/prometheus/prometheus.yml's `sockscope` job and deploy's alert rules (intervals
 *     shortened, target pointed at the agent), with a temp data dir. After a scrape its query API returns
 *     sockscope's established-connections series with the known value: the IPv6 ones (the test's own traffic is
 *     IPv4) equal `ss -6` in the namespace and the population's count; per port group and per listener too;
 *   - every alert rule evaluates without error on the real data, and the listener whose accept queue is over its
 *     backlog (the population's full IPv6 listener) is the one "backlog near full" alert pending;
 *   - with the doctor collector on, the generated doctor rules (loaded by the sample configuration) fire on that
 *     listener's accept-queue fill, at warning and critical, and on nothing else of the population;
 *   - `promtool check metrics` passes on the live endpoint.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { defaultThresholds } from '../../src/doctor/definitions.js';
import { parseSs } from '../helpers/ss.js';
import { AgentProcess, cleanEnv, Daemon, freePortIn, NsBridge, REPO, request, sampleValue, tempDir } from '../helpers/agent.js';
import { findTool, findPromtool } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const support = netnsSupport();
const prometheus = findTool('prometheus', 'SOCKSCOPE_PROMETHEUS', 'prometheus');
const promtool = findPromtool();
const DEPLOY = join(REPO, 'deploy/prometheus');

describe('agent scraped by a real Prometheus in a network namespace', { skip: support.skip ?? false }, () => {
  let ns: PopulationNetns;
  let dir = '';
  let agent: AgentProcess | undefined;
  let prom: Daemon | undefined;
  let agentBridge: NsBridge | undefined;
  let promBridge: NsBridge | undefined;
  /** `ss -6 -tan state established` in the namespace, before anything of ours runs there */
  let ssEstablished6 = 0;

  const query = async (q: string): Promise<{ metric: Record<string, string>; value: number }[]> => {
    const r = await request(promBridge!.target, `/api/v1/query?${new URLSearchParams({ query: q })}`);
    assert.equal(r.status, 200, r.body);
    const json = JSON.parse(r.body);
    assert.equal(json.status, 'success');
    return json.data.result.map((x: any) => ({ metric: x.metric, value: Number(x.value[1]) }));
  };
  const one = async (q: string): Promise<number> => {
    const r = await query(q);
    assert.equal(r.length, 1, `${q}: one series, got ${JSON.stringify(r)}`);
    return r[0].value;
  };

  before(async () => {
    ns = await PopulationNetns.start();
    dir = tempDir('prometheus');
    ssEstablished6 = parseSs(await ns.check('ss', ['-6', '-tan'])).rows.filter((r) => r.state === 'ESTAB').length;
  });
  after(async () => {
    for (const d of [agent, prom]) if (d?.running) await d.stop('SIGKILL');
    await agentBridge?.stop();
    await promBridge?.stop();
    await ns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('no configuration: /metrics on 127.0.0.1:11979 with netstat and netstat_port', async () => {
    const a = new AgentProcess([], { ns, env: cleanEnv() });
    try {
      assert.equal(await a.listening(), '127.0.0.1:11979');
      const bridge = await NsBridge.start(ns, 11979);
      try {
        const text = await until(
          'the first gather',
          async () => {
            const r = await request(bridge.target, '/metrics');
            return r.status === 200 && /^sockscope_gathers_total [1-9]/m.test(r.body) ? r.body : undefined;
          },
          15_000,
          50,
        );
        assert.equal(sampleValue(text, 'sockscope_collector_success', { collector: 'netstat' }), 1);
        assert.equal(sampleValue(text, 'sockscope_collector_success', { collector: 'netstat_port' }), 1);
        assert.equal(sampleValue(text, 'sockscope_tcp_connections', { family: 'ipv6', state: 'established' }), ssEstablished6);
        const v4 = ns.population.tcp.listeners.find((l) => l.name === 'node-v4')!;
        assert.ok(
          sampleValue(text, 'sockscope_port_tcp_connections', { addr_port: String(v4.port), state: 'listen' }) === 1,
          'a port group per listening port',
        );
        assert.equal(sampleValue(text, 'sockscope_collector_success', { collector: 'socketstat' }), undefined, 'socketstat is off by default');
      } finally {
        await bridge.stop();
      }
    } finally {
      const exit = await a.stop();
      assert.equal(exit.code, 0, a.tail());
    }
  });

  test('Prometheus scrapes the agent: its query API returns the known established connections', { skip: prometheus.skip ?? false }, async () => {
    const agentPort = await freePortIn(ns);
    const promPort = await freePortIn(ns, [agentPort]);
    // with the doctor collector, so the sample's doctor rules have their series
    agent = new AgentProcess(['--listen', `127.0.0.1:${agentPort}`, '--interval', '200ms', '--hostname', 'prom-test'], {
      ns,
      env: cleanEnv({ SOCKSCOPE_COLLECTORS_DOCTOR_ENABLED: 'true' }),
    });
    await agent.listening();
    agentBridge = await NsBridge.start(ns, agentPort);

    // the sample configuration's job and rules, pointed at the agent, with test-sized intervals
    const sample = parseYaml(readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8'));
    const job = sample.scrape_configs.find((j: any) => j.job_name === 'sockscope');
    assert.ok(job, "the sample has a 'sockscope' job");
    const config = {
      global: { scrape_interval: '500ms', scrape_timeout: '400ms', evaluation_interval: '500ms' },
      rule_files: sample.rule_files.map((f: string) => join(DEPLOY, f)),
      scrape_configs: [{ ...job, scrape_interval: '500ms', scrape_timeout: '400ms', static_configs: [{ targets: [`127.0.0.1:${agentPort}`] }] }],
    };
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
    prom = new Daemon(
      'prometheus',
      prometheus.path!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { ns, cwd: dir },
    );
    promBridge = await NsBridge.start(ns, promPort);
    await until(
      'Prometheus to be ready',
      async () => {
        if (!prom!.running) throw new Error(`prometheus exited\n${prom!.tail()}`);
        return (await request(promBridge!.target, '/-/ready', { timeoutMs: 1000 })).status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
    await until('a successful scrape', async () => ((await query('up{job="sockscope"} == 1')).length === 1 ? true : undefined), 20_000, 200);
    await until('the series', async () => ((await query('sockscope_tcp_connections')).length > 0 ? true : undefined), 10_000, 200);

    // IPv6: only the population's sockets (every connection of the test's machinery is IPv4 loopback)
    const pop = ns.population.tcp;
    const fromPopulation =
      pop.established.reduce((n, e) => n + (e.clientFamily === 6 ? 1 : 0) + (e.serverFamily === 6 ? 1 : 0), 0) +
      2 * pop.listeners.filter((l) => l.family === 6).reduce((n, l) => n + (l.pending ?? 0), 0); // queued connections: both ends ESTABLISHED
    assert.equal(ssEstablished6, fromPopulation, 'ss and the population agree');
    const established6 = await one('sockscope_tcp_connections{job="sockscope", family="ipv6", state="established"}');
    assert.equal(established6, ssEstablished6, 'sockscope_tcp_connections{family="ipv6",state="established"} = ss -6 state established');
    // labels: the host tag, the family, the state, and Prometheus's own
    const [series] = await query('sockscope_tcp_connections{family="ipv6", state="established"}');
    assert.deepEqual(Object.keys(series.metric).sort(), ['__name__', 'family', 'host', 'instance', 'job', 'state']);
    assert.equal(series.metric.host, 'prom-test');
    // IPv4 holds the population plus our machinery's connections
    const established4 = await one('sockscope_tcp_connections{family="ipv4", state="established"}');
    const fromPopulation4 =
      pop.established.reduce((n, e) => n + (e.clientFamily === 4 ? 1 : 0) + (e.serverFamily === 4 ? 1 : 0), 0) +
      2 * pop.listeners.filter((l) => l.family === 4).reduce((n, l) => n + (l.pending ?? 0), 0);
    assert.ok(established4 >= fromPopulation4, `ipv4 established ${established4} >= the population's ${fromPopulation4}`);
    // per port group: the node-v4 listener's accepted connections
    const v4 = pop.listeners.find((l) => l.name === 'node-v4')!;
    assert.equal(
      await one(`sockscope_port_tcp_connections{addr_port="${v4.port}", state="established"}`),
      pop.established.filter((e) => e.server.local.port === v4.port).length,
    );
    assert.equal(await one(`sockscope_port_tcp_connections{addr_port="${v4.port}", state="listen"}`), 1);
    // per listener: accept queue and backlog as the population made them
    for (const l of pop.listeners.filter((x) => x.backlog !== undefined && x.pending !== undefined)) {
      assert.equal(await one(`sockscope_listen_accept_queue{local_port="${l.port}"}`), l.pending, `${l.name} accept queue`);
      assert.equal(await one(`sockscope_listen_backlog{local_port="${l.port}"}`), l.backlog, `${l.name} backlog`);
    }
    assert.ok((await one('sockscope_local_port_range_size')) > 0);
  });

  test('the alert rules evaluate on the real series; the full listener is the one backlog alert', { skip: prometheus.skip ?? false }, async () => {
    assert.ok(promBridge, 'Prometheus runs (previous test)');
    const rules = await until(
      'every rule evaluated',
      async () => {
        const r = JSON.parse((await request(promBridge!.target, '/api/v1/rules')).body);
        const all = r.data.groups.flatMap((g: any) => g.rules);
        return all.length > 0 && all.every((x: any) => x.health !== 'unknown') ? all : undefined;
      },
      15_000,
      200,
    );
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
    assert.ok(rules.some((r: any) => r.name === 'SockscopeCloseWaitPilingUp'));
    const full = ns.population.tcp.listeners.filter((l) => l.backlog !== undefined && (l.pending ?? 0) / l.backlog > 0.8);
    assert.ok(full.length >= 1, 'the population has a listener over 80 % of its backlog');
    const alerts = await until(
      'the backlog alert',
      async () => {
        const r = JSON.parse((await request(promBridge!.target, '/api/v1/alerts')).body);
        const mine = r.data.alerts.filter((a: any) => a.labels.alertname === 'SockscopeListenBacklogNearFull');
        return mine.length === full.length ? mine : undefined;
      },
      10_000,
      200,
    );
    assert.deepEqual(alerts.map((a: any) => a.labels.local_port).sort(), full.map((l) => String(l.port)).sort());
    for (const a of alerts) assert.equal(a.state, 'pending', 'for: 2m');
    // the doctor's generated rules on the doctor collector's series: the listener over its backlog is the one
    // accept-queue finding at warning and critical (fill = queued / backlog, thresholds from the one table)
    const fill = defaultThresholds().accept_queue;
    const expected = ns.population.tcp.listeners
      .flatMap((l) => {
        const percent = l.backlog !== undefined && l.pending !== undefined ? (100 * l.pending) / l.backlog : 0;
        return (['warning', 'critical'] as const).filter((level) => percent >= fill[`fill_${level}`]).map((level) => `${level} [::1]:${l.port}`);
      })
      .sort();
    assert.ok(expected.length >= 1, "the population has a listener over the doctor's fill threshold");
    const doctorAlerts = await until(
      "the doctor's accept-queue alerts",
      async () => {
        const r = JSON.parse((await request(promBridge!.target, '/api/v1/alerts')).body);
        const mine = r.data.alerts.filter((a: any) => /^SockscopeDoctorAcceptQueueFill/.test(a.labels.alertname));
        return mine.length === expected.length ? mine : undefined;
      },
      15_000,
      200,
    );
    assert.deepEqual(doctorAlerts.map((a: any) => `${a.labels.severity} ${a.labels.listener}`).sort(), expected);
    for (const a of doctorAlerts) {
      assert.equal(a.state, 'firing', 'the doctor rules have no for:');
      assert.equal(a.labels.check, 'accept_queue');
      assert.match(a.labels.netns, /^net:\[\d+\]$/);
    }
    // the population also holds sockets nobody reads (node-v4-unread's accepted connection, UDP sockets with
    // unread datagrams): the doctor's stuck receive queue, at warning (1 to 9 sockets); nothing else fires
    const otherAlerts = async () =>
      JSON.parse((await request(promBridge!.target, '/api/v1/alerts')).body)
        .data.alerts.filter((a: any) => a.labels.alertname !== 'SockscopeListenBacklogNearFull' && !/^SockscopeDoctorAcceptQueueFill/.test(a.labels.alertname))
        .map((a: any) => a.labels.alertname as string);
    const want = ['SockscopeDoctorStuckReceiveQueueSocketsWarning'];
    await until('the stuck receive queue alert', async () => ((await otherAlerts()).includes(want[0]) ? true : undefined), 15_000, 200).catch(() => undefined);
    assert.deepEqual(await otherAlerts(), want, 'no other alert on the population');
  });

  test('promtool check metrics passes on the live endpoint', { skip: promtool.skip ?? false }, async () => {
    assert.ok(agentBridge, 'the agent runs (previous test)');
    const r = await request(agentBridge!.target, '/metrics');
    assert.equal(r.status, 200);
    const check = spawnSync(promtool.path!, ['check', 'metrics'], { input: r.body, encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    // and Prometheus's own scrape of the same endpoint (OpenMetrics, its default) reported no errors
    assert.equal((await one('scrape_samples_scraped{job="sockscope"} > 0')) > 0, true);
    const targets = JSON.parse((await request(promBridge!.target, '/api/v1/targets')).body).data.activeTargets;
    assert.equal(targets.length, 1);
    assert.equal(targets[0].health, 'up');
    assert.equal(targets[0].lastError, '');
  });
});
