/** A /proc walk worker (src/procfs/holders-parallel.ts): takes /proc entries from the shared counter until none is left. */
import { parentPort, workerData } from 'node:worker_threads';
import { HolderColumns } from './holder-columns.js';
import type { WalkWorkerData } from './holders-parallel.js';
import { FdWalker, type WalkLibc } from './processes.js';

const { procRoot, pids, next } = workerData as WalkWorkerData;
let libc: WalkLibc | undefined;
try {
  const { loadLibc } = await import('../sys/libc.js');
  libc = await loadLibc();
} catch {
  libc = undefined; // koffi unavailable: node:fs
}
const walker = new FdWalker(procRoot, libc);
const columns = new HolderColumns();
const taken = new Int32Array(next);
for (let e = Atomics.add(taken, 0, 1); e < pids.length; e = Atomics.add(taken, 0, 1)) {
  const start = columns.count;
  walker.walk(pids[e], columns);
  columns.segment(e, start);
}
const out = columns.toBuffers();
parentPort!.postMessage(out, [out.inode, out.pid, out.fd, out.segments].map((a) => a.buffer as ArrayBuffer));
