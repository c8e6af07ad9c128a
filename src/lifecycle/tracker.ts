/**
 * The agent's lifecycle counting: destroyed connections (events) and live connections (each gather's tcp_info),
 * joined by socket cookie, into per-port-group counters that miss nothing a gather cannot see.
 *
 * - A closed connection adds 1 to `closed`, its final bytes_acked / bytes_received / total_retrans, and its
 *   final RTT to the histogram.
 * - Transferred bytes: a live connection adds what its bytes_acked / bytes_received grew since the last gather
 *   that saw it (the first gather after start only records where each connection stands); a closed connection
 *   adds its final value less what was already counted for it. So every byte is counted once, whether the
 *   connection lived for a millisecond between two gathers or for days.
 * - Duration: close time less the time a gather first saw the cookie (a lower bound), for connections some
 *   gather saw.
 * - A connection a gather saw that then vanishes without an event for two gathers (its event was lost) is
 *   dropped and counted in `untracked`; what it transferred after the last gather that saw it is not counted.
 *
 * Pure: fed SocketTables (event batches and snapshots), no threads or I/O, so tests replay real rows.
 */
import { formatAddress } from '../diag/address.js';
import { InetAttr, Proto, TCP_LISTEN } from '../diag/constants.js';
import type { Metric } from '../model/metric.js';
import { PER_SECOND, TCP_INFO_FIELDS, TCP_INFO_KIND_SIZE } from '../diag/tcp-info.js';
import { AttributeDecoder } from '../netlink/attributes.js';
import type { SocketTable } from '../snapshot/table.js';
import type { PortGroup } from '../collectors/netstat-port.js';
import { LIFECYCLE_EVENTS_SCHEMA, LIFECYCLE_SCHEMA, RTT_BUCKETS_SECONDS, rttBucketField } from '../collectors/lifecycle.js';
import type { SubscriptionStats } from './subscription.js';

export interface LifecycleOptions {
  /** addr_ports as netstat_port takes them (ports: inbound; remote_ports: outbound); the first match wins */
  groups?: readonly PortGroup[];
  /** sockets no group matches: inbound per listening port, outbound per remote port (default true) */
  autoPorts?: boolean;
  /** at most this many points (direction, addr_port); closed connections past it are counted in groups_overflowed */
  maxGroups?: number;
  /**
   * net.ipv4.ip_local_port_range of the namespace: tells inbound from outbound for a connection whose listener
   * no gather saw (opened, served and closed between two gathers); default 32768-60999, Linux's
   */
  ephemeralPorts?: readonly [number, number];
}

// per-point numbers, in one Float64Array row each
const CLOSED = 0;
const C_ACKED = 1;
const C_RECEIVED = 2;
const C_RETRANS = 3;
const SENT = 4;
const RECEIVED = 5;
const RTT_SUM = 6;
const RTT_COUNT = 7;
const DUR_KNOWN = 8;
const DUR_SUM = 9;
const BUCKET0 = 10;
/** the buckets in tcpi_rtt's unit (µs: tcp-info.ts) */
const RTT_LIMITS_US = RTT_BUCKETS_SECONDS.map((s) => Math.round(s * PER_SECOND.us));
const WIDTH = BUCKET0 + RTT_LIMITS_US.length + 1;
const BUCKET_FIELDS = [...RTT_BUCKETS_SECONDS, '+Inf' as const].map(rttBucketField);

// the struct tcp_info members read here, from the one member table (src/diag/tcp-info.ts)
const member = (name: string) => TCP_INFO_FIELDS.find((f) => f.name === name)!;
const TI_RTT = member('rtt').offset;
const TI_TOTAL_RETRANS = member('total_retrans').offset;
const TI_BYTES_ACKED = member('bytes_acked').offset;
const TI_BYTES_RECEIVED = member('bytes_received').offset;
/** a tcp_info shorter than this (a kernel before 4.1) has no bytes_received */
const TI_NEEDED = TI_BYTES_RECEIVED + TCP_INFO_KIND_SIZE[member('bytes_received').kind];

