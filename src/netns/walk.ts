/**
 * Every namespace's sockets, off the calling thread: NetnsWalker keeps a few worker threads (walk-worker.ts)
 * that setns() into each namespace in turn, dump it over its own netlink socket and come back. The namespaces
 * are split across the threads; results come back in the order asked, tables as transferred buffers.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GatherConfig, GatherReport } from '../gather/gather.js';
import type { WireMetric } from '../collectors/registry.js';
import { SockscopeError } from '../errors.js';
import type { Census, Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';
import type { SocketTableBuffers } from '../snapshot/table.js';
import type { Exposition } from '../outputs/metrics/prometheus.js';
import type { NetnsCounterValues } from './counters.js';
import type { HostPodsOptions } from './host-pods.js';

export interface NetnsTarget {
  inode: number;
  path: string;
  /** the walker's own namespace: no setns */
  own: boolean;
  /**
   * a process in it (discovery's representative): with a socket kept from an earlier walk (WalkRequest.keep),
   * its /proc/<pid>/net files are read and the thread does not setns at all
   */
  pid?: number;
  /** tags added to this namespace's metrics (gather jobs) */
  tags?: Record<string, string>;
  /** gather jobs: the netns measurement only, no collectors (the agent gathers its own namespace itself) */
  countersOnly?: boolean;
}

export type WalkJob =
  | { kind: 'census'; options: SnapshotOptions }
  | { kind: 'snapshot'; options: SnapshotOptions }
  | {
      kind: 'gather';
      config: GatherConfig;
      /** the netns measurement (each namespace's counters) among the metrics */
      counters?: boolean;
      /** send the metrics back (default true) */
      metrics?: boolean;
      /** render the metrics for Prometheus in the worker: one exposition per thread (WalkResult.parts) */
      exposition?: boolean;
      /** metrics from namespaces other than the own one, at most, per thread; the rest are dropped and counted */
      maxSeriesPerThread?: number;
      /**
       * the agent: keep a destroy-event subscription per namespace in the walker's thread between gathers, for the
       * lifecycle collector (src/lifecycle/host.ts); the namespaces not in this walk lose theirs
       */
      lifecycle?: boolean;
      /**
       * the host's sockets held by hostNetwork pods (by their cgroup id): the collectors again over each pod's,
       * labeled (host-pods.ts); done where the own namespace is among the targets
       */
      hostPods?: HostPodsOptions;
    };

export interface WalkRequest {
  id: number;
  targets: NetnsTarget[];
  job: WalkJob;
  /** read each namespace's netstat/snmp/sockstat counters */
  counters: boolean;
  /**
   * keep each namespace's NETLINK_SOCK_DIAG socket open for the next walk (the agent): a socket stays bound to
   * the namespace it was made in, so later walks dump there without setns; the sockets of namespaces not in
   * this walk, or vanished, are closed
   */
  keep?: boolean;
  /**
   * an exposition buffer of an earlier walk that nothing reads any more, handed back (transferred): the thread
   * writes this walk's exposition into it when it is large enough (NetnsWalker.recycle)
   */
  room?: ArrayBuffer;
}

export type NetnsOutcome = { inode: number } & (
  | {
      status: 'ok';
      counters?: NetnsCounterValues;
      census?: { counts: ArrayBuffer; meta: Omit<Census, 'counts'> };
      snapshot?: { buffers: SocketTableBuffers; meta: Omit<Snapshot, 'table'> };
      /**
       * a gather job's: its report for the own namespace only (the host's); metrics absent when the job asked for
       * none (exposition only). Its counters are in its netns metric, not in `counters`.
       */
      gather?: { report?: GatherReport; metrics?: WireMetric[] };
    }
  /** vanished: gone between discovery and the walk; denied: not ours to enter; failed: the dump failed */
  | { status: 'vanished' | 'denied' | 'failed'; reason: string }
);

export type WalkReply =
  | { id: number; ok: true; results: NetnsOutcome[]; exposition?: Exposition; seriesDropped: number }
  | { id: number; ok: false; message: string };

export interface WalkResult {
  /** one per target, in the targets' order */
  outcomes: NetnsOutcome[];
  /** gather jobs with exposition: each thread's rendered samples */
  parts: Exposition[];
  /** metrics dropped over maxSeriesPerThread */
  seriesDropped: number;
}

export interface WalkerOptions {
  /** worker threads (default: available parallelism, at most 2: the kernel walk is short, the threads' memory is not) */
  threads?: number;
  /** keep one socket per namespace between walks (see WalkRequest.keep): the agent */
  keepSockets?: boolean;
  /**
   * Walk on the calling thread (setns there and back) instead of in workers: for one-shot commands, which
   * have no event loop to keep free and would spend longer starting a worker than walking. Never in the agent.
   */
  inProcess?: boolean;
}

