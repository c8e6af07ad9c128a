/**
 * The command's contract with people and scripts: help and version without the native module, and one clear
 * line on stderr with exit status 2 for anything mistyped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = `${root}bin/sockscope.js`;
const noKoffi = `${root}test/fixtures/no-koffi.mjs`;

function run(args: string[], opts: { blockKoffi?: boolean } = {}) {
  const pre = opts.blockKoffi ? ['--import', noKoffi] : [];
  const r = spawnSync(process.execPath, [...pre, bin, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sockscope CLI usage', () => {
  it('--help and --version work when koffi cannot be loaded', () => {
    const help = run(['--help'], { blockKoffi: true });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^sockscope \d+\.\d+\.\d+: /);
    assert.match(help.stdout, /--json/);
    const version = run(['--version'], { blockKoffi: true });
    assert.equal(version.status, 0, version.stderr);
    const pkg = JSON.parse(spawnSync('cat', [`${root}package.json`], { encoding: 'utf8' }).stdout);
    assert.equal(version.stdout.trim(), `sockscope ${pkg.version}`);
  });

  it('the module block really blocks koffi (the test above could not pass by accident)', () => {
    const r = spawnSync(process.execPath, ['--import', noKoffi, '-e', "import('koffi').then(() => process.exit(0), () => process.exit(3))"], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 3);
    const required = spawnSync(process.execPath, ['--import', noKoffi, '-e', "try { require('koffi'); process.exit(0) } catch { process.exit(3) }"], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(required.status, 3, 'require(koffi), as the CommonJS bundle loads it');
    const native = spawnSync(
      process.execPath,
      ['--import', noKoffi, '-e', `try { require('@koromix/koffi-${process.platform}-${process.arch}'); process.exit(0) } catch { process.exit(3) }`],
      { encoding: 'utf8', timeout: 20_000, cwd: root },
    );
    assert.equal(native.status, 3, "require(@koromix/koffi-<platform>), as koffi's JavaScript inside the bundle loads its native module");
  });

  it('without koffi, a summary still comes from /proc/net and says why', () => {
    const r = run(['--json'], { blockKoffi: true });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.ok(
      doc.sources.every((s: { source: string }) => s.source !== 'netlink'),
      JSON.stringify(doc.sources),
    );
    assert.ok(
      doc.notes.some((n: string) => /netlink is unavailable/.test(n) && /tcp_info/.test(n)),
      JSON.stringify(doc.notes),
    );
  });

  const bad: [string[], RegExp][] = [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--top', 'x'], /--top must be a non-negative integer, got 'x'/],
    [['--source', 'kernel'], /--source must be 'auto' or 'proc', got 'kernel'/],
    [['-N', 'no-such-namespace'], /unknown network namespace 'no-such-namespace'/],
    [['extra-positional'], /unknown command 'extra-positional'/],
  ];
  for (const [args, message] of bad) {
    it(`${args.join(' ')} → one line on stderr, exit 2`, () => {
      const r = run(args);
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
    });
  }
});
