/**
 * What a collector is: a name, whether it is on by default, what the one snapshot must hold for it, the host
 * facts it reads, and `collect(snapshot, facts, sink, options)`, a pure function of those (node_exporter's
 * `Collector.Update`, Telegraf's `Gather(acc)`). Collectors do no I/O: the gather (src/gather) takes the
 * snapshot and reads the host facts beside it, then hands both in. One registry (registry.ts) lists them and
 * yields everything named per collector: the measurement list, the snapshot plan, the config section, the CLI
 * choices and the measurements' fields.
 */
import type { ProtoName } from '../diag/constants.js';
import type { MeasurementSchema, Metric } from '../model/metric.js';
import type { SocketHolders } from '../procfs/processes.js';
import type { CensusCounts } from '../snapshot/census.js';
import type { EstablishedNeed } from '../snapshot/established.js';
import type { SocketTable } from '../snapshot/table.js';
import type { LifecycleTracker } from '../lifecycle/tracker.js';
import type { DoctorHistory } from '../doctor/history.js';
import type { HostFacts as DoctorNamespaceFacts } from '../doctor/host.js';

/**
 * One gather's settings: the collectors by name and each one's options. Plain data (it crosses to the agent's
 * gather worker by structured clone). Each collector's file adds its options key here (declaration merging:
 * `declare module './collector.js' { interface GatherConfig { netstat?: NetstatOptions } }`), so a collector
 * with options is still one file.
 */
export interface GatherConfig {
  measurements: readonly string[];
  /** added to every metric (host, global tags); collector tags win */
  tags?: Record<string, string>;
  /** protocols to include in the snapshot just for their counts (the report's sources), e.g. unix for Zabbix */
  countProtocols?: ProtoName[];
}

/** What the one snapshot must hold for a collector; the gather takes the union over the enabled ones. */
export interface SnapshotNeeds {
  protocols: readonly ProtoName[];
  /** rows (a SocketTable), not a census's counts */
  table: boolean;
  /** inet_diag extension bits (Ext.*) for TCP */
  ext?: number;
  /** unix_diag UDIAG_SHOW_* bits */
  unixShow?: number;
  /** census only: TIME_WAIT per family (not the kernel's family-less counter) */
  timeWaitPerFamily?: boolean;
  /**
   * What it reads of ESTABLISHED TCP sockets (default 'all': every row): 'count' (their number per family:
   * GatherSnapshot.establishedNotDumped holds what the table does not), 'listening-ports' (the rows whose local
   * port is a listening port, or one of establishedPorts: their identity — addresses, ports, state, family, inode —
   * for counting; an agent's namespace whose counters show no connection opened or closed since its last gather
   * gets the rows of that gather's dump again, queues and timers as they were then: src/snapshot/established.ts
   * EstablishedMemo). The gather asks the kernel for the widest need.
   */
  established?: EstablishedNeed;
  /** with established 'listening-ports': more local ports whose ESTABLISHED rows it reads */
  establishedPorts?: readonly number[];
}

/** What a collector reads: a table (rows) or a census (counts), and the snapshot's time. */
export interface GatherSnapshot {
  table?: SocketTable;
  census?: CensusCounts;
  /**
   * With a table: ESTABLISHED TCP sockets per family [IPv4, IPv6] counted but not in it (Snapshot's, when the
   * collectors' needs let the gather leave them out)
   */
  establishedNotDumped?: readonly [number, number];
  /** ms since the epoch */
  time: number;
}

/** Facts about the host read beside the snapshot (by src/gather/host-facts.ts), never by a collector. */
export interface HostFacts {
  /** ifindex → interface name (sockets bound to a device) */
  interfaceName(ifindex: number): string | undefined;
  /** net.ipv4.ip_local_port_range; undefined when it cannot be read */
  localPortRange?: { low: number; high: number };
  /** which processes hold which socket inodes (only when a collector asks for 'holders') */
  holders?: SocketHolders;
  /** the closed connections received since the last gather, and the connections it saw (src/lifecycle; the agent's gather worker only) */
  lifecycle?: LifecycleTracker;
  /** the namespace's counters and sysctls the doctor's checks read (src/doctor/host.ts) */
  doctorNamespace?: DoctorNamespaceFacts;
  /** the doctor's previous sample (src/doctor/history.ts; the agent's gather worker only) */
  doctorHistory?: DoctorHistory;
}

