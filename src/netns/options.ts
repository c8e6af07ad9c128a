/**
 * The --all-netns options of `sockscope`, `ls`, `gather` and `execd` (declared with the other options in
 * src/cli/spec.ts, which makes their help, man page and completion): the plan they make. Kept apart from the
 * engine (and light: no imports beyond the error type) because every command's start-up loads it.
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

/** The Namespaces options as parsed (declared, with their help, in src/cli/spec.ts: NETNS_GROUP). */
export interface NetnsValues {
  'all-netns'?: boolean;
  netns?: string[];
  pod?: string[];
  'pod-namespace'?: string[];
  container?: string[];
  'max-netns'?: string;
  'netns-labels'?: string;
  'kubelet-log-root'?: string;
}

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
    if (!Number.isInteger(max) || max < 0)
      throw new UsageError(`--max-netns must be a non-negative integer, got '${v['max-netns']}'`, { key: 'max-netns', value: v['max-netns'] });
  }
  return {
    select: { netns: v.netns, pod: v.pod, namespace: v['pod-namespace'], container: v.container, max },
    labels:
      v['netns-labels'] === undefined
        ? undefined
        : parseLabels(
            v['netns-labels']
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean),
            '--netns-labels',
          ),
    logRoot: v['kubelet-log-root'],
  };
}
