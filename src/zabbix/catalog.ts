/**
 * The one definition of sockscope's Zabbix items: every item, discovery rule and item prototype, with the
 * value each one takes from a gather. The templates (template.ts), the trapper push and the passive answers
 * (items.ts, answer.ts) are all generated from these tables, so a key the template declares is a key sockscope
 * sends, and the other way round, by construction.
 *
 *   sockscope.netstat[<field>]             the 13 netstat fields (IPv4 + IPv6), zeros included
 *   sockscope.sockets[tcp|udp|unix]        sockets per protocol
 *   sockscope.listen.backlog.max_pct       the fullest listener's accept queue, % of its backlog
 *   sockscope.local_port_range.size        ephemeral ports (net.ipv4.ip_local_port_range)
 *   sockscope.portgroups.discovery         LLD: port groups ({#ADDR_PORT})
 *     sockscope.port[<addr_port>,<field>]  the 13 netstat fields per port group, families summed
 *   sockscope.ports.discovery              LLD: listening TCP ports ({#PORT}; {#ADDR}: its local addresses)
 *     sockscope.listen[<port>,<field>]     accept_queue, backlog (summed over the port's listeners),
 *                                          queue_pct (its fullest listener)
 *
 *   sockscope.lifecycle.events[<field>]    lifecycle collector: destroy events received / lost, per second
 *   sockscope.lifecycle.discovery          LLD: lifecycle groups ({#LIFECYCLE_GROUP} = <direction>:<addr_port>)
 *     sockscope.lifecycle[<group>,<field>] closed connections, bytes sent / received, retransmitted segments,
 *                                          pushed as the counters they are, stored per second (CHANGE_PER_SECOND);
 *                                          RTT and duration sums and counts, stored as the counters they are
 *     sockscope.lifecycle.rtt[<le>,<group>] the final-RTT histogram's buckets (cumulative counters)
 *     sockscope.lifecycle[<group>,rtt_p50|rtt_p99|rtt_mean|duration_mean]  calculated by the Zabbix server
 *                                          from those over {$SOCKSCOPE.LIFECYCLE.WINDOW} (nothing is sent)
 *
 *   sockscope.doctor[<check>,<measure>]    doctor collector: the worst subject's value of each measure of
 *                                          `sockscope doctor`'s checks (0: nothing reached a level), with one
 *                                          trigger per level whose threshold is the check definition's
 *                                          ({$SOCKSCOPE.DOCTOR.<CHECK>.<MEASURE>.<LEVEL>}, src/doctor/definitions.ts)
 *   sockscope.doctor.findings              doctor collector: every observation that reached a level, one a line,
 *                                          with its culprit (process, listener, destination, peer, netns)
 *
 * The rules' prototypes have keys of different names (sockscope.port, sockscope.listen, sockscope.lifecycle), so
 * a port group that is a bare port ("22", always so with automatic groups), a listening port 22 and a lifecycle
 * group "inbound:22" cannot make the same key.
 *
 * Items of a collector that is off by default (`collector`) are in the template always and sent only for a
 * gather in which that collector ran: a push with the default collectors holds no key Zabbix would refuse.
 */
import type { GatherReport } from '../gather/gather.js';
import { LIFECYCLE_EVENTS_SCHEMA, LIFECYCLE_SCHEMA, RTT_BUCKETS_SECONDS, rttBucketField } from '../collectors/lifecycle.js';
import { LISTEN_SCHEMA, PORT_RANGE_SCHEMA } from '../collectors/listen.js';
import { mergeIpVersions, NETSTAT_FIELDS, NETSTAT_SCHEMA, type NetstatField } from '../collectors/netstat.js';
import { NETSTAT_PORT_SCHEMA } from '../collectors/netstat-port.js';
import type { Metric } from '../model/metric.js';
import { CHECKS, SEVERITIES, type CheckDefinition, type MeasureDefinition, type Severity } from '../doctor/definitions.js';
import { DOCTOR_SCHEMAS } from '../doctor/metrics.js';

