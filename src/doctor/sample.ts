/**
 * One moment of the doctor's window: the TCP and UDP sockets with the few numbers its checks compare, as
 * typed-array columns filled from a streamed dump (so memory is these columns, not the kernel's attribute
 * bytes: ~110 bytes a socket), and the namespace's counters and sysctls read at the same moment.
 */
import { ALL_STATES, Ext, TCP_LISTEN, TCP_TIME_WAIT, type ProtoName } from '../diag/constants.js';
import { TCP_INFO_KIND_CODE, TCP_INFO_KIND_SIZE, tcpInfoField } from '../diag/tcp-info.js';
import { ABSENT as NO, AttributeIndex } from '../diag/attribute-index.js';
import { InetAttr } from '../diag/constants.js';
import { streamSnapshot, type DiagSession } from '../snapshot/snapshot.js';
import type { SocketTable } from '../snapshot/table.js';
import { readHostFacts, type HostFacts } from './host.js';

/** include/uapi/linux/sock_diag.h: enum { SK_MEMINFO_RMEM_ALLOC, ..., SK_MEMINFO_BACKLOG, SK_MEMINFO_DROPS } */
const SK_MEMINFO_DROPS = 8;

/** tcp_info fields the checks read, located once from the one tcp_info table. */
function field(name: string): { offset: number; end: number; code: number } {
  const f = tcpInfoField(name)!;
  return { offset: f.offset, end: f.offset + TCP_INFO_KIND_SIZE[f.kind], code: TCP_INFO_KIND_CODE[f.kind] };
}
const SEGS_OUT = field('segs_out');
const TOTAL_RETRANS = field('total_retrans');
const BYTES_RECEIVED = field('bytes_received');
const BYTES_ACKED = field('bytes_acked');
const SND_WND = field('snd_wnd');

/** A number the kernel did not send (older tcp_info, no SKMEMINFO). */
export const ABSENT = -1;