export type HostFactName = 'localPortRange' | 'holders' | 'lifecycle' | 'doctorNamespace' | 'doctorHistory';

/**
 * A point made from one row of a table, defined once by its collector. A sink either builds its Metric
 * (`metric`) or, when it knows this point, writes the row straight to its bytes (src/outputs' line-protocol
 * sink for socketstat): the row's selection and the point's definition stay the collector's.
 */
export interface RowPoint<O = unknown> {
  readonly name: string;
  /** the Metric of row i; `info` is the row's INET_DIAG_INFO payload offset in the table's arena (-1: none) */
  metric(t: SocketTable, i: number, view: DataView, info: number, infoLength: number, time: number, o: O, facts: HostFacts): Metric;
}

/** Where a collector's points go (Telegraf's accumulator). */
export interface Sink {
  metric(m: Metric): void;
  /** row i of `t` is a point of `point` */
  row<O>(point: RowPoint<O>, t: SocketTable, i: number, view: DataView, info: number, infoLength: number, time: number, o: O, facts: HostFacts): void;
}

/** The sink that builds metrics: every row point becomes its Metric. */
export class MetricSink implements Sink {
  constructor(private readonly emit: (m: Metric) => unknown) {}

  metric(m: Metric): void {
    this.emit(m);
  }

  row<O>(point: RowPoint<O>, t: SocketTable, i: number, view: DataView, info: number, infoLength: number, time: number, o: O, facts: HostFacts): void {
    this.emit(point.metric(t, i, view, info, infoLength, time, o, facts));
  }
}

/** A collector's [collectors.<name>] configuration section. */
export interface CollectorConfig<S extends object = object> {
  /** the section's keys besides `enabled`, with their defaults */
  defaults: S;
  /** JSON Schema properties of those keys */
  schema: Record<string, unknown>;
  /** the section's body in `config sample` (after `enabled = ...`), each line indented two spaces */
  sample: string;
  /** one line saying what the collector does, first in its sample section */
  about: string;
  /** the collector's part of a GatherConfig from its section (validated: throws ESOCKSCOPE_CONFIG naming the key) */
  gather(section: S, key: string): Partial<GatherConfig>;
}

export interface Collector<O = unknown, S extends object = object, N extends string = string> {
  /** the measurement name users select it by (--measurement, [collectors.<name>]) */
  readonly name: N;
  readonly enabledByDefault: boolean;
  /** the measurements it writes: their fields are its items (Zabbix, docs) */
  readonly schemas: readonly MeasurementSchema[];
  readonly config: CollectorConfig<S>;
  /** its options in a gather */
  options(c: GatherConfig): O;
  needs(o: O): SnapshotNeeds;
  /** host facts it reads; the gather reads only those some collector asks for */
  facts(o: O): readonly HostFactName[];
  /**
   * One gather's points from the snapshot into the sink. `snapshot.table` is there whenever needs().table; a
   * streamed gather calls this once per batch table.
   */
  collect(snapshot: GatherSnapshot, facts: HostFacts, sink: Sink, o: O): void;
  /** whether this collector alone, with these options, can take a streamed dump (batch by batch) */
  streams?(o: O): boolean;
  /** the state mask a streamed dump asks the kernel for (rows outside it would be dropped anyway) */
  streamStates?(o: O): number;
}

/** A collector of any option type: the registry holds them all (each one's types are checked at its definition). */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AnyCollector = Collector<any, any>;

export const defineCollector = <O, S extends object, N extends string>(c: Collector<O, S, N>): Collector<O, S, N> => c;
