/**
 * -z's sock_ctx=: the label getfilecon(3) reads through /proc/PID/fd/FD (the link followed), or `unavailable`.
 * This kernel has no SELinux, so a socket carries no label: the labelled descriptor is a file given a
 * security.selinux attribute (root may set it where no LSM claims it), read through the same /proc link.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { socketContext } from '../../src/procfs/security-context.js';
import { loadLibc } from '../../src/sys/libc.js';

test('socketContext reads security.selinux through /proc/PID/fd/FD, up to its NUL', async (t) => {
  await loadLibc();
  const path = join(tmpdir(), `sspar2-label-${process.pid}`);
  writeFileSync(path, '');
  const fd = openSync(path, 'r');
  try {
    const label = 'system_u:object_r:sockscope_test_t:s0';
    const set = spawnSync('python3', ['-c', `import os; os.setxattr(${JSON.stringify(path)}, 'security.selinux', b'${label}\\0')`]);
    if (set.status !== 0) {
      t.skip('security.* attributes cannot be set here (not root, or an LSM claims them)');
      return;
    }
    assert.equal(socketContext(process.pid, fd), label);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
});

test('socketContext says unavailable, as ss, for a socket without a label and for a descriptor gone', async () => {
  await loadLibc();
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 2);
    // no SELinux on this kernel: the socket's inode has no security.selinux
    if (spawnSync('sh', ['-c', 'test -e /sys/fs/selinux']).status !== 0) assert.equal(socketContext(process.pid, fd), 'unavailable');
    assert.equal(socketContext(process.pid, 1 << 20), 'unavailable');
    assert.equal(socketContext(2 ** 22 + 1, 3), 'unavailable');
  } finally {
    server.close();
  }
});
