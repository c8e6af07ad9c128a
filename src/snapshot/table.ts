/**
 * Decoded sockets as typed-array columns: one row per socket, no per-socket objects. Fixed header fields live in
 * columns; the attributes the kernel sent live as their raw netlink bytes in one arena (attrStart/attrLength per
 * row) and are read on demand (src/diag/inet-attributes.ts, unix.ts). The whole table crosses from a worker as
 * transferable buffers.
 */

export interface SocketTableBuffers {
  length: number;
  arenaUsed: number;
  columns: Record<ColumnName, ArrayBuffer>;
}

const U8 = ['proto', 'family', 'state', 'timer', 'retrans', 'sockType'] as const;
const U16 = ['sport', 'dport'] as const;
const U32 = ['ifindex', 'expires', 'rqueue', 'wqueue', 'uid', 'inode', 'cookieLo', 'cookieHi', 'attrStart', 'attrLength'] as const;
/** Every per-row number column (where a row's attributes lie in the arena included), for code that copies rows. */
export const NUMBER_COLUMNS = [...U8, ...U16, ...U32] as const;
const ADDR = ['src', 'dst'] as const; // 16 bytes per row, network order; IPv4 in the first 4
type ColumnName = (typeof U8)[number] | (typeof U16)[number] | (typeof U32)[number] | (typeof ADDR)[number] | 'arena';

/** uid column value when the kernel did not report one (unix sockets without UNIX_DIAG_UID). */
export const UID_UNKNOWN = 0xffffffff;

/** A column of a table by name: the typed arrays share these members (the name lists above say which is which). */
interface Column {
  buffer: ArrayBufferLike;
  set(from: ArrayLike<number>, offset?: number): void;
  subarray(begin: number, end: number): Column & ArrayLike<number>;
}
const cols = (t: SocketTable): Record<string, Column> => t as unknown as Record<string, Column>;

export class SocketTable {
  length = 0;
  capacity: number;
  proto!: Uint8Array;
  family!: Uint8Array;
  state!: Uint8Array;
  /** inet: idiag_timer; unix: 0 */
  timer!: Uint8Array;
  retrans!: Uint8Array;
  /** SOCK_STREAM / SOCK_DGRAM / SOCK_SEQPACKET / SOCK_RAW */
  sockType!: Uint8Array;
  sport!: Uint16Array;
  dport!: Uint16Array;
  ifindex!: Uint32Array;
  expires!: Uint32Array;
  rqueue!: Uint32Array;
  wqueue!: Uint32Array;
  uid!: Uint32Array;
  inode!: Uint32Array;
  cookieLo!: Uint32Array;
  cookieHi!: Uint32Array;
  attrStart!: Uint32Array;
  attrLength!: Uint32Array;
  src!: Uint8Array;
  dst!: Uint8Array;
  /** 32-bit views of src/dst for 4-byte copies */
  src32!: Uint32Array;
  dst32!: Uint32Array;
  arena: Uint8Array;
  arenaUsed = 0;

  constructor(capacity = 1024, arenaBytes = 0) {
    this.capacity = Math.max(16, capacity);
    this.allocate(this.capacity, undefined);
    this.arena = new Uint8Array(arenaBytes);
  }

  static fromBuffers(b: SocketTableBuffers): SocketTable {
    // constructed, not Object.create'd: properties added to a bare object leave it in dictionary mode, and every
    // column read in a collector's loop would then be a hash lookup
    const t = new SocketTable(16, 0);
    t.length = b.length;
    t.arenaUsed = b.arenaUsed;
    const c = b.columns;
    t.capacity = c.proto.byteLength;
    for (const k of U8) cols(t)[k] = new Uint8Array(c[k]);
    for (const k of U16) cols(t)[k] = new Uint16Array(c[k]);
    for (const k of U32) cols(t)[k] = new Uint32Array(c[k]);
    for (const k of ADDR) cols(t)[k] = new Uint8Array(c[k]);
    t.src32 = new Uint32Array(c.src);
    t.dst32 = new Uint32Array(c.dst);
    t.arena = new Uint8Array(c.arena);
    return t;
  }

  /** Buffers to post from a worker (and the list to transfer). The table is unusable afterwards. */
  toBuffers(): { buffers: SocketTableBuffers; transfer: ArrayBuffer[] } {
    const columns = {} as Record<ColumnName, ArrayBuffer>;
    for (const k of [...U8, ...U16, ...U32, ...ADDR, 'arena'] as ColumnName[]) columns[k] = (cols(this)[k] as Uint8Array).buffer as ArrayBuffer;
    return { buffers: { length: this.length, arenaUsed: this.arenaUsed, columns }, transfer: Object.values(columns) };
  }

