/**
 * Prometheus exposition: text format 0.0.4 and OpenMetrics 1.0, from the same metric model. Each schema field
 * with a `prom` mapping becomes samples of family sockscope_<name>; the metric's tags become labels (DataKit's
 * ip_version tag becomes family="ipv4|ipv6|unknown", node_exporter style), string fields marked `promLabel`
 * become labels, and the field's own labels are added (e.g. state="established"). HELP on every family, TYPE
 * gauge or counter. A second sample with the same labels in a family is dropped (Prometheus rejects
 * duplicates).
 */
import type { FieldSpec, Metric } from '../model/metric.js';

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPE: Record<ExpositionFormat, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

interface Family {
  help: string;
  counter: boolean;
  samples: string[];
  seen: Set<string>;
}

const escLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const labelName = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(?=\d)/, '_');
const FAMILY_VALUES: Record<string, string> = { '4': 'ipv4', '6': 'ipv6', unknown: 'unknown' };

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class PrometheusWriter {
  private readonly families = new Map<string, Family>();

  constructor(private readonly prefix = 'sockscope_') {}

  write = (m: Metric): void => {
    // A label name appears once (Prometheus rejects the whole scrape otherwise): the measurement's own labels
    // (family from ip_version, a promLabel field, a field's labels) win over a user tag of the same name.
    const labels = new Map<string, string>();
    for (const k in m.tags) if (k !== 'ip_version') labels.set(labelName(k), m.tags[k]);
    if (m.tags.ip_version !== undefined) labels.set('family', FAMILY_VALUES[m.tags.ip_version] ?? m.tags.ip_version);
    for (const k in m.fields) {
      const spec = m.schema.fields[k];
      if (spec?.promLabel) labels.set(spec.promLabel, String(m.fields[k]));
    }
    const render = (without?: Record<string, string>) => {
      let out = '';
      for (const [k, v] of labels) if (!without || !(k in without)) out += `${out ? ',' : ''}${k}="${escLabel(v)}"`;
      return out;
    };
    const base = render();
    for (const k in m.fields) {
      const spec: FieldSpec | undefined = m.schema.fields[k];
      const prom = spec?.prom;
      const v = m.fields[k];
      if (!prom || typeof v !== 'number') continue;
      const name = this.prefix + prom.name;
      let fam = this.families.get(name);
      if (!fam) this.families.set(name, (fam = { help: prom.help ?? spec.help, counter: !!spec.counter, samples: [], seen: new Set() }));
      let ls = prom.labels ? render(prom.labels) : base;
      if (prom.labels) for (const [lk, lv] of Object.entries(prom.labels)) ls += `${ls ? ',' : ''}${lk}="${escLabel(lv)}"`;
      if (fam.seen.has(ls)) continue;
      fam.seen.add(ls);
      // scaled values are rounded to 15 significant digits: 57 µs is 0.000057 s, not 0.000056999999999999996
      const value = prom.scale ? Number((v * prom.scale).toPrecision(15)) : v;
      fam.samples.push(`${name}${ls ? `{${ls}}` : ''} ${formatValue(value)}`);
    }
  };

  /** Add a family directly (self-metrics that are not measurements). */
  sample(name: string, help: string, type: 'gauge' | 'counter', labels: Record<string, string>, value: number): void {
    const full = this.prefix + name;
    let fam = this.families.get(full);
    if (!fam) this.families.set(full, (fam = { help, counter: type === 'counter', samples: [], seen: new Set() }));
    const ls = Object.entries(labels).map(([k, v]) => `${labelName(k)}="${escLabel(v)}"`).join(',');
    if (fam.seen.has(ls)) return;
    fam.seen.add(ls);
    fam.samples.push(`${full}${ls ? `{${ls}}` : ''} ${formatValue(value)}`);
  }

  /** The exposition text, families in a stable (sorted) order. */
  text(format: ExpositionFormat = 'text'): string {
    const out: string[] = [];
    for (const name of [...this.families.keys()].sort()) {
      const f = this.families.get(name)!;
      // OpenMetrics names a counter family without its _total suffix; the samples keep it.
      const familyName = format === 'openmetrics' && f.counter ? name.replace(/_total$/, '') : name;
      out.push(`# HELP ${familyName} ${escHelp(f.help)}`);
      out.push(`# TYPE ${familyName} ${f.counter ? 'counter' : 'gauge'}`);
      out.push(...f.samples);
    }
    if (format === 'openmetrics') out.push('# EOF');
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

/**
 * Choose the exposition format from an Accept header, as Prometheus negotiates: OpenMetrics when it is
 * accepted (with version 1.0.0 or none) and preferred by q-value, else text 0.0.4.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let best: { format: ExpositionFormat; q: number } = { format: 'text', q: -1 };
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';').map((x) => x.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((y) => y.trim())));
    const q = p.q === undefined ? 1 : Number(p.q);
    if (!Number.isFinite(q) || q <= 0) continue;
    let format: ExpositionFormat | undefined;
    if (type === 'application/openmetrics-text' && (p.version === undefined || p.version.startsWith('1.0'))) format = 'openmetrics';
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') format = 'text';
    if (format && q > best.q) best = { format, q };
  }
  return best.format;
}
