/**
 * `--all-netns`: which namespaces (discovery, the selection, the cap), the labels their metrics carry, and
 * one gather over all of them. The namespace sockscope runs in (the host's) keeps its metrics unlabeled: the
 * host-wide figures stay what they were; every other namespace's metrics carry netns, pod, namespace and
 * container labels (the configured ones).
 */
import { statSync } from 'node:fs';
import type { GatherConfig, GatherReport } from '../gather/gather.js';
import { fromWire } from '../collectors/registry.js';
import { DEFAULT_MAX_NAMESPACES, NETNS_LABELS, type NetnsLabel } from './options.js';
import type { Metric } from '../model/metric.js';
import { discoverNamespaces, type DiscoverOptions, type NetnsInfo } from './discover.js';
import type { Exposition } from '../outputs/metrics/prometheus.js';
import type { NetnsOutcome, NetnsWalker } from './walk.js';

export { DEFAULT_MAX_NAMESPACES, NETNS_LABELS, parseLabels, type NetnsLabel } from './options.js';

export interface NetnsSelector {
  /** netns names (`ip netns`) or inodes */
  netns?: readonly string[];
  pod?: readonly string[];
  /** Kubernetes namespaces */
  namespace?: readonly string[];
  /** container names or ids (a prefix of 12 or more hex digits) */
  container?: readonly string[];
  /** namespaces walked at most (the own namespace always is); the rest are counted as skipped */
  max?: number;
  /** the own namespace only (the netns measurement without --all-netns) */
  ownOnly?: boolean;
}

export interface AllNetnsOptions extends DiscoverOptions {
  select?: NetnsSelector;
  /** labels on other namespaces' metrics (default all four) */
  labels?: readonly NetnsLabel[];
  /** metrics from other namespaces at most per gather; the rest are dropped and counted */
  maxSeries?: number;
  /** emit the netns measurement (each namespace's kernel counters) */
  counters?: boolean;
  /**
   * the host's sockets held by hostNetwork pods as labeled series too (default: on a Kubernetes node or a
   * container host, i.e. when kubelet's log directories name a pod or a namespace is a container's)
   */
  hostPods?: boolean;
}

export const DEFAULT_MAX_SERIES = 200_000;

/** The netns label value: the `ip netns` name, else the inode. */
export const netnsLabel = (ns: NetnsInfo): string => ns.name ?? String(ns.inode);

/** A pod's namespace shared by containers of more than one name (a restarted container keeps its name). */
export const sharedByContainers = (ns: Pick<NetnsInfo, 'containers'>): boolean => new Set(ns.containers?.map((c) => c.name)).size > 1;

/**
 * The configured labels of a namespace ("" never: an unknown pod has no pod label). A pod's namespace shared by
 * several containers has no container label: its sockets are theirs together (`ls` names each socket's).
 */
export function netnsTags(ns: NetnsInfo, labels: readonly NetnsLabel[] = NETNS_LABELS): Record<string, string> {
  if (ns.own) return {};
  const tags: Record<string, string> = {};
  for (const l of labels) {
    const v =
      l === 'netns'
        ? netnsLabel(ns)
        : l === 'pod'
          ? ns.pod?.name
          : l === 'namespace'
            ? ns.pod?.namespace
            : ns.container && !sharedByContainers(ns)
              ? (ns.container.name ?? ns.container.id.slice(0, 12))
              : undefined;
    if (v !== undefined) tags[l] = v;
  }
  return tags;
}

/** Whether a namespace passes the selector (own namespace: always). */
export function selected(ns: NetnsInfo, s: NetnsSelector | undefined): boolean {
  if (!s || ns.own) return true;
  if (s.netns?.length && !s.netns.some((x) => x === ns.name || x === String(ns.inode))) return false;
  if (s.pod?.length && !s.pod.includes(ns.pod?.name as string)) return false;
  if (s.namespace?.length && !s.namespace.includes(ns.pod?.namespace as string)) return false;
  if (s.container?.length) {
    // the namespace's container, or any of its pod's (a pod's namespace is shared by its containers)
    const is = (c: { name?: string; id: string }) => s.container!.some((x) => x === c.name || (x.length >= 12 && c.id.startsWith(x)) || x === c.id);
    if (!(ns.container && is(ns.container)) && !ns.containers?.some(is)) return false;
  }
  return true;
}