/**
 * The walker thread's young generation, MB. A gather over 100 namespaces of 1,500 sockets allocates ~10 MB there,
 * nearly all of it dead by the end of the namespace that made it: with 4 MB (semi-spaces of 1.3 MB) it took seven
 * scavenges a gather, each copying the live part of the namespace in flight and promoting some (the thread's user
 * time 13 ms a gather more, and V8's helper threads'); 8 MB costs the same user time as 16 MB
 * (bench/netns-agent-inproc.ts, the two side by side) and ~8 MB less at peak RSS. V8's default would grow to 48 MB.
 */
const WALKER_YOUNG_GENERATION_MB = 8;

export class NetnsWalker {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: WalkReply) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 1;
  private closed = false;
  /** dead exposition buffers handed back (recycle), one per thread at most, transferred with the next requests */
  private readonly rooms: ArrayBuffer[] = [];

  constructor(private options: WalkerOptions = {}) {}

  /** Keep one socket per namespace from the next walk on (execd from its second gather; see AllNetnsGatherer). */
  keepSocketsFromNow(): void {
    this.options = { ...this.options, keepSockets: true };
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./walk-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WALKER_YOUNG_GENERATION_MB } });
    w.unref();
    w.on('message', (reply: WalkReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (![...this.pending.values()].some((q) => q.worker === w)) w.unref();
      p.resolve(reply);
    });
    const fail = (e: Error) => {
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1); // a new one is spawned on the next walk
      for (const [id, p] of this.pending) {
        if (p.worker !== w) continue;
        this.pending.delete(id);
        p.reject(new SockscopeError('ESOCKSCOPE_WORKER', `a namespace walk worker stopped: ${e.message}`, {}, { cause: e }));
      }
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return w;
  }

  /** threads a walk of this many targets uses */
  threadCount(targets: number): number {
    return this.threads(targets);
  }

  private threads(targets: number): number {
    if (this.options.inProcess) return 1;
    const max = this.options.threads ?? Math.min(2, availableParallelism());
    return Math.max(1, Math.min(max, targets));
  }

  /** Walk the targets (in parallel slices, one per thread); the outcomes in the targets' order. */
  async walk(targets: readonly NetnsTarget[], job: WalkJob, counters = false): Promise<WalkResult> {
    if (this.closed) throw new SockscopeError('ESOCKSCOPE_WORKER', 'the namespace walker was closed');
    if (targets.length === 0) return { outcomes: [], parts: [], seriesDropped: 0 };
    if (this.options.inProcess) {
      const { walkOnThisThread } = await import('./walk-thread.js');
      const r = await walkOnThisThread({ id: 0, targets: [...targets], job, counters, keep: this.options.keepSockets }, []);
      return { outcomes: r.results, parts: r.exposition ? [r.exposition] : [], seriesDropped: r.seriesDropped };
    }
    const n = this.threads(targets.length);
    while (this.workers.length < n) this.workers.push(this.spawn());
    // interleaved slices: neighbours in discovery order (often alike in size) go to different threads
    const slices: NetnsTarget[][] = Array.from({ length: n }, () => []);
    targets.forEach((t, i) => slices[i % n].push(t));
    const replies = await Promise.all(slices.map((slice, k) => this.request(this.workers[k], slice, job, counters)));
    const out: NetnsOutcome[] = new Array(targets.length);
    replies.forEach((r, k) => r.results.forEach((o, j) => (out[j * n + k] = o)));
    return {
      outcomes: out,
      parts: replies.flatMap((r) => (r.exposition ? [r.exposition] : [])),
      seriesDropped: replies.reduce((x, r) => x + r.seriesDropped, 0),
    };
  }

  private request(w: Worker, targets: NetnsTarget[], job: WalkJob, counters: boolean): Promise<Extract<WalkReply, { ok: true }>> {
    const id = this.nextId++;
    return new Promise<WalkReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      w.ref();
      const room = job.kind === 'gather' && job.exposition ? this.rooms.pop() : undefined;
      w.postMessage({ id, targets, job, counters, keep: this.options.keepSockets, room } satisfies WalkRequest, room ? [room] : []);
    }).then((r) => {
      if (!r.ok) throw new SockscopeError('ESOCKSCOPE_WORKER', `namespace walk: ${r.message}`);
      return r;
    });
  }

  /**
   * Take a dead exposition buffer (a WalkResult part nothing reads any more) for a thread's next walk to write its
   * exposition into: a gather then allocates no buffer of that size, nor faults one in. False (not taken) when
   * as many are held as there are threads, or walks run on the calling thread.
   */
  recycle(buffer: ArrayBuffer): boolean {
    if (this.closed || this.options.inProcess || this.rooms.length >= Math.max(1, this.workers.length)) return false;
    this.rooms.push(buffer);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rooms.length = 0;
    if (this.options.inProcess && this.options.keepSockets) (await import('./walk-thread.js')).dropKeptSessions();
    await Promise.all(this.workers.splice(0).map((w) => (w.removeAllListeners('exit'), w.terminate())));
  }
}
