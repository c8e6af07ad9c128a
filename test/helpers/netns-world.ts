/**
 * A host full of network namespaces for the --all-netns tests: named ones (`ip netns add netns-t-…`),
 * anonymous ones (`unshare -n`), and pods and containers whose processes sit in cgroup v2 directories laid out
 * as kubelet with containerd, CRI-O and docker lays them out (systemd and cgroupfs drivers), podman and
 * systemd-nspawn, with kubelet's /var/log/pods and /var/log/containers entries under a temp directory.
 * Every namespace holds a known population made by a small python holder (listeners, connections, CLOSE_WAIT /
 * FIN_WAIT2 pairs, TIME_WAIT, UDP sockets).
 *
 *   const world = await NetnsWorld.create();   // in before()
 *   world.namespaces                           // what was made, and the labels it should get
 *   await world.cleanup();                     // in after(): every process, namespace, cgroup dir and file
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { cgroup2Mount } from '../../src/filter/resolve.js';
import { sleep } from './wait.js';

export interface Spec {
  /** TCP listeners (at least 1: the connections go to the first) */
  listen: number;
  conn: number;
  /** pairs left CLOSE_WAIT (server) / FIN_WAIT2 (client), both ends held */
  closeWait: number;
  /** client-closed pairs: the client side in TIME_WAIT (made by timeWait()) */
  timeWait: number;
  udp: number;
}

/**
 * The python holder: makes the population, says "ready", holds it until stdin closes. CLOSE_WAIT pairs stay
 * held on both ends (the client shut down its sending side), so nothing times out; the TIME_WAIT sockets (60 s)
 * are made on "tw", once every namespace is built, just before the test compares.
 */
const HOLDER = String.raw`
import socket, sys, json, time
spec = json.loads(sys.argv[1])
keep = []
def listener():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(4096)
    keep.append(s)
    return s
ls = [listener() for _ in range(max(1, spec['listen']))]
port = ls[0].getsockname()[1]
def pair():
    c = socket.create_connection(('127.0.0.1', port))
    a, _ = ls[0].accept()
    return c, a
for _ in range(spec['conn']):
    keep.extend(pair())
for _ in range(spec['closeWait']):
    c, a = pair(); c.shutdown(socket.SHUT_WR); keep.extend((c, a))
for _ in range(spec['udp']):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0)); keep.append(u)
time.sleep(0.05)
sys.stdout.write('ready\n'); sys.stdout.flush()
for line in sys.stdin:
    if line.strip() == 'tw':
        for _ in range(spec['timeWait']):
            c, a = pair(); c.close(); time.sleep(0.005); a.close()
        time.sleep(0.05)
        sys.stdout.write('tw\n'); sys.stdout.flush()
`;

export interface Expected {
  /** how the namespace was made */
  kind: 'named' | 'anonymous' | 'pod' | 'container';
  /** ip netns name */
  name?: string;
  /** the holder (for named: its process; anonymous: the process whose namespace it is) */
  pid?: number;
  /** a file to enter it by */
  path: string;
  spec?: Spec;
  container?: { runtime: string; id: string; name?: string };
  pod?: { namespace: string; name: string; uid: string };
}

const hex64 = () => randomBytes(32).toString('hex');
const unitEscape = (s: string) => s.replace(/-/g, '\\x2d');

export class NetnsWorld {
  readonly tag = randomBytes(3).toString('hex');
  readonly logRoot: string;
  readonly cgroupTop: string;
  readonly namespaces: Expected[] = [];
  /** a hostNetwork pod's socket: a UDP socket in this (the test's) namespace created from a pod's cgroup */
  hostNetwork?: { pid: number; port: number; pod: { namespace: string; name: string; uid: string }; container: { runtime: string; id: string; name: string } };
  private readonly children: ChildProcess[] = [];
  /** holders that make TIME_WAIT sockets on "tw", with a promise for their next answer line */
  private readonly pythons: { child: ChildProcess; next: () => Promise<void> }[] = [];
  private readonly named: string[] = [];
  private readonly cgroupDirs: string[] = [];

  private constructor() {
    this.logRoot = mkdtempSync(join(tmpdir(), 'netns-t-logs-'));
    this.cgroupTop = join(cgroup2Mount(), `netns-t-${this.tag}`);
  }

  static async create(o: { named?: number; anonymous?: number } = {}): Promise<NetnsWorld> {
    const w = new NetnsWorld();
    try {
      await w.build(o.named ?? 12, o.anonymous ?? 12);
    } catch (e) {
      await w.cleanup();
      throw e;
    }
    return w;
  }

  private cgroup(rel: string): string {
    const dir = join(this.cgroupTop, rel);
    mkdirSync(dir, { recursive: true });
    // remember every level, to remove deepest first
    for (let d = dir; d.startsWith(this.cgroupTop); d = join(d, '..')) if (!this.cgroupDirs.includes(d)) this.cgroupDirs.push(d);
    return dir;
  }

