/** struct nlattr decoding and encoding over byte literals (after mdlayher/netlink attribute_test.go). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeDecoder, encodeAttribute, findAttribute, findAttributeOffset, NLA_HDRLEN } from '../../src/netlink/attributes.js';
import { hex, toHex, viewOf } from '../helpers/bytes.js';

interface Seen {
  type: number;
  payload: string;
}

function walk(bytes: Uint8Array): { seen: Seen[]; error: string | undefined } {
  const d = new AttributeDecoder(viewOf(bytes), 0, bytes.byteLength);
  const seen: Seen[] = [];
  while (d.next()) seen.push({ type: d.type, payload: toHex(bytes.subarray(d.offset, d.offset + d.length)) });
  return { seen, error: d.error };
}

describe('AttributeDecoder.next', () => {
  const cases: { name: string; bytes: string; want: Seen[]; error?: RegExp }[] = [
    { name: 'empty region', bytes: '', want: [] },
    { name: 'zero-length payload', bytes: '04 00 0e 00', want: [{ type: 14, payload: '' }] },
    {
      name: 'u8 attribute padded to 4, then a u32',
      //      len=5 type=8 val pad      len=8 type=15 value
      bytes: '05 00 08 00 03 00 00 00  08 00 0f 00 78 56 34 12',
      want: [
        { type: 8, payload: '03' },
        { type: 15, payload: '78 56 34 12' },
      ],
    },
    {
      name: 'last attribute unpadded at the end of the region',
      bytes: '08 00 01 00 01 00 00 00  06 00 16 00 21 01',
      want: [
        { type: 1, payload: '01 00 00 00' },
        { type: 22, payload: '21 01' },
      ],
    },
    {
      name: 'NLA_F_NESTED and NLA_F_NET_BYTEORDER are masked off the type',
      bytes: '04 00 13 80  06 00 05 40 00 50 00 00',
      want: [
        { type: 19, payload: '' },
        { type: 5, payload: '00 50' },
      ],
    },
    {
      name: 'trailing zero padding shorter than a header is legal',
      bytes: '05 00 08 00 01 00 00 00  00 00',
      want: [{ type: 8, payload: '01' }],
    },
    {
      name: 'trailing non-zero bytes shorter than a header are an error',
      bytes: '05 00 08 00 01 00 00 00  01 00',
      want: [{ type: 8, payload: '01' }],
      error: /truncated attribute header at offset 8/,
    },
    {
      name: 'truncated attribute: nla_len past the region',
      bytes: '08 00 0f 00 01 00 00 00  0c 00 02 00 aa bb cc dd',
      want: [{ type: 15, payload: '01 00 00 00' }],
      error: /bad nla_len 12 at offset 8 \(8 bytes left\)/,
    },
    { name: 'nla_len below the header size', bytes: '02 00 01 00 00 00 00 00', want: [], error: /bad nla_len 2 at offset 0/ },
    { name: 'nla_len zero (would loop forever if accepted)', bytes: '00 00 01 00 00 00 00 00', want: [], error: /bad nla_len 0/ },
    {
      name: 'unknown types are yielded, not errors (a newer kernel)',
      bytes: '05 00 e7 03 01 00 00 00  05 00 08 00 02 00 00 00',
      want: [
        { type: 999, payload: '01' },
        { type: 8, payload: '02' },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { seen, error } = walk(hex(c.bytes));
      assert.deepEqual(seen, c.want);
      if (c.error) assert.match(error ?? '', c.error);
      else assert.equal(error, undefined);
    });
  }
});

describe('AttributeDecoder typed getters', () => {
  it('reads u8, u16, u32, u64 little-endian, strings and bytes', () => {
    const b = hex(`
      05 00 01 00 fe 00 00 00
      06 00 02 00 34 12 00 00
      08 00 03 00 78 56 34 12
      0c 00 04 00 08 07 06 05 04 03 02 01
      08 00 05 00 62 62 72 00
      07 00 06 00 74 6c 73 00
      07 00 07 00 01 02 03 00`);
    const d = new AttributeDecoder(viewOf(b), 0, b.byteLength);
    const got: unknown[] = [];
    while (d.next()) {
      switch (d.type) {
        case 1:
          got.push(d.u8());
          break;
        case 2:
          got.push(d.u16());
          break;
        case 3:
          got.push(d.u32());
          break;
        case 4:
          got.push(d.u64());
          break;
        case 5:
          got.push(d.string());
          break; // NUL-terminated
        case 6:
          got.push(d.string());
          break; // "tls" without a terminator, length 3
        case 7:
          got.push(Array.from(d.bytes()));
          break;
      }
    }
    assert.deepEqual(got, [0xfe, 0x1234, 0x12345678, 0x0102030405060708n, 'bbr', 'tls', [1, 2, 3]]);
    assert.equal(d.error, undefined);
  });

  it('bytes() is a copy, not a view into the receive buffer', () => {
    const b = hex('06 00 01 00 aa bb 00 00');
    const d = new AttributeDecoder(viewOf(b), 0, b.byteLength);
    assert.ok(d.next());
    const copy = d.bytes();
    b[4] = 0;
    assert.deepEqual(Array.from(copy), [0xaa, 0xbb]);
  });

  it('a wrong-length read returns 0, records the error, and stops the walk (sticky)', () => {
    //               u32 asked of a 2-byte payload      a later, valid attribute
    const b = hex('06 00 0f 00 01 02 00 00  08 00 0f 00 01 00 00 00');
    const d = new AttributeDecoder(viewOf(b), 0, b.byteLength);
    assert.ok(d.next());
    assert.equal(d.u32(), 0);
    assert.match(d.error ?? '', /attribute type 15 has 2 bytes, expected at least 4/);
    assert.equal(d.u64(), 0n);
    assert.match(d.error ?? '', /expected at least 4/, 'the first error is kept');
    assert.equal(d.next(), false, 'no attribute is yielded after an error');
    d.reset(viewOf(b), 8, 16);
    assert.equal(d.error, undefined);
    assert.ok(d.next());
    assert.equal(d.u32(), 1);
  });

  it('u8 of an empty payload is an error', () => {
    const b = hex('04 00 05 00');
    const d = new AttributeDecoder(viewOf(b), 0, 4);
    assert.ok(d.next());
    assert.equal(d.u8(), 0);
    assert.match(d.error ?? '', /has 0 bytes, expected at least 1/);
  });

  it('nested(): walks the payload of a nested attribute, then the outer walk continues', () => {
    // INET_DIAG_ULP_INFO (19|NLA_F_NESTED) { INET_ULP_INFO_NAME(1) "tls", INET_ULP_INFO_TLS(2|NESTED) { 1: u16 0x0303 } }
    const b = hex(`
      18 00 13 80
        08 00 01 00 74 6c 73 00
        0c 00 02 80
          06 00 01 00 03 03 00 00
      05 00 08 00 01 00 00 00`);
    const outer = new AttributeDecoder(viewOf(b), 0, b.byteLength);
    assert.ok(outer.next());
    assert.equal(outer.type, 19);
    const inner = outer.nested();
    const seen: string[] = [];
    while (inner.next()) {
      if (inner.type === 1) seen.push(`name=${inner.string()}`);
      if (inner.type === 2) {
        const tls = inner.nested();
        while (tls.next()) seen.push(`tls.${tls.type}=${tls.u16().toString(16)}`);
        assert.equal(tls.error, undefined);
      }
    }
    assert.equal(inner.error, undefined);
    assert.deepEqual(seen, ['name=tls', 'tls.1=303']);
    assert.ok(outer.next());
    assert.equal(outer.type, 8);
    assert.equal(outer.u8(), 1);
    assert.equal(outer.next(), false);
    assert.equal(outer.error, undefined);
  });

  it('a malformed nested payload sets the inner error only', () => {
    const b = hex('0c 00 13 80  0c 00 01 00 00 00 00 00');
    const outer = new AttributeDecoder(viewOf(b), 0, b.byteLength);
    assert.ok(outer.next());
    const inner = outer.nested();
    assert.equal(inner.next(), false);
    assert.match(inner.error ?? '', /bad nla_len 12/);
    assert.equal(outer.error, undefined);
  });
});

describe('findAttribute', () => {
  const b = hex('05 00 08 00 01 00 00 00  08 00 0f 80 2a 00 00 00  05 00 05 00 10 00 00 00');
  const v = viewOf(b);
  it('returns [payload offset, payload length] of the first attribute of that type, flags masked', () => {
    assert.deepEqual(findAttribute(v, 0, b.byteLength, 15), [12, 4]);
    assert.deepEqual(findAttribute(v, 0, b.byteLength, 5), [20, 1]);
    assert.deepEqual(findAttribute(v, 0, b.byteLength, 8), [4, 1]);
  });
  it('undefined when absent or when a bad nla_len comes first', () => {
    assert.equal(findAttribute(v, 0, b.byteLength, 2), undefined);
    const bad = hex('05 00 08 00 01 00 00 00  00 00 0f 00 2a 00 00 00');
    assert.equal(findAttribute(viewOf(bad), 0, bad.byteLength, 15), undefined);
  });
  it("findAttributeOffset is the same walk: AttributeDecoder's first attribute of the type, over any bytes", () => {
    // every prefix and every start of a list with a good run, a zero-length header, an overlong one and junk
    const bytes = hex('05 00 08 00 01 00 00 00  08 00 0f 80 2a 00 00 00  04 00 03 00  09 00 05 00 01 02 03 04 05 00 00 00  ff 00 07 00 00');
    const view = viewOf(bytes);
    for (let start = 0; start <= bytes.byteLength; start += 4) {
      for (let end = start; end <= bytes.byteLength; end++) {
        for (const type of [3, 5, 7, 8, 15, 99]) {
          const d = new AttributeDecoder(view, start, end);
          let want: [number, number] | undefined;
          while (!want && d.next()) if (d.type === type) want = [d.offset, d.length];
          const at = findAttributeOffset(view, start, end, type);
          assert.equal(at, want ? want[0] : -1, `[${start}, ${end}) type ${type}`);
          if (want) assert.equal(view.getUint16(at - NLA_HDRLEN, true) - NLA_HDRLEN, want[1]);
          assert.deepEqual(findAttribute(view, start, end, type), want);
        }
      }
    }
  });
});

describe('encodeAttribute', () => {
  const cases: [string, number, string, string][] = [
    ['empty payload', 14, '', '04 00 0e 00'],
    ['u32', 3, '06 01 00 00', '08 00 03 00 06 01 00 00'],
    ['5-byte payload: nla_len 9, padded to 12 with zeros', 1, '01 02 03 04 05', '09 00 01 00 01 02 03 04 05 00 00 00'],
  ];
  for (const [name, type, payload, want] of cases) {
    it(name, () => assert.equal(toHex(encodeAttribute(type, hex(payload))), toHex(hex(want))));
  }
});