export interface LatestGather {
  metrics: readonly Metric[];
  report: GatherReport;
  time: number;
}

/** What the items read from one gather. */
export interface GatherFacts {
  netstat: Record<NetstatField, number> | undefined;
  sockets: ReadonlyMap<string, number>;
  /** addr_port → the 13 fields, IPv4 and IPv6 summed */
  portGroups: ReadonlyMap<string, Record<NetstatField, number>>;
  /** local port → its listeners (one per local address) */
  listeners: ReadonlyMap<string, { addrs: string[]; acceptQueue: number; backlog: number; queuePct: number }>;
  /** the listen collector ran (so "no listener" means 0, not "unknown") */
  listenRan: boolean;
  portRangeSize: number | undefined;
  /** the lifecycle collector's points, `<direction>:<addr_port>` → fields (summed over tags and namespaces); undefined: it did not run */
  lifecycle: ReadonlyMap<string, Record<string, number>> | undefined;
  /** the lifecycle collector's subscription counters (lifecycle_events), summed over namespaces */
  lifecycleEvents: Record<string, number> | undefined;
  /** the doctor collector's points, `<check>,<measure>` → its observations, worst first; undefined: it did not run */
  doctor: ReadonlyMap<string, DoctorObservation[]> | undefined;
}

/** One point of the doctor collector: a measure's value for one subject (the point's tags). */
export interface DoctorObservation {
  value: number;
  tags: Readonly<Record<string, string>>;
}

const pct = (queue: number, backlog: number) => (backlog > 0 ? (queue / backlog) * 100 : 0);
const round1 = (x: number) => Math.round(x * 10) / 10;

export function gatherFacts(g: LatestGather): GatherFacts {
  const metrics = mergeIpVersions(g.metrics);
  let netstat: Record<NetstatField, number> | undefined;
  const portGroups = new Map<string, Record<NetstatField, number>>();
  const listeners = new Map<string, { addrs: string[]; acceptQueue: number; backlog: number; queuePct: number }>();
  let portRangeSize: number | undefined;
  let lifecycle: Map<string, Record<string, number>> | undefined;
  let lifecycleEvents: Record<string, number> | undefined;
  const doctorSchemas = new Map(Object.entries(DOCTOR_SCHEMAS).map(([name, schema]) => [schema, name.slice('doctor_'.length)]));
  // a gather in which the doctor collector ran: no point then means nothing reached a level (0), not "unknown"
  const doctor = g.report.collectors.some((c) => c.name === 'doctor' && c.ok) ? new Map<string, DoctorObservation[]>() : undefined;
  const add = (into: Record<string, number>, m: Metric) => {
    for (const k in m.fields) into[k] = (into[k] ?? 0) + (Number(m.fields[k]) || 0);
    return into;
  };
  const fieldsOf = (m: Metric, into?: Record<NetstatField, number>) => {
    const out = into ?? ({} as Record<NetstatField, number>);
    for (const f of NETSTAT_FIELDS) out[f] = (out[f] ?? 0) + (Number(m.fields[f]) || 0);
    return out;
  };
  for (const m of metrics) {
    if (m.schema === NETSTAT_SCHEMA) netstat = fieldsOf(m);
    else if (m.schema === NETSTAT_PORT_SCHEMA) portGroups.set(m.tags.addr_port, fieldsOf(m, portGroups.get(m.tags.addr_port)));
    else if (m.schema === LISTEN_SCHEMA) {
      const queue = Number(m.fields.accept_queue) || 0;
      const backlog = Number(m.fields.backlog) || 0;
      const l = listeners.get(m.tags.local_port) ?? { addrs: [], acceptQueue: 0, backlog: 0, queuePct: 0 };
      if (!l.addrs.includes(m.tags.local_addr)) l.addrs.push(m.tags.local_addr);
      l.acceptQueue += queue;
      l.backlog += backlog;
      l.queuePct = Math.max(l.queuePct, pct(queue, backlog));
      listeners.set(m.tags.local_port, l);
    } else if (m.schema === PORT_RANGE_SCHEMA) portRangeSize = Number(m.fields.size);
    else if (m.schema === LIFECYCLE_EVENTS_SCHEMA) lifecycleEvents = add(lifecycleEvents ?? {}, m);
    else if (m.schema === LIFECYCLE_SCHEMA) {
      lifecycle ??= new Map();
      const group = lifecycleGroup(m.tags.direction, m.tags.addr_port);
      lifecycle.set(group, add(lifecycle.get(group) ?? {}, m));
    } else if (doctor && doctorSchemas.has(m.schema)) {
      const check = doctorSchemas.get(m.schema)!;
      for (const measure in m.fields) {
        const key = `${check},${measure}`;
        const list = doctor.get(key) ?? [];
        list.push({ value: Number(m.fields[measure]) || 0, tags: m.tags });
        doctor.set(key, list);
      }
    }
  }
  for (const list of doctor?.values() ?? []) list.sort((a, b) => b.value - a.value);
  // the events point comes with every lifecycle gather: without it the collector did not run (no groups is not "unknown")
  if (lifecycleEvents) lifecycle ??= new Map();
  else lifecycle = undefined;
  return {
    netstat,
    portGroups,
    listeners,
    portRangeSize,
    lifecycle,
    lifecycleEvents,
    doctor,
    sockets: new Map(g.report.sources.map((s) => [s.protocol, s.sockets])),
    listenRan: metrics.some((m) => m.schema === LISTEN_SCHEMA) || g.report.collectors.some((c) => c.name === 'listen'),
  };
}

