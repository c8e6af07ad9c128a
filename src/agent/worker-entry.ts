/** The snapshot worker thread: one netlink session, reused across gathers and reopened after a failure. */
import { parentPort, workerData } from 'node:worker_threads';
import { gather } from '../gather/gather.js';
import { doctorHistoryFor } from '../doctor/history.js';
import { lifecycleFor } from '../lifecycle/host.js';
import { mergeIpVersions } from '../collectors/netstat.js';
import { toWire } from '../collectors/registry.js';
import { isSockscopeError } from '../errors.js';
import type { Metric } from '../model/metric.js';
import { metricJson } from '../outputs/metrics/json.js';
import { PrometheusWriter, type Exposition } from '../outputs/metrics/prometheus.js';
import { DiagSession, takeCensus, takeSnapshot, type SnapshotOptions } from '../snapshot/snapshot.js';
import type { SocketTable } from '../snapshot/table.js';
import { EstablishedMemo } from '../snapshot/established.js';
import { tcpOpens } from '../netns/counters.js';
import { readProcText } from '../procfs/read.js';
import { afterGather, applyRuntimeTuning, releaseTable, runtimeTuning, type RuntimeTuning } from './runtime.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

const netns: string | undefined = workerData?.netns;
const tuning: RuntimeTuning = workerData?.tuning ?? runtimeTuning();
applyRuntimeTuning(tuning);
let session: DiagSession | undefined;
let entered = false;
let gathers = 0;
/**
 * External memory (ArrayBuffers) the worker may hold after a gather before it collects: a few MB of slack. The
 * table is released at once (releaseBuffers); this bounds what else piles up (the rendering's buffers).
 */
const EXTERNAL_BUDGET = 8 << 20;
/** the last gather's metrics when asked to keep them (GatherWants.keep): a few thousand small objects, not the table */
let kept: { gather: number; metrics: Metric[] } | undefined;
/** see PrometheusWriter.reset: gathers of this thread come one at a time (the agent never stacks them) */
let writer: PrometheusWriter | undefined;

/** This thread's namespace's Tcp ActiveOpens and PassiveOpens, before a gather's dumps (SnapshotOptions.tcpOpens). */
const hostOpens = () => tcpOpens(readProcText('/proc/thread-self/net/snmp'));

async function getSession(): Promise<DiagSession | undefined> {
  if (session) return session;
  try {
    // setns applies to this thread only; enter once, then keep reopening sockets inside.
    session = await DiagSession.open(entered ? undefined : netns);
    // its ESTABLISHED sockets on listening ports, handed out again while the counters say none came or went
    session.memo = new EstablishedMemo();
    entered = true;
  } catch (e) {
    if (!entered && netns) throw e; // a namespace we cannot enter is the caller's error, not a fallback
    session = undefined; // takeSnapshot falls back to /proc and says so
  }
  return session;
}

parentPort!.on('message', async (req: WorkerRequest) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const s = req.kind === 'metricsJson' ? undefined : await getSession();
    if (req.kind === 'gather') {
      const metrics: Metric[] = [];
      let table: SocketTable | undefined;
      const snapshot = async (o: SnapshotOptions) => {
        const snap = await takeSnapshot(s ? { ...o, tcpOpens: hostOpens } : o, s);
        table = snap.table;
        return snap;
      };
      // the lifecycle collector's subscription lives in this thread between gathers (src/lifecycle/host.ts)
      await lifecycleFor(req.config.measurements.includes('lifecycle') ? req.config.lifecycle : undefined, netns);
      // the doctor collector's previous sample lives in this thread between gathers (src/doctor/history.ts)
      doctorHistoryFor(req.config.measurements.includes('doctor'));
      const report = await gather(req.config, { snapshot, census: (o) => takeCensus(o, s) }, (m) => metrics.push(m));
      // the collectors are done with the table: its memory goes now, not at some later collection
      if (table) releaseTable(tuning, table);
      let exposition: Exposition | undefined;
      if (req.want.exposition) {
        // one writer for every gather of this thread: its families' buffers are written over, not made again
        const w = (writer ??= new PrometheusWriter());
        w.reset();
        for (const m of metrics) w.write(m);
        exposition = w.exposition();
        transfer.push(exposition.bytes.buffer as ArrayBuffer);
      }
      const n = ++gathers;
      kept = req.want.keep ? { gather: n, metrics } : undefined;
      reply = { id: req.id, ok: true, kind: 'gather', gather: n, report, metrics: req.want.metrics ? metrics.map(toWire) : undefined, exposition };
    } else if (req.kind === 'metricsJson') {
      const metrics = kept?.gather === req.gather ? kept.metrics : undefined;
      const json = metrics && JSON.stringify((req.perIpVersion ? metrics : mergeIpVersions(metrics)).map(metricJson));
      reply = { id: req.id, ok: true, kind: 'metricsJson', json };
    } else if (req.kind === 'census') {
      const { counts, ...meta } = await takeCensus(req.options, s);
      transfer.push(counts.counts.buffer as ArrayBuffer);
      reply = { id: req.id, ok: true, kind: 'census', counts: counts.counts.buffer as ArrayBuffer, meta };
    } else {
      const { table, ...meta } = await takeSnapshot(req.options, s);
      const { buffers, transfer: t } = table.toBuffers();
      transfer.push(...t);
      reply = { id: req.id, ok: true, kind: 'snapshot', buffers, meta };
    }
  } catch (e) {
    session?.close();
    session = undefined;
    reply = isSockscopeError(e)
      ? { id: req.id, ok: false, code: e.code, message: e.message, facts: e.facts }
      : { id: req.id, ok: false, code: 'ESOCKSCOPE_WORKER', message: (e as Error)?.message ?? String(e), facts: {} };
  }
  parentPort!.postMessage(reply, transfer);
  // dead buffers beyond the budget: collect them before they pile up with the next gathers' (see collectExternalGarbage)
  if (req.kind === 'gather') afterGather(tuning, EXTERNAL_BUDGET);
});
