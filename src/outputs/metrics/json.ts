/**
 * JSON in Telegraf's json serializer shape (batch format): {"metrics":[{"fields":{},"name":"","tags":{},
 * "timestamp":<unix seconds>}]}. Non-finite numbers are dropped (JSON has none).
 */
import type { Metric } from '../../model/metric.js';

export function metricJson(m: Metric): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const k in m.fields) {
    const v = m.fields[k];
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    fields[k] = v;
  }
  return { fields, name: m.schema.name, tags: m.tags, timestamp: Math.floor(m.time / 1000) };
}

export class JsonWriter {
  private parts: string[] = [];
  write = (m: Metric): void => {
    this.parts.push(JSON.stringify(metricJson(m)));
  };
  take(): string {
    const text = `{"metrics":[${this.parts.join(',')}]}\n`;
    this.parts = [];
    return text;
  }
}
