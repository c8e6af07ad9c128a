/**
 * Snapshots off the main thread: a worker_threads worker owns the netlink socket and does the dump; the table
 * comes back as transferred typed-array buffers (no copy, no per-socket objects), so a long-running process's
 * event loop never waits on the kernel walk.
 */
import { Worker } from 'node:worker_threads';
import { SockscopeError } from '../errors.js';
import type { GatherConfig, GatherReport } from '../collectors/gather.js';
import { fromWire, type WireMetric } from '../collectors/registry.js';
import type { Metric } from '../model/metric.js';
import { CensusCounts } from './census.js';
import type { Census, Snapshot, SnapshotOptions } from './snapshot.js';
import { SocketTable, type SocketTableBuffers } from './table.js';

export type WorkerRequest =
  | { id: number; kind: 'snapshot'; options: SnapshotOptions }
  | { id: number; kind: 'census'; options: SnapshotOptions }
  | { id: number; kind: 'gather'; config: GatherConfig };

export type WorkerReply =
  | { id: number; ok: true; kind: 'snapshot'; buffers: SocketTableBuffers; meta: Omit<Snapshot, 'table'> }
  | { id: number; ok: true; kind: 'census'; counts: ArrayBuffer; meta: Omit<Census, 'counts'> }
  | { id: number; ok: true; kind: 'gather'; metrics: WireMetric[]; report: GatherReport }
  | { id: number; ok: false; code: string; message: string; facts: Record<string, unknown> };

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
  constructor(options: { netns?: string } = {}) {
    this.worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: { netns: options.netns } });
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

  /** A whole gather (snapshot and collectors) in the worker: the main thread only serializes. */
  async gather(config: GatherConfig): Promise<{ metrics: Metric[]; report: GatherReport }> {
    const reply = await this.request({ kind: 'gather', config });
    if (!reply.ok || reply.kind !== 'gather') throw new SockscopeError('ESOCKSCOPE_WORKER', 'unexpected worker reply');
    return { metrics: reply.metrics.map(fromWire), report: reply.report };
  }

  async close(): Promise<void> {
    this.failure ??= new SockscopeError('ESOCKSCOPE_WORKER', 'the snapshot worker was closed');
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
