/**
 * readProcText: the text of a /proc file (size 0 on stat, produced as it is read) and of a file larger than the
 * thread's first buffer, the same as readFileSync gives; undefined, never a throw, for a file that is not there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readProcText } from '../../src/procfs/read.js';

describe('readProcText', () => {
  it('reads a /proc file whole', () => {
    // /proc/self/status changes as it is read (memory figures), its first line does not
    const text = readProcText('/proc/self/status');
    assert.ok(text?.startsWith('Name:'));
    assert.match(text ?? '', /^Pid:\s+\d+$/m);
    assert.equal(readProcText('/proc/sys/kernel/ostype'), readFileSync('/proc/sys/kernel/ostype', 'latin1'));
  });

  it('reads a file larger than its buffer, and a small one after it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockscope-read-'));
    try {
      const big = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`).join('\n');
      writeFileSync(join(dir, 'big'), big, 'latin1');
      writeFileSync(join(dir, 'small'), 'one\n', 'latin1');
      assert.ok(big.length > 64 * 1024);
      assert.equal(readProcText(join(dir, 'big')), big);
      assert.equal(readProcText(join(dir, 'small')), 'one\n');
      assert.equal(readProcText(join(dir, 'empty-not-there')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says undefined for what cannot be read', () => {
    assert.equal(readProcText('/proc/0/cgroup'), undefined);
    assert.equal(readProcText('/proc'), undefined); // a directory: EISDIR on read
  });
});
