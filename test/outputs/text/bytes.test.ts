/**
 * The one number-to-text writer of the byte writers (putU32, putUint): the text Number#toString gives, for every
 * digit count and its edges, and for random values. Fragments: their text back from ByteBuffer#raw's float64
 * stores, for any UTF-8 at every offset in the word.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBuffer, fragment, putU32, putUint } from '../../../src/outputs/text/bytes.js';

const text = (put: (buf: Uint8Array, p: number, n: number) => number, n: number): string => {
  const buf = new Uint8Array(32).fill(120); // x
  const end = put(buf, 3, n);
  assert.equal(buf[2], 120, `${n}: nothing written before p`);
  return Buffer.from(buf.subarray(3, end)).toString('latin1');
};

describe('putU32 and putUint write integers as String() does', () => {
  it('at every power of ten, either side of it, and at 2^32 - 1', () => {
    for (let d = 0; d <= 9; d++) {
      for (const n of [10 ** d - 1, 10 ** d, 10 ** d + 1, 2 * 10 ** d, 10 ** d + 99]) {
        if (n >= 0 && n < 2 ** 32) assert.equal(text(putU32, n), String(n));
      }
    }
    assert.equal(text(putU32, 2 ** 32 - 1), '4294967295');
    for (let n = 0; n < 20_000; n++) assert.equal(text(putU32, n), String(n));
  });

  it('for random u32s and integers up to 2^53 (putUint), and past it', () => {
    for (let k = 0; k < 50_000; k++) {
      const u = Math.floor(Math.random() * 2 ** 32);
      assert.equal(text(putU32, u), String(u));
      const n = Math.floor(Math.random() * 2 ** (1 + (k % 53)));
      assert.equal(text(putUint, n), String(n));
    }
    for (const n of [2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e20]) assert.equal(text(putUint, n), String(n));
  });
});

describe('fragments through ByteBuffer#raw', () => {
  it('give their text back, for code points of every UTF-8 length at every offset in a float64 word, one after another', () => {
    const points: number[] = [0, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff];
    for (let c = 1; c < 0x800; c++) points.push(c);
    for (let c = 0x800; c <= 0x10ffff; c += 97) if (c < 0xd800 || c > 0xdfff) points.push(c);
    const b = new ByteBuffer(64);
    for (const c of points) {
      const ch = String.fromCodePoint(c);
      const pieces = Array.from({ length: 8 }, (_, off) => `${'x'.repeat(off)}${ch}\x7f${ch}`);
      const from = b.pos;
      for (const piece of pieces) b.raw(fragment(piece));
      assert.equal(b.text(from), pieces.join(''), `U+${c.toString(16)}`);
      b.pos = 0;
    }
  });

  it('keep the 32-bit words of the same bytes (the writers that store those)', () => {
    for (const s of ['', 'a', ',"recv_q":', 'é\u{1f600}\x7f', 'x'.repeat(13)]) {
      const f = fragment(s);
      const bytes = new Uint8Array(f.words.buffer, f.words.byteOffset, f.words.byteLength);
      assert.equal(Buffer.from(bytes.subarray(0, f.length)).toString('utf8'), s);
      assert.equal(f.words.length, (f.length + 3) >> 2);
      assert.ok(bytes.subarray(f.length).every((x) => x === 0));
    }
  });
});
