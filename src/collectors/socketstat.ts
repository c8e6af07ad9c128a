/**
 * socketstat: one point per connection under Telegraf's inputs.socketstat names, read from the snapshot's
 * columns and tcp_info instead of parsing `ss -in` text. Points are handed to `emit` one at a time (the
 * serializer consumes each before the next), so 100k connections never sit in memory as objects.
 *
 * Tags proto, local_addr, local_port, remote_addr, remote_port formatted as Telegraf's plugin formats ss's
 * output (IPv6 in brackets, "%iface" when bound to a device); fields state (a string, ss's state name),
 * recv_q, send_q and the tcp_info counters (unsigned; absent when the kernel did not send them). Differences
 * from Telegraf (documented in docs/metrics.md): counters that are 0 are present (ss omits them, so Telegraf
 * drops them), and UDP/RAW points carry `state` too.
 */
import { formatAddress } from '../diag/address.js';
import {
  AF_INET6,
  Ext,
  InetAttr,
  type ProtoName,
  PROTO_NAMES,
  Proto,
  SS_STATE_NAMES,
  TCP_CLOSE,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_TIME_WAIT,
  ALL_STATES,
} from '../diag/constants.js';
import { readTcpInfoField, SECONDS_PER, TCP_INFO_UNSET, tcpInfoField, unitName, type TcpInfoField } from '../diag/tcp-info.js';
import { SockscopeError } from '../errors.js';
import type { FieldSpec, MeasurementSchema, Metric } from '../model/metric.js';
import { findAttributeOffset, NLA_HDRLEN } from '../netlink/attributes.js';
import type { SocketTable } from '../snapshot/table.js';
import { defineCollector, type HostFacts, type RowPoint, type Sink } from './collector.js';

/** ss without -a: every state but LISTEN, UNCONN, TIME-WAIT and SYN-RECV (what Telegraf's plugin sees). */
export const SOCKETSTAT_DEFAULT_STATES = ALL_STATES & ~((1 << TCP_LISTEN) | (1 << TCP_CLOSE) | (1 << TCP_TIME_WAIT) | (1 << TCP_SYN_RECV));

const u = (help: string, prom?: FieldSpec['prom'], extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: 'uint', help, prom, ...extra });

/** The base counters Telegraf reads from `ss -i`, and the tcp_info field each comes from. */
const BASE: [string, string, FieldSpec][] = [
  ['bytes_acked', 'bytes_acked', u('bytes acknowledged by the peer', { name: 'socket_acked_bytes_total' }, { unit: 'bytes', counter: true })],
  ['bytes_received', 'bytes_received', u('bytes received', { name: 'socket_received_bytes_total' }, { unit: 'bytes', counter: true })],
  ['segs_out', 'segs_out', u('segments sent', { name: 'socket_segments_sent_total' }, { counter: true })],
  ['segs_in', 'segs_in', u('segments received', { name: 'socket_segments_received_total' }, { counter: true })],
  ['data_segs_out', 'data_segs_out', u('segments with data sent', { name: 'socket_data_segments_sent_total' }, { counter: true })],
  ['data_segs_in', 'data_segs_in', u('segments with data received', { name: 'socket_data_segments_received_total' }, { counter: true })],
];

/**
 * An opt-in tcp_info field: the kernel field, what it is (help without the unit), its Prometheus name. The
 * name, unit and scales come from the field's unit (TCP_INFO_FIELDS): times keep the kernel's unit in the name
 * (rtt_us) and are seconds for Prometheus; rates are bits per second (pacing_rate_bps), bytes per second for
 * Prometheus. Telegraf's own names win where it has one (cwnd, ssthresh).
 */
function extra(kernel: string, help: string, promName: string, o: { name?: string; counter?: boolean } = {}): [string, string, FieldSpec] {
  const field = tcpInfoField(kernel)!;
  const { name, scale } = unitName(field);
  const unitText =
    field.unit === 'us' ? 'microseconds' : field.unit === 'ms' ? 'milliseconds' : field.unit === 'bytes_per_second' ? 'bits per second' : undefined;
  const promUnit = field.unit === 'us' || field.unit === 'ms' ? 'seconds' : field.unit === 'bytes_per_second' ? 'bytes per second' : undefined;
  const promScale = field.unit === 'us' || field.unit === 'ms' ? SECONDS_PER[field.unit] : scale !== 1 ? 1 / scale : undefined;
  const prom: FieldSpec['prom'] = promScale === undefined ? { name: promName } : { name: promName, scale: promScale, help: `${help}, ${promUnit}` };
  return [
    o.name ?? name,
    kernel,
    u(unitText ? `${help}, ${unitText}` : help, prom, {
      ...(field.unit === 'bytes' ? { unit: 'bytes' } : {}),
      ...(o.counter ? { counter: true } : {}),
    }),
  ];
}

