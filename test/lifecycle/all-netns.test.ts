/**
 * The agent's lifecycle collector with [netns]: one destroy-event subscription per other namespace, opened and
 * kept in the walker's thread (NetnsWalker, as src/netns/agent.ts runs it), each namespace's closed connections
 * counted in its own points with the namespace's labels; a namespace that goes away drops its subscription.
 * Two throwaway namespaces (ip netns, named life2-*), connections with known byte counts made in each.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { GatherConfig } from '../../src/gather/gather.js';
import type { Metric } from '../../src/model/metric.js';
import { gatherAllNetns } from '../../src/netns/all.js';
import { NetnsWalker } from '../../src/netns/walk.js';
import { sleep } from '../helpers/wait.js';

const root = process.getuid?.() === 0;
const tools = ['ip', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (ip netns add)' : !tools ? 'needs ip and python3' : false;

const NAMES = [`life2-lc-a-${process.pid}`, `life2-lc-b-${process.pid}`];
const CONFIG: GatherConfig = { measurements: ['lifecycle'], lifecycle: { groups: [], autoPorts: true, maxGroups: 256, rcvbufBytes: 1 << 20 } };

/** N connections to a listener on `port` inside the namespace: the client sends `up` bytes, the server `down`. */
function connections(name: string, port: number, n: number, up: number, down: number): void {
  const py = `
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('127.0.0.1', ${port})); l.listen(64)
def serve():
    for _ in range(${n}):
        c, _ = l.accept()
        got = 0
        while got < ${up}:
            got += len(c.recv(65536))
        c.sendall(b'y' * ${down}); c.shutdown(socket.SHUT_WR)
        while c.recv(65536): pass
        c.close()
t = threading.Thread(target=serve); t.start()
for _ in range(${n}):
    s = socket.create_connection(('127.0.0.1', ${port}))
    s.sendall(b'x' * ${up})
    got = 0
    while True:
        b = s.recv(65536)
        if not b: break
        got += len(b)
    assert got == ${down}
    s.close()
t.join()
`;
  const r = spawnSync('ip', ['netns', 'exec', name, 'python3', '-c', py], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
}

/** Sockets this process holds (the subscriptions' among them). */
const socketFds = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;

describe('lifecycle with [netns]: a subscription per namespace', { skip }, () => {
  let walker: NetnsWalker;
  let inodes: string[];

  before(() => {
    for (const n of NAMES) {
      spawnSync('ip', ['netns', 'del', n]);
      assert.equal(spawnSync('ip', ['netns', 'add', n]).status, 0, `ip netns add ${n}`);
      assert.equal(spawnSync('ip', ['-n', n, 'link', 'set', 'lo', 'up']).status, 0);
    }
    inodes = NAMES.map((n) => String(statSync(`/run/netns/${n}`).ino));
    walker = new NetnsWalker({ threads: 1 });
  });
  after(async () => {
    await walker?.close();
    for (const n of NAMES) spawnSync('ip', ['netns', 'del', n]);
  });

  const gatherNow = async (select: string[]) => {
    const metrics: Metric[] = [];
    const { report } = await gatherAllNetns(CONFIG, walker, { select: { netns: select } }, (m) => metrics.push(m), { includeOwn: false, lifecycle: true });
    return { metrics, report };
  };
  const point = (ms: Metric[], netns: string, direction: string, addrPort: string) =>
    ms.find((m) => m.schema.name === 'lifecycle' && m.tags.netns === netns && m.tags.direction === direction && m.tags.addr_port === addrPort)?.fields;

  test("each namespace's closed connections in its own points, labelled; a vanished namespace drops its subscription", async () => {
    const first = await gatherNow(inodes);
    assert.equal(first.report.ok, 2, first.report.notes.join('; '));
    for (const m of first.metrics) assert.ok(NAMES.includes(m.tags.netns), `labelled: ${JSON.stringify(m.tags)}`);
    const withTwo = socketFds();

    connections(NAMES[0], 7000, 5, 1000, 3000);
    connections(NAMES[1], 7001, 3, 200, 100);
    // the events come from a kernel workqueue shortly after the close: wait until every one is counted
    let second: Awaited<ReturnType<typeof gatherNow>> | undefined;
    for (let i = 0; i < 100; i++) {
      second = await gatherNow(inodes);
      const ev = (n: string) => Number(second!.metrics.find((m) => m.schema.name === 'lifecycle_events' && m.tags.netns === n)?.fields.events);
      if (ev(NAMES[0]) >= 10 && ev(NAMES[1]) >= 6) break;
      await sleep(100);
    }
    const ms = second!.metrics;
    const a = point(ms, NAMES[0], 'inbound', '7000');
    const aOut = point(ms, NAMES[0], 'outbound', 'remote:7000');
    const b = point(ms, NAMES[1], 'inbound', '7001');
    assert.ok(a && aOut && b, JSON.stringify(ms.map((m) => m.tags)));
    assert.equal(a.closed, 5);
    assert.equal(aOut.closed, 5);
    assert.equal(b.closed, 3);
    // sequence space: the accepting side's received = data + the client's FIN, acked = data + its own FIN
    assert.equal(a.closed_bytes_received, 5 * (1000 + 1));
    assert.equal(a.closed_bytes_acked, 5 * (3000 + 1));
    assert.equal(b.closed_bytes_received, 3 * (200 + 1));
    assert.equal(point(ms, NAMES[1], 'inbound', '7000'), undefined, "no namespace counts the other's");
    assert.equal(point(ms, NAMES[0], 'inbound', '7001'), undefined);
    for (const n of NAMES) assert.equal(ms.find((m) => m.schema.name === 'lifecycle_events' && m.tags.netns === n)!.fields.lost, 0);

    // life2-lc-b goes: its subscription (and its socket) goes with the next gather
    assert.equal(spawnSync('ip', ['netns', 'del', NAMES[1]]).status, 0);
    const third = await gatherNow(inodes);
    assert.equal(third.report.ok, 1);
    assert.ok(third.metrics.every((m) => m.tags.netns === NAMES[0]));
    assert.equal(socketFds(), withTwo - 1, 'one subscription socket fewer');
    // lifecycle no longer asked for: every subscription goes
    await gatherAllNetns({ measurements: ['netstat'], netstat: { perIpVersion: false } }, walker, { select: { netns: inodes } }, () => undefined, {
      includeOwn: false,
      lifecycle: true,
    });
    assert.equal(socketFds(), withTwo - 2, 'no subscription socket left');
  });
});
