/**
 * attributionProblem, the agent's start-up check for process attribution, on /proc-shaped directories with known
 * owners: another user's process whose fd directory can be read is enough; only our own processes, or no /proc,
 * is said with the reason.
 */
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { attributionProblem } from '../../src/procfs/attribution.js';

const root = process.geteuid?.() === 0;

describe('process attribution: can other users’ processes be seen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockscope-habits-attr-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const me = process.geteuid?.();
  const proc = (name: string, pids: [pid: number, uid: number][]) => {
    const p = join(dir, name);
    mkdirSync(join(p, 'self'), { recursive: true }); // not a pid: passed over
    for (const [pid, uid] of pids) {
      mkdirSync(join(p, String(pid), 'fd'), { recursive: true });
      chownSync(join(p, String(pid)), uid, uid);
    }
    return p;
  };

  it('only our own processes: says that no other user’s process is visible', () => {
    assert.equal(
      attributionProblem(
        me,
        proc('own', [
          [1, me ?? 0],
          [2, me ?? 0],
        ]),
      ),
      "no other user's process is visible in /proc",
    );
  });

  it('another user’s process with a readable fd directory: no problem', { skip: !root && 'needs root (chown)' }, () => {
    assert.equal(
      attributionProblem(
        me,
        proc('other', [
          [1, me ?? 0],
          [7, 65534],
        ]),
      ),
      undefined,
    );
  });

  it('no /proc at all: says it cannot be read, with the errno name', () => {
    assert.equal(attributionProblem(me, join(dir, 'missing')), '/proc cannot be read (ENOENT)');
  });
});
