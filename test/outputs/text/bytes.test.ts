/**
 * The one number-to-text writer of the byte writers (putU32, putUint): the text Number#toString gives, for every
 * digit count and its edges, and for random values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { putU32, putUint } from '../../../src/outputs/text/bytes.js';

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
