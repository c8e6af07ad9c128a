/**
 * hostNetwork pods in the metrics: their sockets live in the host's namespace, whose metrics stay unlabeled (the
 * host-wide totals). A socket's INET_DIAG_CGROUP_ID is the inode of its cgroup v2 directory, which names the
 * pod and container (kubepods-…-pod<uid>.slice/cri-containerd-<id>.scope, as for a namespace's processes): the
 * host's sockets whose cgroup is a pod's or a container's are grouped by it, and every enabled collector runs
 * over each group, its metrics labeled `netns="host"`, `pod`, `namespace`, `container` (the configured ones).
 * These series come on top of the host's totals, which still count the same sockets.
 *
 * Runs where the host's namespace is gathered in the walk (walk-thread.ts), over the walk's socket there. The
 * cgroup tree is walked once and again only when a socket names a cgroup not seen yet (at most once a gather).
 */
import { statSync } from 'node:fs';
import { AF_INET6, InetAttr, Proto, TCP_LISTEN, TCP_TIME_WAIT } from '../diag/constants.js';
import { AttributeIndex } from '../diag/attribute-index.js';
import { cgroup2Mount } from '../filter/resolve.js';
import { gather, planSnapshot, type GatherConfig } from '../gather/gather.js';
import type { Metric } from '../model/metric.js';
import { CensusCounts } from '../snapshot/census.js';
import type { DiagSession, Snapshot } from '../snapshot/snapshot.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import type { SocketTable } from '../snapshot/table.js';
import { cgroupPathsByInode, identityOfCgroup, readKubeletLogs, type KubeletLogs } from './discover.js';
import type { ContainerIdentity, PodIdentity } from './identity.js';
import { netnsTags } from './all.js';
import type { NetnsLabel } from './options.js';

/** What the host-pods step needs besides the gather's config (HostPodsJob in a walk request). */
export interface HostPodsOptions {
  labels: readonly NetnsLabel[];
  logRoot?: string;
}

/** The measurements computed from the sockets alone, which a pod's subset of the host's sockets can have. */
const PER_SOCKET = new Set(['netstat', 'netstat_port', 'listen', 'socketstat']);
/** Measurements those collectors emit beside the sockets' from a host fact (listen: the local port range). */
const HOST_FACTS = new Set(['local_port_range']);

interface Owner {
  key: string;
  tags: Record<string, string>;
}

/** The pod and container a socket belongs to, by its cgroup (or, for a TIME_WAIT socket, by its listener's). */
export interface SocketOwner {
  container?: ContainerIdentity;
  pod?: PodIdentity;
}

/**
 * Whose each socket of a table is, by INET_DIAG_CGROUP_ID: the inode of the cgroup v2 directory the socket was
 * made in (an accepted socket inherits its listener's), whose path names the pod and container as a process's
 * does. A TIME_WAIT socket has no cgroup (the kernel keeps a small inet_timewait_sock, not the socket): one whose
 * local address and port are a listener's in the same table (the server side of a connection the server closed
 * first) is its listener's, and so are the kernel's other mini sockets, which have no cgroup either (SYN_RECV
 * requests; an orphan's FIN_WAIT2, kept as a timewait socket); a client's (an ephemeral port) is nobody's.
 *
 * cgroup id → owner is kept between calls (`cache`); the cgroup tree is walked again at most once per
 * `resolve` call, and only when a socket names a cgroup not seen yet. Pure over the table but for those reads.
 */
export class SocketOwners {
  private paths: Map<number, string> | undefined;
  private walked = false;
  private logs: KubeletLogs | undefined;

  constructor(
    readonly logRoot: string | undefined,
    private readonly cache: Map<number, SocketOwner | null> = new Map(),
  ) {}

  /** The owner of a cgroup id, or null when its cgroup names no pod and no container. */
  ofCgroup(id: number): SocketOwner | null {
    let owner = this.cache.get(id);
    if (owner !== undefined) return owner;
    // a cgroup not seen yet: the tree again (once between fresh() calls), kubelet's directories for its names
    if (!this.walked || !this.paths) {
      this.paths = cgroupPathsByInode(cgroup2Mount());
      this.walked = true;
    }
    const path = this.paths.get(id);
    let who: SocketOwner | undefined;
    if (path !== undefined) who = identityOfCgroup(path, (this.logs ??= readKubeletLogs(this.logRoot)));
    owner = who && (who.pod || who.container) ? who : null;
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(id, owner);
    return owner;
  }

  /** kubelet's directories as last seen (their inode and modification time) */
  private logsKey = '';

  /**
   * A new gather: cgroups not seen yet may walk the tree again (once), kubelet's directories are read again; when
   * they changed (a pod or container came or went), what was named from them is forgotten.
   */
  fresh(): this {
    this.walked = false;
    this.logs = undefined;
    const root = this.logRoot ?? '/var/log';
    const key = [`${root}/pods`, `${root}/containers`]
      .map((d) => {
        try {
          const st = statSync(d);
          return `${st.ino}:${st.mtimeMs}`;
        } catch {
          return '-';
        }
      })
      .join('|');
    if (key !== this.logsKey) this.cache.clear();
    this.logsKey = key;
    return this;
  }

