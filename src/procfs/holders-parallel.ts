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
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HolderColumns, type HolderColumnsBuffers } from './holder-columns.js';
import { indexSocketHolders, processEntries, SocketHolders, type WalkLibc } from './processes.js';

export interface ParallelWalkOptions {
  procRoot?: string;
  /** worker threads; default: available parallelism, at most 4. 1 walks on the calling thread. */
  workers?: number;
  /** stops the workers (the caller gave up: a usage error, a failed snapshot); the promise then rejects */
  signal?: AbortSignal;
}

/** What the walk worker gets (workerData). */
export interface WalkWorkerData {
  procRoot: string;
  pids: string[];
  /** Int32Array [next /proc entry to take] over a SharedArrayBuffer */
  next: SharedArrayBuffer;
}

export const MAX_WALK_WORKERS = 4;

async function loadWalkLibc(): Promise<WalkLibc | undefined> {
  try {
    const { loadLibc } = await import('../sys/libc.js');
    return await loadLibc();
  } catch {
    return undefined; // koffi unavailable: node:fs
  }
}

export async function indexSocketHoldersParallel(options: ParallelWalkOptions = {}): Promise<SocketHolders> {
  const procRoot = options.procRoot ?? '/proc';
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), MAX_WALK_WORKERS));
  if (workers === 1) return indexSocketHolders(procRoot, await loadWalkLibc());
  const pids = processEntries(procRoot);
  if (!pids) return indexSocketHolders(procRoot); // counts /proc as denied, as the single-threaded walk does
  const data: WalkWorkerData = { procRoot, pids, next: new SharedArrayBuffer(4) };
  let parts: HolderColumnsBuffers[];
  try {
    parts = await Promise.all(Array.from({ length: Math.min(workers, pids.length) }, () => runWalkWorker(data, options.signal)));
  } catch {
    options.signal?.throwIfAborted();
    // a worker that could not start or failed took some entries with it: walk them all here instead
    return indexSocketHolders(procRoot, await loadWalkLibc());
  }
  return mergeColumns(procRoot, pids.length, parts.map((p) => HolderColumns.fromBuffers(p)));
}

function runWalkWorker(data: WalkWorkerData, signal?: AbortSignal): Promise<HolderColumnsBuffers> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./holders-worker.js', import.meta.url), { workerData: data });
    const stop = () => void worker.terminate();
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', stop);
      reject(new Error(`the /proc walk worker exited with code ${code} before answering`)); // no-op once resolved
    });
  });
}

/** Every worker's rows, in /proc order (each worker took entries in increasing order). */
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
