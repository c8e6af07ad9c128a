/**
 * lifecycle: per port group, what the connections that closed carried and what every connection transferred,
 * counted from the kernel's destroy events (src/lifecycle) and the gathers' tcp_info, so a connection that
 * opens and closes between two gathers is counted too. The counting lives in LifecycleTracker
 * (src/lifecycle/tracker.ts), which keeps state across gathers; this file declares what it emits.
 * See docs/lifecycle.md for what is exact and what is an estimate.
 */
import { Ext } from '../diag/constants.js';
import type { FieldSpec, MeasurementSchema } from '../model/metric.js';
import { defineCollector } from './collector.js';
import { parsePortGroups, portGroupsSchema, type PortGroup, type PortGroupConfig } from './netstat-port.js';

/** Upper bounds of the final-RTT buckets, in seconds (the `le` labels). */
export const RTT_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;
export const rttBucketField = (le: number | '+Inf'): string => `rtt_le_${String(le).replace('.', '_').replace('+Inf', 'inf')}`;

const counter = (help: string, prom: string, unit?: string): FieldSpec => ({ type: 'uint', counter: true, help, unit, prom: { name: prom, help } });

const RTT_HELP = 'final smoothed RTT (tcpi_rtt) of closed TCP connections';
const rttBuckets: Record<string, FieldSpec> = {};
for (const le of [...RTT_BUCKETS_SECONDS, '+Inf' as const]) {
  rttBuckets[rttBucketField(le)] = {
    type: 'uint',
    counter: true,
    help: `closed connections whose final smoothed RTT was at most ${le} s (cumulative)`,
    prom: { name: 'lifecycle_close_rtt_seconds', histogram: 'bucket', labels: { le: String(le) }, help: RTT_HELP },
  };
}

export const LIFECYCLE_SCHEMA: MeasurementSchema = {
  name: 'lifecycle',
  help: 'TCP connections per port group: closed connections with their final numbers, and bytes transferred by every connection',
  fields: {
    closed: counter('TCP connections closed (destroy events, listeners excluded)', 'lifecycle_closed_total'),
    closed_bytes_acked: counter('bytes_acked of the closed connections, at close', 'lifecycle_closed_bytes_acked_total', 'bytes'),
    closed_bytes_received: counter('bytes_received of the closed connections, at close', 'lifecycle_closed_bytes_received_total', 'bytes'),
    closed_retrans_segs: counter('segments the closed connections retransmitted (tcpi_total_retrans)', 'lifecycle_closed_retransmitted_segments_total'),
    bytes_sent: counter(
      "bytes acknowledged by the peer (bytes_acked), live connections' growth between gathers plus closed connections' remainder",
      'lifecycle_bytes_sent_total',
      'bytes',
    ),
    bytes_received: counter(
      "bytes received (bytes_received), live connections' growth between gathers plus closed connections' remainder",
      'lifecycle_bytes_received_total',
      'bytes',
    ),
    ...rttBuckets,
    rtt_sum_seconds: {
      type: 'float',
      counter: true,
      unit: 'seconds',
      help: "sum of the closed connections' final smoothed RTTs",
      prom: { name: 'lifecycle_close_rtt_seconds', histogram: 'sum', help: RTT_HELP },
    },
    rtt_count: {
      type: 'uint',
      counter: true,
      help: 'closed connections with an RTT sample',
      prom: { name: 'lifecycle_close_rtt_seconds', histogram: 'count', help: RTT_HELP },
    },
    duration_known: counter('closed connections seen by a gather before they closed (their duration is known)', 'lifecycle_closed_duration_known_total'),
    duration_seconds_sum: {
      type: 'float',
      counter: true,
      unit: 'seconds',
      help: 'sum over duration_known connections of close time minus the time a gather first saw them (a lower bound: they opened up to one interval earlier)',
      prom: { name: 'lifecycle_closed_duration_seconds_total', help: "sum of closed connections' durations since a gather first saw them (lower bounds)" },
    },
  },
};

