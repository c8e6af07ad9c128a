/**
 * The --all-netns options of `sockscope`, `ls`, `gather` and `execd`: one spec, one help text, one plan. Kept
 * apart from the engine (and light: no imports beyond the error type) because every command's start-up loads it.
 */
import { UsageError } from '../errors.js';
import type { AllNetnsOptions } from './all.js';

export const DEFAULT_MAX_NAMESPACES = 1000;

export const NETNS_LABELS = ['netns', 'pod', 'namespace', 'container'] as const;
export type NetnsLabel = (typeof NETNS_LABELS)[number];

/** Check a label list from a flag or the configuration. */
export function parseLabels(list: readonly string[], key: string): NetnsLabel[] {
  for (const l of list) {
    if (!(NETNS_LABELS as readonly string[]).includes(l)) {
      throw new UsageError(`${key}: unknown label '${l}': expected some of ${NETNS_LABELS.join(', ')}`, { key, value: l });
    }
  }
  return [...new Set(list)] as NetnsLabel[];
}

export const NETNS_OPTIONS = {
  'all-netns': { type: 'boolean' },
  netns: { type: 'string', multiple: true },
  pod: { type: 'string', multiple: true },
  'pod-namespace': { type: 'string', multiple: true },
  container: { type: 'string', multiple: true },
  'max-netns': { type: 'string' },
  'netns-labels': { type: 'string' },
  'kubelet-log-root': { type: 'string' },
} as const;

export const NETNS_HELP = `Namespaces (docs/namespaces.md):
  --all-netns               every network namespace on the host: containers, pods, ip netns; needs
                            CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (other users' /proc)
  --netns NAME|INODE        only these namespaces (repeatable; implies --all-netns)
  --pod NAME                only these pods' namespaces (repeatable; implies --all-netns)
  --pod-namespace NS        only pods of these Kubernetes namespaces (repeatable)
  --container NAME|ID       only these containers' namespaces (name, or an id prefix of 12+ hex digits)
  --max-netns N             read at most N namespaces besides sockscope's own (default ${DEFAULT_MAX_NAMESPACES})
  --netns-labels LIST       labels on their metrics: netns,pod,namespace,container (default all four)
  --kubelet-log-root DIR    where kubelet's pods/ and containers/ log directories are (default /var/log)
`;

type NetnsValues = { [K in keyof typeof NETNS_OPTIONS]?: (typeof NETNS_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof NETNS_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/** The options as parsed → what to walk; undefined without --all-netns or a selector. */
export function planNetnsCli(v: NetnsValues, net: string | undefined): AllNetnsOptions | undefined {
  const selectors = !!(v.netns?.length || v.pod?.length || v['pod-namespace']?.length || v.container?.length);
  const all = !!v['all-netns'] || selectors;
  if (!all) {
    for (const k of ['max-netns', 'netns-labels', 'kubelet-log-root'] as const) {
      if (v[k] !== undefined) throw new UsageError(`--${k} goes with --all-netns (or a --netns/--pod/--pod-namespace/--container selector)`, { key: k });
    }
    return undefined;
  }
  if (net !== undefined) throw new UsageError('-N reads one namespace, --all-netns every one: give one of them', { key: 'net' });
  let max: number | undefined;
  if (v['max-netns'] !== undefined) {
    max = Number(v['max-netns']);
    if (!Number.isInteger(max) || max < 0) throw new UsageError(`--max-netns must be a non-negative integer, got '${v['max-netns']}'`, { key: 'max-netns', value: v['max-netns'] });
  }
  return {
    select: { netns: v.netns, pod: v.pod, namespace: v['pod-namespace'], container: v.container, max },
    labels: v['netns-labels'] === undefined ? undefined : parseLabels(v['netns-labels'].split(',').map((x) => x.trim()).filter(Boolean), '--netns-labels'),
    logRoot: v['kubelet-log-root'],
  };
}

