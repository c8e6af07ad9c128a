/**
 * The JSON writer (src/outputs/listing/socket-ndjson.ts, the member table interpreted): for every socket of the recorded
 * fixtures under every combination of -e -o -i -m (with and without -p and interface names), through
 * takeSnapshot (both TCP strategies) and through streamSnapshot's reused batch tables, and for random tables
 * whose columns and attributes fast-check makes up (tcp_info of every length a kernel ever sent and any other,
 * short and repeated attributes, broken framing, unix names with quotes, backslashes, control characters, NULs,
 * non-ASCII and invalid UTF-8), each record is one valid JSON object in JSON.stringify's own form (what a
 * consumer re-serializing it would write: escapes, numbers) that validates against schema/socket.schema.json.
 * The exact bytes on the recording are pinned by test/golden.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DiagSession, replayTransport, streamSnapshot, takeSnapshot } from '../../helpers/library.js';
import { SocketTable } from '../../../src/snapshot/table.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { socketRecord, tcpInfoRecord, type RecordOptions } from '../../../src/outputs/listing/socket-record.js';
import { socketSchema } from '../../../src/outputs/listing/socket-schema.js';
import { PROTO_NAMES, SOCK_TYPE_NAMES as SOCK_TYPES, STATE_KEYS } from '../../../src/diag/constants.js';
import { TCP_INFO_MEMBERS, TIMER_NAMES } from '../../../src/outputs/listing/socket-members.js';
import { fragment, JsonBytes, jsonString, SocketJsonWriter, tcpInfoJson, tcpInfoMember, tcpInfoMemberOf } from '../../../src/outputs/listing/socket-ndjson.js';
import { budget } from '../../helpers/fuzz-budget.js';
import { nameUnit, optionSets, options, recordOptions, row, SNAPSHOT, tableOf, tcpInfoBytes } from '../../helpers/outputs.js';
import { recordedAnswer } from '../../helpers/recorded.js';

const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(socketSchema());

/** One record's text: a JSON object in JSON.stringify's form, valid against the schema. */
function assertRecord(text: string, label: string, schema = true): void {
  let record: unknown;
  assert.doesNotThrow(() => (record = JSON.parse(text)), `${label}: not JSON: ${text}`);
  if (JSON.stringify(record) !== text) assert.equal(text, JSON.stringify(record), `${label}: not in JSON.stringify's form`);
  if (schema && !validate(record)) assert.fail(`${label}: ${JSON.stringify(validate.errors)}\n${text}`);
}

/** Every row's record; checked against the schema when the rows are what a kernel sends (a known protocol and state). */
function assertSameText(t: SocketTable, o: RecordOptions, label: string, random = false): number {
  const view = t.arenaView();
  const writer = new SocketJsonWriter(o);
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    assertRecord(
      writer.write(t, i, view),
      `${label}: row ${i}`,
      !random && t.proto[i] >= 1 && t.proto[i] <= 7 && t.state[i] <= 15 && t.timer[i] < TIMER_NAMES.length && (t.proto[i] !== 7 || t.sockType[i] in SOCK_TYPES),
    );
    n++;
  }
  return n;
}