interface Tracked {
  acked: number;
  received: number;
  /** ms since the epoch of the first gather that saw it */
  first: number;
  /** the generation (gather number) that last saw it */
  seen: number;
}

/** What one row's tcp_info says; `ok` false when the row has no tcp_info long enough. */
class InfoReader {
  ok = false;
  acked = 0;
  received = 0;
  retrans = 0;
  rttUs = 0;
  private readonly attrs = new AttributeDecoder(new DataView(new ArrayBuffer(0)), 0, 0);

  read(t: SocketTable, view: DataView, i: number): boolean {
    this.ok = false;
    const start = t.attrStart[i];
    const a = this.attrs.reset(view, start, start + t.attrLength[i]);
    while (a.next()) {
      if (a.type !== InetAttr.INFO) continue;
      if (a.length < TI_NEEDED) return false; // a kernel before 4.1: no bytes_acked
      const o = a.offset;
      this.acked = view.getUint32(o + TI_BYTES_ACKED + 4, true) * 0x100000000 + view.getUint32(o + TI_BYTES_ACKED, true);
      this.received = view.getUint32(o + TI_BYTES_RECEIVED + 4, true) * 0x100000000 + view.getUint32(o + TI_BYTES_RECEIVED, true);
      this.retrans = view.getUint32(o + TI_TOTAL_RETRANS, true);
      this.rttUs = view.getUint32(o + TI_RTT, true);
      return (this.ok = true);
    }
    return false;
  }
}

export class LifecycleTracker {
  private readonly groups: readonly PortGroup[];
  private readonly autoPorts: boolean;
  private readonly maxGroups: number;
  private readonly ephemeralLow: number;
  private readonly ephemeralHigh: number;
  /** ports some gather saw a TCP listener on (inbound for auto groups) */
  private readonly listening = new Uint8Array(65536);
  private readonly inboundPoint = new Int32Array(65536).fill(-1);
  private readonly outboundPoint = new Int32Array(65536).fill(-1);
  private readonly pointOf = new Map<string, number>();
  private readonly points: { direction: string; addrPort: string; tags: Record<string, string> }[] = [];
  private values = new Float64Array(16 * WIDTH);
  private readonly tracked = new Map<number, Tracked>();
  /** cookies closed since the last gather: a snapshot taken before the event must not bring one back */
  private recentlyClosed = new Set<number>();
  private generation = 0;
  /** event batches that came before the first gather (the listening ports are not known yet) */
  private early: SocketTable[] | undefined = [];
  private readonly info = new InfoReader();
  readonly counts = { untracked: 0, overflowed: 0, subscriptionFailures: 0 };
  /** the current subscription's counts, and those of the subscriptions before it (after a failure) */
  private subscription: SubscriptionStats = { events: 0, malformed: 0, overruns: 0, lost: 0, rcvbufBytes: 0, batches: 0 };
  private readonly before = { events: 0, malformed: 0, overruns: 0, lost: 0 };
  /** why there is no subscription (collect() throws it: the collector is reported failed) */
  unavailable: string | undefined;

  constructor(o: LifecycleOptions = {}) {
    this.groups = o.groups ?? [];
    this.autoPorts = o.autoPorts ?? true;
    this.maxGroups = o.maxGroups ?? 256;
    [this.ephemeralLow, this.ephemeralHigh] = o.ephemeralPorts ?? [32768, 60999];
  }

