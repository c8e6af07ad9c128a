/**
 * `sockscope agent` pushing to a real InfluxDB 1.x (Debian's influxd, unpacked by .ci/run), both inside a
 * throwaway network namespace holding the known socket population, on its loopback:
 *   - influxd with a temp data dir and auth on; the agent writes with basic auth, rp and precision ms, gzip,
 *     batches of 50; a query returns the points, equal (time, tags, fields) to the line protocol the agent
 *     printed on stdout for the same gathers, and netstat_port points for the population's listeners;
 *   - influxd stopped while the agent keeps gathering every 200 ms (and gets a SIGHUP meanwhile), started
 *     again: every gather (the buffer limit is not reached) is in InfluxDB, the ones of the outage included;
 *     "unreachable" and "reachable again" logged once each although several writes failed;
 *   - SIGTERM: the agent flushes and exits 0;
 *   - buffer_strategy = "disk": influxd stopped, the agent killed with SIGKILL while it buffers, influxd and the
 *     agent started again: every point the killed agent had accepted (printed on stdout after it was written to
 *     the buffer) is in InfluxDB: 0 points lost.
 * Every process is started and stopped here by pid; influxd and the agent run through nsenter, and this
 * process reaches them over unix-socket bridges (NsBridge).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { AgentProcess, cleanEnv, Daemon, freePortIn, influxdConfig, NsBridge, request, sampleValue, tempDir } from '../helpers/agent.js';
import { findTool } from '../helpers/tools.js';
import { sleep, until } from '../helpers/wait.js';

const support = netnsSupport();
const influxd = findTool('influxd', 'SOCKSCOPE_INFLUXD', 'influxdb');
const skip = support.skip ?? influxd.skip ?? false;
const USER = 'admin';
const PASS = 'secret pass';

interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  /** ms */
  time: number;
}

/** Our own simple line protocol (no escapes in what the test makes): integer fields only. */
function parseLines(text: string): Point[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [head, fields, ts] = line.split(' ');
      const [measurement, ...tags] = head.split(',');
      return {
        measurement,
        tags: Object.fromEntries(tags.map((t) => t.split('='))),
        fields: Object.fromEntries(
          fields.split(',').map((f) => {
            const [k, v] = f.split('=');
            return [k, Number(v.replace(/[iu]$/, ''))];
          }),
        ),
        time: Number(BigInt(ts) / 1_000_000n),
      };
    });
}

