/** Every measurement schema by a stable key, so metrics can cross a thread boundary as plain data. */
import type { MeasurementSchema, Metric } from '../model/metric.js';
import { LIFECYCLE_EVENTS_SCHEMA, LIFECYCLE_SCHEMA } from './lifecycle.js';
import { LISTEN_SCHEMA, PORT_RANGE_SCHEMA } from './listen.js';
import { NETSTAT_SCHEMA } from './netstat.js';
import { NETSTAT_PORT_SCHEMA } from './netstat-port.js';
import { SOCKETSTAT_AGGREGATE_SCHEMA, SOCKETSTAT_SCHEMA } from './socketstat.js';

export const SCHEMAS: Record<string, MeasurementSchema> = {
  netstat: NETSTAT_SCHEMA,
  netstat_port: NETSTAT_PORT_SCHEMA,
  socketstat: SOCKETSTAT_SCHEMA,
  socketstat_aggregate: SOCKETSTAT_AGGREGATE_SCHEMA,
  listen: LISTEN_SCHEMA,
  local_port_range: PORT_RANGE_SCHEMA,
  lifecycle: LIFECYCLE_SCHEMA,
  lifecycle_events: LIFECYCLE_EVENTS_SCHEMA,
};
const KEY_OF = new Map(Object.entries(SCHEMAS).map(([k, s]) => [s, k]));

export interface WireMetric {
  s: string;
  t: Record<string, string>;
  f: Metric['fields'];
  time: number;
}

export const toWire = (m: Metric): WireMetric => ({ s: KEY_OF.get(m.schema)!, t: m.tags, f: m.fields, time: m.time });
export const fromWire = (w: WireMetric): Metric => ({ schema: SCHEMAS[w.s], tags: w.t, fields: w.f, time: w.time });