  /** Destroyed sockets (a subscription batch), at `now` (ms since the epoch). */
  closed(t: SocketTable, now = Date.now()): void {
    if (this.early) {
      if (this.early.length < 256) return void this.early.push(t);
      this.flushEarly(now);
    }
    const view = t.arenaView();
    const info = this.info;
    for (let i = 0; i < t.length; i++) {
      if (t.proto[i] !== Proto.tcp || t.dport[i] === 0) continue; // a listener, or UDP
      const cookie = t.cookieHi[i] * 0x100000000 + t.cookieLo[i];
      const known = this.tracked.get(cookie);
      if (known) this.tracked.delete(cookie);
      this.recentlyClosed.add(cookie);
      if (!info.read(t, view, i)) continue;
      const p = this.point(t, i);
      if (p < 0) continue;
      const v = this.values;
      const at = p * WIDTH;
      v[at + CLOSED]++;
      v[at + C_ACKED] += info.acked;
      v[at + C_RECEIVED] += info.received;
      v[at + C_RETRANS] += info.retrans;
      v[at + SENT] += Math.max(0, info.acked - (known?.acked ?? 0));
      v[at + RECEIVED] += Math.max(0, info.received - (known?.received ?? 0));
      if (info.rttUs > 0) {
        v[at + RTT_SUM] += info.rttUs; // µs: integers add exactly
        v[at + RTT_COUNT]++;
        let b = 0;
        while (b < RTT_LIMITS_US.length && info.rttUs > RTT_LIMITS_US[b]) b++;
        for (; b <= RTT_LIMITS_US.length; b++) v[at + BUCKET0 + b]++; // cumulative
      }
      if (known) {
        v[at + DUR_KNOWN]++;
        v[at + DUR_SUM] += Math.max(0, now - known.first); // ms
      }
    }
  }

  /**
   * A gather's snapshot (TCP with tcp_info): listening ports, and every live connection's growth since the
   * last gather. The first call only records where each connection stands.
   */
  observe(t: SocketTable, time: number): void {
    for (let i = 0; i < t.length; i++) if (t.proto[i] === Proto.tcp && t.state[i] === TCP_LISTEN) this.listening[t.sport[i]] = 1;
    const first = this.generation === 0;
    const gen = ++this.generation;
    const view = t.arenaView();
    const info = this.info;
    const v = () => this.values;
    for (let i = 0; i < t.length; i++) {
      if (t.proto[i] !== Proto.tcp || t.state[i] === TCP_LISTEN || t.dport[i] === 0) continue;
      const cookie = t.cookieHi[i] * 0x100000000 + t.cookieLo[i];
      if (this.recentlyClosed.has(cookie) || !info.read(t, view, i)) continue; // TIME_WAIT and SYN_RECV have no tcp_info
      let k = this.tracked.get(cookie);
      let dAcked = info.acked;
      let dReceived = info.received;
      if (k) {
        dAcked = Math.max(0, info.acked - k.acked);
        dReceived = Math.max(0, info.received - k.received);
        k.acked = info.acked;
        k.received = info.received;
        k.seen = gen;
      } else {
        k = { acked: info.acked, received: info.received, first: time, seen: gen };
        this.tracked.set(cookie, k);
        if (first) continue; // where it stands at start: counted from here on
      }
      if (dAcked === 0 && dReceived === 0) continue;
      const p = this.point(t, i);
      if (p < 0) continue;
      v()[p * WIDTH + SENT] += dAcked;
      v()[p * WIDTH + RECEIVED] += dReceived;
    }
    // seen by an earlier gather, by neither this one nor an event: its event was lost (one gather of grace for
    // an event still on its way)
    for (const [cookie, k] of this.tracked) {
      if (k.seen < gen - 1) {
        this.tracked.delete(cookie);
        this.counts.untracked++;
      }
    }
    this.recentlyClosed = new Set();
    if (this.early) this.flushEarly(time);
  }

  private flushEarly(now: number): void {
    const early = this.early!;
    this.early = undefined;
    for (const t of early) this.closed(t, now);
  }

  /** The point (direction, addr_port) a connection counts in, or -1 (no group, or past maxGroups). */
  private point(t: SocketTable, i: number): number {
    const lport = t.sport[i];
    const rport = t.dport[i];
    for (let g = 0; g < this.groups.length; g++) {
      const group = this.groups[g];
      const remote = group.mode === 'remote';
      const port = remote ? rport : lport;
      for (const e of group.entries) {
        if (e.port !== port) continue;
        if (e.address !== undefined && e.address !== formatAddress(t.family[i], remote ? t.dst : t.src, i * 16)) continue;
        const addrPort = remote ? `remote:${e.text}` : group.mode === 'match' ? `*:${e.port}` : e.text;
        return this.pointFor(remote ? 'outbound' : 'inbound', addrPort, group.tags, `${g}\u0000${addrPort}`);
      }
    }
    if (!this.autoPorts) return -1;
    if (this.inbound(lport, rport)) {
      const p = this.inboundPoint[lport];
      return p >= 0 ? p : (this.inboundPoint[lport] = this.pointFor('inbound', String(lport), {}, `in\u0000${lport}`));
    }
    const p = this.outboundPoint[rport];
    return p >= 0 ? p : (this.outboundPoint[rport] = this.pointFor('outbound', `remote:${rport}`, {}, `out\u0000${rport}`));
  }

