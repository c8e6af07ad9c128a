/**
 * The attribute and tcp_info decoders over arbitrary bytes: they may report an error, never throw one that is
 * not a SockscopeError; and an encode → decode round trip gives back what was encoded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeInetAttributes } from '../../src/diag/inet.js';
import { decodeTcpInfo, TCP_INFO_FIELDS } from '../../src/diag/tcp-info.js';
import { decodeUnixAttributes } from '../../src/diag/unix.js';
import { decodeNetlinkMessage } from '../../src/diag/netlink-diag.js';
import { decodePacketMessage } from '../../src/diag/packet.js';
import { decodeVsockMessage } from '../../src/diag/vsock.js';
import { decodeXdpMessage } from '../../src/diag/xdp.js';
import { familyLine } from '../../src/outputs/listing/family-table.js';
import { familyRecord } from '../../src/outputs/listing/family-record.js';
import { isSockscopeError } from '../../src/errors.js';
import { AttributeDecoder, encodeAttribute, findAttribute } from '../../src/netlink/attributes.js';
import { encodeRequest, MessageIterator } from '../../src/netlink/message.js';
import { concat, nlattr, viewOf } from '../helpers/bytes.js';
import { budget } from '../helpers/fuzz-budget.js';

/** Any bytes, and a window [start, end) inside them. */
const window = fc.tuple(fc.uint8Array({ maxLength: 700 }), fc.nat(), fc.nat()).map(([bytes, a, b]) => {
  const start = a % (bytes.byteLength + 1);
  const end = start + (b % (bytes.byteLength - start + 1));
  return { bytes, start, end };
});

/** Attribute lists with valid framing and arbitrary content, so every case of the decoders is reached. */
const framed = fc.array(
  fc.record({
    type: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 0xffff })),
    payload: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 100, maxLength: 320 })),
  }),
  { maxLength: 10 },
);

function typedOnly(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    assert.ok(isSockscopeError(e), `an untyped exception escaped: ${String(e)}`);
    return undefined;
  }
}

const KNOWN_INET = new Set(Array.from({ length: 22 }, (_, i) => i + 1));
const SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, lo4: 1, hi4: 1, bit0: 1, bits1_2: 1 };

describe('fuzz: decoders never throw untyped exceptions', () => {
  it('decodeInetAttributes / decodeUnixAttributes over arbitrary bytes', () => {
    fc.assert(
      fc.property(window, ({ bytes, start, end }) => {
        const v = viewOf(bytes);
        for (const decode of [decodeInetAttributes, decodeUnixAttributes]) {
          const a = typedOnly(() => decode(v, start, end)) as { error?: unknown } | undefined;
          if (a) assert.ok(a.error === undefined || typeof a.error === 'string');
        }
      }),
      budget(2000),
    );
  });

  it('the packet, netlink, vsock and XDP decoders over arbitrary bytes and well-framed attributes: a socket or undefined, and its line and record', () => {
    const header = fc.uint8Array({ minLength: 36, maxLength: 36 });
    fc.assert(
      fc.property(window, header, framed, ({ bytes, start, end }, head, attrs) => {
        const framedBytes = concat(head, ...attrs.map((a) => nlattr(a.type, a.payload)));
        for (const decode of [decodePacketMessage, decodeNetlinkMessage, decodeVsockMessage, decodeXdpMessage]) {
          for (const [v, off, len] of [
            [viewOf(bytes), start, end - start],
            [viewOf(framedBytes), 0, framedBytes.byteLength],
          ] as const) {
            const s = typedOnly(() => decode(v, off, len)) as ReturnType<typeof decodePacketMessage>;
            if (!s) continue;
            assert.ok(s.error === undefined || typeof s.error === 'string');
            typedOnly(() => familyLine(s, { extended: true, memory: true, bpf: true, names: true }));
            JSON.stringify(typedOnly(() => familyRecord(s, { extended: true, memory: true, bpf: true })));
          }
        }
      }),
      budget(2000),
    );
  });

  it('decodeInetAttributes over well-framed attributes: unknown types listed in order, never errors', () => {
    fc.assert(
      fc.property(framed, (list) => {
        const bytes = concat(...list.map((a) => nlattr(a.type, a.payload)));
        const a = typedOnly(() => decodeInetAttributes(viewOf(bytes), 0, bytes.byteLength)) as ReturnType<typeof decodeInetAttributes>;
        if (!a || a.error !== undefined) return; // a typed getter met a short payload: reported, not thrown
        const unknown = list.map((x) => x.type & 0x3fff).filter((t) => !KNOWN_INET.has(t));
        assert.deepEqual(a.unknown ?? [], unknown);
        const info = list.filter((x) => (x.type & 0x3fff) === 2).at(-1);
        assert.equal(a.tcpInfoLength, info?.payload.byteLength);
      }),
      budget(1500),
    );
  });

  it('decodeUnixAttributes over well-framed attributes', () => {
    fc.assert(
      fc.property(framed, (list) => {
        const bytes = concat(...list.map((a) => nlattr(a.type, a.payload)));
        const a = typedOnly(() => decodeUnixAttributes(viewOf(bytes), 0, bytes.byteLength)) as ReturnType<typeof decodeUnixAttributes>;
        if (!a || a.error !== undefined) return;
        assert.deepEqual(
          a.unknown ?? [],
          list.map((x) => x.type & 0x3fff).filter((t) => t > 7),
        );
        if (a.name !== undefined) assert.equal(typeof a.name, 'string');
      }),
      budget(1500),
    );
  });

  it('decodeTcpInfo at any offset and length: only fields that fit, only numbers', () => {
    fc.assert(
      fc.property(window, ({ bytes, start, end }) => {
        const info = typedOnly(() => decodeTcpInfo(viewOf(bytes), start, end - start)) as Record<string, number> | undefined;
        if (!info) return;
        for (const f of TCP_INFO_FIELDS) {
          const fits = f.offset + SIZES[f.kind] <= end - start;
          assert.equal(f.name in info, fits, f.name);
          if (fits) assert.ok(typeof info[f.name] === 'number' && !Number.isNaN(info[f.name]) && info[f.name] >= 0);
        }
      }),
      budget(2000),
    );
  });
});

