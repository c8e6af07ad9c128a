/**
 * The one list of collectors. Everything named per collector comes from here: the measurement names
 * (--measurement, the agent's [collectors.*] sections), the snapshot plan of a gather, the configuration's
 * defaults, schema and sample section, and each measurement's fields (Zabbix items, docs). Adding a collector is
 * its file and one line in COLLECTORS.
 */
import { SockscopeError } from '../errors.js';
import { Ext, type ProtoName } from '../diag/constants.js';
import type { FieldSpec, MeasurementSchema, Metric } from '../model/metric.js';
import type { SnapshotOptions } from '../snapshot/snapshot.js';
import { type EstablishedNeed, widerNeed } from '../snapshot/established.js';
import type { AnyCollector, GatherConfig, HostFactName, SnapshotNeeds } from './collector.js';
import { doctorCollector } from './doctor.js';
import { lifecycleCollector } from './lifecycle.js';
import { listenCollector } from './listen.js';
import { netstatCollector } from './netstat.js';
import { netstatPortCollector } from './netstat-port.js';
import { socketstatCollector } from './socketstat.js';
import { NETNS_SCHEMA } from '../netns/counters.js';

/** In the order they run in a gather, and their sections appear in the configuration. */
export const COLLECTORS = [netstatCollector, netstatPortCollector, socketstatCollector, listenCollector, lifecycleCollector, doctorCollector] as const;
const ALL: readonly AnyCollector[] = COLLECTORS;

export const MEASUREMENTS: readonly string[] = ALL.map((c) => c.name);

export function collectorNamed(name: string): AnyCollector | undefined {
  return ALL.find((c) => c.name === name);
}

/** The collectors a gather runs, in the config's order; an unknown name is a usage error naming the choices. */
export function collectorsOf(c: GatherConfig): AnyCollector[] {
  return c.measurements.map((name) => {
    const found = collectorNamed(name);
    if (!found)
      throw new SockscopeError('ESOCKSCOPE_USAGE', `unknown measurement '${name}': expected one of ${MEASUREMENTS.join(', ')}`, {
        key: 'measurement',
        value: name,
      });
    return found;
  });
}

export interface SnapshotPlan {
  /** rows, not a census */
  table: boolean;
  options: SnapshotOptions;
  /** host facts some collector reads */
  facts: HostFactName[];
}

const PROTOCOL_ORDER: readonly ProtoName[] = ['tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp', 'unix'];

/** The one snapshot these collectors need: the union of what each needs. */
export function planSnapshot(c: GatherConfig): SnapshotPlan {
  const protocols = new Set<ProtoName>();
  let table = false;
  let ext = 0;
  let unixShow = 0;
  let perFamily = false;
  let established = 'count' as EstablishedNeed;
  const establishedPorts = new Set<number>();
  const facts = new Set<HostFactName>();
  const merge = (n: SnapshotNeeds) => {
    for (const p of n.protocols) protocols.add(p);
    table ||= n.table;
    ext |= n.ext ?? 0;
    unixShow |= n.unixShow ?? 0;
    perFamily ||= !!n.timeWaitPerFamily;
    if (n.protocols.includes('tcp')) established = widerNeed(established, n.established ?? 'all');
    for (const port of n.establishedPorts ?? []) establishedPorts.add(port);
  };
  for (const collector of collectorsOf(c)) {
    const o = collector.options(c);
    merge(collector.needs(o));
    for (const f of collector.facts(o)) facts.add(f);
  }
  merge({ protocols: c.countProtocols ?? [], table: false, established: 'count' });
  if (!protocols.has('tcp')) ext &= ~Ext.info; // tcp_info only for TCP
  const options: SnapshotOptions = { protocols: PROTOCOL_ORDER.filter((p) => protocols.has(p)), ext, unixShow, keepAttributes: ext !== 0 || unixShow !== 0 };
  // a census summed over families: TIME_WAIT from the kernel's counter, not dumped
  if (!table && !perFamily) options.timeWaitFromCounter = true;
  // ESTABLISHED: only what the collectors read of them (src/snapshot/established.ts)
  if (established !== 'all' && protocols.has('tcp')) {
    options.established = established;
    if (established === 'listening-ports' && establishedPorts.size > 0) options.establishedPorts = [...establishedPorts].sort((a, b) => a - b);
  }
  return { table, options, facts: [...facts] };
}

/** The [collectors] section's defaults: each collector's section with `enabled`. */
export function collectorDefaults(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(ALL.map((c) => [c.name, { enabled: c.enabledByDefault, ...structuredClone(c.config.defaults) }]));
}

/** The [collectors] section's JSON Schema. */
export function collectorConfigSchema(): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(
      ALL.map((c) => [
        c.name,
        {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, ...c.config.schema },
        },
      ]),
    ),
  };
}

/** The [collectors.*] sections of `config sample`. */
export function collectorSample(): string {
  return ALL.map((c) => `[collectors.${c.name}]\n  ## ${c.config.about}\n  enabled = ${c.enabledByDefault}\n${c.config.sample}`).join('\n');
}

/** A gather's config from the [collectors] section (validated: ESOCKSCOPE_CONFIG names the key). */
export function gatherConfigFromSections(sections: object): GatherConfig {
  const bySection = sections as Record<string, ({ enabled?: boolean } & object) | undefined>;
  const config: GatherConfig = { measurements: ALL.filter((c) => bySection[c.name]?.enabled).map((c) => c.name) };
  for (const c of ALL) if (bySection[c.name]) Object.assign(config, c.config.gather(bySection[c.name], `collectors.${c.name}`));
  return config;
}

/** A measurement's fields, for deriving items (Zabbix), docs and checks. */
export interface MeasurementField {
  collector: string;
  measurement: string;
  field: string;
  spec: FieldSpec;
}

export function measurementFields(): MeasurementField[] {
  return ALL.flatMap((c) =>
    c.schemas.flatMap((s: MeasurementSchema) => Object.entries(s.fields).map(([field, spec]) => ({ collector: c.name, measurement: s.name, field, spec }))),
  );
}

/** Every measurement schema by a stable key, so metrics can cross a thread boundary as plain data. */
export const SCHEMAS: Record<string, MeasurementSchema> = {};
for (const c of ALL) {
  for (const s of c.schemas) SCHEMAS[SCHEMAS[s.name] ? `${s.name}_${Object.keys(SCHEMAS).length}` : s.name] = s;
}
// the netns measurement (each namespace's kernel counters, src/netns) is no collector of a snapshot, but crosses
// from the namespace walker's thread as the collectors' metrics do
SCHEMAS.netns = NETNS_SCHEMA;
const KEY_OF = new Map(Object.entries(SCHEMAS).map(([k, s]) => [s, k]));

export interface WireMetric {
  s: string;
  t: Record<string, string>;
  f: Metric['fields'];
  time: number;
}

export const toWire = (m: Metric): WireMetric => ({ s: KEY_OF.get(m.schema)!, t: m.tags, f: m.fields, time: m.time });
export const fromWire = (w: WireMetric): Metric => ({ schema: SCHEMAS[w.s], tags: w.t, fields: w.f, time: w.time });
