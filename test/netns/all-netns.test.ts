/**
 * --all-netns against a host the test fills with 34 network namespaces (test/netns/world.ts): discovery finds
 * each one with the identity that was laid out (ip netns names, pods and containers from cgroup v2 paths and
 * kubelet's log directories), every namespace's counts equal `ss` run inside it, its kernel counters equal its
 * sockstat, a namespace that vanishes during a gather is skipped and said, and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cgroup2Mount } from '../../src/filter/resolve.js';
import { decodeInetAttributes } from '../../src/diag/inet.js';
import { Proto } from '../../src/diag/constants.js';
import type { Metric } from '../../src/model/metric.js';
import { gatherAllNetns, netnsTags, outcomeNotes, planNamespaces, type NetnsReport } from '../../src/netns/all.js';
import { cgroupPathsByInode, discoverNamespaces, identityOfCgroup, readKubeletLogs, type NetnsInfo } from '../../src/netns/discover.js';
import { NetnsWalker } from '../../src/netns/walk.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { NetnsWorld, type Expected } from './world.js';

const root = process.getuid?.() === 0;
const tools = ['ip', 'unshare', 'nsenter', 'ss', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (ip netns add, cgroup directories)' : !tools ? 'needs ip, unshare, nsenter, ss and python3' : false;

/** ss's state names → netstat field names */
const FIELD: Record<string, string> = {
  ESTAB: 'tcp_established', 'SYN-SENT': 'tcp_syn_sent', 'SYN-RECV': 'tcp_syn_recv', 'FIN-WAIT-1': 'tcp_fin_wait1',
  'FIN-WAIT-2': 'tcp_fin_wait2', 'TIME-WAIT': 'tcp_time_wait', CLOSE: 'tcp_close', 'CLOSE-WAIT': 'tcp_close_wait',
  'LAST-ACK': 'tcp_last_ack', LISTEN: 'tcp_listen', CLOSING: 'tcp_closing',
};

function ssCounts(world: NetnsWorld, path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of Object.values(FIELD)) out[f] = 0;
  for (const line of world.run(path, 'ss', ['-tanH']).split('\n').filter(Boolean)) {
    const f = FIELD[line.split(/\s+/)[0]];
    out[f]++;
  }
  out.udp_socket = world.run(path, 'ss', ['-uanH']).split('\n').filter(Boolean).length;
  return out;
}

