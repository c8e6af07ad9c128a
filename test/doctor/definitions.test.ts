/**
 * The one table: its thresholds are the config defaults, the sample's [doctor] sections, and the table in
 * docs/doctor.md; the config file and the environment override them; bad values are configuration errors.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { loadConfig } from '../../src/config/load.js';
import { doctorSampleSection, CHECKS, defaultThresholds, CHECK_IDS } from '../../src/doctor/definitions.js';
import { grade } from '../../src/doctor/doctor.js';
import { EVALUATE } from '../../src/doctor/checks.js';
import { BIN } from '../helpers/doctor-scenario.js';

const DOCS = fileURLToPath(new URL('../../../docs/doctor.md', import.meta.url));

describe('doctor check definitions', () => {
  test('every check has an evaluation, and ids are unique', () => {
    assert.deepEqual(Object.keys(EVALUATE).sort(), [...CHECK_IDS].sort());
    assert.equal(new Set(CHECK_IDS).size, CHECK_IDS.length);
  });

  test('thresholds rise from info to critical within a measure', () => {
    for (const c of CHECKS) {
      for (const m of c.measures as readonly { name: string; info?: number; warning?: number; critical?: number }[]) {
        const levels = [m.info, m.warning, m.critical].filter((x) => x !== undefined) as number[];
        assert.deepEqual(
          levels,
          [...levels].sort((x, y) => x - y),
          `${c.id}.${m.name}`,
        );
      }
    }
  });

  test('grade: the highest level reached, at or above its threshold', () => {
    const t = { sockets_info: 1, sockets_warning: 10, sockets_critical: 100 };
    assert.equal(grade('sockets', 0, t), undefined);
    assert.equal(grade('sockets', 1, t)?.severity, 'info');
    assert.equal(grade('sockets', 10, t)?.severity, 'warning');
    assert.deepEqual(grade('sockets', 150, t), { severity: 'critical', threshold: 100 });
    assert.equal(grade('other', 150, t), undefined);
  });

  test("the sample configuration's [doctor] sections are the defaults", () => {
    const parsed = JSON.parse(JSON.stringify(parseToml(doctorSampleSection()))) as { doctor: Record<string, unknown> };
    const { window, ...thresholds } = parsed.doctor;
    assert.equal(window, '2s');
    assert.deepEqual(thresholds, defaultThresholds());
    assert.deepEqual(loadConfig({}).config.doctor, { window: '2s', ...defaultThresholds() });
  });

  test('docs/doctor.md lists every measure with its default thresholds', () => {
    const docs = readFileSync(DOCS, 'utf8');
    for (const c of CHECKS) {
      for (const m of c.measures as readonly { name: string; info?: number; warning?: number; critical?: number }[]) {
        const row = docs.split('\n').find((l) => l.startsWith(`| \`${c.id}\` | \`${m.name}\` |`));
        assert.ok(row, `docs/doctor.md has a row for ${c.id}.${m.name}`);
        const cells = row.split('|').map((x) => x.trim());
        assert.deepEqual(
          cells.slice(5, 8),
          [m.info, m.warning, m.critical].map((x) => (x === undefined ? '–' : String(x))),
          `${c.id}.${m.name}`,
        );
      }
    }
  });

  test('thresholds from the config file and the environment win over the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doc-config-'));
    try {
      const file = join(dir, 'c.toml');
      writeFileSync(file, '[doctor]\nwindow = "5s"\n[doctor.close_wait]\nsockets_warning = 50\n');
      const { config, origins } = loadConfig({ file, env: { SOCKSCOPE_DOCTOR_RETRANSMITS_MIN_SEGMENTS: '1000' } });
      assert.equal(config.doctor.window, '5s');
      assert.equal((config.doctor as any).close_wait.sockets_warning, 50);
      assert.equal((config.doctor as any).close_wait.sockets_critical, 100);
      assert.equal((config.doctor as any).retransmits.min_segments, 1000);
      assert.equal(origins.get('doctor.close_wait.sockets_warning'), `file ${file}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sockscope doctor: usage and configuration errors exit 2 with one line', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [BIN, 'doctor', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  const dir = mkdtempSync(join(tmpdir(), 'doc-usage-'));
  const bad = join(dir, 'bad.toml');
  writeFileSync(bad, '[doctor.close_wait]\nsockets_warnin = 5\n');
  const negative = join(dir, 'neg.toml');
  writeFileSync(negative, '[doctor.accept_queue]\nfill_warning = -1\n');
  for (const [args, pattern] of [
    [['--window', '0s'], /--window must be a duration/],
    [['--window', 'soon'], /--window must be a duration/],
    [['--format', 'xml'], /--format must be 'text' or 'json'/],
    [['--check', 'nope'], /unknown check 'nope': expected one of close_wait, accept_queue/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['-N', 'doc-no-such-netns'], /unknown network namespace 'doc-no-such-netns'/],
    [['--config', bad], /doctor\.close_wait\.sockets_warnin/],
    [['--config', negative], /doctor\.accept_queue\.fill_warning/],
  ] as const) {
    test(`${args.join(' ')}`, () => {
      const r = run([...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    });
  }
  test('--help prints the checks and exits 0', () => {
    const out = execFileSync(process.execPath, [BIN, 'doctor', '--help'], { encoding: 'utf8' });
    for (const id of CHECK_IDS) assert.match(out, new RegExp(id));
    rmSync(dir, { recursive: true, force: true });
  });
});
