/**
 * `sockscope gather` (one gather to stdout: what Telegraf's inputs.exec runs) and `sockscope execd` (Telegraf's
 * inputs.execd: a gather per newline on stdin, or on an interval; line protocol only on stdout; logs on stderr
 * with Telegraf's E!/W!/I! prefixes; exits cleanly when stdin closes).
 */
import { createInterface } from 'node:readline';
import { SockscopeError, UsageError } from '../errors.js';
import { gather, gatherStream, hostname, MEASUREMENTS, streams, type GatherConfig, type GatherReport, type Snapshotter } from '../gather/gather.js';
import { parseAddrPortsEnv, parsePortGroups } from '../collectors/netstat-port.js';
import { SOCKETSTAT_INFO_FIELDS } from '../collectors/socketstat.js';
import type { Metric } from '../model/metric.js';
import { netnsValues, parseCommand } from './options.js';
import { commandSpec, GATHER_FORMATS } from './spec.js';
import { resolveNetns } from './netns.js';
import { planNetnsCli } from '../netns/options.js';
import { parseDuration, parsePortGroupSpec, parseTags } from './values.js';
import { printHelp } from './help.js';

type GatherFormat = (typeof GATHER_FORMATS)[number];

export interface GatherCli {
  config: GatherConfig;
  format: GatherFormat;
  uintAsInt: boolean;
  netns?: string;
  /** --all-netns or the netns measurement: gathers through src/netns (the own namespace only without --all-netns) */
  allNetns?: import('../netns/all.js').AllNetnsOptions;
  /** the netns measurement (each namespace's kernel counters) */
  netnsCounters: boolean;
  signal: 'stdin' | 'none';
  intervalMs: number;
}

