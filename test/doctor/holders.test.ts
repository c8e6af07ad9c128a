/** The targeted /proc walk: it finds the holder of a wanted socket, in or out of the namespace it looks at first. */
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { holdersOf, WantedInodes } from '../../src/doctor/holders.js';

async function listening(): Promise<{ server: Server; inode: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))![1]);
  return { server, inode };
}

describe('doctor holders', { skip: process.platform !== 'linux' }, () => {
  test('finds the process holding a wanted socket, and nothing else', async () => {
    const { server, inode } = await listening();
    try {
      const netns = readlinkSync('/proc/self/ns/net');
      const h = await holdersOf(new Set([inode]), netns);
      assert.deepEqual(
        h.holders(inode).map((x) => x.pid),
        [process.pid],
      );
      assert.equal(h.size, 1, 'only the wanted inode is indexed');
    } finally {
      server.close();
    }
  });

  test('a holder outside the namespace looked at first is still found', async () => {
    const { server, inode } = await listening();
    try {
      const h = await holdersOf(new Set([inode]), 'net:[1]');
      assert.equal(h.holders(inode)[0]?.pid, process.pid);
    } finally {
      server.close();
    }
  });

  test('the recorder answers "no holder" and remembers what was asked', () => {
    const w = new WantedInodes();
    assert.equal(w.has(42), false);
    assert.equal(w.has(7), false);
    assert.deepEqual([...w.inodes], [42, 7]);
    assert.deepEqual(w.holders(), []);
  });
});
