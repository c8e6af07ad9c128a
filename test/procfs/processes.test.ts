/**
 * -p's /proc walk: the single-threaded walk (node:fs, and readlinkat through libc) and the parallel one (worker
 * threads) build the same index. First on a /proc-shaped directory with known contents, where a process that
 * "exits" mid-walk (its fd directory is gone) and one we may not read are deterministic; then on the live /proc
 * with a namespace's population and a socket shared by two processes after fork().
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { indexSocketHoldersParallel, ParallelHolderWalk } from '../../src/procfs/holders-parallel.js';
import { indexSocketHolders, type SocketHolders, type WalkLibc } from '../../src/procfs/processes.js';
import { loadLibc } from '../../src/sys/libc.js';
import { holdPython, netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { sleep } from '../helpers/wait.js';

/** Every (inode, pid, fd) of an index, sorted; restricted to some pids when given. */
function rows(index: SocketHolders, pids?: Set<number>): string[] {
  const out: string[] = [];
  for (const inode of index.inodes()) {
    for (const h of index.holders(inode)) if (!pids || pids.has(h.pid)) out.push(`${inode} ${h.pid} ${h.fd} ${h.comm}`);
  }
  return out.sort();
}

let libc: WalkLibc | undefined;
const loadWalkLibc = async () => (libc ??= await loadLibc());

describe('the /proc walk on a /proc-shaped directory', () => {
  let root = '';
  const process = (pid: number, comm: string, fds: Record<number, string>) => {
    mkdirSync(join(root, String(pid), 'fd'), { recursive: true });
    writeFileSync(join(root, String(pid), 'comm'), `${comm}\n`);
    for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(root, String(pid), 'fd', fd));
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'sockscope-proc-'));
    process(1, 'init', { 0: '/dev/null', 3: 'socket:[100]', 4: 'pipe:[7]' });
    // a socket shared after fork(): parent 40 and child 41, at different fds; 41's fd 10 listed before fd 9
    process(40, 'server', { 9: 'socket:[4000]', 12: 'socket:[4001]', 2: 'anon_inode:[eventpoll]' });
    process(41, 'server-child', { 10: 'socket:[4000]', 9: 'socket:[4002]', 11: 'socket:[4000]' });
    // not sockets, or not quite: ignored
    process(50, 'odd', { 3: 'socket:[]', 4: 'socket:[12x]', 5: 'socket:[55', 6: '/tmp/socket:[56]', 7: 'socket:[4294967296]' });
    for (let pid = 100; pid < 160; pid++) process(pid, `w${pid}`, { 3: `socket:[${pid * 10}]`, 4: `socket:[${pid * 10 + 1}]` });
    // exited between the readdir of /proc and the walk of its fds: the entry is there, its fd directory is not
    mkdirSync(join(root, '60'));
    // an fd "directory" we cannot list (root reads every directory, so a file stands in: ENOTDIR)
    mkdirSync(join(root, '70'));
    writeFileSync(join(root, '70', 'fd'), '');
    // not processes
    mkdirSync(join(root, 'net'));
    writeFileSync(join(root, 'self'), '');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const check = (index: SocketHolders) => {
    assert.deepEqual(index.holders(4000), [
      { pid: 40, comm: 'server', fd: 9 },
      { pid: 41, comm: 'server-child', fd: 10 },
      { pid: 41, comm: 'server-child', fd: 11 },
    ]);
    assert.equal(index.ssUsers(4000), 'users:(("server",pid=40,fd=9),("server-child",pid=41,fd=10),("server-child",pid=41,fd=11))');
    assert.equal(index.holdersJson(100), '[{"pid":1,"comm":"init","fd":3}]');
    assert.deepEqual(index.holders(4294967296), [{ pid: 50, comm: 'odd', fd: 7 }], 'inodes beyond 32 bits stay exact');
    assert.deepEqual(index.holders(1591), [{ pid: 159, comm: 'w159', fd: 4 }]);
    assert.equal(index.has(7), false, 'a pipe is no socket');
    assert.equal(index.has(55), false);
    assert.equal(index.has(56), false);
    assert.equal(index.size, 1 + 3 + 1 + 120);
    assert.equal(index.processes, 1 + 2 + 1 + 60);
    assert.equal(index.vanishedPids, 1);
    assert.equal(index.deniedPids, 1);
    assert.equal(
      index.note(),
      'process attribution is partial: 1 processes could not be inspected (permission denied: run as root for all); 1 exited during the walk',
    );
  };

  it('node:fs, single-threaded', () => check(indexSocketHolders(root)));
  it('readlinkat through libc, single-threaded', async () => check(indexSocketHolders(root, await loadWalkLibc())));
  for (const workers of [1, 2, 3, 4]) {
    it(`${workers} worker${workers > 1 ? 's' : ''}`, async () => {
      const index = await indexSocketHoldersParallel({ procRoot: root, workers });
      check(index);
      assert.deepEqual(rows(index), rows(indexSocketHolders(root)));
    });
  }
  it('workers that walk everything while this thread waits, and workers this thread outruns, give the same index', async () => {
    // joined at once: this thread usually walks every entry before a worker has started (they are cancelled)
    const outrun = await ParallelHolderWalk.start({ procRoot: root, workers: 4 }).finish();
    // joined late: the workers have taken every entry
    const walk = ParallelHolderWalk.start({ procRoot: root, workers: 2 });
    await sleep(500);
    const late = await walk.finish();
    check(outrun);
    check(late);
    assert.deepEqual(rows(late), rows(outrun));
  });
  it('a /proc that cannot be read counts as denied, in parallel too', async () => {
    const missing = join(root, 'nothing-here');
    for (const index of [indexSocketHolders(missing), await indexSocketHoldersParallel({ procRoot: missing, workers: 2 })]) {
      assert.equal(index.size, 0);
      assert.equal(index.deniedPids, 1);
    }
  });
  it('an aborted walk rejects', async () => {
    const abort = new AbortController();
    const walk = indexSocketHoldersParallel({ procRoot: root, workers: 2, signal: abort.signal });
    abort.abort();
    await assert.rejects(walk);
  });
});

