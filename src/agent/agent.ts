/**
 * `sockscope agent`: gathers every interval in a worker thread (snapshot and collectors off the event loop),
 * keeps the latest gather, and hands it to the outputs: the Prometheus endpoint (which serves the latest
 * gather, rendered once per gather: a scrape never triggers a kernel dump, so any number of scrapers cost the
 * same and answer fast), InfluxDB push, stdout. SIGHUP reloads the configuration (a bad one is reported and the
 * old one keeps running); SIGTERM flushes the outputs within flush_timeout and exits 0.
 */
import { gather as gatherInProcess, hostname as kernelHostname, type GatherConfig, type GatherReport } from '../collectors/gather.js';
import { mergeIpVersions } from '../collectors/netstat.js';
import { parsePortGroups } from '../collectors/netstat-port.js';
import { durationMs, type LoadedConfig } from '../config/load.js';
import type { AgentConfig } from '../config/defaults.js';
import type { Metric } from '../model/metric.js';
import { influxLine } from '../outputs/metrics/influx.js';
import { metricJson } from '../outputs/metrics/json.js';
import { assembleExposition, PrometheusWriter, type Exposition, type ExpositionFormat } from '../outputs/metrics/prometheus.js';
import { SnapshotWorker } from '../snapshot/worker.js';
import { loadLibc } from '../sys/libc.js';
import { collectExternalGarbage } from '../util/external-garbage.js';
import { HttpEndpoint } from './http.js';
import { InfluxOutput, type Log } from './influx-output.js';
import { loadWebConfig } from './web-config.js';
import { ZabbixOutput } from './zabbix-output.js';
import { answerer } from '../zabbix/answer.js';
import { DiscoveryMemory, senderItems } from '../zabbix/items.js';
import { PassiveAgent } from '../zabbix/passive.js';

export interface AgentOptions {
  version: string;
  log: Log;
  /** re-read the configuration (SIGHUP) */
  reload?: () => LoadedConfig;
  /** where stdout-output lines go (tests) */
  stdout?: (text: string) => void;
  /** run gathers in-process instead of in a worker thread (tests of the loop itself) */
  inProcess?: boolean;
}

interface Latest {
  /** the gather's metrics, when an output needs them as objects (else they stay in the worker) */
  metrics?: Metric[];
  /** what line-protocol and JSON outputs see (netstat families merged unless per_ip_version) */
  lineMetrics?: Metric[];
  /** the gather's Prometheus samples, rendered once (in the worker) */
  exposition?: Exposition;
  /** the worker's number for this gather, whose metrics it keeps for /api/snapshot */
  workerGather?: number;
  perIpVersion: boolean;
  report: GatherReport;
  at: number;
  /** the /metrics bodies: the gather's samples and the self-metrics, assembled on the first scrape of each format */
  rendered: Partial<Record<ExpositionFormat, Buffer>>;
}

export function gatherConfigOf(c: AgentConfig): GatherConfig {
  const measurements: GatherConfig['measurements'][number][] = [];
  if (c.collectors.netstat.enabled) measurements.push('netstat');
  if (c.collectors.netstat_port.enabled) measurements.push('netstat_port');
  if (c.collectors.socketstat.enabled) measurements.push('socketstat');
  if (c.collectors.listen.enabled) measurements.push('listen');
  const tags: Record<string, string> = { ...c.agent.tags };
  if (!c.agent.omit_hostname) tags.host = c.agent.hostname || kernelHostname();
  return {
    measurements,
    // per family always: Prometheus labels by family; line-protocol outputs get the families merged back
    // (mergeIpVersions) unless per_ip_version asks for DataKit's shape
    netstat: { semantics: c.collectors.netstat.semantics, perIpVersion: true },
    netstatPort: {
      groups: parsePortGroups(c.collectors.netstat_port.addr_ports, 'collectors.netstat_port.addr_ports'),
      semantics: c.collectors.netstat_port.semantics,
      processAttribution: c.collectors.netstat_port.process_attribution,
      autoListenPorts: c.collectors.netstat_port.auto_listen_ports,
    },
    socketstat: { protocols: c.collectors.socketstat.protocols, infoFields: c.collectors.socketstat.info_fields, aggregate: c.collectors.socketstat.aggregate },
    tags,
    // Zabbix items include unix socket counts
    countProtocols: c.outputs.zabbix.enabled || c.zabbix_agent.enabled ? ['unix'] : [],
  };
}