  /** sh -c SCRIPT, waiting for "ready" on stdout when `ready`, else until its namespace differs from ours. */
  private async start(script: string, ready: boolean): Promise<number> {
    const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const pid = child.pid!;
    const deadline = Date.now() + 60_000;
    if (ready) {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const next = () =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`holder did not answer within 60 s: ${err}`)), 60_000);
          lines.next().then((l) => (clearTimeout(timer), l.done ? reject(new Error(`holder exited: ${err}`)) : resolve()), reject);
        });
      await next();
      this.pythons.push({ child, next });
    } else {
      const own = readlinkSync('/proc/self/ns/net');
      for (;;) {
        let link = own;
        try {
          link = readlinkSync(`/proc/${pid}/ns/net`);
        } catch {
          /* not yet */
        }
        if (link !== own) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`namespace holder did not start: ${err}`);
        await sleep(20);
      }
    }
    return pid;
  }

  private python(spec: Spec): string {
    return `python3 -c '${HOLDER.replace(/'/g, `'"'"'`)}' '${JSON.stringify(spec)}'`;
  }

  private logs(pod: { namespace: string; name: string; uid: string }, containers: { name: string; id: string }[]): void {
    const podDir = join(this.logRoot, 'pods', `${pod.namespace}_${pod.name}_${pod.uid}`);
    mkdirSync(join(this.logRoot, 'containers'), { recursive: true });
    for (const c of containers) {
      mkdirSync(join(podDir, c.name), { recursive: true });
      writeFileSync(join(podDir, c.name, '0.log'), '');
      symlinkSync(join(podDir, c.name, '0.log'), join(this.logRoot, 'containers', `${pod.name}_${pod.namespace}_${c.name}-${c.id}.log`));
    }
  }

  private specFor(i: number): Spec {
    return { listen: 1 + (i % 3), conn: 2 + (i % 5), closeWait: i % 3, timeWait: i % 5 === 0 ? 2 : 0, udp: i % 4 };
  }

  /**
   * A pod as kubelet makes one: a pause process (the sandbox container) holding a new netns, an app container's
   * process joining it; both in their scopes under the pod's slice.
   */
  private async pod(
    layout: { sandbox: string; app: (id: string) => string; runtime: string },
    pod: { namespace: string; name: string; uid: string },
    spec: Spec,
    container: string,
  ): Promise<void> {
    const sandboxId = hex64();
    const appId = hex64();
    const sandbox = this.cgroup(layout.sandbox.replace('ID', sandboxId));
    const app = this.cgroup(layout.app(appId));
    const pause = await this.start(`echo $$ > '${sandbox}/cgroup.procs' && exec unshare -n sh -c 'ip link set lo up && exec sleep 600'`, false);
    await this.start(`echo $$ > '${app}/cgroup.procs' && exec nsenter --net=/proc/${pause}/ns/net ${this.python(spec)}`, true);
    // an init container that ran and exited: kubelet keeps its log, no process of it is left
    this.logs(pod, [
      { name: container, id: appId },
      { name: 'init-migrate', id: hex64() },
    ]);
    this.namespaces.push({
      kind: 'pod',
      pid: pause,
      path: `/proc/${pause}/ns/net`,
      spec,
      pod,
      container: { runtime: layout.runtime, id: appId, name: container },
    });
  }

  private async build(named: number, anonymous: number): Promise<void> {
    let i = 0;
    for (let k = 0; k < named; k++, i++) {
      const name = `netns-t-${this.tag}-${k}`;
      execFileSync('ip', ['netns', 'add', name]);
      this.named.push(name);
      if (k < 2) {
        this.namespaces.push({ kind: 'named', name, path: `/run/netns/${name}` }); // nobody in it, no sockets
        continue;
      }
      const spec = this.specFor(i);
      const pid = await this.start(`exec ip netns exec ${name} sh -c 'ip link set lo up && exec ${this.python(spec).replace(/'/g, `'"'"'`)}'`, true);
      this.namespaces.push({ kind: 'named', name, pid, path: `/run/netns/${name}`, spec });
    }
    for (let k = 0; k < anonymous; k++, i++) {
      const spec = this.specFor(i);
      const pid = await this.start(`exec unshare -n sh -c 'ip link set lo up && exec ${this.python(spec).replace(/'/g, `'"'"'`)}'`, true);
      this.namespaces.push({ kind: 'anonymous', pid, path: `/proc/${pid}/ns/net`, spec });
    }
    const uid = () => randomUUID();
    const slice = (u: string) => u.replaceAll('-', '_');
    // kubelet, systemd cgroup driver, containerd, Burstable
    const u1 = uid();
    await this.pod(
      {
        runtime: 'containerd',
        sandbox: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${slice(u1)}.slice/cri-containerd-ID.scope`,
        app: (id) => `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${slice(u1)}.slice/cri-containerd-${id}.scope`,
      },
      { namespace: 'shop', name: 'cart-7d9f8b6c5-x2x9q', uid: u1 },
      this.specFor(i++),
      'cart',
    );
    // CRI-O, BestEffort
    const u2 = uid();
    await this.pod(
      {
        runtime: 'cri-o',
        sandbox: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${slice(u2)}.slice/crio-ID.scope`,
        app: (id) => `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${slice(u2)}.slice/crio-${id}.scope`,
      },
      { namespace: 'payments', name: 'ledger-0', uid: u2 },
      this.specFor(i++),
      'ledger',
    );
    // cri-dockerd, Guaranteed (no QoS slice)
    const u3 = uid();
    await this.pod(
      {
        runtime: 'docker',
        sandbox: `kubepods.slice/kubepods-pod${slice(u3)}.slice/docker-ID.scope`,
        app: (id) => `kubepods.slice/kubepods-pod${slice(u3)}.slice/docker-${id}.scope`,
      },
      { namespace: 'default', name: 'web-1', uid: u3 },
      this.specFor(i++),
      'nginx',
    );
    // cgroupfs driver (kubelet's default outside systemd), containerd
    const u4 = uid();
    await this.pod(
      { runtime: 'containerd', sandbox: `kubepods/burstable/pod${u4}/ID`, app: (id) => `kubepods/burstable/pod${u4}/${id}` },
      { namespace: 'kube-system', name: 'coredns-5d78c9869d-abcde', uid: u4 },
      this.specFor(i++),
      'coredns',
    );
    // containers without Kubernetes: podman, docker, systemd-nspawn
    for (const [runtime, rel] of [
      ['podman', (id: string) => `machine.slice/libpod-${id}.scope`],
      ['docker', (id: string) => `system.slice/docker-${id}.scope`],
      ['systemd-nspawn', () => `machine.slice/machine-${unitEscape(`netns-t-${this.tag}-box`)}.scope`],
    ] as const) {
      const id = runtime === 'systemd-nspawn' ? `netns-t-${this.tag}-box` : hex64();
      const dir = this.cgroup(rel(id));
      const spec = this.specFor(i++);
      const pid = await this.start(
        `echo $$ > '${dir}/cgroup.procs' && exec unshare -n sh -c 'ip link set lo up && exec ${this.python(spec).replace(/'/g, `'"'"'`)}'`,
        true,
      );
      this.namespaces.push({ kind: 'container', pid, path: `/proc/${pid}/ns/net`, spec, container: { runtime, id } });
    }
    // a hostNetwork pod: its process stays in our namespace, its socket is known by its cgroup only
    const u5 = uid();
    const hostId = hex64();
    const dir = this.cgroup(`kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${slice(u5)}.slice/cri-containerd-${hostId}.scope`);
    const pod = { namespace: 'monitoring', name: 'node-agent-q8z7k', uid: u5 };
    this.logs(pod, [{ name: 'agent', id: hostId }]);
    const child = spawn(
      'sh',
      [
        '-c',
        `echo $$ > '${dir}/cgroup.procs' && exec python3 -c 'import socket,sys,select
u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.bind(("127.0.0.1",0))
print(u.getsockname()[1],flush=True);select.select([sys.stdin],[],[],600)'`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    this.children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
      child.once('exit', () => reject(new Error('hostNetwork holder exited')));
    });
    this.hostNetwork = { pid: child.pid!, port, pod, container: { runtime: 'containerd', id: hostId, name: 'agent' } };
  }

  /** Every holder makes its TIME_WAIT sockets now (they last 60 s: call right before comparing). */
  async timeWait(): Promise<void> {
    await Promise.all(
      this.pythons.map(async (p) => {
        p.child.stdin!.write('tw\n');
        await p.next();
      }),
    );
  }

  /** Kill one namespace's holders (its processes); waits until they are gone. */
  async kill(pid: number): Promise<void> {
    const c = this.children.find((x) => x.pid === pid);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  /** Run a command inside a namespace (nsenter --net=PATH). */
  run(path: string, cmd: string, args: string[]): string {
    const r = spawnSync('nsenter', [`--net=${path}`, cmd, ...args], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`nsenter ${path} ${cmd}: ${r.stderr}`);
    return r.stdout;
  }

  async cleanup(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await gone;
      }),
    );
    for (const name of this.named) spawnSync('ip', ['netns', 'delete', name]);
    // deepest first; a directory may still list a process that is being reaped: retry a little
    const dirs = [...this.cgroupDirs].sort((a, b) => b.length - a.length);
    for (const d of dirs) {
      for (let attempt = 0; attempt < 50 && existsSync(d); attempt++) {
        try {
          rmdirSync(d);
        } catch {
          await sleep(20);
        }
      }
    }
    rmSync(this.logRoot, { recursive: true, force: true });
  }

  /** Leftovers this world would have made (for the cleanup test). */
  leftovers(): string[] {
    const out: string[] = [];
    if (existsSync(this.cgroupTop)) out.push(this.cgroupTop);
    if (existsSync(this.logRoot)) out.push(this.logRoot);
    for (const n of readdirSync('/run/netns').filter((x) => x.startsWith(`netns-t-${this.tag}`))) out.push(`/run/netns/${n}`);
    try {
      statSync(this.logRoot);
    } catch {
      /* gone */
    }
    return out;
  }
}
