/**
 * The one interface every agent output implements (Prometheus endpoint, InfluxDB, stdout, Zabbix trapper push,
 * Zabbix passive checks), and the shape of what they are handed: a gather. The agent knows outputs only through
 * this: it creates the enabled ones from the registry (outputs.ts), hands each gather to every one (accept),
 * asks each for its self-metrics (stats), flushes them at exit (flush) and closes them (close). A reload keeps an
 * output whose settings did not change and lets a replacement take over its predecessor's buffer and counters
 * (adopt). Outputs that listen bind in open() and log in announce(), so the agent opens every listener before it
 * announces any.
 */
import type { GatherReport } from '../gather/gather.js';
import type { AgentConfig } from '../config/defaults.js';
import type { Metric } from '../model/metric.js';
import type { Exposition, PrometheusWriter } from '../outputs/metrics/prometheus.js';
import type { Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** One gather as the outputs see it. */
export interface Gather {
  /** the gather's metrics, when an output needs them as objects (else they stay in the worker) */
  metrics?: Metric[];
  /** what line-protocol and JSON outputs see (netstat families merged unless per_ip_version) */
  lineMetrics?: Metric[];
  /** the gather's Prometheus samples, rendered once (in the worker) */
  exposition?: Exposition;
  /** the worker's number for this gather, whose metrics it keeps for /api/snapshot */
  workerGather?: number;
  /** [netns]: the other namespaces' samples, rendered in the namespace walker's thread (docs/namespaces.md) */
  netnsParts?: Exposition[];
  /** [netns]: the host's own metrics, when metrics also holds the namespaces' (Zabbix items are the host's) */
  hostMetrics?: Metric[];
  perIpVersion: boolean;
  report: GatherReport;
  at: number;
}

/** What the agent lends its outputs. */
export interface OutputContext {
  version: string;
  log: Log;
  /** the host tag (and Zabbix host name unless outputs.zabbix.host says otherwise) */
  hostTag(): string;
  /** the latest gather; waits (up to timeoutMs) for the first one when there is none yet */
  latest(): Gather | undefined;
  firstGather(timeoutMs: number): Promise<Gather | undefined>;
  /** the agent's own health as Prometheus families (every output's stats included) */
  selfMetrics(w: PrometheusWriter): void;
  snapshotJson(): Promise<string>;
  health(): { ok: boolean; detail: string };
  /** a fresh snapshot (Zabbix passive keys that need one) */
  snapshot(o: SnapshotOptions): Promise<Snapshot>;
  /** where the stdout output writes (tests) */
  stdout?: (text: string) => void;
}

export interface AgentOutput {
  readonly name: string;
  /** bind listeners (start-up, reload); nothing is logged until announce() */
  open?(): Promise<void>;
  /** log where it listens, once every listener is open */
  announce?(): void;
  /** one gather: buffer it, send it, or keep it to serve */
  accept(g: Gather): void;
  /** send what waits; force ignores a backoff (exit, reload) */
  flush(force?: boolean): Promise<void>;
  /** its self-metrics */
  stats(w: PrometheusWriter): void;
  /** a reload replaced `prev` (same kind) with this one: take over what it still holds and its counters */
  adopt?(prev: AgentOutput): Promise<void>;
  /** stop: close listeners, stop sending; `why` words the log line about anything left behind */
  close(why: 'exit' | 'reload'): Promise<void>;
}

/** One kind of output: a file and one line in the registry (outputs.ts). */
export interface OutputKind {
  readonly name: string;
  /** its settings when enabled in `c`, else undefined; a reload keeps the running output when they are equal */
  settings(c: AgentConfig): unknown;
  /** what it needs from each gather besides the report */
  readonly needs: { metrics?: boolean; exposition?: boolean };
  create(c: AgentConfig, ctx: OutputContext): AgentOutput;
}
