/**
 * bin/sockscope.js's start (src/cli/launch.ts): the bundle compiled from a per-command V8 code cache in a
 * private directory. The cache is written once by a run that succeeded, used by the next ones, replaced when
 * V8 refuses it or it was made from another bundle, and never a reason for a run to fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { codeCacheFile } from '../../src/cli/launch.js';
import { cleanEnv, tempDir } from '../helpers/agent.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin', 'sockscope.js');
const bundle = join(root, 'dist', 'bundle', 'sockscope.cjs');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh private cache directory for one test. */
function cacheDir(): string {
  const d = tempDir('startup-cache');
  dirs.push(d);
  return d;
}

function run(args: string[], env: Record<string, string>) {
  // the host's own sockets: other tests' connections can make the listing larger than spawnSync's 1 MiB default
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, env: cleanEnv(env), maxBuffer: 1 << 30 });
}

const cacheOf = (dir: string, command: string) => join(dir, `v8-${command}-${process.version}-${process.arch}.cache`);
const bundleHash = () => /^\/\/ sockscope-bundle sha256=([0-9a-f]{64})\n/.exec(readFileSync(bundle, 'utf8'))?.[1];

describe('the code cache of the bundle', () => {
  it('one file per command word, in the first private directory; none when NODE_DISABLE_COMPILE_CACHE is set', () => {
    const dir = cacheDir();
    assert.equal(codeCacheFile(['ls', '-tan'], { CACHE_DIRECTORY: dir }), cacheOf(dir, 'ls'));
    assert.equal(codeCacheFile(['gather', '--measurement', 'netstat'], { CACHE_DIRECTORY: dir }), cacheOf(dir, 'gather'));
    // the summary: options only, or no argument at all; a word that is not a plain command name shares it
    assert.equal(codeCacheFile(['--json'], { CACHE_DIRECTORY: dir }), cacheOf(dir, 'summary'));
    assert.equal(codeCacheFile([], { CACHE_DIRECTORY: dir }), cacheOf(dir, 'summary'));
    assert.equal(codeCacheFile(['../x'], { CACHE_DIRECTORY: dir }), cacheOf(dir, 'summary'));
    assert.equal(codeCacheFile(['ls'], { CACHE_DIRECTORY: dir, NODE_DISABLE_COMPILE_CACHE: '1' }), undefined);
    // a directory others can write to is passed over (a code cache is code)
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const other = join(dir, 'xdg');
    const chosen = codeCacheFile(['ls'], { CACHE_DIRECTORY: open, XDG_CACHE_HOME: other, HOME: dir });
    assert.ok(chosen && !chosen.startsWith(`${open}/`), `${chosen} is in a directory others can write to`);
  });

  it('written by the first run that succeeds, then used as it is', () => {
    const dir = cacheDir();
    const hash = bundleHash();
    assert.ok(hash, `${bundle} has no header line: npm run build`);
    // --version compiles next to nothing of the command, a failed run may have gone anywhere: neither writes one
    assert.equal(run(['--version'], { CACHE_DIRECTORY: dir }).status, 0);
    assert.equal(run(['--bogus'], { CACHE_DIRECTORY: dir }).status, 2);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('v8-')),
      [],
    );
    const first = run(['--json'], { CACHE_DIRECTORY: dir });
    assert.equal(first.status, 0, first.stderr);
    const file = cacheOf(dir, 'summary');
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 64).toString('latin1'), hash, 'the cache names the bundle it was made from');
    assert.ok(bytes.length > 64 * 1024, `${bytes.length} bytes of bytecode`);
    assert.equal(statSync(file).mode & 0o077, 0, 'only we can read it');
    const before = statSync(file);
    const second = run(['--json'], { CACHE_DIRECTORY: dir });
    assert.equal(second.status, 0, second.stderr);
    assert.ok(Number.isInteger(JSON.parse(second.stdout).total), second.stdout);
    const now = statSync(file);
    assert.deepEqual([now.ino, now.mtimeMs], [before.ino, before.mtimeMs], 'V8 took the cache: it was not written again');
  });

  it('a damaged cache, or one made from another bundle, costs the speed-up only, and is replaced', () => {
    const hash = bundleHash()!;
    const seed = cacheDir();
    assert.equal(run(['ls', '-tan'], { CACHE_DIRECTORY: seed }).status, 0);
    const valid = readFileSync(cacheOf(seed, 'ls'));
    for (const [what, content] of [
      ['garbage after the right hash', Buffer.concat([Buffer.from(hash, 'latin1'), Buffer.alloc(4096, 0x5a)])],
      // V8's own check would take it (it looks at the source's length only): the hash must not
      ['bytecode made from another bundle', Buffer.concat([Buffer.from('0'.repeat(64), 'latin1'), valid.subarray(64)])],
      ['a short file', Buffer.from('x')],
    ] as const) {
      const dir = cacheDir();
      const file = cacheOf(dir, 'ls');
      writeFileSync(file, content, { mode: 0o600 });
      const r = run(['ls', '-tan'], { CACHE_DIRECTORY: dir });
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.match(r.stdout, /^State\s+Recv-Q/, what);
      const now = readFileSync(file);
      assert.equal(now.subarray(0, 64).toString('latin1'), hash, `${what}: replaced by this bundle's cache`);
      assert.notDeepEqual(now, content, what);
    }
  });

  it('NODE_DISABLE_COMPILE_CACHE=1: the bundle runs without one and writes none', () => {
    const dir = cacheDir();
    const r = run(['--json'], { CACHE_DIRECTORY: dir, NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).total >= 0);
    assert.ok(!existsSync(cacheOf(dir, 'summary')));
  });
});
