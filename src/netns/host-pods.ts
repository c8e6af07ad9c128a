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
import { Proto } from '../diag/constants.js';
import { InetAttr } from '../diag/constants.js';
import { AttributeIndex } from '../diag/attribute-index.js';
import { cgroup2Mount } from '../filter/resolve.js';
import { gather, planSnapshot, type GatherConfig } from '../gather/gather.js';
import type { Metric } from '../model/metric.js';
import { CensusCounts } from '../snapshot/census.js';
import type { DiagSession, Snapshot } from '../snapshot/snapshot.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import type { SocketTable } from '../snapshot/table.js';
import { cgroupPathsByInode, identityOfCgroup, readKubeletLogs } from './discover.js';
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

/** cgroup id → the pod/container it names (null: none), kept between gathers in the walking thread. */
const owners = new Map<number, Owner | null>();
let paths: Map<number, string> | undefined;

/** Tags of a cgroup path's pod and container (the configured labels, netns="host"), or null when it names neither. */
function ownerOf(path: string, logs: ReturnType<typeof readKubeletLogs>, labels: readonly NetnsLabel[]): Owner | null {
  const who = identityOfCgroup(path, logs);
  if (!who.pod && !who.container) return null;
  // labeled as a namespace named "host" holding this pod and container would be
  const tags = netnsTags({ inode: 0, path: '', name: 'host', processes: 0, own: false, ...who }, labels);
  return { key: `${who.pod?.uid ?? ''}/${who.container?.id ?? ''}`, tags };
}

/** The host's inet rows by the pod/container their cgroup names. */
function groupRows(t: SocketTable, o: HostPodsOptions): Map<string, { owner: Owner; rows: number[] }> {
  const groups = new Map<string, { owner: Owner; rows: number[] }>();
  const view = t.arenaView();
  const index = new AttributeIndex();
  let logs: ReturnType<typeof readKubeletLogs> | undefined;
  let walked = false;
  for (let i = 0; i < t.length; i++) {
    if (t.proto[i] === Proto.unix || t.attrLength[i] === 0) continue;
    const off = index.inet(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]).off[InetAttr.CGROUP_ID];
    if (off < 0) continue;
    const id = Number(view.getBigUint64(off, true));
    let owner = owners.get(id);
    if (owner === undefined) {
      // a cgroup not seen yet: the tree again (once per gather), kubelet's directories for its names
      if (!walked || !paths) {
        paths = cgroupPathsByInode(cgroup2Mount());
        walked = true;
      }
      const path = paths.get(id);
      owner = path === undefined ? null : ownerOf(path, (logs ??= readKubeletLogs(o.logRoot)), o.labels);
      if (owners.size > 100_000) owners.clear();
      owners.set(id, owner);
    }
    if (!owner) continue;
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
  // one table of the host's sockets with their attributes (the cgroup id among them); TIME_WAIT sockets have no
  // cgroup and are not a pod's
  const snap = await takeSnapshot({ ...plan.options, keepAttributes: true, procRoot }, session);
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
