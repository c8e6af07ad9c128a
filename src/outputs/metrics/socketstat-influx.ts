/**
 * The line-protocol sink: a collector's points as InfluxDB line protocol straight into a byte buffer. Metrics
 * are written as influxLine writes them; socketstat's per-connection point (SOCKETSTAT_POINT, defined once in
 * src/collectors/socketstat.ts) is written straight from the table's columns and the raw tcp_info bytes:
 * exactly the bytes `influxLine(point.metric(...), { uintAsInt })` + "\n" makes of it (with gather's host and
 * global tags merged in, the point's own winning), without the Metric, its tag and field records, the sort, the
 * regular expressions or the line's string. The collector chooses the rows and finds their tcp_info; this sink
 * only writes. `gather` and `execd` stream socketstat into it (src/cli/gather.ts);
 * test/outputs/socketstat-influx.test.ts (recorded fixtures, random tables) and
 * test/outputs/metrics/socketstat-stream.test.ts (a real kernel) compare it with the metric sink + influxLine.
 *
 * How the point's semantics are kept:
 *  - address tags and counters follow the same definitions (boundInterface + endpointAddress, socketstatInfoFields
 *    with its unset/unsetFrom/scale rules); each counter is read as readTcpInfoField reads it (present when the
 *    kernel sent offset + size bytes; a u64's ~0 is Infinity, which influxLine leaves out);
 *  - the tag order is influxLine's sort, computed once over the same merged key set; the global tags' text is
 *    escaped once with influx.ts's escKey (and left out where it is empty, as influxLine does);
 *  - a bound socket's address ("%iface" can hold anything) takes the generic text and escKey; the rest
 *    (addresses, ports, protocol and state names, counters) cannot need escaping;
 *  - counters are integers (u8..u64 reads, rates × 8) written as Number#toString writes them.
 */
import type { HostFacts, RowPoint, Sink } from '../../collectors/collector.js';
import {
  boundInterface,
  endpointAddress,
  SOCKETSTAT_POINT,
  SOCKETSTAT_SCHEMA,
  type SocketstatInfoField,
  type SocketstatPlan,
} from '../../collectors/socketstat.js';
import { AF_INET, AF_INET6, PROTO_NAMES, SS_STATE_NAMES } from '../../diag/constants.js';
import { readTcpInfoAt, TCP_INFO_KIND_CODE, TCP_INFO_KIND_SIZE } from '../../diag/tcp-info.js';
import type { Metric } from '../../model/metric.js';
import type { SocketTable } from '../../snapshot/table.js';
import { AddressText } from '../text/address-text.js';
import { ByteBuffer, FragmentTable, fragment, putU32, putUint, type Fragment } from '../text/bytes.js';
import { escKey, escString, influxLine, timestamp } from './influx.js';

export interface LineProtocolOptions {
  /** write unsigned fields with the i suffix (Telegraf's default); default true (as InfluxOptions) */
  uintAsInt?: boolean;
  /** tags on every point (gather's host and global tags); the point's own tags win */
  tags?: Readonly<Record<string, string>>;
}

/** Points as line protocol in `bytes` (each line with its newline); flush or take them between batches. */
export class LineProtocolSink implements Sink {
  readonly bytes = new ByteBuffer();
  private socketstat: SocketstatLines | undefined;
  private readonly tags: Readonly<Record<string, string>>;

  constructor(private readonly o: LineProtocolOptions = {}) {
    this.tags = o.tags ?? {};
  }

  metric(m: Metric): void {
    if (Object.keys(this.tags).length) m.tags = { ...this.tags, ...m.tags };
    const line = influxLine(m, { uintAsInt: this.o.uintAsInt });
    if (line) this.bytes.utf8(`${line}\n`);
  }

  row<O>(point: RowPoint<O>, t: SocketTable, i: number, view: DataView, info: number, infoLength: number, time: number, o: O, facts: HostFacts): void {
    if (point !== (SOCKETSTAT_POINT as RowPoint<unknown>)) {
      this.metric(point.metric(t, i, view, info, infoLength, time, o, facts));
      return;
    }
    const plan = o as unknown as SocketstatPlan;
    let w = this.socketstat;
    if (w === undefined || w.plan !== plan) w = this.socketstat = new SocketstatLines(this.bytes, plan, this.o);
    const start = this.bytes.pos;
    try {
      w.append(t, i, view, info, infoLength, time, facts);
    } catch (e) {
      this.bytes.pos = start; // no half line
      throw e;
    }
  }
}

/** The point's own tags, in the order the reference's sort puts them. */
const OWN_TAGS = ['local_addr', 'local_port', 'proto', 'remote_addr', 'remote_port'] as const;
const LOCAL_ADDR = 0;
const LOCAL_PORT = 1;
const PROTO = 2;
const REMOTE_ADDR = 3;
const REMOTE_PORT = 4;

