/**
 * A growing byte buffer that the direct writers (socket-ndjson.ts: JSON records; ls-table.ts: the ls table;
 * socketstat-influx.ts: line protocol) write text into without building strings: precomputed ASCII/UTF-8
 * fragments stored a word at a time, integers digit by digit, strings as UTF-8. What each format escapes is the
 * writer's business (JsonBytes adds JSON strings).
 */

export const encoder = new TextEncoder();

/**
 * A constant piece of text (a key, a punctuation run) as little-endian words, zero-padded: a writer stores whole
 * words (a few times faster than byte by byte) and moves on by `length`, so the bytes past it up to the word's
 * end are scratch that the next write overwrites. `words`: 32-bit words (up to 3 scratch bytes); `wide`: the
 * same bytes as float64 words (up to 7; ByteBuffer#raw's, half the stores). No UTF-8 text is a NaN as a float64
 * (the one bit pattern a float64 load or store might not keep): that needs its last byte 0x7f or 0xff and the
 * one before it 0xf0 or more, and UTF-8 has no 0xff, and 0xf0-0xf4 (a 4-byte sequence's lead) is followed by a
 * continuation byte (0x80-0xbf), never by 0x7f; the padding is zeros.
 */
export interface Fragment {
  readonly words: Int32Array;
  readonly wide: Float64Array;
  readonly length: number;
}

/** a fragment from text (any; UTF-8) */
export function fragment(s: string): Fragment {
  const bytes = encoder.encode(s);
  const padded = new Uint8Array((bytes.length + 7) & ~7);
  padded.set(bytes);
  const words = new Int32Array(padded.buffer, 0, (bytes.length + 3) >> 2);
  const wide = new Float64Array(padded.buffer);
  return { words, wide, length: bytes.length };
}

/** "00" to "99" as ASCII digit pairs: putU32 writes two digits per division */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, k) => 48 + (k & 1 ? (k >> 1) % 10 : ((k >> 1) / 10) | 0));

/**
 * A fragment per byte value (a state code, an options byte), each made the first time it is asked for: a
 * listing meets a handful of the 256, and making them all would cost every command's start a few milliseconds.
 */
export class FragmentTable {
  private readonly made: (Fragment | undefined)[] = new Array(256).fill(undefined);

  constructor(private readonly text: (v: number) => string) {}

  at(v: number): Fragment {
    return this.made[v] ?? (this.made[v] = fragment(this.text(v)));
  }
}

/** Write u, an integer 0 <= u < 2^32, in decimal at buf[p..] (room for 10 bytes needed); returns the end. */
export function putU32(buf: Uint8Array, p: number, u: number): number {
  if (u < 10) {
    buf[p] = 48 + u;
    return p + 1;
  }
  if (u < 100) {
    buf[p] = DIGIT_PAIRS[2 * u];
    buf[p + 1] = DIGIT_PAIRS[2 * u + 1];
    return p + 2;
  }
  const end = p + (u < 1e3 ? 3 : u < 1e4 ? 4 : u < 1e5 ? 5 : u < 1e6 ? 6 : u < 1e7 ? 7 : u < 1e8 ? 8 : u < 1e9 ? 9 : 10);
  let q = end;
  while (u >= 100) {
    const d = (u / 100) >>> 0; // u / 100 < 2^32
    const r = 2 * (u - d * 100);
    buf[--q] = DIGIT_PAIRS[r + 1];
    buf[--q] = DIGIT_PAIRS[r];
    u = d;
  }
  if (u >= 10) {
    buf[--q] = DIGIT_PAIRS[2 * u + 1];
    buf[--q] = DIGIT_PAIRS[2 * u];
  } else buf[--q] = 48 + u;
  return end;
}

/**
 * A non-negative integer n < 1e21 as Number#toString writes it (what JSON.stringify, line protocol and the
 * Prometheus text format write for it), at buf[p..] (room for 21 bytes needed); returns the end. The one
 * number-to-text writer of the byte writers: u32s digit by digit (putU32), integers below 2^53 as the digits of
 * n / 1e9 (exact: its rounding error is below the 1e-9 that separates it from the next integer) and the nine of
 * the remainder, larger ones through String().
 */