export type ValueType = 'UNSIGNED' | 'FLOAT' | 'TEXT';

/** A trigger on one item; `{item}` in the expression stands for `/<template>/<key>`. */
export interface TriggerDef {
  id: string;
  name: string;
  expression: string;
  priority: 'INFO' | 'WARNING' | 'AVERAGE' | 'HIGH' | 'DISASTER';
  description?: string;
}

/**
 * Zabbix preprocessing of a value: `perSecond` stores the change per second of the counter sent (Zabbix's
 * CHANGE_PER_SECOND: the first value, and a decrease after a restart, store nothing).
 */
export type Preprocessing = 'perSecond';

export interface ItemDef {
  key: string;
  name: string;
  valueType: ValueType;
  units?: string;
  /** undefined: the gather has no such value (the item is not sent) */
  value(f: GatherFacts): number | string | undefined;
  description?: string;
  triggers?: TriggerDef[];
  /** drawn in the "TCP states" graph */
  graphed?: boolean;
  preprocessing?: Preprocessing;
  /** the collector (off by default) whose gathers alone send this item */
  collector?: string;
}

export interface PrototypeDef {
  /** the key's second parameter */
  field: string;
  name: string;
  valueType: ValueType;
  units?: string;
  /** the value for one discovered entity; 0 when the entity is gone (it is still discovered for a while) */
  value(f: GatherFacts, entity: string): number;
  triggers?: TriggerDef[];
  preprocessing?: Preprocessing;
  /** the key when it is not `<family>[<entity>,<field>]`: from the entity (already quoted as a key parameter) */
  key?: (entity: string) => string;
  /**
   * A calculated item: the Zabbix server computes it from this formula (the rule's macro in it), every
   * `delay`; sockscope sends and answers nothing for it (`value` is not called).
   */
  calculated?: { formula: string; delay: string };
}

export interface DiscoveryDef {
  id: string;
  key: string;
  name: string;
  /** the LLD macro that names an entity, substituted into the prototypes' keys */
  macro: string;
  /** the prototypes' key: `<family>[<entity>,<field>]` */
  family: string;
  /** LLD rows, one per entity; undefined: this gather cannot tell (the rule's value is not sent) */
  rows(f: GatherFacts): Record<string, string>[] | undefined;
  /** how an item's name reads, with the macros */
  label: string;
  prototypes: PrototypeDef[];
  /** the collector (off by default) whose gathers alone send this rule and its prototypes */
  collector?: string;
}