/** `,state="ESTAB"` for every state byte (String(undefined) past SS_STATE_NAMES, as the reference writes it) */
const stateTag = (s: number) => `,state="${escString(String(SS_STATE_NAMES[s]))}"`;
const STATE_FRAG = new FragmentTable(stateTag);
const STATE_ROOM = Array.from({ length: 256 }, (_, s) => stateTag(s).length).reduce((n, l) => Math.max(n, l), 0);

/** A tcp_info counter, ready to write. */
interface InfoOut {
  /** `,name=` */
  key: Fragment;
  offset: number;
  /** offset + size: the counter is there when the kernel sent at least this many bytes */
  end: number;
  kind: number;
  unset: number;
  unsetFrom: number;
  scale: number;
}

const infoOut = (f: SocketstatInfoField): InfoOut => {
  if (SOCKETSTAT_SCHEMA.fields[f.name]?.type !== 'uint') throw new Error(`socketstat field ${f.name} is not a uint`); // what the suffix assumes
  const { offset, kind } = f.field;
  return {
    key: fragment(`,${f.name}=`),
    offset,
    end: offset + TCP_INFO_KIND_SIZE[kind],
    kind: TCP_INFO_KIND_CODE[kind],
    unset: f.unset,
    unsetFrom: f.unsetFrom,
    scale: f.scale,
  };
};

/** Room for a number: u64 × 8 < 1.5e20 has 21 digits. */
const NUM_ROOM = 24;
/** `[` IPv6 text (at most 45) `]` */
const ADDRESS_ROOM = 48;

/** Store a fragment at buf[p..] through dv (words; up to 3 scratch bytes past it); returns the end. */
function put(dv: DataView, p: number, f: Fragment): number {
  const words = f.words;
  for (let k = 0; k < words.length; k++) dv.setInt32(p + 4 * k, words[k], true);
  return p + f.length;
}

/** Dotted quad of bytes[at..at+3] at buf[p..]; returns the end. */
function putIPv4(buf: Uint8Array, p: number, bytes: Uint8Array, at: number): number {
  for (let k = 0; k < 4; k++) {
    if (k) buf[p++] = 46; // .
    p = putU32(buf, p, bytes[at + k]);
  }
  return p;
}

/** SOCKETSTAT_POINT's lines for one plan; it keeps small caches (the last IPv6 addresses, the time's text). */
class SocketstatLines {
  /** per own tag: the global tags sorted before it (after the previous own tag), then `,key=` */
  private readonly withKey: Fragment[];
  /** per own tag: the global tags sorted before it alone (the own tag's value is empty: left out) */
  private readonly withoutKey: Fragment[] = [];
  /** per proto code: the proto tag with its value */
  private readonly protoTag: Fragment[] = [];
  /** the global tags sorted after remote_port, then ` recv_q=` */
  private readonly fieldsHead: Fragment;
  private readonly sendQ = fragment(',send_q=');
  private readonly base: InfoOut[];
  private readonly extra: InfoOut[];
  /** 'i' or 'u' */
  private readonly suffix: number;
  /** ` 1668520568000000000\n` of `time` */
  private end: Fragment = fragment('\n');
  private time = NaN;
  /** the most one line needs, but for a bound socket's "%iface" (made room for separately) */
  private readonly room: number;
  private readonly local = new AddressText();
  private readonly remote = new AddressText();

  constructor(
    private readonly b: ByteBuffer,
    readonly plan: SocketstatPlan,
    o: LineProtocolOptions,
  ) {
    this.base = plan.base.map(infoOut);
    this.extra = plan.extra.map(infoOut);
    this.suffix = o.uintAsInt === false ? 117 : 105;

    // The reference merges { ...tags, ...pointTags } and sorts the keys: the same set, the same order. Global
    // tags become constant text between the point's own tags.
    const own = Object.fromEntries(OWN_TAGS.map((k) => [k, k]));
    const merged: Record<string, string> = { ...o.tags, ...own };
    const withKey: string[] = [];
    let pending = 'socketstat';
    for (const k of Object.keys(merged).sort()) {
      if ((OWN_TAGS as readonly string[]).includes(k)) {
        if (k !== OWN_TAGS[withKey.length]) throw new Error(`tag ${k} out of order`); // (the sort puts them in OWN_TAGS order)
        this.withoutKey.push(fragment(pending));
        withKey.push(`${pending},${k}=`);
        pending = '';
        continue;
      }
      const key = escKey(k);
      const value = escKey(merged[k]);
      if (key !== '' && value !== '') pending += `,${key}=${value}`;
    }
    this.withKey = withKey.map(fragment);
    this.fieldsHead = fragment(`${pending} recv_q=`);
    let protoRoom = 0;
    for (let p = 0; p < 256; p++) {
      if (plan.protoSelected[p] === 0) continue;
      // every protocol socketstat takes has a name; an empty one would leave the tag out
      const name = escKey(PROTO_NAMES[p] ?? '');
      this.protoTag[p] = name === '' ? this.withoutKey[PROTO] : fragment(`${withKey[PROTO]}${name}`);
      protoRoom = Math.max(protoRoom, this.protoTag[p].length);
    }
    const fragments = [
      ...this.withKey,
      this.fieldsHead,
      this.sendQ,
      fragment(' 99999999999999999999\n') /* room for any time's text */,
      ...[...this.base, ...this.extra].map((f) => f.key),
    ];
    this.room =
      fragments.reduce((n, f) => n + f.length + 4, 0) +
      protoRoom +
      4 +
      STATE_ROOM +
      4 +
      2 * ADDRESS_ROOM +
      (4 + this.base.length + this.extra.length) * (NUM_ROOM + 1);
  }

