/**
 * The agent's life as a process (`sockscope agent` as a child, 127.0.0.1 of this namespace):
 *   - global tags and the host tag on every series of /metrics, every line of the stdout output and every
 *     point of /api/snapshot (file tags, DataKit's ENV_INPUT_NETSTAT_TAGS, --hostname);
 *   - SIGHUP: a valid new configuration replaces the running one; an invalid one is reported (naming the key
 *     and value) and the old one keeps running; one that fails while being applied is rolled back;
 *   - SIGTERM: buffered metrics are flushed before the agent exits 0; with an InfluxDB that never answers, the
 *     agent still exits 0 within flush_timeout, saying what it could not send.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { AgentProcess, cleanEnv, firstGather, freePort, request, sampleValue, targetOf, tempDir, type Target } from '../helpers/agent.js';
import { until } from '../helpers/wait.js';

describe('agent lifecycle', () => {
  let dir = '';
  before(() => {
    dir = tempDir('lifecycle');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('global tags and the host tag on every series, line and point', async () => {
    const file = join(dir, 'tags.toml');
    writeFileSync(file, '[agent]\ninterval = "200ms"\n[agent.tags]\ndc = "eu-1"\nteam = "from-file"\n');
    const a = new AgentProcess(['--config', file, '--listen', '127.0.0.1:0', '--stdout', '--hostname', 'web-01'], {
      env: cleanEnv({ ENV_INPUT_NETSTAT_TAGS: 'team=from-env,rack=r7' }),
    });
    try {
      const t = targetOf(await a.listening());
      await firstGather(t);
      const text = (await request(t, '/metrics')).body;
      const want = { host: 'web-01', dc: 'eu-1', team: 'from-env', rack: 'r7' };
      let checked = 0;
      for (const line of text.split('\n')) {
        if (!/^sockscope_(tcp_connections|udp_sockets|port_\w+|listen_\w+|local_port_range_size)\{/.test(line)) continue;
        for (const [k, v] of Object.entries(want)) assert.ok(line.includes(`${k}="${v}"`), `${k}="${v}" in ${line}`);
        checked++;
      }
      assert.ok(checked > 20, `${checked} series checked`);
      assert.equal(sampleValue(text, 'sockscope_gathers_total', { host: 'web-01' }), undefined, 'self-metrics carry no host tag');
      await until('stdout lines', () => (a.stdout.includes('\n') ? true : undefined));
      const lines = a.stdout.split('\n').filter(Boolean);
      for (const l of lines) for (const [k, v] of Object.entries(want)) assert.ok(l.split(' ')[0].includes(`,${k}=${v}`), `${k}=${v} in ${l}`);
      const snap = JSON.parse((await request(t, '/api/snapshot')).body);
      for (const m of snap.metrics) for (const [k, v] of Object.entries(want)) assert.equal(m.tags[k], v, `${k} on ${JSON.stringify(m).slice(0, 200)}`);
    } finally {
      assert.equal((await a.stop()).code, 0, a.tail());
    }
  });

  test('SIGHUP: a valid configuration replaces the old; an invalid one is reported and the old keeps running', async () => {
    const port = await freePort();
    const file = join(dir, 'reload.toml');
    const write = (interval: string, deploy: string, extra = '') =>
      writeFileSync(
        file,
        `[agent]\ninterval = "${interval}"\n[agent.tags]\ndeploy = "${deploy}"\n[outputs.prometheus]\nlisten = ["127.0.0.1:${port}"]\n${extra}`,
      );
    write('200ms', 'one');
    const a = new AgentProcess(['--config', file]);
    const t: Target = { host: '127.0.0.1', port };
    const metrics = async () => (await request(t, '/metrics')).body;
    const deployOf = async () => /deploy="(\w+)"/.exec(await metrics())?.[1];
    try {
      assert.equal(await a.listening(), `127.0.0.1:${port}`);
      await firstGather(t);
      assert.equal(await deployOf(), 'one');

      // valid: applied, and gathering goes on with it
      write('300ms', 'two');
      let from = a.logs.length;
      a.signal('SIGHUP');
      await a.waitLog("'configuration reloaded'", (l) => l.msg === 'configuration reloaded', 10_000, from);
      await until('the new tags', async () => ((await deployOf()) === 'two' ? true : undefined), 5000, 50);

      // invalid: reported with the key and value; the endpoint and the gathers keep going with the old one
      write('whenever', 'three');
      from = a.logs.length;
      a.signal('SIGHUP');
      const failed = await a.waitLog("'configuration reload failed'", (l) => /reload failed/.test(l.msg), 10_000, from);
      assert.equal(failed.level, 50, 'logged as an error');
      assert.match(String(failed.error), /agent\.interval = "whenever".*expected a duration/);
      const g0 = sampleValue(await metrics(), 'sockscope_gathers_total')!;
      await until('more gathers', async () => (sampleValue(await metrics(), 'sockscope_gathers_total')! > g0 + 1 ? true : undefined), 5000, 100);
      assert.equal(await deployOf(), 'two', 'still the running configuration');
      assert.equal(a.running, true);

      // valid, but failing while applied (its web config does not exist): rolled back, served again
      write('200ms', 'four', `web_config_file = "${join(dir, 'missing.yml')}"\n`);
      from = a.logs.length;
      a.signal('SIGHUP');
      const rolled = await a.waitLog("'restoring the previous configuration'", (l) => /restoring the previous/.test(l.msg), 10_000, from);
      assert.match(String(rolled.error), /missing\.yml/);
      await until('the endpoint back', async () => ((await deployOf()) === 'two' ? true : undefined), 5000, 50);
      assert.equal(a.running, true);
    } finally {
      const exit = await a.stop();
      assert.equal(exit.code, 0, a.tail());
    }
  });

  test('SIGTERM: buffered metrics are delivered before exit 0', async () => {
    // an InfluxDB stand-in that fails the first write (so the metrics wait in the buffer) and takes the rest
    const received: string[] = [];
    let requests = 0;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (requests++ === 0) return void res.writeHead(503).end();
        received.push(...gunzipSync(Buffer.concat(chunks)).toString().split('\n').filter(Boolean));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const a = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '1h', '--stdout', '--influxdb-url', `http://127.0.0.1:${port}`]);
    try {
      await a.listening();
      await a.waitLog("'influxdb unreachable'", (l) => /influxdb unreachable/.test(l.msg), 10_000);
      assert.equal(received.length, 0);
      const exit = await a.stop('SIGTERM');
      assert.equal(exit.code, 0, a.tail());
      const printed = a.stdout.split('\n').filter(Boolean);
      assert.ok(printed.length > 0);
      assert.deepEqual(received, printed, 'what the one gather printed is what InfluxDB got, at SIGTERM');
      assert.equal(a.count('exiting with metrics still buffered'), 0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('SIGTERM with an InfluxDB that never answers: exit 0 within flush_timeout', async () => {
    const held: net.Socket[] = [];
    const blackhole = net.createServer((s) => void held.push(s)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
    const port = (blackhole.address() as net.AddressInfo).port;
    const a = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '200ms', '--influxdb-url', `http://127.0.0.1:${port}`], {
      env: cleanEnv({ SOCKSCOPE_AGENT_FLUSH_TIMEOUT: '1s', SOCKSCOPE_OUTPUTS_INFLUXDB_TIMEOUT: '60s' }),
    });
    try {
      await a.listening();
      await until('a write in flight', () => (held.length > 0 ? true : undefined), 10_000, 20);
      const exit = await a.stop('SIGTERM', 10_000);
      assert.equal(exit.code, 0, a.tail());
      assert.ok(exit.ms >= 900 && exit.ms < 3000, `exited after ${exit.ms} ms (flush_timeout 1s)`);
      const left = a.logs.find((l) => l.msg === 'exiting with metrics still buffered');
      assert.ok(left && Number(left.buffered) > 0, 'says what it could not send');
    } finally {
      for (const s of held) s.destroy();
      blackhole.close();
    }
  });
});
