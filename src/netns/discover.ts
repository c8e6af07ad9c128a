/**
 * Every network namespace on the host, and who it belongs to.
 *
 * Sources: /proc/<pid>/ns/net of every process (readlink gives "net:[inode]"; one namespace, many processes),
 * the bind mounts of `ip netns` (/run/netns) and docker (/var/run/docker/netns), which keep a namespace alive
 * with no process in it. Deduplicated by inode. Identity per namespace from the cgroup paths of its processes
 * and kubelet's log directories (src/netns/identity.ts). Read anew every gather: namespaces come and go.
 *
 * Nothing here fails: what cannot be read is counted and said in `notes`.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { readProcText } from '../procfs/read.js';
import {
  containerOfLogName,
  identityOfCgroupFile,
  identityOfCgroupPath,
  nsInodeOfLink,
  podOfLogDirectory,
  type ContainerIdentity,
  type ContainerLogEntry,
  type PodIdentity,
} from './identity.js';

export interface NetnsInfo {
  inode: number;
  /** a file to open for setns(): a bind mount, or /proc/<pid>/ns/net of one of its processes */
  path: string;
  /** the `ip netns` (or docker) name, when it has one */
  name?: string;
  /** a representative process (the lowest pid in it) and its comm */
  pid?: number;
  comm?: string;
  /** processes seen in it */
  processes: number;
  container?: ContainerIdentity;
  pod?: PodIdentity;
  /**
   * the named containers (kubelet's /var/log/containers) with a process in it, among the processes whose cgroup
   * is read: a pod's namespace is shared by all of them (--container selects it by any)
   */
  containers?: readonly { name: string; id: string }[];
  /** the namespace sockscope itself runs in (the host's, for a DaemonSet with hostNetwork) */
  own: boolean;
}

export interface DiscoverOptions {
  /** the proc filesystem (default /proc) */
  procRoot?: string;
  /** where bind-mounted namespaces live (default /run/netns, /var/run/netns, /var/run/docker/netns) */
  netnsDirs?: readonly string[];
  /** kubelet's log root: <logRoot>/pods, <logRoot>/containers (default /var/log) */
  logRoot?: string;
  /** processes whose cgroup is read per namespace, at most (the first found with a container name wins) */
  cgroupReadsPerNamespace?: number;
  /**
   * read the representative process's comm (default true): the summary and `ls` show it; metrics have no label
   * for it, so a gather leaves it out (one file less per namespace)
   */
  comm?: boolean;
  /** what the last discoveries found, for the next (the agent's, execd's): see DiscoveryCache */
  cache?: DiscoveryCache;
}

/**
 * What a discovery keeps for the next one (a long-running gatherer holds one): each namespace's comm and identity
 * by (inode, representative pid), kubelet's log directories by their modification times. The next discovery
 * still lists /proc and reads one link per process (processes come, go and change namespace), but reads a
 * namespace's comm and cgroup files only when its representative process changed (or no container was found
 * yet: a new namespace's processes may not be in their container's cgroup yet), and kubelet's directories only
 * when they changed; then every identity is worked out again (pods and container names come and go).
 */
export class DiscoveryCache {
  /** inode → the representative pid and what was read for it */
  readonly identities = new Map<number, Identity>();
  logs?: { key: string; logs: KubeletLogs };
}

/** What was read for a namespace's representative process. */
type Identity = Pick<NetnsInfo, 'comm' | 'container' | 'pod' | 'containers'> & { pid: number };

export interface Discovery {
  namespaces: NetnsInfo[];
  /** pods kubelet's log directories name (a Kubernetes node: its hostNetwork pods' sockets are looked for) */
  pods: number;
  notes: string[];
  durationMs: number;
}

/** kubelet's view of pods and containers on this node, from its log directories. */
export interface KubeletLogs {
  pods: Map<string, PodIdentity>;
  containers: Map<string, ContainerLogEntry>;
}

export const DEFAULT_NETNS_DIRS = ['/run/netns', '/var/run/netns', '/var/run/docker/netns'];