export interface NetnsPlan {
  /** to walk, own namespace first */
  namespaces: NetnsInfo[];
  /** discovered but left out by the cap */
  capped: number;
  /** discovered but not selected */
  unselected: number;
  notes: string[];
  discoveryMs: number;
  /** pods or containers were found (kubelet's directories, the namespaces' cgroups): hostNetwork pods may hold host sockets */
  containers: boolean;
}

export function planNamespaces(options: AllNetnsOptions = {}): NetnsPlan {
  if (options.select?.ownOnly) {
    const ino = statSync('/proc/thread-self/ns/net').ino;
    return {
      namespaces: [{ inode: ino, path: '/proc/thread-self/ns/net', processes: 1, own: true, pid: process.pid }],
      capped: 0,
      unselected: 0,
      notes: [],
      discoveryMs: 0,
      containers: false,
    };
  }
  const d = discoverNamespaces(options);
  const max = options.select?.max ?? DEFAULT_MAX_NAMESPACES;
  const chosen = d.namespaces.filter((ns) => selected(ns, options.select));
  const own = chosen.filter((n) => n.own);
  const others = chosen.filter((n) => !n.own);
  const kept = others.slice(0, max);
  const notes = [...d.notes];
  const sel = options.select;
  if (others.length === 0 && (sel?.netns?.length || sel?.pod?.length || sel?.namespace?.length || sel?.container?.length)) {
    notes.push(
      `no network namespace matched the selection (${[
        ['netns', sel.netns],
        ['pod', sel.pod],
        ['pod-namespace', sel.namespace],
        ['container', sel.container],
      ]
        .filter(([, v]) => v?.length)
        .map(([k, v]) => `--${k} ${(v as string[]).join(',')}`)
        .join(' ')}); only sockscope's own was read`,
    );
  }
  if (others.length > kept.length) notes.push(`${others.length - kept.length} network namespaces over the maximum of ${max} were not read`);
  return {
    namespaces: [...own, ...kept],
    capped: others.length - kept.length,
    unselected: d.namespaces.length - chosen.length,
    notes,
    discoveryMs: d.durationMs,
    containers: d.pods > 0 || d.namespaces.some((n) => n.container || n.pod),
  };
}

/**
 * What a gather's notes say, for a gatherer that runs again and again (the agent, execd) to say them once and
 * again only when this changes: which namespaces could not be entered and why, that a cap was reached, that
 * processes could not be read — not how many processes came and went, how many namespaces are over the cap,
 * nor a namespace that vanished mid-gather (its pod went away: nothing to act on).
 */
export function notesKey(notes: readonly string[]): string {
  return notes
    .map((n) =>
      n
        .replace(/^\d+ network namespaces? vanished.*$/, '')
        .replace(/^\d+ process(?:es'|'s) network namespaces? could not be read/, 'processes could not be read')
        .replace(/^\d+ network namespaces over the maximum/, 'namespaces over the maximum'),
    )
    .filter(Boolean)
    .join('; ');
}

/** What an --all-netns gather did, besides each namespace's own gather report. */
export interface NetnsReport {
  discovered: number;
  walked: number;
  /** entered and read */
  ok: number;
  vanished: number;
  denied: number;
  failed: number;
  /** over the maximum number of namespaces */
  capped: number;
  /** metrics dropped over maxSeries */
  seriesDropped: number;
  discoveryMs: number;
  walkMs: number;
  /** one line per kind of trouble (which namespaces could not be entered and why) */
  notes: string[];
  /** the own namespace's gather report (the host's) */
  host?: GatherReport;
}

