/** `ls -E`'s contract with people and scripts: what it cannot do says so in one line, exit 2, before subscribing. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const bin = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));

describe('ls -E usage', () => {
  const bad: [string[], RegExp][] = [
    [['ls', '-E', '-x'], /-E follows TCP and UDP sockets only \(the kernel announces no others\): drop --unix/],
    [['ls', '-E', '--format', 'json'], /-E writes --format table or ndjson \(sockets stream as they close\), got 'json'/],
    [['ls', '-E', '-p'], /-E cannot be combined with -s, -p or -r/],
    [['ls', '--rcvbuf', '65536'], /--rcvbuf is for -E/],
    [['ls', '-E', '--rcvbuf', '12k'], /--rcvbuf must be a number of bytes between 1024 and 1073741824, got '12k'/],
  ];
  for (const [args, message] of bad) {
    it(`${args.join(' ')} → one line on stderr, exit 2`, () => {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  it("gather --measurement lifecycle says it is the agent's (one line, no stack)", () => {
    const r = spawnSync(process.execPath, [bin, 'gather', '--measurement', 'lifecycle'], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0);
    assert.equal(
      r.stderr,
      'sockscope: error: collector lifecycle failed: lifecycle counts closed connections between gathers: it runs in the agent, not in a one-shot gather\n',
    );
  });
});
