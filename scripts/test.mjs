#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in runner. A script rather than a
// shell glob: npm's sh has no recursive **, and node 20 and 22 read `--test` arguments differently.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk(root);
// *.package.test.js test the built artifacts (single executable, .deb): `npm run test:package` builds them
// and runs these (--package); `npm test` runs everything else.
const args = process.argv.slice(2);
const packaged = args.includes('--package');
const only = args.filter((a) => a !== '--package');
const kind = files.filter((f) => f.endsWith('.package.test.js') === packaged);
const chosen = only.length ? kind.filter((f) => only.some((o) => f.includes(o))) : kind;
if (chosen.length === 0) {
  console.error('no test files found under dist/test (run `npm run build` first)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