/** Opt-in tcp_info fields (`info_fields`), units in the names; Prometheus gets base units. */
const EXTRA: [string, string, FieldSpec][] = [
  extra('rtt', 'smoothed round-trip time', 'socket_rtt_seconds'),
  extra('rttvar', 'round-trip time variance', 'socket_rtt_variance_seconds'),
  extra('min_rtt', 'minimum round-trip time seen', 'socket_min_rtt_seconds'),
  extra('retrans', 'segments being retransmitted now', 'socket_retransmitting_segments'),
  extra('total_retrans', 'segments retransmitted over the connection', 'socket_retransmits_total', { counter: true }),
  extra('lost', 'segments presumed lost', 'socket_lost_segments'),
  extra('snd_cwnd', 'congestion window, segments', 'socket_congestion_window_segments', { name: 'cwnd' }),
  extra('snd_ssthresh', 'slow start threshold, segments', 'socket_slow_start_threshold_segments', { name: 'ssthresh' }),
  extra('delivery_rate', 'delivery rate', 'socket_delivery_rate_bytes_per_second'),
  extra('pacing_rate', 'pacing rate', 'socket_pacing_rate_bytes_per_second'),
  extra('busy_time', 'time busy sending', 'socket_busy_seconds_total', { counter: true }),
  extra('rwnd_limited', 'time limited by the receive window', 'socket_receive_window_limited_seconds_total', { counter: true }),
  extra('sndbuf_limited', 'time limited by the send buffer', 'socket_send_buffer_limited_seconds_total', { counter: true }),
  extra('notsent_bytes', 'bytes queued but not yet sent', 'socket_unsent_bytes'),
];
export const SOCKETSTAT_INFO_FIELDS = EXTRA.map(([name]) => name);

export const SOCKETSTAT_SCHEMA: MeasurementSchema = {
  name: 'socketstat',
  help: 'One point per connection (Telegraf inputs.socketstat names)',
  fields: {
    state: { type: 'string', help: 'connection state as ss prints it (ESTAB, CLOSE-WAIT, ...)', promLabel: 'state' },
    recv_q: u('bytes waiting to be read', { name: 'socket_receive_queue_bytes' }, { unit: 'bytes' }),
    send_q: u('bytes not yet acknowledged', { name: 'socket_send_queue_bytes' }, { unit: 'bytes' }),
    ...Object.fromEntries(BASE.map(([n, , s]) => [n, s])),
    ...Object.fromEntries(EXTRA.map(([n, , s]) => [n, s])),
  },
};

/** The aggregated form (Telegraf #17918): one point per (proto, local address, remote address). */
export const SOCKETSTAT_AGGREGATE_SCHEMA: MeasurementSchema = {
  name: 'socketstat',
  help: 'Connections per (protocol, local address, remote address)',
  fields: {
    connections: u('connections between the two addresses', { name: 'socket_tuple_connections' }),
    recv_q: u('bytes waiting to be read, summed', { name: 'socket_tuple_receive_queue_bytes' }, { unit: 'bytes' }),
    send_q: u('bytes not yet acknowledged, summed', { name: 'socket_tuple_send_queue_bytes' }, { unit: 'bytes' }),
    // a sum over the connections open now falls when one closes: a gauge, not a counter (rate() would read
    // every close as a counter reset)
    ...Object.fromEntries(
      BASE.map(([n, , s]) => [
        n,
        {
          ...s,
          counter: false,
          help: `${s.help}, summed over the connections open now`,
          prom: { ...s.prom!, name: s.prom!.name.replace('socket_', 'socket_tuple_').replace(/_total$/, '') },
        },
      ]),
    ),
  },
};

export interface SocketstatOptions {
  /** proto names among tcp, udp, raw (default tcp, udp as Telegraf) */
  protocols?: readonly string[];
  /** state mask; default Telegraf's (ss without -a) */
  states?: number;
  /** opt-in tcp_info fields, by name (SOCKETSTAT_INFO_FIELDS) */
  infoFields?: readonly string[];
  /** one point per (proto, local address, remote address) instead of per connection */
  aggregate?: boolean;
}

/**
 * An endpoint's address tag as Telegraf's plugin takes it from ss: IPv6 in brackets, "%iface" after it when the
 * socket is bound to a device (local end only).
 */
export function endpointAddress(t: SocketTable, i: number, which: 'src' | 'dst', ifname?: string): string {
  const fam = t.family[i];
  const text = formatAddress(fam, which === 'src' ? t.src : t.dst, i * 16);
  const zoned = ifname ? `${text}%${ifname}` : text;
  return fam === AF_INET6 ? `[${text}]${ifname ? `%${ifname}` : ''}` : zoned;
}