/** A lifecycle group's LLD entity: direction and addr_port ("inbound:443", "outbound:remote:5432"). */
export const lifecycleGroup = (direction: string, addrPort: string) => `${direction}:${addrPort}`;

/** The lifecycle counters a Zabbix user reads per second, per group. */
const LIFECYCLE_RATES: readonly { field: string; name: string; units: string }[] = [
  { field: 'closed', name: 'connections closed per second', units: 'conn/s' },
  { field: 'bytes_sent', name: 'bytes sent (acknowledged) per second', units: 'Bps' },
  { field: 'bytes_received', name: 'bytes received per second', units: 'Bps' },
  { field: 'closed_retrans_segs', name: 'segments retransmitted by closed connections, per second', units: 'segments/s' },
];

/**
 * The final-RTT histogram per group, as Zabbix's histogram functions take one: one item per bucket,
 * `sockscope.lifecycle.rtt[<le>,<group>]`, the upper bound first (bucket_rate_foreach() and bucket_percentile()
 * read it from key parameter 1), each the cumulative counter it is (no preprocessing: those functions take the
 * rate themselves, as PromQL's do).
 */
export const LIFECYCLE_RTT_FAMILY = 'sockscope.lifecycle.rtt';
const RTT_BUCKET_ITEMS = [...RTT_BUCKETS_SECONDS, '+Inf' as const].map((le) => ({ le: String(le), field: rttBucketField(le) }));

/** Counters of the closed connections' RTTs and durations, sent as they are (the calculated items below divide their rates). */
const LIFECYCLE_SUMS: readonly { field: string; name: string; valueType: ValueType; units?: string }[] = [
  { field: 'rtt_count', name: 'closed connections with a final RTT (counter)', valueType: 'UNSIGNED' },
  { field: 'rtt_sum_seconds', name: "sum of the closed connections' final RTTs (counter)", valueType: 'FLOAT', units: 's' },
  { field: 'duration_known', name: 'closed connections whose duration is known (counter)', valueType: 'UNSIGNED' },
  { field: 'duration_seconds_sum', name: "sum of the closed connections' known durations (counter)", valueType: 'FLOAT', units: 's' },
];

const G = '{#LIFECYCLE_GROUP}';
const W = '{$SOCKSCOPE.LIFECYCLE.WINDOW}';
const rateOf = (field: string) => `rate(//sockscope.lifecycle[${G},${field}],${W})`;
/** sum / count over the window, 0 when nothing closed in it (no division by zero: the item stays supported) */
const meanOf = (sum: string, count: string) => `${rateOf(sum)}/(${rateOf(count)}+(${rateOf(count)}=0))`;

/** What the Zabbix server computes from the counters, per group, over {$SOCKSCOPE.LIFECYCLE.WINDOW}. */
const LIFECYCLE_CALCULATED: readonly PrototypeDef[] = [
  ...([50, 99] as const).map(
    (pct): PrototypeDef => ({
      field: `rtt_p${pct}`,
      name: `final RTT of connections closed in the window, p${pct} (-1: none closed)`,
      valueType: 'FLOAT',
      units: 's',
      value: () => Number.NaN,
      calculated: { formula: `bucket_percentile(//${LIFECYCLE_RTT_FAMILY}[*,${G}],${W},${pct})`, delay: '1m' },
    }),
  ),
  {
    field: 'rtt_mean',
    name: 'final RTT of connections closed in the window, mean',
    valueType: 'FLOAT',
    units: 's',
    value: () => Number.NaN,
    calculated: { formula: meanOf('rtt_sum_seconds', 'rtt_count'), delay: '1m' },
  },
  {
    field: 'duration_mean',
    name: 'duration of connections closed in the window, mean (of those a gather saw open: lower bounds)',
    valueType: 'FLOAT',
    units: 's',
    value: () => Number.NaN,
    calculated: { formula: meanOf('duration_seconds_sum', 'duration_known'), delay: '1m' },
  },
];

