/**
 * What `sockscope`, `ls`, `gather` and `execd` do with --all-netns (options.ts holds the options themselves):
 * gathers over every namespace, the summary's namespace table.
 */
import type { GatherConfig, GatherReport } from '../gather/gather.js';
import type { Metric } from '../model/metric.js';
import { STATE_KEYS, TCP_STATE_NUMBERS } from '../diag/constants.js';
import { CensusCounts } from '../snapshot/census.js';
import { gatherAllNetns, netnsLabel, notesKey, outcomeNotes, planNamespaces, sharedByContainers, type AllNetnsOptions, type NetnsReport } from './all.js';
import { DiscoveryCache, type NetnsInfo } from './discover.js';
import type { NetnsCounterValues } from './counters.js';
import { NetnsWalker } from './walk.js';

/**
 * Gathers over every namespace for `gather` / `execd`: the walker's threads are kept between gathers (execd),
 * closed by close().
 */
export class AllNetnsGatherer {
  // gather and execd are one-shot or stdin-driven: no event loop to keep free, so the walk runs on this thread.
  // execd keeps each namespace's socket (and counter files) from its second gather on, for the later ones (closed
  // by close()); the first keeps nothing, so a one-shot gather opens no descriptor it would not use again: five kept
  // per namespace would grow the process's descriptor table past 256 and 512, and each growth of a threaded
  // process's table waits for an RCU grace period (expand_fdtable: ~10-30 ms each, idle wall time)
  private readonly walker = new NetnsWalker({ inProcess: true });
  private gathers = 0;

  private readonly options: AllNetnsOptions;
  /** what the last gather's notes said (notesKey) */
  private said = '';

  constructor(options: AllNetnsOptions) {
    // execd gathers again and again: identities and kubelet's directories kept between gathers
    this.options = { ...options, cache: new DiscoveryCache() };
  }

  /** One gather; `counters`: the netns measurement too. The host's report stands for the gather's. */
  async gather(config: GatherConfig, counters: boolean, emit: (m: Metric) => void): Promise<{ report: GatherReport; netns: NetnsReport }> {
    if (this.gathers++ === 1) this.walker.keepSocketsFromNow();
    const { report: netns } = await gatherAllNetns(config, this.walker, { ...this.options, counters }, emit);
    // execd gathers again and again: what could not be read is said once, and again when it changes
    const key = notesKey(netns.notes);
    const notes = key !== '' && key === this.said ? [] : netns.notes;
    this.said = key;
    const report: GatherReport = netns.host ?? {
      snapshotMs: 0,
      durationMs: netns.walkMs,
      sockets: 0,
      retries: 0,
      interrupted: false,
      notes: [],
      sources: [],
      collectors: [],
    };
    return { report: { ...report, notes: [...report.notes, ...notes] }, netns };
  }

  close(): Promise<void> {
    return this.walker.close();
  }
}

/** One row of the summary's namespace table (and of `sockscope --json --all-netns`'s namespaces). */
export interface NamespaceSummary {
  inode: number;
  name?: string;
  pid?: number;
  comm?: string;
  host: boolean;
  container?: NetnsInfo['container'];
  /** a pod's namespace shared by several containers: theirs (names and ids) */
  containers?: NetnsInfo['containers'];
  pod?: NetnsInfo['pod'];
  status: 'ok' | 'vanished' | 'denied' | 'failed';
  reason?: string;
  sockets?: { tcp: number; udp: number };
  tcp?: Record<string, number>;
  counters?: NetnsCounterValues;
}

/** Every namespace's census and counters, for `sockscope --all-netns`. */
export async function summarizeNamespaces(options: AllNetnsOptions): Promise<{ namespaces: NamespaceSummary[]; notes: string[] }> {
  const plan = planNamespaces(options);
  const walker = new NetnsWalker({ inProcess: true });
  try {
    const targets = plan.namespaces.map((ns) => ({ inode: ns.inode, path: ns.path, own: ns.own }));
    const { outcomes } = await walker.walk(targets, { kind: 'census', options: { protocols: ['tcp', 'udp'], timeWaitFromCounter: true } }, true);
    const namespaces = plan.namespaces.map((ns, i): NamespaceSummary => {
      const o = outcomes[i];
      const row: NamespaceSummary = {
        inode: ns.inode,
        ...(ns.name ? { name: ns.name } : {}),
        ...(ns.pid ? { pid: ns.pid, comm: ns.comm } : {}),
        host: ns.own,
        ...(ns.container ? { container: ns.container } : {}),
        ...(sharedByContainers(ns) ? { containers: ns.containers } : {}),
        ...(ns.pod ? { pod: ns.pod } : {}),
        status: o.status,
      };
      if (o.status !== 'ok') return { ...row, reason: o.reason };
      const counts = new CensusCounts();
      counts.counts.set(new Float64Array(o.census!.counts));
      const states = counts.states('tcp');
      const tcp: Record<string, number> = {};
      for (const s of TCP_STATE_NUMBERS) tcp[STATE_KEYS[s]] = states[s];
      return { ...row, sockets: { tcp: counts.total('tcp'), udp: counts.total('udp') }, tcp, counters: o.counters };
    });
    return { namespaces, notes: [...plan.notes, ...outcomeNotes(plan.namespaces, outcomes)] };
  } finally {
    await walker.close();
  }
}

/** The column a person reads a namespace by: host, namespace/pod, a container, the ip netns name, the inode. */
export function namespaceCell(ns: Pick<NetnsInfo, 'inode' | 'name' | 'own' | 'pod' | 'container'>): string {
  if (ns.own) return 'host';
  if (ns.pod) return `${ns.pod.namespace}/${ns.pod.name}`;
  if (ns.name) return ns.name;
  if (ns.container)
    return `${ns.container.runtime}:${ns.container.name ?? (ns.container.runtime === 'systemd-nspawn' ? ns.container.id : ns.container.id.slice(0, 12))}`;
  return netnsLabel({ ...ns, processes: 0, path: '' });
}

/** The summary's namespace table as text. */
export function renderNamespaces(
  rows: readonly NamespaceSummary[],
  notes: readonly string[],
  format: (rows: string[][], align: ('l' | 'r')[]) => string,
): string {
  const table: string[][] = [['Network namespace', 'container', 'pid', 'TCP', 'estab', 'listen', 'close-wait', 'time-wait', 'UDP', 'overflows', 'drops']];
  for (const r of rows) {
    const cell = namespaceCell({ ...r, own: r.host });
    const c = r.containers
      ? r.containers.map((x) => x.name).join(',')
      : r.container
        ? (r.container.name ?? `${r.container.runtime}:${r.container.id.slice(0, 12)}`)
        : '';
    const pid = r.pid ? `${r.pid}/${r.comm ?? '?'}` : '';
    if (r.status !== 'ok') {
      table.push([cell, c, pid, r.status, '', '', '', '', '', '', '']);
      continue;
    }
    const n = (x: number | undefined) => (x === undefined ? '-' : String(x));
    table.push([
      cell,
      c,
      pid,
      n(r.sockets?.tcp),
      n(r.tcp?.established),
      n(r.tcp?.listen),
      n(r.tcp?.close_wait),
      n(r.tcp?.time_wait),
      n(r.sockets?.udp),
      n(r.counters?.listen_overflows),
      n(r.counters?.listen_drops),
    ]);
  }
  return `${format(table, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'])}${notes.map((n) => `Note: ${n}\n`).join('')}`;
}