  /**
   * Whether a connection was accepted here: its local port had a listener at some gather; failing that (a
   * listener opened and closed between gathers) the side whose port is outside the ephemeral range is the
   * service; failing that, the lower port.
   */
  private inbound(lport: number, rport: number): boolean {
    if (this.listening[lport]) return true;
    const lEphemeral = lport >= this.ephemeralLow && lport <= this.ephemeralHigh;
    const rEphemeral = rport >= this.ephemeralLow && rport <= this.ephemeralHigh;
    if (lEphemeral !== rEphemeral) return rEphemeral;
    return this.listening[rport] ? false : lport < rport;
  }

  private pointFor(direction: string, addrPort: string, tags: Record<string, string>, key: string): number {
    const known = this.pointOf.get(key);
    if (known !== undefined) return known;
    if (this.points.length >= this.maxGroups) {
      this.counts.overflowed++;
      return -1;
    }
    const p = this.points.push({ direction, addrPort, tags }) - 1;
    this.pointOf.set(key, p);
    if ((p + 1) * WIDTH > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    return p;
  }

  setSubscriptionStats(stats: SubscriptionStats): void {
    this.subscription = stats;
  }

  /** The subscription ended (failed): its counts stay in the totals. */
  subscriptionEnded(why: string): void {
    const s = this.subscription;
    this.before.events += s.events;
    this.before.malformed += s.malformed;
    this.before.overruns += s.overruns;
    this.before.lost += s.lost;
    this.subscription = { events: 0, malformed: 0, overruns: 0, lost: 0, rcvbufBytes: s.rcvbufBytes, batches: 0 };
    this.counts.subscriptionFailures++;
    this.unavailable = why;
  }

  /** Every point's counters so far, and the subscription's own. Throws while there is no subscription. */
  collect(time: number): Metric[] {
    if (this.unavailable !== undefined) throw new Error(this.unavailable);
    const v = this.values;
    const out: Metric[] = this.points.map((pt, p) => {
      const at = p * WIDTH;
      const fields: Metric['fields'] = {
        closed: v[at + CLOSED],
        closed_bytes_acked: v[at + C_ACKED],
        closed_bytes_received: v[at + C_RECEIVED],
        closed_retrans_segs: v[at + C_RETRANS],
        bytes_sent: v[at + SENT],
        bytes_received: v[at + RECEIVED],
      };
      BUCKET_FIELDS.forEach((f, b) => (fields[f] = v[at + BUCKET0 + b]));
      fields.rtt_sum_seconds = v[at + RTT_SUM] / PER_SECOND.us;
      fields.rtt_count = v[at + RTT_COUNT];
      fields.duration_known = v[at + DUR_KNOWN];
      fields.duration_seconds_sum = v[at + DUR_SUM] / 1000;
      return { schema: LIFECYCLE_SCHEMA, tags: { ...pt.tags, direction: pt.direction, addr_port: pt.addrPort }, fields, time };
    });
    const s = this.subscription;
    const b = this.before;
    out.push({
      schema: LIFECYCLE_EVENTS_SCHEMA,
      tags: {},
      time,
      fields: {
        events: b.events + s.events,
        lost: b.lost + s.lost,
        overruns: b.overruns + s.overruns,
        malformed: b.malformed + s.malformed,
        untracked: this.counts.untracked,
        tracked: this.tracked.size,
        groups_overflowed: this.counts.overflowed,
        rcvbuf_bytes: s.rcvbufBytes,
        subscription_failures: this.counts.subscriptionFailures,
      },
    });
    return out;
  }
}