const tcpLabel = (f: NetstatField) =>
  f === 'udp_socket' ? 'UDP sockets' : f === 'tcp_none' ? 'TCP sockets in no standard state' : `TCP ${f.slice(4).replace(/_/g, ' ').toUpperCase()}`;

/** The doctor's levels as Zabbix trigger priorities. */
const DOCTOR_PRIORITY: Record<Severity, TriggerDef['priority']> = { info: 'INFO', warning: 'WARNING', critical: 'HIGH' };
const DOCTOR_UNITS: Record<MeasureDefinition['unit'], string | undefined> = { sockets: undefined, percent: '%', per_minute: '/min', connections: undefined };

/** `{$SOCKSCOPE.DOCTOR.CLOSE_WAIT.SOCKETS.WARNING}`: a doctor threshold as a user macro. */
export const doctorMacro = (check: string, measure: string, level: Severity) => `{$SOCKSCOPE.DOCTOR.${check}.${measure}.${level}}`.toUpperCase();

/** The measures of the doctor's checks, in the table's order. */
const DOCTOR_MEASURES = (CHECKS as readonly CheckDefinition[]).flatMap((c) => c.measures.map((m) => ({ check: c, measure: m })));

/**
 * A doctor measure's triggers, one per level it has: "at or above this level's threshold and below the next
 * one's", so one problem stands for the measure at a time (the most severe it reached).
 */
function doctorTriggers(c: CheckDefinition, m: MeasureDefinition): TriggerDef[] {
  const levels = SEVERITIES.filter((l) => m[l] !== undefined);
  return levels.map((level, k) => {
    const next = levels[k + 1];
    return {
      id: `doctor:${c.id}:${m.name}:${level}`,
      name: `sockscope doctor ${c.id}: ${m.help} at ${level} level ({ITEM.LASTVALUE})`,
      expression: `last({item})>=${doctorMacro(c.id, m.name, level)}${next ? ` and last({item})<${doctorMacro(c.id, m.name, next)}` : ''}`,
      priority: DOCTOR_PRIORITY[level],
      description: `${c.explanation} What to do: ${c.advice} The culprit (${m.subject.join(', ')}) is in the item sockscope.doctor.findings; \`sockscope doctor\` on the host tells more (docs/doctor.md).`,
    };
  });
}

/** A doctor observation's culprit, from its tags (the finding's subject). */
function doctorSubject(tags: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  if (tags.process !== undefined) parts.push(`process ${tags.process} (pid ${tags.pid})`);
  if (tags.listener !== undefined) parts.push(`listener ${tags.listener}`);
  if (tags.local !== undefined) parts.push(`socket ${tags.local}`);
  if (tags.source !== undefined) parts.push(`from ${tags.source}`);
  if (tags.destination !== undefined) parts.push(`to ${tags.destination}`);
  if (tags.peer !== undefined) parts.push(`peer ${tags.peer}`);
  if (tags.netns !== undefined) parts.push(`netns ${tags.netns}`);
  return parts.join(', ');
}

/** At most this many lines in sockscope.doctor.findings (the worst of each measure first). */
const DOCTOR_FINDINGS_MAX = 100;

/** The text of sockscope.doctor.findings: one line per observation that reached a level, in the table's order. */
export function doctorFindingsText(doctor: ReadonlyMap<string, DoctorObservation[]>): string {
  const lines: string[] = [];
  for (const { check, measure } of DOCTOR_MEASURES) {
    for (const o of doctor.get(`${check.id},${measure.name}`) ?? []) {
      lines.push(`${check.id} ${measure.name} = ${round1(o.value)}${DOCTOR_UNITS[measure.unit] ?? ` ${measure.unit}`}: ${doctorSubject(o.tags)}`);
    }
  }
  if (lines.length === 0) return 'no finding';
  return lines.length > DOCTOR_FINDINGS_MAX
    ? [...lines.slice(0, DOCTOR_FINDINGS_MAX), `... and ${lines.length - DOCTOR_FINDINGS_MAX} more`].join('\n')
    : lines.join('\n');
}