export const LIFECYCLE_EVENTS_SCHEMA: MeasurementSchema = {
  name: 'lifecycle_events',
  help: 'the destroy-event subscription itself: events received and lost',
  fields: {
    events: counter('destroyed sockets announced by the kernel and received', 'lifecycle_events_total'),
    lost: counter('events the kernel dropped because the receive buffer was full (SK_MEMINFO_DROPS): exact', 'lifecycle_events_lost_total'),
    overruns: counter('times recv() reported ENOBUFS (overrun episodes)', 'lifecycle_event_overruns_total'),
    malformed: counter('event messages that could not be decoded', 'lifecycle_events_malformed_total'),
    untracked: counter(
      'connections a gather saw that vanished without a destroy event (a lost event, or closed while the subscription was down)',
      'lifecycle_untracked_total',
    ),
    tracked: {
      type: 'uint',
      help: 'live connections tracked by cookie',
      prom: { name: 'lifecycle_tracked_connections', help: 'live TCP connections tracked by socket cookie between gathers' },
    },
    groups_overflowed: counter('closed connections not counted because the port-group limit was reached', 'lifecycle_group_overflow_total'),
    subscription_failures: counter('times the subscription thread failed and was started again at the next gather', 'lifecycle_subscription_failures_total'),
    rcvbuf_bytes: {
      type: 'uint',
      unit: 'bytes',
      help: 'the receive buffer the kernel granted the subscription',
      prom: { name: 'lifecycle_event_rcvbuf_bytes', help: 'receive buffer of the destroy-event socket, bytes' },
    },
  },
};

/** The lifecycle options of a gather (plain data: it crosses to the agent's gather worker). */
export interface LifecycleOptions {
  groups: readonly PortGroup[];
  autoPorts: boolean;
  maxGroups: number;
  rcvbufBytes: number;
}

declare module './collector.js' {
  interface GatherConfig {
    lifecycle?: LifecycleOptions;
  }
}

export interface LifecycleSection {
  auto_ports: boolean;
  max_groups: number;
  rcvbuf_bytes: number;
  addr_ports: PortGroupConfig[];
}

/**
 * The collector: each gather brings the tracker (a host fact: src/lifecycle/host.ts keeps it, fed by the
 * destroy-event subscription between gathers) up to date with the snapshot's live connections, then writes its
 * counters. Only a long-running gatherer has a tracker: a one-shot gather reports the collector failed, saying so.
 */
export const lifecycleCollector = defineCollector<LifecycleOptions, LifecycleSection, 'lifecycle'>({
  name: 'lifecycle',
  enabledByDefault: false,
  schemas: [LIFECYCLE_SCHEMA, LIFECYCLE_EVENTS_SCHEMA],
  options: (c) => c.lifecycle ?? { groups: [], autoPorts: true, maxGroups: 256, rcvbufBytes: 16 << 20 },
  // bytes_acked / bytes_received of every live TCP connection, tracked by cookie between gathers
  needs: () => ({ protocols: ['tcp'], table: true, ext: Ext.info }),
  facts: () => ['lifecycle'],
  collect(s, facts, sink) {
    const tracker = facts.lifecycle;
    if (!tracker) throw new Error('lifecycle counts closed connections between gathers: it runs in the agent, not in a one-shot gather');
    tracker.observe(s.table!, s.time);
    for (const m of tracker.collect(s.time)) sink.metric(m);
  },
  config: {
    about:
      "Closed TCP connections and bytes per port group, missing none that opened and closed between gathers: the kernel's destroy events (any user may subscribe) joined with each gather's tcp_info by socket cookie (docs/lifecycle.md).",
    defaults: { auto_ports: true, max_groups: 256, rcvbuf_bytes: 16 << 20, addr_ports: [] },
    schema: {
      auto_ports: { type: 'boolean' },
      max_groups: { type: 'integer', minimum: 1, maximum: 100_000 },
      rcvbuf_bytes: { type: 'integer', minimum: 65_536, maximum: 1 << 30 },
      addr_ports: portGroupsSchema(false),
    },
    sample: `  ## With no addr_ports match: inbound per listening port, outbound per remote port.
  auto_ports = true
  ## Points (direction, addr_port) at most; connections past it are counted in groups_overflowed.
  max_groups = 256
  ## Receive buffer for event bursts (granted past net.core.rmem_max with CAP_NET_ADMIN only).
  rcvbuf_bytes = 16777216
  ## Groups as netstat_port's: ports (inbound) or remote_ports (outbound), tags; the first match wins.
  addr_ports = []
  # [[collectors.lifecycle.addr_ports]]
  #   ports = ["443"]
  #   tags = { service = "web" }
`,
    gather: (s, key) => ({
      lifecycle: {
        groups: parsePortGroups(s.addr_ports, `${key}.addr_ports`),
        autoPorts: s.auto_ports,
        maxGroups: s.max_groups,
        rcvbufBytes: s.rcvbuf_bytes,
      },
    }),
  },
});
