/**
 * `sockscope gather` (one gather to stdout: what Telegraf's inputs.exec runs) and `sockscope execd` (Telegraf's
 * inputs.execd: a gather per newline on stdin, or on an interval; line protocol only on stdout; logs on stderr
 * with Telegraf's E!/W!/I! prefixes; exits cleanly when stdin closes).
 */
import { DURATION_EXAMPLES, parseDuration as parseDurationText } from '../util/duration.js';
import { parseTags } from '../util/tags.js';
import { createInterface } from 'node:readline';
import { SockscopeError, UsageError } from '../errors.js';
import {
  gather, gatherSocketstatStream, hostname, MEASUREMENTS, socketstatOptions, streamsSocketstat,
  type GatherConfig, type GatherReport, type MeasurementName, type Snapshotter,
} from '../collectors/gather.js';
import { parseAddrPortsEnv, parsePortGroups, type PortGroupConfig } from '../collectors/netstat-port.js';
import { SOCKETSTAT_INFO_FIELDS } from '../collectors/socketstat.js';
import type { Metric } from '../model/metric.js';
import { parseOptions } from './options.js';
import { resolveNetns } from './netns.js';

export const GATHER_FORMATS = ['influx', 'prometheus', 'openmetrics', 'json'] as const;
type GatherFormat = (typeof GATHER_FORMATS)[number];

export const GATHER_HELP = `Usage: sockscope gather [options]
       sockscope execd [options] [--signal stdin|none] [--interval 10s]

One gather of socket metrics to stdout (gather), or a long-running process for Telegraf's inputs.execd.

Options:
  --measurement LIST        netstat, netstat_port, socketstat, listen (comma-separated; default netstat)
  --format FORMAT           influx (default), prometheus, openmetrics, json   (execd: influx only)
  --netstat-semantics S     sockscope (default) or telegraf: reproduce Telegraf/DataKit numbers (unix sockets
                            counted into udp_socket/tcp_none, duplicate sockets counted once)
  --per-ip-version          netstat: one point per ip_version (DataKit); always on for prometheus
  --port-group SPEC         netstat_port group (repeatable), entries comma-separated:
                              80,1.1.1.1:80,[::1]:80   local ports / addresses (DataKit ports)
                              *:80,*:443               one series per local address (DataKit ports_match)
                              remote:443               the peer's port (outbound connections)
                            then optionally @tag=value,tag=value
  --addr-ports JSON         a DataKit ENV_INPUT_NETSTAT_ADDR_PORTS array, e.g. '["1.1.1.1:80","443"]'
  --process-attribution     netstat_port pid field: walk /proc/*/fd (see docs/metrics.md)
  --socketstat-protocols L  tcp,udp,raw (default tcp,udp)
  --socketstat-info LIST    extra tcp_info fields (${SOCKETSTAT_INFO_FIELDS.join(', ')}) or "all"
  --socketstat-aggregate    one point per (proto, local address, remote address)
  --influx-uint             write unsigned fields with the u suffix (default: i, as Telegraf's default)
  --tag KEY=VALUE           a tag on every metric (repeatable)
  --host-tag [NAME]         add host=NAME (default: this host's name)
  -N, --net NAME|PID|PATH   another network namespace
execd only:
  --signal stdin|none       stdin (default): gather on each line read; none: gather every --interval
  --interval DURATION       for --signal none (default 10s; e.g. 500ms, 10s, 1m)
`;