const DOCTOR_ITEMS: readonly ItemDef[] = [
  ...DOCTOR_MEASURES.map(
    ({ check: c, measure: m }): ItemDef => ({
      key: `sockscope.doctor[${c.id},${m.name}]`,
      name: `Doctor ${c.id}: ${m.help} (worst subject)`,
      valueType: 'FLOAT',
      ...(DOCTOR_UNITS[m.unit] ? { units: DOCTOR_UNITS[m.unit] } : {}),
      collector: 'doctor',
      value: (f) => (f.doctor ? round1(f.doctor.get(`${c.id},${m.name}`)?.[0]?.value ?? 0) : undefined),
      triggers: doctorTriggers(c, m),
    }),
  ),
  {
    key: 'sockscope.doctor.findings',
    name: 'Doctor findings (culprits)',
    valueType: 'TEXT',
    collector: 'doctor',
    description: "Every observation of sockscope doctor's checks that reached a level in the last window, with its culprit.",
    value: (f) => (f.doctor ? doctorFindingsText(f.doctor) : undefined),
  },
];

export const ITEMS: readonly ItemDef[] = [
  ...NETSTAT_FIELDS.map(
    (field): ItemDef => ({
      key: `sockscope.netstat[${field}]`,
      name: tcpLabel(field),
      valueType: 'UNSIGNED',
      value: (f) => f.netstat?.[field],
      graphed: field.startsWith('tcp_') && field !== 'tcp_none',
      ...(field === 'tcp_close_wait'
        ? {
            triggers: [
              {
                id: 'close_wait',
                name: 'CLOSE_WAIT sockets piling up (an application is not closing connections)',
                expression: 'min({item},{$SOCKSCOPE.CLOSE_WAIT.PERIOD})>{$SOCKSCOPE.CLOSE_WAIT.MAX}',
                priority: 'WARNING',
                description: 'CLOSE_WAIT: the peer closed, the local application has not. They only grow until the application closes them.',
              },
            ],
          }
        : {}),
    }),
  ),
  ...(['tcp', 'udp', 'unix'] as const).map(
    (p): ItemDef => ({
      key: `sockscope.sockets[${p}]`,
      name: p === 'tcp' ? 'TCP sockets' : p === 'udp' ? 'UDP sockets (all)' : 'Unix sockets',
      valueType: 'UNSIGNED',
      value: (f) => f.sockets.get(p),
    }),
  ),
  {
    key: 'sockscope.listen.backlog.max_pct',
    name: 'Fullest listen backlog, %',
    valueType: 'FLOAT',
    units: '%',
    value: (f) => (f.listenRan ? round1(Math.max(0, ...[...f.listeners.values()].map((l) => l.queuePct))) : undefined),
    triggers: [
      {
        id: 'backlog',
        name: 'A listen backlog is nearly full (connections will be dropped)',
        expression: 'min({item},{$SOCKSCOPE.BACKLOG.PERIOD})>{$SOCKSCOPE.BACKLOG.PCT.MAX}',
        priority: 'HIGH',
      },
    ],
  },
  { key: 'sockscope.local_port_range.size', name: 'Ephemeral port range size', valueType: 'UNSIGNED', value: (f) => f.portRangeSize },
  {
    key: 'sockscope.lifecycle.events[received]',
    name: 'Closed-connection events received per second',
    valueType: 'FLOAT',
    units: 'events/s',
    preprocessing: 'perSecond',
    collector: 'lifecycle',
    value: (f) => f.lifecycleEvents?.events,
  },
  {
    key: 'sockscope.lifecycle.events[lost]',
    name: 'Closed-connection events lost per second (receive buffer overrun)',
    valueType: 'FLOAT',
    units: 'events/s',
    preprocessing: 'perSecond',
    collector: 'lifecycle',
    value: (f) => f.lifecycleEvents?.lost,
    triggers: [
      {
        id: 'lifecycle_lost',
        name: 'Closed-connection events lost (raise [collectors.lifecycle] rcvbuf_bytes)',
        expression: 'max({item},{$SOCKSCOPE.LIFECYCLE.LOST.PERIOD})>0',
        priority: 'WARNING',
        description: 'The kernel dropped destroy events the agent had no buffer room for: the lifecycle counters miss those connections (docs/lifecycle.md).',
      },
    ],
  },
  ...DOCTOR_ITEMS,
];