/** One line per status listing the namespaces (by label) and why, at most a few named. */
export function outcomeNotes(namespaces: readonly NetnsInfo[], outcomes: readonly NetnsOutcome[]): string[] {
  const groups = new Map<string, string[]>();
  outcomes.forEach((o, i) => {
    if (o.status === 'ok') return;
    const key =
      o.status === 'vanished'
        ? 'vanished during the gather (skipped)'
        : o.status === 'denied'
          ? `could not be entered (${o.reason}${o.reason.includes('EPERM') ? ': setns needs CAP_SYS_ADMIN' : o.reason.includes('EACCES') ? ': needs CAP_SYS_PTRACE' : ''})`
          : `failed (${o.reason})`;
    const list = groups.get(key) ?? [];
    list.push(netnsLabel(namespaces[i]));
    groups.set(key, list);
  });
  return [...groups].map(
    ([why, names]) =>
      `${names.length} network namespace${names.length === 1 ? '' : 's'} ${why}: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`,
  );
}

/** What gatherAllNetns hands back besides the metrics it emitted. */
export interface AllNetnsGather {
  report: NetnsReport;
  /** with exposition: the samples rendered in the walker's threads, one part per thread */
  parts: Exposition[];
}

/**
 * One gather over every selected namespace: the collectors run in each (in the walker's threads) and their
 * metrics come back labeled (to `emit`, unless metrics is false), or rendered for Prometheus there
 * (exposition); with options.counters, the netns measurement too. includeOwn false leaves the own namespace
 * to the caller, 'counters' its netns measurement only (the agent gathers the rest of it in its own worker).
 */
export async function gatherAllNetns(
  config: GatherConfig,
  walker: NetnsWalker,
  options: AllNetnsOptions,
  emit: (m: Metric) => void,
  mode: { includeOwn?: boolean | 'counters'; metrics?: boolean; exposition?: boolean; lifecycle?: boolean } = {},
): Promise<AllNetnsGather> {
  // metrics carry no comm label: one file less per namespace (a caller may still ask for it)
  const plan = planNamespaces({ comm: false, ...options });
  const ownCountersOnly = mode.includeOwn === 'counters';
  const labels = options.labels ?? NETNS_LABELS;
  const hostPods = mode.includeOwn !== false && !options.select?.ownOnly && (options.hostPods ?? plan.containers) && config.measurements.length > 0;
  const namespaces = mode.includeOwn === false || (ownCountersOnly && !options.counters && !hostPods) ? plan.namespaces.filter((n) => !n.own) : plan.namespaces;
  const t0 = performance.now();
  const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  const targets = namespaces.map((ns) => ({
    inode: ns.inode,
    path: ns.path,
    own: ns.own,
    ...(ns.own || ns.pid === undefined ? {} : { pid: ns.pid }),
    tags: netnsTags(ns, labels),
    countersOnly: ns.own && ownCountersOnly,
  }));
  const threads = Math.max(1, Math.min(walker.threadCount(targets.length), targets.length));
  const walked =
    config.measurements.length > 0 || options.counters
      ? await walker.walk(
          targets,
          {
            kind: 'gather',
            config,
            counters: !!options.counters,
            metrics: mode.metrics !== false,
            exposition: !!mode.exposition,
            maxSeriesPerThread: Math.ceil(maxSeries / threads),
            lifecycle: !!mode.lifecycle,
            ...(hostPods ? { hostPods: { labels, logRoot: options.logRoot } } : {}),
          },
          !!options.counters,
        )
      : { outcomes: [], parts: [], seriesDropped: 0 };
  const outcomes = walked.outcomes;
  const report: NetnsReport = {
    discovered: plan.namespaces.length + plan.capped + plan.unselected,
    walked: namespaces.length,
    ok: 0,
    vanished: 0,
    denied: 0,
    failed: 0,
    capped: plan.capped,
    seriesDropped: walked.seriesDropped,
    discoveryMs: plan.discoveryMs,
    walkMs: performance.now() - t0,
    notes: [...plan.notes, ...outcomeNotes(namespaces, outcomes)],
  };
  outcomes.forEach((o, i) => {
    report[o.status]++;
    if (o.status !== 'ok') return;
    if (namespaces[i].own && o.gather && !ownCountersOnly) report.host = o.gather.report;
    for (const w of o.gather?.metrics ?? []) emit(fromWire(w));
  });
  if (report.seriesDropped > 0)
    report.notes.push(`${report.seriesDropped} metrics from network namespaces over the maximum of ${maxSeries} series were dropped`);
  return { report, parts: walked.parts };
}