const OPTIONS = {
  measurement: { type: 'string' }, format: { type: 'string' }, 'netstat-semantics': { type: 'string' },
  'per-ip-version': { type: 'boolean' }, 'port-group': { type: 'string', multiple: true }, 'addr-ports': { type: 'string' },
  'process-attribution': { type: 'boolean' }, 'socketstat-protocols': { type: 'string' }, 'socketstat-info': { type: 'string' },
  'socketstat-aggregate': { type: 'boolean' }, 'influx-uint': { type: 'boolean' }, tag: { type: 'string', multiple: true },
  'host-tag': { type: 'string' }, net: { type: 'string', short: 'N' }, signal: { type: 'string' }, interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A --KEY duration option (src/util/duration.ts: "10s", "500ms", "1m30s") → ms. */
export function parseDuration(text: string, key: string): number {
  const ms = parseDurationText(text) ?? NaN;
  // 0 would gather in a busy loop, and so would anything past setInterval's 2^31-1 ms (Node turns it into 1 ms)
  if (!(ms >= 1 && ms <= 0x7fffffff)) throw new UsageError(`--${key} must be a duration from 1ms to 596h, like ${DURATION_EXAMPLES}; got '${text}'`, { key, value: text });
  return ms;
}

/** --port-group "80,443@service=http" → DataKit's group table. */
export function parsePortGroupSpec(spec: string): PortGroupConfig {
  const [list, tagText] = spec.split('@', 2);
  const entries = list.split(',').map((e) => e.trim()).filter(Boolean);
  const g: PortGroupConfig = {};
  for (const e of entries) {
    if (e.startsWith('*:')) (g.ports_match ??= []).push(e);
    else if (e.startsWith('remote:')) (g.remote_ports ??= []).push(e.slice('remote:'.length));
    else (g.ports ??= []).push(e);
  }
  const kinds = [g.ports, g.ports_match, g.remote_ports].filter(Boolean).length;
  if (kinds > 1) throw new UsageError(`--port-group '${spec}' mixes local ports, *:port and remote: entries; give each kind its own group`, { key: 'port-group', value: spec });
  if (tagText !== undefined) g.tags = parseTags(tagText, (kv) => new UsageError(`--port-group: '${kv}' is not KEY=VALUE`, { key: 'port-group', value: kv }));
  return g;
}

export interface GatherCli {
  config: GatherConfig;
  format: GatherFormat;
  uintAsInt: boolean;
  netns?: string;
  signal: 'stdin' | 'none';
  intervalMs: number;
}

export function planGather(args: string[], command: 'gather' | 'execd'): GatherCli | 'help' {
  // --host-tag takes an optional NAME (util.parseArgs has no optional values): alone, last or before another
  // option, it means this host's name
  const argv = args.map((a, n) => (a === '--host-tag' && (n + 1 === args.length || args[n + 1].startsWith('-')) ? '--host-tag=' : a));
  const { values: v } = parseOptions(argv, OPTIONS);
  if (v.help) return 'help';
  const measurements = [...new Set((v.measurement ?? 'netstat').split(',').map((x) => x.trim()).filter(Boolean))];
  for (const m of measurements) {
    if (!MEASUREMENTS.includes(m as MeasurementName)) {
      throw new UsageError(`unknown measurement '${m}': expected one of ${MEASUREMENTS.join(', ')}`, { key: 'measurement', value: m });
    }
  }
  const format = (v.format ?? 'influx') as GatherFormat;
  if (!GATHER_FORMATS.includes(format)) throw new UsageError(`unknown format '${v.format}': expected one of ${GATHER_FORMATS.join(', ')}`, { key: 'format', value: v.format });
  if (command === 'execd' && format !== 'influx') throw new UsageError(`execd writes line protocol only (Telegraf's execd reads data_format = "influx"); drop --format ${format}`);
  const semantics = v['netstat-semantics'] ?? 'sockscope';
  if (semantics !== 'sockscope' && semantics !== 'telegraf') throw new UsageError(`--netstat-semantics must be 'sockscope' or 'telegraf', got '${semantics}'`, { key: 'netstat-semantics', value: semantics });
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
  for (const p of protocols) if (!['tcp', 'udp', 'raw'].includes(p)) throw new UsageError(`--socketstat-protocols: unknown protocol '${p}': expected tcp, udp, raw`, { key: 'socketstat-protocols', value: p });
  const info = v['socketstat-info'] === 'all' ? SOCKETSTAT_INFO_FIELDS : (v['socketstat-info'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const f of info) if (!SOCKETSTAT_INFO_FIELDS.includes(f)) throw new UsageError(`--socketstat-info: unknown field '${f}': expected ${SOCKETSTAT_INFO_FIELDS.join(', ')} or all`, { key: 'socketstat-info', value: f });
  const tags = parseTags(v.tag ?? [], (kv) => new UsageError(`--tag: '${kv}' is not KEY=VALUE`, { key: 'tag', value: kv }));
  if (v['host-tag'] !== undefined) tags.host = v['host-tag'] || hostname();
  const signal = (v.signal ?? 'stdin') as 'stdin' | 'none';
  if (signal !== 'stdin' && signal !== 'none') throw new UsageError(`--signal must be 'stdin' or 'none', got '${v.signal}'`, { key: 'signal', value: v.signal });
  return {
    config: {
      measurements: measurements as MeasurementName[],
      netstat: { semantics, perIpVersion: !!v['per-ip-version'] || format === 'prometheus' || format === 'openmetrics' },
      netstatPort: { groups, semantics, processAttribution: !!v['process-attribution'] },
      socketstat: { protocols, infoFields: info, aggregate: !!v['socketstat-aggregate'] },
      tags,
    },
    format, uintAsInt: !v['influx-uint'], netns: v.net === undefined ? undefined : resolveNetns(v.net), signal,
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
 * socketstat alone as line protocol, streamed (gatherSocketstatStream): each batch of the dump is written as
 * points straight from its columns (SocketstatInfluxWriter: the bytes influxLine makes of collectSocketstat's
 * metrics) and handed to `out` before the next batch is decoded.
 */
export async function streamSocketstatInflux(
  config: GatherConfig, uintAsInt: boolean, snapshotter: Required<Pick<Snapshotter, 'stream'>>, out: ByteSink,
): Promise<GatherReport> {
  const { SocketstatInfluxWriter } = await import('../outputs/metrics/socketstat-influx.js');
  const options = { ...socketstatOptions(config), uintAsInt, tags: config.tags };
  let writer: InstanceType<typeof SocketstatInfluxWriter> | undefined;
  return gatherSocketstatStream(config, snapshotter, (table, time) => {
    const w = (writer ??= new SocketstatInfluxWriter(options, time));
    try {
      return w.appendTable(table);
    } finally {
      // the points made before a failure go out too, as gather()'s writer keeps the metrics emitted before it
      w.bytes.flush((chunk) => out.write(chunk), () => out.writableLength === 0);
    }
  });
}

/** Load the streamed writer's modules while the netlink session opens (a one-shot gather feels every millisecond). */
async function preloadStreamWriter(cli: GatherCli): Promise<void> {
  if (cli.format === 'influx' && streamsSocketstat(cli.config)) await import('../outputs/metrics/socketstat-influx.js');
}

/** One gather written to `out`: socketstat alone in influx streams; anything else goes through gather(). */
async function gatherTo(cli: GatherCli, snapshotter: Required<Snapshotter>, w: OutputWriter, out: NodeJS.WriteStream): Promise<GatherReport> {
  if (cli.format === 'influx' && streamsSocketstat(cli.config)) return streamSocketstatInflux(cli.config, cli.uintAsInt, snapshotter, out);
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

export async function runGather(args: string[]): Promise<void> {
  const cli = planGather(args, 'gather');
  if (cli === 'help') return void process.stdout.write(GATHER_HELP);
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
  if (cli === 'help') return void process.stdout.write(GATHER_HELP);
  const log = (level: 'E' | 'W' | 'I', msg: string) => process.stderr.write(`${level}! ${msg}\n`);
  const [snapshotter, w] = await Promise.all([inProcessSnapshotter(cli.netns), writerFor(cli), preloadStreamWriter(cli)]);
  let busy = Promise.resolve();
  let lastNotes = '';
  const once = () => {
    busy = busy.then(async () => {
      const report = await gatherTo(cli, snapshotter, w, process.stdout);
      // problems once per change, not once per gather: a permanent fallback must not flood Telegraf's log
      const notes = [report.error, ...report.collectors.filter((c) => !c.ok).map((c) => c.error), ...report.notes].filter(Boolean).join('; ');
      if (notes !== lastNotes) reportProblems(report, log);
      lastNotes = notes;
    }).catch((e: Error) => {
      log('E', `gather failed: ${e.message}`);
    });
    return busy;
  };
  log('I', `sockscope execd: ${cli.config.measurements.join(',')}, signal ${cli.signal}${cli.signal === 'none' ? `, every ${cli.intervalMs} ms` : ''}`);
  let timer: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (timer) clearInterval(timer);
    await busy;
    snapshotter.close();
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