export const DISCOVERY: readonly DiscoveryDef[] = [
  {
    id: 'portgroups',
    key: 'sockscope.portgroups.discovery',
    name: 'Port groups',
    macro: '{#ADDR_PORT}',
    family: 'sockscope.port',
    label: '{#ADDR_PORT}',
    rows: (f) => [...f.portGroups.keys()].map((a) => ({ '{#ADDR_PORT}': a })),
    prototypes: NETSTAT_FIELDS.map(
      (field): PrototypeDef => ({
        field,
        name: tcpLabel(field),
        valueType: 'UNSIGNED',
        value: (f, group) => f.portGroups.get(group)?.[field] ?? 0,
      }),
    ),
  },
  {
    // one row per port (a port often listens on 0.0.0.0 and [::]): the prototypes' keys hold only {#PORT}
    id: 'listen',
    key: 'sockscope.ports.discovery',
    name: 'Listening TCP ports',
    macro: '{#PORT}',
    family: 'sockscope.listen',
    label: 'port {#PORT} ({#ADDR})',
    rows: (f) =>
      f.listenRan
        ? [...f.listeners].sort((a, b) => Number(a[0]) - Number(b[0])).map(([port, l]) => ({ '{#PORT}': port, '{#ADDR}': l.addrs.join(' ') }))
        : undefined,
    prototypes: [
      { field: 'accept_queue', name: 'accept queue', valueType: 'UNSIGNED', value: (f, port) => f.listeners.get(port)?.acceptQueue ?? 0 },
      { field: 'backlog', name: 'backlog', valueType: 'UNSIGNED', value: (f, port) => f.listeners.get(port)?.backlog ?? 0 },
      {
        field: 'queue_pct',
        name: 'accept queue, % of the backlog',
        valueType: 'FLOAT',
        units: '%',
        value: (f, port) => round1(f.listeners.get(port)?.queuePct ?? 0),
        triggers: [
          {
            id: 'port-backlog',
            name: 'Listen backlog of port {#PORT} nearly full (connections will be dropped)',
            expression: 'min({item},{$SOCKSCOPE.BACKLOG.PERIOD})>{$SOCKSCOPE.BACKLOG.PCT.MAX}',
            priority: 'HIGH',
          },
        ],
      },
    ],
  },
  {
    id: 'lifecycle',
    key: 'sockscope.lifecycle.discovery',
    name: 'Lifecycle groups (closed connections)',
    macro: '{#LIFECYCLE_GROUP}',
    family: 'sockscope.lifecycle',
    label: '{#DIRECTION} {#ADDR_PORT}',
    collector: 'lifecycle',
    rows: (f) =>
      f.lifecycle
        ? [...f.lifecycle.keys()].sort().map((g) => {
            const at = g.indexOf(':');
            return { '{#LIFECYCLE_GROUP}': g, '{#DIRECTION}': g.slice(0, at), '{#ADDR_PORT}': g.slice(at + 1) };
          })
        : undefined,
    prototypes: [
      ...LIFECYCLE_RATES.map(
        (r): PrototypeDef => ({
          field: r.field,
          name: r.name,
          valueType: 'FLOAT',
          units: r.units,
          preprocessing: 'perSecond',
          value: (f, group) => f.lifecycle?.get(group)?.[r.field] ?? 0,
        }),
      ),
      ...LIFECYCLE_SUMS.map((c): PrototypeDef => ({ ...c, value: (f, group) => f.lifecycle?.get(group)?.[c.field] ?? 0 })),
      ...RTT_BUCKET_ITEMS.map(
        (b): PrototypeDef => ({
          field: b.field,
          name: `closed connections with a final RTT of at most ${b.le} s (cumulative counter)`,
          valueType: 'UNSIGNED',
          key: (group) => `${LIFECYCLE_RTT_FAMILY}[${b.le},${group}]`,
          value: (f, group) => f.lifecycle?.get(group)?.[b.field] ?? 0,
        }),
      ),
      ...LIFECYCLE_CALCULATED,
    ],
  },
];

