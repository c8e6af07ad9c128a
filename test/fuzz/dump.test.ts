/**
 * runDump and the message decoders over arbitrary datagrams: whatever the bytes, the dump terminates, never
 * throws, and every row it produced decodes without an exception.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { appendInetMessage, decodeInetAttributes } from '../../src/diag/inet.js';
import { appendUnixMessage, decodeUnixAttributes } from '../../src/diag/unix.js';
import { newReceiveBuffer, runDump } from '../../src/snapshot/dump.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { concat, le16, le32, nlattr, replayReader } from '../helpers/bytes.js';
import { budget } from '../helpers/fuzz-budget.js';

const SEQ = 42;

/** Attribute lists with valid framing, any type (flags included) and any payload: reaches every decoder case. */
const attributes = fc
  .array(
    fc.record({
      type: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 0xffff })),
      payload: fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ minLength: 100, maxLength: 320 })),
    }),
    { maxLength: 8 },
  )
  .map((list) => concat(...list.map((a) => nlattr(a.type, a.payload))));

const payload = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 72, maxLength: 72 }), attributes).map(([h, a]) => concat(h, a)), // inet_diag_msg
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), attributes).map(([h, a]) => concat(h, a)), // unix_diag_msg
  fc.uint8Array({ maxLength: 120 }),
  fc.integer({ min: -200, max: 200 }).map((e) => new Uint8Array(le32(e >>> 0))), // DONE / ERROR payloads
);

/** One netlink message, mostly well-formed: its length is sometimes off, and its type, flags and seq vary. */
const message = fc
  .record({
    type: fc.oneof(fc.constantFrom(1, 2, 3, 4, 18, 20), fc.integer({ min: 0, max: 0xffff })),
    flags: fc.oneof(fc.constantFrom(0, 0x2, 0x12), fc.integer({ min: 0, max: 0xffff })),
    seq: fc.oneof(fc.constant(SEQ), fc.constant(SEQ - 1), fc.integer({ min: 0, max: 0xffffffff })),
    payload,
    lenDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -24, max: 24 }) }),
  })
  .map((m) => {
    const len = 16 + m.payload.byteLength;
    const out = new Uint8Array((len + 3) & ~3);
    out.set([...le32(Math.max(0, len + m.lenDelta)), ...le16(m.type), ...le16(m.flags), ...le32(m.seq), ...le32(0)]);
    out.set(m.payload, 16);
    return out;
  });

/** A datagram: a run of messages, sometimes cut short, or plain noise. */
const datagram = fc
  .oneof(
    { weight: 4, arbitrary: fc.array(message, { minLength: 1, maxLength: 6 }).map((ms) => concat(...ms)) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.array(message, { minLength: 1, maxLength: 4 }), fc.nat()).map(([ms, cut]) => {
        const d = concat(...ms);
        return d.subarray(0, cut % (d.byteLength + 1));
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }) },
  )
  .filter((d) => d.byteLength > 0); // an empty read means "stream ended" to a DatagramReader

function dumpAndDecode(datagrams: Uint8Array[], messageType: number): void {
  const read = replayReader(datagrams);
  const table = new SocketTable(16, 0);
  let visited = 0;
  let rejected = 0;
  const out = runDump(read, newReceiveBuffer(), SEQ, messageType, (view, words, bytes, off, len) => {
    visited++;
    const ok = bytes[off] === 1 ? appendUnixMessage(table, view, bytes, off, len, true) : appendInetMessage(table, view, words, bytes, off, len, 1, 1, true);
    if (!ok) rejected++;
  });
  // termination: never more reads than datagrams + the final 0
  assert.ok(read.reads <= datagrams.length + 1);
  assert.ok(out.datagrams <= datagrams.length);
  assert.equal(out.messages, visited);
  assert.equal(table.length, visited - rejected);
  if (read.reads === datagrams.length + 1) assert.match(out.problem ?? '', /without NLMSG_DONE/);
  assert.ok(Number.isInteger(out.errno) && out.errno >= 0 && out.errno <= 2 ** 31);
  assert.ok(out.malformed >= 0);
  // every row's attributes decode without an exception, from the arena the table kept
  const view = table.arenaView();
  for (let r = 0; r < table.length; r++) {
    const start = table.attrStart[r];
    const end = start + table.attrLength[r];
    const a = table.family[r] === 1 ? decodeUnixAttributes(view, start, end) : decodeInetAttributes(view, start, end);
    assert.ok(a.error === undefined || typeof a.error === 'string');
  }
}

describe('fuzz: runDump', () => {
  it('arbitrary bytes: terminates, never throws', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { maxLength: 6 }), (ds) => dumpAndDecode(ds, 20)),
      budget(400),
    );
  });

  it('netlink-shaped datagrams (valid, cut, mislabelled, noisy): terminates, never throws', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.array(datagram, { maxLength: 6 }), fc.constantFrom(18, 20), (ds, type) => dumpAndDecode(ds, type)),
      budget(600, 3000),
    );
  });

  it('a well-formed dump ending in DONE is read completely, whatever the socket messages hold', { timeout: 30_000 }, () => {
    const sock = fc.tuple(payload, fc.boolean()).map(([p, intr]) => {
      const len = 16 + p.byteLength;
      const out = new Uint8Array((len + 3) & ~3);
      out.set([...le32(len), ...le16(20), ...le16(intr ? 0x12 : 0x2), ...le32(SEQ), ...le32(0)]);
      out.set(p, 16);
      return { bytes: out, intr };
    });
    fc.assert(
      fc.property(fc.array(fc.array(sock, { minLength: 1, maxLength: 5 }), { maxLength: 5 }), (groups) => {
        const done = concat(le32(20), le16(3), le16(2), le32(SEQ), le32(0), le32(0));
        const datagrams = [...groups.map((g) => concat(...g.map((m) => m.bytes))), done];
        const n = groups.reduce((s, g) => s + g.length, 0);
        const out = runDump(replayReader(datagrams), newReceiveBuffer(), SEQ, 20, () => {});
        assert.deepEqual(
          { messages: out.messages, errno: out.errno, malformed: out.malformed, problem: out.problem, datagrams: out.datagrams },
          { messages: n, errno: 0, malformed: 0, problem: undefined, datagrams: datagrams.length },
        );
        assert.equal(
          out.interrupted,
          groups.some((g) => g.some((m) => m.intr)),
        );
      }),
      budget(300),
    );
  });
});