describe('--all-netns over 34 namespaces', { skip }, () => {
  let world: NetnsWorld;
  let walker: NetnsWalker;
  let found: Map<number, NetnsInfo>;
  let byExpected: Map<Expected, NetnsInfo>;
  let metrics: Metric[];
  let report: NetnsReport;
  let ss: Map<Expected, Record<string, number>>;
  let select: { netns: string[] };

  before(async () => {
    world = await NetnsWorld.create();
    walker = new NetnsWalker();
    // only the world's namespaces (and ours): the machine's other tests make and remove namespaces of their own
    select = { netns: world.namespaces.map((e) => String(statSync(e.path).ino)) };
    await world.timeWait();
    ss = new Map(world.namespaces.map((e) => [e, ssCounts(world, e.path)]));
    metrics = [];
    ({ report } = await gatherAllNetns({ measurements: ['netstat'] }, walker, { logRoot: world.logRoot, counters: true, select }, (m) => metrics.push(m)));
    const d = discoverNamespaces({ logRoot: world.logRoot });
    found = new Map(d.namespaces.map((n) => [n.inode, n]));
    // stat follows /proc/PID/ns/net and a bind mount alike to the namespace's nsfs inode
    byExpected = new Map(world.namespaces.map((e) => [e, found.get(statSync(e.path).ino)!]));
  });

  after(async () => {
    await walker?.close();
    if (world) {
      await world.cleanup();
      assert.deepEqual(world.leftovers(), [], 'every namespace, cgroup directory and file made was removed');
    }
  });

  test('discovery: every namespace made is found once, with its name, holder and comm', () => {
    assert.ok(world.namespaces.length >= 30, `${world.namespaces.length} namespaces`);
    const inodes = new Set<number>();
    for (const [e, ns] of byExpected) {
      assert.ok(ns, `${e.kind} ${e.name ?? e.pid} found`);
      assert.ok(!inodes.has(ns.inode), 'one entry per namespace');
      inodes.add(ns.inode);
      assert.equal(ns.own, false);
      if (e.name) assert.equal(ns.name, e.name);
      if (e.pid) {
        assert.equal(ns.pid, e.pid, 'the lowest pid in it');
        assert.equal(ns.comm, readFileSync(`/proc/${e.pid}/comm`, 'utf8').trim());
      } else {
        assert.equal(ns.pid, undefined, 'a named namespace nobody is in has no process');
        assert.equal(ns.processes, 0);
      }
    }
  });

  test('identity: containers and pods as laid out (containerd, CRI-O, docker, cgroupfs, podman, docker, nspawn)', () => {
    const runtimes = new Set<string>();
    for (const [e, ns] of byExpected) {
      assert.deepEqual(ns.container, e.container, `container of ${e.kind} ${e.pid}`);
      assert.deepEqual(ns.pod, e.pod, `pod of ${e.kind} ${e.pid}`);
      if (e.container) runtimes.add(e.container.runtime);
      const tags = netnsTags(ns);
      assert.equal(tags.netns, e.name ?? String(ns.inode));
      assert.equal(tags.pod, e.pod?.name);
      assert.equal(tags.namespace, e.pod?.namespace);
      assert.equal(tags.container, e.container && (e.container.name ?? e.container.id.slice(0, 12)));
    }
    assert.deepEqual([...runtimes].sort(), ['containerd', 'cri-o', 'docker', 'podman', 'systemd-nspawn']);
  });

  test('netstat per namespace equals ss -tan / ss -uan run in it', () => {
    for (const [e, ns] of byExpected) {
      const m = metrics.filter((x) => x.schema.name === 'netstat' && x.tags.netns === (e.name ?? String(ns.inode)));
      assert.equal(m.length, 1, `one netstat point for ${e.kind} ${e.name ?? e.pid}`);
      const want = ss.get(e)!;
      for (const [k, v] of Object.entries(want)) assert.equal(m[0].fields[k], v, `${k} of ${e.kind} ${e.name ?? e.pid}`);
      if (e.spec) {
        assert.equal(want.tcp_listen, e.spec.listen);
        assert.equal(want.tcp_established, e.spec.conn * 2);
        assert.equal(want.udp_socket, e.spec.udp);
      }
      assert.equal(m[0].tags.pod, e.pod?.name);
    }
    assert.ok([...ss.values()].some((c) => c.tcp_time_wait > 0) && [...ss.values()].some((c) => c.tcp_close_wait > 0), 'the populations have TIME_WAIT and CLOSE_WAIT');
    const host = metrics.filter((x) => x.schema.name === 'netstat' && x.tags.netns === undefined);
    assert.equal(host.length, 1, 'the host namespace keeps its unlabeled point');
    assert.equal(report.vanished + report.denied + report.failed, 0, report.notes.join('; '));
  });

  test('the netns measurement: each namespace\'s own sockstat and netstat counters', () => {
    for (const [e, ns] of byExpected) {
      const m = metrics.find((x) => x.schema.name === 'netns' && x.tags.netns === (e.name ?? String(ns.inode)));
      assert.ok(m, `netns point for ${e.kind}`);
      const sockstat = world.run(e.path, 'cat', ['/proc/thread-self/net/sockstat']);
      const inuse = Number(/TCP: inuse (\d+)/.exec(sockstat)![1]);
      const tw = Number(/TCP: inuse \d+ orphan \d+ tw (\d+)/.exec(sockstat)![1]);
      assert.equal(m.fields.tcp_inuse, inuse, 'TCP inuse');
      assert.equal(m.fields.tcp_time_wait, tw, 'TIME_WAIT');
      for (const f of ['listen_overflows', 'listen_drops', 'tcp_req_q_full_drop', 'syncookies_sent', 'udp_rcvbuf_errors', 'tcp_orphans', 'tcp_mem_pages']) {
        assert.equal(typeof m.fields[f], 'number', f);
      }
    }
  });

  test('a namespace that vanishes between discovery and its dump is skipped and said', async () => {
    const plan = planNamespaces({ logRoot: world.logRoot, select });
    const victim = world.namespaces.find((e) => e.kind === 'anonymous')!;
    await world.kill(victim.pid!);
    const targets = plan.namespaces.map((ns) => ({ inode: ns.inode, path: ns.path, own: ns.own }));
    const { outcomes } = await walker.walk(targets, { kind: 'census', options: { protocols: ['tcp'] } });
    const i = plan.namespaces.findIndex((ns) => ns.pid === victim.pid);
    assert.ok(i >= 0);
    assert.equal(outcomes[i].status, 'vanished');
    const others = outcomes.filter((_, k) => k !== i && world.namespaces.some((e) => e.path === plan.namespaces[k].path || e.pid === plan.namespaces[k].pid));
    assert.ok(others.length >= 30 && others.every((o) => o.status === 'ok'), 'the others were read');
    const notes = outcomeNotes(plan.namespaces, outcomes);
    assert.ok(notes.some((n) => /1 network namespace vanished during the gather \(skipped\): \d+/.test(n)), notes.join('; '));
  });

  test('a hostNetwork pod\'s socket is attributed by its cgroup id', async () => {
    const h = world.hostNetwork!;
    const own = planNamespaces({ logRoot: world.logRoot, select }).namespaces.find((n) => n.own)!;
    const { outcomes: [o] } = await walker.walk([{ inode: own.inode, path: own.path, own: true }], { kind: 'snapshot', options: { protocols: ['udp'], keepAttributes: true } });
    assert.equal(o.status, 'ok');
    const t = SocketTable.fromBuffers((o as any).snapshot.buffers);
    const view = t.arenaView();
    const row = [...Array(t.length).keys()].find((i) => t.sport[i] === h.port)!;
    assert.ok(row !== undefined, 'the pod\'s socket is in the host namespace');
    const id = decodeInetAttributes(view, t.attrStart[row], t.attrStart[row] + t.attrLength[row], Proto.udp).cgroupId!;
    const path = cgroupPathsByInode(cgroup2Mount()).get(id)!;
    assert.ok(path?.endsWith(`cri-containerd-${h.container.id}.scope`), path);
    const who = identityOfCgroup(path, readKubeletLogs(world.logRoot));
    assert.deepEqual(who.pod, h.pod);
    assert.deepEqual(who.container, h.container);
  });
});