export class DoctorSample {
  length = 0;
  private capacity: number;
  proto!: Uint8Array;
  family!: Uint8Array;
  state!: Uint8Array;
  timer!: Uint8Array;
  sport!: Uint16Array;
  dport!: Uint16Array;
  src!: Uint8Array;
  dst!: Uint8Array;
  rqueue!: Uint32Array;
  wqueue!: Uint32Array;
  inode!: Uint32Array;
  /** the socket cookie as a number (exact below 2^53: cookies count up from 1 per boot) */
  cookie!: Float64Array;
  /** SK_MEMINFO_DROPS, or ABSENT */
  drops!: Float64Array;
  /** tcp_info counters, or ABSENT */
  segsOut!: Float64Array;
  totalRetrans!: Float64Array;
  bytesReceived!: Float64Array;
  bytesAcked!: Float64Array;
  sndWnd!: Float64Array;
  /** when the dump started (ms since the epoch, and performance.now() for the window) */
  takenAt = 0;
  monotonicMs = 0;
  host!: HostFacts;
  notes: string[] = [];

  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.grow(capacity);
  }

  private grow(capacity: number): void {
    const n = this.length;
    const re = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(old: T | undefined, make: (n: number) => T, width = 1): T => {
      const a = make(capacity * width);
      if (old) a.set(old.subarray(0, n * width) as never);
      return a;
    };
    this.proto = re(this.proto, (k) => new Uint8Array(k));
    this.family = re(this.family, (k) => new Uint8Array(k));
    this.state = re(this.state, (k) => new Uint8Array(k));
    this.timer = re(this.timer, (k) => new Uint8Array(k));
    this.sport = re(this.sport, (k) => new Uint16Array(k));
    this.dport = re(this.dport, (k) => new Uint16Array(k));
    this.src = re(this.src, (k) => new Uint8Array(k), 16);
    this.dst = re(this.dst, (k) => new Uint8Array(k), 16);
    this.rqueue = re(this.rqueue, (k) => new Uint32Array(k));
    this.wqueue = re(this.wqueue, (k) => new Uint32Array(k));
    this.inode = re(this.inode, (k) => new Uint32Array(k));
    this.cookie = re(this.cookie, (k) => new Float64Array(k));
    this.drops = re(this.drops, (k) => new Float64Array(k));
    this.segsOut = re(this.segsOut, (k) => new Float64Array(k));
    this.totalRetrans = re(this.totalRetrans, (k) => new Float64Array(k));
    this.bytesReceived = re(this.bytesReceived, (k) => new Float64Array(k));
    this.bytesAcked = re(this.bytesAcked, (k) => new Float64Array(k));
    this.sndWnd = re(this.sndWnd, (k) => new Float64Array(k));
    this.capacity = capacity;
  }

  /** Copy one batch of a streamed dump: header columns, then the few attribute numbers. */
  addBatch(t: SocketTable, scan: AttributeIndex): void {
    if (this.length + t.length > this.capacity) this.grow(Math.max(this.capacity * 2, this.length + t.length));
    const at = this.length;
    const n = t.length;
    this.proto.set(t.proto.subarray(0, n), at);
    this.family.set(t.family.subarray(0, n), at);
    this.state.set(t.state.subarray(0, n), at);
    this.timer.set(t.timer.subarray(0, n), at);
    this.sport.set(t.sport.subarray(0, n), at);
    this.dport.set(t.dport.subarray(0, n), at);
    this.src.set(t.src.subarray(0, n * 16), at * 16);
    this.dst.set(t.dst.subarray(0, n * 16), at * 16);
    this.rqueue.set(t.rqueue.subarray(0, n), at);
    this.wqueue.set(t.wqueue.subarray(0, n), at);
    this.inode.set(t.inode.subarray(0, n), at);
    const view = t.arenaView();
    for (let i = 0; i < n; i++) {
      const r = at + i;
      this.cookie[r] = t.cookieHi[i] * 0x100000000 + t.cookieLo[i];
      this.drops[r] = this.segsOut[r] = this.totalRetrans[r] = this.bytesReceived[r] = this.bytesAcked[r] = this.sndWnd[r] = ABSENT;
      if (t.attrLength[i] === 0) continue;
      const start = t.attrStart[i];
      const a = scan.inet(view, start, start + t.attrLength[i]);
      const skmem = a.off[InetAttr.SKMEMINFO];
      if (skmem !== NO && a.len[InetAttr.SKMEMINFO] >= 4 * (SK_MEMINFO_DROPS + 1)) this.drops[r] = view.getUint32(skmem + 4 * SK_MEMINFO_DROPS, true);
      if (a.off[InetAttr.INFO] === NO || t.state[i] === TCP_LISTEN) continue;
      const off = a.off[InetAttr.INFO];
      const len = a.len[InetAttr.INFO];
      if (len >= SEGS_OUT.end) this.segsOut[r] = view.getUint32(off + SEGS_OUT.offset, true);
      if (len >= TOTAL_RETRANS.end) this.totalRetrans[r] = view.getUint32(off + TOTAL_RETRANS.offset, true);
      if (len >= BYTES_RECEIVED.end) this.bytesReceived[r] = u64(view, off + BYTES_RECEIVED.offset);
      if (len >= BYTES_ACKED.end) this.bytesAcked[r] = u64(view, off + BYTES_ACKED.offset);
      if (len >= SND_WND.end) this.sndWnd[r] = view.getUint32(off + SND_WND.offset, true);
    }
    this.length += n;
  }

  /** Row of each cookie of the rows `keep` takes (built once per check, for the sockets it compares). */
  cookieIndex(keep: (row: number) => boolean): CookieIndex {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (keep(i)) n++;
    const index = new CookieIndex(n);
    for (let i = 0; i < this.length; i++) if (keep(i)) index.set(this.cookie[i], i);
    return index;
  }
}

/**
 * Socket cookie → row, in typed arrays (open addressing, linear probing, at most half full): a window compares
 * ~100k connections on a busy host, and a Map keyed by cookies (doubles above 2^31) costs a boxed number and a
 * hash of it per socket, and the garbage collector's time after.
 */
