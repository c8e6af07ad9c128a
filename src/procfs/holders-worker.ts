/**
 * A /proc walk worker (src/procfs/holders-parallel.ts): claims its slot, then takes /proc entries from the shared
 * counter until none is left.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HolderColumns } from './holder-columns.js';
import { WORKER_STARTING, WORKER_WALKING, type WalkWorkerData } from './holders-parallel.js';
import { FdWalker, type WalkLibc } from './processes.js';

const { procRoot, pids, shared, worker } = workerData as WalkWorkerData;
const state = new Int32Array(shared);
if (Atomics.compareExchange(state, 1 + worker, WORKER_STARTING, WORKER_WALKING) !== WORKER_STARTING) {
  parentPort!.postMessage(null); // the caller walked everything while this thread started
  process.exit(0);
}
let libc: WalkLibc | undefined;
try {
  const { loadLibc } = await import('../sys/libc.js');
  libc = await loadLibc();
} catch {
  libc = undefined; // koffi unavailable: node:fs
}
const walker = new FdWalker(procRoot, libc);
const columns = new HolderColumns();
for (let e = Atomics.add(state, 0, 1); e < pids.length; e = Atomics.add(state, 0, 1)) {
  const start = columns.count;
  walker.walk(pids[e], columns);
  columns.segment(e, start);
}
const out = columns.toBuffers();
parentPort!.postMessage(
  out,
  [out.inode, out.pid, out.fd, out.segments].map((a) => a.buffer as ArrayBuffer),
);
