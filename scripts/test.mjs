#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in runner. A script rather than a
// shell glob: npm's sh has no recursive **, and node 20 and 22 read `--test` arguments differently.
//
// It also holds the layout of test/ (docs/testing.md, "Where a test lives"), so that it stays true:
//   - a unit test lives at the mirror of what it tests: test/<folder>/ for src/<folder>/ (test/errors.test.ts
//     for src/errors.ts); only the named suites below are folders of their own;
//   - every module that is not a test is in test/helpers/, except a named suite's own harness, kept beside it;
//   - each heavy suite is an npm script (`test:<suite>`) that .ci/run calls.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const repo = new URL('../', import.meta.url).pathname;
const root = join(repo, 'dist/test/');
// Suites that test across src/ rather than one folder of it. The heavy ones run only when asked for
// (`node scripts/test.mjs --suite NAME`, through `npm run test:NAME`); the others are part of `npm test`.
const NAMED = ['fuzz', 'golden', 'integration', 'replay'];
const HEAVY = ['zabbix-server', 'package'];

const files = [];
const strays = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.js')) {
      const source = join(repo, relative(join(repo, 'dist'), p)).replace(/\.js$/, '.ts');
      if (!existsSync(source)) continue; // left in dist/ by a source that was moved or deleted
      const rel = relative(root, p);
      const top = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '';
      if (name.endsWith('.test.js')) {
        files.push(p);
        const mirrored = existsSync(join(repo, 'src', dirname(rel))) || existsSync(join(repo, 'src', rel.replace(/\.test\.js$/, '.ts')));
        if (![...NAMED, ...HEAVY].includes(top) && !mirrored) strays.push(`test/${rel.replace(/\.js$/, '.ts')}: no src/${dirname(rel)}/ to mirror`);
      } else if (top !== 'helpers' && ![...NAMED, ...HEAVY].includes(top)) {
        strays.push(`test/${rel.replace(/\.js$/, '.ts')}: not a test, so it belongs in test/helpers/`);
      }
    }
  }
};
walk(root);
if (strays.length) {
  console.error(`test/ does not follow its layout (docs/testing.md, "Where a test lives"):\n  ${strays.join('\n  ')}`);
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const ci = readFileSync(join(repo, '.ci/run'), 'utf8');
for (const s of HEAVY) {
  const script = `test:${s}`;
  if (!pkg.scripts[script]?.includes(`--suite ${s}`)) throw new Error(`package.json: ${script} must run \`node scripts/test.mjs --suite ${s}\``);
  if (!new RegExp(`^npm run ${script}$`, 'm').test(ci)) throw new Error(`.ci/run must call \`npm run ${script}\``);
}

const args = process.argv.slice(2);
const suite = args[0] === '--suite' ? args[1] : undefined;
if (suite !== undefined && !HEAVY.includes(suite)) throw new Error(`--suite ${suite}: expected one of ${HEAVY.join(', ')}`);
const only = suite ? args.slice(2) : args;
const inSuite = (f) => HEAVY.find((s) => f.startsWith(`${join(root, s)}/`));
const pool = files.filter((f) => inSuite(f) === suite);
const chosen = only.length ? pool.filter((f) => only.some((o) => f.includes(o))) : pool;
if (chosen.length === 0) {
  console.error('no test files found under dist/test (run `npm run build` first)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