export function planGather(args: string[], command: 'gather' | 'execd'): GatherCli | 'help' {
  // --host-tag takes an optional NAME (util.parseArgs has no optional values): alone, last or before another
  // option, it means this host's name
  const argv = args.map((a, n) => (a === '--host-tag' && (n + 1 === args.length || args[n + 1].startsWith('-')) ? '--host-tag=' : a));
  const o = parseCommand(commandSpec(command), argv);
  if (o.flag('help')) return 'help';
  const v = {
    measurement: o.str('measurement'),
    format: o.str('format'),
    'netstat-semantics': o.str('netstat-semantics'),
    'per-ip-version': o.flag('per-ip-version'),
    'port-group': o.list('port-group'),
    'addr-ports': o.str('addr-ports'),
    'process-attribution': o.flag('process-attribution'),
    'socketstat-protocols': o.str('socketstat-protocols'),
    'socketstat-info': o.str('socketstat-info'),
    'socketstat-aggregate': o.flag('socketstat-aggregate'),
    'influx-uint': o.flag('influx-uint'),
    tag: o.list('tag'),
    'host-tag': o.str('host-tag'),
    net: o.str('net'),
    signal: o.str('signal'),
    interval: o.str('interval'),
    ...netnsValues(o),
  };
  const listed = [
    ...new Set(
      (v.measurement ?? 'netstat')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  ];
  const netnsCounters = listed.includes('netns');
  const measurements = listed.filter((m) => m !== 'netns');
  for (const m of measurements) {
    if (!MEASUREMENTS.includes(m)) {
      throw new UsageError(`unknown measurement '${m}': expected one of ${MEASUREMENTS.join(', ')}, netns`, { key: 'measurement', value: m });
    }
  }
  const format = (v.format ?? 'influx') as GatherFormat;
  if (!GATHER_FORMATS.includes(format))
    throw new UsageError(`unknown format '${v.format}': expected one of ${GATHER_FORMATS.join(', ')}`, { key: 'format', value: v.format });
  if (command === 'execd' && format !== 'influx')
    throw new UsageError(`execd writes line protocol only (Telegraf's execd reads data_format = "influx"); drop --format ${format}`);
  const semantics = v['netstat-semantics'] ?? 'sockscope';
  if (semantics !== 'sockscope' && semantics !== 'telegraf')
    throw new UsageError(`--netstat-semantics must be 'sockscope' or 'telegraf', got '${semantics}'`, { key: 'netstat-semantics', value: semantics });
  const groupConfigs = (v['port-group'] ?? []).map(parsePortGroupSpec);
  let groups: ReturnType<typeof parsePortGroups>;
  try {
    groups = [...parsePortGroups(groupConfigs, '--port-group'), ...(v['addr-ports'] ? parseAddrPortsEnv(v['addr-ports'], '--addr-ports') : [])];
  } catch (e) {
    if (e instanceof SockscopeError) throw new UsageError(e.message, e.facts);
    throw e;
  }
  if (measurements.includes('netstat_port') && groups.length === 0) {
    throw new UsageError('netstat_port needs at least one --port-group (or --addr-ports): which ports should it count?', { key: 'port-group' });
  }
  const protocols = (v['socketstat-protocols'] ?? 'tcp,udp').split(',').map((x) => x.trim());
  for (const p of protocols)
    if (!['tcp', 'udp', 'raw'].includes(p))
      throw new UsageError(`--socketstat-protocols: unknown protocol '${p}': expected tcp, udp, raw`, { key: 'socketstat-protocols', value: p });
  const info =
    v['socketstat-info'] === 'all'
      ? SOCKETSTAT_INFO_FIELDS
      : (v['socketstat-info'] ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
  for (const f of info)
    if (!SOCKETSTAT_INFO_FIELDS.includes(f))
      throw new UsageError(`--socketstat-info: unknown field '${f}': expected ${SOCKETSTAT_INFO_FIELDS.join(', ')} or all`, {
        key: 'socketstat-info',
        value: f,
      });
  const tags = parseTags(v.tag ?? [], 'tag');
  if (v['host-tag'] !== undefined) tags.host = v['host-tag'] || hostname();
  let allNetns = planNetnsCli(v, v.net);
  if (netnsCounters && !allNetns) {
    if (v.net !== undefined) throw new UsageError('the netns measurement with -N: select the namespace with --netns NAME instead', { key: 'net' });
    allNetns = { select: { ownOnly: true } }; // the own namespace's counters
  }
  const signal = (v.signal ?? 'stdin') as 'stdin' | 'none';
  if (signal !== 'stdin' && signal !== 'none')
    throw new UsageError(`--signal must be 'stdin' or 'none', got '${v.signal}'`, { key: 'signal', value: v.signal });
  return {
    config: {
      measurements,
      netstat: { semantics, perIpVersion: !!v['per-ip-version'] || format === 'prometheus' || format === 'openmetrics' },
      netstatPort: { groups, semantics, processAttribution: !!v['process-attribution'] },
      socketstat: { protocols, infoFields: info, aggregate: !!v['socketstat-aggregate'] },
      tags,
    },
    format,
    uintAsInt: !v['influx-uint'],
    netns: v.net === undefined ? undefined : resolveNetns(v.net),
    allNetns,
    netnsCounters,
    signal,
    intervalMs: v.interval === undefined ? 10_000 : parseDuration(v.interval, 'interval'),
  };
}

/** In-process snapshots over one reused netlink session (execd keeps it across gathers). */
async function inProcessSnapshotter(netns?: string): Promise<Required<Snapshotter> & { close(): void }> {
  const { DiagSession, streamSnapshot, takeCensus, takeSnapshot } = await import('../snapshot/snapshot.js');
  let session: InstanceType<typeof DiagSession> | undefined;
  try {
    session = await DiagSession.open(netns);
  } catch (e) {
    if (netns) throw e; // entering the namespace failed: the user's problem to fix
    session = undefined; // no netlink: every gather reads /proc/net and says so
  }
  return {
    snapshot: (o) => takeSnapshot(o, session),
    census: (o) => takeCensus(o, session),
    stream: (o, onBatch) => streamSnapshot(o, onBatch, session),
    close: () => session?.close(),
  };
}

/** Where line protocol goes: process.stdout, or a test's collector. */
export interface ByteSink {
  write(chunk: Uint8Array): unknown;
  /** bytes the sink still holds; 0 once a write is through (process.stdout on Linux: always) */
  readonly writableLength: number;
}

/**
 * A streamed gather as line protocol (gatherStream: socketstat alone, per connection): each batch of the dump
 * goes through the collector into the line-protocol sink (which writes socketstat's points straight from the
 * columns) and out to `out` before the next batch is decoded.
 */
export async function streamInflux(
  config: GatherConfig,
  uintAsInt: boolean,
  snapshotter: Required<Pick<Snapshotter, 'stream'>>,
  out: ByteSink,
): Promise<GatherReport> {
  const { LineProtocolSink } = await import('../outputs/metrics/socketstat-influx.js');
  const sink = new LineProtocolSink({ uintAsInt, tags: config.tags });
  // the points made before a failure go out too, as gather()'s writer keeps the metrics emitted before it
  return gatherStream(config, snapshotter, sink, () =>
    sink.bytes.flush(
      (chunk) => out.write(chunk),
      () => out.writableLength === 0,
    ),
  );
}

/** Load the streamed writer's modules while the netlink session opens (a one-shot gather feels every millisecond). */
async function preloadStreamWriter(cli: GatherCli): Promise<void> {
  if (cli.format === 'influx' && streams(cli.config)) await import('../outputs/metrics/socketstat-influx.js');
}

/** One gather written to `out`: a streamable gather in influx streams; anything else goes through gather(). */
async function gatherTo(cli: GatherCli, snapshotter: Required<Snapshotter>, w: OutputWriter, out: NodeJS.WriteStream): Promise<GatherReport> {
  if (cli.format === 'influx' && streams(cli.config)) return streamInflux(cli.config, cli.uintAsInt, snapshotter, out);
  const report = await gather(cli.config, snapshotter, w.write);
  out.write(w.take());
  return report;
}

interface OutputWriter {
  write: (m: Metric) => void;
  take: () => string;
}

async function writerFor(cli: GatherCli): Promise<OutputWriter> {
  if (cli.format === 'influx') {
    const { InfluxWriter } = await import('../outputs/metrics/influx.js');
    const w = new InfluxWriter({ uintAsInt: cli.uintAsInt });
    return { write: w.write, take: () => w.take() };
  }
  if (cli.format === 'json') {
    const { JsonWriter } = await import('../outputs/metrics/json.js');
    const w = new JsonWriter();
    return { write: w.write, take: () => w.take() };
  }
  const { PrometheusWriter } = await import('../outputs/metrics/prometheus.js');
  let w = new PrometheusWriter();
  return {
    write: (m: Metric) => w.write(m),
    take: () => {
      const text = w.text(cli.format === 'openmetrics' ? 'openmetrics' : 'text');
      w = new PrometheusWriter();
      return text;
    },
  };
}

function reportProblems(r: GatherReport, log: (level: 'E' | 'W', msg: string) => void): void {
  if (r.error) log('E', `gather failed: ${r.error}`);
  for (const c of r.collectors) if (!c.ok) log('E', `collector ${c.name} failed: ${c.error}`);
  for (const n of r.notes) log('W', n);
}

/** Gathers over namespaces (src/netns) in place of the in-process snapshotter. */
async function netnsGatherer(cli: GatherCli, w: OutputWriter): Promise<{ gather(out: NodeJS.WriteStream): Promise<GatherReport>; close(): Promise<void> }> {
  const { AllNetnsGatherer } = await import('../netns/cli.js');
  const g = new AllNetnsGatherer(cli.allNetns!);
  return {
    gather: async (out) => {
      const { report } = await g.gather(cli.config, cli.netnsCounters, w.write);
      out.write(w.take());
      return report;
    },
    close: () => g.close(),
  };
}

export async function runGather(args: string[]): Promise<void> {
  const cli = planGather(args, 'gather');
  if (cli === 'help') return printHelp('gather');
  if (cli.allNetns) {
    const g = await netnsGatherer(cli, await writerFor(cli));
    try {
      const report = await g.gather(process.stdout);
      reportProblems(report, (level, msg) => process.stderr.write(`sockscope: ${level === 'E' ? 'error' : 'warning'}: ${msg}\n`));
      if (report.error || report.collectors.some((c) => !c.ok)) process.exitCode = 1;
    } finally {
      await g.close();
    }
    return;
  }
  const [snapshotter, w] = await Promise.all([inProcessSnapshotter(cli.netns), writerFor(cli), preloadStreamWriter(cli)]);
  try {
    const report = await gatherTo(cli, snapshotter, w, process.stdout);
    reportProblems(report, (level, msg) => process.stderr.write(`sockscope: ${level === 'E' ? 'error' : 'warning'}: ${msg}\n`));
    if (report.error || report.collectors.some((c) => !c.ok)) process.exitCode = 1;
  } finally {
    snapshotter.close();
  }
}

export async function runExecd(args: string[]): Promise<void> {
  const cli = planGather(args, 'execd');
  if (cli === 'help') return printHelp('execd');
  const log = (level: 'E' | 'W' | 'I', msg: string) => process.stderr.write(`${level}! ${msg}\n`);
  // long-running: the runtime tuning of the agent (src/agent/runtime.ts)
  const { applyRuntimeTuning, runtimeTuning } = await import('../agent/runtime.js');
  applyRuntimeTuning(runtimeTuning());
  const [snapshotter, w] = await Promise.all([cli.allNetns ? undefined : inProcessSnapshotter(cli.netns), writerFor(cli), preloadStreamWriter(cli)]);
  const namespaces = cli.allNetns ? await netnsGatherer(cli, w) : undefined;
  let busy = Promise.resolve();
  let lastNotes = '';
  const once = () => {
    busy = busy
      .then(async () => {
        const report = namespaces ? await namespaces.gather(process.stdout) : await gatherTo(cli, snapshotter!, w, process.stdout);
        // problems once per change, not once per gather: a permanent fallback must not flood Telegraf's log
        const notes = [report.error, ...report.collectors.filter((c) => !c.ok).map((c) => c.error), ...report.notes].filter(Boolean).join('; ');
        if (notes !== lastNotes) reportProblems(report, log);
        lastNotes = notes;
      })
      .catch((e: Error) => {
        log('E', `gather failed: ${e.message}`);
      });
    return busy;
  };
  log('I', `sockscope execd: ${cli.config.measurements.join(',')}, signal ${cli.signal}${cli.signal === 'none' ? `, every ${cli.intervalMs} ms` : ''}`);
  let timer: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (timer) clearInterval(timer);
    await busy;
    snapshotter?.close();
    await namespaces?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  const lines = createInterface({ input: process.stdin, terminal: false });
  if (cli.signal === 'stdin') {
    lines.on('line', () => void once());
  } else {
    void once();
    timer = setInterval(() => void once(), cli.intervalMs);
  }
  // Telegraf closes our stdin when it stops the plugin: finish the gather in flight and exit 0.
  lines.on('close', () => void stop());
}