  /** Append row i's point (line and newline). `info`: its INET_DIAG_INFO payload offset in the arena, or -1. */
  append(t: SocketTable, i: number, view: DataView, info: number, infoLen: number, time: number, facts: HostFacts): void {
    if (time !== this.time) {
      this.end = fragment(` ${timestamp(time, 'ns')}\n`);
      this.time = time;
    }
    const proto = t.proto[i];
    const state = t.state[i];
    const b = this.b;
    const fam = t.family[i];

    // tags
    if (t.ifindex[i] !== 0) {
      // bound to a device: "%iface" can hold anything, so the generic text and escaping
      const value = escKey(endpointAddress(t, i, 'src', boundInterface(t, i, facts)));
      if (value === '') b.raw(this.withoutKey[LOCAL_ADDR]);
      else b.raw(this.withKey[LOCAL_ADDR]), b.utf8(value);
      b.ensure(this.room);
    } else {
      b.ensure(this.room);
      b.pos = this.address(b.buf, b.view(), b.pos, fam, t.src, t.src32, i, LOCAL_ADDR, this.local);
    }
    const buf = b.buf;
    const dv = b.view();
    const withKey = this.withKey;
    let p = b.pos;
    p = put(dv, p, withKey[LOCAL_PORT]);
    p = putU32(buf, p, t.sport[i]);
    p = put(dv, p, this.protoTag[proto]);
    p = this.address(buf, dv, p, fam, t.dst, t.dst32, i, REMOTE_ADDR, this.remote);
    p = put(dv, p, withKey[REMOTE_PORT]);
    p = putU32(buf, p, t.dport[i]);

    // fields
    const suffix = this.suffix;
    p = put(dv, p, this.fieldsHead);
    p = putU32(buf, p, t.rqueue[i]);
    buf[p++] = suffix;
    p = put(dv, p, this.sendQ);
    p = putU32(buf, p, t.wqueue[i]);
    buf[p++] = suffix;
    if (info >= 0) p = this.counters(buf, dv, p, view, info, infoLen, this.base);
    p = put(dv, p, STATE_FRAG.at(state));
    if (info >= 0 && this.extra.length > 0) p = this.counters(buf, dv, p, view, info, infoLen, this.extra);
    b.pos = put(dv, p, this.end);
  }

  /** `,name=N` + suffix for each counter the kernel sent and the point does not leave out. */
  private counters(buf: Uint8Array, dv: DataView, p: number, view: DataView, off: number, len: number, list: readonly InfoOut[]): number {
    for (let k = 0; k < list.length; k++) {
      const f = list[k];
      if (f.end > len) continue;
      const v = readTcpInfoAt(view, off + f.offset, f.kind); // a u64's ~0 is Infinity: past unsetFrom
      if (v === f.unset || v >= f.unsetFrom) continue;
      p = put(dv, p, f.key);
      p = putUint(buf, p, f.scale === 1 ? v : v * f.scale);
      buf[p++] = this.suffix;
    }
    return p;
  }

  /** An address tag without a device: IPv6 in brackets; no tag for an address of neither family (''). */
  private address(
    buf: Uint8Array,
    dv: DataView,
    p: number,
    fam: number,
    bytes: Uint8Array,
    words: Uint32Array,
    i: number,
    tag: number,
    cache: AddressText,
  ): number {
    if (fam === AF_INET) {
      p = put(dv, p, this.withKey[tag]);
      return putIPv4(buf, p, bytes, i << 4);
    }
    if (fam !== AF_INET6) return put(dv, p, this.withoutKey[tag]);
    p = put(dv, p, this.withKey[tag]);
    buf[p++] = 91; // [
    const text = cache.of(fam, bytes, words, i);
    for (let k = 0; k < text.length; k++) buf[p++] = text.charCodeAt(k);
    buf[p++] = 93; // ]
    return p;
  }
}
