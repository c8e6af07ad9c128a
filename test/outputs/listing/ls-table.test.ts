/**
 * `ls --format table` straight from the columns (renderLsTableRows): the layout people read, for every socket of
 * the recorded fixtures under every combination of -e -o -i -m (with -p, with -r names), with and without the
 * header and the Netid column, for subsets of rows; and for random tables (fast-check), including cells that
 * make the layout awkward (unix names holding newlines, host names ending in spaces). The exact text on the
 * recording is pinned by test/golden; here, what holds for any table: one line per socket (its details on the
 * next line, after a tab), the columns aligned, the detail words the flags ask for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DiagSession, replayTransport, takeSnapshot } from '../../helpers/library.js';
import type { SocketTable } from '../../../src/snapshot/table.js';
import type { RecordOptions } from '../../../src/outputs/listing/socket-record.js';
import { lsShowsNetid, lsTableBytes, ms, msInto, renderLsTableRows, ssLineOrder } from '../../../src/outputs/listing/ls-table.js';
import { JsonBytes } from '../../../src/outputs/listing/socket-ndjson.js';
import { budget } from '../../helpers/fuzz-budget.js';
import { optionSets, options, recordOptions, row, SNAPSHOT, tableOf } from '../../helpers/outputs.js';
import { recordedAnswer } from '../../helpers/recorded.js';

function direct(t: SocketTable, rows: number[], o: RecordOptions, header: boolean, protocolsAsked: number): string {
  return renderLsTableRows(t, rows, t.arenaView(), o, { header, netid: lsShowsNetid(t, rows, protocolsAsked) });
}

/** The layout of a table whose cells hold no newline: header, one line per row, details after a tab, aligned. */
function assertLayout(t: SocketTable, rows: number[], o: RecordOptions, label: string): void {
  for (const header of [true, false]) {
    for (const protocolsAsked of [1, 2]) {
      const text = direct(t, rows, o, header, protocolsAsked);
      const what = `${label}, header ${header}, ${protocolsAsked} protocols asked`;
      assert.ok(text === '' || text.endsWith('\n'), what);
      const lines = text.split('\n').slice(0, -1);
      const main = lines.filter((l) => !l.startsWith('\t '));
      assert.equal(main.length, rows.length + (header ? 1 : 0), `${what}: one line per socket`);
      assert.ok(
        lines.every((l, k) => !l.startsWith('\t ') || (k > 0 && !lines[k - 1].startsWith('\t '))),
        `${what}: at most one details line, after its socket`,
      );
      if (header && rows.length) {
        const netid = lsShowsNetid(t, rows, protocolsAsked);
        assert.equal(main[0].startsWith('Netid'), netid, what);
        // the Local Address column starts at the same place on every line (the cells before it have no spaces)
        const at = main[0].indexOf('Local Address:Port');
        for (const l of main.slice(1)) assert.ok(l[at - 1] === ' ' && l[at] !== ' ', `${what}: aligned: ${JSON.stringify(l)}`);
      }
    }
  }
}

describe("ssLineOrder: ss's order of lines from one walk of both families", () => {
  it("puts the legacy walk's rows in the order of one walk per family (ss's), every row once", async () => {
    const legacy = (await takeSnapshot({ ...SNAPSHOT, tcpStrategy: 'legacy' }, new DiagSession(replayTransport(recordedAnswer)))).table;
    const perFamily = (await takeSnapshot({ ...SNAPSHOT, tcpStrategy: 'v2' }, new DiagSession(replayTransport(recordedAnswer)))).table;
    const key = (t: SocketTable, i: number) =>
      `${t.proto[i]}|${t.family[i]}|${t.src.subarray(i * 16, i * 16 + 16).join('.')}|${t.sport[i]}|${t.dst.subarray(i * 16, i * 16 + 16).join('.')}|${t.dport[i]}|${t.inode[i]}`;
    const all = (t: SocketTable) => Array.from({ length: t.length }, (_, i) => i);
    const interleaved = all(legacy).filter((i) => legacy.proto[i] === 1);
    // the recording's legacy TCP walk interleaves the families: the comparison is not vacuous
    assert.ok(
      interleaved.some((i, k) => k > 0 && legacy.family[interleaved[k - 1]] === 10 && legacy.family[i] === 2),
      'an IPv4 row after an IPv6 one',
    );
    const ordered = Array.from(ssLineOrder(legacy, all(legacy)), (i) => key(legacy, i));
    assert.deepEqual(
      ordered,
      all(perFamily).map((i) => key(perFamily, i)),
    );
    // a subset keeps its own rows, stably
    const odd = all(legacy).filter((i) => i % 2 === 1);
    assert.deepEqual(
      Array.from(ssLineOrder(legacy, odd)).sort((a, b) => a - b),
      odd,
    );
  });
});