/** The device name of a bound socket's "%iface": the interface's name, else its index. */
export function boundInterface(t: SocketTable, i: number, o: Pick<HostFacts, 'interfaceName'>): string | undefined {
  return t.ifindex[i] ? (o.interfaceName(t.ifindex[i]) ?? String(t.ifindex[i])) : undefined;
}

/** Which rows become points: the protocols and states asked for. */
export function socketstatSelection(o: SocketstatOptions): { protos: ReadonlySet<number>; states: number } {
  return {
    protos: new Set<number>((o.protocols ?? ['tcp', 'udp']).map((p) => Proto[p as 'tcp' | 'udp' | 'raw'])),
    states: o.states ?? SOCKETSTAT_DEFAULT_STATES,
  };
}

/** A tcp_info counter of a point: its name, the kernel's field it comes from, and how it is published. */
export interface SocketstatInfoField {
  name: string;
  field: TcpInfoField;
  /** a kernel value meaning "not measured yet": the field is left out (min_rtt's ~0); NaN when there is none */
  unset: number;
  /** kernel values from this one on mean "not set": left out (ssthresh's TCP_INFINITE_SSTHRESH, a u64's ~0) */
  unsetFrom: number;
  /** published value = kernel value × scale (bytes/s published as bits/s) */
  scale: number;
}

/**
 * The base counters (every TCP point with tcp_info, as read: a u64's ~0 comes out as Infinity, which serializers
 * drop) and the opt-in ones (o.infoFields), in their field order.
 */
export function socketstatInfoFields(o: SocketstatOptions): { base: SocketstatInfoField[]; extra: SocketstatInfoField[] } {
  const base = ([name, kernel]: [string, string, FieldSpec]) => ({ name, field: tcpInfoField(kernel)!, unset: NaN, unsetFrom: Infinity, scale: 1 });
  const extra = (e: [string, string, FieldSpec]) => ({
    ...base(e),
    unset: e[1] === 'min_rtt' ? TCP_INFO_UNSET.min_rtt : NaN,
    unsetFrom: e[1] === 'snd_ssthresh' ? TCP_INFO_UNSET.snd_ssthresh : Infinity, // TCP_INFINITE_SSTHRESH: not set yet (ss omits it too)
    scale: unitName(tcpInfoField(e[1])!).scale,
  });
  return { base: BASE.map(base), extra: EXTRA.filter(([name]) => o.infoFields?.includes(name)).map(extra) };
}

/** An opt-in field's published value from the kernel's (readTcpInfoField), or undefined when the point leaves it out. */
export function socketstatExtraValue(f: SocketstatInfoField, v: number | undefined): number | undefined {
  if (v === undefined || v === f.unset || v >= f.unsetFrom) return undefined; // (Infinity, a u64's ~0, included)
  return v * f.scale;
}

/**
 * A gather's socketstat settings, worked out once: which rows become points, the counters each point carries,
 * and the options they came from.
 */
export interface SocketstatPlan {
  o: SocketstatOptions;
  /** per proto code: 1 when socketstat takes it */
  protoSelected: Uint8Array;
  states: number;
  base: SocketstatInfoField[];
  extra: SocketstatInfoField[];
}

export function socketstatPlan(o: SocketstatOptions): SocketstatPlan {
  const { protos, states } = socketstatSelection(o);
  const protoSelected = new Uint8Array(256);
  for (const p of protos) if (p >= 0 && p < 256) protoSelected[p] = 1; // (a name that is no protocol: no row has it)
  return { o, protoSelected, states, ...socketstatInfoFields(o) };
}

/** The point of one connection (row), the one definition the metric sink builds and byte sinks write. */
export const SOCKETSTAT_POINT: RowPoint<SocketstatPlan> = {
  name: 'socketstat',
  metric(t, i, view, info, infoLength, time, p, facts) {
    const proto = t.proto[i];
    const fields: Record<string, number | string> = { recv_q: t.rqueue[i], send_q: t.wqueue[i] };
    if (info >= 0) baseCounters(view, info, infoLength, p, fields);
    const tags: Record<string, string> = {
      proto: PROTO_NAMES[proto],
      local_addr: endpointAddress(t, i, 'src', boundInterface(t, i, facts)),
      remote_addr: endpointAddress(t, i, 'dst'),
      local_port: String(t.sport[i]),
      remote_port: String(t.dport[i]),
    };
    fields.state = SS_STATE_NAMES[t.state[i]];
    if (info >= 0) {
      for (const f of p.extra) {
        const v = socketstatExtraValue(f, readTcpInfoField(view, info, infoLength, f.field));
        if (v !== undefined) fields[f.name] = v;
      }
    }
    return { schema: SOCKETSTAT_SCHEMA, tags, fields, time };
  },
};

function baseCounters(view: DataView, info: number, infoLength: number, p: SocketstatPlan, fields: Record<string, number | string>): void {
  for (const { name, field } of p.base) {
    const v = readTcpInfoField(view, info, infoLength, field);
    if (v !== undefined) fields[name] = v;
  }
}

