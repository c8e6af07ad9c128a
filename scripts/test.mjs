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
// Heavy suites live in folders of their own (dist/test/<suite>/) and run only when asked for (package: the
// single executable and the .deb, built first by `npm run test:package`):
// `node scripts/test.mjs --suite zabbix-server` (npm run test:zabbix-server); everything else is `npm test`.
const SUITES = ['zabbix-server', 'package'];
const args = process.argv.slice(2);
const suite = args[0] === '--suite' ? args[1] : undefined;
const only = suite ? args.slice(2) : args;
const inSuite = (f) => SUITES.find((s) => f.startsWith(`${join(root, s)}/`));
const pool = files.filter((f) => inSuite(f) === suite);
const chosen = only.length ? pool.filter((f) => only.some((o) => f.includes(o))) : pool;
if (chosen.length === 0) {
  console.error('no test files found under dist/test (run `npm run build` first)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
