/**
 * The doctor's Zabbix items and triggers, generated from the check definitions: one item per measure
 * (sockscope.doctor[<check>,<measure>], the worst subject's value), a findings text item naming the culprits,
 * one trigger per level whose threshold is a user macro defaulting to the definition's threshold. The items are
 * the doctor collector's: a gather without it sends none of them (a push with the default collectors holds no
 * key the server would refuse), a passive check of one is then unsupported. The real server suite
 * (test/zabbix-server) imports the templates, pushes and fires the triggers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { CHECKS, SEVERITIES, type CheckDefinition } from '../../src/doctor/definitions.js';
import type { Finding } from '../../src/doctor/doctor.js';
import { findingMetrics } from '../../src/doctor/metrics.js';
import type { GatherReport } from '../../src/gather/gather.js';
import { answerer } from '../../src/zabbix/answer.js';
import { doctorMacro, ITEMS } from '../../src/zabbix/catalog.js';
import { itemValues, type LatestGather } from '../../src/zabbix/items.js';
import { zabbixTemplate } from '../../src/zabbix/template.js';

const MEASURES = (CHECKS as readonly CheckDefinition[]).flatMap((c) => c.measures.map((m) => ({ c, m })));

const report = (collectors: string[]): GatherReport => ({
  snapshotMs: 1,
  durationMs: 1,
  sockets: 0,
  retries: 0,
  interrupted: false,
  notes: [],
  sources: [],
  collectors: collectors.map((name) => ({ name, ok: true, durationMs: 0, metrics: 0 })),
});

const finding = (check: Finding['check'], measure: string, value: number, subject: Finding['subject']): Finding => ({
  check,
  severity: 'warning',
  subject,
  evidence: { text: '', measure, value, unit: 'sockets', threshold: 0, thresholds: {} },
  explanation: '',
  advice: '',
});

describe('doctor items in the Zabbix templates', () => {
  for (const passive of [false, true]) {
    test(`${passive ? 'passive' : 'trapper'} template: an item per measure, a trigger per level, the thresholds as macros with the definitions' defaults`, () => {
      const t = parse(zabbixTemplate({ passive })).zabbix_export.templates[0];
      const macros = new Map<string, string>(t.macros.map((m: { macro: string; value: string }) => [m.macro, m.value]));
      for (const { c, m } of MEASURES) {
        const item = t.items.find((i: { key: string }) => i.key === `sockscope.doctor[${c.id},${m.name}]`);
        assert.ok(item, `${c.id} ${m.name}: an item`);
        const levels = SEVERITIES.filter((l) => m[l] !== undefined);
        assert.equal(item.triggers.length, levels.length, `${c.id} ${m.name}: a trigger per level`);
        for (const [k, level] of levels.entries()) {
          const macro = doctorMacro(c.id, m.name, level);
          assert.equal(macros.get(macro), String(m[level]), `${macro} defaults to the definition's ${level} threshold`);
          const trigger = item.triggers[k];
          assert.match(trigger.expression, new RegExp(`>=${macro.replace(/[{}$.]/g, '\\$&')}`));
          assert.equal(trigger.priority, { info: 'INFO', warning: 'WARNING', critical: 'HIGH' }[level]);
          // one problem per measure at a time: below the next level's threshold
          const next = levels[k + 1];
          if (next) assert.ok(trigger.expression.includes(`<${doctorMacro(c.id, m.name, next)}`), trigger.expression);
        }
      }
      assert.equal(t.items.find((i: { key: string }) => i.key === 'sockscope.doctor.findings')?.value_type, 'TEXT');
    });
  }

  test('a gather without the doctor collector sends none of its items; with it, the worst subject per measure and the culprits', () => {
    const doctorKeys = ITEMS.filter((i) => i.collector === 'doctor').map((i) => i.key);
    assert.equal(doctorKeys.length, MEASURES.length + 1);
    const without: LatestGather = { metrics: [], report: report(['netstat']), time: 1000 };
    const none = itemValues(without);
    for (const k of doctorKeys) assert.equal(none.has(k), false, `${k} not sent`);

    const quiet = itemValues({ metrics: [], report: report(['netstat', 'doctor']), time: 1000 });
    for (const { c, m } of MEASURES) assert.equal(quiet.get(`sockscope.doctor[${c.id},${m.name}]`), '0', `${c.id} ${m.name}: nothing reached a level`);
    assert.equal(quiet.get('sockscope.doctor.findings'), 'no finding');

    const findings = [
      finding('close_wait', 'sockets', 12, { process: { pid: 42, comm: 'leakysrv' }, netns: 'net:[1]' }),
      finding('close_wait', 'sockets', 250, { process: { pid: 7, comm: 'pool' }, netns: 'net:[2]' }),
      finding('accept_queue', 'drops', 33.333, { listener: '127.0.0.1:7002', netns: 'net:[1]' }),
    ];
    const v = itemValues({ metrics: findingMetrics(findings, 1000), report: report(['doctor']), time: 1000 });
    assert.equal(v.get('sockscope.doctor[close_wait,sockets]'), '250', 'the worst subject');
    assert.equal(v.get('sockscope.doctor[accept_queue,drops]'), '33.3');
    assert.equal(v.get('sockscope.doctor[accept_queue,fill]'), '0');
    assert.deepEqual(v.get('sockscope.doctor.findings')!.split('\n'), [
      'close_wait sockets = 250 sockets: process pool (pid 7), netns net:[2]',
      'close_wait sockets = 12 sockets: process leakysrv (pid 42), netns net:[1]',
      'accept_queue drops = 33.3/min: listener 127.0.0.1:7002, netns net:[1]',
    ]);
  });

  test('passive: a doctor key answers from the latest gather, and is unsupported while the doctor collector is off', async () => {
    let latest: LatestGather = { metrics: [], report: report(['netstat']), time: 1000 };
    const answer = answerer({
      version: 'test',
      hostname: 'h',
      latest: () => latest,
      snapshot: () => Promise.reject(new Error('not used')),
    });
    // as zabbix_agentd answers a key it has no value for (test/zabbix/passive-vs-agentd.test.ts)
    await assert.rejects(Promise.resolve(answer('sockscope.doctor[close_wait,sockets]')), /Unsupported item key/);
    await assert.rejects(Promise.resolve(answer('sockscope.nothing')), /Unsupported item key/);
    latest = {
      metrics: findingMetrics([finding('close_wait', 'sockets', 12, { process: { pid: 42, comm: 'leakysrv' } })], 1000),
      report: report(['doctor']),
      time: 1000,
    };
    assert.equal(await answer('sockscope.doctor[close_wait,sockets]'), '12');
    assert.equal(await answer('sockscope.doctor["close_wait","sockets"]'), '12', 'quoted parameters are the same item');
    assert.equal(await answer('sockscope.doctor.findings'), 'close_wait sockets = 12 sockets: process leakysrv (pid 42)');
  });
});
