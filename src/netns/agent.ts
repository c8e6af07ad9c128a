/**
 * The agent's side of [netns]: every other namespace gathered each interval by the walker's worker thread
 * (setns never happens on the agent's event-loop thread), their metrics labeled and, for Prometheus, rendered
 * in that thread; the host's own gather stays the agent's. Trouble (namespaces that could not be entered, and
 * why) is logged once when it changes, not every gather; its counts are self-metrics.
 */
import type { GatherConfig } from '../gather/gather.js';
import type { AgentConfig } from '../config/defaults.js';
import type { Metric } from '../model/metric.js';
import type { Exposition, PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { gatherAllNetns, notesKey, type AllNetnsOptions, type NetnsReport } from './all.js';
import { DiscoveryCache } from './discover.js';
import { NetnsWalker } from './walk.js';

type Log = (level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>) => void;

export function netnsOptionsOf(c: AgentConfig['netns']): AllNetnsOptions {
  const list = (x: string[]) => (x.length ? x : undefined);
  return {
    select: { netns: list(c.names), pod: list(c.pods), namespace: list(c.pod_namespaces), container: list(c.containers), max: c.max_namespaces },
    labels: c.labels,
    maxSeries: c.max_series,
    counters: c.counters,
    logRoot: c.kubelet_log_root,
  };
}

export interface NetnsGather {
  /** empty unless asked for */
  metrics: Metric[];
  /** the samples rendered in the walker's thread */
  parts: Exposition[];
  report: NetnsReport;
}

export class NetnsAgentGatherer {
  // one thread: the agent is not in a hurry, and every thread is memory
  // one socket per namespace kept between gathers: no setns, no new socket once a namespace has been read
  private readonly walker = new NetnsWalker({ threads: 1, keepSockets: true });
  private readonly totals = { seriesDropped: 0, vanished: 0, denied: 0, failed: 0, gathers: 0 };
  private last: NetnsReport | undefined;
  private said = '';

  private readonly options: AllNetnsOptions;

  constructor(
    options: AllNetnsOptions,
    private readonly log: Log,
  ) {
    // identities and kubelet's directories kept between gathers (read again when they change)
    this.options = { ...options, cache: new DiscoveryCache() };
  }

  async gather(config: GatherConfig, want: { metrics: boolean; exposition: boolean }): Promise<NetnsGather> {
    const metrics: Metric[] = [];
    const { report, parts } = await gatherAllNetns(config, this.walker, this.options, (m) => metrics.push(m), {
      // the lifecycle collector: one destroy-event subscription per namespace, kept in the walker's thread
      includeOwn: 'counters',
      metrics: want.metrics,
      exposition: want.exposition,
      lifecycle: true,
    });
    this.last = report;
    this.totals.gathers++;
    this.totals.seriesDropped += report.seriesDropped;
    this.totals.vanished += report.vanished;
    this.totals.denied += report.denied;
    this.totals.failed += report.failed;
    // said once per change (notesKey): which namespaces could not be entered and why, a cap reached
    const notes = notesKey(report.notes);
    if (notes !== this.said) {
      if (notes) this.log('warn', 'netns: some network namespaces were not read', { notes: report.notes });
      else if (this.said) this.log('info', 'netns: every selected network namespace is read again');
      this.said = notes;
    }
    return { metrics, parts, report };
  }

  selfMetrics(w: PrometheusWriter): void {
    const l = this.last;
    if (l) {
      for (const [status, n] of [
        ['read', l.ok],
        ['vanished', l.vanished],
        ['denied', l.denied],
        ['failed', l.failed],
        ['capped', l.capped],
      ] as const) {
        w.sample(
          'netns_namespaces',
          'network namespaces in the last gather, by what became of them (read, vanished, denied, failed, capped: over max_namespaces)',
          'gauge',
          { status },
          n,
        );
      }
      w.sample('netns_discovery_duration_seconds', 'how long finding the network namespaces took in the last gather', 'gauge', {}, l.discoveryMs / 1000);
      w.sample('netns_walk_duration_seconds', 'how long reading every other network namespace took in the last gather', 'gauge', {}, l.walkMs / 1000);
    }
    w.sample('netns_series_dropped_total', 'metrics from network namespaces dropped over max_series', 'counter', {}, this.totals.seriesDropped);
    w.sample(
      'netns_denied_total',
      'network namespaces that could not be entered (no CAP_SYS_ADMIN or CAP_SYS_PTRACE), summed over gathers',
      'counter',
      {},
      this.totals.denied,
    );
    w.sample(
      'netns_vanished_total',
      'network namespaces that went away between discovery and their dump, summed over gathers',
      'counter',
      {},
      this.totals.vanished,
    );
  }

  /** A dead exposition buffer of an earlier gather, for the walker to write a next one into (NetnsWalker.recycle). */
  recycle(buffer: ArrayBuffer): boolean {
    return this.walker.recycle(buffer);
  }

  close(): Promise<void> {
    return this.walker.close();
  }
}