describe('fuzz: round trips', () => {
  it('encodeAttribute → AttributeDecoder gives back every type and payload; findAttribute finds the first', () => {
    const attr = fc.record({ type: fc.integer({ min: 0, max: 0x3fff }), payload: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 20 }), (list) => {
        const bytes = concat(...list.map((a) => encodeAttribute(a.type, a.payload)));
        const d = new AttributeDecoder(viewOf(bytes), 0, bytes.byteLength);
        const got: { type: number; payload: Uint8Array }[] = [];
        while (d.next()) got.push({ type: d.type, payload: d.bytes() });
        assert.equal(d.error, undefined);
        assert.deepEqual(
          got,
          list.map(({ type, payload }) => ({ type, payload })),
        );
        for (const a of list) {
          const i = list.findIndex((x) => x.type === a.type);
          const at = findAttribute(viewOf(bytes), 0, bytes.byteLength, a.type);
          assert.ok(at);
          assert.equal(at[1], list[i].payload.byteLength);
        }
      }),
      budget(1000),
    );
  });

  it('nested: an attribute list inside an attribute decodes the same', () => {
    const attr = fc.record({ type: fc.integer({ min: 0, max: 0x3fff }), payload: fc.uint8Array({ maxLength: 40 }) });
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 8 }), fc.integer({ min: 1, max: 0x3fff }), (list, outerType) => {
        const inner = concat(...list.map((a) => encodeAttribute(a.type, a.payload)));
        const bytes = encodeAttribute(outerType | 0x8000, inner);
        const d = new AttributeDecoder(viewOf(bytes), 0, bytes.byteLength);
        assert.ok(d.next());
        assert.equal(d.type, outerType);
        const n = d.nested();
        const got: { type: number; payload: Uint8Array }[] = [];
        while (n.next()) got.push({ type: n.type, payload: n.bytes() });
        assert.equal(n.error, undefined);
        assert.deepEqual(
          got,
          list.map(({ type, payload }) => ({ type, payload })),
        );
      }),
      budget(500),
    );
  });

  it('encodeRequest → MessageIterator gives back the header and body', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 200 }),
        (type, flags, seq, body) => {
          const bytes = encodeRequest(type, flags, seq, body);
          const it = new MessageIterator(viewOf(bytes), 0, bytes.byteLength);
          assert.ok(it.next());
          assert.deepEqual([it.type, it.flags, it.seq, it.pid, it.payloadLength], [type, flags, seq, 0, body.byteLength]);
          assert.deepEqual(bytes.subarray(it.payload, it.payload + it.payloadLength), body);
          assert.equal(it.next(), false);
          assert.equal(it.error, undefined);
        },
      ),
      budget(500),
    );
  });
});
