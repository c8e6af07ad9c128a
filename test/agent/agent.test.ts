/**
 * The agent's own life (src/agent/agent.ts), as a child process on 127.0.0.1 of this namespace:
 *   - a SIGHUP keeps the listeners whose settings did not change (a keep-alive connection survives it), and
 *     scrapes go on without a failure across 10 SIGHUPs;
 *   - output counters (written, errors, dropped) survive a SIGHUP, changed configuration or not;
 *   - a storm of SIGHUPs is one reload and one gather, not one per signal;
 *   - start-up opens every listener before announcing any: with the Zabbix port taken it exits 2 naming the
 *     address, and never says it serves metrics;
 *   - a scrape that arrives before the first gather waits for it and gets the sockets;
 *   - process attribution without the privileges for it: said once, with what is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentProcess, cleanEnv, firstGather, freePort, request, sampleValue, targetOf, tempDir, type Target } from '../helpers/agent.js';
import { sleep, until } from '../helpers/wait.js';

/** One GET on a given keep-alive agent (the same connection while it lives). */
function keepAliveGet(agent: http.Agent, t: Target, path: string): Promise<{ status: number; body: string; socketId: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: t.host, port: t.port, path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => resolve({ status: res.statusCode!, body, socketId: (req.socket as net.Socket & { sockscopeId?: number }).sockscopeId ?? -1 }));
    });
    req.on('socket', (s: net.Socket & { sockscopeId?: number }) => (s.sockscopeId ??= Math.random()));
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('agent reloads and start-up', () => {
  let dir = '';
  before(() => {
    dir = tempDir('agent');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('SIGHUP keeps unchanged listeners and counters; 0 failed scrapes across 10 SIGHUPs', async () => {
    const dead = await freePort(); // an InfluxDB nobody answers: the output's error counter goes up
    const port = await freePort();
    const file = join(dir, 'keep.toml');
    const write = (deploy: string) =>
      writeFileSync(
        file,
        `[agent]\ninterval = "200ms"\n[agent.tags]\ndeploy = "${deploy}"\n[outputs.prometheus]\nlisten = ["127.0.0.1:${port}"]\n[outputs.influxdb]\nenabled = true\nurls = ["http://127.0.0.1:${dead}"]\ntimeout = "1s"\n`,
      );
    write('one');
    const a = new AgentProcess(['--config', file]);
    const ka = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const t = targetOf(await a.listening());
      await firstGather(t);
      const errors = async () => sampleValue((await request(t, '/metrics')).body, 'sockscope_output_errors_total', { output: 'influxdb' }) ?? -1;
      await until('a failed write counted', async () => ((await errors()) >= 1 ? true : undefined), 10_000, 100);
      const first = await keepAliveGet(ka, t, '/healthz');
      assert.equal(first.status, 200);

      // scrapers on fresh connections all along, while 10 SIGHUPs (unchanged configuration) come in
      let scraping = true;
      const results: (number | string)[] = [];
      const scraper = (async () => {
        while (scraping)
          results.push(
            await request(t, '/metrics', { timeoutMs: 5000 }).then(
              (r) => r.status,
              (e: Error) => e.message,
            ),
          );
      })();
      try {
        for (let i = 0; i < 10; i++) {
          const from = a.logs.length;
          const before = await errors();
          a.signal('SIGHUP');
          await a.waitLog("'configuration reloaded'", (l) => l.msg === 'configuration reloaded', 10_000, from);
          assert.ok((await errors()) >= before, `output_errors_total kept across SIGHUP ${i + 1} (${before} before)`);
          const kept = await keepAliveGet(ka, t, '/healthz');
          assert.equal(kept.status, 200);
          assert.equal(kept.socketId, first.socketId, `the keep-alive connection made before SIGHUP ${i + 1} still serves`);
          await sleep(100);
        }
      } finally {
        scraping = false;
        await scraper;
      }
      assert.ok(results.length >= 10, `${results.length} scrapes`);
      assert.deepEqual(
        results.filter((r) => r !== 200),
        [],
        `0 failed scrapes of ${results.length}`,
      );
      assert.equal(a.count('serving metrics'), 1, 'the listener was not reopened');

      // a changed configuration: the InfluxDB output is the same, its counters too
      const before = await errors();
      write('two');
      const from = a.logs.length;
      a.signal('SIGHUP');
      await a.waitLog("'configuration reloaded'", (l) => l.msg === 'configuration reloaded', 10_000, from);
      await until('the new tags', async () => (/deploy="two"/.test((await request(t, '/metrics')).body) ? true : undefined), 5000, 50);
      assert.ok((await errors()) >= before, 'output_errors_total kept across a changed configuration');
    } finally {
      ka.destroy();
      assert.equal((await a.stop()).code, 0, a.tail());
    }
  });

  test('a storm of SIGHUPs: one reload and one gather, not one per signal', async () => {
    const port = await freePort();
    const file = join(dir, 'storm.toml');
    const write = (deploy: string) =>
      writeFileSync(file, `[agent]\ninterval = "1h"\n[agent.tags]\ndeploy = "${deploy}"\n[outputs.prometheus]\nlisten = ["127.0.0.1:${port}"]\n`);
    write('one');
    const a = new AgentProcess(['--config', file]);
    try {
      const t = targetOf(await a.listening());
      await firstGather(t);
      const gathers = async () => sampleValue((await request(t, '/metrics')).body, 'sockscope_gathers_total')!;
      assert.equal(await gathers(), 1);
      write('two');
      const from = a.logs.length;
      for (let i = 0; i < 20; i++) a.signal('SIGHUP');
      await a.waitLog("'configuration reloaded'", (l) => l.msg === 'configuration reloaded', 10_000, from);
      await until('the new tags', async () => (/deploy="two"/.test((await request(t, '/metrics')).body) ? true : undefined), 5000, 50);
      await sleep(1500); // time for any further reloads and gathers the storm would cause
      assert.equal(a.logs.slice(from).filter((l) => l.msg === 'configuration reloaded').length, 1, 'one reload for 20 signals');
      assert.equal(await gathers(), 2, 'one gather for the reload');
      assert.equal(a.running, true);
    } finally {
      assert.equal((await a.stop()).code, 0, a.tail());
    }
  });

  test('start-up: a listener that cannot be opened → exit 2 naming it, and nothing announced', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const a = new AgentProcess(['--listen', '127.0.0.1:0', '--zabbix-listen', `127.0.0.1:${port}`, '--interval', '200ms']);
    try {
      const exit = await a.exited;
      assert.equal(exit.code, 2, a.tail());
      assert.match(a.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(zabbix_agent\\.listen\\): EADDRINUSE`));
      assert.equal(a.count('serving metrics'), 0, 'the Prometheus endpoint was never announced');
      assert.equal(a.count('sockscope agent started'), 0);
    } finally {
      taken.close();
    }
  });

  test('a scrape before the first gather waits for it and gets the sockets', async () => {
    for (let round = 0; round < 3; round++) {
      const a = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '10s']);
      try {
        const t = targetOf(await a.listening());
        // at once, as Prometheus does when a target appears
        const r = await request(t, '/metrics', { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '10' } });
        assert.equal(r.status, 200);
        assert.match(r.body, /^sockscope_tcp_connections\{/m, `round ${round}: socket series in the first scrape`);
        assert.equal(sampleValue(r.body, 'sockscope_gathers_total'), 1);
      } finally {
        assert.equal((await a.stop()).code, 0, a.tail());
      }
    }
  });

  const asRoot = process.getuid?.() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  test('process attribution without the privileges for it: said once, with what is missing', {
    skip: !asRoot ? 'switching to nobody needs root' : !setpriv ? 'setpriv (util-linux) is missing' : false,
  }, async () => {
    const a = new AgentProcess(['--listen', '127.0.0.1:0', '--interval', '200ms'], {
      env: cleanEnv({ SOCKSCOPE_COLLECTORS_NETSTAT_PORT_PROCESS_ATTRIBUTION: 'true' }),
      wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all'],
      cwd: '/',
    });
    try {
      const t = targetOf(await a.listening());
      await firstGather(t);
      const g0 = sampleValue((await request(t, '/metrics')).body, 'sockscope_gathers_total')!;
      await until(
        'more gathers',
        async () => (sampleValue((await request(t, '/metrics')).body, 'sockscope_gathers_total')! >= g0 + 3 ? true : undefined),
        10_000,
        100,
      );
      const said = a.logs.filter((l) => /process attribution/.test(l.msg));
      assert.equal(said.length, 1, `said once: ${JSON.stringify(said)}`);
      assert.equal(said[0].level, 40, 'a warning');
      assert.match(said[0].msg, /pid.*0/);
      assert.match(said[0].msg, /CAP_SYS_PTRACE/);
    } finally {
      assert.equal((await a.stop()).code, 0, a.tail());
    }
  });
});
