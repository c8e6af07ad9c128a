/**
 * netstat: TCP state counts under Telegraf's field names (the 13 integers of inputs.netstat, all present every
 * gather), optionally one point per ip_version as DataKit does.
 *
 * Semantics (see docs/metrics.md):
 * - "sockscope" (default): tcp_<state> counts TCP sockets (IPv4 + IPv6) in that state; tcp_none counts TCP
 *   sockets in a state outside the eleven; udp_socket counts UDP sockets. Unix sockets are not counted.
 * - "telegraf" (compatibility): what gopsutil-based Telegraf and DataKit report: unix datagram sockets are
 *   added to udp_socket, unix stream and seqpacket sockets to tcp_none (their status is NONE), and sockets
 *   with the same (type, local, remote, status) count once (N SO_REUSEPORT listeners on a port count 1).
 */
import { TCP_STATE_NUMBERS, UnixShow } from '../diag/constants.js';
import type { MeasurementSchema, Metric } from '../model/metric.js';
import { defineCollector } from './collector.js';
import { Kind, ROWS_PER_CALL, tableConnections, type ConnectionSource, type IpVersion } from './connections.js';

/** Telegraf's field names, in its order. */
export const NETSTAT_FIELDS = [
  'tcp_established',
  'tcp_syn_sent',
  'tcp_syn_recv',
  'tcp_fin_wait1',
  'tcp_fin_wait2',
  'tcp_time_wait',
  'tcp_close',
  'tcp_close_wait',
  'tcp_last_ack',
  'tcp_listen',
  'tcp_closing',
  'tcp_none',
  'udp_socket',
] as const;
export type NetstatField = (typeof NETSTAT_FIELDS)[number];

/** node_exporter's state label values for the tcp_* fields. */
const STATE_LABEL: Record<string, string> = {
  tcp_established: 'established',
  tcp_syn_sent: 'syn_sent',
  tcp_syn_recv: 'syn_recv',
  tcp_fin_wait1: 'fin_wait1',
  tcp_fin_wait2: 'fin_wait2',
  tcp_time_wait: 'time_wait',
  tcp_close: 'close',
  tcp_close_wait: 'close_wait',
  tcp_last_ack: 'last_ack',
  tcp_listen: 'listen',
  tcp_closing: 'closing',
};

function countFields(prefixHelp: string, extra: Record<string, MeasurementSchema['fields'][string]> = {}): MeasurementSchema['fields'] {
  const fields: Record<string, MeasurementSchema['fields'][string]> = {};
  for (const f of NETSTAT_FIELDS) {
    if (f === 'udp_socket')
      fields[f] = { type: 'int', help: `${prefixHelp}UDP sockets`, prom: { name: 'udp_sockets', help: `${prefixHelp}UDP sockets, bound or connected` } };
    else if (f === 'tcp_none')
      fields[f] = { type: 'int', help: `${prefixHelp}TCP sockets in no standard state (telegraf semantics: unix stream and seqpacket sockets)` };
    else
      fields[f] = {
        type: 'int',
        help: `${prefixHelp}TCP connections in state ${STATE_LABEL[f]}`,
        prom: {
          name: 'tcp_connections',
          labels: { state: STATE_LABEL[f] },
          help: `${prefixHelp}TCP connections per state (node_exporter's tcpstat state names)`,
        },
      };
  }
  return { ...fields, ...extra };
}

export const NETSTAT_SCHEMA: MeasurementSchema = {
  name: 'netstat',
  help: 'TCP connections per state and UDP sockets (Telegraf inputs.netstat names)',
  fields: countFields(''),
};

export type NetstatSemantics = 'sockscope' | 'telegraf';

export interface NetstatOptions {
  semantics?: NetstatSemantics;
  /** one point per ip_version (tag ip_version = 4 | 6 | unknown), as DataKit */
  perIpVersion?: boolean;
  /** gopsutil's de-duplication (on by default with telegraf semantics on a real snapshot) */
  dedupe?: boolean;
  /** ESTABLISHED TCP sockets per family [IPv4, IPv6] counted but not in the table (GatherSnapshot's) */
  establishedNotDumped?: readonly [number, number];
}

/** NETSTAT_FIELDS index of tcp_none and udp_socket. */
const TCP_NONE = NETSTAT_FIELDS.indexOf('tcp_none');
const UDP_SOCKET = NETSTAT_FIELDS.indexOf('udp_socket');
const ESTABLISHED = NETSTAT_FIELDS.indexOf('tcp_established');
export const NETSTAT_FIELD_COUNT = NETSTAT_FIELDS.length;

/** NETSTAT_FIELDS index of a TCP state number's field, -1 for a state outside the eleven. */
const FIELD_INDEX_OF_STATE = new Int8Array(256).fill(-1);
TCP_STATE_NUMBERS.forEach((s, k) => {
  FIELD_INDEX_OF_STATE[s] = k;
});
const fieldOfState = (s: number): number => (s >= 0 && s < 256 ? FIELD_INDEX_OF_STATE[s] : -1);

