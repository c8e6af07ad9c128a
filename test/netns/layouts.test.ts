/**
 * --all-netns against layouts the 34-namespace world (all-netns.test.ts) does not build, each made for real
 * (processes, network namespaces, cgroup directories, kubelet's log entries) and compared with `ss` and /proc
 * in the namespace:
 *   - a pod whose namespace is shared by its pause process and two containers (an app and a sidecar), laid out
 *     under kubelet's --cgroup-root as kind does (kubelet-kubepods-…): each socket names the container that
 *     made it; --container selects one container's sockets;
 *   - cgroup v1 hierarchies (where the host has them): CRI-O with kubelet's cgroupfs driver (crio-<id>) and
 *     docker's cgroupfs layout (/docker/<id>), the v2 path being the root;
 *   - a static hostNetwork pod (uid: 32 hex digits) with a listener whose server-side TIME_WAIT sockets are
 *     attributed to it by the listener's port, in `ls` and in the metrics;
 *   - the netns measurement equal to the namespace's /proc/<pid>/net files, with listen overflows and UDP
 *     receive-buffer drops made to happen;
 *   - a namespace kept by a bind mount in docker's /var/run/docker/netns with no process in it;
 *   - unprivileged runs of the summary, ls and gather: one note, exit 0, no stack trace.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { netnsCounters } from '../../src/netns/counters.js';
import { SocketOwners } from '../../src/netns/host-pods.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import { cgroup2Mount } from '../../src/filter/resolve.js';
import { AgentProcess } from '../helpers/agent.js';
import { sleep } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${ROOT}bin/sockscope.js`;
const TAG = `nsaudit-${randomBytes(3).toString('hex')}`;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(`${ROOT}schema/socket.schema.json`, 'utf8')),
);

function cli(args: string[], as: string[] = []): { stdout: string; stderr: string; status: number | null } {
  const argv = [...as, process.execPath, BIN, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const root = process.getuid?.() === 0;
const tools = ['ip', 'unshare', 'nsenter', 'ss', 'python3', 'setpriv', 'mount'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = !root ? 'needs root (namespaces, cgroup directories)' : !tools ? 'needs ip, unshare, nsenter, ss, python3, setpriv and mount' : false;

/** cgroup v1 hierarchies mounted here (mount point by controller), for the v1 layouts */
function v1Mounts(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , opts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup') continue;
    const point = line.split(' ')[4];
    for (const o of opts.split(',')) if (o === 'pids' || o === 'name=systemd') out.set(o, point);
  }
  return out;
}

const hex64 = () => randomBytes(32).toString('hex');

/** The python holders: each prints one line (its ports) when ready, then holds its sockets until stdin closes. */
const APP = String.raw`
import socket, sys
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(64)
keep = [l]
for _ in range(2):
    c = socket.create_connection(l.getsockname()); a, _ = l.accept(); keep += [c, a]
print(l.getsockname()[1], flush=True)
sys.stdin.read()
`;
/** a sidecar: a listener, a UDP socket, and the kernel counters made to move: accept-queue overflows, UDP drops */
const SIDECAR = String.raw`
import socket, sys, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
o = socket.socket(); o.bind(('127.0.0.1', 0)); o.listen(0)
clients = []
for _ in range(6):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(o.getsockname())
    except BlockingIOError: pass
    clients.append(c)
time.sleep(1.2)
for c in clients: c.close()
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1); r.bind(('127.0.0.1', 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(300): s.sendto(b'x' * 1000, r.getsockname())
time.sleep(0.2)
print(l.getsockname()[1], u.getsockname()[1], flush=True)
sys.stdin.read()
`;
/** a hostNetwork server: a listener, one held connection, three connections it closed first (its TIME_WAIT) */
const HOST_SERVER = String.raw`
import socket, sys, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(64)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
for _ in range(3):
    x = socket.create_connection(l.getsockname()); y, _ = l.accept()
    y.close(); time.sleep(0.02); x.close()
time.sleep(0.1)
print(l.getsockname()[1], flush=True)
sys.stdin.read()
`;
const py = (code: string) => `python3 -c '${code.replace(/'/g, `'"'"'`)}'`;

interface Pod {
  namespace: string;
  name: string;
  uid: string;
}

