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

/**
 * A rendered exposition without its HELP/TYPE lines: every family's sample lines as UTF-8 in one buffer (a
 * byte range per family, families sorted by name). Both formats share the samples and differ only in the
 * family lines and OpenMetrics' `# EOF`, so one rendering serves both; it crosses from the gather worker as a
 * transferred buffer, and assembleExposition adds the family lines (and merges the agent's self-metrics).
 */
export interface Exposition {
  families: { name: string; help: string; counter: boolean; start: number; end: number }[];
  bytes: Uint8Array;
}

const escLabel = (v: string) => (/[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v);
const escHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const labelNames = new Map<string, string>();
const labelName = (k: string): string => {
  let n = labelNames.get(k);
  if (n === undefined) {
    n = k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(?=\d)/, '_');
    if (labelNames.size < 4096) labelNames.set(k, n); // tag keys come from the configuration: few
  }
  return n;
};
const FAMILY_VALUES: Record<string, string> = { '4': 'ipv4', '6': 'ipv6', unknown: 'unknown' };

/** A field's own labels as rendered after the metric's labels, e.g. `state="established"`, once per spec. */
const fieldLabelText = new WeakMap<object, { keys: string[]; text: string }>();
function fieldLabels(labels: Record<string, string>): { keys: string[]; text: string } {
  let r = fieldLabelText.get(labels);
  if (!r) {
    const keys = Object.keys(labels);
    fieldLabelText.set(labels, (r = { keys, text: keys.map((k) => `${k}="${escLabel(labels[k])}"`).join(',') }));
  }
  return r;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The HELP and TYPE lines of a family. OpenMetrics names a counter family without its _total suffix; the samples keep it. */
function familyLines(name: string, help: string, counter: boolean, format: ExpositionFormat): string {
  const familyName = format === 'openmetrics' && counter ? name.replace(/_total$/, '') : name;
  return `# HELP ${familyName} ${escHelp(help)}\n# TYPE ${familyName} ${counter ? 'counter' : 'gauge'}\n`;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class PrometheusWriter {
  private readonly families = new Map<string, Family>();
  /** family name and state per prom mapping object, so a sample does not build its family name again */
  private readonly byProm = new Map<object, { name: string; fam: Family }>();

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
    const render = (without?: readonly string[]) => {
      let out = '';
      for (const [k, v] of labels) if (!without || !without.includes(k)) out += `${out ? ',' : ''}${k}="${escLabel(v)}"`;
      return out;
    };
    const base = render();
    for (const k in m.fields) {
      const spec: FieldSpec | undefined = m.schema.fields[k];
      const prom = spec?.prom;
      const v = m.fields[k];
      if (!prom || typeof v !== 'number') continue;
      let at = this.byProm.get(prom);
      if (!at) {
        const name = this.prefix + prom.name;
        let fam = this.families.get(name);
        if (!fam) this.families.set(name, (fam = { help: prom.help ?? spec.help, counter: !!spec.counter, samples: [], seen: new Set() }));
        this.byProm.set(prom, (at = { name, fam }));
      }
      const { name, fam } = at;
      let ls = base;
      if (prom.labels) {
        // the field's labels replace the metric's of the same name and come last
        const own = fieldLabels(prom.labels);
        if (own.keys.some((lk) => labels.has(lk))) ls = render(own.keys);
        if (own.text) ls = ls ? `${ls},${own.text}` : own.text;
      }
      if (fam.seen.has(ls)) continue;
      fam.seen.add(ls);
      // scaled values are rounded to 15 significant digits: 57 µs is 0.000057 s, not 0.000056999999999999996
      const value = prom.scale ? Number((v * prom.scale).toPrecision(15)) : v;
      fam.samples.push(ls ? `${name}{${ls}} ${formatValue(value)}` : `${name} ${formatValue(value)}`);
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
    let out = '';
    for (const name of [...this.families.keys()].sort(byName)) {
      const f = this.families.get(name)!;
      out += `${familyLines(name, f.help, f.counter, format)}${f.samples.join('\n')}\n`;
    }
    if (format === 'openmetrics') out += '# EOF\n';
    return out;
  }

  /** The samples as UTF-8, per family (see Exposition): what assembleExposition turns into either format. */
  exposition(): Exposition {
    const names = [...this.families.keys()].sort(byName);
    const texts = names.map((n) => `${this.families.get(n)!.samples.join('\n')}\n`);
    const sizes = texts.map((t) => Buffer.byteLength(t));
    const bytes = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    const encoder = new TextEncoder();
    const families: Exposition['families'] = [];
    let at = 0;
    names.forEach((name, k) => {
      const f = this.families.get(name)!;
      encoder.encodeInto(texts[k], bytes.subarray(at, at + sizes[k]));
      families.push({ name, help: f.help, counter: f.counter, start: at, end: (at += sizes[k]) });
    });
    return { families, bytes };
  }
}

/**
 * One exposition body from rendered parts (the gather's, then the agent's self-metrics), in `format`: families
 * sorted by name, each with its HELP and TYPE lines once, OpenMetrics' `# EOF` once at the end. The parts'
 * family names are expected to be distinct; a name in several parts gets the first part's HELP and TYPE and
 * the samples of each, in part order. Equal to PrometheusWriter.text() had every sample gone to one writer.
 */
export function assembleExposition(parts: readonly Exposition[], format: ExpositionFormat): Buffer {
  const all = parts.flatMap((p) => p.families.map((f) => ({ f, bytes: p.bytes })));
  all.sort((a, b) => byName(a.f.name, b.f.name)); // stable: a name's parts stay in part order
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let k = 0; k < all.length; k++) {
    const { f, bytes } = all[k];
    if (k === 0 || all[k - 1].f.name !== f.name) {
      const lines = Buffer.from(familyLines(f.name, f.help, f.counter, format));
      chunks.push(lines);
      size += lines.length;
    }
    chunks.push(bytes.subarray(f.start, f.end));
    size += f.end - f.start;
  }
  if (format === 'openmetrics') {
    chunks.push(EOF);
    size += EOF.length;
  }
  return Buffer.concat(chunks, size);
}

const EOF = Buffer.from('# EOF\n');

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
