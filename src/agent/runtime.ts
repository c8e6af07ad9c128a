/**
 * Runtime tuning for the long-running processes (the agent and its gather worker, execd), in one place and
 * applied at their start, never at module load: a one-shot command (ls, gather) pays for none of it. Each piece
 * was measured with bench/agent-load.ts at 150k sockets and is kept because it still pays; the figures are in
 * docs/benchmarks-metrics-agent.md ("Runtime tuning").
 *
 *  - keep shapes: one small instance of each hot class lives for the whole process (keepShape), so the
 *    collectors' and the exposition writer's optimized code stays valid from one gather to the next;
 *  - external garbage: after a gather each thread collects when more than a budget of dead ArrayBuffers is held
 *    (V8 waits for ~64 MB of them), and the worker frees a gather's table at once through a closed MessagePort
 *    (collectExternalGarbage, releaseBuffers in src/util/external-garbage.ts), the agent the previous gather's
 *    rendered samples (releaseRendered);
 *  - a small young generation for the gather worker (its allocations die with the gather);
 *  - glibc's mmap threshold at 128 KiB: a snapshot's columns get mappings of their own, returned to the kernel
 *    when freed instead of staying in malloc's arenas. Set by GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
 *    where the agent is deployed (deploy/systemd/sockscope.service, deploy/container/Dockerfile,
 *    deploy/kubernetes/sockscope-daemonset.yaml), which is what mallopt(M_MMAP_THRESHOLD) did through the FFI.
 *
 * SOCKSCOPE_TUNING turns pieces off to measure them (comma-separated): no-keep-shapes, no-collect-garbage,
 * no-release-tables, no-young-generation-cap.
 */
import { tableConnections } from '../collectors/connections.js';
import { PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { SocketTable } from '../snapshot/table.js';
import { collectExternalGarbage, releaseBuffers } from '../util/external-garbage.js';
import { keepShape } from '../util/keep-shape.js';
import type { Gather } from './output.js';

export interface RuntimeTuning {
  keepShapes: boolean;
  collectGarbage: boolean;
  releaseTables: boolean;
  /** the gather worker's young generation, MB; undefined: V8's default */
  workerYoungGenerationMb: number | undefined;
}

/** The gather worker's young generation: its allocations are short-lived, and V8's default grows to 48 MB that stay resident. */
const WORKER_YOUNG_GENERATION_MB = 4;

export function runtimeTuning(env: NodeJS.ProcessEnv = process.env): RuntimeTuning {
  const off = new Set(
    (env.SOCKSCOPE_TUNING ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return {
    keepShapes: !off.has('no-keep-shapes'),
    collectGarbage: !off.has('no-collect-garbage'),
    releaseTables: !off.has('no-release-tables'),
    workerYoungGenerationMb: off.has('no-young-generation-cap') ? undefined : WORKER_YOUNG_GENERATION_MB,
  };
}

let applied = false;

/** At the start of a long-running process and of its gather worker thread (each isolate has its own shapes). */
export function applyRuntimeTuning(t: RuntimeTuning): void {
  if (applied || !t.keepShapes) return;
  applied = true;
  keepShape(new SocketTable(16, 0));
  keepShape(tableConnections(new SocketTable(16, 0)));
  keepShape(new PrometheusWriter()).sample('shape', 'keeps the shapes of a writer and a family', 'gauge', { a: 'b' }, 1);
}

/** After a gather: dead buffers beyond the budget are collected now (a no-op when tuned off). */
export function afterGather(t: RuntimeTuning, budgetBytes: number): void {
  if (t.collectGarbage) collectExternalGarbage(budgetBytes);
}

/**
 * The agent's previous gather is replaced: its rendered samples (the worker's exposition, the namespace walk's
 * parts), which nothing reads any more (the outputs hold the new gather, a /metrics body is a copy), are freed
 * now (when tuned on) rather than at a collection. Buffers the new gather shares are kept. A namespace walk's
 * part goes back to `recycle` when given (the walker writes its next exposition into it: no 5 MB allocated, and
 * faulted in, every gather) unless it declines.
 */
export function releaseRendered(t: RuntimeTuning, previous: Gather, next: Gather, recycle?: (b: ArrayBuffer) => boolean): void {
  if (!t.releaseTables) return;
  const keep = new Set([next.exposition, ...(next.netnsParts ?? [])].map((e) => e?.bytes.buffer));
  const dead = new Set<ArrayBuffer>();
  for (const e of [previous.exposition, ...(previous.netnsParts ?? [])]) {
    const b = e?.bytes.buffer;
    if (b instanceof ArrayBuffer && b.byteLength > 0 && !keep.has(b)) dead.add(b);
  }
  for (const e of previous.netnsParts ?? []) {
    const b = e.bytes.buffer;
    if (b instanceof ArrayBuffer && dead.has(b) && recycle?.(b)) dead.delete(b);
  }
  if (dead.size) releaseBuffers([...dead]);
}

/** A gather's table is dead: free its buffers now (when tuned on), not at V8's next full collection. */
export function releaseTable(t: RuntimeTuning, table: SocketTable): void {
  if (t.releaseTables) releaseBuffers(table.toBuffers().transfer);
}