export class Agent {
  private config: AgentConfig;
  private gatherConfig: GatherConfig;
  private worker: SnapshotWorker | undefined;
  private http: HttpEndpoint | undefined;
  private influx: InfluxOutput | undefined;
  private zabbix: ZabbixOutput | undefined;
  /** port groups and listening ports pushed before: 0 for their items while Zabbix keeps them (LLD lifetime) */
  private readonly zabbixDiscovered = new DiscoveryMemory();
  private passive: PassiveAgent | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private latest: Latest | undefined;
  private stopped = false;
  private readonly counters = { gathers: 0, gatherErrors: 0, skipped: 0, retries: 0 };
  private readonly started = Date.now();

  constructor(loaded: LoadedConfig, private readonly o: AgentOptions) {
    this.config = loaded.config;
    this.gatherConfig = gatherConfigOf(this.config);
  }

  /** Addresses the Prometheus endpoint listens on. */
  addresses(): string[] {
    return this.http?.addresses() ?? [];
  }

  async start(): Promise<void> {
    // a snapshot's columns are big blocks freed every gather: give them their own mappings, so freeing them
    // gives the memory back instead of leaving it in glibc's arenas (tens of MB resident at 150k sockets)
    await loadLibc().then((libc) => libc.mmapThreshold(128 << 10), () => false);
    if (!this.o.inProcess) this.worker = new SnapshotWorker();
    await this.applyOutputs(this.config);
    this.schedule(0);
  }

  private async applyOutputs(c: AgentConfig): Promise<void> {
    const p = c.outputs.prometheus;
    if (p.enabled) {
      const web = p.web_config_file ? loadWebConfig(p.web_config_file) : {};
      const http = new HttpEndpoint(
        { listen: p.listen, web, maxRequests: p.max_requests, maxHeaderBytes: p.max_header_bytes, readTimeoutMs: durationMs(p.read_timeout), version: this.o.version },
        { metrics: (f) => this.metrics(f), snapshot: () => this.snapshotJson(), health: () => this.health() },
      );
      try {
        await http.start();
      } catch (e) {
        await http.close(); // the addresses it did open
        throw e;
      }
      this.http = http;
      this.o.log('info', 'serving metrics', { listen: http.addresses() });
    }
    const prevInflux = this.influx;
    this.influx = c.outputs.influxdb.enabled ? new InfluxOutput(c.outputs.influxdb, this.o.log) : undefined;
    if (prevInflux) await this.handOver(prevInflux, this.influx);
    const z = c.outputs.zabbix;
    const prevZabbix = this.zabbix;
    this.zabbix = z.enabled ? new ZabbixOutput({ server: z.server, timeoutMs: durationMs(z.timeout), compress: z.compress, bufferLimit: z.buffer_limit }, this.o.log) : undefined;
    if (prevZabbix) {
      // a reload during an outage: the items still waiting go to the new output, not away
      if (this.zabbix) prevZabbix.handOver(this.zabbix);
      else {
        const left = prevZabbix.take();
        if (left.length) this.o.log('warn', 'zabbix: dropped buffered items: the reloaded configuration has no Zabbix output', { dropped: left.length });
      }
    }
    if (c.zabbix_agent.enabled) {
      const za = c.zabbix_agent;
      const passive = new PassiveAgent({ listen: za.listen, allow: za.allow, timeoutMs: durationMs(za.timeout) }, answerer({
        version: this.o.version,
        hostname: this.hostTag(),
        latest: () => (this.latest ? { metrics: this.latest.metrics ?? [], report: this.latest.report, time: this.latest.at } : undefined),
        snapshot: (o) => (this.worker ? this.worker.snapshot(o) : import('../snapshot/snapshot.js').then((m) => m.takeSnapshot(o))),
      }));
      await passive.start();
      this.passive = passive;
      this.o.log('info', 'answering Zabbix passive checks', { listen: passive.addresses(), allow: za.allow.length ? za.allow : ['127.0.0.1', '::1'] });
    }
  }

