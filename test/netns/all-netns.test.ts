/**
 * --all-netns against a host the test fills with 34 network namespaces (test/helpers/netns-world.ts): discovery finds
 * each one with the identity that was laid out (ip netns names, pods and containers from cgroup v2 paths and
 * kubelet's log directories), every namespace's counts equal `ss` run inside it, its kernel counters equal its
 * sockstat, a namespace that vanishes during a gather is skipped and said, and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { findPromtool } from '../helpers/tools.js';
import { readdirSync, readFileSync, readlinkSync, renameSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cgroup2Mount } from '../../src/filter/resolve.js';
import { decodeInetAttributes } from '../../src/diag/inet.js';
import { Proto } from '../../src/diag/constants.js';
import type { Metric } from '../../src/model/metric.js';
import { gatherAllNetns, netnsTags, outcomeNotes, planNamespaces, type NetnsReport } from '../../src/netns/all.js';
import { cgroupPathsByInode, DiscoveryCache, discoverNamespaces, identityOfCgroup, readKubeletLogs, type NetnsInfo } from '../../src/netns/discover.js';
import { NetnsWalker } from '../../src/netns/walk.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { NetnsWorld, type Expected } from '../helpers/netns-world.js';
import { sleep } from '../helpers/wait.js';
import { NETSTAT_FIELD_OF_SS_STATE } from '../helpers/ss.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${ROOT}bin/sockscope.js`;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(`${ROOT}schema/socket.schema.json`, 'utf8')),
);
const promtool = findPromtool();

/** sockscope ARGS: its stdout, stderr and exit status */
function cli(args: string[], o: { as?: string[] } = {}): { stdout: string; stderr: string; status: number | null } {
  const argv = [...(o.as ?? []), process.execPath, BIN, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const root = process.getuid?.() === 0;
const tools = ['ip', 'unshare', 'nsenter', 'ss', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (ip netns add, cgroup directories)' : !tools ? 'needs ip, unshare, nsenter, ss and python3' : false;

function ssCounts(world: NetnsWorld, path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of Object.values(NETSTAT_FIELD_OF_SS_STATE)) out[f] = 0;
  for (const line of world.run(path, 'ss', ['-tanH']).split('\n').filter(Boolean)) {
    const f = NETSTAT_FIELD_OF_SS_STATE[line.split(/\s+/)[0]];
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
  /** ss -ta rows per namespace */
  let ssAll: Map<Expected, number>;

  before(async () => {
    world = await NetnsWorld.create();
    walker = new NetnsWalker();
    // only the world's namespaces (and ours): the machine's other tests make and remove namespaces of their own
    select = { netns: world.namespaces.map((e) => String(statSync(e.path).ino)) };
    await world.timeWait();
    ss = new Map(world.namespaces.map((e) => [e, ssCounts(world, e.path)]));
    ssAll = new Map(world.namespaces.map((e) => [e, world.run(e.path, 'ss', ['-taH']).split('\n').filter(Boolean).length]));
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
      } else if (ns.pid === undefined) assert.equal(ns.processes, 0, 'a named namespace nobody is in has no process');
      else {
        // another test file's one-shot `sockscope gather --all-netns` walks every namespace on its main thread:
        // for a moment it is a process in this one (and the only kind of process the world did not put there)
        assert.match(ns.comm ?? '', /^(node|sockscope)$/, `a named namespace nobody is in: ${ns.pid} (${ns.comm}) is in it`);
      }
    }
  });

  test('discovery with a cache (the agent, execd): the same namespaces and identities; kubelet changes are seen', () => {
    const cache = new DiscoveryCache();
    const plain = discoverNamespaces({ logRoot: world.logRoot });
    const key = (d: { namespaces: NetnsInfo[] }) =>
      JSON.stringify(
        d.namespaces
          .filter((n) => found.has(n.inode) && world.namespaces.some((e) => statSync(e.path).ino === n.inode))
          .map((n) => [n.inode, n.name, n.pid, n.comm, n.container, n.pod]),
      );
    const first = discoverNamespaces({ logRoot: world.logRoot, cache });
    assert.equal(key(first), key(plain));
    assert.ok(cache.identities.size >= world.namespaces.filter((e) => e.pid).length, 'identities kept by inode');
    const second = discoverNamespaces({ logRoot: world.logRoot, cache });
    assert.equal(key(second), key(plain), 'the second discovery, from the cache, names every namespace the same');
    // a pod's container renamed in kubelet's directory: the next discovery reads them again and says so
    const pod = world.namespaces.find((e) => e.pod && e.container?.name)!;
    const dir = join(world.logRoot, 'containers');
    const old = readdirSync(dir).find((f) => f.includes(pod.container!.id))!;
    const renamed = old.replace(`_${pod.container!.name}-`, '_renamed-');
    renameSync(join(dir, old), join(dir, renamed));
    try {
      const third = discoverNamespaces({ logRoot: world.logRoot, cache });
      assert.equal(third.namespaces.find((n) => n.inode === statSync(pod.path).ino)!.container!.name, 'renamed');
    } finally {
      renameSync(join(dir, renamed), join(dir, old));
    }
    const fourth = discoverNamespaces({ logRoot: world.logRoot, cache });
    assert.equal(key(fourth), key(plain));
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
    assert.ok(
      [...ss.values()].some((c) => c.tcp_time_wait > 0) && [...ss.values()].some((c) => c.tcp_close_wait > 0),
      'the populations have TIME_WAIT and CLOSE_WAIT',
    );
    const host = metrics.filter((x) => x.schema.name === 'netstat' && x.tags.netns === undefined);
    assert.equal(host.length, 1, 'the host namespace keeps its unlabeled point');
    assert.equal(report.vanished + report.denied + report.failed, 0, report.notes.join('; '));
  });

  test("the netns measurement: each namespace's own sockstat and netstat counters", () => {
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

  test("a hostNetwork pod's socket is attributed by its cgroup id", async () => {
    const h = world.hostNetwork!;
    const own = planNamespaces({ logRoot: world.logRoot, select }).namespaces.find((n) => n.own)!;
    const {
      outcomes: [o],
    } = await walker.walk([{ inode: own.inode, path: own.path, own: true }], { kind: 'snapshot', options: { protocols: ['udp'], keepAttributes: true } });
    assert.equal(o.status, 'ok');
    const t = SocketTable.fromBuffers((o as any).snapshot.buffers);
    const view = t.arenaView();
    const row = [...Array(t.length).keys()].find((i) => t.sport[i] === h.port)!;
    assert.ok(row !== undefined, "the pod's socket is in the host namespace");
    const id = decodeInetAttributes(view, t.attrStart[row], t.attrStart[row] + t.attrLength[row], Proto.udp).cgroupId!;
    const path = cgroupPathsByInode(cgroup2Mount()).get(id)!;
    assert.ok(path?.endsWith(`cri-containerd-${h.container.id}.scope`), path);
    const who = identityOfCgroup(path, readKubeletLogs(world.logRoot));
    assert.deepEqual(who.pod, h.pod);
    assert.deepEqual(who.container, h.container);
  });

  test("metrics: a hostNetwork pod's sockets in the host's namespace carry its pod, namespace and container (by cgroup id)", () => {
    const h = world.hostNetwork!;
    const m = metrics.filter((x) => x.schema.name === 'netstat' && x.tags.pod === h.pod.name);
    assert.equal(m.length, 1, 'one netstat point for the pod');
    const { netns, pod, namespace, container } = m[0].tags;
    assert.deepEqual({ netns, pod, namespace, container }, { netns: 'host', pod: h.pod.name, namespace: h.pod.namespace, container: h.container.name });
    // ss in the host's namespace, filtered by the pod container's cgroup, counts the same
    const dir = readFileSync(`/proc/${h.pid}/cgroup`, 'utf8').match(/^0::(.*)$/m)![1];
    const rows = (args: string[]) =>
      spawnSync('ss', [...args, 'cgroup', dir], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean);
    const udp = rows(['-uanH']);
    assert.equal(udp.length, 1, 'the pod holds one UDP socket');
    assert.equal(m[0].fields.udp_socket, udp.length);
    const tcp = rows(['-tanH']).filter((l) => !l.startsWith('TIME-WAIT'));
    const ours = Object.entries(m[0].fields)
      .filter(([k]) => k.startsWith('tcp_'))
      .reduce((n, [, v]) => n + Number(v), 0);
    assert.equal(ours, tcp.length);
    const host = metrics.find((x) => x.schema.name === 'netstat' && x.tags.netns === undefined)!;
    assert.ok(Number(host.fields.udp_socket) >= 1, "the host's own point still counts every host socket");
  });

  /** --netns INODE for every namespace the world made (the machine's others are not ours to compare) */
  const only = () => select.netns.flatMap((n) => ['--netns', n]);

  test("ls --all-netns --format json: every namespace's sockets as ss lists them, records with netns, valid against the schema", () => {
    const r = cli(['ls', ...only(), '-ta', '--format', 'json', '--kubelet-log-root', world.logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const records: any[] = JSON.parse(r.stdout).sockets;
    for (const rec of records) assert.ok(validate(rec), JSON.stringify(validate.errors));
    for (const [e, ns] of byExpected) {
      const mine = records.filter((x) => x.netns.inode === ns.inode);
      assert.equal(mine.length, ssAll.get(e), `${e.kind} ${e.name ?? e.pid}: ls rows = ss -ta rows`);
      for (const x of mine) {
        assert.equal(x.netns.name, e.name);
        assert.equal(x.netns.pid, e.pid);
        assert.deepEqual(x.netns.container, e.container);
        assert.deepEqual(x.netns.pod, e.pod);
      }
    }
    assert.ok(
      records.every((x) => !x.netns.host),
      "selected by --netns: the host's sockets are not listed",
    );
  });

  test('ls --all-netns table: a Netns column naming host, pods, ip netns names and containers', () => {
    const r = cli(['ls', ...only(), '-tl', '--kubelet-log-root', world.logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.match(lines[0], /^Netns\s+State\s+Recv-Q/);
    const cells = new Set(lines.slice(1).map((l) => l.split(/\s+/)[0]));
    for (const e of world.namespaces.filter((x) => x.spec)) {
      const want = e.pod
        ? `${e.pod.namespace}/${e.pod.name}`
        : (e.name ??
          (e.container
            ? `${e.container.runtime}:${e.container.runtime === 'systemd-nspawn' ? e.container.id : e.container.id.slice(0, 12)}`
            : String(statSync(e.path).ino)));
      assert.ok(cells.has(want), `${want} in ${[...cells].join(' ')}`);
    }
  });

  test('ls filters: --pod, --pod-namespace, --container select those namespaces only', () => {
    const pod = world.namespaces.find((e) => e.pod?.namespace === 'payments')!;
    for (const args of [
      ['--pod', pod.pod!.name],
      ['--pod-namespace', 'payments'],
      ['--container', pod.container!.name!],
      ['--container', pod.container!.id.slice(0, 16)],
    ]) {
      const r = cli(['ls', ...args, '-ta', '--format', 'ndjson', '--kubelet-log-root', world.logRoot]);
      assert.equal(r.status, 0, r.stderr);
      const recs = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      assert.equal(recs.length, ssAll.get(pod), args.join(' '));
      assert.ok(
        recs.every((x) => x.netns.pod?.uid === pod.pod!.uid),
        args.join(' '),
      );
    }
  });

  test("ls: a hostNetwork pod's socket, in the host's namespace, carries its pod (by cgroup id)", () => {
    const h = world.hostNetwork!;
    const r = cli(['ls', '--pod', h.pod.name, '-ua', '--format', 'json', '--kubelet-log-root', world.logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const recs: any[] = JSON.parse(r.stdout).sockets;
    assert.equal(recs.length, 1, JSON.stringify(recs));
    assert.equal(recs[0].local_port, h.port);
    assert.equal(recs[0].netns.host, true);
    assert.deepEqual(recs[0].netns.pod, h.pod);
    assert.deepEqual(recs[0].netns.container, h.container);
  });

  test('gather --all-netns --format prometheus: labeled families that promtool accepts', { skip: promtool.skip ?? false }, () => {
    const r = cli(['gather', ...only(), '--measurement', 'netstat,listen,netns', '--format', 'prometheus', '--kubelet-log-root', world.logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const check = spawnSync(promtool.path!, ['check', 'metrics'], { input: r.stdout, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr + check.stdout);
    const cart = world.namespaces.find((e) => e.pod?.name.startsWith('cart'))!;
    const line = r.stdout
      .split('\n')
      .find(
        (l) =>
          l.startsWith('sockscope_tcp_connections{') &&
          l.includes(`pod="${cart.pod!.name}"`) &&
          l.includes('state="established"') &&
          l.includes('family="ipv4"'),
      )!;
    assert.ok(line, "the pod's established count");
    assert.match(line, /container="cart"/);
    assert.match(line, /namespace="shop"/);
    assert.equal(Number(line.split(' ').pop()), ss.get(cart)!.tcp_established);
    assert.ok(r.stdout.includes('sockscope_netns_listen_overflows_total{'));
    const h = world.hostNetwork!;
    const hostPod = r.stdout.split('\n').find((l) => l.startsWith('sockscope_udp_sockets{') && l.includes(`pod="${h.pod.name}"`));
    assert.ok(hostPod, "the hostNetwork pod's UDP sockets, labeled");
    assert.match(hostPod, /netns="host"/);
    assert.match(hostPod, new RegExp(`container="${h.container.name}"`));
    assert.equal(Number(hostPod.split(' ').pop()), 1);
  });

  test('execd --all-netns: a labeled gather per line on stdin, exit 0 when stdin closes', async () => {
    const named = world.namespaces.find((e) => e.name && e.spec)!;
    const child = spawn(process.execPath, [BIN, 'execd', '--netns', named.name!, '--measurement', 'netstat,netns'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const want = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no gather ${n}: ${out}`)), 60_000);
        const check = () => {
          if (out.split('\n').filter((l) => l.startsWith(`netstat,netns=${named.name} `)).length >= n)
            clearTimeout(timer), child.stdout!.off('data', check), resolve();
        };
        child.stdout!.on('data', check);
        check();
      });
    child.stdin!.write('\n');
    await want(1);
    child.stdin!.write('\n');
    await want(2);
    child.stdin!.end();
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    const line = out.split('\n').find((l) => l.startsWith(`netstat,netns=${named.name} `))!;
    assert.match(line, new RegExp(`tcp_established=${ss.get(named)!.tcp_established}i`));
    assert.ok(
      out.split('\n').some((l) => l.startsWith(`netns,netns=${named.name} `)),
      'the netns measurement',
    );
    assert.ok(
      out.split('\n').some((l) => l.startsWith('netstat ')),
      "the host's point, unlabeled",
    );
  });

  test("sockscope --all-netns --json: a namespaces table with each one's counts", () => {
    const r = cli([...only(), '--json', '--kubelet-log-root', world.logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const rows: any[] = JSON.parse(r.stdout).namespaces;
    for (const [e, ns] of byExpected) {
      const row = rows.find((x) => x.inode === ns.inode);
      assert.equal(row.status, 'ok');
      assert.equal(row.tcp.established, ss.get(e)!.tcp_established);
      assert.equal(row.tcp.listen, ss.get(e)!.tcp_listen);
      assert.deepEqual(row.pod, e.pod);
    }
    const text = cli([...only(), '--kubelet-log-root', world.logRoot]);
    assert.match(text.stdout, /^Network namespace\s+container\s+pid\s+TCP/m);
  });

  test("the agent with [netns]: every namespace's metrics labeled on /metrics, the self-metrics, the host's unlabeled, the pods dashboard's queries", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netns-t-agent-'));
    const conf = join(dir, 'agent.toml');
    writeFileSync(
      conf,
      `[agent]\ninterval = "1h"\n[outputs.prometheus]\nlisten = ["127.0.0.1:0"]\n[netns]\nenabled = true\nnames = ${JSON.stringify(select.netns)}\nkubelet_log_root = ${JSON.stringify(world.logRoot)}\n`,
    );
    const agent = spawn(process.execPath, [BIN, 'agent', '--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let log = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listen line: ${log}`)), 60_000);
        const on = (d: Buffer) => {
          log += d;
          const m = /"listen":\["127\.0\.0\.1:(\d+)"\]/.exec(log);
          if (m) clearTimeout(timer), resolve(Number(m[1]));
        };
        agent.stdout!.on('data', on);
        agent.stderr!.on('data', on);
      });
      let body = '';
      for (let i = 0; i < 300 && !body.includes('sockscope_netns_namespaces{'); i++) {
        await sleep(200);
        body = await fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text());
      }
      const value = (re: RegExp) =>
        Number(
          body
            .split('\n')
            .find((l) => re.test(l))
            ?.split(' ')
            .pop(),
        );
      assert.equal(value(/^sockscope_netns_namespaces\{status="read"\}/), world.namespaces.length + 1, 'every world namespace and the host');
      assert.equal(value(/^sockscope_netns_namespaces\{status="denied"\}/), 0);
      for (const [e, ns] of byExpected) {
        const label = e.name ?? String(ns.inode);
        const est = value(new RegExp(`^sockscope_tcp_connections\\{.*netns="${label}".*state="established"`));
        assert.equal(est, ss.get(e)!.tcp_established, label);
      }
      assert.ok(
        body.split('\n').some((l) => l.startsWith('sockscope_tcp_connections{') && !l.includes('netns=')),
        "the host's series stay unlabeled",
      );
      assert.ok(
        body.split('\n').some((l) => l.startsWith('sockscope_netns_tcp_inuse{') && !l.includes('netns=')),
        "the host's own counters",
      );
      if (!promtool.skip) {
        const check = spawnSync(promtool.path!, ['check', 'metrics'], { input: body, encoding: 'utf8' });
        assert.equal(check.status, 0, check.stderr + check.stdout);
      }
      // the pods dashboard: its families and labels are on this /metrics, its queries parse (promtool check rules)
      const dash = JSON.parse(readFileSync(`${ROOT}deploy/grafana/sockscope-pods-dashboard.json`, 'utf8'));
      const exprs: string[] = dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
      const rules: string[] = [];
      for (const expr of exprs) {
        const families = [...expr.matchAll(/\b(sockscope_[a-z_]+)\b/g)].map((m) => m[1]);
        assert.ok(families.length > 0, expr);
        const lines = body.split('\n').filter((l) => families.some((f) => l.startsWith(`${f}{`)));
        assert.ok(lines.length > 0, `${families.join(', ')} on /metrics`);
        const labels = new Set<string>();
        for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) for (const l of m[1].split(',')) labels.add(l.trim());
        for (const m of expr.matchAll(/([a-z_]+)=~?"/g)) labels.add(m[1]);
        for (const l of labels)
          if (l !== 'job' && l !== 'instance')
            assert.ok(
              lines.some((x) => x.includes(`${l}="`)),
              `label ${l} of ${expr}`,
            );
        rules.push(
          `      - record: sockscope:panel${rules.length}\n        expr: '${expr.replace(/\$(job|instance|namespace|pod)/g, '.*').replace(/'/g, "''")}'`,
        );
      }
      if (!promtool.skip) {
        const file = join(dir, 'panels.rules.yml');
        writeFileSync(file, `groups:\n  - name: panels\n    rules:\n${rules.join('\n')}\n`);
        const check = spawnSync(promtool.path!, ['check', 'rules', file], { encoding: 'utf8' });
        assert.equal(check.status, 0, check.stderr + check.stdout);
      }
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without CAP_SYS_ADMIN and CAP_SYS_PTRACE: one note says which namespaces could not be entered and why; the rest is listed', () => {
    const r = cli(['ls', '--all-netns', '-tl', '--format', 'json'], {
      as: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
    });
    assert.equal(r.status, 0, r.stderr);
    const named = world.namespaces.filter((e) => e.name).map((e) => e.name!);
    const line = r.stderr.split('\n').find((l) => /could not be entered \(setns: EPERM: setns needs CAP_SYS_ADMIN\)/.test(l));
    assert.ok(line, r.stderr);
    // other test files may create namespaces at the same time, so the note's first names may be theirs: every
    // named namespace of this world is among those counted, and what the note names are namespaces
    const counted = Number(/(\d+) network namespaces? could not be entered/.exec(line)?.[1]);
    assert.ok(counted >= named.length, line);
    const listed = line
      .slice(line.indexOf('): ', line.indexOf('could not be entered')) + 3)
      .replace(/, …$/, '')
      .split(', ');
    assert.equal(listed.length, Math.min(counted, 8), line);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('could not be entered')).length, 1, 'said once');
    assert.match(r.stderr, /could not be read \(EACCES: reading other users' \/proc\/PID\/ns needs CAP_SYS_PTRACE\)/);
    const recs: any[] = JSON.parse(r.stdout).sockets;
    assert.ok(
      recs.every((x) => x.netns.host === true),
      "only what it could read: the host's",
    );
  });

  // last: it kills a holder
  test("the agent's walker keeps one socket per namespace: later gathers read over it, equal to ss; a namespace gone loses it", async () => {
    const keeper = new NetnsWalker({ threads: 1, keepSockets: true });
    // sockets of this process that are not unix sockets of its own namespace (the children's pipes are): the kept ones
    const kept = () => {
      const unix = new Set(
        readFileSync('/proc/self/net/unix', 'latin1')
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/)[6]),
      );
      return readdirSync('/proc/self/fd').filter((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
          return !!m && !unix.has(m[1]);
        } catch {
          return false;
        }
      }).length;
    };
    // one more namespace of our own, to take away
    const extra = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
    const ours = statSync('/proc/self/ns/net').ino;
    let extraIno = ours;
    for (let k = 0; k < 200 && extraIno === ours; k++) {
      await new Promise((r) => setTimeout(r, 10));
      extraIno = statSync(`/proc/${extra.pid}/ns/net`).ino;
    }
    assert.notEqual(extraIno, ours, 'the extra namespace was made');
    // a port range of its own: a sysctl of the namespace, which a walk over a kept socket cannot read there
    world.run(`/proc/${extra.pid}/ns/net`, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=20000 20100']);
    const sel = { netns: [...select.netns, String(extraIno)] };
    try {
      const before = kept();
      const gatherOnce = async () => {
        const got: Metric[] = [];
        const r = await gatherAllNetns(
          { measurements: ['netstat', 'listen'] },
          keeper,
          { logRoot: world.logRoot, select: sel, hostPods: false, counters: true },
          (m) => got.push(m),
          {
            includeOwn: false,
          },
        );
        return { got, r };
      };
      // the counter files kept open beside each kept socket
      const files = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            // a file opened under /proc/thread-self reads "(deleted)" once the thread has left the namespace
            return /\/net\/(netstat|snmp|sockstat6?)( \(deleted\))?$/.test(readlinkSync(`/proc/self/fd/${fd}`));
          } catch {
            return false;
          }
        }).length;
      const filesBefore = files();
      await gatherOnce();
      const n = kept() - before;
      assert.equal(n, world.namespaces.length + 1, 'a socket kept per namespace');
      assert.equal(files() - filesBefore, 4 * n, 'netstat, snmp, sockstat and sockstat6 kept open per namespace');
      const { got, r } = await gatherOnce();
      assert.equal(r.report.ok, world.namespaces.length + 1, r.report.notes.join('; '));
      assert.equal(kept() - before, n, 'the second gather made no new socket');
      for (const [e, ns] of byExpected) {
        const m = got.find((x) => x.schema.name === 'netstat' && x.tags.netns === (e.name ?? String(ns.inode)))!;
        const want = ss.get(e)!;
        for (const k of ['tcp_established', 'tcp_listen', 'tcp_close_wait', 'udp_socket'])
          assert.equal(m.fields[k], want[k], `${k} of ${e.kind} ${e.name ?? e.pid}`);
      }
      // the counters read again over the kept files: each namespace's own, now
      for (const [e, ns] of byExpected) {
        const m = got.find((x) => x.schema.name === 'netns' && x.tags.netns === (e.name ?? String(ns.inode)))!;
        const inuse = Number(/^TCP: inuse (\d+)/m.exec(world.run(e.path, 'cat', ['/proc/net/sockstat']))![1]);
        assert.equal(m.fields.tcp_inuse, inuse, `tcp_inuse of ${e.kind} ${e.name ?? e.pid}`);
      }
      // each namespace's own port range, though the thread read over a kept socket and did not enter
      const range = (label: string) => got.find((x) => x.schema.name === 'local_port_range' && x.tags.netns === label)?.fields;
      assert.deepEqual(range(String(extraIno)), { low: 20000, high: 20100, size: 101 });
      const [e0, ns0] = [...byExpected][0];
      const [low, high] = world.run(e0.path, 'cat', ['/proc/sys/net/ipv4/ip_local_port_range']).trim().split(/\s+/).map(Number);
      assert.deepEqual(range(e0.name ?? String(ns0.inode)), { low, high, size: high - low + 1 });
      // its last process gone, the namespace is not found again: its kept socket (which holds it alive) is closed
      const gone = new Promise((res) => extra.once('exit', res));
      extra.kill('SIGKILL');
      await gone;
      const after = await gatherOnce();
      assert.equal(after.r.report.ok, world.namespaces.length, after.r.report.notes.join('; '));
      assert.equal(kept() - before, n - 1, "the vanished namespace's socket was closed");
      assert.equal(files() - filesBefore, 4 * (n - 1), 'and its counter files');
    } finally {
      extra.kill('SIGKILL');
      await keeper.close();
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
    assert.ok(
      notes.some((n) => /1 network namespace vanished during the gather \(skipped\): \d+/.test(n)),
      notes.join('; '),
    );
  });
});
