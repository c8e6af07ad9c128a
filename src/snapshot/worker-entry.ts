/** The snapshot worker thread: one netlink session, reused across gathers and reopened after a failure. */
import { parentPort, workerData } from 'node:worker_threads';
import { gather } from '../collectors/gather.js';
import { mergeIpVersions } from '../collectors/netstat.js';
import { toWire } from '../collectors/registry.js';
import { isSockscopeError } from '../errors.js';
import { collectExternalGarbage } from '../util/external-garbage.js';
import type { Metric } from '../model/metric.js';
import { metricJson } from '../outputs/json.js';
import { PrometheusWriter, type Exposition } from '../outputs/prometheus.js';
import { DiagSession, takeCensus, takeSnapshot } from './snapshot.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

const netns: string | undefined = workerData?.netns;
let session: DiagSession | undefined;
let entered = false;
let gathers = 0;
/**
 * External memory (ArrayBuffers) the worker may hold after a gather before it collects: a few MB of slack, so a
 * gather's dead table (12 MB at 150k sockets) goes at once rather than with the next ones.
 */
const EXTERNAL_BUDGET = 8 << 20;
/** the last gather's metrics when asked to keep them (GatherWants.keep): a few thousand small objects, not the table */
let kept: { gather: number; metrics: Metric[] } | undefined;

async function getSession(): Promise<DiagSession | undefined> {
  if (session) return session;
  try {
    // setns applies to this thread only; enter once, then keep reopening sockets inside.
    session = await DiagSession.open(entered ? undefined : netns);
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
      const report = await gather(req.config, { snapshot: (o) => takeSnapshot(o, s), census: (o) => takeCensus(o, s) }, (m) => metrics.push(m));
      let exposition: Exposition | undefined;
      if (req.want.exposition) {
        const w = new PrometheusWriter();
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
  // the table is garbage now: free it before it piles up with the next ones (see collectExternalGarbage)
  if (req.kind === 'gather') collectExternalGarbage(EXTERNAL_BUDGET);
});
