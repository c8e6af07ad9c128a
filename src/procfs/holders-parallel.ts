/**
 * `-p`'s /proc walk split across worker threads (indexSocketHoldersParallel): the same SocketHolders as
 * indexSocketHolders(), built while the calling thread does something else (ls takes its kernel snapshot).
 *
 * Nearly all of the walk is kernel time (one readlinkat per fd of the machine), which parallelizes across
 * processes: each worker takes the next /proc entry from a shared counter (a host's sockets are often held by
 * a few big processes, so a fixed split would leave one worker with most of them), walks it with FdWalker and
 * sends back typed-array columns, transferred, not copied. The columns are merged in /proc order, so the index
 * is the one the single-threaded walk builds.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HolderColumns, type HolderColumnsBuffers } from './holder-columns.js';
import { FdWalker, indexSocketHolders, processEntries, SocketHolders, type WalkLibc } from './processes.js';

export interface ParallelWalkOptions {
  procRoot?: string;
  /**
   * worker threads; default: available parallelism, at most 4, or 1 below PARALLEL_FROM_OPEN_FILES open files.
   * 1 walks on the calling thread.
   */
  workers?: number;
  /** stops the workers (the caller gave up: a usage error, a failed snapshot); the promise then rejects */
  signal?: AbortSignal;
}

/** What the walk worker gets (workerData). */
export interface WalkWorkerData {
  procRoot: string;
  pids: string[];
  /**
   * Int32Array over a SharedArrayBuffer: [0] the next /proc entry to take; [1 + k] worker k's state, set by
   * compare-and-swap: 0 starting, 1 walking (claimed by the worker before its first entry), 2 cancelled
   * (claimed by the caller, who walked everything before this worker was ready: it answers null at once)
   */
  shared: SharedArrayBuffer;
  worker: number;
}

export const WORKER_STARTING = 0;
export const WORKER_WALKING = 1;
export const WORKER_CANCELLED = 2;

export const MAX_WALK_WORKERS = 4;

async function loadWalkLibc(): Promise<WalkLibc | undefined> {
  try {
    const { loadLibc } = await import('../sys/libc.js');
    return await loadLibc();
  } catch {
    return undefined; // koffi unavailable: node:fs
  }
}

/**
 * A walk started in worker threads, which the calling thread joins in finish(): it takes entries from the same
 * counter until none is left, then waits only for the workers that took some. Start it before other work (ls:
 * the kernel snapshot) and finish it after. Worker start-up costs ~25 ms each; on a host with few descriptors
 * the calling thread walks them all before a worker is ready, and those workers are cancelled, not awaited.
 */
export class ParallelHolderWalk {
  private readonly workers: { worker: Worker; answer: Promise<HolderColumnsBuffers | null> }[] = [];
  private readonly pids: string[] | undefined;
  private readonly state: Int32Array | undefined;

  private constructor(
    private readonly procRoot: string,
    count: number,
    private readonly signal?: AbortSignal,
  ) {
    if (count <= 1) return; // one CPU: finish() walks on the calling thread
    this.pids = processEntries(procRoot);
    if (!this.pids) return; // finish() counts /proc as denied, as the single-threaded walk does
    const shared = new SharedArrayBuffer(4 * (1 + count));
    this.state = new Int32Array(shared);
    for (let k = 0; k < Math.min(count, this.pids.length); k++) {
      this.workers.push(startWalkWorker({ procRoot, pids: this.pids, shared, worker: k }, signal));
    }
  }

  static start(options: ParallelWalkOptions = {}): ParallelHolderWalk {
    const count = Math.max(1, Math.min(options.workers ?? defaultWorkers(), MAX_WALK_WORKERS));
    return new ParallelHolderWalk(options.procRoot ?? '/proc', count, options.signal);
  }