/**
 * Every selected row of the table into the sink: per connection as SOCKETSTAT_POINT rows, or (aggregate) one
 * metric per (proto, local address, remote address) after the last row.
 */
export function collectSocketstat(t: SocketTable, time: number, p: SocketstatPlan, facts: HostFacts, sink: Sink): void {
  const view = t.arenaView();
  const agg = p.o.aggregate ? new Map<string, Metric>() : undefined;
  const { protoSelected, states } = p;
  for (let i = 0; i < t.length; i++) {
    const proto = t.proto[i];
    if (protoSelected[proto] === 0 || !(states & (1 << t.state[i]))) continue;
    let info = -1;
    let infoLength = 0;
    if (proto === Proto.tcp && t.attrLength[i] > 0) {
      info = findAttributeOffset(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], InetAttr.INFO);
      if (info >= 0) infoLength = view.getUint16(info - NLA_HDRLEN, true) - NLA_HDRLEN;
    }
    if (!agg) {
      sink.row(SOCKETSTAT_POINT, t, i, view, info, infoLength, time, p, facts);
      continue;
    }
    const local = endpointAddress(t, i, 'src', boundInterface(t, i, facts));
    const remote = endpointAddress(t, i, 'dst');
    const key = `${PROTO_NAMES[proto]}|${local}|${remote}`;
    let m = agg.get(key);
    if (!m)
      agg.set(
        key,
        (m = {
          schema: SOCKETSTAT_AGGREGATE_SCHEMA,
          tags: { proto: PROTO_NAMES[proto], local_addr: local, remote_addr: remote },
          fields: { connections: 0, recv_q: 0, send_q: 0 },
          time,
        }),
      );
    const fields: Record<string, number | string> = { recv_q: t.rqueue[i], send_q: t.wqueue[i] };
    if (info >= 0) baseCounters(view, info, infoLength, p, fields);
    const f = m.fields as Record<string, number>;
    f.connections++;
    for (const [k, v] of Object.entries(fields)) if (typeof v === 'number') f[k] = (f[k] ?? 0) + v;
  }
  if (agg) for (const m of agg.values()) sink.metric(m);
}

export interface SocketstatSection {
  protocols: string[];
  info_fields: string[];
  aggregate: boolean;
}

declare module './collector.js' {
  interface GatherConfig {
    socketstat?: SocketstatOptions;
  }
}

export const socketstatCollector = defineCollector<SocketstatPlan, SocketstatSection, 'socketstat'>({
  name: 'socketstat',
  enabledByDefault: false,
  schemas: [SOCKETSTAT_SCHEMA, SOCKETSTAT_AGGREGATE_SCHEMA],
  options: (c) => socketstatPlan(c.socketstat ?? {}),
  needs(p) {
    const protocols = (p.o.protocols ?? ['tcp', 'udp']) as ProtoName[];
    return { protocols, table: true, ext: protocols.includes('tcp') ? Ext.info : 0 };
  },
  facts: () => [],
  collect: (s, facts, sink, p) => collectSocketstat(s.table!, s.time, p, facts, sink),
  // per connection, nothing counted across rows: batch by batch
  streams: (p) => !p.o.aggregate,
  streamStates: (p) => p.states,
  config: {
    about: 'One point per connection (Telegraf socketstat names). High cardinality: see aggregate.',
    defaults: { protocols: ['tcp', 'udp'], info_fields: [], aggregate: false },
    schema: {
      protocols: { type: 'array', items: { enum: ['tcp', 'udp', 'raw'] } },
      info_fields: { type: 'array', items: { type: 'string' } },
      aggregate: { type: 'boolean' },
    },
    sample: `  protocols = ["tcp", "udp"]
  ## Extra tcp_info fields: rtt_us, rttvar_us, min_rtt_us, retrans, total_retrans, lost, cwnd, ssthresh,
  ## delivery_rate_bps, pacing_rate_bps, busy_time_us, rwnd_limited_us, sndbuf_limited_us, notsent_bytes.
  info_fields = []
  ## One point per (protocol, local address, remote address) with a connection count instead.
  aggregate = false
`,
    gather: (s, key) => {
      for (const f of s.info_fields) {
        if (!SOCKETSTAT_INFO_FIELDS.includes(f))
          throw new SockscopeError(
            'ESOCKSCOPE_CONFIG',
            `invalid ${key}.info_fields entry ${JSON.stringify(f)}: expected one of ${SOCKETSTAT_INFO_FIELDS.join(', ')}`,
            { key: `${key}.info_fields`, value: f },
          );
      }
      return { socketstat: { protocols: s.protocols, infoFields: s.info_fields, aggregate: s.aggregate } };
    },
  },
});