  /**
   * A reload replaces the InfluxDB output: what the old one still buffers (an outage in progress) moves to the
   * new one when the lines fit it (same precision and integer suffixes), else the old one gets a last flush.
   */
  private async handOver(prev: InfluxOutput, next: InfluxOutput | undefined): Promise<void> {
    if (next && next.cfg.precision === prev.cfg.precision && next.cfg.uint_support === prev.cfg.uint_support) {
      prev.handOver(next);
      return;
    }
    await prev.flush(true);
    const left = prev.take();
    if (left.length) this.o.log('warn', 'influxdb: dropped buffered metrics the reloaded configuration cannot send', { dropped: left.length });
  }

  /** The host tag (and Zabbix host name unless outputs.zabbix.host says otherwise). */
  private hostTag(): string {
    return this.config.agent.hostname || kernelHostname();
  }

  /** Addresses of the Zabbix passive listener. */
  zabbixAddresses(): string[] {
    return this.passive?.addresses() ?? [];
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const interval = durationMs(this.config.agent.interval);
      if (this.running) {
        this.counters.skipped++; // the previous gather is still running: never stack them
      } else {
        this.running = this.gatherOnce().finally(() => (this.running = undefined));
      }
      this.schedule(interval - (Date.now() % interval)); // aligned to the interval, like Telegraf's round_interval
    }, delayMs);
    this.timer.unref?.();
  }

  /** One gather and its delivery to the outputs. Exposed for tests. */
  async gatherOnce(): Promise<GatherReport> {
    const c = this.config;
    // metric objects cross from the worker only for the outputs that read them; the Prometheus endpoint gets
    // the samples rendered in the worker, and /api/snapshot asks the worker for the metrics it kept
    const needMetrics = !this.worker || !!this.influx || !!this.zabbix || !!this.passive || c.outputs.stdout.enabled;
    const perIpVersion = c.collectors.netstat.per_ip_version;
    let metrics: Metric[] | undefined;
    let exposition: Exposition | undefined;
    let workerGather: number | undefined;
    let report: GatherReport;
    try {
      if (this.worker) {
        const serving = c.outputs.prometheus.enabled;
        const want = { metrics: needMetrics, exposition: serving, keep: serving && !needMetrics };
        const r = await this.worker.gather(this.gatherConfig, want);
        ({ exposition, report } = r);
        if (want.metrics) metrics = r.metrics;
        if (want.keep) workerGather = r.gather;
      } else {
        const collected: Metric[] = (metrics = []);
        report = await gatherInProcess(this.gatherConfig, await inProcessSnapshotter(), (m) => collected.push(m));
      }
    } catch (e) {
      metrics = [];
      exposition = undefined;
      workerGather = undefined;
      report = { snapshotMs: 0, durationMs: 0, sockets: 0, retries: 0, interrupted: false, notes: [], sources: [], collectors: [], error: (e as Error).message };
    }
    this.counters.gathers++;
    this.counters.retries += report.retries;
    if (report.error || report.collectors.some((c) => !c.ok)) {
      this.counters.gatherErrors++;
      this.o.log('error', 'gather failed', { error: report.error, collectors: report.collectors.filter((c) => !c.ok) });
    }
    const lineMetrics = metrics && (perIpVersion ? metrics : mergeIpVersions(metrics));
    this.latest = { metrics, lineMetrics, exposition, workerGather, perIpVersion, report, at: Date.now(), rendered: {} };
    // the previous gather's exposition and bodies are garbage now (see collectExternalGarbage); the budget
    // leaves room for this gather's exposition and a body per format
    collectExternalGarbage(4 * (exposition?.bytes.length ?? 0) + (8 << 20));
    if (this.influx && lineMetrics) {
      const precision = c.outputs.influxdb.precision;
      const uintAsInt = !c.outputs.influxdb.uint_support;
      this.influx.add(lineMetrics.map((m) => influxLine(m, { precision, uintAsInt })).filter(Boolean));
      void this.influx.flush();
    }
    if (this.zabbix && metrics) {
      const latest = { metrics, report, time: metrics[0]?.time ?? Date.now() };
      this.zabbix.add(senderItems(latest, c.outputs.zabbix.host || this.hostTag(), this.zabbixDiscovered));
      void this.zabbix.flush();
    }
    if (c.outputs.stdout.enabled && lineMetrics) {
      const text = lineMetrics.map((m) => influxLine(m)).filter(Boolean).join('\n');
      (this.o.stdout ?? ((t) => process.stdout.write(t)))(text ? `${text}\n` : '');
    }
    return report;
  }

  /**
   * The /metrics body: the latest gather's samples (rendered once per gather) and the self-metrics, assembled
   * once per gather and format, then served as the same bytes to every scrape until the next gather.
   */
  private metrics(format: ExpositionFormat): Buffer {
    const l = this.latest;
    if (!l) return assembleExposition([this.selfMetrics(new PrometheusWriter()).exposition()], format);
    const cached = l.rendered[format];
    if (cached) return cached;
    if (!l.exposition) {
      // in-process gathers, or a worker that was not asked to render (the endpoint came with a reload)
      const w = new PrometheusWriter();
      for (const m of l.metrics ?? []) w.write(m);
      l.exposition = w.exposition();
    }
    return (l.rendered[format] = assembleExposition([l.exposition, this.selfMetrics(new PrometheusWriter()).exposition()], format));
  }

  /** sockscope's own health, as Prometheus families. */
  private selfMetrics(w: PrometheusWriter): PrometheusWriter {
    const l = this.latest;
    w.sample('build_info', 'sockscope version and Node.js runtime', 'gauge', { version: this.o.version, node: process.version }, 1);
    w.sample('agent_start_time_seconds', 'when the agent started, seconds since the epoch', 'gauge', {}, Math.floor(this.started / 1000));
    w.sample('gathers_total', 'gathers run', 'counter', {}, this.counters.gathers);
    w.sample('gather_errors_total', 'gathers where the snapshot or a collector failed', 'counter', {}, this.counters.gatherErrors);
    w.sample('gathers_skipped_total', 'intervals skipped because the previous gather was still running', 'counter', {}, this.counters.skipped);
    w.sample('dump_retries_total', 'netlink dumps repeated because the kernel flagged NLM_F_DUMP_INTR', 'counter', {}, this.counters.retries);
    if (l) {
      w.sample('snapshot_duration_seconds', 'how long the last kernel snapshot took', 'gauge', {}, l.report.snapshotMs / 1000);
      w.sample('last_gather_timestamp_seconds', 'when the last gather finished, seconds since the epoch', 'gauge', {}, Math.floor(l.at / 1000));
      for (const c of l.report.collectors) {
        w.sample('collector_duration_seconds', 'how long each collector took in the last gather', 'gauge', { collector: c.name }, c.durationMs / 1000);
        w.sample('collector_success', '1 when the collector succeeded in the last gather', 'gauge', { collector: c.name }, c.ok ? 1 : 0);
      }
      for (const s of l.report.sources) {
        w.sample('sockets_seen', 'sockets in the last snapshot, per protocol and where they were read from', 'gauge', { protocol: s.protocol, source: s.source }, s.sockets);
      }
    }
    for (const [name, out] of [['influxdb', this.influx], ['zabbix', this.zabbix]] as const) {
      if (!out) continue;
      const s = out.snapshotStats();
      const output = { output: name };
      w.sample('output_buffer_metrics', 'metrics waiting in the output buffer', 'gauge', output, s.buffered);
      w.sample('output_buffer_limit_metrics', 'the output buffer limit (metric_buffer_limit)', 'gauge', output, s.limit);
      w.sample('output_written_metrics_total', 'metrics the output delivered', 'counter', output, s.written);
      w.sample('output_dropped_metrics_total', 'metrics dropped: buffer full, or refused by the server', 'counter', output, s.dropped + out.refusedCount());
      w.sample('output_errors_total', 'failed write attempts', 'counter', output, s.errors);
    }
    if (this.zabbix) {
      w.sample('zabbix_items_failed_total', 'items the Zabbix server answered as failed (no such host or trapper item)', 'counter', {}, this.zabbix.refusedCount());
    }
    if (this.passive) {
      w.sample('zabbix_passive_answered_total', 'Zabbix passive checks answered', 'counter', {}, this.passive.answered);
      w.sample('zabbix_passive_refused_total', 'Zabbix connections closed without an answer (not allowed, unframed, oversized, timed out)', 'counter', {}, this.passive.refused);
    }
    if (this.http) w.sample('http_rejected_requests_total', 'requests refused because max_requests were in flight', 'counter', {}, this.http.rejected);
    return w;
  }

  /** /api/snapshot: the latest gather as JSON; its metrics from the worker when they stayed there. */
  private async snapshotJson(): Promise<string> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const l = this.latest;
      if (!l) return JSON.stringify({ gathered: false, metrics: [] });
      let metrics: string | undefined;
      if (l.lineMetrics) metrics = JSON.stringify(l.lineMetrics.map(metricJson));
      else if (this.worker && l.workerGather !== undefined) metrics = await this.worker.metricsJson(l.workerGather, l.perIpVersion);
      else metrics = '[]';
      // undefined: the worker has moved on to a newer gather, whose reply came first, so this.latest is now it
      if (metrics === undefined) continue;
      return `${JSON.stringify({ gathered: true, at: new Date(l.at).toISOString(), report: l.report }).slice(0, -1)},"metrics":${metrics}}`;
    }
    throw new Error('the gather changed while its metrics were read; try again');
  }

  private health(): { ok: boolean; detail: string } {
    const l = this.latest;
    const interval = durationMs(this.config.agent.interval);
    if (!l) return { ok: Date.now() - this.started < 3 * interval, detail: 'no gather yet' };
    if (l.report.error) return { ok: false, detail: `last gather failed: ${l.report.error}` };
    if (Date.now() - l.at > 3 * interval) return { ok: false, detail: `last gather ${Math.round((Date.now() - l.at) / 1000)} s ago` };
    return { ok: true, detail: 'ok' };
  }

  /** SIGHUP: a valid new configuration replaces the old one; an invalid one is reported and ignored. */
  async reload(): Promise<boolean> {
    if (!this.o.reload) return false;
    let next: LoadedConfig;
    try {
      next = this.o.reload();
    } catch (e) {
      this.o.log('error', 'configuration reload failed: keeping the running configuration', { error: (e as Error).message });
      return false;
    }
    const old = this.config;
    try {
      const gc = gatherConfigOf(next.config);
      await this.http?.close();
      this.http = undefined;
      await this.passive?.close();
      this.passive = undefined;
      await this.zabbix?.flush(true);
      this.config = next.config;
      this.gatherConfig = gc;
      await this.applyOutputs(next.config);
    } catch (e) {
      this.o.log('error', 'configuration reload failed while applying it: restoring the previous configuration', { error: (e as Error).message });
      this.config = old;
      this.gatherConfig = gatherConfigOf(old);
      await this.applyOutputs(old).catch(() => undefined);
      return false;
    }
    this.o.log('info', 'configuration reloaded');
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
    return true;
  }

  /** SIGTERM: stop gathering, flush outputs within flush_timeout, close everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const deadline = durationMs(this.config.agent.flush_timeout);
    const flush = (async () => {
      await this.running;
      await Promise.all([this.influx?.flush(true), this.zabbix?.flush(true)]);
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flush, new Promise((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    const left = this.influx?.snapshotStats().buffered ?? 0;
    if (left > 0) this.o.log('warn', 'exiting with metrics still buffered', { buffered: left });
    const zabbixLeft = this.zabbix?.snapshotStats().buffered ?? 0;
    if (zabbixLeft > 0) this.o.log('warn', 'exiting with Zabbix items still buffered', { buffered: zabbixLeft, server: this.config.outputs.zabbix.server });
    await this.http?.close();
    await this.passive?.close();
    await this.worker?.close();
  }
}

async function inProcessSnapshotter() {
  const { takeCensus, takeSnapshot } = await import('../snapshot/snapshot.js');
  return { snapshot: takeSnapshot, census: takeCensus };
}
