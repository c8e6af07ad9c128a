/**
 * JSON text into a ByteBuffer: strings escaped exactly as JSON.stringify escapes them (jsonString, JsonBytes#str).
 */
import { ByteBuffer, encoder } from './bytes.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON.stringify escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s) for a string: the same text, without the call when nothing needs escaping. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * ByteBuffer with JSON strings: the buffer socket records are written into (bytes.ts has the generic part).
 */
export class JsonBytes extends ByteBuffer {
  /** JSON.stringify(s), as UTF-8 */
  str(s: string): void {
    const n = s.length;
    if (this.pos + n + 2 > this.buf.length) this.ensure(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x20 || c === 34 || c === 92 || c > 0x7f) {
        this.escaped(s);
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 34;
    this.pos = p;
  }

  private escaped(s: string): void {
    const j = jsonString(s);
    if (this.pos + 3 * j.length > this.buf.length) this.ensure(3 * j.length);
    this.pos += encoder.encodeInto(j, this.buf.subarray(this.pos)).written;
  }
}