/**
 * The NETSTAT_FIELDS index a connection counts into, or -1 (not counted). A number rather than the field name,
 * so collectors count into typed arrays.
 */
export function netstatFieldIndex(src: ConnectionSource, i: number, semantics: NetstatSemantics): number {
  const kind = src.kind(i);
  if (semantics === 'telegraf') {
    // gopsutil: SOCK_DGRAM → UDP, else by status string; statuses it does not know are dropped
    if (kind === Kind.udp || kind === Kind.unixDgram) return UDP_SOCKET;
    if (src.isStatusNone(i)) return TCP_NONE;
    if (kind !== Kind.tcp && kind !== Kind.other) return -1;
    return fieldOfState(src.state(i));
  }
  if (kind === Kind.udp) return UDP_SOCKET;
  if (kind !== Kind.tcp) return -1;
  const f = fieldOfState(src.state(i));
  return f < 0 ? TCP_NONE : f;
}

const TCP_FIELD_OF_STATE: (NetstatField | undefined)[] = [];
TCP_STATE_NUMBERS.forEach((s, k) => {
  TCP_FIELD_OF_STATE[s] = NETSTAT_FIELDS[k];
});

export const emptyCounts = (): Record<NetstatField, number> => Object.fromEntries(NETSTAT_FIELDS.map((f) => [f, 0])) as Record<NetstatField, number>;

/** The 13 counts at `at` of a counts array (NETSTAT_FIELD_COUNT per point), as fields in Telegraf's order. */
/**
 * The 13 counts of a point as its fields, in NETSTAT_FIELDS' order: each a copy of one template object (a spread of
 * a fast-mode object makes an object of the same shape in one step), its values then set in place. An agent makes
 * thousands a gather; properties added one by one would grow each object's backing store step by step.
 */
const COUNTS = emptyCounts();
/** the counts, then the pid field (netstat_port) */
const COUNTS_PID: Record<string, number> = { ...COUNTS, pid: 0 };

export function countsAt(counts: ArrayLike<number>, at: number): Record<NetstatField, number>;
export function countsAt(counts: ArrayLike<number>, at: number, pid: number): Record<NetstatField | 'pid', number>;
export function countsAt(counts: ArrayLike<number>, at: number, pid?: number): Record<string, number> {
  const fields: Record<string, number> = pid === undefined ? { ...COUNTS } : { ...COUNTS_PID, pid };
  for (let k = 0; k < NETSTAT_FIELD_COUNT; k++) fields[NETSTAT_FIELDS[k]] = counts[at + k];
  return fields;
}

/** ip_version tag values by index (ipVersionIndex). */
export const IP_VERSIONS: readonly IpVersion[] = ['4', '6', 'unknown'];
export const ipVersionIndex = (v: IpVersion): number => (v === '4' ? 0 : v === '6' ? 1 : 2);

export function collectNetstat(src: ConnectionSource, time: number, o: NetstatOptions = {}): Metric[] {
  const perIpVersion = !!o.perIpVersion;
  // one row of 13 counts per ip_version index (a single row when the families are summed); points come out
  // in the order their first socket was counted, as Telegraf's and DataKit's maps fill
  const counts = new Float64Array(IP_VERSIONS.length * NETSTAT_FIELD_COUNT);
  const order: number[] = perIpVersion ? [] : [0];
  const semantics = o.semantics ?? 'sockscope';
  const seen = o.dedupe ? new Set<string>() : undefined;
  let touched = perIpVersion ? 0 : 1; // bit per version index
  for (let from = 0; from < src.length; from += ROWS_PER_CALL) {
    touched = countNetstat(src, from, Math.min(src.length, from + ROWS_PER_CALL), semantics, perIpVersion, seen, counts, order, touched);
  }
  const notDumped = o.establishedNotDumped;
  if (notDumped) {
    for (const v of [0, 1]) {
      if (notDumped[v] === 0) continue;
      counts[(perIpVersion ? v : 0) * NETSTAT_FIELD_COUNT + ESTABLISHED] += notDumped[v];
      if (perIpVersion && !order.includes(v)) order.push(v);
    }
  }
  if (perIpVersion) for (const v of [0, 1]) if (!order.includes(v)) order.push(v);
  return order.map(
    (v): Metric => ({
      schema: NETSTAT_SCHEMA,
      tags: perIpVersion ? { ip_version: IP_VERSIONS[v] } : {},
      fields: countsAt(counts, v * NETSTAT_FIELD_COUNT),
      time,
    }),
  );
}

/**
 * The counting loop over rows [from, to), apart from the options and the metrics it ends in: it handles only
 * the row source, typed arrays and numbers, so its optimized code stays valid from one gather to the next (see
 * keepShape); `touched` has a bit per ip_version index already in `order`.
 */
