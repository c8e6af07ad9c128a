#!/usr/bin/env node
// Writes the man pages (dist/man/sockscope.1, sockscope-agent.8, sockscope.toml.5) from the compiled specs
// (dist/src/cli/manpage.js): run after tsc (npm run build). The date is SOURCE_DATE_EPOCH's when set
// (reproducible packages), else the last commit's, else today.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const { manPages } = await import(new URL('dist/src/cli/manpage.js', root).href);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
let epoch = Number(process.env.SOURCE_DATE_EPOCH);
if (!epoch) {
  try {
    epoch = Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    epoch = 0;
  }
}
const date = new Date(epoch ? epoch * 1000 : Date.now()).toISOString().slice(0, 10);
const out = new URL('dist/man/', root);
mkdirSync(out, { recursive: true });
for (const page of manPages(version, date)) writeFileSync(new URL(page.file, out), page.text);
