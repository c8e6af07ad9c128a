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
import { collectSocketstat, type SocketstatOptions } from './socketstat.js';

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
  return {
    table,
    options: { protocols: order.filter((p) => protocols.has(p)), ext, unixShow, keepAttributes: ext !== 0 || unixShow !== 0 },
  };
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
  const report: GatherReport = {
    snapshotMs: 0, durationMs: 0, sockets: 0, retries: 0, interrupted: false, notes: [], sources: [], collectors: [],
  };
  try {
    if (plan.table) snap = await snapshotter.snapshot(plan.options);
    else census = await snapshotter.census(plan.options);
  } catch (e) {
    report.error = (e as Error).message;
    report.durationMs = performance.now() - started;
    return report;
  }
  const meta = (snap ?? census)!;
  report.snapshotMs = meta.durationMs;
  report.notes = meta.notes;
  report.sources = meta.sources;
  report.sockets = meta.sources.reduce((n, s) => n + s.sockets, 0);
  report.retries = meta.sources.reduce((n, s) => n + s.retries, 0);
  report.interrupted = meta.sources.some((s) => s.interrupted);
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
        const so = config.socketstat ?? {};
        collectSocketstat(snap!.table, time, { ...so, interfaceName: so.interfaceName ?? sysfsInterfaceNames() }, counting);
      }
      report.collectors.push({ name, ok: true, durationMs: performance.now() - t0, metrics: count });
    } catch (e) {
      report.collectors.push({ name, ok: false, durationMs: performance.now() - t0, metrics: count, error: (e as Error).message });
    }
  }
  report.durationMs = performance.now() - started;
  return report;
}