  /**
   * The owner of every row in [from, to) (undefined: none), TCP rows without a cgroup by their listener. The tree
   * is walked at most once between fresh() calls (a listing over every namespace walks it once).
   */
  resolve(t: SocketTable, from = 0, to = t.length): (SocketOwner | undefined)[] {
    const out: (SocketOwner | undefined)[] = new Array(to - from);
    const view = t.arenaView();
    const index = new AttributeIndex();
    /** listeners with an owner, by local port: their rows */
    let listeners: Map<number, number[]> | undefined;
    /** TCP rows without a cgroup: TIME_WAIT and the kernel's other mini sockets (SYN_RECV, an orphan's FIN_WAIT2) */
    let cgroupless: number[] | undefined;
    for (let i = from; i < to; i++) {
      if (t.proto[i] === Proto.unix) continue;
      const off =
        t.proto[i] === Proto.tcp && t.state[i] === TCP_TIME_WAIT
          ? -1
          : t.attrLength[i] === 0
            ? -1
            : index.inet(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]).off[InetAttr.CGROUP_ID];
      if (off < 0) {
        if (t.proto[i] === Proto.tcp) (cgroupless ??= []).push(i);
        continue;
      }
      const owner = this.ofCgroup(Number(view.getBigUint64(off, true)));
      if (!owner) continue;
      out[i - from] = owner;
      if (t.proto[i] === Proto.tcp && t.state[i] === TCP_LISTEN) {
        listeners ??= new Map();
        const rows = listeners.get(t.sport[i]);
        if (rows) rows.push(i);
        else listeners.set(t.sport[i], [i]);
      }
    }
    if (cgroupless && listeners) {
      for (const i of cgroupless) {
        const rows = listeners.get(t.sport[i]);
        const l = rows?.find((r) => listensOn(t, r, i));
        if (l !== undefined) out[i - from] = out[l - from];
      }
    }
    return out;
  }
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Whether listener row l accepts on row i's local address (the same, or a wildcard; a v6 wildcard takes v4 too). */
function listensOn(t: SocketTable, l: number, i: number): boolean {
  const src = t.src;
  let any = true;
  for (let k = 0; k < 16; k++) if (src[l * 16 + k] !== 0) any = false;
  if (any) return t.family[l] === t.family[i] || t.family[l] === AF_INET6;
  if (t.family[l] === t.family[i]) {
    const n = t.family[l] === AF_INET6 ? 16 : 4;
    for (let k = 0; k < n; k++) if (src[l * 16 + k] !== src[i * 16 + k]) return false;
    return true;
  }
  // a v4 connection on a v6 listener bound to ::ffff:a.b.c.d
  if (t.family[l] !== AF_INET6) return false;
  for (let k = 0; k < 12; k++) if (src[l * 16 + k] !== V4_MAPPED[k]) return false;
  for (let k = 0; k < 4; k++) if (src[l * 16 + 12 + k] !== src[i * 16 + k]) return false;
  return true;
}

/** Tags of a pod/container (the configured labels, netns="host"). */
function ownerTags(who: SocketOwner, labels: readonly NetnsLabel[]): Owner {
  // labeled as a namespace named "host" holding this pod and container would be
  const tags = netnsTags({ inode: 0, path: '', name: 'host', processes: 0, own: false, ...who }, labels);
  return { key: `${who.pod?.uid ?? ''}/${who.container?.id ?? ''}`, tags };
}

/** cgroup id → owner, kept between gathers in the walking thread. */
const cgroupOwners = new Map<number, SocketOwner | null>();
let owners: SocketOwners | undefined;

/** The host's inet rows by the pod/container their cgroup (or their listener's) names. */
function groupRows(t: SocketTable, o: HostPodsOptions): Map<string, { owner: Owner; rows: number[] }> {
  const groups = new Map<string, { owner: Owner; rows: number[] }>();
  if (!owners || owners.logRoot !== o.logRoot) {
    cgroupOwners.clear(); // named from another kubelet log root
    owners = new SocketOwners(o.logRoot, cgroupOwners);
  }
  const of = owners.fresh().resolve(t);
  const tagged = new Map<SocketOwner, Owner>();
  for (let i = 0; i < t.length; i++) {
    const who = of[i];
    if (!who) continue;
    let owner = tagged.get(who);
    if (!owner) tagged.set(who, (owner = ownerTags(who, o.labels)));
    let g = groups.get(owner.key);
    if (!g) groups.set(owner.key, (g = { owner, rows: [] }));
    g.rows.push(i);
  }
  return groups;
}

/**
 * Every enabled collector over each hostNetwork pod's (or host-network container's) sockets, labeled; returns the
 * number of groups. `emit` gets the labeled metrics.
 */
export async function gatherHostPods(
  config: GatherConfig,
  session: DiagSession,
  procRoot: string,
  o: HostPodsOptions,
  emit: (m: Metric) => void,
): Promise<number> {
  // what the sockets themselves say; not the host's facts (the closed-connection tracker, the doctor's history,
  // the local port range), which no pod owns
  const measurements = config.measurements.filter((m) => PER_SOCKET.has(m));
  if (measurements.length === 0) return 0;
  config = { ...config, measurements };
  const plan = planSnapshot(config);
  // one table of the host's sockets with their attributes (the cgroup id among them); TIME_WAIT sockets (which
  // have no cgroup) dumped too, even where the host's own count takes them from the counter: a pod's listener
  // names the server side of its connections' TIME_WAIT
  const snap = await takeSnapshot({ ...plan.options, keepAttributes: true, timeWaitFromCounter: false, established: 'all', procRoot }, session);
  const groups = groupRows(snap.table, o);
  for (const { owner, rows } of groups.values()) {
    const table = snap.table.pick(rows);
    const part: Snapshot = { ...snap, table };
    const counts = new CensusCounts();
    for (let i = 0; i < table.length; i++) counts.add(table.proto[i], table.family[i], table.state[i]);
    await gather(
      { ...config, tags: { ...config.tags, ...owner.tags } },
      { snapshot: async () => part, census: async () => ({ counts, sources: snap.sources, takenAt: snap.takenAt, durationMs: snap.durationMs, notes: [] }) },
      (m) => {
        if (!HOST_FACTS.has(m.schema.name)) emit(m);
      },
    );
  }
  return groups.size;
}
