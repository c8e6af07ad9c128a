/**
 * A namespace's sockstat counters (src/snapshot/sockstat.ts): from recorded files by path and through
 * SnapshotOptions.sockstatFiles (the files win over procRoot), and in a throwaway namespace through the files the
 * agent's walk keeps open (src/netns/counters.ts CounterFiles): read again, they count what changed since, as
 * the same file opened by path does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sockstatCounters } from '../../src/snapshot/sockstat.js';
import { netnsSupport } from '../helpers/netns.js';
import { fixtureText } from '../helpers/recording.js';

const support = netnsSupport();
const mod = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));
const RECORDED = { tcpTimeWait: 3, udp: 3, udp6: 3, tcpInuse: [17, 13] };

describe('sockstat counters', () => {
  it('recorded files: by path under procRoot, and through sockstatFiles (which win over procRoot)', () => {
    const root = fileURLToPath(new URL('../../../test/fixtures/proc', import.meta.url)).replace(/\/$/, '');
    assert.deepEqual({ ...sockstatCounters(root, true, true) }, RECORDED);
    const files = (name: 'sockstat' | 'sockstat6') => fixtureText(`proc/net/${name}`);
    assert.deepEqual({ ...sockstatCounters('/nonexistent', true, true, files) }, RECORDED);
    // unreadable through the files: unknown, not 0
    assert.deepEqual({ ...sockstatCounters(root, true, true, () => undefined) }, { tcpTimeWait: undefined, udp: undefined, udp6: undefined });
  });

  it('through the kept files of a namespace: each read counts the sockets now, as by path', { skip: support.skip }, () => {
    const script = `
      const { CounterFiles } = await import(${mod('netns/counters.js')});
      const { sockstatCounters } = await import(${mod('snapshot/sockstat.js')});
      const net = await import('node:net');
      const files = CounterFiles.open('/proc/thread-self');
      const both = () => [sockstatCounters('/proc', true, true, files.sockstat).tcpInuse, sockstatCounters('/proc', true, true).tcpInuse];
      const out = [both()];
      const a = net.createServer().listen(0, '127.0.0.1');
      const b = net.createServer().listen(0, '::1');
      await Promise.all([a, b].map((s) => new Promise((r) => s.once('listening', r))));
      out.push(both());
      a.close(); b.close(); files.close();
      console.log(JSON.stringify(out));`;
    const r = spawnSync(
      'unshare',
      [support.mode === 'user' ? '-rn' : '-n', 'sh', '-c', `ip link set lo up && sleep 0.3 && exec "$0" --input-type=module -e "$1"`, process.execPath, script],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const [[kept0, path0], [kept1, path1]] = JSON.parse(r.stdout);
    assert.deepEqual(kept0, [0, 0]);
    assert.deepEqual(path0, [0, 0]);
    assert.deepEqual(kept1, [1, 1], 'a listener of each family, read again through the same open files');
    assert.deepEqual(path1, [1, 1]);
  });
});