function countNetstat(
  src: ConnectionSource,
  from: number,
  to: number,
  semantics: NetstatSemantics,
  perIpVersion: boolean,
  seen: Set<string> | undefined,
  counts: Float64Array,
  order: number[],
  touched: number,
): number {
  for (let i = from; i < to; i++) {
    const field = netstatFieldIndex(src, i, semantics);
    if (field < 0) continue;
    if (seen) {
      const key = src.dedupKey(i);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    let v = 0;
    if (perIpVersion) {
      v = ipVersionIndex(src.ipVersion(i));
      if (!(touched & (1 << v))) {
        touched |= 1 << v;
        order.push(v);
      }
    }
    counts[v * NETSTAT_FIELD_COUNT + field]++;
  }
  return touched;
}

/** netstat from census counts alone (the fast path when no collector needs a table). */
export function netstatFromCensus(census: { states(proto: 'tcp' | 'udp', family?: number): number[] }, time: number, perIpVersion: boolean): Metric[] {
  const point = (family?: number): Record<NetstatField, number> => {
    const counts = emptyCounts();
    const tcp = census.states('tcp', family);
    let none = 0;
    tcp.forEach((n, s) => {
      const f = TCP_FIELD_OF_STATE[s];
      if (f) counts[f] += n;
      else none += n;
    });
    counts.tcp_none = none;
    counts.udp_socket = census.states('udp', family).reduce((a, b) => a + b, 0);
    return counts;
  };
  if (!perIpVersion) return [{ schema: NETSTAT_SCHEMA, tags: {}, fields: point(), time }];
  return [
    { schema: NETSTAT_SCHEMA, tags: { ip_version: '4' }, fields: point(2), time },
    { schema: NETSTAT_SCHEMA, tags: { ip_version: '6' }, fields: point(10), time },
  ];
}

export { countFields, STATE_LABEL };

/**
 * Sum per-ip_version netstat points into one (Telegraf's shape). Counts add exactly, so an agent can gather
 * per family once (Prometheus wants the family label) and still write one point to line-protocol outputs.
 */
export function mergeIpVersions(metrics: readonly Metric[]): Metric[] {
  const out: Metric[] = [];
  const merged = new Map<string, Metric>();
  for (const m of metrics) {
    if (m.schema !== NETSTAT_SCHEMA || m.tags.ip_version === undefined) {
      out.push(m);
      continue;
    }
    const { ip_version: _v, ...tags } = m.tags;
    const key = JSON.stringify(Object.entries(tags).sort());
    const into = merged.get(key);
    if (!into) {
      const first: Metric = { ...m, tags, fields: { ...m.fields } };
      merged.set(key, first);
      out.push(first);
    } else {
      for (const k in m.fields) (into.fields as Record<string, number>)[k] += m.fields[k] as number;
    }
  }
  return out;
}

declare module './collector.js' {
  interface GatherConfig {
    netstat?: NetstatOptions;
  }
}

export const netstatCollector = defineCollector<NetstatOptions, { semantics: NetstatSemantics; per_ip_version: boolean }, 'netstat'>({
  name: 'netstat',
  enabledByDefault: true,
  schemas: [NETSTAT_SCHEMA],
  options: (c) => ({ ...c.netstat }),
  needs(o) {
    // telegraf semantics: de-duplication needs addresses; unix types need a table
    if (o.semantics === 'telegraf') return { protocols: ['tcp', 'udp', 'unix'], table: true, unixShow: UnixShow.NAME };
    return { protocols: ['tcp', 'udp'], table: false, timeWaitPerFamily: !!o.perIpVersion, established: o.dedupe ? 'all' : 'count' };
  },
  facts: () => [],
  collect(s, _facts, sink, o) {
    const metrics = s.table
      ? // a literal, not a spread: its shape outlives the gather (see keepShape)
        collectNetstat(tableConnections(s.table), s.time, {
          semantics: o.semantics,
          perIpVersion: o.perIpVersion,
          dedupe: o.dedupe ?? o.semantics === 'telegraf',
          establishedNotDumped: s.establishedNotDumped,
        })
      : netstatFromCensus(s.census!, s.time, !!o.perIpVersion);
    for (const m of metrics) sink.metric(m);
  },
  config: {
    about: "TCP state counts and UDP sockets under Telegraf's field names.",
    defaults: { semantics: 'sockscope', per_ip_version: false },
    schema: { semantics: { enum: ['sockscope', 'telegraf'] }, per_ip_version: { type: 'boolean' } },
    sample: `  ## "sockscope": TCP and UDP sockets only. "telegraf": Telegraf/DataKit numbers (unix datagram sockets
  ## counted into udp_socket, unix stream sockets into tcp_none, duplicate sockets counted once).
  semantics = "sockscope"
  ## One point per ip_version (4, 6) instead of one in total, as DataKit writes it.
  per_ip_version = false
`,
    // per family always: Prometheus labels by family; line-protocol outputs get the families merged back
    // (mergeIpVersions) unless per_ip_version asks for DataKit's shape
    gather: (s) => ({ netstat: { semantics: s.semantics, perIpVersion: true } }),
  },
});