const support = netnsSupport();
describe('the /proc walk on the live /proc', { skip: support.skip ?? false }, () => {
  let ns: PopulationNetns | undefined;
  before(async () => {
    ns = await PopulationNetns.start();
  });
  after(async () => {
    await ns?.stop();
  });

  /** A process and its descendants, from /proc/<pid>/task/<tid>/children. */
  const family = (pid: number): number[] => {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      /* exited */
    }
    return [pid, ...children.flatMap(family)];
  };

  it('the parallel index is the single-threaded one, for a population and a socket shared after fork()', async () => {
    const shared = await holdPython(
      ns!,
      String.raw`
import os, socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
extra = [socket.socket() for _ in range(50)]
pid = os.fork()
if pid == 0:
    extra2 = [socket.socket() for _ in range(20)]
    sys.stdin.read(); os._exit(0)
print(s.fileno(), pid, os.getpid(), flush=True)
sys.stdin.read()
`,
      'a socket shared after fork()',
    );
    try {
      const [fd, childPid, parentPid] = shared.line.split(' ').map(Number);
      const stable = new Set([...family(ns!.pid), parentPid, childPid]);
      assert.ok(stable.size >= 3, `pids ${[...stable]}`);
      const sync = indexSocketHolders();
      const viaLibc = indexSocketHolders('/proc', await loadWalkLibc());
      const parallel = await indexSocketHoldersParallel({ workers: 2 });
      const four = await indexSocketHoldersParallel({ workers: 4 });
      const started = ParallelHolderWalk.start({ workers: 2 });
      await sleep(100);
      const late = await started.finish();
      const expected = rows(sync, stable);
      // the population's sockets, the listener twice, 50 + 20 more
      assert.ok(expected.length > 70 + 2 + 20, `${expected.length} rows`);
      assert.deepEqual(rows(viaLibc, stable), expected);
      assert.deepEqual(rows(parallel, stable), expected);
      assert.deepEqual(rows(four, stable), expected);
      assert.deepEqual(rows(late, stable), expected);
      const listener = [...parallel.inodes()].find((inode) => parallel.holders(inode).some((h) => h.pid === parentPid && h.fd === fd));
      assert.ok(listener !== undefined, 'the listener is indexed');
      assert.deepEqual(
        parallel.holders(listener!).map((h) => [h.pid, h.fd]),
        [
          [parentPid, fd],
          [childPid, fd],
        ].sort((a, b) => a[0] - b[0]),
      );
      assert.equal(parallel.holders(listener!)[0].comm.startsWith('python'), true);
    } finally {
      await shared.stop();
    }
  });

  it('processes that come and go during the walk leave it partial, never failed', async () => {
    // a python that forks short-lived children holding sockets, as fast as it can, while we walk
    const churn = await holdPython(
      ns!,
      String.raw`
import os, socket, sys, threading, time
stop = False
def loop():
    while not stop:
        pid = os.fork()
        if pid == 0:
            s = [socket.socket() for _ in range(20)]; os._exit(0)
        os.waitpid(pid, 0)
threading.Thread(target=loop, daemon=True).start()
print('churning', flush=True)
sys.stdin.read()
`,
      'short-lived processes',
    );
    try {
      for (let i = 0; i < 2; i++) {
        const index = await indexSocketHoldersParallel({ workers: 2 });
        assert.ok(index.size > 0);
        const stable = new Set(family(ns!.pid));
        assert.deepEqual(rows(index, stable), rows(indexSocketHolders(), stable));
      }
    } finally {
      await churn.stop();
    }
  });
});
