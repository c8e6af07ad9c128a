/**
 * The single executable (npm run build:sea) where there is no Node.js: copied out of the repository and run
 * with every node binary hidden (a private mount namespace with /dev/null bound over them), through every
 * subcommand (test/helpers/artifact.ts); and its cache of native code: written once, private, checked by
 * hash (a changed file is replaced, a directory others can write to is not used).
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/agent.js';
import { exerciseArtifact, runArtifact, type Artifact } from '../helpers/artifact.js';
import { netnsSupport } from '../helpers/netns.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BUILT = join(REPO, 'dist', 'bin', `sockscope-linux-${process.arch}`);
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };

let dir: string;
let exe: Artifact;
let cache: string;

before(() => {
  assert.ok(existsSync(BUILT), `${BUILT} is missing: npm run build:sea`);
  dir = tempDir('sea');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  copyFileSync(BUILT, join(bin, 'sockscope'));
  chmodSync(join(bin, 'sockscope'), 0o755);
  cache = join(dir, 'cache');
  // CACHE_DIRECTORY (systemd's CacheDirectory=) comes first: a fresh, private cache for this test
  exe = { argv: [join(bin, 'sockscope')], hideNode: true, env: { CACHE_DIRECTORY: cache } };
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every subcommand runs with no node binary anywhere', { skip: netnsSupport().skip }, async (t) => {
  await exerciseArtifact(t, exe, version);
});

/** the cached file of an asset */
function cached(name: string): string {
  for (const d of readdirSync(cache)) if (existsSync(join(cache, d, name))) return join(cache, d, name);
  throw new Error(`${name} not in ${cache}`);
}

test('koffi.node is written once to the private cache, checked by hash, and replaced when changed', () => {
  const r = runArtifact(exe, ['--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(
    JSON.parse(r.stdout).sources.some((s: { source: string }) => s.source === 'netlink'),
    'netlink through the cached koffi.node',
  );
  const native = cached('koffi.node');
  assert.equal(statSync(cache).mode & 0o777, 0o700);
  const before = statSync(native);
  assert.equal(runArtifact(exe, ['--format', 'json']).status, 0);
  assert.equal(statSync(native).mtimeMs, before.mtimeMs, 'written once, not on every start');
  chmodSync(native, 0o600);
  writeFileSync(native, 'not the module that was built in');
  const again = runArtifact(exe, ['--format', 'json']);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(
    JSON.parse(again.stdout).sources.some((s: { source: string }) => s.source === 'netlink'),
    'the changed file was replaced, not loaded',
  );
  assert.notEqual(readFileSync(native, 'utf8').slice(0, 10), 'not the m');
});

test('a cache directory others can write to is not used', () => {
  const shared = join(dir, 'shared');
  mkdirSync(shared, { mode: 0o777 });
  chmodSync(shared, 0o777);
  const home = join(dir, 'home');
  mkdirSync(home);
  const r = runArtifact({ ...exe, env: { CACHE_DIRECTORY: shared, HOME: home, XDG_CACHE_HOME: join(home, 'xdg') } }, ['--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(shared), [], 'nothing written to the world-writable directory');
  // root's next choice is /var/cache/sockscope; anyone else's $XDG_CACHE_HOME
  if (process.getuid?.() !== 0) assert.ok(existsSync(join(home, 'xdg', 'sockscope')));
});
