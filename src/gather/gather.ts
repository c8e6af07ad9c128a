/**
 * One gather: plan the single snapshot the enabled collectors need (registry.planSnapshot: a census when counts
 * do, a table when rows are needed, tcp_info only for socketstat), take it, read the host facts they asked for
 * beside it, and run each collector over both into a sink. A collector that throws is reported and the others
 * still run (Telegraf's best-effort gathering). The I/O of a gather is here; the collectors do none.
 */
import type { GatherConfig, HostFactName, HostFacts, RowPoint, Sink } from '../collectors/collector.js';
import { MetricSink } from '../collectors/collector.js';
import { collectorsOf, planSnapshot, type SnapshotPlan } from '../collectors/registry.js';
import type { Metric } from '../model/metric.js';
import type { Census, Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';
import type { SocketTable } from '../snapshot/table.js';
import { readHostFacts } from './host-facts.js';

export type { GatherConfig } from '../collectors/collector.js';
export { MEASUREMENTS, planSnapshot } from '../collectors/registry.js';
export { hostname } from './host-facts.js';

/** How snapshots are taken: in-process (takeSnapshot/takeCensus) or by a SnapshotWorker. */
export interface Snapshotter {
  snapshot(o: SnapshotOptions): Promise<Snapshot>;
  census(o: SnapshotOptions): Promise<Census>;
  /** streamSnapshot: the same rows in reused batch tables (in-process only) */
  stream?(o: SnapshotOptions, onBatch: (table: SocketTable, takenAt: number) => void): Promise<Omit<Snapshot, 'table'>>;
}

export interface CollectorReport {
  name: string;
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

/** A report of the snapshot's (or census's, or stream's) facts; collectors are added as they run. */
function snapshotReport(meta: Omit<Snapshot, 'table' | 'ext'>): GatherReport {
  return {
    snapshotMs: meta.durationMs,
    durationMs: 0,
    notes: meta.notes,
    sources: meta.sources,
    collectors: [],
    sockets: meta.sources.reduce((n, s) => n + s.sockets, 0),
    retries: meta.sources.reduce((n, s) => n + s.retries, 0),
    interrupted: meta.sources.some((s) => s.interrupted),
  };
}

/** The report of a gather that failed before its collectors ran (the one-shot gather's and the agent's). */
export const failedReport = (e: unknown, started: number): GatherReport => ({
  snapshotMs: 0,
  durationMs: performance.now() - started,
  sockets: 0,
  retries: 0,
  interrupted: false,
  notes: [],
  sources: [],
  collectors: [],
  error: (e as Error).message,
});

/** Passes points on, counting them (a collector's report). */
class CountingSink implements Sink {
  count = 0;
  constructor(private readonly to: Sink) {}

  metric(m: Metric): void {
    this.count++;
    this.to.metric(m);
  }

  row<O>(point: RowPoint<O>, t: SocketTable, i: number, view: DataView, info: number, infoLength: number, time: number, o: O, facts: HostFacts): void {
    this.count++;
    this.to.row(point, t, i, view, info, infoLength, time, o, facts);
  }
}

/** A sink that adds the gather's tags (host, global tags) to each metric; the collector's own tags win. */
function tagged(config: GatherConfig, sink: Sink): Sink {
  const tags = config.tags ?? {};
  if (Object.keys(tags).length === 0) return sink;
  return new MetricSink((m) => {
    m.tags = { ...tags, ...m.tags };
    sink.metric(m);
  });
}

/**
 * How a gather reads the host facts (readHostFacts by default). The agent's namespace walk reads another
 * namespace's sockets without entering it, so it hands in the facts it read when it last entered (the port range).
 */
export type HostFactsReader = (wanted: readonly HostFactName[]) => HostFacts;

/**
 * What a gather works out from its configuration before any I/O: the collectors with their options and the
 * snapshot they need (or why the configuration cannot be gathered). The tags play no part: a walk over many
 * namespaces, whose gathers differ by their tags only, works it out once (prepareGather) for all of them.
 */
export type GatherPlan = { collectors: { c: ReturnType<typeof collectorsOf>[number]; o: unknown }[]; plan: SnapshotPlan } | { error: unknown };

export function prepareGather(config: GatherConfig): GatherPlan {
  try {
    return { collectors: collectorsOf(config).map((c) => ({ c, o: c.options(config) })), plan: planSnapshot(config) };
  } catch (e) {
    return { error: e };
  }
}

/** One gather; `prepared`: prepareGather's plan for this config, made once for many gathers (else made here). */
export async function gather(
  config: GatherConfig,
  snapshotter: Snapshotter,
  emit: (m: Metric) => unknown,
  prepared?: GatherPlan,
  readFacts?: HostFactsReader,
): Promise<GatherReport> {
  return gatherInto(config, snapshotter, new MetricSink(emit), prepared, readFacts);
}

/** gather() into any sink (the metric sink when `emit` is a function). */
export async function gatherInto(
  config: GatherConfig,
  snapshotter: Snapshotter,
  sink: Sink,
  prepared = prepareGather(config),
  readFacts: HostFactsReader = readHostFacts,
): Promise<GatherReport> {
  const started = performance.now();
  if ('error' in prepared) return failedReport(prepared.error, started);
  const { collectors, plan } = prepared;
  const out = tagged(config, sink);
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
  const facts = readFacts(plan.facts);
  const snapshot = { table: snap?.table, census: census?.counts, establishedNotDumped: snap?.establishedNotDumped, time: meta.takenAt };

  for (const { c, o } of collectors) {
    const t0 = performance.now();
    const counting = new CountingSink(out);
    try {
      c.collect(snapshot, facts, counting, o);
      report.collectors.push({ name: c.name, ok: true, durationMs: performance.now() - t0, metrics: counting.count });
    } catch (e) {
      report.collectors.push({ name: c.name, ok: false, durationMs: performance.now() - t0, metrics: counting.count, error: (e as Error).message });
    }
  }
  report.durationMs = performance.now() - started;
  return report;
}

/**
 * Whether this gather can stream (gatherStream): one collector that takes a dump batch by batch with these
 * options (socketstat per connection), nothing else counted. netstat, netstat_port and listen need the whole
 * table (or a census), and the aggregated socketstat needs every connection before its first point.
 */
export function streams(c: GatherConfig): boolean {
  if (c.measurements.length !== 1 || c.countProtocols?.length) return false;
  const [collector] = collectorsOf(c);
  return !!collector.streams?.(collector.options(c));
}

/**
 * A streamed gather: the dump arrives in small reused batch tables and the one collector turns each into points
 * in `sink` before the next is decoded (then `afterBatch`, e.g. to write the sink's bytes out), so memory does
 * not grow with the number of connections. The snapshot is gather()'s but for the states: the kernel is asked
 * for the collector's states only (the rows outside them would be dropped anyway). If the collector throws, it
 * is reported failed and later batches are dropped, as gather() reports a collector that throws. A streamed dump
 * cannot be retried (rows already went out): a dump the kernel flagged interrupted (NLM_F_DUMP_INTR) is kept
 * and said in the notes. The sink gets the points untagged: a byte sink writes the gather's tags itself.
 */
export async function gatherStream(
  config: GatherConfig,
  snapshotter: Required<Pick<Snapshotter, 'stream'>>,
  sink: Sink,
  afterBatch: () => void = () => {},
): Promise<GatherReport> {
  if (!streams(config)) throw new Error(`gatherStream: ${config.measurements.join(',')} cannot be streamed`);
  const started = performance.now();
  const [c] = collectorsOf(config);
  const o = c.options(config);
  const plan = planSnapshot(config);
  let facts: HostFacts | undefined;
  let error: string | undefined;
  let collectMs = 0;
  const counting = new CountingSink(sink);
  let meta;
  try {
    const states = c.streamStates?.(o);
    meta = await snapshotter.stream({ ...plan.options, ...(states === undefined ? {} : { states }) }, (table, time) => {
      if (error !== undefined) return;
      const t0 = performance.now();
      try {
        facts ??= readHostFacts(plan.facts);
        c.collect({ table, time }, facts, counting, o);
      } catch (e) {
        error = (e as Error).message;
      } finally {
        try {
          afterBatch();
        } catch (e) {
          error ??= (e as Error).message;
        }
      }
      collectMs += performance.now() - t0;
    });
  } catch (e) {
    return failedReport(e, started);
  }
  const report = snapshotReport(meta);
  report.snapshotMs -= collectMs; // the stream's time includes the batches' collection
  report.collectors.push({ name: c.name, ok: error === undefined, durationMs: collectMs, metrics: counting.count, ...(error === undefined ? {} : { error }) });
  report.durationMs = performance.now() - started;
  return report;
}
