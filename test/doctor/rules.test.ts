/**
 * The Prometheus alert rules for the doctor's metrics, generated from the check table: deploy/prometheus holds the
 * generator's output, it passes promtool and its unit tests, and configured thresholds reach it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prometheusRules, prometheusRuleTests } from '../../src/doctor/rules.js';
import { findPromtool } from '../helpers/tools.js';
import { BIN } from '../helpers/doctor-scenario.js';

const PROM_DIR = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));
const promtool = findPromtool();

describe('doctor rules for Prometheus', () => {
  test('deploy/prometheus holds the generated rules and their unit tests', () => {
    assert.equal(
      readFileSync(join(PROM_DIR, 'sockscope-doctor-rules.yml'), 'utf8'),
      prometheusRules(),
      'regenerate: sockscope doctor --rules prometheus > deploy/prometheus/sockscope-doctor-rules.yml',
    );
    assert.equal(
      readFileSync(join(PROM_DIR, 'sockscope-doctor-rules.test.yml'), 'utf8'),
      prometheusRuleTests(),
      'regenerate: sockscope doctor --rules prometheus-test > deploy/prometheus/sockscope-doctor-rules.test.yml',
    );
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
