/**
 * The golden outputs: the recorded fixture snapshot (test/fixtures, one recording of the population of
 * test/helpers/population-holder.ts) replayed through `sockscope gather`'s own plan (planGather, the CLI's
 * option parser) and gather(), into each format, at a fixed time (the recording's `recordedAt`).
 *
 * Used by golden.test.ts (compare with test/fixtures/metrics/*) and by
 * test/fixtures/metrics/regenerate.mjs (write them after a re-recording or a deliberate output change).
 */
import { readFileSync } from 'node:fs';
import { gather, type GatherReport, type Snapshotter } from '../../src/gather/gather.js';
import { planGather } from '../../src/cli/gather.js';
import type { Metric } from '../../src/model/metric.js';
import { InfluxWriter } from '../../src/outputs/metrics/influx.js';
import { JsonWriter } from '../../src/outputs/metrics/json.js';
import { PrometheusWriter } from '../../src/outputs/metrics/prometheus.js';
import { replayTransport, type ReplayRequest } from '../../src/snapshot/replay.js';
import { DiagSession, takeCensus, takeSnapshot } from '../../src/snapshot/snapshot.js';
import type { Population } from '../helpers/population-holder.js';
import { FIXTURES, recordedAnswer } from '../helpers/recorded.js';

export { FIXTURES };
export const GOLDEN_DIR = `${FIXTURES}metrics/`;

export const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as { recordedAt: string; population: Population };
/** The fixed time every golden metric carries: when the fixture was recorded. */
export const GOLDEN_TIME = Date.parse(manifest.recordedAt);

/** Snapshots and censuses answered from the recording, stamped with GOLDEN_TIME. */
export function fixtureSnapshotter(): Snapshotter & { requests: ReplayRequest[] } {
  const requests: ReplayRequest[] = [];
  // one log of the requests over every session
  const session = () => new DiagSession(replayTransport((req) => (requests.push(req), recordedAnswer(req))));
  const procRoot = `${FIXTURES}proc`;
  return {
    requests,
    snapshot: async (o) => ({ ...(await takeSnapshot({ ...o, procRoot }, session())), takenAt: GOLDEN_TIME }),
    census: async (o) => ({ ...(await takeCensus({ ...o, procRoot }, session())), takenAt: GOLDEN_TIME }),
  };
}

const pop = manifest.population;
const listener = (name: string) => pop.tcp.listeners.find((l) => l.name === name)!.port;
/** Ports of the recording the port groups use. */
export const PORTS = {
  v4: listener('node-v4'),
  v6: listener('node-v6'),
  dual: listener('node-dual'),
  udp: pop.udp.bound[0].port,
};

const GROUPS = [
  '--port-group',
  `${PORTS.v4},${PORTS.dual},${PORTS.udp}@service=web`,
  '--port-group',
  `*:${PORTS.v6}@service=web6`,
  '--port-group',
  `remote:${PORTS.v4}@direction=out`,
];
const HOST = ['--host-tag', 'fixture'];
const ALL = ['--measurement', 'netstat,netstat_port,socketstat', ...GROUPS, ...HOST];

export interface GoldenCase {
  file: string;
  /** `sockscope gather` arguments */
  args: string[];
}

export const GOLDEN_CASES: readonly GoldenCase[] = [
  { file: 'all.influx', args: [...ALL] },
  { file: 'all.prom', args: [...ALL, '--format', 'prometheus'] },
  { file: 'all.om', args: [...ALL, '--format', 'openmetrics'] },
  { file: 'all.json', args: [...ALL, '--format', 'json'] },
  { file: 'telegraf.influx', args: ['--measurement', 'netstat,netstat_port', '--netstat-semantics', 'telegraf', '--per-ip-version', ...GROUPS, ...HOST] },
  { file: 'socketstat-info.influx', args: ['--measurement', 'socketstat', '--socketstat-info', 'all', '--influx-uint', ...HOST] },
  { file: 'socketstat-info.prom', args: ['--measurement', 'socketstat', '--socketstat-info', 'all', '--format', 'prometheus', ...HOST] },
  { file: 'socketstat-aggregate.influx', args: ['--measurement', 'socketstat', '--socketstat-aggregate', ...HOST] },
  { file: 'socketstat-aggregate.om', args: ['--measurement', 'socketstat', '--socketstat-aggregate', '--format', 'openmetrics', ...HOST] },
];

/** What `sockscope gather <args>` prints for the recording, and the gather's report. */
export async function renderGolden(
  args: readonly string[],
  snapshotter: Snapshotter = fixtureSnapshotter(),
): Promise<{ text: string; report: GatherReport; metrics: Metric[] }> {
  const cli = planGather([...args], 'gather');
  if (cli === 'help') throw new Error('help');
  const metrics: Metric[] = [];
  let write: (m: Metric) => void;
  let take: () => string;
  if (cli.format === 'influx') {
    const w = new InfluxWriter({ uintAsInt: cli.uintAsInt });
    write = w.write;
    take = () => w.take();
  } else if (cli.format === 'json') {
    const w = new JsonWriter();
    write = w.write;
    take = () => w.take();
  } else {
    const w = new PrometheusWriter();
    write = w.write;
    take = () => w.text(cli.format === 'openmetrics' ? 'openmetrics' : 'text');
  }
  const report = await gather(cli.config, snapshotter, (m) => {
    metrics.push(m);
    write(m);
  });
  return { text: take(), report, metrics };
}
