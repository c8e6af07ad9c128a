/**
 * socketstat points as InfluxDB line protocol, written straight from the table's columns and the raw tcp_info
 * bytes into a byte buffer: exactly the bytes `influxLine(metric, { uintAsInt })` + "\n" makes of each Metric
 * that collectSocketstat emits (with gather's host and global tags merged in, the point's own winning), without
 * the Metric, its tag and field records, the sort, the regular expressions or the line's string. `gather` and
 * `execd` stream socketstat through it (src/cli/gather.ts); collectSocketstat + influxLine stay the reference,
 * and test/outputs/socketstat-influx.test.ts holds the two together.
 *
 * How the reference's semantics are kept:
 *  - rows, tags and fields come from the same helpers as collectSocketstat (socketstatSelection,
 *    boundInterface, endpointAddress, socketstatInfoFields, readTcpInfoField, socketstatExtraValue);
 *  - the tag order is the reference's sort, computed once over the same merged key set; the global tags'
 *    text is escaped once with influx.ts's escKey (and left out where it is empty, as influxLine does);
 *  - values that can hold anything (a bound socket's "%iface") go through escKey; the rest (addresses, ports,
 *    protocol and state names, counters) cannot need escaping;
 *  - counters are integers (u8..u64 reads, rates × 8) written as Number#toString writes them, ~0 u64 counters
 *    (Infinity) left out as influxLine leaves non-finite values out.
 * The aggregated form (--socketstat-aggregate) stays on the generic path.
 */
import { AF_INET6, InetAttr, PROTO_NAMES, Proto, SS_STATE_NAMES } from '../diag/constants.js';
import { readTcpInfoField } from '../diag/tcp-info.js';
import { findAttribute } from '../netlink/attributes.js';
import type { SocketTable } from '../snapshot/table.js';
import {
  boundInterface, endpointAddress, socketstatExtraValue, socketstatInfoFields, socketstatSelection, SOCKETSTAT_SCHEMA,
  type SocketstatInfoField, type SocketstatOptions,
} from '../collectors/socketstat.js';
import { ByteBuffer, fragment, type Fragment } from './bytes.js';
import { escKey, escString, timestamp } from './influx.js';
import { AddressText } from './socket-ndjson.js';

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

interface InfoOut extends SocketstatInfoField {
  /** `,name=` */
  key: Fragment;
}

/** One writer per gather (the time is the snapshot's); it keeps small caches (the last addresses). */
export class SocketstatInfluxWriter {
  readonly bytes = new ByteBuffer();
  private readonly o: SocketstatInfluxOptions;
  private readonly protos: ReadonlySet<number>;
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
  private readonly local = new AddressText();
  private readonly remote = new AddressText();

  constructor(o: SocketstatInfluxOptions, time: number) {
    if (o.aggregate) throw new Error('SocketstatInfluxWriter writes one point per connection; the aggregated form takes the generic path');
    this.o = o;
    ({ protos: this.protos, states: this.states } = socketstatSelection(o));
    const { base, extra } = socketstatInfoFields(o);
    const out = (f: SocketstatInfoField): InfoOut => {
      if (SOCKETSTAT_SCHEMA.fields[f.name]?.type !== 'uint') throw new Error(`socketstat field ${f.name} is not a uint`); // what the suffix assumes
      return { ...f, key: fragment(`,${f.name}=`) };
    };
    this.base = base.map(out);
    this.extra = extra.map(out);
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
    for (const p of this.protos) {
      // every protocol socketstat takes has a name; an empty one would leave the tag out
      const name = escKey(PROTO_NAMES[p] ?? '');
      this.protoTag[p] = name === '' ? this.withoutKey[PROTO] : fragment(`${withKey[PROTO]}${name}`);
    }
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
    const b = this.bytes;
    const from = b.pos;
    this.append(t, i, view);
    const text = b.text(from);
    b.pos = from;
    return text;
  }

  /** Append row i's point (line and newline) when the options select the row; whether they did. */
  append(t: SocketTable, i: number, view: DataView): boolean {
    const proto = t.proto[i];
    const state = t.state[i];
    if (!this.protos.has(proto) || !(this.states & (1 << state))) return false;
    const b = this.bytes;
    const fam = t.family[i];

    // tags
    if (t.ifindex[i] !== 0) {
      const value = escKey(endpointAddress(t, i, 'src', boundInterface(t, i, this.o)));
      if (value === '') b.raw(this.withoutKey[LOCAL_ADDR]);
      else b.raw(this.withKey[LOCAL_ADDR]), b.utf8(value);
    } else {
      this.address(this.local.of(fam, t.src, t.src32, i), fam, LOCAL_ADDR);
    }
    b.raw(this.withKey[LOCAL_PORT]);
    b.num(t.sport[i]);
    b.raw(this.protoTag[proto]);
    this.address(this.remote.of(fam, t.dst, t.dst32, i), fam, REMOTE_ADDR);
    b.raw(this.withKey[REMOTE_PORT]);
    b.num(t.dport[i]);

    // fields
    const suffix = this.suffix;
    b.raw(this.fieldsHead);
    b.num(t.rqueue[i]);
    b.byte(suffix);
    b.raw(this.sendQ);
    b.num(t.wqueue[i]);
    b.byte(suffix);
    const info = proto === Proto.tcp && t.attrLength[i] > 0 ? findAttribute(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], InetAttr.INFO) : undefined;
    if (info) {
      for (const f of this.base) {
        const v = readTcpInfoField(view, info[0], info[1], f.field);
        if (v === undefined || v === Infinity) continue; // ~0 u64: influxLine drops what is not finite
        b.raw(f.key);
        b.num(v);
        b.byte(suffix);
      }
    }
    b.raw(STATE_FRAG[state]);
    if (info) {
      for (const f of this.extra) {
        const v = socketstatExtraValue(f, readTcpInfoField(view, info[0], info[1], f.field));
        if (v === undefined) continue;
        b.raw(f.key);
        b.num(v);
        b.byte(suffix);
      }
    }
    b.raw(this.end);
    return true;
  }

  /** An address tag without a device: IPv6 in brackets; no tag for an address of neither family (''). */
  private address(text: string, fam: number, tag: number): void {
    const b = this.bytes;
    if (fam === AF_INET6) {
      b.raw(this.withKey[tag]);
      b.byte(91); // [
      b.ascii(text);
      b.byte(93); // ]
    } else if (text === '') {
      b.raw(this.withoutKey[tag]);
    } else {
      b.raw(this.withKey[tag]);
      b.ascii(text);
    }
  }
}
