/**
 * The doctor collector in the agent's namespace walk (kept sockets): each namespace's window is the interval since
 * its own last gather, and its counters and sysctls are its own — not the walking thread's namespace's. One namespace
 * caps TIME_WAIT at 4 buckets (net.ipv4.tcp_max_tw_buckets is a sysctl of the namespace) and fills them; another
 * keeps the default cap: only the first gets a time_wait finding.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Metric } from '../../src/model/metric.js';
import { gatherAllNetns } from '../../src/netns/all.js';
import { NetnsWalker } from '../../src/netns/walk.js';

const root = process.getuid?.() === 0;
const tools = ['ip', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (ip netns add)' : !tools ? 'needs ip and python3' : false;
const NAMES = [`dw-full-${process.pid}`, `dw-calm-${process.pid}`];

function ipNetns(name: string, cmd: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${cmd.join(' ')} in ${name}: ${r.stderr}`);
  return r.stdout;
}

/** n loopback connections that the client closes first: n TIME_WAIT sockets (as many as the cap lets live) */
const TIME_WAITS = `
import socket, sys
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(64)
for _ in range(int(sys.argv[1])):
    c = socket.create_connection(srv.getsockname()); a, _ = srv.accept()
    c.close(); a.recv(1); a.close()
`;

describe('the doctor collector over kept namespace sockets', { skip }, () => {
  before(() => {
    for (const n of NAMES) {
      spawnSync('ip', ['netns', 'add', n]);
      ipNetns(n, ['ip', 'link', 'set', 'lo', 'up']);
    }
    ipNetns(NAMES[0], ['sysctl', '-qw', 'net.ipv4.tcp_max_tw_buckets=4']);
    for (const n of NAMES) ipNetns(n, ['python3', '-c', TIME_WAITS, '6']);
  });
  after(() => {
    for (const n of NAMES) spawnSync('ip', ['netns', 'delete', n]);
  });

  test("each namespace's own sysctls and counters, compared with its own previous gather", async () => {
    const tw = (n: string) => Number(/\btw (\d+)/.exec(ipNetns(n, ['cat', '/proc/net/sockstat']))![1]);
    assert.equal(tw(NAMES[0]), 4, 'the capped namespace holds 4 TIME_WAIT sockets');
    assert.ok(tw(NAMES[1]) >= 6, 'the other one all of its own');
    const walker = new NetnsWalker({ threads: 1, keepSockets: true });
    try {
      const gatherOnce = async () => {
        const got: Metric[] = [];
        const r = await gatherAllNetns({ measurements: ['doctor'] }, walker, { select: { netns: NAMES }, hostPods: false }, (m) => got.push(m), {
          includeOwn: false,
        });
        assert.equal(r.report.ok, NAMES.length, r.report.notes.join('; '));
        return got.filter((m) => m.schema.name === 'doctor_time_wait');
      };
      await gatherOnce(); // the first gather of each namespace: its window starts
      // the second and third over the kept sockets (the thread does not enter the namespaces to dump them)
      for (let k = 0; k < 2; k++) {
        const got = await gatherOnce();
        const by = new Map(got.map((m) => [m.tags.netns, m.fields.usage]));
        assert.equal(by.get(NAMES[0]), 100, `4 of 4 buckets in ${NAMES[0]} (gather ${k + 2}): ${JSON.stringify(got)}`);
        assert.equal(by.has(NAMES[1]), false, `${NAMES[1]} keeps the default cap: ${JSON.stringify(got)}`);
      }
    } finally {
      await walker.close();
    }
  });
});
