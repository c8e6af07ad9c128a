/**
 * Who a network namespace belongs to, from what the host already has on disk: the cgroup paths of the
 * processes in it (the container runtime and id, the Kubernetes pod uid), kubelet's log directories (the pod's
 * name and namespace, the containers' names). No API server, no runtime socket.
 *
 * Everything here is pure (text in, names out); reading the files is src/netns/discover.ts's.
 */

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'systemd-nspawn';

export interface ContainerIdentity {
  runtime: ContainerRuntime;
  /** the runtime's container id (64 hex digits), or the machine name for systemd-nspawn */
  id: string;
  /** the container's name in its pod (from /var/log/containers), when known */
  name?: string;
}

export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
}

/** What one cgroup path says: a container, a pod uid, or both (the pod's containers), or neither. */
export interface CgroupIdentity {
  container?: ContainerIdentity;
  podUid?: string;
}

/** "net:[4026531840]" (readlink of /proc/PID/ns/net) → 4026531840, or undefined. */
export function nsInodeOfLink(link: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * One path component of a container's cgroup, as each runtime names it:
 *   systemd driver: docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope,
 *                   nerdctl-<id>.scope (containerd without Kubernetes), machine-<name>.scope (systemd-nspawn;
 *                   '-' in the name escaped as \x2d)
 *   cgroupfs driver: /docker/<id>, /kubepods/<qos>/pod<uid>/<id> (runtime unknown from the path: containerd,
 *                   kubelet's default), /kubepods/<qos>/pod<uid>/crio-<id> (CRI-O names its own),
 *                   /libpod_parent/libpod-<id>
 * The runtimes' helper scopes (crio-conmon-<id>, libpod-conmon-<id>) are not containers.
 */
function containerOfComponent(c: string, parent: string | undefined, underKubepods: boolean): ContainerIdentity | undefined {
  let m = /^(docker|cri-containerd|crio|libpod|nerdctl)-([0-9a-f]{64})\.scope$/.exec(c) ?? /^(crio|libpod)-([0-9a-f]{64})$/.exec(c);
  if (m) {
    const runtime = ({ docker: 'docker', 'cri-containerd': 'containerd', crio: 'cri-o', libpod: 'podman', nerdctl: 'containerd' } as const)[m[1] as 'docker'];
    return { runtime, id: m[2] };
  }
  m = /^machine-(.+)\.scope$/.exec(c);
  if (m) return { runtime: 'systemd-nspawn', id: m[1].replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))) };
  if (HEX64.test(c)) {
    if (parent === 'docker') return { runtime: 'docker', id: c };
    if (underKubepods && parent && podUidOfComponent(parent)) return { runtime: 'containerd', id: c };
  }
  return undefined;
}

/**
 * A pod uid as kubelet writes it: a UUID (API pods), or 32 hex digits (static pods: the hash of the manifest,
 * e.g. etcd, kube-apiserver, kube-proxy on kubeadm nodes, which are hostNetwork pods).
 */
const POD_UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}';

/**
 * The pod uid in a kubepods component: kubepods-<qos>-pod<uid>.slice (systemd driver, uid with _ for -; under
 * kubelet's --cgroup-root the slices carry its name first, e.g. kind's kubelet-kubepods-besteffort-pod<uid>.slice),
 * or pod<uid> (cgroupfs driver).
 */
const POD_COMPONENT = new RegExp(`^(?:(?:[a-z0-9_]+-)?kubepods(?:-[a-z]+)?-pod(${POD_UID})\\.slice|pod(${POD_UID}))$`);
function podUidOfComponent(c: string): string | undefined {
  const m = POD_COMPONENT.exec(c);
  const uid = m && (m[1] ?? m[2]);
  return uid ? uid.replaceAll('_', '-') : undefined;
}

/** Container and pod uid from one cgroup path ("/kubepods.slice/.../cri-containerd-<id>.scope"). */
export function identityOfCgroupPath(path: string): CgroupIdentity {
  const parts = path.split('/').filter(Boolean);
  const out: CgroupIdentity = {};
  // kubepods, kubepods.slice, kubepods-<qos>.slice, or under kubelet's --cgroup-root kubelet-kubepods.slice (kind);
  // read from inside a container with its own cgroup namespace (the DaemonSet), a path is relative to that
  // namespace's root ("/../../../burstable/pod<uid>/<id>"): the kubepods level may be above what is shown
  let kubepods = parts.findIndex((c) => /^(?:[a-z0-9_]+-)?kubepods(?:$|[.-])/.test(c));
  if (kubepods < 0 && parts[0] === '..') kubepods = parts.lastIndexOf('..');
  for (let i = 0; i < parts.length; i++) {
    const c = parts[i];
    const uid = kubepods >= 0 && i >= kubepods ? podUidOfComponent(c) : undefined;
    if (uid) out.podUid = uid;
    const container = containerOfComponent(c, parts[i - 1], kubepods >= 0 && i > kubepods);
    if (container) out.container = container;
  }
  return out;
}

/**
 * /proc/PID/cgroup → the identity its paths give. cgroup v2 ("0::/path") is read first; on a v1 (or hybrid)
 * host every hierarchy's path is tried ("4:memory:/docker/<id>"), since runtimes place a container in all.
 */
export function identityOfCgroupFile(text: string): CgroupIdentity {
  const lines = text.split('\n').filter(Boolean);
  const v2 = lines.find((l) => l.startsWith('0::'));
  const paths = [...(v2 ? [v2.slice(3)] : []), ...lines.filter((l) => l !== v2).map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1))];
  const out: CgroupIdentity = {};
  for (const p of paths) {
    const id = identityOfCgroupPath(p);
    if (id.container && !out.container) out.container = id.container;
    if (id.podUid && !out.podUid) out.podUid = id.podUid;
    if (out.container && out.podUid) break;
  }
  return out;
}

/** The cgroup v2 path of /proc/PID/cgroup ("0::/path"), or undefined on a v1-only host. */
export function cgroupV2Path(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line?.slice(3);
}

/**
 * kubelet's /var/log/pods entry "<namespace>_<pod>_<uid>" → the pod (names are DNS labels: no '_'; the uid a
 * UUID, or 32 hex digits for a static pod).
 */
export function podOfLogDirectory(name: string): PodIdentity | undefined {
  const m = /^([a-z0-9.-]+)_([a-z0-9.-]+)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/.exec(name);
  return m ? { namespace: m[1], name: m[2], uid: m[3] } : undefined;
}

export interface ContainerLogEntry {
  pod: string;
  namespace: string;
  container: string;
  id: string;
}

/** kubelet's /var/log/containers entry "<pod>_<namespace>_<container>-<id>.log" → its parts. */
export function containerOfLogName(name: string): ContainerLogEntry | undefined {
  const m = /^([a-z0-9.-]+)_([a-z0-9.-]+)_([a-z0-9-]+)-([0-9a-f]{64})\.log$/.exec(name);
  return m ? { pod: m[1], namespace: m[2], container: m[3], id: m[4] } : undefined;
}
