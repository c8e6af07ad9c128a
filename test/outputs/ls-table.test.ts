/**
 * `ls --format table` straight from the columns (renderLsTableRows) against its reference, renderLsTable over
 * socketRecord()s: the same text for every socket of the recorded fixtures under every combination of -e -o -i
 * -m (with -p, with -r names), with and without the header and the Netid column, for subsets of rows; and for
 * random tables (fast-check), including cells that make formatColumns' layout awkward (unix names holding
 * newlines, tabs and trailing whitespace; host names ending in spaces). lsShowsNetid agrees with the expression
 * ls used on the records.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DiagSession, replayTransport, takeSnapshot } from '../snapshot/imports.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { socketRecord, type RecordOptions } from '../../src/outputs/socket-record.js';
import { lsShowsNetid, ms, msInto, renderLsTable, renderLsTableRows } from '../../src/outputs/ls-table.js';
import { JsonBytes } from '../../src/outputs/socket-ndjson.js';
import { budget } from '../fuzz/budget.js';
import { optionSets, options, recordedAnswer, recordOptions, row, SNAPSHOT, tableOf } from './helpers.js';

/** What ls did: records, then renderLsTable, the Netid column decided on the records. */
function reference(t: SocketTable, rows: number[], o: RecordOptions, header: boolean, protocolsAsked: number): string {
  const view = t.arenaView();
  const records = rows.map((i) => socketRecord(t, i, view, o));
  const netid = new Set(records.map((r) => `${r.protocol}${r.socket_type ?? ''}`)).size !== 1 || protocolsAsked > 1;
  return renderLsTable(records, { header, netid });
}

function direct(t: SocketTable, rows: number[], o: RecordOptions, header: boolean, protocolsAsked: number): string {
  return renderLsTableRows(t, rows, t.arenaView(), o, { header, netid: lsShowsNetid(t, rows, protocolsAsked) });
}

function assertSame(t: SocketTable, rows: number[], o: RecordOptions, label: string): void {
  for (const header of [true, false]) {
    for (const protocolsAsked of [1, 2]) {
      assert.equal(direct(t, rows, o, header, protocolsAsked), reference(t, rows, o, header, protocolsAsked), `${label}, header ${header}, ${protocolsAsked} protocols asked`);
    }
  }
}

describe('renderLsTableRows over the recorded fixtures', () => {
  for (const tcpStrategy of ['legacy', 'v2'] as const) {
    it(`equals renderLsTable(records) for every -e -o -i -m (-p, -r) combination (${tcpStrategy})`, async () => {
      const snap = await takeSnapshot({ ...SNAPSHOT, tcpStrategy }, new DiagSession(replayTransport(recordedAnswer)));
      const t = snap.table;
      const all = Array.from({ length: t.length }, (_, i) => i);
      const byProto = (p: number) => all.filter((i) => t.proto[i] === p);
      const subsets: [string, number[]][] = [
        ['every socket', all], ['TCP', byProto(1)], ['UDP', byProto(2)], ['unix', byProto(7)], ['none', []], ['one', [all[3]]],
        ['unix streams', byProto(7).filter((i) => t.sockType[i] === 1)], ['every other, reversed', all.filter((i) => i % 2).reverse()],
      ];
      const full = reference(t, all, { extended: true, timers: true, info: true, memory: true }, true, 1);
      for (const word of ['rtt:', 'cwnd:', 'bytes_acked:', 'skmem:(', 'bbr', 'timer:(', 'uid:', 'sk:', 'cgroup_id:', 'ino:', 'dev:', 'pending:', 'ts', 'wscale:']) {
        assert.ok(full.includes(word), `the fixture's table has ${word}`);
      }
      for (const [name, o] of optionSets(t)) {
        for (const [subset, rows] of subsets) assertSame(t, rows, o, `${name}, ${subset}`);
      }
    });
  }
});

describe('msInto', () => {
  it('writes ms(us) for every u32 (the tcp_info times) and anything else', () => {
    const check = (us: number) => {
      const b = new JsonBytes(4);
      msInto(b, us);
      assert.equal(b.text(), ms(us), String(us));
    };
    for (const us of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1010, 1100, 12_345, 100_000, 200_000, 4_294_967_295, 1.5, 2 ** 32, 2 ** 40 + 7]) check(us);
    fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 5000 })), check), budget(20000));
  });
});

describe('renderLsTableRows over random tables (fast-check)', () => {
  it('equals renderLsTable(records) for any rows and options', () => {
    fc.assert(fc.property(fc.array(row, { maxLength: 10 }), options, (rows, g) => {
      const t = tableOf(rows);
      assertSame(t, Array.from({ length: t.length }, (_, i) => i), recordOptions(g), 'random table');
    }), budget(2000, 8000));
  });

  it('with every section on, per protocol (more depth per protocol)', () => {
    for (const proto of [1, 2, 7]) {
      fc.assert(fc.property(fc.array(row.map((r) => ({ ...r, proto })), { minLength: 1, maxLength: 8 }), (rows) => {
        const t = tableOf(rows);
        assertSame(t, Array.from({ length: t.length }, (_, i) => i), { extended: true, timers: true, info: true, memory: true }, `proto ${proto}`);
      }), budget(500, 3000));
    }
  });

  it('host names (-r) with whitespace, newlines and brackets lay out as the reference does', () => {
    const name = fc.oneof(fc.constantFrom(undefined, '', 'h ', ' h', 'a\nb', 'x\t', '[::1]', 'é\u00a0', '\ufeff'), fc.string({ maxLength: 5 }));
    fc.assert(fc.property(fc.array(row.map((r) => ({ ...r, proto: 1, family: 2 })), { minLength: 1, maxLength: 6 }), fc.array(name, { minLength: 1, maxLength: 4 }), (rows, names) => {
      const t = tableOf(rows);
      assertSame(t, Array.from({ length: t.length }, (_, i) => i), { hostName: (a) => names[a.length % names.length] }, 'hosts');
    }), budget(1000, 3000));
  });
});