  async finish(): Promise<SocketHolders> {
    const libc = await loadWalkLibc();
    this.signal?.throwIfAborted();
    const { pids, state } = this;
    if (!pids || !state) return indexSocketHolders(this.procRoot, libc);
    const own = new HolderColumns();
    const walker = new FdWalker(this.procRoot, libc);
    for (let e = Atomics.add(state, 0, 1); e < pids.length; e = Atomics.add(state, 0, 1)) {
      const start = own.count;
      walker.walk(pids[e], own);
      own.segment(e, start);
    }
    const answers: Promise<HolderColumnsBuffers | null>[] = [];
    this.workers.forEach(({ worker, answer }, k) => {
      if (Atomics.compareExchange(state, 1 + k, WORKER_STARTING, WORKER_CANCELLED) === WORKER_STARTING) {
        answer.catch(() => undefined);
        void worker.terminate(); // took nothing, and will take nothing
      } else {
        answers.push(answer);
      }
    });
    let parts: (HolderColumnsBuffers | null)[];
    try {
      parts = await Promise.all(answers);
    } catch {
      this.signal?.throwIfAborted();
      // a worker that failed took some entries with it: walk them all here instead
      return indexSocketHolders(this.procRoot, libc);
    }
    const columns = [own, ...parts.filter((p) => p !== null).map((p) => HolderColumns.fromBuffers(p))];
    return mergeColumns(this.procRoot, pids.length, columns);
  }
}

/**
 * Below this many open files on the host, the walk takes ~70 ms or less on one thread and worker start-up
 * (~25-35 ms, and CPU taken from the calling thread while they boot) would eat what splitting it saves.
 */
export const PARALLEL_FROM_OPEN_FILES = 20_000;

/** Workers for the walk: one per CPU (at most 4), or none when the host has few open files. */
function defaultWorkers(): number {
  try {
    // fs/file_table.c: "allocated  free  max"; every fd of every process is one of the allocated (or shares one)
    const allocated = Number(readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/)[0]);
    if (allocated < PARALLEL_FROM_OPEN_FILES) return 1;
  } catch {
    /* no such file: split anyway */
  }
  return availableParallelism();
}

/** The walk in worker threads joined by the calling thread at once: ParallelHolderWalk.start(options).finish(). */
export function indexSocketHoldersParallel(options: ParallelWalkOptions = {}): Promise<SocketHolders> {
  return ParallelHolderWalk.start(options).finish();
}

function startWalkWorker(data: WalkWorkerData, signal?: AbortSignal): { worker: Worker; answer: Promise<HolderColumnsBuffers | null> } {
  const worker = new Worker(new URL('./holders-worker.js', import.meta.url), { workerData: data });
  const answer = new Promise<HolderColumnsBuffers | null>((resolve, reject) => {
    const stop = () => void worker.terminate();
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', stop);
      reject(new Error(`the /proc walk worker exited with code ${code} before answering`)); // no-op once resolved
    });
  });
  answer.catch(() => undefined); // awaited in finish(); not unhandled before then
  return { worker, answer };
}

/** Every walker's rows, in /proc order (each took entries in increasing order). */
function mergeColumns(procRoot: string, entries: number, parts: HolderColumns[]): SocketHolders {
  const index = new SocketHolders(procRoot);
  // for each /proc entry: which part walked it and where its rows are
  const part = new Int8Array(entries).fill(-1);
  const start = new Int32Array(entries);
  const end = new Int32Array(entries);
  parts.forEach((p, k) => {
    for (let s = 0; s < p.segmentCount; s++) {
      const e = p.segments[3 * s];
      part[e] = k;
      start[e] = p.segments[3 * s + 1];
      end[e] = p.segments[3 * s + 2];
    }
    index.deniedPids += p.deniedPids;
    index.vanishedPids += p.vanishedPids;
    index.processes += p.processes;
  });
  for (let e = 0; e < entries; e++) {
    const k = part[e];
    if (k < 0) continue;
    const { inode, pid, fd } = parts[k];
    for (let i = start[e]; i < end[e]; i++) index.add(inode[i], pid[i], fd[i]);
  }
  return index;
}