describe('renderLsTableRows over the recorded fixtures', () => {
  for (const tcpStrategy of ['legacy', 'v2'] as const) {
    it(`lays out every -e -o -i -m (-p, -r) combination, with the words each flag asks for (${tcpStrategy})`, async () => {
      const snap = await takeSnapshot({ ...SNAPSHOT, tcpStrategy }, new DiagSession(replayTransport(recordedAnswer)));
      const t = snap.table;
      const all = Array.from({ length: t.length }, (_, i) => i);
      const byProto = (p: number) => all.filter((i) => t.proto[i] === p);
      const subsets: [string, number[]][] = [
        ['every socket', all],
        ['TCP', byProto(1)],
        ['UDP', byProto(2)],
        ['unix', byProto(7)],
        ['none', []],
        ['one', [all[3]]],
        ['unix streams', byProto(7).filter((i) => t.sockType[i] === 1)],
        ['every other, reversed', all.filter((i) => i % 2).reverse()],
      ];
      const full = direct(t, all, { extended: true, timers: true, info: true, memory: true }, true, 1);
      // ss's words (uid: only when not 0, as ss; the fixture's sockets are root's)
      for (const word of [
        'rtt:',
        'cwnd:',
        'bytes_acked:',
        'skmem:(',
        'bbr',
        'timer:(',
        'sk:',
        'cgroup:',
        'ino:',
        'dev:',
        'ts',
        'wscale:',
        'lastsnd:',
        'rcvmss:',
        'advmss:',
        'pmtu:',
      ]) {
        assert.ok(full.includes(word), `the fixture's table has ${word}`);
      }
      assert.ok(!direct(t, all, {}, true, 1).includes('\t '), 'no flags: no details');
      assert.doesNotMatch(full, /bytes_acked:[\d.]+[KMG]?B|pacing_rate [\d.]+[KMG]bps/, 'raw units, as ss -n');
      for (const [name, o] of optionSets(t)) {
        // (the fake holders' names hold a newline: that table is checked by its words only)
        if (!o.processes) for (const [subset, rows] of subsets) assertLayout(t, rows, o, `${name}, ${subset}`);
        const text = direct(t, byProto(1), o, true, 1);
        if (o.extended) assert.match(text, / ino:\d+ sk:[0-9a-f]+/, name);
        if (o.info) assert.match(text, /rtt:[\d.]+\/[\d.]+ .*cwnd:\d+/, name);
        if (o.memory) assert.match(text, /skmem:\(r\d+,rb\d+,t\d+,tb\d+,f\d+,w\d+,o\d+,bl\d+,d\d+\)/, name);
        if (o.processes) assert.match(text, /users:\(\("/, name);
        if (!o.extended) assert.doesNotMatch(text, /ino:/, name);
        if (!o.info) assert.doesNotMatch(text, /rtt:/, name);
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

/** A table of random rows whose cells hold no newline or trailing blank (those go through formatColumns as is). */
const plainRows = (rows: Parameters<typeof tableOf>[0]) => rows.map((r) => ({ ...r, attrs: r.proto === 7 ? new Uint8Array(0) : r.attrs }));

describe('renderLsTableRows over random tables (fast-check)', () => {
  it('lays out any rows (no details)', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 10 }), (rows) => {
        const t = tableOf(plainRows(rows));
        assertLayout(
          t,
          Array.from({ length: t.length }, (_, i) => i),
          {},
          'random table',
        );
      }),
      budget(1000, 4000),
    );
  });

  it('any rows and options: never throws, a line per socket at least, the header first', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 10 }), options, (rows, g) => {
        const t = tableOf(rows);
        const text = direct(
          t,
          Array.from({ length: t.length }, (_, i) => i),
          recordOptions(g),
          true,
          2,
        );
        assert.ok(text.startsWith('Netid') && text.endsWith('\n'));
        assert.ok(text.split('\n').length >= rows.length + 2);
      }),
      budget(2000, 8000),
    );
  });

  it('with every section on, per protocol, attributes as they come (never throws; a line per socket at least)', () => {
    for (const proto of [1, 2, 7]) {
      fc.assert(
        fc.property(
          fc.array(
            row.map((r) => ({ ...r, proto })),
            { minLength: 1, maxLength: 8 },
          ),
          (rows) => {
            const t = tableOf(rows);
            const text = direct(
              t,
              Array.from({ length: t.length }, (_, i) => i),
              { extended: true, timers: true, info: true, memory: true },
              true,
              1,
            );
            assert.ok(text.split('\n').length >= rows.length + 2);
          },
        ),
        budget(500, 3000),
      );
    }
  });

  it('host names (-r) with whitespace, newlines and brackets: every name given is in the table', () => {
    const name = fc.oneof(fc.constantFrom(undefined, '', 'h ', ' h', 'a\nb', 'x\t', '[::1]', 'é\u00a0', '\ufeff'), fc.string({ maxLength: 5 }));
    fc.assert(
      fc.property(
        fc.array(
          row.map((r) => ({ ...r, proto: 1, family: 2 })),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(name, { minLength: 1, maxLength: 4 }),
        (rows, names) => {
          const t = tableOf(rows);
          const given: string[] = [];
          const hostName = (a: string) => {
            const n = names[a.length % names.length];
            if (n) given.push(n);
            return n;
          };
          const text = direct(
            t,
            Array.from({ length: t.length }, (_, i) => i),
            { hostName },
            true,
            1,
          );
          // (a name holding a newline cuts its line short: formatColumns splits cells at newlines; known, and rare)
          if (given.some((n) => n.includes('\n'))) return;
          for (const n of given) assert.ok(text.includes(n.trimEnd()), JSON.stringify(n));
        },
      ),
      budget(1000, 3000),
    );
  });
});

