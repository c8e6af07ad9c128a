/**
 * One gather: plan the single snapshot the enabled collectors need (a census when counts do, a table when
 * ports or per-connection data are needed, tcp_info only for socketstat), take it, run each collector over
 * it. A collector that throws is reported and the others still run (Telegraf's best-effort gathering).
 */
import { readFileSync } from 'node:fs';
import { sysfsInterfaceNames } from '../util/net.js';
import { Ext, UnixShow, type ProtoName } from '../diag/constants.js';
import type { SocketTable } from '../snapshot/table.js';
import type { Metric } from '../model/metric.js';
import { indexSocketHolders } from '../procfs/processes.js';
import type { Census, Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';
import { tableConnections, tcpListenerRows } from './connections.js';
import { collectListen } from './listen.js';
import { collectNetstat, netstatFromCensus, type NetstatOptions } from './netstat.js';
import { collectNetstatPort, type PortGroup } from './netstat-port.js';
import { collectSocketstat, SOCKETSTAT_DEFAULT_STATES, type SocketstatOptions } from './socketstat.js';

export const MEASUREMENTS = ['netstat', 'netstat_port', 'socketstat', 'listen'] as const;
export type MeasurementName = (typeof MEASUREMENTS)[number];

export interface GatherConfig {
  measurements: readonly MeasurementName[];
  netstat?: NetstatOptions;
  netstatPort?: {
    groups: readonly PortGroup[];
    semantics?: NetstatOptions['semantics'];
    processAttribution?: boolean;
    /** with no groups: one group per TCP listening port of the snapshot */
    autoListenPorts?: boolean;
  };
  socketstat?: SocketstatOptions;
  /** added to every metric (host, global tags); collector tags win */
  tags?: Record<string, string>;
  /** protocols to include in the snapshot just for their counts (the report's sources), e.g. unix for Zabbix */
  countProtocols?: ProtoName[];
}

/** How snapshots are taken: in-process (takeSnapshot/takeCensus) or by a SnapshotWorker. */
export interface Snapshotter {
  snapshot(o: SnapshotOptions): Promise<Snapshot>;
  census(o: SnapshotOptions): Promise<Census>;
  /** streamSnapshot: the same rows in reused batch tables (in-process only) */
  stream?(o: SnapshotOptions, onBatch: (table: SocketTable, takenAt: number) => void): Promise<Omit<Snapshot, 'table'>>;
}

export interface CollectorReport {
  name: MeasurementName;
  ok: boolean;
  durationMs: number;
  metrics: number;
  error?: string;
}

export interface GatherReport {
  /** wall time of the snapshot */
  snapshotMs: number;
  durationMs: number;
  sockets: number;
  retries: number;
  interrupted: boolean;
  notes: string[];
  sources: Snapshot['sources'];
  collectors: CollectorReport[];
  /** the snapshot failed altogether: no collector ran */
  error?: string;
}

/** What one snapshot must hold for these collectors. */
export function planSnapshot(c: GatherConfig): { table: boolean; options: SnapshotOptions } {
  const protocols = new Set<ProtoName>();
  let table = false;
  let ext = 0;
  let unixShow = 0;
  const compat = (s?: string) => s === 'telegraf';
  if (c.measurements.includes('netstat')) {
    protocols.add('tcp').add('udp');
    if (compat(c.netstat?.semantics)) {
      protocols.add('unix');
      table = true; // de-duplication needs addresses; unix types need a table
      unixShow |= UnixShow.NAME;
    }
  }
  if (c.measurements.includes('netstat_port')) {
    protocols.add('tcp').add('udp');
    table = true;
  }
  if (c.measurements.includes('listen')) {
    protocols.add('tcp');
    table = true;
  }
  for (const p of c.countProtocols ?? []) protocols.add(p);
  if (c.measurements.includes('socketstat')) {
    for (const p of c.socketstat?.protocols ?? ['tcp', 'udp']) protocols.add(p as ProtoName);
    table = true;
    if (protocols.has('tcp')) ext |= Ext.info;
  }
  const order: ProtoName[] = ['tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp', 'unix'];
  const options: SnapshotOptions = { protocols: order.filter((p) => protocols.has(p)), ext, unixShow, keepAttributes: ext !== 0 || unixShow !== 0 };
  // a census for netstat summed over families: TIME_WAIT from the kernel's counter, not dumped
  if (!table && !c.netstat?.perIpVersion) options.timeWaitFromCounter = true;
  return { table, options };
}

/** One port group per TCP listening port (the default when no addr_ports are configured), ordered by port. */
export function listenPortGroups(t: SocketTable): PortGroup[] {
  const ports = new Set<number>();
  for (const i of tcpListenerRows(t)) ports.add(t.sport[i]);
  return [...ports].sort((a, b) => a - b).map((port) => ({ mode: 'ports' as const, tags: {}, entries: [{ text: String(port), port }] }));
}

/** Telegraf's execd/exec hosts name themselves; sockscope's host tag defaults to the kernel's hostname. */
export function hostname(): string {
  try {
    return readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  } catch {
    return 'localhost';
  }
}

/** The socketstat options of a gather: the configured ones, with this host's interface names by default. */
export function socketstatOptions(config: GatherConfig): SocketstatOptions {
  const so = config.socketstat ?? {};
  return { ...so, interfaceName: so.interfaceName ?? sysfsInterfaceNames() };
}

/** A report of the snapshot's (or census's, or stream's) facts; collectors are added as they run. */
function snapshotReport(meta: Omit<Snapshot, 'table' | 'ext'>): GatherReport {
  return {
    snapshotMs: meta.durationMs, durationMs: 0, notes: meta.notes, sources: meta.sources, collectors: [],
    sockets: meta.sources.reduce((n, s) => n + s.sockets, 0),
    retries: meta.sources.reduce((n, s) => n + s.retries, 0),
    interrupted: meta.sources.some((s) => s.interrupted),
  };
}

const failedReport = (e: unknown, started: number): GatherReport => ({
  snapshotMs: 0, durationMs: performance.now() - started, sockets: 0, retries: 0, interrupted: false, notes: [], sources: [], collectors: [],
  error: (e as Error).message,
});

export async function gather(config: GatherConfig, snapshotter: Snapshotter, emit: (m: Metric) => void): Promise<GatherReport> {
  const started = performance.now();
  const plan = planSnapshot(config);
  const tags = config.tags ?? {};
  const out = (m: Metric) => {
    if (Object.keys(tags).length) m.tags = { ...tags, ...m.tags };
    emit(m);
  };
  let snap: Snapshot | undefined;
  let census: Census | undefined;
  try {
    if (plan.table) snap = await snapshotter.snapshot(plan.options);
    else census = await snapshotter.census(plan.options);
  } catch (e) {
    return failedReport(e, started);
  }
  const meta = (snap ?? census)!;
  const report = snapshotReport(meta);
  const time = meta.takenAt;

  for (const name of config.measurements) {
    const t0 = performance.now();
    let count = 0;
    const counting = (m: Metric) => {
      count++;
      out(m);
    };
    try {
      if (name === 'netstat') {
        const o = config.netstat ?? {};
        if (snap) {
          const src = tableConnections(snap.table);
          // a literal, not a spread: its shape outlives the gather (see keepShape)
          collectNetstat(src, time, { semantics: o.semantics, perIpVersion: o.perIpVersion, dedupe: o.dedupe ?? o.semantics === 'telegraf' }).forEach(counting);
        } else {
          netstatFromCensus(census!.counts, time, !!o.perIpVersion).forEach(counting);
        }
      } else if (name === 'netstat_port') {
        const o = config.netstatPort ?? { groups: [] };
        const holders = o.processAttribution ? indexSocketHolders() : undefined;
        const groups = o.groups.length === 0 && o.autoListenPorts ? listenPortGroups(snap!.table) : o.groups;
        collectNetstatPort(tableConnections(snap!.table, holders), groups, time, { semantics: o.semantics, dedupe: o.semantics === 'telegraf' }).forEach(counting);
      } else if (name === 'listen') {
        collectListen(snap!.table, time).forEach(counting);
      } else if (name === 'socketstat') {
        collectSocketstat(snap!.table, time, socketstatOptions(config), counting);
      }
      report.collectors.push({ name, ok: true, durationMs: performance.now() - t0, metrics: count });
    } catch (e) {
      report.collectors.push({ name, ok: false, durationMs: performance.now() - t0, metrics: count, error: (e as Error).message });
    }
  }
  report.durationMs = performance.now() - started;
  return report;
}

/**
 * Whether this gather can stream socketstat (gatherSocketstatStream): socketstat alone, one point per connection,
 * nothing else counted. netstat, netstat_port and listen need the whole table (or a census) and the aggregated
 * form needs every connection before its first point, so those gathers take the one snapshot of gather().
 */
export function streamsSocketstat(c: GatherConfig): boolean {
  return c.measurements.length === 1 && c.measurements[0] === 'socketstat' && !c.socketstat?.aggregate && !c.countProtocols?.length;
}

/**
 * socketstat alone, streamed: the dump arrives in small reused batch tables and `onBatch` turns each into
 * points (and writes them) before the next is decoded, so memory does not grow with the number of connections.
 * The snapshot is gather()'s but for the states: the kernel is asked for socketstat's states only (the rows
 * outside them would be dropped anyway). `onBatch` gets the stream's time and returns how many points it made;
 * if it throws, the collector is reported failed and later batches are dropped, as gather() reports a collector
 * that throws. A streamed dump cannot be retried (rows already went out): a dump the kernel flagged
 * interrupted (NLM_F_DUMP_INTR) is kept and said in the notes.
 */
export async function gatherSocketstatStream(
  config: GatherConfig, snapshotter: Required<Pick<Snapshotter, 'stream'>>, onBatch: (table: SocketTable, time: number) => number,
): Promise<GatherReport> {
  if (!streamsSocketstat(config)) throw new Error('gatherSocketstatStream: socketstat must be the only measurement, per connection');
  const started = performance.now();
  const { options } = planSnapshot(config);
  const so = config.socketstat ?? {};
  let count = 0;
  let error: string | undefined;
  let collectMs = 0;
  let meta: Awaited<ReturnType<NonNullable<Snapshotter['stream']>>>;
  try {
    meta = await snapshotter.stream({ ...options, states: so.states ?? SOCKETSTAT_DEFAULT_STATES }, (table, time) => {
      if (error !== undefined) return;
      const t0 = performance.now();
      try {
        count += onBatch(table, time);
      } catch (e) {
        error = (e as Error).message;
      }
      collectMs += performance.now() - t0;
    });
  } catch (e) {
    return failedReport(e, started);
  }
  const report = snapshotReport(meta);
  report.snapshotMs -= collectMs; // the stream's time includes the batches' collection
  report.collectors.push({ name: 'socketstat', ok: error === undefined, durationMs: collectMs, metrics: count, ...(error === undefined ? {} : { error }) });
  report.durationMs = performance.now() - started;
  return report;
}