describe('SocketJsonWriter over the recorded fixtures', () => {
  for (const tcpStrategy of ['legacy', 'v2'] as const) {
    it(`writes a valid record for every socket and every -e -o -i -m (-p) combination (takeSnapshot, ${tcpStrategy})`, async () => {
      const snap = await takeSnapshot({ ...SNAPSHOT, tcpStrategy }, new DiagSession(replayTransport(recordedAnswer)));
      const t = snap.table;
      const protos = new Set(t.proto.subarray(0, t.length));
      assert.ok(t.length > 50 && protos.has(1) && protos.has(2) && protos.has(7), 'TCP, UDP and unix sockets are all there');
      const view = t.arenaView();
      const full = { extended: true, timers: true, info: true, memory: true };
      const recs = Array.from({ length: t.length }, (_, i) => socketRecord(t, i, view, full));
      // the fixture reaches the interesting members, so the checks are not vacuous
      for (const key of [
        'tcp_info',
        'congestion',
        'bbr',
        'memory',
        'queue_memory',
        'shutdown',
        'v6only',
        'cgroup_id',
        'mark',
        'tos',
        'tclass',
        'class_id',
        'timer',
        'vfs',
        'pending_connections',
        'uid',
      ]) {
        assert.ok(
          recs.some((r) => r[key] !== undefined),
          `some record has ${key}`,
        );
      }
      assert.ok(
        recs.some((r) => r.path === null) && recs.some((r) => typeof r.path === 'string' && r.path.startsWith('@')),
        'unnamed and abstract unix sockets',
      );
      assert.ok(recs.some((r) => r.peer_inode === null) && recs.some((r) => typeof r.peer_inode === 'number'), 'with and without a peer');
      for (const [name, o] of optionSets(t)) assert.equal(assertSameText(t, o, name), t.length);
    });
  }

  it("over streamSnapshot's reused batches, one writer for the whole stream: the text takeSnapshot's table gives", async () => {
    const whole = (await takeSnapshot({ ...SNAPSHOT, keepAttributes: true }, new DiagSession(replayTransport(recordedAnswer)))).table;
    for (const [name, o] of optionSets(new SocketTable(16, 0)).filter(([n]) => !n.includes('-p'))) {
      const writer = new SocketJsonWriter(o);
      let rows = 0;
      await streamSnapshot(
        { ...SNAPSHOT, keepAttributes: true },
        (t) => {
          const view = t.arenaView();
          for (let i = 0; i < t.length; i++, rows++)
            assert.equal(writer.write(t, i, view), new SocketJsonWriter(o).write(whole, rows, whole.arenaView()), `${name}: row ${rows}`);
        },
        new DiagSession(replayTransport(recordedAnswer)),
      );
      assert.ok(rows > 50);
    }
  });
});

describe('JsonBytes, jsonString and tcpInfoJson', () => {
  const bytesOf = (write: (b: JsonBytes) => void) => {
    const b = new JsonBytes(8); // tiny: every write grows it at some point
    b.raw(fragment('x')); // an offset, and scratch bytes past it
    write(b);
    return b.text(1);
  };

  it('num(n) writes what JSON.stringify(n) writes, for every kind of number a record holds', () => {
    const edges = [
      0,
      -0,
      1,
      9,
      10,
      99,
      100,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      999_999_999,
      1e9,
      1e9 + 1,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 2,
      2 ** 64 - 2048,
      2 ** 64,
      2 ** 64 * 8,
      1e21,
      1.5,
      1 / 256,
      255 / 256,
      0xffffffff / 256,
      123456789012345680000,
      NaN,
      Infinity,
      -1,
      -(2 ** 40),
      -1.5,
    ];
    for (const n of edges)
      assert.equal(
        bytesOf((b) => b.num(n)),
        JSON.stringify(n),
        String(n),
      );
    const hiLo = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([hi, lo]) => hi * 0x100000000 + lo);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.maxSafeNat(),
          hiLo,
          hiLo.map((x) => x * 8),
          fc.integer({ min: 0, max: 0xffffffff }).map((x) => x / 256),
          fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
        ),
        (n) => {
          assert.equal(
            bytesOf((b) => b.num(n)),
            JSON.stringify(n),
          );
        },
      ),
      budget(5000),
    );
  });

  it('str(s) writes the UTF-8 of JSON.stringify(s), utf8(s) the UTF-8 of s, fragments their text', () => {
    const unit = fc.oneof(
      nameUnit,
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    );
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 20 }).map((a) => a.join('')),
        (s) => {
          assert.equal(
            bytesOf((b) => b.str(s)),
            JSON.stringify(s),
          );
          const wellFormed = JSON.parse(JSON.stringify(s.replace(/[\ud800-\udfff]/g, '?'))) as string;
          assert.equal(
            bytesOf((b) => b.utf8(wellFormed)),
            wellFormed,
          );
          assert.equal(
            bytesOf((b) => b.raw(fragment(wellFormed))),
            wellFormed,
          );
          assert.equal(
            bytesOf((b) => (b.raw(fragment(wellFormed)), b.raw(fragment('"')))),
            `${wellFormed}"`,
            'scratch past a fragment is overwritten',
          );
        },
      ),
      budget(3000),
    );
  });

  it('take() hands out a copy and starts over', () => {
    const b = new JsonBytes(4);
    b.str('abc');
    const first = b.take();
    b.str('xyz');
    assert.equal(Buffer.from(first).toString(), '"abc"');
    assert.equal(b.text(), '"xyz"');
  });

  it('jsonString(s) is JSON.stringify(s) for any string, lone surrogates included', () => {
    const unit = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 1 }),
      fc.integer({ min: 0, max: 0x3f }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('"', '\\', '\u2028', '\u007f'),
    );
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 20 }).map((a) => a.join('')),
        (s) => {
          assert.equal(jsonString(s), JSON.stringify(s));
        },
      ),
      budget(3000),
    );
  });

  it("tcpInfoJson: one JSON object in JSON.stringify's form for every length 0..320, fields past the length absent", () => {
    fc.assert(
      fc.property(tcpInfoBytes(fc.integer({ min: 0, max: 320 })), (payload) => {
        const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
        const text = tcpInfoJson(view, 0, payload.byteLength);
        const record = tcpInfoRecord(view, 0, payload.byteLength);
        assert.equal(JSON.stringify(record), text);
        assert.equal(record.info_bytes, payload.byteLength);
        // bytes_acked (offset 120, 8 bytes) only when the kernel sent them
        if (payload.byteLength < 128) assert.equal(record.bytes_acked, undefined);
        if (payload.byteLength < 12) assert.equal(record.rto_us, undefined);
        // member by member, in the member table's order: what tcpInfoMember (one field at a time) reads
        const expected = TCP_INFO_MEMBERS.flatMap(({ name }) => {
          const v = tcpInfoMember(view, 0, payload.byteLength, tcpInfoMemberOf(name));
          return v === undefined ? [] : [[name, v]];
        });
        assert.deepEqual(
          Object.entries(record).filter(([k]) => k !== 'options' && k !== 'info_bytes'),
          expected,
        );
      }),
      budget(3000),
    );
  });
});

