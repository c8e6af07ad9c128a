/**
 * socketstat points as InfluxDB line protocol, written straight from the table's columns and the raw tcp_info
 * bytes into a byte buffer: exactly the bytes `influxLine(metric, { uintAsInt })` + "\n" makes of each Metric
 * that collectSocketstat emits (with gather's host and global tags merged in, the point's own winning), without
 * the Metric, its tag and field records, the sort, the regular expressions or the line's string. `gather` and
 * `execd` stream socketstat through it (src/cli/gather.ts); collectSocketstat + influxLine stay the reference,
 * and test/outputs/socketstat-influx.test.ts (recorded fixtures, random tables) and
 * test/metrics/socketstat-stream.test.ts (a real kernel) hold the two together.
 *
 * How the reference's semantics are kept:
 *  - rows, address tags and counters follow the same definitions as collectSocketstat (socketstatSelection,
 *    boundInterface + endpointAddress, socketstatInfoFields with its unset/unsetFrom/scale rules); INET_DIAG_INFO
 *    is found as findAttribute finds it and each counter read as readTcpInfoField reads it (present when the
 *    kernel sent offset + size bytes; a u64's ~0 is Infinity, which influxLine leaves out);
 *  - the tag order is the reference's sort, computed once over the same merged key set; the global tags'
 *    text is escaped once with influx.ts's escKey (and left out where it is empty, as influxLine does);
 *  - a bound socket's address ("%iface" can hold anything) takes the generic text and escKey; the rest
 *    (addresses, ports, protocol and state names, counters) cannot need escaping;
 *  - counters are integers (u8..u64 reads, rates × 8) written as Number#toString writes them.
 * The aggregated form (--socketstat-aggregate) stays on the generic path.
 */
import { AF_INET, AF_INET6, InetAttr, PROTO_NAMES, Proto, SS_STATE_NAMES } from '../../diag/constants.js';
import { readTcpInfoAt, TCP_INFO_KIND_CODE, TCP_INFO_KIND_SIZE } from '../../diag/tcp-info.js';
import { findAttribute } from '../../netlink/attributes.js';
import type { SocketTable } from '../../snapshot/table.js';
import {
  boundInterface, endpointAddress, socketstatInfoFields, socketstatSelection, SOCKETSTAT_SCHEMA,
  type SocketstatInfoField, type SocketstatOptions,
} from '../../collectors/socketstat.js';
import { AddressText } from '../text/address-text.js';
import { ByteBuffer, fragment, putU32, putUint, type Fragment } from '../text/bytes.js';
import { escKey, escString, timestamp } from './influx.js';

export interface SocketstatInfluxOptions extends SocketstatOptions {
  /** write unsigned fields with the i suffix (Telegraf's default); default true (as InfluxOptions) */
  uintAsInt?: boolean;
  /** tags on every point (gather's host and global tags); the point's own tags win */
  tags?: Readonly<Record<string, string>>;
}

/** The point's own tags, in the order the reference's sort puts them. */
const OWN_TAGS = ['local_addr', 'local_port', 'proto', 'remote_addr', 'remote_port'] as const;
const LOCAL_ADDR = 0;
const LOCAL_PORT = 1;
const PROTO = 2;
const REMOTE_ADDR = 3;
const REMOTE_PORT = 4;

/** `,state="ESTAB"` for every state byte (String(undefined) past SS_STATE_NAMES, as the reference writes it) */
const STATE_FRAG: readonly Fragment[] = Array.from({ length: 256 }, (_, s) => fragment(`,state="${escString(String(SS_STATE_NAMES[s]))}"`));
const STATE_ROOM = STATE_FRAG.reduce((n, f) => Math.max(n, f.length), 0);

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
  return { key: fragment(`,${f.name}=`), offset, end: offset + TCP_INFO_KIND_SIZE[kind], kind: TCP_INFO_KIND_CODE[kind], unset: f.unset, unsetFrom: f.unsetFrom, scale: f.scale };
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

