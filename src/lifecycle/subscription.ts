/**
 * A subscription to the kernel's destroy events (src/lifecycle/events.ts), received in a worker thread of its
 * own (subscription-entry.ts) and handed to `onBatch` as SocketTable batches: the same rows, columns and raw
 * attributes a dump makes, so every writer and the filter's matcher read them as they read a snapshot.
 *
 *   const sub = await LifecycleSubscription.start({ protocols: ['tcp'], onBatch: (t, stats) => ... });
 *   ...
 *   const final = await sub.stop();   // what was queued is delivered first
 */
import { Worker } from 'node:worker_threads';
import { AF_INET, AF_INET6 } from '../diag/constants.js';
import { SockscopeError } from '../errors.js';
import { SocketTable, type SocketTableBuffers } from '../snapshot/table.js';
import { destroyGroups, type EventProtocol } from './events.js';

/**
 * The receive buffer asked for: room for ~40 000 TCP events (about 800 bytes of buffer each once the kernel
 * counts the skb), so a burst rides out a consumer pause. Granted past net.core.rmem_max with CAP_NET_ADMIN
 * (SO_RCVBUFFORCE); otherwise capped at rmem_max (SO_RCVBUF). The kernel doubles what it grants.
 */
export const DEFAULT_EVENT_RCVBUF = 16 << 20;

export interface SubscriptionStats {
  /** destroyed sockets received and decoded */
  events: number;
  /** messages that could not be decoded */
  malformed: number;
  /** recv() answered ENOBUFS: the kernel overran the buffer (once per episode) */
  overruns: number;
  /** events the kernel dropped for want of room in the buffer (SO_MEMINFO's SK_MEMINFO_DROPS): exact */
  lost: number;
  /** the receive buffer the kernel granted (SO_RCVBUF: twice what was asked, within the limits) */
  rcvbufBytes: number;
  batches: number;
}

/** What the thread is started with (workerData). */
export interface SubscriptionSettings {
  netns?: string;
  groups: number[];
  rcvbufBytes: number;
  batchRows: number;
  /** a batch waits at most this long for more rows (and a stop request is seen within it) */
  flushMs: number;
  /** batches handed over and not yet consumed, at most (then the thread stops reading until one is) */
  maxInFlight: number;
  /** Int32Array over it: [0] = 1 asks the thread to drain and stop; [1] = batches in flight */
  control: SharedArrayBuffer;
}

export type SubscriptionMessage =
  | { kind: 'ready'; stats: SubscriptionStats }
  | { kind: 'batch'; buffers: SocketTableBuffers; stats: SubscriptionStats }
  | { kind: 'stats'; stats: SubscriptionStats }
  | { kind: 'done'; stats: SubscriptionStats }
  | { kind: 'error'; code: string; message: string; facts: Record<string, unknown> };

export interface SubscriptionOptions {
  protocols?: readonly EventProtocol[];
  families?: readonly number[];
  /** a network namespace file the thread enters before subscribing (-N) */
  netns?: string;
  rcvbufBytes?: number;
  batchRows?: number;
  flushMs?: number;
  /** batches delivered but not yet consumed, at most (default 64: some 32 000 sockets) */
  maxInFlight?: number;
  /** a batch of destroyed sockets; the table is the callee's */
  onBatch: (table: SocketTable, stats: SubscriptionStats) => void;
  /** counts without events (about once a second) */
  onStats?: (stats: SubscriptionStats) => void;
  /** the thread failed after it started (the subscription is over) */
  onError?: (e: SockscopeError) => void;
}

export class LifecycleSubscription {
  stats: SubscriptionStats = { events: 0, malformed: 0, overruns: 0, lost: 0, rcvbufBytes: 0, batches: 0 };
  private readonly control = new SharedArrayBuffer(8);
  private readonly worker: Worker;
  private readonly finished: Promise<SubscriptionStats>;

  private constructor(o: SubscriptionOptions, ready: (e?: SockscopeError) => void) {
    const groups = destroyGroups(o.protocols ?? ['tcp', 'udp'], o.families ?? [AF_INET, AF_INET6]);
    const settings: SubscriptionSettings = {
      netns: o.netns,
      groups,
      rcvbufBytes: o.rcvbufBytes ?? DEFAULT_EVENT_RCVBUF,
      batchRows: o.batchRows ?? 512,
      flushMs: o.flushMs ?? 50,
      maxInFlight: o.maxInFlight ?? 64,
      control: this.control,
    };
    this.worker = new Worker(new URL('./subscription-entry.js', import.meta.url), { workerData: settings });
    let started = false;
    let failure: SockscopeError | undefined;
    this.finished = new Promise((resolve, reject) => {
      this.worker.on('message', (m: SubscriptionMessage) => {
        if (m.kind === 'error') {
          failure = new SockscopeError(m.code as never, m.message, m.facts);
          if (!started) ready(failure);
          else o.onError?.(failure);
          return;
        }
        this.stats = m.stats;
        if (m.kind === 'ready') {
          started = true;
          ready();
        } else if (m.kind === 'batch') {
          try {
            o.onBatch(SocketTable.fromBuffers(m.buffers), m.stats);
          } finally {
            const control = new Int32Array(this.control);
            Atomics.sub(control, 1, 1);
            Atomics.notify(control, 1);
          }
        } else if (m.kind === 'stats') {
          o.onStats?.(m.stats);
        } else {
          resolve(m.stats);
        }
      });
      this.worker.on('error', (e) => {
        failure ??= new SockscopeError('ESOCKSCOPE_WORKER', `the destroy-event thread stopped: ${e.message}`, {}, { cause: e });
        if (!started) ready(failure);
        else o.onError?.(failure);
        reject(failure);
      });
      this.worker.on('exit', () => (failure ? reject(failure) : resolve(this.stats)));
    });
    this.finished.catch(() => undefined); // reported through ready/onError; stop() rethrows
  }

  /** Subscribe; resolves once the socket has joined the groups (events from then on are delivered). */
  static start(o: SubscriptionOptions): Promise<LifecycleSubscription> {
    return new Promise((resolve, reject) => {
      const sub: LifecycleSubscription = new LifecycleSubscription(o, (e) => (e ? (void sub.worker.terminate(), reject(e)) : resolve(sub)));
    });
  }

  /** Keep the process alive for this subscription (ls -E) or not (the agent's gather thread decides). */
  ref(keep: boolean): void {
    if (keep) this.worker.ref();
    else this.worker.unref();
  }

  /** Deliver what the kernel has queued, then end; the final counts. */
  async stop(): Promise<SubscriptionStats> {
    Atomics.store(new Int32Array(this.control), 0, 1);
    try {
      return await this.finished;
    } finally {
      await this.worker.terminate();
    }
  }
}
