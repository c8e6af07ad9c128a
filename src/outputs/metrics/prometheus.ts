/**
 * Prometheus exposition: text format 0.0.4 and OpenMetrics 1.0, from the same metric model. Each schema field
 * with a `prom` mapping becomes samples of family sockscope_<name>; the metric's tags become labels (DataKit's
 * ip_version tag becomes family="ipv4|ipv6|unknown", node_exporter style), string fields marked `promLabel`
 * become labels, and the field's own labels are added (e.g. state="established"). HELP on every family, TYPE
 * gauge or counter. A second sample with the same labels in a family is dropped (Prometheus rejects
 * duplicates).
 */
import type { FieldSpec, MeasurementSchema, Metric } from '../../model/metric.js';
import { ByteBuffer, putUint } from '../text/bytes.js';

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPE: Record<ExpositionFormat, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * One family's samples, written as UTF-8 bytes as they come (no string per sample). Duplicate label sets are
 * dropped (PrometheusWriter.firstTime): a sample's labels are the metric's (`a`) then the field's own (`b`, e.g.
 * state="listen", `bCount` labels); while every `b` of the family has the same number of labels, a label set
 * splits into its `a` and `b` one way only, so the pair identifies it; a family whose `b`s differ in size
 * switches to whole label strings (`seenFull`).
 */
class Family {
  readonly out: ByteBuffer;
  bCount = -1;
  seenFull: Set<string> | undefined;
  readonly nameBytes: Uint8Array;
  /** prefix of this family's keys in the writer's sets of (family, b) per `a` */
  readonly keyPrefix: string;

  /** TYPE histogram: samples are name_bucket, name_sum, name_count (append's sampleName) */
  histogram = false;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly counter: boolean,
  ) {
    this.nameBytes = new TextEncoder().encode(name);
    this.keyPrefix = `${name}\u0000`;
    this.out = new ByteBuffer(SIZE_HINT.get(name) ?? 4096);
  }

  /**
   * Append `<name>{a,b} value\n` (a histogram's samples name themselves: sampleName). `a` and `b` come as
   * UTF-8 bytes, encoded once per metric and once per field spec, not once per sample.
   */
  append(a: Uint8Array, b: Uint8Array, value: number, sampleName = this.nameBytes): void {
    this.out.ensure(sampleName.length + a.length + b.length + 40);
    const out = this.out.buf;
    let at = this.out.pos;
    out.set(sampleName, at);
    at += sampleName.length;
    if (a.length || b.length) {
      out[at++] = 0x7b; // {
      out.set(a, at);
      at += a.length;
      if (a.length && b.length) out[at++] = 0x2c; // ,
      out.set(b, at);
      at += b.length;
      out[at++] = 0x7d; // }
    }
    out[at++] = 0x20;
    at = putValue(out, at, value);
    out[at++] = 0x0a;
    this.out.pos = at;
  }

  /** the family's sample lines so far */
  get samples(): Uint8Array {
    return this.out.buf.subarray(0, this.out.pos);
  }
}

/**
 * Each family's size in the last exposition of this thread: the next writer's family starts that big instead of
 * doubling its way up (an agent renders the same families every gather). A few hundred names at most.
 */
const SIZE_HINT = new Map<string, number>();

const joinLabels = (a: string, b: string) => (a && b ? `${a},${b}` : a || b);

const utf8 = new TextEncoder();

/** Write text as UTF-8 at `at` (room for 3 bytes per UTF-16 unit is reserved); the end. */
function putText(out: Uint8Array, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return at + utf8.encodeInto(text.slice(i), out.subarray(at)).written; // rare: non-ASCII labels
    out[at++] = c;
  }
  return at;
}

/** Write a sample value as formatValue spells it; integers without making a string. */
function putValue(out: Uint8Array, at: number, v: number): number {
  if (Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0)) return putUint(out, at, v);
  return putText(out, at, formatValue(v));
}

/**
 * A rendered exposition without its HELP/TYPE lines: every family's sample lines as UTF-8 in one buffer (a
 * byte range per family, families sorted by name). Both formats share the samples and differ only in the
 * family lines and OpenMetrics' `# EOF`, so one rendering serves both; it crosses from the gather worker as a
 * transferred buffer, and assembleExposition adds the family lines (and merges the agent's self-metrics).
 */
