/**
 * Snapshots off the main thread: a worker_threads worker owns the netlink socket and does the dump; the table
 * comes back as transferred typed-array buffers (no copy, no per-socket objects), so a long-running process's
 * event loop never waits on the kernel walk.
 */
import { Worker } from 'node:worker_threads';
import { SockscopeError } from '../errors.js';
import { runtimeTuning, type RuntimeTuning } from './runtime.js';
import type { GatherConfig, GatherReport } from '../gather/gather.js';
import { fromWire, type WireMetric } from '../collectors/registry.js';
import type { Metric } from '../model/metric.js';
import type { Exposition } from '../outputs/metrics/prometheus.js';
import { CensusCounts } from '../snapshot/census.js';
import type { Census, Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';
import { SocketTable, type SocketTableBuffers } from '../snapshot/table.js';

export type WorkerRequest =
  | { id: number; kind: 'snapshot'; options: SnapshotOptions }
  | { id: number; kind: 'census'; options: SnapshotOptions }
  | { id: number; kind: 'gather'; config: GatherConfig; want: GatherWants }
  | { id: number; kind: 'metricsJson'; gather: number; perIpVersion: boolean };

/**
 * What a gather sends back besides its report. Metric objects cost a structured clone and rebuilding on the
 * main thread; an agent that only serves Prometheus wants the rendered exposition (samples rendered in the
 * worker, UTF-8, transferred without a copy) and asks for the metrics' JSON only when /api/snapshot is read.
 */
export interface GatherWants {
  /** the metrics as objects (InfluxDB, stdout and Zabbix outputs, in-process consumers) */
  metrics: boolean;
  /** the samples rendered for Prometheus (see Exposition) */
  exposition: boolean;
  /** keep this gather's metrics in the worker until the next, for metricsJson */
  keep: boolean;
}

export type WorkerReply =
  | { id: number; ok: true; kind: 'snapshot'; buffers: SocketTableBuffers; meta: Omit<Snapshot, 'table'> }
  | { id: number; ok: true; kind: 'census'; counts: ArrayBuffer; meta: Omit<Census, 'counts'> }
  | { id: number; ok: true; kind: 'gather'; gather: number; metrics?: WireMetric[]; exposition?: Exposition; report: GatherReport }
  | { id: number; ok: true; kind: 'metricsJson'; json?: string }
  | { id: number; ok: false; code: string; message: string; facts: Record<string, unknown> };

export interface GatherResult {
  gather: number;
  report: GatherReport;
  /** empty unless want.metrics */
  metrics: Metric[];
  exposition?: Exposition;
}

/** Omit distributed over the union's members. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  resolve: (v: WorkerReply) => void;
  reject: (e: Error) => void;
}

export class SnapshotWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  /** netns: a namespace file the worker thread enters once, before opening its netlink socket. */
  constructor(options: { netns?: string; tuning?: RuntimeTuning } = {}) {
    const tuning = options.tuning ?? runtimeTuning();
    const young = tuning.workerYoungGenerationMb;
    this.worker = new Worker(new URL('./worker-entry.js', import.meta.url), {
      workerData: { netns: options.netns, tuning },
      resourceLimits: young === undefined ? {} : { maxYoungGenerationSizeMb: young },
    });
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      p.resolve(reply);
    });
    const fail = (e: Error) => {
      this.failure = new SockscopeError('ESOCKSCOPE_WORKER', `the snapshot worker stopped: ${e.message}`, {}, { cause: e });
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  private request(req: WithoutId<WorkerRequest>): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...req, id });
    }).then((reply) => {
      if (!reply.ok) throw new SockscopeError(reply.code as never, reply.message, reply.facts);
      return reply;
    });
  }

  async snapshot(options: SnapshotOptions = {}): Promise<Snapshot> {
    const reply = await this.request({ kind: 'snapshot', options });
    if (!reply.ok || reply.kind !== 'snapshot') throw new SockscopeError('ESOCKSCOPE_WORKER', 'unexpected worker reply');
    return { ...reply.meta, table: SocketTable.fromBuffers(reply.buffers) };
  }

  async census(options: SnapshotOptions = {}): Promise<Census> {
    const reply = await this.request({ kind: 'census', options });
    if (!reply.ok || reply.kind !== 'census') throw new SockscopeError('ESOCKSCOPE_WORKER', 'unexpected worker reply');
    const counts = new CensusCounts();
    counts.counts.set(new Float64Array(reply.counts));
    return { ...reply.meta, counts };
  }

  /**
   * A whole gather (snapshot and collectors) in the worker. `gather` numbers the worker's gathers (for
   * metricsJson); `metrics` is empty when `want.metrics` is false, `exposition` is there with `want.exposition`.
   */
  async gather(config: GatherConfig, want: GatherWants = { metrics: true, exposition: false, keep: false }): Promise<GatherResult> {
    const reply = await this.request({ kind: 'gather', config, want });
    if (!reply.ok || reply.kind !== 'gather') throw new SockscopeError('ESOCKSCOPE_WORKER', 'unexpected worker reply');
    return { gather: reply.gather, report: reply.report, metrics: reply.metrics?.map(fromWire) ?? [], exposition: reply.exposition };
  }

  /**
   * The metrics of gather number `gather` (kept with `want.keep`) as a JSON array of metricJson objects, the
   * netstat families summed unless perIpVersion; undefined when the worker no longer holds that gather.
   */
  async metricsJson(gather: number, perIpVersion: boolean): Promise<string | undefined> {
    const reply = await this.request({ kind: 'metricsJson', gather, perIpVersion });
    if (!reply.ok || reply.kind !== 'metricsJson') throw new SockscopeError('ESOCKSCOPE_WORKER', 'unexpected worker reply');
    return reply.json;
  }

  async close(): Promise<void> {
    this.failure ??= new SockscopeError('ESOCKSCOPE_WORKER', 'the snapshot worker was closed');
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
