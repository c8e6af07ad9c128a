/**
 * The doctor's checks as the agent's metrics: a real `sockscope agent` with [collectors.doctor] runs inside a
 * namespace where a real server leaks CLOSE_WAIT sockets; its /metrics carries
 * sockscope_doctor_close_wait_sockets with the subject's labels (process, pid, netns), and the generated alert
 * rules fire on that very series in promtool's unit test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seriesRuleTest } from '../../src/doctor/rules.js';
import { AgentProcess } from '../helpers/agent.js';
import { until } from '../helpers/wait.js';
import { findPromtool } from '../helpers/tools.js';
import { LEAKY_SERVER, scenarioSkip, startScenario } from '../helpers/doctor-scenario.js';

const PROM_DIR = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));
const promtool = findPromtool();
const skip = scenarioSkip() ?? (spawnSync('sh', ['-c', 'command -v nsenter'], { stdio: 'ignore' }).status !== 0 ? 'missing tool: nsenter' : undefined);

/** GET /metrics from inside the namespace of `pid` (the agent listens on that namespace's loopback). */
function scrape(pid: number, port: number): string {
  const code = `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
  const r = spawnSync('nsenter', ['-t', String(pid), '-n', process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout : '';
}

describe('doctor metrics in the agent', { skip: skip ?? false }, () => {
  test('a CLOSE_WAIT leak: the metric with its labels, and the generated rule firing on it', async () => {
    const s = await startScenario(String.raw`
${LEAKY_SERVER}for _ in range(12):
    c = socket.create_connection(('127.0.0.1', 7001))
    c.close()
while len(kept) < 12:
    time.sleep(0.01)
# a listener half full: backlog 4, 2 connections never accepted (50 %, below the default warning of 90 %)
half = listener(7003, backlog=4)
pending = [socket.create_connection(('127.0.0.1', 7003)) for _ in range(2)]
time.sleep(0.3)
ready()
`);
    const dir = mkdtempSync(join(tmpdir(), 'doc2-agent-'));
    const pid = s.info.pid;
    const file = join(dir, 'agent.toml');
    writeFileSync(
      file,
      // the [doctor.*] overrides reach the agent's collector: a fill of 50 % is a point only with fill_warning lowered
      '[agent]\ninterval = "300ms"\n[outputs.prometheus]\nlisten = ["127.0.0.1:11979"]\n[collectors.doctor]\nenabled = true\nprocesses = true\n' +
        '[doctor.accept_queue]\nfill_warning = 40\n',
    );
    const a = new AgentProcess(['--config', file], { wrap: ['nsenter', '-t', String(pid), '-n'] });
    try {
      const netns = readlinkSync(`/proc/${pid}/ns/net`);
      const line = await until(
        'sockscope_doctor_close_wait_sockets',
        () => {
          return scrape(pid, 11979)
            .split('\n')
            .find((l) => l.startsWith('sockscope_doctor_close_wait_sockets{'));
        },
        20_000,
        300,
      );
      const m = /^(\w+)\{(.*)\} (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      assert.equal(Number(m[3]), 12, line);
      assert.equal(labels.process, 'leakysrv', line);
      assert.equal(labels.pid, String(pid), line);
      assert.equal(labels.netns, netns, line);
      // the override: the half-full listener is a point (default thresholds: none), named with its process
      const fill = scrape(pid, 11979)
        .split('\n')
        .filter((l) => l.startsWith('sockscope_doctor_accept_queue_fill_percent{'));
      assert.equal(fill.length, 1, fill.join('\n'));
      assert.match(fill[0], /listener="127\.0\.0\.1:7003"/);
      assert.match(fill[0], /process="leakysrv"/);
      assert.equal(Number(fill[0].split(' ').pop()), 50, fill[0]);

      if (promtool.skip) return;
      copyFileSync(join(PROM_DIR, 'sockscope-doctor-rules.yml'), join(dir, 'sockscope-doctor-rules.yml'));
      const all = { ...labels, job: 'sockscope', instance: 'web-1:11979' };
      writeFileSync(join(dir, 'fire.test.yml'), seriesRuleTest(m[1], all, Number(m[3])));
      const fire = spawnSync(promtool.path!, ['test', 'rules', 'fire.test.yml'], { cwd: dir, encoding: 'utf8' });
      assert.equal(fire.status, 0, fire.stdout + fire.stderr);
      // and the test can fail: the warning rule is expected at 12, not the critical one; claiming it fires is refused
      writeFileSync(
        join(dir, 'wrong.test.yml'),
        seriesRuleTest(m[1], all, Number(m[3])).replace('SockscopeDoctorCloseWaitSocketsWarning', 'SockscopeDoctorCloseWaitSocketsCritical'),
      );
      assert.notEqual(spawnSync(promtool.path!, ['test', 'rules', 'wrong.test.yml'], { cwd: dir, encoding: 'utf8' }).status, 0);
    } finally {
      const exit = await a.stop();
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(exit.code, 0, a.tail());
    }
  });
});