export class CookieIndex {
  private readonly keys: Float64Array;
  private readonly rows: Int32Array;
  private readonly mask: number;

  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keys = new Float64Array(size);
    this.rows = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  /** cookies count up from 1: their low bits spread, mixed with the high word for cookies past 2^32 */
  private slot(cookie: number): number {
    return (Math.imul((cookie >>> 0) ^ ((cookie / 0x100000000) >>> 0), 0x9e3779b1) >>> 0) & this.mask;
  }

  set(cookie: number, row: number): void {
    let k = this.slot(cookie);
    while (this.rows[k] !== -1 && this.keys[k] !== cookie) k = (k + 1) & this.mask;
    this.keys[k] = cookie;
    this.rows[k] = row;
  }

  /** the row of `cookie`, or undefined */
  get(cookie: number): number | undefined {
    for (let k = this.slot(cookie); this.rows[k] !== -1; k = (k + 1) & this.mask) if (this.keys[k] === cookie) return this.rows[k];
    return undefined;
  }

  has(cookie: number): boolean {
    return this.get(cookie) !== undefined;
  }
}

const u64 = (view: DataView, at: number): number => view.getUint32(at + 4, true) * 0x100000000 + view.getUint32(at, true);

/** A sample of one whole table (the agent's gather: src/collectors/doctor.ts), taken at `time` (ms) with `host`'s facts. */
export function sampleOfTable(t: SocketTable, time: number, host: HostFacts): DoctorSample {
  const sample = new DoctorSample(t.length + 1);
  sample.addBatch(t, new AttributeIndex());
  sample.takenAt = sample.monotonicMs = time;
  sample.host = host;
  return sample;
}

/**
 * Every state but TIME_WAIT: what the first sample of a window needs (no check compares TIME_WAIT sockets across
 * the window; the second sample has them for ephemeral_ports), a third less to dump on a busy host.
 */
export const WINDOW_START_STATES = ALL_STATES & ~(1 << TCP_TIME_WAIT);

/**
 * The dumps of a sample, each asking the kernel for what the checks read of those sockets only: SK_MEMINFO's drop
 * counter for listeners (accept_queue) and UDP (udp_drops), tcp_info for the other TCP sockets (retransmits,
 * stuck_receive_queue, zero_window). The kernel walks the listening hash for the first and the established hash
 * for the second, so no socket is dumped twice, and ~100k connections are not each filled a meminfo nobody reads.
 */
const DUMPS = (states: number) =>
  [
    { protocols: ['tcp'] as ProtoName[], ext: Ext.skmeminfo, states: states & (1 << TCP_LISTEN) },
    { protocols: ['tcp'] as ProtoName[], ext: Ext.info, states: states & ~(1 << TCP_LISTEN) },
    { protocols: ['udp'] as ProtoName[], ext: Ext.skmeminfo, states: ALL_STATES },
  ].filter((d) => d.states !== 0);

/** Dump TCP and UDP (with tcp_info or skmeminfo, DUMPS) through `session`, then read the namespace's facts. */
export async function takeDoctorSample(session: DiagSession, capacity = 1024, states = ALL_STATES): Promise<DoctorSample> {
  const sample = new DoctorSample(capacity);
  const scan = new AttributeIndex();
  sample.monotonicMs = performance.now();
  for (const dump of DUMPS(states)) {
    const meta = await streamSnapshot(
      { ...dump, keepAttributes: true },
      (batch, takenAt) => {
        sample.takenAt = takenAt;
        sample.addBatch(batch, scan);
      },
      session,
    );
    sample.takenAt = meta.takenAt;
    for (const s of meta.sources)
      if (s.source !== 'netlink') sample.notes.push(`${s.protocol}: read from /proc/net${s.note ? ` (${s.note})` : ''}: no tcp_info or drop counters`);
    sample.notes.push(...meta.notes);
  }
  sample.host = readHostFacts();
  sample.notes = [...new Set(sample.notes)];
  return sample;
}
