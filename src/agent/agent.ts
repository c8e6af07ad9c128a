/**
 * `sockscope agent`: gathers every interval in a worker thread (snapshot and collectors off the event loop),
 * keeps the latest gather, and hands it to the outputs: the Prometheus endpoint (which serves the latest
 * gather, rendered once per gather: a scrape never triggers a kernel dump, so any number of scrapers cost the
 * same and answer fast), InfluxDB push, stdout. SIGHUP reloads the configuration (a bad one is reported and the
 * old one keeps running); SIGTERM flushes the outputs within flush_timeout and exits 0.
 */
import { failedReport, gather as gatherInProcess, hostname as kernelHostname, type GatherConfig, type GatherReport } from '../gather/gather.js';
import { mergeIpVersions } from '../collectors/netstat.js';
import { gatherConfigFromSections } from '../collectors/registry.js';
import { durationMs, type LoadedConfig } from '../config/load.js';
import type { AgentConfig } from '../config/defaults.js';
import type { Metric } from '../model/metric.js';
import { metricJson } from '../outputs/metrics/json.js';
import type { Exposition, PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { SnapshotWorker } from './worker.js';
import { afterGather, applyRuntimeTuning, releaseRendered, runtimeTuning } from './runtime.js';
import type { AgentOutput, Gather, Log, OutputContext, OutputKind } from './output.js';
import type { NetnsAgentGatherer } from '../netns/agent.js';
import { OUTPUT_KINDS } from './outputs.js';
import { attributionProblem } from '../procfs/attribution.js';

export type { Log } from './output.js';

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

export function gatherConfigOf(c: AgentConfig): GatherConfig {
  const tags: Record<string, string> = { ...c.agent.tags };
  if (!c.agent.omit_hostname) tags.host = c.agent.hostname || kernelHostname();
  const gather = gatherConfigFromSections(c.collectors);
  // the doctor collector grades with the [doctor.*] thresholds, as `sockscope doctor` does
  const { window: _window, ...thresholds } = c.doctor;
  if (gather.doctor) gather.doctor = { ...gather.doctor, thresholds };
  return {
    ...gather,
    tags,
    // Zabbix items include unix socket counts
    countProtocols: c.outputs.zabbix.enabled || c.zabbix_agent.enabled ? ['unix'] : [],
  };
}

export class Agent {
  private config: AgentConfig;
  private gatherConfig: GatherConfig;
  private worker: SnapshotWorker | undefined;
  /** the running outputs, by kind name, in registry order */
  private outputs = new Map<string, { kind: OutputKind; key: string; output: AgentOutput }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private latest: Gather | undefined;
  /** [netns]: every other network namespace (src/netns/agent.ts) */
  private netns: NetnsAgentGatherer | undefined;
  private stopped = false;
  private readonly counters = { gathers: 0, gatherErrors: 0, skipped: 0, retries: 0 };
  private readonly started = Date.now();
  private readonly ctx: OutputContext;
  /** scrapes waiting for the first gather */
  private gatherWaiters: (() => void)[] = [];
  private reloading: Promise<boolean> | undefined;
  private reloadAgain = false;
  private attributionChecked = false;
  /** V8 and memory tuning, applied at start (runtime.ts) */
  private readonly tuning = runtimeTuning();

  constructor(
    loaded: LoadedConfig,
    private readonly o: AgentOptions,
  ) {
    this.config = loaded.config;
    this.gatherConfig = gatherConfigOf(this.config);
    this.ctx = {
      version: o.version,
      log: o.log,
      stdout: o.stdout,
      hostTag: () => this.hostTag(),
      latest: () => this.latest,
      firstGather: (timeoutMs) => this.firstGather(timeoutMs),
      selfMetrics: (w) => this.selfMetrics(w),
      snapshotJson: () => this.snapshotJson(),
      health: () => this.health(),
      snapshot: (opts) => (this.worker ? this.worker.snapshot(opts) : import('../snapshot/snapshot.js').then((m) => m.takeSnapshot(opts))),
    };
  }

  private output<T extends AgentOutput>(name: string): T | undefined {
    return this.outputs.get(name)?.output as T | undefined;
  }

  /** Addresses the Prometheus endpoint listens on. */
  addresses(): string[] {
    return this.output<AgentOutput & { http: { addresses(): string[] } }>('prometheus')?.http.addresses() ?? [];
  }

  /** Addresses of the Zabbix passive listener. */
  zabbixAddresses(): string[] {
    return this.output<AgentOutput & { passive: { addresses(): string[] } }>('zabbix_agent')?.passive.addresses() ?? [];
  }

  async start(): Promise<void> {
    applyRuntimeTuning(this.tuning);
    if (!this.o.inProcess) this.worker = new SnapshotWorker({ tuning: this.tuning });
    await this.applyOutputs(this.config);
    this.checkAttribution();
    await this.applyNetns(this.config);
    this.schedule(0);
  }

  /** The latest gather, or the first one when it comes within timeoutMs (a scrape right after start). */
  private firstGather(timeoutMs: number): Promise<Gather | undefined> {
    if (this.latest || timeoutMs <= 0 || this.stopped) return Promise.resolve(this.latest);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.gatherWaiters = this.gatherWaiters.filter((w) => w !== done);
        resolve(this.latest);
      };
      const timer = setTimeout(done, timeoutMs);
      this.gatherWaiters.push(done);
    });
  }

  private async applyNetns(c: AgentConfig): Promise<void> {
    await this.netns?.close();
    this.netns = undefined;
    if (!c.netns.enabled) return;
    const { NetnsAgentGatherer, netnsOptionsOf } = await import('../netns/agent.js');
    this.netns = new NetnsAgentGatherer(netnsOptionsOf(c.netns), this.o.log);
  }

  /** Process attribution without the privileges for it gives pid 0: say so, once. */
  private checkAttribution(): void {
    if (this.attributionChecked || !this.config.collectors.netstat_port.enabled || !this.config.collectors.netstat_port.process_attribution) return;
    this.attributionChecked = true;
    const problem = attributionProblem(process.geteuid?.());
    if (problem) {
      this.o.log(
        'warn',
        `process attribution: pid is 0 for sockets of other users' processes: reading their /proc/<pid>/fd needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and their processes visible (${problem}; see deploy/systemd/sockscope-process-attribution.conf)`,
      );
    }
  }

  /**
   * Make the running outputs those of `c`: an output whose settings did not change keeps running (its listeners
   * too); a changed one is replaced, the replacement taking over what the old one buffered and its counters; a
   * removed one gets a last flush. Every new listener is opened before any is announced; if one cannot be opened,
   * those opened are closed again and the error is thrown (nothing announced).
   */
  private async applyOutputs(c: AgentConfig): Promise<void> {
    const next = new Map<string, { kind: OutputKind; key: string; output: AgentOutput }>();
    const replaced: { prev: AgentOutput; output: AgentOutput }[] = [];
    const created: AgentOutput[] = [];
    const removed: AgentOutput[] = [];
    for (const kind of OUTPUT_KINDS) {
      const settings = kind.settings(c);
      const prev = this.outputs.get(kind.name);
      if (settings === undefined) {
        if (prev) removed.push(prev.output);
        continue;
      }
      const key = settingsKey(settings);
      if (prev && prev.key === key) {
        next.set(kind.name, prev);
        continue;
      }
      const output = kind.create(c, this.ctx);
      created.push(output);
      if (prev) replaced.push({ prev: prev.output, output });
      next.set(kind.name, { kind, key, output });
    }
    // a replaced listener gives its address up first (the new one may want the same)
    for (const { prev } of replaced) if (prev.open) await prev.close('reload');
    const opened: AgentOutput[] = [];
    try {
      for (const o of created) {
        if (!o.open) continue;
        await o.open();
        opened.push(o);
      }
    } catch (e) {
      for (const o of opened) await o.close('reload').catch(() => undefined);
      // the replaced listeners' outputs stay the running ones (their counters too), to be opened again by a rollback
      for (const { prev } of replaced) if (prev.open) this.outputs.set(prev.name, { ...this.outputs.get(prev.name)!, key: '' });
      throw e;
    }
    for (const { prev, output } of replaced) {
      await output.adopt?.(prev);
      if (!prev.open) await prev.close('reload');
    }
    for (const o of removed) await o.close('reload');
    this.outputs = next;
    if (this.latest) for (const o of created) o.accept(this.latest);
    for (const o of created) o.announce?.();
  }

  /** The host tag (and Zabbix host name unless outputs.zabbix.host says otherwise). */
  private hostTag(): string {
    return this.config.agent.hostname || kernelHostname();
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
    const kinds = [...this.outputs.values()].map((o) => o.kind);
    const needMetrics = !this.worker || kinds.some((k) => k.needs.metrics);
    const serving = kinds.some((k) => k.needs.exposition);
    const perIpVersion = c.collectors.netstat.per_ip_version;
    let metrics: Metric[] | undefined;
    let exposition: Exposition | undefined;
    let workerGather: number | undefined;
    let report: GatherReport;
    let netnsParts: Exposition[] | undefined;
    let netnsMetrics: Metric[] = [];
    const started = performance.now();
    try {
      if (this.worker) {
        const want = { metrics: needMetrics, exposition: serving, keep: serving && !needMetrics };
        const r = await this.worker.gather(this.gatherConfig, want);
        ({ exposition, report } = r);
        if (want.metrics) metrics = r.metrics;
        if (want.keep) workerGather = r.gather;
      } else {
        const collected: Metric[] = (metrics = []);
        report = await gatherInProcess(this.gatherConfig, await inProcessSnapshotter(), (m) => collected.push(m));
      }
      if (this.netns) {
        // the other namespaces, after the host's (one gather at a time keeps the agent's CPU use flat); without
        // the worker the endpoint renders every metric itself
        const n = await this.netns.gather(this.gatherConfig, { metrics: needMetrics, exposition: serving && !!this.worker });
        netnsParts = n.parts;
        netnsMetrics = n.metrics;
      }
    } catch (e) {
      metrics = [];
      exposition = undefined;
      workerGather = undefined;
      report = failedReport(e, started);
    }
    this.counters.gathers++;
    this.counters.retries += report.retries;
    if (report.error || report.collectors.some((c) => !c.ok)) {
      this.counters.gatherErrors++;
      this.o.log('error', 'gather failed', { error: report.error, collectors: report.collectors.filter((c) => !c.ok) });
    }
    const hostMetrics = netnsMetrics.length ? metrics : undefined;
    if (metrics && netnsMetrics.length) metrics = [...metrics, ...netnsMetrics];
    const lineMetrics = metrics && (perIpVersion ? metrics : mergeIpVersions(metrics));
    const previous = this.latest;
    this.latest = { metrics, hostMetrics, lineMetrics, exposition, netnsParts, workerGather, perIpVersion, report, at: Date.now() };
    for (const { output } of this.outputs.values()) output.accept(this.latest);
    // the previous gather's rendered samples are dead now (a body is a copy of them): freed at once, not left
    // for a full collection. What stays held is this gather's samples and, per format, a body being served
    // and the previous one kept to write the next into (prometheus-output.ts): the budget leaves room for
    // them, so a collection runs only when other buffers pile up.
    if (previous) releaseRendered(this.tuning, previous, this.latest, (b) => this.netns?.recycle(b) ?? false);
    const rendered = (exposition?.bytes.length ?? 0) + (netnsParts ?? []).reduce((n, p) => n + p.bytes.length, 0);
    afterGather(this.tuning, 5 * rendered + (8 << 20));
    for (const w of this.gatherWaiters) w();
    return report;
  }

  /** sockscope's own health, as Prometheus families. */
  private selfMetrics(w: PrometheusWriter): void {
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
        w.sample(
          'sockets_seen',
          'sockets in the last snapshot, per protocol and where they were read from',
          'gauge',
          { protocol: s.protocol, source: s.source },
          s.sockets,
        );
      }
    }
    this.netns?.selfMetrics(w);
    for (const { output } of this.outputs.values()) output.stats(w);
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

  /**
   * SIGHUP: a valid new configuration replaces the old one; an invalid one is reported and ignored. Signals in a
   * burst are one reload (those arriving within RELOAD_SETTLE_MS, or while one is read, make one more at most).
   */
  reload(): Promise<boolean> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let ok = false;
      do {
        await new Promise((r) => setTimeout(r, RELOAD_SETTLE_MS));
        this.reloadAgain = false; // the signals of this burst: this reload reads what they asked for
        ok = await this.reloadOnce();
      } while (this.reloadAgain && !this.stopped);
      return ok;
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async reloadOnce(): Promise<boolean> {
    if (!this.o.reload || this.stopped) return false;
    let next: LoadedConfig;
    try {
      next = this.o.reload();
    } catch (e) {
      this.o.log('error', 'configuration reload failed: keeping the running configuration', { error: (e as Error).message });
      return false;
    }
    const old = this.config;
    const oldGather = settingsKey([old.agent.interval, this.gatherConfig, old.netns]);
    try {
      const gc = gatherConfigOf(next.config);
      this.config = next.config;
      this.gatherConfig = gc;
      await this.applyOutputs(next.config);
      if (settingsKey([old.netns]) !== settingsKey([next.config.netns])) await this.applyNetns(next.config);
    } catch (e) {
      this.o.log('error', 'configuration reload failed while applying it: restoring the previous configuration', { error: (e as Error).message });
      this.config = old;
      this.gatherConfig = gatherConfigOf(old);
      await this.applyOutputs(old).catch(() => undefined);
      return false;
    }
    this.o.log('info', 'configuration reloaded');
    this.checkAttribution();
    // what is gathered, or when, changed: a gather now, on the new schedule; else the schedule goes on as it was
    if (settingsKey([next.config.agent.interval, this.gatherConfig, next.config.netns]) !== oldGather) {
      if (this.timer) clearTimeout(this.timer);
      this.schedule(0);
    }
    return true;
  }

  /** SIGTERM: stop gathering, flush outputs within flush_timeout, close everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const deadline = durationMs(this.config.agent.flush_timeout);
    const outputs = [...this.outputs.values()].map((o) => o.output);
    const flush = (async () => {
      await this.running;
      await Promise.all(outputs.map((o) => o.flush(true)));
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flush, new Promise((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    for (const o of outputs) await o.close('exit');
    await this.worker?.close();
    await this.netns?.close();
  }
}

/** SIGHUPs closer together than this are one reload. */
const RELOAD_SETTLE_MS = 100;

/** Settings compared across a reload (Maps and Buffers included). */
function settingsKey(settings: unknown): string {
  return JSON.stringify(settings, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v));
}

async function inProcessSnapshotter() {
  const { takeCensus, takeSnapshot } = await import('../snapshot/snapshot.js');
  return { snapshot: takeSnapshot, census: takeCensus };
}
