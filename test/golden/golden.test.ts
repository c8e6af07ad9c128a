/**
 * Golden outputs: the bytes every user-facing output prints for the recorded fixture snapshot (cases.ts says
 * which, runner.ts runs them in a fresh network namespace), compared with test/golden/expected/. A change here
 * is a change users see: only a deliberate one may update the files, with UPDATE_GOLDEN=1 (never silently),
 * and its commit says why. See README.md.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { netnsSupport } from '../helpers/netns.js';
import { FIXTURES } from '../helpers/recorded.js';
import type { Population } from '../helpers/population-holder.js';
import { goldenCases } from './cases.js';
import type { CaseResult } from './runner.js';

const EXPECTED = fileURLToPath(new URL('../../../test/golden/expected/', import.meta.url));
const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const population = (JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as { population: Population }).population;
const cases = goldenCases(population);
const support = netnsSupport();

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('golden outputs of the recorded fixture snapshot', { skip: support.skip }, () => {
  let results: Record<string, CaseResult> = {};
  const tmp = mkdtempSync(join(tmpdir(), 'r1-golden-'));

  before(() => {
    const out = join(tmp, 'results.json');
    // a fresh network namespace with loopback up (the Zabbix trapper of the send cases listens there)
    const flags = support.mode === 'root' ? ['-n'] : ['-rn'];
    const r = spawnSync('unshare', [...flags, 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, RUNNER, out], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(r.status, 0, `the golden runner failed (${r.signal ?? r.status}): ${r.stderr}`);
    results = JSON.parse(readFileSync(out, 'utf8'));
    if (update) {
      rmSync(EXPECTED, { recursive: true, force: true });
      for (const [file, res] of Object.entries(results)) {
        mkdirSync(dirname(join(EXPECTED, file)), { recursive: true });
        writeFileSync(join(EXPECTED, file), Buffer.from(res.stdout, 'base64'));
        if (res.stderr) writeFileSync(join(EXPECTED, `${file}.stderr`), res.stderr);
      }
      process.stderr.write(`UPDATE_GOLDEN=1: wrote ${Object.keys(results).length} golden files under test/golden/expected: review the diff\n`);
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const c of cases) {
    const what =
      c.kind === 'cli'
        ? `sockscope ${c.argv.join(' ')}`
        : c.kind === 'zabbix-send'
          ? `the frame of sockscope zabbix send ${c.argv.join(' ')}`
          : `the ${c.writer} writer with fixed ${c.with}, flags '${c.flags}'`;
    it(`${c.file}: ${what}`, () => {
      const res = results[c.file];
      assert.ok(res, `no result for ${c.file}`);
      assert.equal(res.exitCode, 0, `exit ${res.exitCode}: ${res.stderr}`);
      const got = Buffer.from(res.stdout, 'base64');
      assert.ok(got.length > 0, 'an output to pin');
      const file = join(EXPECTED, c.file);
      assert.ok(existsSync(file), `${c.file} has no golden file: run the suite with UPDATE_GOLDEN=1 and review the new file`);
      const hint = `${c.file} differs from its golden file: if the change is deliberate, rerun with UPDATE_GOLDEN=1, review the diff and say why in the commit`;
      // text for a readable diff; bytes so nothing (a trailing newline, an encoding) slips through
      assert.equal(got.toString('utf8'), readFileSync(file, 'utf8'), hint);
      assert.ok(got.equals(readFileSync(file)), hint);
      const errFile = `${file}.stderr`;
      assert.equal(res.stderr, existsSync(errFile) ? readFileSync(errFile, 'utf8') : '', `${c.file}: what it wrote on stderr changed`);
    });
  }

  it('every golden file belongs to a case (none left over from a removed case)', () => {
    const known = new Set(cases.flatMap((c) => [c.file, `${c.file}.stderr`]));
    const stray = listFiles(EXPECTED)
      .map((f) => relative(EXPECTED, f))
      .filter((f) => !known.has(f) && f !== 'README.md');
    assert.deepEqual(stray, []);
  });
});