describe('agent → InfluxDB 1.x (real influxd in a network namespace)', { skip }, () => {
  let ns: PopulationNetns | undefined;
  let dir = '';
  let conf = '';
  let db: Daemon | undefined;
  let agent: AgentProcess | undefined;
  let dbBridge: NsBridge | undefined;
  let agentBridge: NsBridge | undefined;
  let agentPort = 0;

  const startInflux = async (): Promise<Daemon> => {
    const d = new Daemon('influxd', influxd.path!, ['run', '-config', conf], { ns, env: cleanEnv({ HOME: dir }) });
    await until(
      'influxd to answer /ping',
      async () => {
        if (!d.running) throw new Error(`influxd exited\n${d.tail()}`);
        return (await request(dbBridge!.target, '/ping', { timeoutMs: 1000 })).status === 204 ? true : undefined;
      },
      20_000,
      50,
    );
    return d;
  };
  const query = async (q: string, auth = true): Promise<{ status: number; json: any }> => {
    const params = new URLSearchParams({ q, db: 'sockscope', epoch: 'ms', ...(auth ? { u: USER, p: PASS } : {}) });
    const r = await request(dbBridge!.target, `/query?${params}`, { method: /^(SELECT|SHOW)/.test(q) ? 'GET' : 'POST' });
    return { status: r.status, json: JSON.parse(r.body) };
  };
  /** rows of a SELECT as objects */
  const rows = async (q: string): Promise<Record<string, any>[]> => {
    const { status, json } = await query(q);
    assert.equal(status, 200, JSON.stringify(json));
    const s = json.results[0].series?.[0];
    if (!s) return [];
    return s.values.map((v: unknown[]) => Object.fromEntries(s.columns.map((c: string, i: number) => [c, v[i]])));
  };
  const selfMetrics = async (): Promise<string> => (await request(agentBridge!.target, '/metrics')).body;
  const stdoutPoints = () => parseLines(agent!.stdout.slice(0, agent!.stdout.lastIndexOf('\n') + 1));

  before(async () => {
    if (skip) return;
    ns = await PopulationNetns.start();
    dir = tempDir('influxdb');
    const httpPort = await freePortIn(ns);
    const rpcPort = await freePortIn(ns, [httpPort]);
    agentPort = await freePortIn(ns, [httpPort, rpcPort]);
    conf = join(dir, 'influxdb.conf');
    writeFileSync(conf, influxdConfig({ dir, httpPort, rpcPort, auth: true }));
    dbBridge = await NsBridge.start(ns, httpPort);
    db = await startInflux();
    // the first admin user may be made without credentials; then auth is on
    assert.equal((await query(`CREATE USER ${USER} WITH PASSWORD '${PASS}' WITH ALL PRIVILEGES`, false)).status, 200);
    assert.equal((await query('CREATE DATABASE sockscope')).status, 200);
    assert.equal((await query('SHOW DATABASES', false)).status, 401, 'auth is enforced');

    agent = new AgentProcess(['--listen', `127.0.0.1:${agentPort}`, '--interval', '200ms', '--stdout', '--influxdb-url', `http://127.0.0.1:${httpPort}`], {
      ns,
      env: cleanEnv({
        SOCKSCOPE_AGENT_HOSTNAME: 'influx-test',
        SOCKSCOPE_OUTPUTS_INFLUXDB_USERNAME: USER,
        SOCKSCOPE_OUTPUTS_INFLUXDB_PASSWORD: PASS,
        SOCKSCOPE_OUTPUTS_INFLUXDB_RETENTION_POLICY: 'autogen',
        SOCKSCOPE_OUTPUTS_INFLUXDB_PRECISION: 'ms',
        SOCKSCOPE_OUTPUTS_INFLUXDB_BATCH_SIZE: '50',
        SOCKSCOPE_OUTPUTS_INFLUXDB_TIMEOUT: '2s',
        SOCKSCOPE_AGENT_FLUSH_TIMEOUT: '5s',
      }),
    });
    await agent.listening();
    agentBridge = await NsBridge.start(ns, agentPort);
  });
  after(async () => {
    const left = [agent, db].filter((d): d is Daemon => !!d?.running);
    await Promise.all(left.map((d) => d.stop('SIGKILL')));
    await dbBridge?.stop();
    await agentBridge?.stop();
    await ns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the agent pushes; a query returns the points it printed, time, tags and fields', async () => {
    await until(
      '3 netstat points in InfluxDB',
      async () => ((await rows('SELECT count(tcp_established) FROM netstat'))[0]?.count >= 3 ? true : undefined),
      15_000,
      200,
    );
    const printed = stdoutPoints().filter((p) => p.measurement === 'netstat');
    const stored = await rows('SELECT * FROM netstat');
    assert.ok(stored.length >= 3);
    for (const s of stored) {
      const p = printed.find((x) => x.time === s.time);
      assert.ok(p, `a printed netstat line at ${s.time} (precision ms kept the time)`);
      assert.equal(s.host, 'influx-test');
      for (const [k, v] of Object.entries(p.fields)) assert.equal(s[k], v, `${k} at ${s.time}`);
    }
    // netstat_port: one group per listening port of the population, by default
    const ports = await query('SHOW TAG VALUES FROM netstat_port WITH KEY = "addr_port"');
    const values = new Set(ports.json.results[0].series[0].values.map((v: string[]) => v[1]));
    for (const l of ns!.population.tcp.listeners) assert.ok(values.has(String(l.port)), `addr_port ${l.port} (${l.name})`);
    const v4 = ns!.population.tcp.listeners.find((l) => l.name === 'node-v4')!;
    const last = (await rows(`SELECT last(tcp_established) AS established, last(tcp_listen) AS listen FROM netstat_port WHERE addr_port = '${v4.port}'`))[0];
    // its two ESTABLISHED pairs (server side: local port = the listener's) and the listener
    assert.equal(last.established, ns!.population.tcp.established.filter((e) => e.server.local.port === v4.port).length);
    assert.equal(last.listen, 1);
  });

  test('influxd stopped while the agent gathers (and reloads), started again: every gather arrives', async () => {
    const before = await selfMetrics();
    assert.equal(sampleValue(before, 'sockscope_output_errors_total', { output: 'influxdb' }), 0, 'no failure before the outage');
    const logFrom = agent!.logs.length;
    const down = Date.now();
    const stopped = await db!.stop('SIGTERM');
    assert.equal(stopped.code, 0, db!.tail());
    await agent!.waitLog("'influxdb unreachable'", (l) => /influxdb unreachable/.test(l.msg), 5000, logFrom);
    const during = await until(
      'two failed writes and a buffer',
      async () => {
        const text = await selfMetrics();
        return sampleValue(text, 'sockscope_output_errors_total', { output: 'influxdb' })! >= 2 ? text : undefined;
      },
      10_000,
      100,
    );
    assert.ok(sampleValue(during, 'sockscope_output_buffer_metrics', { output: 'influxdb' })! > 0, 'metrics wait in the buffer');
    assert.equal(sampleValue(during, 'sockscope_output_dropped_metrics_total', { output: 'influxdb' }), 0);
    // a reload during the outage keeps the buffer
    const reloadFrom = agent!.logs.length;
    agent!.signal('SIGHUP');
    await agent!.waitLog("'configuration reloaded'", (l) => l.msg === 'configuration reloaded', 5000, reloadFrom);
    await sleep(400);
    db = await startInflux();
    const up = Date.now();
    await agent!.waitLog("'influxdb reachable again'", (l) => /reachable again/.test(l.msg), 20_000, logFrom);
    await until(
      'the buffer to drain',
      async () => (sampleValue(await selfMetrics(), 'sockscope_output_buffer_metrics', { output: 'influxdb' }) === 0 ? true : undefined),
      10_000,
      100,
    );

    const exit = await agent!.stop('SIGTERM', 10_000);
    assert.equal(exit.code, 0, `SIGTERM: exit 0\n${agent!.tail()}`);
    assert.ok(exit.ms < 6000, `exited in ${exit.ms} ms`);

    const printed = stdoutPoints().filter((p) => p.measurement === 'netstat');
    const stored = new Map((await rows('SELECT * FROM netstat')).map((r) => [r.time as number, r]));
    const missing = printed.filter((p) => !stored.has(p.time));
    assert.deepEqual(
      missing.map((p) => p.time),
      [],
      `every gather is in InfluxDB (${printed.length} printed, ${stored.size} stored)`,
    );
    for (const p of printed) assert.equal(stored.get(p.time)!.tcp_established, p.fields.tcp_established);
    assert.equal(stored.size, printed.length, 'nothing else');
    const outage = printed.filter((p) => p.time > down && p.time < up);
    assert.ok(outage.length >= 5, `gathers went on during the ${up - down} ms outage (${outage.length})`);
    // and every netstat_port point too
    const printedPort = stdoutPoints().filter((p) => p.measurement === 'netstat_port').length;
    assert.equal((await rows('SELECT count(tcp_established) FROM netstat_port'))[0].count, printedPort);

    const since = agent!.logs.slice(logFrom);
    assert.equal(since.filter((l) => /influxdb unreachable/.test(l.msg)).length, 1, 'unreachable: logged once');
    assert.equal(since.filter((l) => /reachable again/.test(l.msg)).length, 1, 'reachable again: logged once');
    assert.equal(since.filter((l) => /dropped/.test(l.msg)).length, 0, 'nothing dropped');
  });

  test('kill -9 during an outage with the disk buffer, restart: 0 points lost', async (t) => {
    const env = cleanEnv({
      SOCKSCOPE_AGENT_HOSTNAME: 'influx-disk',
      SOCKSCOPE_OUTPUTS_INFLUXDB_USERNAME: USER,
      SOCKSCOPE_OUTPUTS_INFLUXDB_PASSWORD: PASS,
      SOCKSCOPE_OUTPUTS_INFLUXDB_PRECISION: 'ms',
      SOCKSCOPE_OUTPUTS_INFLUXDB_BATCH_SIZE: '50',
      SOCKSCOPE_OUTPUTS_INFLUXDB_TIMEOUT: '2s',
      SOCKSCOPE_OUTPUTS_INFLUXDB_BUFFER_STRATEGY: 'disk',
      SOCKSCOPE_OUTPUTS_INFLUXDB_BUFFER_DIRECTORY: join(dir, 'buffer'),
    });
    const url = `http://127.0.0.1:${/bind-address = "127\.0\.0\.1:(\d+)"\n {2}auth/.exec(readFileSync(conf, 'utf8'))![1]}`;
    const args = ['--listen', `127.0.0.1:${agentPort}`, '--interval', '200ms', '--stdout', '--influxdb-url', url];
    // a few gathers delivered, then the outage
    const killed = new AgentProcess(args, { ns, env });
    try {
      await killed.listening();
      await until(
        'points in InfluxDB',
        async () => ((await rows("SELECT count(tcp_established) FROM netstat WHERE host = 'influx-disk'"))[0]?.count >= 2 ? true : undefined),
        15_000,
        200,
      );
      assert.equal((await db!.stop('SIGTERM')).code, 0, db!.tail());
      await killed.waitLog("'influxdb unreachable'", (l) => /influxdb unreachable/.test(l.msg), 10_000);
      const printedBefore = () => parseLines(killed.stdout.slice(0, killed.stdout.lastIndexOf('\n') + 1)).filter((p) => p.measurement === 'netstat').length;
      const n0 = printedBefore();
      await until('gathers during the outage', () => (printedBefore() >= n0 + 8 ? true : undefined), 15_000, 100);
    } finally {
      await killed.stop('SIGKILL');
    }
    const printed = parseLines(killed.stdout.slice(0, killed.stdout.lastIndexOf('\n') + 1));
    db = await startInflux();
    const restarted = new AgentProcess(args, { ns, env });
    try {
      const read = await restarted.waitLog("'read back metrics from the disk buffer'", (l) => /read back metrics from the disk buffer/.test(l.msg), 15_000);
      assert.ok(Number(read.buffered) > 0, 'the buffer of the killed agent is read back');
      const wanted = printed.filter((p) => p.measurement === 'netstat');
      const wantedPort = printed.filter((p) => p.measurement === 'netstat_port');
      const storedPort = async () =>
        new Set((await rows("SELECT tcp_established, addr_port FROM netstat_port WHERE host = 'influx-disk'")).map((r) => `${r.time} ${r.addr_port}`));
      const storedNetstat = async () => new Map((await rows("SELECT * FROM netstat WHERE host = 'influx-disk'")).map((r) => [r.time as number, r]));
      // the read-back points go out in batches of 50 among the new gathers': wait for all of them (or time out)
      await until(
        'every point the killed agent accepted',
        async () => {
          const [n, p] = [await storedNetstat(), await storedPort()];
          return wanted.every((x) => n.has(x.time)) && wantedPort.every((x) => p.has(`${x.time} ${x.tags.addr_port}`)) ? true : undefined;
        },
        20_000,
        200,
      ).catch(() => undefined);
      const stored = await storedNetstat();
      const lost = wanted.filter((p) => !stored.has(p.time));
      assert.deepEqual(
        lost.map((p) => p.time),
        [],
        `0 points lost: ${wanted.length} netstat points accepted by the killed agent, ${lost.length} missing`,
      );
      for (const p of wanted) assert.equal(stored.get(p.time)!.tcp_established, p.fields.tcp_established);
      const port = await storedPort();
      const lostPort = wantedPort.filter((p) => !port.has(`${p.time} ${p.tags.addr_port}`));
      assert.deepEqual(lostPort, [], `and every netstat_port point (${wantedPort.length})`);
      t.diagnostic(
        `disk buffer, kill -9 during the outage: ${wanted.length} netstat + ${wantedPort.length} netstat_port points accepted by the killed agent, ${lost.length + lostPort.length} lost; ${read.buffered} read back`,
      );
    } finally {
      assert.equal((await restarted.stop('SIGTERM', 10_000)).code, 0, restarted.tail());
    }
  });
});