export function putUint(buf: Uint8Array, p: number, n: number): number {
  if (n < 0x100000000) return putU32(buf, p, n);
  if (n <= Number.MAX_SAFE_INTEGER) {
    let hi = Math.floor(n / 1e9);
    let lo = n - hi * 1e9;
    if (lo < 0) (hi -= 1), (lo += 1e9);
    else if (lo >= 1e9) (hi += 1), (lo -= 1e9);
    p = putU32(buf, p, hi);
    for (let q = p + 8; q >= p; q--) {
      const d = (lo / 10) | 0;
      buf[q] = 48 + lo - d * 10;
      lo = d;
    }
    return p + 9;
  }
  const s = String(n); // digits only below 1e21
  for (let k = 0; k < s.length; k++) buf[p++] = s.charCodeAt(k);
  return p;
}

/**
 * Text as bytes: precomputed fragments, numbers, ASCII and UTF-8 strings. flush() hands the bytes to a stream
 * and take() as a copy; both start over.
 */
export class ByteBuffer {
  buf: Uint8Array;
  /** over buf, for the word stores of raw() */
  private dv: DataView;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  /** room for `need` more bytes at pos */
  ensure(need: number): void {
    if (this.pos + need <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < this.pos + need) n *= 2;
    const b = new Uint8Array(n);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  /** a precomputed fragment */
  raw(f: Fragment): void {
    const wide = f.wide;
    const n = wide.length;
    if (this.pos + 8 * n > this.buf.length) this.ensure(8 * n);
    const dv = this.dv;
    const p = this.pos;
    for (let k = 0; k < n; k++) dv.setFloat64(p + 8 * k, wide[k], true);
    this.pos = p + f.length;
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** a string known to be ASCII (an address, a number's text) */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) buf[p++] = s.charCodeAt(k);
    this.pos = p;
  }

  /**
   * A number as Number#toString writes it (what JSON.stringify and a template literal write for finite numbers;
   * integers below 2^53 digit by digit); NaN and ±Infinity as JSON's null (line protocol drops such fields before).
   */
  num(n: number): void {
    if (n >>> 0 === n) {
      this.ensure(10);
      this.pos = putU32(this.buf, this.pos, n);
      return;
    }
    if (n > 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n) {
      this.ensure(21);
      this.pos = putUint(this.buf, this.pos, n);
      return;
    }
    this.ascii(Number.isFinite(n) ? String(n) : 'null'); // fractions, huge values (and what JSON has no number for)
  }

  /** any string as UTF-8 (lone surrogates as U+FFFD, as a stream writes a string) */
  utf8(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c > 0x7f) {
        if (this.pos + 3 * n > this.buf.length) this.ensure(3 * n);
        this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** a DataView over buf (replaced when buf grows) */
  view(): DataView {
    return this.dv;
  }

  /** The text `append` writes, taken back out of the buffer (a writer's one-row text for tests and one-off callers). */
  written(append: () => void): string {
    const from = this.pos;
    append();
    const text = this.text(from);
    this.pos = from;
    return text;
  }

  /** the text written since `from` */
  text(from = 0): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + from, this.pos - from).toString('utf8');
  }

  /**
   * Hand the bytes written so far to `write` without copying them, then start over: in the same buffer when
   * `done()` says the consumer is through with them (a synchronous stream: process.stdout on Linux), else in
   * a new one (the old stays with the consumer).
   */
  flush(write: (chunk: Uint8Array) => void, done: () => boolean): void {
    if (this.pos === 0) return;
    write(this.buf.subarray(0, this.pos));
    this.pos = 0;
    if (!done()) {
      this.buf = new Uint8Array(this.buf.length);
      this.dv = new DataView(this.buf.buffer);
    }
  }

  /** the bytes written so far, as a copy; the buffer starts over */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