export interface Exposition {
  families: { name: string; help: string; counter: boolean; histogram?: boolean; start: number; end: number }[];
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
function familyLines(name: string, help: string, counter: boolean, format: ExpositionFormat, histogram = false): string {
  const familyName = format === 'openmetrics' && counter ? name.replace(/_total$/, '') : name;
  return `# HELP ${familyName} ${escHelp(help)}\n# TYPE ${familyName} ${histogram ? 'histogram' : counter ? 'counter' : 'gauge'}\n`;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What a writer keeps per prom mapping object, so a sample builds none of it again. */
interface PromTarget {
  fam: Family;
  own: { keys: string[]; text: string } | undefined;
  /** the field's own labels as UTF-8 */
  ownBytes: Uint8Array;
  /** the bit of (family, own labels) in each label set's bits (see firstTime) */
  bit: number;
  /** `b` as firstTime sees it: the own labels, and a histogram sample's suffix */
  bKey: string;
  sampleName?: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

export class PrometheusWriter {
  private readonly families = new Map<string, Family>();
  /** family and own labels per prom mapping object, so a sample builds neither again */
  private readonly byProm = new Map<object, PromTarget>();
  /** each schema's fields in order with their targets (made on first use), and the last schema's (see targetsOf) */
  private readonly bySchema = new Map<MeasurementSchema, SchemaTargets>();
  private lastSchema: MeasurementSchema | undefined;
  private lastTargets: SchemaTargets | undefined;
  /**
   * The label sets written: each metric label text `a` has a slot of `stride` words in `bits`, a bit per
   * (family, field labels) key (`keys`, by bit) written with it. One lookup of `a` per metric (its fields share
   * it), then a bit per sample: no object per label set for the collector to sweep.
   */
  private readonly slotOfA = new Map<string, number>();
  private readonly bitOfKey = new Map<string, number>();
  private readonly keys: string[] = [];
  private bits = new Uint32Array(1024);
  private stride = 2;
  private lastA: string | undefined;
  private lastSlot = 0;
  /**
   * The slots are kept across reset() (an agent writes the same label sets every gather: their texts are not
   * made and hashed again); `epochs` says which slot was used in the current exposition, `used` how many, so
   * that slots of label sets gone for good are dropped when they outnumber those in use.
   */
  private epochs = new Uint32Array(512);
  private epoch = 1;
  private used = 0;
  /** label contexts by key (see context()), kept across reset() while their key is written every time */
  private readonly contexts = new Map<unknown, LabelContext>();
  private ctx: LabelContext | undefined;
  /** the tags every metric carries implicitly (context's `implied`), or undefined */
  private implied: Record<string, string> | undefined;
  /** the labels of the metric being written (scratch) */
  private readonly labels = new Labels();
  /** UTF-8 of the metric labels being written (scratch, grown as needed) */
  private scratch = new Uint8Array(1024);

  constructor(private readonly prefix = 'sockscope_') {}

  /**
   * Start again, keeping what is not per exposition: the families' buffers (written over from the start, so a
   * writer kept for every gather of a thread makes no new ones), the label texts and bits per field spec. The
   * label sets written are forgotten; a family left without samples is not in the next exposition.
   */
  reset(): void {
    for (const f of this.families.values()) {
      f.out.pos = 0;
      f.bCount = -1;
      f.seenFull = undefined;
    }
    this.bits.fill(0);
    this.ctx = undefined;
    this.implied = undefined;
    // a context not written since the last reset is gone (its namespace vanished or is no longer read)
    for (const [key, c] of this.contexts) {
      if (c.written) c.written = false;
      else this.contexts.delete(key);
    }
    if (this.slotOfA.size > 2 * this.used + 4096) {
      // mostly label sets of the past (values that churn): start again
      this.slotOfA.clear();
      this.contexts.clear();
      this.lastA = undefined;
      this.lastSlot = 0;
    }
    this.used = 0;
    if (++this.epoch === 0xffffffff) {
      this.epochs.fill(0);
      this.epoch = 1;
    }
  }

  /**
   * Labels every following metric starts with, until the next call (undefined: none): `tags` as a metric's
   * first tags, in their order, e.g. a namespace's (netns, pod, ...) on each of its metrics. Their text is
   * rendered once per `key` and kept across reset() while the same tags come with that key (a namespace whose
   * pod appears gets new text), and the label sets written under it are looked up by their other labels only.
   * The exposition is the same as without a context: a metric whose tags do not start with the context's,
   * or whose labels would replace one of the context's, is written as without one.
   *
   * `implied`: the following metrics carry the tags implicitly (their own tags are the rest): each is written as
   * a metric whose tags are `{ ...tags, ...m.tags }` would be, with or without a context (a namespace walk then
   * makes no such object per metric).
   */
  context(key: unknown, tags?: Record<string, string>, implied = false): void {
    this.ctx = undefined;
    this.implied = implied && tags && Object.keys(tags).length > 0 ? tags : undefined;
    if (key === undefined || !tags || tags.ip_version !== undefined) return;
    let c = this.contexts.get(key);
    if (!c || !sameTags(c, tags)) {
      const keys = Object.keys(tags);
      const values = keys.map((k) => tags[k]);
      const names = keys.map(labelName);
      const nameSet = new Set(names);
      if (nameSet.size !== names.length) return; // two tags of one label name: written as without a context
      const text = names.map((n, i) => labelPair(n, values[i])).join(',');
      this.contexts.set(key, (c = { keys, values, names, nameSet, text, written: false, sets: {} }));
    }
    c.written = true;
    this.ctx = c;
  }

  /** The slot of label text `a` in `bits` (made on first use), marked used in this exposition. */
  private slotOf(a: string): number {
    let slot = a === this.lastA ? this.lastSlot : this.slotOfA.get(a);
    if (slot === undefined) {
      slot = this.slotOfA.size;
      this.slotOfA.set(a, slot);
      if ((slot + 1) * this.stride > this.bits.length) this.regrow(this.stride);
      if (slot >= this.epochs.length) {
        const epochs = new Uint32Array(2 * this.epochs.length);
        epochs.set(this.epochs);
        this.epochs = epochs;
      }
    }
    this.lastA = a;
    this.lastSlot = slot;
    return this.useSlot(slot);
  }

  /** Mark a slot used in this exposition. */
  private useSlot(slot: number): number {
    if (this.epochs[slot] !== this.epoch) {
      this.epochs[slot] = this.epoch;
      this.used++;
    }
    return slot;
  }

  /** Add a metric's samples. A bound function, so `metrics.forEach(w.write)` works. */
  write = (m: Metric): void => this.writeMetric(m);

  /** `a` as UTF-8, in the scratch buffer (valid until the next call) */
  private encode(a: string): Uint8Array {
    if (a.length === 0) return NO_BYTES;
    if (this.scratch.length < 3 * a.length) this.scratch = new Uint8Array(3 * a.length + 1024);
    const n = utf8.encodeInto(a, this.scratch).written;
    return this.scratch.subarray(0, n);
  }

  /**
   * True the first time a family sees this label set: `a` the metric's labels, `t.bKey` the field's (plus a
   * histogram sample's suffix), `bCount` how many labels the field adds.
   */
  private firstTime(fam: Family, a: string, bit: number, bKey: string, bCount: number, knownSlot?: number): boolean {
    if (fam.bCount < 0) fam.bCount = bCount;
    if (fam.bCount === bCount && !fam.seenFull) {
      const slot = knownSlot ?? this.slotOf(a);
      const w = slot * this.stride + (bit >>> 5);
      const m = 1 << (bit & 31);
      if (this.bits[w] & m) return false;
      this.bits[w] |= m;
      return true;
    }
    if (!fam.seenFull) {
      // the family's label sets so far, as whole strings (rare: fields of one family with different label counts)
      fam.seenFull = new Set();
      const p = fam.keyPrefix;
      for (const [a0, slot] of this.slotOfA) {
        this.keys.forEach((k, b) => {
          if (k.startsWith(p) && this.bits[slot * this.stride + (b >>> 5)] & (1 << (b & 31))) fam.seenFull!.add(joinLabels(a0, k.slice(p.length)));
        });
      }
    }
    const full = joinLabels(a, bKey);
    if (fam.seenFull.has(full)) return false;
    fam.seenFull.add(full);
    return true;
  }

  /** The bit of a (family, field labels) key, made on first use (the slots widen when the words are full). */
  private bitOf(key: string): number {
    let bit = this.bitOfKey.get(key);
    if (bit === undefined) {
      bit = this.keys.push(key) - 1;
      this.bitOfKey.set(key, bit);
      if (bit >= this.stride * 32) this.regrow(this.stride * 2);
    }
    return bit;
  }

  /** Room for one more slot, `stride` words each (the slots' bits moved when the stride grows). */
  private regrow(stride: number): void {
    const slots = this.slotOfA.size + 1;
    const bits = new Uint32Array(Math.max(this.bits.length, 2 * slots * stride));
    if (stride === this.stride) bits.set(this.bits);
    else for (let k = 0; k < this.slotOfA.size; k++) bits.set(this.bits.subarray(k * this.stride, (k + 1) * this.stride), k * stride);
    this.bits = bits;
    this.stride = stride;
  }

  private family(name: string, help: string, counter: boolean): Family {
    let fam = this.families.get(name);
    if (!fam) this.families.set(name, (fam = new Family(name, help, counter)));
    return fam;
  }

  private target(prom: NonNullable<FieldSpec['prom']>, spec: FieldSpec): PromTarget {
    let at = this.byProm.get(prom);
    if (!at) {
      const name = this.prefix + prom.name;
      const fam = this.family(name, prom.help ?? spec.help, !!spec.counter && !prom.histogram);
      fam.histogram ||= !!prom.histogram;
      const own = prom.labels ? fieldLabels(prom.labels) : undefined;
      // a histogram's _sum and _count share their labels: the sample name tells them apart when deduplicating
      const bKey = (own?.text ?? '') + (prom.histogram ? `\u0000${prom.histogram}` : '');
      at = {
        fam,
        own,
        ownBytes: own ? utf8.encode(own.text) : NO_BYTES,
        bit: this.bitOf(fam.keyPrefix + bKey),
        bKey,
        ...(prom.histogram ? { sampleName: utf8.encode(`${name}_${prom.histogram}`) } : {}),
      };
      this.byProm.set(prom, at);
    }
    return at;
  }

  /** A schema's fields and targets: one lookup per metric (none while metrics of one schema follow each other), not one per sample. */
  private targetsOf(schema: MeasurementSchema): SchemaTargets {
    if (schema === this.lastSchema) return this.lastTargets!;
    let st = this.bySchema.get(schema);
    if (!st) {
      const keys = Object.keys(schema.fields);
      const specs = keys.map((k) => schema.fields[k]);
      this.bySchema.set(schema, (st = { keys, specs, targets: keys.map(() => undefined), promLabels: specs.some((f) => f.promLabel) }));
    }
    this.lastSchema = schema;
    this.lastTargets = st;
    return st;
  }

  private writeMetric(m: Metric): void {
    if (this.ctx && this.writeInContext(m, this.ctx)) return;
    // tags carried implicitly and no context for them (or the metric is not one for it): the metric as tagged
    if (this.implied) m = { ...m, tags: { ...this.implied, ...m.tags } };
    // A label name appears once (Prometheus rejects the whole scrape otherwise): the measurement's own labels
    // (family from ip_version, a promLabel field, a field's labels) win over a user tag of the same name.
    const labels = this.labels;
    labels.clear();
    for (const k in m.tags) if (k !== 'ip_version') labels.set(labelName(k), m.tags[k]);
    if (m.tags.ip_version !== undefined) labels.set('family', FAMILY_VALUES[m.tags.ip_version] ?? m.tags.ip_version);
    if (this.targetsOf(m.schema).promLabels) {
      for (const k in m.fields) {
        const spec = m.schema.fields[k];
        if (spec?.promLabel) labels.set(spec.promLabel, String(m.fields[k]));
      }
    }

    this.writeFields(m, undefined, renderLabels(labels), undefined, undefined);
  }

  /**
   * writeMetric under a context: the same samples, the context's labels rendered once and the label set found
   * by the metric's other labels. False (nothing written) when the metric is not one for the context.
   */
  private writeInContext(m: Metric, c: LabelContext): boolean {
    const labels = this.labels;
    labels.clear();
    const n = c.keys.length;
    let i = 0;
    const implied = this.implied !== undefined;
    for (const k in m.tags) {
      if (implied) {
        // the context's tags come first: one of them here is where it is in the context, so the same value changes nothing
        const at = c.keys.indexOf(k);
        if (at >= 0) {
          if (m.tags[k] !== c.values[at]) return false;
          continue;
        }
      } else if (i < n) {
        if (k !== c.keys[i] || m.tags[k] !== c.values[i]) return false;
        i++;
        continue;
      }
      if (k !== 'ip_version') {
        const name = labelName(k);
        if (c.nameSet.has(name)) return false; // it would replace one of the context's in place
        labels.set(name, m.tags[k]);
      }
    }
    if (!implied && i < n) return false;
    if (m.tags.ip_version !== undefined) {
      if (c.nameSet.has('family')) return false;
      labels.set('family', FAMILY_VALUES[m.tags.ip_version] ?? m.tags.ip_version);
    }
    if (this.targetsOf(m.schema).promLabels) {
      for (const k in m.fields) {
        const spec = m.schema.fields[k];
        if (!spec?.promLabel) continue;
        if (c.nameSet.has(spec.promLabel)) return false;
        labels.set(spec.promLabel, String(m.fields[k]));
      }
    }
    // the label set, by the names and values of the other labels in order (no text made and hashed per metric:
    // renderLabels' text is a function of that sequence, and the other way round)
    let node = c.sets;
    for (let j = 0; j < labels.size; j++) {
      const byName = (node.next ??= new Map());
      let byValue = byName.get(labels.names[j]);
      if (!byValue) byName.set(labels.names[j], (byValue = new Map()));
      let to = byValue.get(labels.values[j]);
      if (!to) byValue.set(labels.values[j], (to = {}));
      node = to;
    }
    let set = node.set;
    if (!set) {
      const rest = renderLabels(labels);
      const a = c.text && rest ? `${c.text},${rest}` : c.text || rest;
      node.set = set = { a, bytes: utf8.encode(a), slot: -1, epoch: 0 };
    }
    if (set.epoch !== this.epoch) {
      // once per exposition: the slot is looked up the first time only (a context is dropped with the slots, in reset)
      set.slot = set.slot < 0 ? this.slotOf(set.a) : this.useSlot(set.slot);
      set.epoch = this.epoch;
    }
    this.writeFields(m, c, set.a, set.bytes, set.slot);
    return true;
  }

  /**
   * A metric's samples, one per field with a prom mapping, once its labels are worked out (this.labels: the
   * metric's, or under context `c` those after the context's): `a` their text, `aBytes` its UTF-8 and `slot`
   * its slot when known. A field's own labels replace the metric's of the same name and come last.
   */
  private writeFields(m: Metric, c: LabelContext | undefined, a: string, aBytes: Uint8Array | undefined, slot: number | undefined): void {
    const labels = this.labels;
    const st = this.targetsOf(m.schema);
    const { keys, specs, targets } = st;
    let next = 0;
    for (const k in m.fields) {
      // a metric's fields mostly come in its schema's order: the next field of the schema is tried first
      const x = next < keys.length && keys[next] === k ? next : keys.indexOf(k);
      if (x < 0) continue; // not a field of the schema
      next = x + 1;
      const spec = specs[x];
      const prom = spec.prom;
      const v = m.fields[k];
      if (!prom || typeof v !== 'number') continue;
      const t = (targets[x] ??= this.target(prom, spec));
      let fa = a;
      let fslot = slot;
      let fbytes: Uint8Array | undefined;
      if (t.own) {
        for (const lk of t.own.keys) {
          if (labels.has(lk) || c?.nameSet.has(lk)) {
            // rare: the field's labels replace some of the metric's
            fa = c ? withoutLabels(c, labels, t.own.keys) : renderLabels(labels, t.own.keys);
            fslot = undefined;
            fbytes = utf8.encode(fa);
            break;
          }
        }
      }
      if (!this.firstTime(t.fam, fa, t.bit, t.bKey, t.own ? t.own.keys.length : 0, fslot)) continue;
      // encoded on the first sample written
      fbytes ??= aBytes ??= this.encode(a);
      // scaled values are rounded to 15 significant digits: 57 µs is 0.000057 s, not 0.000056999999999999996
      t.fam.append(fbytes, t.ownBytes, prom.scale ? Number((v * prom.scale).toPrecision(15)) : v, t.sampleName);
    }
  }

  /** Add a family directly (self-metrics that are not measurements). */
  sample(name: string, help: string, type: 'gauge' | 'counter', labels: Record<string, string>, value: number): void {
    const fam = this.family(this.prefix + name, help, type === 'counter');
    const ls = Object.entries(labels)
      .map(([k, v]) => `${labelName(k)}="${escLabel(v)}"`)
      .join(',');
    if (this.firstTime(fam, ls, this.bitOf(fam.keyPrefix), '', 0)) fam.append(this.encode(ls), NO_BYTES, value);
  }

  /** The exposition text, families in a stable (sorted) order. */
  text(format: ExpositionFormat = 'text'): string {
    const decoder = new TextDecoder();
    let out = '';
    for (const name of [...this.families.keys()].sort(byName)) {
      const f = this.families.get(name)!;
      if (f.out.pos === 0) continue; // none since reset()
      out += familyLines(name, f.help, f.counter, format, f.histogram) + decoder.decode(f.samples);
    }
    if (format === 'openmetrics') out += '# EOF\n';
    return out;
  }

  /**
   * The samples as UTF-8, per family (see Exposition): what assembleExposition turns into either format. `room`:
   * a buffer nothing else reads, written into (from its start) when it is large enough.
   */
  exposition(room?: ArrayBuffer): Exposition {
    const sorted = [...this.families.keys()]
      .sort(byName)
      .map((n) => this.families.get(n)!)
      .filter((f) => f.out.pos > 0); // none since reset()
    const size = sorted.reduce((n, f) => n + f.out.pos, 0);
    // a new buffer has some room to spare: the next exposition, a few digits longer, still fits when handed back
    const bytes = new Uint8Array(room && room.byteLength >= size ? room : new ArrayBuffer(size + (size >> 5)), 0, size);
    const families: Exposition['families'] = [];
    let at = 0;
    for (const f of sorted) {
      if (SIZE_HINT.has(f.name) || SIZE_HINT.size < 512) SIZE_HINT.set(f.name, f.out.pos + 1024);
      bytes.set(f.samples, at);
      families.push({ name: f.name, help: f.help, counter: f.counter, ...(f.histogram ? { histogram: true } : {}), start: at, end: (at += f.out.pos) });
    }
    return { families, bytes };
  }
}

/** A schema's field keys in order, their specs, and the writer's target of each field with a prom mapping (made on first use). */
interface SchemaTargets {
  keys: string[];
  specs: FieldSpec[];
  targets: (PromTarget | undefined)[];
  /** whether a field is shown as a label (promLabel): else a metric's fields need not be looked through for labels */
  promLabels: boolean;
}

/** What PrometheusWriter.context() keeps per key. */
interface LabelContext {
  /** the tags, in order, and their label names */
  keys: string[];
  values: string[];
  names: string[];
  nameSet: Set<string>;
  /** their `k="v",...` */
  text: string;
  /** written since the last reset */
  written: boolean;
  /** the label sets written under the context, by the names and values of their other labels in order */
  sets: LabelSetNode;
}

/** A label set by its labels' names and values (a node per label: next by name, then by value). */
interface LabelSetNode {
  next?: Map<string, Map<string, LabelSetNode>>;
  set?: { a: string; bytes: Uint8Array; slot: number; epoch: number };
}

function sameTags(c: LabelContext, tags: Record<string, string>): boolean {
  let i = 0;
  for (const k in tags) if (i >= c.keys.length || k !== c.keys[i] || tags[k] !== c.values[i++]) return false;
  return i === c.keys.length;
}

/** A context's labels then `labels`, leaving out `without` (renderLabels over both). */
function withoutLabels(c: LabelContext, labels: Labels, without: readonly string[]): string {
  let out = '';
  for (let i = 0; i < c.names.length; i++)
    if (!without.includes(c.names[i])) out = out ? `${out},${labelPair(c.names[i], c.values[i])}` : labelPair(c.names[i], c.values[i]);
  const rest = renderLabels(labels, without);
  return out && rest ? `${out},${rest}` : out || rest;
}

/** `k="v",...` of labels, leaving out `without`. */
function renderLabels(labels: Labels, without?: readonly string[]): string {
  const { names, values } = labels;
  let out = '';
  for (let i = 0; i < labels.size; i++)
    if (!without?.includes(names[i])) out = out ? `${out},${labelPair(names[i], values[i])}` : labelPair(names[i], values[i]);
  return out;
}

/**
 * A metric's labels by name, in the order first set; setting a name again replaces its value in place (a Map's
 * semantics, over two arrays a writer reuses for every metric, never shortened: a handful of labels, nothing
 * allocated per metric).
 */
class Labels {
  readonly names: string[] = [];
  readonly values: string[] = [];
  size = 0;

  clear(): void {
    this.size = 0;
  }

  private indexOf(name: string): number {
    for (let i = 0; i < this.size; i++) if (this.names[i] === name) return i;
    return -1;
  }

  set(name: string, value: string): void {
    const i = this.indexOf(name);
    if (i >= 0) this.values[i] = value;
    else {
      this.names[this.size] = name;
      this.values[this.size++] = value;
    }
  }

  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }
}

/**
 * `k="v"` by label name and value, kept while they recur (a namespace's labels, a port, a host: every gather
 * writes the same ones); forgotten all at once past PAIRS_KEPT, so churning values cannot grow it.
 */
const pairs = new Map<string, Map<string, string>>();
let pairsKept = 0;
const PAIRS_KEPT = 16384;
function labelPair(k: string, v: string): string {
  let byValue = pairs.get(k);
  if (!byValue) pairs.set(k, (byValue = new Map()));
  let pair = byValue.get(v);
  if (pair === undefined) {
    pair = `${k}="${escLabel(v)}"`;
    if (++pairsKept > PAIRS_KEPT) {
      pairs.clear();
      pairsKept = 0;
    } else byValue.set(v, pair);
  }
  return pair;
}

/**
 * One exposition body from rendered parts (the gather's, then the agent's self-metrics), in `format`: families
 * sorted by name, each with its HELP and TYPE lines once, OpenMetrics' `# EOF` once at the end. The parts'
 * family names are expected to be distinct; a name in several parts gets the first part's HELP and TYPE and
 * the samples of each, in part order. Equal to PrometheusWriter.text() had every sample gone to one writer.
 * `room(size)` gives the buffer of at least `size` bytes to write the body into (the agent lends its body of
 * the previous gather when no response is sending it any more): the body is then its first `size` bytes.
 */
export function assembleExposition(parts: readonly Exposition[], format: ExpositionFormat, room?: (size: number) => Buffer): Buffer {
  const all = parts.flatMap((p) => p.families.map((f) => ({ f, bytes: p.bytes })));
  all.sort((a, b) => byName(a.f.name, b.f.name)); // stable: a name's parts stay in part order
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let k = 0; k < all.length; k++) {
    const { f, bytes } = all[k];
    if (k === 0 || all[k - 1].f.name !== f.name) {
      const lines = Buffer.from(familyLines(f.name, f.help, f.counter, format, f.histogram));
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
  if (!room) return Buffer.concat(chunks, size);
  const into = room(size);
  let at = 0;
  for (const c of chunks) {
    into.set(c, at);
    at += c.length;
  }
  return into.subarray(0, size);
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
    const [type, ...params] = part
      .trim()
      .split(';')
      .map((x) => x.trim());
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