describe('lsTableBytes handing chunks over (ls writes the table to stdout as it is made)', () => {
  it('the chunks make the same text as the whole, over more rows than one chunk holds', () => {
    const rows = plainRows(fc.sample(row, 6000));
    const t = tableOf(rows);
    const all = Array.from({ length: t.length }, (_, i) => i);
    for (const o of [{}, { extended: true, timers: true, info: true, memory: true }] as RecordOptions[]) {
      const whole = direct(t, all, o, true, 2);
      const chunks: Buffer[] = [];
      const back = lsTableBytes(t, all, t.arenaView(), o, {
        header: true,
        netid: lsShowsNetid(t, all, 2),
        write: (c) => chunks.push(Buffer.from(c)),
        drained: () => false,
      });
      assert.equal(back.length, 0);
      assert.ok(chunks.length > 1 || whole.length < 1 << 17, 'more than one chunk');
      assert.equal(Buffer.concat(chunks).toString('utf8'), whole);
    }
  });
});

describe('lsTableBytes in parts (ls streams the -tan table batch by batch, widths carried over)', () => {
  it("every line is the whole table's line, field for field; aligned over its part and those before it", () => {
    const rows = plainRows(fc.sample(row, 3000)).filter((r) => r.proto !== 7); // inet: what ls streams
    const t = tableOf(rows);
    const all = Array.from({ length: t.length }, (_, i) => i);
    for (const o of [{}, { extended: true, timers: true, info: true, memory: true }] as RecordOptions[]) {
      const whole = direct(t, all, o, true, 2);
      const widths = { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 };
      const bytes = new JsonBytes(1 << 12);
      const chunks: Buffer[] = [];
      const seen: (typeof widths)[] = [];
      for (let from = 0, k = 0; from < all.length; from += 512, k++) {
        const part = all.slice(from, from + 512);
        lsTableBytes(t, part, t.arenaView(), o, {
          header: k === 0,
          netid: true,
          widths,
          bytes,
          write: (c) => chunks.push(Buffer.from(c)),
          drained: () => false,
        });
        seen.push({ ...widths });
        // a part alone: the widths it ends with are at least its own (and never shrink)
        const alone = { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 };
        lsTableBytes(t, part, t.arenaView(), o, { header: false, netid: true, widths: alone, write: () => undefined });
        for (const key of Object.keys(alone) as (keyof typeof alone)[]) {
          assert.ok(widths[key] >= alone[key], `${key}: ${widths[key]} >= ${alone[key]}`);
          if (k > 0) assert.ok(widths[key] >= seen[k - 1][key], `${key} never shrinks`);
        }
      }
      assert.ok(seen.length > 1, 'several parts');
      const parts = Buffer.concat(chunks).toString('utf8');
      const fields = (text: string) => text.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
      assert.deepEqual(fields(parts), fields(whole));
      // the last part's lines are laid out with the widths reached by then, as the whole is with all of them:
      // with the same widths, the same bytes
      const last = seen[seen.length - 1];
      const final = Object.values(last).join();
      const wholeWidths = { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 };
      lsTableBytes(t, all, t.arenaView(), o, { header: true, netid: true, widths: wholeWidths, write: () => undefined });
      assert.equal(final, Object.values(wholeWidths).join(), 'the parts end at the widths of the whole');
      const tail = all.slice(Math.floor((all.length - 1) / 512) * 512);
      const lastLines = parts.split('\n').slice(-tail.length - 1);
      const wholeLines = whole.split('\n').slice(-tail.length - 1);
      assert.deepEqual(lastLines, wholeLines, "the last part's lines are the whole table's, byte for byte");
    }
  });
});
