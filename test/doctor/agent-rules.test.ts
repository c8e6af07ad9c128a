/**
 * The doctor's checks outside the CLI, from the same table: the agent exports them as metrics with the
 * subject as labels (a real agent in a namespace with a CLOSE_WAIT leak, scraped over HTTP inside it), and the
 * Prometheus alert rules in deploy/prometheus are the generator's output, pass promtool, and fire on what the
 * agent exports.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { expectedDoctorAlert, prometheusRules, prometheusRuleTests } from '../../src/doctor/rules.js';
import { findTool } from '../helpers/tools.js';
import { BIN, scenarioSkip, startScenario } from './scenario.js';

const FRAME = fileURLToPath(new URL('../../src/zabbix/frame.js', import.meta.url));
const PROM_DIR = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));
const promtool = findTool('promtool', 'SOCKSCOPE_PROMTOOL', 'prometheus');

describe('doctor rules for Prometheus', () => {
  test('deploy/prometheus holds the generated rules and their unit tests', () => {
    assert.equal(readFileSync(join(PROM_DIR, 'sockscope-doctor-rules.yml'), 'utf8'), prometheusRules(), 'regenerate: sockscope doctor --rules prometheus > deploy/prometheus/sockscope-doctor-rules.yml');
    assert.equal(readFileSync(join(PROM_DIR, 'sockscope-doctor-rules.test.yml'), 'utf8'), prometheusRuleTests(), 'regenerate: sockscope doctor --rules prometheus-test > deploy/prometheus/sockscope-doctor-rules.test.yml');
    assert.match(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8'), /sockscope-doctor-rules\.yml/);
  });

  test('promtool check rules, and the unit tests (each rule fires at its threshold, not below)', { skip: promtool.skip ?? false }, () => {
    const check = spawnSync(promtool.path!, ['check', 'rules', 'sockscope-doctor-rules.yml'], { cwd: PROM_DIR, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const unit = spawnSync(promtool.path!, ['test', 'rules', 'sockscope-doctor-rules.test.yml'], { cwd: PROM_DIR, encoding: 'utf8' });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  });

  test('thresholds from the config file reach the generated rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doc-rules-'));
    try {
      writeFileSync(join(dir, 'c.toml'), '[doctor.close_wait]\nsockets_warning = 42\n');
      const r = spawnSync(process.execPath, [BIN, 'doctor', '--rules', 'prometheus', '--config', join(dir, 'c.toml')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /expr: sockscope_doctor_close_wait_sockets >= 42\n/);
      assert.match(r.stdout, /expr: sockscope_doctor_close_wait_sockets >= 100\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the agent exports the doctor checks with the subject as labels', { skip: scenarioSkip() }, () => {
  test('a CLOSE_WAIT leak: sockscope_doctor_close_wait_sockets{process="leakysrv",pid=...}, and the rule fires on it', async () => {
    const s = await startScenario(String.raw`
setname('leakysrv')
srv = listener(7011)
kept = []
def acceptor():
    while True:
        c, _ = srv.accept()
        kept.append(c)
threading.Thread(target=acceptor, daemon=True).start()
def closer():
    setname('closer')
    for _ in range(30):
        c = socket.create_connection(('127.0.0.1', 7011))
        time.sleep(0.01)
        c.close()
    forever()
child(closer)
while len(kept) < 30:
    time.sleep(0.01)
time.sleep(0.3)
ready()
`);
    const dir = mkdtempSync(join(tmpdir(), 'doc-agent-'));
    const config = join(dir, 'agent.toml');
    writeFileSync(config, '[agent]\ninterval = "500ms"\n[collectors.doctor]\nenabled = true\nprocess_attribution = true\n');
    const agent = spawn('nsenter', [`--net=/proc/${s.info.pid}/ns/net`, '--', process.execPath, BIN, 'agent', '--config', config, '--listen', '127.0.0.1:11979',
      '--zabbix-listen', '127.0.0.1:10050'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const exited = once(agent, 'exit');
    try {
      // scrape from inside the namespace until the second gather (the first window) has been diagnosed
      let body = '';
      for (let k = 0; k < 40 && !/sockscope_doctor_close_wait_sockets\{/.test(body); k++) {
        await new Promise((r) => setTimeout(r, 500));
        const r = spawnSync('nsenter', [`--net=/proc/${s.info.pid}/ns/net`, '--', process.execPath, '-e',
          "fetch('http://127.0.0.1:11979/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), () => {})"], { encoding: 'utf8', timeout: 10_000 });
        body = r.stdout;
      }
      const line = body.split('\n').find((l) => l.startsWith('sockscope_doctor_close_wait_sockets{'));
      assert.ok(line, `no doctor metric in /metrics:\n${body.slice(0, 3000)}\nagent log:\n${log}`);
      assert.match(line, new RegExp(`pid="${s.info.pid}"`));
      assert.match(line, /process="leakysrv"/);
      assert.match(line, /netns="net:\[\d+\]"/);
      assert.equal(Number(line.split(' ').pop()), 30);
      assert.match(body, /# HELP sockscope_doctor_close_wait_sockets CLOSE_WAIT sockets the process holds/);
      // Zabbix: the same check as a passive item (the worst subject), a key of the template with its triggers
      const ask = (key: string) => spawnSync('nsenter', [`--net=/proc/${s.info.pid}/ns/net`, '--', process.execPath, '--input-type=module', '-e', `
        import { connect } from 'node:net';
        import { encodeFrame, decodeFrame } from '${FRAME}';
        const c = connect(10050, '127.0.0.1', () => c.write(encodeFrame(${JSON.stringify(key)})));
        const parts = [];
        c.on('data', (d) => parts.push(d)).on('end', () => process.stdout.write(decodeFrame(Buffer.concat(parts))));`], { encoding: 'utf8', timeout: 10_000 });
      const worst = ask('sockscope.doctor.close_wait.sockets');
      assert.equal(worst.stdout, '30', worst.stderr);
      assert.equal(ask('sockscope.doctor.accept_queue.drops').stdout, '0', 'a check with nothing found reads 0');
      const tpl = parse(spawnSync(process.execPath, [BIN, 'doctor', '--rules', 'zabbix-passive'], { encoding: 'utf8' }).stdout).zabbix_export.templates[0];
      const item = tpl.items.find((i: { key: string }) => i.key === 'sockscope.doctor.close_wait.sockets');
      assert.ok(item, 'the template has the item');
      assert.deepEqual(item.triggers.map((t: { expression: string }) => t.expression), [
        'last(/sockscope doctor by Zabbix agent/sockscope.doctor.close_wait.sockets)>={$SOCKSCOPE.DOCTOR.CLOSE_WAIT.SOCKETS.WARNING}',
        'last(/sockscope doctor by Zabbix agent/sockscope.doctor.close_wait.sockets)>={$SOCKSCOPE.DOCTOR.CLOSE_WAIT.SOCKETS.CRITICAL}',
      ]);
      assert.equal(tpl.macros.find((m: { macro: string }) => m.macro === '{$SOCKSCOPE.DOCTOR.CLOSE_WAIT.SOCKETS.WARNING}')?.value, '10');
      // every item of the doctor's template is answered by the agent (the doctor ran: a number, 0 when nothing found)
      for (const i of tpl.items as { key: string; type: string }[]) {
        assert.equal(i.type, 'ZABBIX_PASSIVE');
        assert.match(ask(i.key).stdout, /^\d+(\.\d+)?$/, i.key);
      }
      if (!promtool.skip) {
        // the exported series fed to the generated rules: the warning fires with the culprit's labels, the critical does not
        const seriesLabels = Object.fromEntries([.../\{(.*)\}/.exec(line)![1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
        const all: Record<string, string> = { ...seriesLabels, job: 'sockscope', instance: 'web-1:11979' };
        const series = `sockscope_doctor_close_wait_sockets{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
        const tests = join(dir, 'live.test.yml');
        writeFileSync(tests, stringify({
          rule_files: [join(PROM_DIR, 'sockscope-doctor-rules.yml')], evaluation_interval: '1m',
          tests: [{
            interval: '1m', input_series: [{ series, values: '30x5' }],
            alert_rule_test: [
              { eval_time: '2m', alertname: 'SockscopeDoctorCloseWaitSocketsWarning', exp_alerts: [expectedDoctorAlert('SockscopeDoctorCloseWaitSocketsWarning', all, 30)] },
              { eval_time: '2m', alertname: 'SockscopeDoctorCloseWaitSocketsCritical', exp_alerts: [] },
            ],
          }],
        }));
        const r = spawnSync(promtool.path!, ['test', 'rules', tests], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.equal(all.process, 'leakysrv');
      }
    } finally {
      agent.kill('SIGTERM');
      const timer = setTimeout(() => agent.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