/** One writer per gather (the time is the snapshot's); it keeps small caches (the last IPv6 addresses). */
export class SocketstatInfluxWriter {
  readonly bytes = new ByteBuffer();
  private readonly o: SocketstatInfluxOptions;
  /** per proto code: whether socketstat takes it */
  private readonly protoSelected = new Uint8Array(256);
  private readonly states: number;
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
  /** ` 1668520568000000000\n` */
  private readonly end: Fragment;
  /** the most one line needs, but for a bound socket's "%iface" (made room for separately) */
  private readonly room: number;
  private readonly local = new AddressText();
  private readonly remote = new AddressText();

  constructor(o: SocketstatInfluxOptions, time: number) {
    if (o.aggregate) throw new Error('SocketstatInfluxWriter writes one point per connection; the aggregated form takes the generic path');
    this.o = o;
    const { protos, states } = socketstatSelection(o);
    this.states = states;
    const { base, extra } = socketstatInfoFields(o);
    this.base = base.map(infoOut);
    this.extra = extra.map(infoOut);
    this.suffix = o.uintAsInt === false ? 117 : 105;
    this.end = fragment(` ${timestamp(time, 'ns')}\n`);

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
    for (const p of protos) {
      if (!(p >= 0 && p < 256)) continue; // (a name that is no protocol: no row has it)
      this.protoSelected[p] = 1;
      // every protocol socketstat takes has a name; an empty one would leave the tag out
      const name = escKey(PROTO_NAMES[p] ?? '');
      this.protoTag[p] = name === '' ? this.withoutKey[PROTO] : fragment(`${withKey[PROTO]}${name}`);
      protoRoom = Math.max(protoRoom, this.protoTag[p].length);
    }
    const fragments = [...this.withKey, this.fieldsHead, this.sendQ, this.end, ...[...this.base, ...this.extra].map((f) => f.key)];
    this.room = fragments.reduce((n, f) => n + f.length + 4, 0) + protoRoom + 4 + STATE_ROOM + 4 + 2 * ADDRESS_ROOM
      + (4 + this.base.length + this.extra.length) * (NUM_ROOM + 1);
  }

  /** Append the points of every row the options select; how many. */
  appendTable(t: SocketTable): number {
    const view = t.arenaView();
    const b = this.bytes;
    let n = 0;
    let start = b.pos;
    try {
      for (let i = 0; i < t.length; i++) {
        start = b.pos;
        if (this.append(t, i, view)) n++;
      }
    } catch (e) {
      b.pos = start; // no half line
      throw e;
    }
    return n;
  }

  /** Row i's point as text (line and newline), '' when the options leave the row out. `view` is t.arenaView(). */
  write(t: SocketTable, i: number, view: DataView): string {
    return this.bytes.written(() => this.append(t, i, view));
  }

  /** Append row i's point (line and newline) when the options select the row; whether they did. */
  append(t: SocketTable, i: number, view: DataView): boolean {
    const proto = t.proto[i];
    const state = t.state[i];
    if (this.protoSelected[proto] === 0 || !(this.states & (1 << state))) return false;
    const b = this.bytes;
    const fam = t.family[i];

    // tags
    if (t.ifindex[i] !== 0) {
      // bound to a device: "%iface" can hold anything, so the generic text and escaping
      const value = escKey(endpointAddress(t, i, 'src', boundInterface(t, i, this.o)));
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
    // INET_DIAG_INFO among the attributes (the first of its type, as collectSocketstat finds it)
    let info = -1;
    let infoLen = 0;
    if (proto === Proto.tcp && t.attrLength[i] > 0) {
      const found = findAttribute(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], InetAttr.INFO);
      if (found) [info, infoLen] = found;
    }
    if (info >= 0) p = this.counters(buf, dv, p, view, info, infoLen, this.base);
    p = put(dv, p, STATE_FRAG[state]);
    if (info >= 0 && this.extra.length > 0) p = this.counters(buf, dv, p, view, info, infoLen, this.extra);
    b.pos = put(dv, p, this.end);
    return true;
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
  private address(buf: Uint8Array, dv: DataView, p: number, fam: number, bytes: Uint8Array, words: Uint32Array, i: number, tag: number, cache: AddressText): number {
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