  private allocate(capacity: number, old: SocketTable | undefined): void {
    const n = old?.length ?? 0;
    for (const k of U8) {
      const a = new Uint8Array(capacity);
      if (old) a.set(cols(old)[k].subarray(0, n));
      cols(this)[k] = a;
    }
    for (const k of U16) {
      const a = new Uint16Array(capacity);
      if (old) a.set(cols(old)[k].subarray(0, n));
      cols(this)[k] = a;
    }
    for (const k of U32) {
      const a = new Uint32Array(capacity);
      if (old) a.set(cols(old)[k].subarray(0, n));
      cols(this)[k] = a;
    }
    for (const k of ADDR) {
      const a = new Uint8Array(capacity * 16);
      if (old) a.set(cols(old)[k].subarray(0, n * 16));
      cols(this)[k] = a;
    }
    this.src32 = new Uint32Array(this.src.buffer);
    this.dst32 = new Uint32Array(this.dst.buffer);
  }

  /** Make room for one more row and return its index. */
  addRow(): number {
    if (this.length === this.capacity) {
      this.capacity *= 2;
      this.allocate(this.capacity, this);
    }
    return this.length++;
  }

  /**
   * Make room for `bytes` more at arenaUsed (doubling, so a dump's datagrams are copied O(1) times on average).
   * Dumps that keep attributes receive datagrams straight into the arena: the attributes are never copied.
   */
  reserveArena(bytes: number): void {
    if (this.arenaUsed + bytes <= this.arena.byteLength) return;
    const grown = new Uint8Array(Math.max(this.arena.byteLength * 2, this.arenaUsed + bytes, 1 << 16));
    grown.set(new Uint8Array(this.arena.buffer, this.arena.byteOffset, this.arenaUsed));
    this.arena = grown;
  }

  /** Point a row at attribute bytes already in the arena. */
  setAttributeRange(row: number, start: number, length: number): void {
    this.attrStart[row] = start;
    this.attrLength[row] = length;
  }

  /** Copy attribute bytes into the arena and point the row at them. */
  setAttributes(row: number, bytes: Uint8Array, from: number, to: number): void {
    const len = (to - from + 3) & ~3; // keep rows 4-aligned for word reads
    this.reserveArena(len);
    // A fresh view is several times cheaper than subarray() (no species lookup) on this hot path.
    // Copy the attribute bytes only: the padding may lie past the end of `bytes`.
    this.arena.set(new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from), this.arenaUsed);
    this.attrStart[row] = this.arenaUsed;
    this.attrLength[row] = to - from;
    this.arenaUsed += len;
  }

  /** A DataView over the arena (recreate after the arena grows). */
  arenaView(): DataView {
    return new DataView(this.arena.buffer, this.arena.byteOffset, this.arena.byteLength);
  }

  /** A new table of the given rows, in that order (their attributes copied). */
  pick(rows: ArrayLike<number>): SocketTable {
    const t = new SocketTable(rows.length, 0);
    const n = rows.length;
    for (const k of [...U8, ...U16, ...U32] as const) {
      const from = cols(this)[k] as unknown as ArrayLike<number>;
      const to = cols(t)[k] as unknown as number[];
      for (let j = 0; j < n; j++) to[j] = from[rows[j]];
    }
    for (const k of ADDR) for (let j = 0; j < n; j++) cols(t)[k].set(cols(this)[k].subarray(rows[j] * 16, rows[j] * 16 + 16), j * 16);
    t.length = n;
    for (let j = 0; j < n; j++) {
      const i = rows[j];
      if (this.attrLength[i] > 0) t.setAttributes(j, this.arena, this.attrStart[i], this.attrStart[i] + this.attrLength[i]);
    }
    return t;
  }

  /** Copy rows [from, to) of another table's columns to the end of this one's (attributes: the caller's). */
  private appendColumns(other: SocketTable, from: number, to: number): number {
    const need = this.length + to - from;
    if (need > this.capacity) {
      while (this.capacity < need) this.capacity *= 2;
      this.allocate(this.capacity, this);
    }
    const at = this.length;
    for (const k of NUMBER_COLUMNS) cols(this)[k].set(cols(other)[k].subarray(from, to), at);
    for (const k of ADDR) cols(this)[k].set(cols(other)[k].subarray(from * 16, to * 16), at * 16);
    return at;
  }

  /** Append rows [from, to) of another table, their attributes copied row by row. */
  appendRows(other: SocketTable, from = 0, to = other.length): void {
    const at = this.appendColumns(other, from, to);
    this.length = at + to - from;
    for (let i = from; i < to; i++) {
      if (other.attrLength[i] > 0) this.setAttributes(at + i - from, other.arena, other.attrStart[i], other.attrStart[i] + other.attrLength[i]);
    }
  }

  /** Append every row of another table (used to merge per-protocol dumps): its whole arena copied at once. */
  append(other: SocketTable): void {
    const at = this.appendColumns(other, 0, other.length);
    const n = other.length;
    const need = at + n;
    if (other.arenaUsed > 0) {
      const base = this.arenaUsed;
      if (base + other.arenaUsed > this.arena.byteLength) {
        const grown = new Uint8Array(base + other.arenaUsed);
        grown.set(this.arena.subarray(0, base));
        this.arena = grown;
      }
      this.arena.set(other.arena.subarray(0, other.arenaUsed), base);
      for (let i = 0; i < n; i++) this.attrStart[at + i] += base;
      this.arenaUsed += other.arenaUsed;
    }
    this.length = need;
  }
}
