/**
 * Addresses: parseAddress(format(bytes)) gives back the bytes; formatIPv6 agrees with the WHATWG URL serializer
 * (RFC 5952 compression); parseAddress accepts exactly what node's net.isIP accepts (inet_pton's grammar).
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatIPv4, formatIPv6, parseAddress } from '../../src/diag/address.js';
import { budget } from '../helpers/fuzz-budget.js';

/** 16 bytes biased towards zero groups, so compression is exercised. */
const v6bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const b = new Uint8Array(16);
    groups.forEach((g, i) => {
      b[2 * i] = g >> 8;
      b[2 * i + 1] = g & 0xff;
    });
    return b;
  });
const mapped = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]));

/** Text built from address-like pieces: valid and invalid addresses in useful proportions. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[0-9a-f]{1,4}$/) },
  fc.stringMatching(/^[0-9a-fA-F]{1,5}$/),
  fc.constant(''),
  fc.constant('0'),
  fc
    .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 260 }), fc.boolean())
    .map(([a, b, c, d, zero]) => `${zero ? '0' : ''}${a}.${b}.${c}.${d}`),
);
const addressLike = fc.oneof(
  fc.array(piece, { maxLength: 10 }).map((ps) => ps.join(':')),
  fc.tuple(fc.array(piece, { maxLength: 5 }), fc.array(piece, { maxLength: 5 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  piece,
  fc.string({ maxLength: 20 }),
);

describe('fuzz: addresses', () => {
  it('parseAddress(formatIPv6(b)) gives back b', () => {
    fc.assert(
      fc.property(fc.oneof(v6bytes, mapped), (b) => {
        const r = parseAddress(formatIPv6(b, 0));
        assert.ok(r);
        assert.equal(r.family, 10);
        assert.deepEqual(r.bytes, b);
      }),
      budget(2000),
    );
  });

  it('parseAddress(formatIPv4(b)) gives back b', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        const r = parseAddress(formatIPv4(b, 0));
        assert.ok(r);
        assert.equal(r.family, 2);
        assert.deepEqual(r.bytes, new Uint8Array([...b, ...new Array(12).fill(0)]));
      }),
      budget(500),
    );
  });

  it('formatIPv6 is the canonical form the WHATWG URL serializer produces (non-mapped addresses)', () => {
    fc.assert(
      fc.property(v6bytes, (b) => {
        const text = formatIPv6(b, 0);
        if (text.startsWith('::ffff:') && text.includes('.')) return; // mixed notation: RFC 5952 §5, URL does not use it
        assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`);
      }),
      budget(2000),
    );
  });

  it('every address fast-check generates parses, to the bytes the URL parser finds', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const r = parseAddress(text);
        assert.ok(r, text);
        const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        assert.deepEqual(r.bytes, parseAddress(canonical)?.bytes);
      }),
      budget(1000),
    );
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const r = parseAddress(text);
        assert.ok(r, text);
        assert.equal(formatIPv4(r.bytes, 0), text);
      }),
      budget(500),
    );
  });

  it('parseAddress accepts exactly what net.isIP accepts, never throws', () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        const r = parseAddress(text);
        const want = isIP(text);
        assert.equal(r === undefined ? 0 : r.family === 2 ? 4 : 6, want, JSON.stringify(text));
        // and the bytes are the ones the WHATWG URL parser finds
        if (r && want === 6)
          assert.equal(
            `[${formatIPv6(r.bytes, 0).replace(/^::ffff:(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `::ffff:${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`)}]`,
            new URL(`http://[${text}]/`).hostname,
          );
      }),
      budget(3000),
    );
  });
});