describe('SocketJsonWriter over random tables (fast-check)', () => {
  it('writes a valid record for every row, one writer for the whole table', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 12 }), options, (rows, g) => {
        const t = tableOf(rows);
        assertSameText(t, recordOptions(g), 'random table', !!g.processes);
      }),
      budget(3000, 8000),
    );
  });

  it("writes each row's own head and ports, one writer over many rows (the head's text is made once per combination)", () => {
    const writer = new SocketJsonWriter({});
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 24 }), (rows) => {
        const t = tableOf(rows);
        const view = t.arenaView();
        for (let i = 0; i < t.length; i++) {
          const r = JSON.parse(writer.write(t, i, view)) as Record<string, unknown>;
          const unix = t.proto[i] === 7;
          assert.equal(r.protocol, PROTO_NAMES[t.proto[i]], `row ${i}: protocol`);
          assert.equal(r.family, unix ? 'unix' : t.family[i] === 10 ? 'ipv6' : 'ipv4', `row ${i}: family`);
          assert.equal(r.state, STATE_KEYS[t.state[i]], `row ${i}: state`);
          assert.equal(r.recv_q, t.rqueue[i], `row ${i}: recv_q`);
          assert.equal(r.send_q, t.wqueue[i], `row ${i}: send_q`);
          if (!unix) assert.deepEqual([r.local_port, r.remote_port], [t.sport[i], t.dport[i]], `row ${i}: ports`);
        }
      }),
      budget(2000),
    );
  });

  it('random rows of a single protocol with every section on (more depth per protocol)', () => {
    for (const proto of [1, 2, 4, 6, 7]) {
      fc.assert(
        fc.property(
          fc.array(
            row.map((r) => ({ ...r, proto })),
            { minLength: 1, maxLength: 8 },
          ),
          (rows) => {
            assertSameText(tableOf(rows), { extended: true, timers: true, info: true, memory: true }, `proto ${proto}`);
          },
        ),
        budget(500, 3000),
      );
    }
  });
});