describe('--all-netns: real layouts beyond the common world', { skip }, () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const logRoot = mkdtempSync(join(tmpdir(), `${TAG}-logs-`));
  const v2 = cgroup2Mount();
  const v1 = v1Mounts();
  let dockerNetns: { dir: string; file: string; made: string[] } | undefined;

  /** a cgroup directory (every level remembered, for removal deepest first) */
  const cgroup = (mount: string, rel: string): string => {
    const dir = join(mount, rel);
    mkdirSync(dir, { recursive: true });
    for (let d = dir; d.length > mount.length; d = join(d, '..')) if (!dirs.includes(d)) dirs.push(d);
    return dir;
  };

  /** sh -c SCRIPT; resolves with its pid and its first stdout line (or, with waitNetns, once it left our namespace) */
  const start = async (script: string, o: { line?: boolean } = {}): Promise<{ pid: number; line: string }> => {
    const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    if (o.line) {
      const it = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const r = await Promise.race([it.next(), sleep(60_000).then(() => ({ done: true, value: '' }))]);
      if (r.done) throw new Error(`holder did not answer: ${err}`);
      return { pid: child.pid!, line: String(r.value) };
    }
    const own = statSync('/proc/self/ns/net').ino;
    for (let k = 0; k < 3000; k++) {
      try {
        if (statSync(`/proc/${child.pid}/ns/net`).ino !== own) return { pid: child.pid!, line: '' };
      } catch {
        /* not yet */
      }
      if (child.exitCode !== null) break;
      await sleep(20);
    }
    throw new Error(`namespace holder did not start: ${err}`);
  };

  /** kubelet's entries for a pod and its containers */
  const kubelet = (pod: Pod, containers: { name: string; id: string }[]) => {
    const podDir = join(logRoot, 'pods', `${pod.namespace}_${pod.name}_${pod.uid}`);
    mkdirSync(join(logRoot, 'containers'), { recursive: true });
    for (const c of containers) {
      mkdirSync(join(podDir, c.name), { recursive: true });
      writeFileSync(join(podDir, c.name, '0.log'), '');
      symlinkSync(join(podDir, c.name, '0.log'), join(logRoot, 'containers', `${pod.name}_${pod.namespace}_${c.name}-${c.id}.log`));
    }
  };

  const enter = (pid: number, cmd: string, args: string[]) =>
    execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, cmd, ...args], { encoding: 'utf8', timeout: 30_000 });
  const ssRows = (pid: number | undefined, args: string[]) =>
    (pid === undefined ? execFileSync('ss', args, { encoding: 'utf8' }) : enter(pid, 'ss', args)).split('\n').filter(Boolean);
  const inode = (pid: number) => statSync(`/proc/${pid}/ns/net`).ino;

  // the multi-container pod (kind's layout), the v1 pods and containers, the static hostNetwork pod
  const shared = {
    pod: { namespace: `${TAG}-shop`, name: 'checkout-6c7d9-k2x8p', uid: randomUUID() } as Pod,
    app: { name: 'checkout', id: hex64() },
    sidecar: { name: 'envoy', id: hex64() },
    pause: 0,
    appDir: '',
    sidecarDir: '',
    appPort: 0,
    sidecarPorts: [0, 0],
  };
  const v1pod = { pod: { namespace: `${TAG}-v1`, name: 'api-0', uid: randomUUID() } as Pod, app: { name: 'api', id: hex64() }, pause: 0 };
  const v1docker = { id: hex64(), pid: 0 };
  const v1systemd = { pod: { namespace: `${TAG}-v1`, name: 'worker-0', uid: randomUUID() } as Pod, app: { name: 'worker', id: hex64() }, pid: 0 };
  const outside: { pid: number; container: { runtime: string; id: string } }[] = [];
  const cgroupfsPod = { pod: { namespace: `${TAG}-fs`, name: 'cache-0', uid: randomUUID() } as Pod, app: { name: 'memcached', id: hex64() }, pause: 0 };
  let agentCgroup = '';
  const staticPod = {
    pod: { namespace: 'kube-system', name: `${TAG}-etcd-node-1`, uid: randomBytes(16).toString('hex') } as Pod,
    c: { name: 'etcd', id: hex64() },
    pid: 0,
    port: 0,
    dir: '',
  };

  before(async () => {
    // a pod under kubelet --cgroup-root=/kubelet (kind), systemd driver, containerd: pause, app, sidecar
    const slice = (u: string) => u.replaceAll('-', '_');
    const podRel = `${TAG}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${slice(shared.pod.uid)}.slice`;
    const sandbox = cgroup(v2, `${podRel}/cri-containerd-${hex64()}.scope`);
    shared.appDir = cgroup(v2, `${podRel}/cri-containerd-${shared.app.id}.scope`);
    shared.sidecarDir = cgroup(v2, `${podRel}/cri-containerd-${shared.sidecar.id}.scope`);
    shared.pause = (await start(`echo $$ > '${sandbox}/cgroup.procs' && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`)).pid;
    // the sidecar starts first (a lower pid, as istio's native sidecar would), the app second
    const sc = await start(`echo $$ > '${shared.sidecarDir}/cgroup.procs' && exec nsenter --net=/proc/${shared.pause}/ns/net ${py(SIDECAR)}`, { line: true });
    shared.sidecarPorts = sc.line.split(' ').map(Number);
    const app = await start(`echo $$ > '${shared.appDir}/cgroup.procs' && exec nsenter --net=/proc/${shared.pause}/ns/net ${py(APP)}`, { line: true });
    shared.appPort = Number(app.line);
    kubelet(shared.pod, [shared.app, shared.sidecar]);

    if (v1.has('pids')) {
      // CRI-O, kubelet's cgroupfs driver, on cgroup v1: kubepods/<qos>/pod<uid>/crio-<id> in each hierarchy
      const inAll = (rel: string) => [...v1.values()].map((m) => `echo $$ > '${cgroup(m, rel)}/cgroup.procs'`).join(' && ');
      const podRel1 = `${TAG}/kubepods/besteffort/pod${v1pod.pod.uid}`;
      v1pod.pause = (await start(`${inAll(`${podRel1}/crio-${hex64()}`)} && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`)).pid;
      await start(`${inAll(`${podRel1}/crio-${v1pod.app.id}`)} && exec nsenter --net=/proc/${v1pod.pause}/ns/net ${py(APP)}`, { line: true });
      kubelet(v1pod.pod, [v1pod.app]);
      // docker alone, cgroupfs driver: /docker/<id>
      v1docker.pid = (
        await start(`${inAll(`${TAG}/docker/${v1docker.id}`)} && exec unshare -n sh -c 'ip link set lo up && exec ${py(APP).replace(/'/g, `'"'"'`)}'`)
      ).pid;
      // kubelet's systemd driver with docker, on v1: the slices and the docker-<id>.scope in each hierarchy
      const rel = `${TAG}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${slice(v1systemd.pod.uid)}.slice/docker-${v1systemd.app.id}.scope`;
      v1systemd.pid = (await start(`${inAll(rel)} && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`)).pid;
      kubelet(v1systemd.pod, [v1systemd.app]);
    }

    // a static pod on the host's network: its uid is the manifest's hash, 32 hex digits
    staticPod.dir = cgroup(
      v2,
      `${TAG}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${staticPod.pod.uid}.slice/cri-containerd-${staticPod.c.id}.scope`,
    );
    const s = await start(`echo $$ > '${staticPod.dir}/cgroup.procs' && exec ${py(HOST_SERVER)}`, { line: true });
    staticPod.pid = s.pid;
    staticPod.port = Number(s.line);
    kubelet(staticPod.pod, [staticPod.c]);

    // kubelet's cgroupfs driver on cgroup v2, containerd: kubepods/<qos>/pod<uid>/<id>
    const fsRel = `${TAG}/kubepods/burstable/pod${cgroupfsPod.pod.uid}`;
    const fsSandbox = cgroup(v2, `${fsRel}/${hex64()}`);
    cgroupfsPod.pause = (await start(`echo $$ > '${fsSandbox}/cgroup.procs' && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`)).pid;
    await start(`echo $$ > '${cgroup(v2, `${fsRel}/${cgroupfsPod.app.id}`)}/cgroup.procs' && exec nsenter --net=/proc/${cgroupfsPod.pause}/ns/net ${py(APP)}`, {
      line: true,
    });
    kubelet(cgroupfsPod.pod, [cgroupfsPod.app]);
    // where the DaemonSet's sockscope runs: a container of another pod, in its own cgroup namespace
    agentCgroup = cgroup(v2, `${TAG}/kubepods/besteffort/pod${randomUUID()}/${hex64()}`);

    // containers outside Kubernetes, as their runtimes nest them: podman rootless (its container's own cgroup
    // below the scope), containerd through nerdctl, a systemd-nspawn machine's payload
    for (const [runtime, rel, id] of [
      ['podman', (x: string) => `${TAG}/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${x}.scope/container`, hex64()],
      ['containerd', (x: string) => `${TAG}/system.slice/nerdctl-${x}.scope`, hex64()],
      ['systemd-nspawn', () => `${TAG}/machine.slice/machine-${TAG.replace(/-/g, '\\x2d')}\\x2dbox.scope/payload`, `${TAG}-box`],
    ] as const) {
      const dir = cgroup(v2, rel(id));
      const { pid } = await start(`echo $$ > '${dir}/cgroup.procs' && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`);
      outside.push({ pid, container: { runtime, id } });
    }

    // docker's bind-mounted namespace (a sandbox key), no process left in it
    const keeper = await start(`exec unshare -n sleep 600`);
    const dir = '/var/run/docker/netns';
    const made = ['/var/run/docker', dir].filter((d) => !existsSync(d));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${TAG}-sbx`);
    writeFileSync(file, '');
    execFileSync('mount', ['--bind', `/proc/${keeper.pid}/ns/net`, file]);
    dockerNetns = { dir, file, made };
    process.kill(keeper.pid, 'SIGKILL');
  });

  after(async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await gone;
      }),
    );
    if (dockerNetns) {
      spawnSync('umount', [dockerNetns.file]);
      rmSync(dockerNetns.file, { force: true });
      for (const d of dockerNetns.made.reverse()) rmSync(d, { recursive: true, force: true });
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      for (let k = 0; k < 50 && existsSync(d); k++) {
        try {
          rmdirSync(d);
        } catch {
          await sleep(20);
        }
      }
    }
    rmSync(logRoot, { recursive: true, force: true });
    assert.deepEqual(
      dirs.filter((d) => existsSync(d)),
      [],
      'every cgroup directory made was removed',
    );
  });

  const ls = (args: string[]) => {
    const r = cli(['ls', ...args, '--format', 'json', '--kubelet-log-root', logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const recs = JSON.parse(r.stdout).sockets as any[];
    for (const rec of recs) assert.ok(validate(rec), JSON.stringify(validate.errors));
    return recs;
  };

  test("a pod's namespace shared by pause, an app and a sidecar: each socket names the container that made it, as ss's cgroup filter does", () => {
    const recs = ls(['--pod', shared.pod.name, '-tua']);
    assert.equal(recs.length, ssRows(shared.pause, ['-tuanH']).length, 'every socket of the pod, as ss lists them');
    for (const [c, dir] of [
      [shared.app, shared.appDir],
      [shared.sidecar, shared.sidecarDir],
    ] as const) {
      const rel = dir.slice(v2.length);
      const want = ssRows(shared.pause, ['-tuanH', 'cgroup', rel]).length;
      const mine = recs.filter((r) => r.netns.container?.id === c.id);
      assert.ok(want > 0);
      assert.equal(
        mine.length,
        want,
        `${c.name}'s sockets: ss -tuan cgroup ${rel}\n${ssRows(shared.pause, ['-tuanH', 'cgroup', rel]).join('\n')}\n${mine.map((r) => `${r.state} ${r.local_port} ${r.remote_port}`).join('\n')}`,
      );
      for (const r of mine) {
        assert.deepEqual(r.netns.container, { runtime: 'containerd', id: c.id, name: c.name });
        assert.deepEqual(r.netns.pod, shared.pod, 'the pod, from the kind-style kubelet-kubepods-… slice');
        assert.equal(r.netns.inode, inode(shared.pause));
      }
    }
    assert.ok(recs.some((r) => r.local_port === shared.appPort && r.netns.container.name === 'checkout'));
    // the summary names the pod's containers, both running in its namespace
    const summary = cli(['--netns', String(inode(shared.pause)), '--kubelet-log-root', logRoot]);
    assert.equal(summary.status, 0, summary.stderr);
    const line = summary.stdout.split('\n').find((l) => l.startsWith(`${shared.pod.namespace}/${shared.pod.name}`));
    assert.match(line ?? summary.stdout, /\s(envoy,checkout|checkout,envoy)\s/);
    assert.ok(recs.some((r) => r.local_port === shared.sidecarPorts[0] && r.netns.container.name === 'envoy'));
  });

  test("the metrics of a shared pod namespace: the pod's labels, no container label (its sockets are several containers')", () => {
    const g = cli(['gather', '--pod', shared.pod.name, '--measurement', 'netstat', '--format', 'prometheus', '--kubelet-log-root', logRoot]);
    assert.equal(g.status, 0, g.stderr);
    const lines = g.stdout.split('\n').filter((l) => l.startsWith('sockscope_tcp_connections{') && l.includes(`pod="${shared.pod.name}"`));
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.match(l, new RegExp(`namespace="${shared.pod.namespace}"`));
      assert.match(l, new RegExp(`netns="${inode(shared.pause)}"`));
      assert.doesNotMatch(l, /container=/);
    }
    const listen = lines.filter((l) => l.includes('state="listen"')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    assert.equal(listen, ssRows(shared.pause, ['-tlnH']).length);
  });

  test('--container selects one container of a shared namespace: its sockets only', () => {
    const recs = ls(['--container', 'checkout', '-tua']);
    const rel = shared.appDir.slice(v2.length);
    assert.equal(recs.length, ssRows(shared.pause, ['-tuanH', 'cgroup', rel]).length, recs.map((r) => `${r.local_port}`).join(' '));
    assert.ok(recs.every((r) => r.netns.container.name === 'checkout'));
    const byId = ls(['--container', shared.sidecar.id.slice(0, 12), '-tua']);
    assert.equal(byId.length, ssRows(shared.pause, ['-tuanH', 'cgroup', shared.sidecarDir.slice(v2.length)]).length);
    assert.ok(byId.every((r) => r.netns.container.name === 'envoy'));
  });

  test('cgroup v1 hierarchies: CRI-O under the cgroupfs driver, docker alone, kubelet systemd driver with docker', {
    skip: v1.has('pids') ? false : 'no cgroup v1 hierarchy here',
  }, () => {
    const r = cli(['--all-netns', '--json', '--kubelet-log-root', logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const rows: any[] = JSON.parse(r.stdout).namespaces;
    const row = (pid: number) => rows.find((x) => x.inode === inode(pid));
    assert.deepEqual(row(v1pod.pause).container, { runtime: 'cri-o', id: v1pod.app.id, name: 'api' });
    assert.deepEqual(row(v1pod.pause).pod, v1pod.pod);
    assert.equal(row(v1pod.pause).tcp.established, ssRows(v1pod.pause, ['-tanH', 'state', 'established']).length);
    assert.deepEqual(row(v1docker.pid).container, { runtime: 'docker', id: v1docker.id });
    assert.equal(row(v1docker.pid).tcp.listen, 1);
    assert.deepEqual(row(v1systemd.pid).container, { runtime: 'docker', id: v1systemd.app.id, name: 'worker' });
    assert.deepEqual(row(v1systemd.pid).pod, v1systemd.pod);
    assert.match(readFileSync(`/proc/${v1docker.pid}/cgroup`, 'utf8'), /^0::\/$/m, 'the v2 path says nothing: the v1 ones name it');
  });

  test("a static hostNetwork pod (32-hex uid): its sockets by cgroup, its server-side TIME_WAIT by its listener's port, in ls and the metrics", () => {
    const recs = ls(['--pod', staticPod.pod.name, '-ta']);
    const rel = staticPod.dir.slice(v2.length);
    const held = ssRows(undefined, ['-tanH', 'cgroup', rel]);
    const tw = ssRows(undefined, ['-tanH', 'state', 'time-wait', 'sport', '=', `:${staticPod.port}`]);
    assert.equal(tw.length, 3, 'the server closed three connections first');
    assert.equal(recs.length, held.length + tw.length, JSON.stringify(recs.map((r) => [r.state, r.local_port])));
    for (const r of recs) {
      assert.equal(r.netns.host, true);
      assert.deepEqual(r.netns.pod, staticPod.pod);
      assert.deepEqual(r.netns.container, { runtime: 'containerd', id: staticPod.c.id, name: 'etcd' });
    }
    assert.equal(recs.filter((r) => r.state === 'time_wait').length, 3);
    // the metrics: the pod's series count the same, TIME_WAIT included
    const g = cli(['gather', '--pod', staticPod.pod.name, '--measurement', 'netstat', '--format', 'prometheus', '--kubelet-log-root', logRoot]);
    assert.equal(g.status, 0, g.stderr);
    const value = (state: string) =>
      g.stdout
        .split('\n')
        .filter((l) => l.startsWith('sockscope_tcp_connections{') && l.includes(`pod="${staticPod.pod.name}"`) && l.includes(`state="${state}"`))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    assert.equal(
      value('time_wait'),
      3,
      g.stdout
        .split('\n')
        .filter((l) => l.includes(staticPod.pod.name))
        .join('\n'),
    );
    assert.equal(value('listen'), 1);
    assert.equal(value('established'), held.filter((l) => l.startsWith('ESTAB')).length);
  });

  test("the netns measurement equals the namespace's /proc/<pid>/net files: listen overflows and UDP drops included", () => {
    const read = () => {
      const f = (n: string) => readFileSync(`/proc/${shared.pause}/net/${n}`, 'latin1');
      return netnsCounters({ netstat: f('netstat'), snmp: f('snmp'), sockstat: f('sockstat') });
    };
    const before = read();
    const g = cli(['gather', '--pod', shared.pod.name, '--measurement', 'netns', '--format', 'json', '--kubelet-log-root', logRoot]);
    const afterward = read();
    assert.equal(g.status, 0, g.stderr);
    const points = g.stdout
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        const x = JSON.parse(l);
        return Array.isArray(x) ? x : (x.metrics ?? [x]);
      });
    const p = points.find((x: any) => x.name === 'netns' && x.tags?.pod === shared.pod.name);
    assert.ok(p, g.stdout.slice(0, 2000));
    assert.ok(before.listen_overflows! > 0 && before.udp_rcvbuf_errors! > 0, JSON.stringify(before));
    // the namespace's own counters: read between the two reads of its /proc files; orphans and TCP memory are the
    // host's (the kernel keeps one count: the same in every namespace), which other work moves meanwhile
    const hostWide = ['tcp_orphans', 'tcp_mem_pages'];
    for (const k of hostWide) assert.equal(typeof p.fields[k], 'number', k);
    for (const [k, v] of Object.entries(afterward)) {
      if (hostWide.includes(k)) continue;
      const got = p.fields[k];
      const lo = Math.min(v, before[k as keyof typeof before]!);
      const hi = Math.max(v, before[k as keyof typeof before]!);
      assert.ok(got >= lo && got <= hi, `${k}: ${got}, /proc said ${before[k as keyof typeof before]} then ${v}`);
    }
    assert.deepEqual(Object.keys(p.fields).sort(), Object.keys(afterward).sort(), 'every field');
  });

  test("from inside a container's own cgroup namespace (the DaemonSet's view: /proc/PID/cgroup relative to its root): the same pods and containers", () => {
    const args = [BIN, '--all-netns', '--json', '--kubelet-log-root', logRoot];
    const r = spawnSync('sh', ['-c', `echo $$ > '${agentCgroup}/cgroup.procs' && exec unshare --cgroup "$@"`, 'sh', process.execPath, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 1 << 28,
    });
    assert.equal(r.status, 0, r.stderr);
    const seen = readFileSync(`/proc/${cgroupfsPod.pause}/cgroup`, 'utf8');
    assert.match(seen, /^0::\/.*kubepods\/burstable\/pod/m, 'this test reads the full path');
    const rows: any[] = JSON.parse(r.stdout).namespaces;
    const row = (pid: number) => rows.find((x) => x.inode === inode(pid));
    assert.deepEqual(row(cgroupfsPod.pause).pod, cgroupfsPod.pod, 'cgroupfs driver: the pod, its kubepods level above the namespace root');
    assert.deepEqual(row(cgroupfsPod.pause).container, { runtime: 'containerd', id: cgroupfsPod.app.id, name: 'memcached' });
    assert.deepEqual(row(shared.pause).pod, shared.pod, 'systemd driver (kind)');
    for (const o of outside) assert.deepEqual(row(o.pid).container, o.container, o.container.runtime);
  });

  test('containers outside Kubernetes: podman rootless, nerdctl, a systemd-nspawn payload', () => {
    const r = cli(['--all-netns', '--json', '--kubelet-log-root', logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const rows: any[] = JSON.parse(r.stdout).namespaces;
    for (const o of outside) {
      const row = rows.find((x) => x.inode === inode(o.pid));
      assert.ok(row, `${o.container.runtime} found`);
      assert.deepEqual(row.container, o.container, readFileSync(`/proc/${o.pid}/cgroup`, 'utf8'));
      assert.equal(row.pod, undefined);
    }
    const g = cli(['gather', '--container', outside[1].container.id.slice(0, 12), '--measurement', 'netstat', '--format', 'prometheus']);
    assert.equal(g.status, 0, g.stderr);
    assert.ok(
      g.stdout.split('\n').some((l) => l.startsWith('sockscope_tcp_connections{') && l.includes(`container="${outside[1].container.id.slice(0, 12)}"`)),
      'selected by its id, labeled with its short id',
    );
  });

  test("a hostNetwork pod seen before kubelet's entries for it: named once they appear (the agent's cache follows kubelet's directories)", async () => {
    const late = { pod: { namespace: `${TAG}-late`, name: 'probe-0', uid: randomUUID() } as Pod, c: { name: 'probe', id: hex64() } };
    const dir = cgroup(
      v2,
      `${TAG}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${late.pod.uid.replaceAll('-', '_')}.slice/cri-containerd-${late.c.id}.scope`,
    );
    const holder = await start(
      `echo $$ > '${dir}/cgroup.procs' && exec python3 -c 'import socket,sys
u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.bind(("127.0.0.1",0));print(u.getsockname()[1],flush=True);sys.stdin.read()'`,
      { line: true },
    );
    const port = Number(holder.line);
    const owners = new SocketOwners(logRoot);
    const ownerOfPort = async () => {
      const t = (await takeSnapshot({ protocols: ['udp'], keepAttributes: true })).table;
      const of = owners.fresh().resolve(t);
      const row = [...Array(t.length).keys()].find((i) => t.sport[i] === port)!;
      assert.ok(row !== undefined, "the pod's socket is in the host's namespace");
      return of[row];
    };
    assert.deepEqual(await ownerOfPort(), { container: { runtime: 'containerd', id: late.c.id }, pod: undefined }, 'its container, from the path alone');
    kubelet(late.pod, [late.c]);
    assert.deepEqual(await ownerOfPort(), { container: { runtime: 'containerd', id: late.c.id, name: 'probe' }, pod: late.pod });
  });

  test('--max-netns: the first namespaces read, the rest counted and said', () => {
    const sel = [shared.pause, cgroupfsPod.pause, ...outside.map((o) => o.pid)].flatMap((pid) => ['--netns', String(inode(pid))]);
    const r = cli([...sel, '--max-netns', '2', '--json', '--kubelet-log-root', logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.namespaces.filter((x: any) => !x.host).length, 2);
    assert.ok(
      j.namespaces.every((x: any) => x.status === 'ok'),
      JSON.stringify(j.namespaces),
    );
    assert.match(r.stdout, new RegExp(`${sel.length / 2 - 2} network namespaces over the maximum of 2 were not read`));
  });

  test("docker's /var/run/docker/netns: a namespace kept by its bind mount alone, named by it", () => {
    const r = cli(['--all-netns', '--json', '--kubelet-log-root', logRoot]);
    assert.equal(r.status, 0, r.stderr);
    const row = JSON.parse(r.stdout).namespaces.find((x: any) => x.name === `${TAG}-sbx`);
    assert.ok(row, 'found by its bind mount');
    assert.equal(row.inode, statSync(dockerNetns!.file).ino);
    assert.equal(row.status, 'ok');
    assert.equal(row.pid, undefined, 'no process in it');
    assert.equal(row.sockets.tcp, 0);
  });

  /** an agent with this [netns] section until /metrics has the netns self-metrics: its /metrics */
  const agentMetrics = async (netns: string): Promise<string> => {
    const dir = mkdtempSync(join(tmpdir(), `${TAG}-agent-`));
    const conf = join(dir, 'agent.toml');
    writeFileSync(
      conf,
      `[agent]\ninterval = "1h"\n[outputs.prometheus]\nlisten = ["127.0.0.1:0"]\n[netns]\nenabled = true\nkubelet_log_root = ${JSON.stringify(logRoot)}\n${netns}\n`,
    );
    const agent = new AgentProcess(['--config', conf]);
    try {
      const address = await agent.listening(60_000);
      let body = '';
      for (let i = 0; i < 300 && !body.includes('sockscope_netns_namespaces{'); i++) {
        await sleep(200);
        body = await fetch(`http://${address}/metrics`).then((x) => x.text());
      }
      return body;
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const sample = (body: string, re: RegExp) =>
    body
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);

  test('the agent: pod_namespaces selects, labels chooses the labels, max_series caps the series and counts the rest', async () => {
    const body = await agentMetrics(`pod_namespaces = [${JSON.stringify(shared.pod.namespace)}]\nlabels = ["pod", "namespace"]`);
    const pod = body.split('\n').filter((l) => l.startsWith('sockscope_tcp_connections{') && l.includes(`pod="${shared.pod.name}"`));
    assert.ok(pod.length > 0, 'the selected pod');
    assert.ok(
      pod.every((l) => !l.includes('netns=') && !l.includes('container=')),
      pod.join('\n'),
    );
    assert.equal(sample(body, new RegExp(`^sockscope_tcp_connections\\{.*pod="${shared.pod.name}".*state="listen"`)), ssRows(shared.pause, ['-tlnH']).length);
    assert.equal(sample(body, /^sockscope_netns_namespaces\{status="read"\}/), 2, 'the host and the one pod');
    assert.equal(body.split('\n').filter((l) => l.includes(`namespace="${v1pod.pod.namespace}"`)).length, 0, 'no other Kubernetes namespace');
    // max_series bounds the metrics (points: a measurement's fields under one tag set) from namespaces per gather
    const capped = await agentMetrics(`pod_namespaces = [${JSON.stringify(shared.pod.namespace)}]\nmax_series = 2`);
    const lines = (b: string) => b.split('\n').filter((l) => l.startsWith('sockscope_') && l.includes(`pod="${shared.pod.name}"`)).length;
    // (the budget is shared with the hostNetwork pods' series and split between the walker's threads)
    assert.ok(lines(capped) < lines(body), `${lines(capped)} of ${lines(body)} lines of the pod`);
    assert.ok(sample(capped, /^sockscope_netns_series_dropped_total /) > 0, 'the rest counted');
  });

  test('the agent unprivileged: the namespaces it could not enter said once, though processes come and go between gathers', async () => {
    const dir = mkdtempSync(join(tmpdir(), `${TAG}-agent-`));
    const conf = join(dir, 'agent.toml');
    writeFileSync(
      conf,
      // only this test's namespace (the machine's other tests make and remove their own): docker's kept one,
      // which it cannot enter
      `[agent]\ninterval = "1s"\n[outputs.prometheus]\nlisten = ["127.0.0.1:0"]\n[netns]\nenabled = true\nnames = ["${TAG}-sbx"]\nkubelet_log_root = ${JSON.stringify(logRoot)}\n`,
    );
    spawnSync('chmod', ['755', dir]);
    spawnSync('chmod', ['644', conf]);
    const agent = new AgentProcess(['--config', conf], {
      wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
    });
    const churn: ChildProcess[] = [];
    try {
      // five gathers, with root's processes started between them (more unreadable /proc/PID/ns each time)
      for (let k = 0; k < 5; k++) {
        for (let j = 0; j < 3; j++) churn.push(spawn('sleep', ['60'], { stdio: 'ignore' }));
        await sleep(1000);
      }
    } finally {
      await agent.stop();
      for (const c of churn) c.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    const warnings = agent.logs.filter((x) => x.msg.startsWith('netns:'));
    assert.equal(warnings.length, 1, agent.tail());
    assert.ok(
      (warnings[0].notes as string[]).some((n) => /could not be entered \(setns: EPERM: setns needs CAP_SYS_ADMIN\)/.test(n)),
      JSON.stringify(warnings[0]),
    );
    const log = agent.stderr + agent.stdout;
    assert.doesNotMatch(log, /\n\s+at /, 'no stack trace');
  });

  test('execd unprivileged: what it could not enter said on the first gather only, every gather still answered', async () => {
    const child = spawn(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        process.execPath,
        BIN,
        'execd',
        '--netns',
        `${TAG}-sbx`,
        '--measurement',
        'netstat',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const gathers = () => out.split('\n').filter((l) => l.startsWith('netstat ')).length;
    for (let k = 1; k <= 3; k++) {
      child.stdin!.write('\n');
      for (let i = 0; i < 300 && gathers() < k; i++) await sleep(100);
      // root's processes come and go between gathers: more processes whose namespace cannot be read
      spawn('sleep', ['5'], { stdio: 'ignore' });
    }
    child.stdin!.end();
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, err);
    assert.equal(gathers(), 3, out);
    assert.equal(err.split('\n').filter((l) => /could not be entered \(setns: EPERM: setns needs CAP_SYS_ADMIN\): .*-sbx/.test(l)).length, 1, err);
    assert.equal(err.split('\n').filter((l) => /could not be read/.test(l)).length, 1, err);
  });

  test('unprivileged (no capabilities, another uid; and root of a user namespace): one note on what could not be entered and why, the rest reported, exit 0', () => {
    for (const as of [
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
      ['unshare', '-r'],
    ]) {
      for (const args of [['--all-netns'], ['ls', '--all-netns', '-t'], ['gather', '--all-netns', '--measurement', 'netstat,netns']]) {
        const r = cli([...args, '--kubelet-log-root', logRoot], as);
        const what = `${as[0]} sockscope ${args.join(' ')}`;
        assert.equal(r.status, 0, `${what}: ${r.stderr}`);
        const text = r.stdout + r.stderr;
        assert.doesNotMatch(text, /\n\s+at |internal error/, `${what}: no stack trace`);
        const notes = text.split('\n').filter((l) => /could not be entered/.test(l));
        assert.equal(notes.length, 1, `${what}: said once\n${text.slice(-2000)}`);
        assert.match(notes[0], /could not be entered \(setns: EPERM: setns needs CAP_SYS_ADMIN\)/, what);
        assert.ok(r.stdout.length > 0, `${what}: the host's own is reported`);
      }
    }
  });
});
