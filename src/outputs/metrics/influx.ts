/**
 * InfluxDB line protocol (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/):
 *   measurement,tag=v,tag2=v field=1i,field2="s" 1668520568000000000
 * Escaping: measurement , and space; tag keys, tag values, field keys , = and space; string field values " and
 * \. Tags sorted by key (what InfluxDB prefers). Integers end in i; unsigned integers in u, or in i when
 * `uintAsInt` (Telegraf's default, influx_uint_support = false). NaN and ±Infinity are dropped, and a point
 * left with no field is not written. Timestamps in nanoseconds.
 */
import type { Metric } from '../../model/metric.js';

export interface InfluxOptions {
  /** write unsigned fields with the i suffix (Telegraf's default); default true */
  uintAsInt?: boolean;
  /** timestamp precision (default ns) */
  precision?: 'ns' | 'us' | 'ms' | 's';
}

// Line protocol has no escape for a newline: it becomes a space. Backslashes are literal except before an
// escaped character, so they are left alone; a trailing one would escape the separator after it, so it is
// dropped (as Telegraf's serializer does).
const escMeasurement = (s: string) => (/[, \n]/.test(s) ? s.replace(/\n/g, ' ').replace(/([, ])/g, '\\$1') : s);
/** A tag key, tag value or field key as a line writes it ('' leaves the tag out). */
export const escKey = (raw: string) => {
  const s = raw.replace(/\\+$/, '');
  return /[,= \n]/.test(s) ? s.replace(/\n/g, ' ').replace(/([,= ])/g, '\\$1') : s;
};
/** A string field value's text between its quotes. */
export const escString = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** One line (without newline), or '' when no field survives. */
export function influxLine(m: Metric, o: InfluxOptions = {}): string {
  const uintSuffix = o.uintAsInt === false ? 'u' : 'i';
  let line = escMeasurement(m.schema.name);
  const keys = Object.keys(m.tags).sort();
  for (const k of keys) {
    const key = escKey(k);
    const v = escKey(m.tags[k]);
    if (key === '' || v === '') continue; // an empty tag key or value is invalid line protocol
    line += `,${key}=${v}`;
  }
  let fields = '';
  for (const k in m.fields) {
    const v = m.fields[k];
    const spec = m.schema.fields[k];
    let text: string;
    switch (spec?.type) {
      case 'int':
        if (!Number.isFinite(v)) continue;
        text = `${Math.trunc(v as number)}i`;
        break;
      case 'uint':
        if (!Number.isFinite(v) || (v as number) < 0) continue;
        text = `${Math.trunc(v as number)}${uintSuffix}`;
        break;
      case 'float':
        if (!Number.isFinite(v)) continue;
        text = String(v);
        break;
      case 'bool':
        text = v ? 'true' : 'false';
        break;
      case 'string':
        text = `"${escString(String(v))}"`;
        break;
      default:
        continue; // a field outside the schema is a bug upstream; never write an untyped value
    }
    const key = escKey(k);
    if (key === '') continue;
    fields += `${fields ? ',' : ''}${key}=${text}`;
  }
  if (!fields) return '';
  return `${line} ${fields} ${timestamp(m.time, o.precision ?? 'ns')}`;
}

const last = { ms: NaN, precision: '', text: '' };
/** ms → text in the precision, cached: every metric of a gather shares one time. */
export function timestamp(ms: number, precision: string): string {
  if (ms !== last.ms || precision !== last.precision) {
    const whole = BigInt(Math.round(ms));
    last.text = (precision === 'ns' ? whole * 1_000_000n : precision === 'us' ? whole * 1000n : precision === 'ms' ? whole : whole / 1000n).toString();
    last.ms = ms;
    last.precision = precision;
  }
  return last.text;
}

/** A serializer that appends lines to a string (consumes each metric as it is emitted). */
export class InfluxWriter {
  private parts: string[] = [];
  constructor(private readonly o: InfluxOptions = {}) {}
  write = (m: Metric): void => {
    const line = influxLine(m, this.o);
    if (line) this.parts.push(line);
  };
  /** The text so far (newline-terminated lines), and reset. */
  take(): string {
    const text = this.parts.length ? `${this.parts.join('\n')}\n` : '';
    this.parts = [];
    return text;
  }
}
