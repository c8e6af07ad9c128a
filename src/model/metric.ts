/**
 * The one metric model every serializer reads (Influx line protocol, Prometheus/OpenMetrics, JSON, Zabbix):
 * a measurement name, tags, typed fields, a time. A measurement's field types are declared once in its
 * schema, so a field never changes type between gathers.
 */
export type FieldType = 'int' | 'uint' | 'float' | 'string' | 'bool';

export interface FieldSpec {
  type: FieldType;
  /** one line for Prometheus HELP and the docs */
  help: string;
  /** base unit after conversion at the edge ('bytes', 'seconds'); undefined for counts */
  unit?: string;
  /** a monotonically growing counter (Prometheus _total), not a gauge */
  counter?: boolean;
  /**
   * How the Prometheus serializer exposes this field: family sockscope_<name> (units and _total in the
   * name already), extra labels, a scale to the base unit. Fields without it are not exposed to Prometheus.
   */
  prom?: {
    name: string;
    labels?: Record<string, string>;
    scale?: number;
    help?: string;
    /**
     * A sample of the histogram family `name` (TYPE histogram): `bucket` (with an `le` label, cumulative),
     * `sum` or `count`, written as name_bucket / name_sum / name_count. A metric's fields give its buckets in
     * increasing `le`, then sum and count.
     */
    histogram?: 'bucket' | 'sum' | 'count';
  };
  /** a string field Prometheus shows as a label (with this name) on the metric's other families */
  promLabel?: string;
}

export interface MeasurementSchema {
  name: string;
  help: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

export type FieldValue = number | string | boolean;

export interface Metric {
  schema: MeasurementSchema;
  /** tag key → value; serializers sort keys */
  tags: Record<string, string>;
  /** field key → value, typed by schema.fields[key].type; an absent key is an absent field */
  fields: Record<string, FieldValue>;
  /** milliseconds since the epoch (the gather's snapshot time) */
  time: number;
}