export function readKubeletLogs(logRoot = '/var/log'): KubeletLogs {
  const pods = new Map<string, PodIdentity>();
  const containers = new Map<string, ContainerLogEntry>();
  for (const name of listDir(`${logRoot}/pods`)) {
    const p = podOfLogDirectory(name);
    if (p) pods.set(p.uid, p);
  }
  for (const name of listDir(`${logRoot}/containers`)) {
    const c = containerOfLogName(name);
    if (c) containers.set(c.id, c);
  }
  return { pods, containers };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The pod of a uid (from a cgroup path) or of a container id (from /var/log/containers). */
function podOf(logs: KubeletLogs, uid: string | undefined, container: ContainerIdentity | undefined): PodIdentity | undefined {
  if (uid) {
    const p = logs.pods.get(uid);
    if (p) return p;
  }
  const c = container && logs.containers.get(container.id);
  if (c) {
    for (const p of logs.pods.values()) if (p.name === c.pod && p.namespace === c.namespace) return p;
  }
  return undefined;
}

/** Container and pod of a cgroup v2 path (a socket's cgroup, for hostNetwork pods). */
export function identityOfCgroup(path: string, logs: KubeletLogs): { container?: ContainerIdentity; pod?: PodIdentity } {
  const id = identityOfCgroupPath(path);
  const container = id.container && { ...id.container, ...named(logs, id.container.id) };
  return { container, pod: podOf(logs, id.podUid, id.container) };
}

const named = (logs: KubeletLogs, id: string): { name?: string } => {
  const n = logs.containers.get(id)?.container;
  return n ? { name: n } : {};
};

/**
 * kubelet's log directories, read again only when either directory changed (a pod or a container came or went
 * changes its mtime); a change also drops the cached identities, which were named from the old ones.
 */
function cachedKubeletLogs(logRoot = '/var/log', cache: DiscoveryCache | undefined): KubeletLogs {
  if (!cache) return readKubeletLogs(logRoot);
  const mtime = (d: string) => {
    try {
      const st = statSync(d);
      return `${st.ino}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  const key = `${logRoot}|${mtime(`${logRoot}/pods`)}|${mtime(`${logRoot}/containers`)}`;
  if (cache.logs?.key === key) return cache.logs.logs;
  cache.identities.clear();
  const logs = readKubeletLogs(logRoot);
  cache.logs = { key, logs };
  return logs;
}

export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;

/** Whether this process has a capability in its effective set (/proc/self/status CapEff); true when unreadable. */
export function hasCapability(cap: number, proc = '/proc'): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText(`${proc}/self/status`) ?? '');
  return m ? (BigInt(`0x${m[1]}`) >> BigInt(cap)) % 2n === 1n : true;
}

export function discoverNamespaces(options: DiscoverOptions = {}): Discovery {
  const started = performance.now();
  const proc = options.procRoot ?? '/proc';
  const notes: string[] = [];
  const byInode = new Map<number, NetnsInfo & { pids: number[] }>();
  const ownLink = (() => {
    try {
      return nsInodeOfLink(readlinkSync(`${proc}/thread-self/ns/net`));
    } catch {
      try {
        return nsInodeOfLink(readlinkSync(`${proc}/self/ns/net`));
      } catch {
        return undefined;
      }
    }
  })();

  let unreadable = 0;
  for (const entry of listDir(proc)) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a pid
    const pid = Number(entry);
    let link: string;
    try {
      link = readlinkSync(`${proc}/${entry}/ns/net`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') unreadable++; // ENOENT: it exited (or a kernel thread)
      continue;
    }
    const inode = nsInodeOfLink(link);
    if (inode === undefined) continue;
    let ns = byInode.get(inode);
    if (!ns) {
      ns = { inode, path: `${proc}/${entry}/ns/net`, processes: 0, own: inode === ownLink, pids: [] };
      byInode.set(inode, ns);
    }
    ns.processes++;
    ns.pids.push(pid);
  }
  if (unreadable > 0) {
    const why = hasCapability(CAP_SYS_PTRACE, proc) ? 'EACCES' : "EACCES: reading other users' /proc/PID/ns needs CAP_SYS_PTRACE";
    notes.push(
      `${unreadable} process${unreadable === 1 ? "'s network namespace" : "es' network namespaces"} could not be read (${why}); namespaces only they are in are missing`,
    );
  }

  // bind-mounted namespaces: `ip netns add` (/run/netns) and docker (/var/run/docker/netns)
  const nsfsDev = (() => {
    try {
      return statSync(`${proc}/self/ns/net`).dev;
    } catch {
      return undefined;
    }
  })();
  const seenDirs = new Set<number>();
  for (const dir of options.netnsDirs ?? DEFAULT_NETNS_DIRS) {
    let dirIno: number;
    try {
      dirIno = statSync(dir).ino;
    } catch {
      continue;
    }
    if (seenDirs.has(dirIno)) continue; // /var/run is usually a link to /run
    seenDirs.add(dirIno);
    for (const name of listDir(dir)) {
      const path = `${dir}/${name}`;
      let st;
      try {
        st = statSync(path);
      } catch {
        continue; // removed meanwhile
      }
      if (nsfsDev !== undefined && st.dev !== nsfsDev) continue; // a left-over file, not a mounted namespace
      let ns = byInode.get(st.ino);
      if (!ns) {
        ns = { inode: st.ino, path, processes: 0, own: st.ino === ownLink, pids: [] };
        byInode.set(st.ino, ns);
      }
      if (ns.name === undefined) {
        ns.name = name;
        ns.path = path; // a bind mount outlives any one process
      }
    }
  }

  const cache = options.cache;
  const logs = cachedKubeletLogs(options.logRoot, cache);
  const reads = options.cgroupReadsPerNamespace ?? 16;
  const out: NetnsInfo[] = [];
  const seen = cache && new Map<number, Identity>();
  for (const ns of byInode.values()) {
    const { pids, ...info } = ns;
    pids.sort((a, b) => a - b);
    const known = cache?.identities.get(ns.inode);
    const same = pids.length > 0 && known?.pid === pids[0];
    if (pids.length > 0) {
      info.pid = pids[0];
      const comm = same ? known.comm : options.comm === false ? undefined : readProcText(`${proc}/${pids[0]}/comm`)?.trimEnd();
      if (comm !== undefined) info.comm = comm;
    }
    if (same && known.container) {
      // the same namespace, the same representative process, a container found: what was read for it stands
      info.container = known.container;
      if (known.pod) info.pod = known.pod;
      if (known.containers) info.containers = known.containers;
    } else if (!ns.own) identify(info, pids, proc, logs, reads); // a namespace being set up may be in its container's cgroup soon
    if (seen && info.pid !== undefined)
      seen.set(ns.inode, { pid: info.pid, comm: info.comm, container: info.container, pod: info.pod, containers: info.containers });
    out.push(info);
  }
  if (cache && seen) {
    cache.identities.clear();
    for (const [k, v] of seen) cache.identities.set(k, v);
  }
  out.sort((a, b) => (a.own === b.own ? a.inode - b.inode : a.own ? -1 : 1));
  return { namespaces: out, pods: logs.pods.size, notes, durationMs: performance.now() - started };
}

/**
 * The container and pod of a namespace from its processes' cgroups: the first process (by pid) in a container
 * kubelet logs under a name wins (an application container rather than the pod's pause container); else the
 * first container found.
 */
function identify(info: NetnsInfo, pids: number[], proc: string, logs: KubeletLogs, reads: number): void {
  let first: ContainerIdentity | undefined;
  let podUid: string | undefined;
  /** the named containers with a process in it (a pod's app and sidecars; not its exited init containers) */
  const running = new Map<string, { name: string; id: string }>();
  for (let k = 0; k < pids.length && k < reads; k++) {
    const text = readProcText(`${proc}/${pids[k]}/cgroup`);
    if (text === undefined) continue;
    const id = identityOfCgroupFile(text);
    podUid ??= id.podUid;
    if (!id.container) continue;
    first ??= id.container;
    // kubelet names no container here (no /var/log/containers: docker, podman, nspawn): no later process can
    // give a name, so the first container stands, and its pod once a uid is known (or none can be)
    if (logs.containers.size === 0 && (podUid !== undefined || logs.pods.size === 0)) break;
    const name = logs.containers.get(id.container.id)?.container;
    if (name && !running.has(id.container.id)) {
      info.container ??= { ...id.container, name };
      running.set(id.container.id, { name, id: id.container.id });
    }
  }
  info.container ??= first;
  const pod = podOf(logs, podUid, info.container);
  if (pod) info.pod = pod;
  if (running.size > 0) info.containers = [...running.values()];
}

/**
 * Every cgroup v2 directory by inode → its path below the mount ("/kubepods.slice/..."). A socket's
 * INET_DIAG_CGROUP_ID is the inode of its cgroup's directory: this names the pod of a hostNetwork pod's sockets.
 * Bounded: at most maxDirs directories are read.
 */
export function cgroupPathsByInode(mount: string, maxDirs = 100_000): Map<number, string> {
  const out = new Map<number, string>();
  const root = mount.replace(/\/+$/, '');
  const stack = [''];
  while (stack.length > 0 && out.size < maxDirs) {
    const rel = stack.pop()!;
    let ino: number;
    try {
      ino = statSync(`${root}${rel || '/'}`).ino;
    } catch {
      continue; // removed meanwhile
    }
    out.set(ino, rel || '/');
    let entries;
    try {
      entries = readdirSync(`${root}${rel}`, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) if (e.isDirectory()) stack.push(`${rel}/${e.name}`);
  }
  return out;
}