/** Triggers over more than one item; `{<key>}` stands for `/<template>/<key>`. */
export const MULTI_ITEM_TRIGGERS: readonly TriggerDef[] = [
  {
    id: 'time_wait',
    name: 'TIME_WAIT sockets near the ephemeral port range (new outgoing connections may fail)',
    expression: 'last({sockscope.netstat[tcp_time_wait]})>last({sockscope.local_port_range.size})*{$SOCKSCOPE.TIME_WAIT.PCT.MAX}/100',
    priority: 'WARNING',
  },
];

/** Discovered entities that are gone keep their items this long (the rules' lifetime), and get 0 meanwhile. */
export const LLD_LIFETIME_DAYS = 7;

export const MACROS: readonly { macro: string; value: string; description: string }[] = [
  { macro: '{$SOCKSCOPE.CLOSE_WAIT.MAX}', value: '100', description: 'CLOSE_WAIT sockets tolerated for {$SOCKSCOPE.CLOSE_WAIT.PERIOD}' },
  { macro: '{$SOCKSCOPE.CLOSE_WAIT.PERIOD}', value: '10m', description: 'how long CLOSE_WAIT must stay above the maximum' },
  { macro: '{$SOCKSCOPE.BACKLOG.PCT.MAX}', value: '80', description: 'listen backlog use, %, tolerated for {$SOCKSCOPE.BACKLOG.PERIOD}' },
  { macro: '{$SOCKSCOPE.BACKLOG.PERIOD}', value: '5m', description: 'how long a backlog must stay above the maximum' },
  { macro: '{$SOCKSCOPE.TIME_WAIT.PCT.MAX}', value: '70', description: 'TIME_WAIT sockets as % of the ephemeral port range' },
  { macro: '{$SOCKSCOPE.LIFECYCLE.LOST.PERIOD}', value: '15m', description: 'a closed-connection event lost within this period raises the problem' },
  ...DOCTOR_MEASURES.flatMap(({ check: c, measure: m }) =>
    SEVERITIES.filter((l) => m[l] !== undefined).map((level) => ({
      macro: doctorMacro(c.id, m.name, level),
      value: String(m[level]),
      description: `sockscope doctor ${c.id}: ${m.help}, ${level} at or above (the default of doctor.${c.id}.${m.name}_${level}, docs/doctor.md)`,
    })),
  ),
  {
    macro: '{$SOCKSCOPE.LIFECYCLE.WINDOW}',
    value: '5m',
    description: "the window of the lifecycle groups' calculated items (RTT percentiles and means, mean duration of the connections closed in it)",
  },
  {
    macro: '{$SOCKSCOPE.LLD.LIFETIME}',
    value: `${LLD_LIFETIME_DAYS}d`,
    description: 'how long items of a port group or listening port that is gone are kept (sockscope agent sends 0 for them meanwhile)',
  },
];

/**
 * An item key parameter, quoted exactly when Zabbix's quote_key_param quotes it (it starts with '"', ' ' or
 * '[', or holds ',' or ']'), so the pushed key is byte for byte the key Zabbix makes from the LLD prototype.
 */
export function quoteParam(p: string): string {
  return /^["[ ]/.test(p) || /[,\]]/.test(p) ? `"${p.replace(/"/g, '\\"')}"` : p;
}

/** A prototype's key for one entity (or, with the rule's macro as the entity, the prototype's own key). */
export function prototypeKey(rule: DiscoveryDef, entity: string, field: string): string {
  const own = rule.prototypes.find((p) => p.field === field)?.key;
  return own ? own(quoteParam(entity)) : `${rule.family}[${quoteParam(entity)},${field}]`;
}
