/**
 * The socketstat collector into the line-protocol sink (src/outputs/socketstat-influx.ts, which writes its
 * points straight from the columns) against the same collector into the metric sink + influxLine (with
 * gather's host/global tags merged in as gather() merges them): the same
 * bytes for every socket of the recorded fixtures (plus rows bound to devices, raw rows and an address of no
 * family, which the recording lacks) under option sets that reach every rule (protocols, states, uint suffix,
 * tcp_info fields, interface names that need escaping, global tags sorted among the point's own, overriding
 * them, escaped, empty), over streamSnapshot's reused batches, and over random tables and options (fast-check).
 * Then the streamed gather (streamInflux) against gather() through InfluxWriter on the same replayed
 * kernel answers: the same lines, the same report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DiagSession, replayTransport, streamSnapshot, takeCensus, takeSnapshot } from '../../helpers/library.js';
import { SocketTable } from '../../../src/snapshot/table.js';
import { AF_INET, AF_INET6, ALL_STATES, Proto } from '../../../src/diag/constants.js';
import { MetricSink } from '../../../src/collectors/collector.js';
import { SOCKETSTAT_INFO_FIELDS } from '../../../src/collectors/socketstat.js';
import { gather, gatherStream, planSnapshot, streams, type GatherConfig, type Snapshotter } from '../../../src/gather/gather.js';
import { influxLine, InfluxWriter } from '../../../src/outputs/metrics/influx.js';
import { LineProtocolSink } from '../../../src/outputs/metrics/socketstat-influx.js';
import { streamInflux } from '../../../src/cli/gather.js';
import { budget } from '../../helpers/fuzz-budget.js';
import { row, socketstatLineProtocol, socketstatMetrics, tableOf, text, type SocketstatTestOptions as SocketstatInfluxOptions } from '../../helpers/outputs.js';
import { recordedAnswer } from '../../helpers/recorded.js';

const TIME = 1_700_000_000_123.4;

/** What gather() + InfluxWriter write for the table's socketstat points, as lines (each with its newline). */
function referenceLines(t: SocketTable, o: SocketstatInfluxOptions, time = TIME): string[] {
  const lines: string[] = [];
  const tags = o.tags ?? {};
  socketstatMetrics(t, time, { ...o, tags: undefined }, (m) => {
    if (Object.keys(tags).length) m.tags = { ...tags, ...m.tags }; // as gather()'s out()
    const line = influxLine(m, { uintAsInt: o.uintAsInt });
    if (line) lines.push(`${line}\n`);
  });
  return lines;
}

/** The line-protocol sink's lines for the same table, and its bytes. */
function directLines(t: SocketTable, o: SocketstatInfluxOptions, time = TIME): { lines: string[]; bytes: Buffer } {
  const bytes = Buffer.from(socketstatLineProtocol(t, time, o).bytes.take());
  const lines = bytes
    .toString('utf8')
    .split(/(?<=\n)/)
    .filter(Boolean);
  return { lines, bytes };
}

/** The two agree: line for line as text, and as bytes (UTF-8, as stdout encodes the reference's string). */
function assertSame(t: SocketTable, o: SocketstatInfluxOptions, label: string): string[] {
  // stdout writes the reference's strings as UTF-8 (a lone surrogate as U+FFFD): compare what it would write
  const want = referenceLines(t, o).map((l) => Buffer.from(l, 'utf8').toString('utf8'));
  const got = directLines(t, o);
  assert.deepEqual(got.lines, want, label);
  assert.ok(got.bytes.equals(Buffer.from(want.join(''), 'utf8')), `${label}: bytes`);
  return want;
}

const replaySession = () => new DiagSession(replayTransport(recordedAnswer));
/** what gather asks for socketstat: tcp_info; unix too, so the writer must skip it */
const SNAPSHOT = { ext: 0xff, unixShow: 0x7f };

/** Interface names that need escaping, end in backslashes, are empty, or are not there (the index is used). */
const IFNAMES: Record<number, string | undefined> = { 1: 'lo', 2: 'e,t h=0', 3: 'tun\\', 4: '', 5: 'wlän\n0', 6: '\\\\' };
const interfaceName = (ifindex: number) => IFNAMES[ifindex];

/** Global tags around, between and over the point's own; needing escapes; empty; non-ASCII. */
const TAGS: Record<string, string> = {
  host: 'web-01',
  a: '1',
  local_b: 'x y',
  local_addr: 'overridden',
  proto: 'overridden',
  remote_addr0: 'z=1',
  remote_port_: 'q,r',
  zz: 'last\\',
  'sp ace': 'v\nw',
  empty: '',
  '': 'no key',
  ünï: 'cödé',
  'trail\\': 'x',
  tw: '"quoted"',
  '\\\\': 'bs',
};

const OPTION_SETS: [string, SocketstatInfluxOptions][] = [
  ['defaults', {}],
  ['uint suffix u', { uintAsInt: false }],
  ['uint suffix i (explicit)', { uintAsInt: true }],
  ['every tcp_info field', { infoFields: SOCKETSTAT_INFO_FIELDS }],
  ['some tcp_info fields, listed out of order', { infoFields: ['pacing_rate_bps', 'rtt_us', 'ssthresh', 'min_rtt_us', 'notsent_bytes'] }],
  ['tcp, udp, raw, every state', { protocols: ['tcp', 'udp', 'raw'], states: ALL_STATES, infoFields: SOCKETSTAT_INFO_FIELDS }],
  ['raw only', { protocols: ['raw'], states: ALL_STATES }],
  ['udp only', { protocols: ['udp'] }],
  ['interface names', { interfaceName, protocols: ['tcp', 'udp', 'raw'], states: ALL_STATES }],
  ['host tag', { tags: { host: 'web-01' } }],
  ['global tags of every kind', { tags: TAGS, interfaceName, infoFields: SOCKETSTAT_INFO_FIELDS, uintAsInt: false }],
  ['global tags, every state and protocol', { tags: TAGS, protocols: ['tcp', 'udp', 'raw'], states: ALL_STATES }],
];

/** The recorded table, then rows the recording lacks: bound to devices 1..7, raw, an address of no family. */
async function fixtureTable(): Promise<SocketTable> {
  const t = (await takeSnapshot(SNAPSHOT, replaySession())).table;
  let bound = 0;
  let raws = 0;
  let odd = false;
  for (let i = 0; i < t.length; i++) {
    if (t.proto[i] === Proto.unix) continue;
    if (i % 3 === 0) t.ifindex[i] = 1 + (bound++ % 7);
    else if (i % 7 === 1 && raws < 3) (t.proto[i] = Proto.raw), raws++;
    else if (!odd && t.proto[i] === Proto.tcp && t.state[i] === 1) (t.family[i] = 0), (odd = true);
  }
  return t;
}

describe('socketstat into the line-protocol sink equals it into the metric sink + influxLine', () => {
  it('over the recorded fixtures (and rows made bound, raw, familyless), for every option set', async () => {
    const t = await fixtureTable();
    const all = OPTION_SETS.flatMap(([name, o]) => assertSame(t, o, name)).join('');
    // the comparison is not vacuous: the fixture reaches every rule
    for (const [what, re] of [
      ['IPv4', /local_addr=127\.0\.0\.1,/],
      ['IPv6 in brackets', /local_addr=\[::1\],/],
      ['v4-mapped', /\[::ffff:127\.0\.0\.1\]/],
      ['bound, by name', /%lo,/],
      ['bound, escaped name', /%e\\,t\\ h\\=0,/],
      ['bound, by index', /%7,/],
      ['bound, IPv6', /\]%/],
      ['trailing backslash dropped', /%tun,/],
      ['udp', /proto=udp/],
      ['raw', /proto=raw/],
      ['an address of no family (tag left out)', /local_port=\d+,proto=tcp,remote_port=/],
      ['tcp_info base counters', /bytes_acked=\d+i/],
      ['opt-in fields', /rtt_us=\d+u/],
      ['u64 rates', /pacing_rate_bps=\d+[iu]/],
      ['listen state', /state="LISTEN"/],
      ['time-wait state', /state="TIME-WAIT"/],
      ['u suffix', /recv_q=\d+u/],
      [
        'global tags sorted in',
        /^socketstat,a=1,host=web-01,local_addr=.*,local_b=x\\ y,local_port=\d+,proto=(tcp|udp|raw),remote_addr=[^,]+,remote_addr0=z\\=1,remote_port=\d+,remote_port_=q\\,r,sp\\ ace=v\\ w,trail=x,tw="quoted",zz=last,ünï=cödé /m,
      ],
    ] as [string, RegExp][]) {
      assert.match(all, re, what);
    }
    assert.doesNotMatch(all, /overridden|empty=|=no key|=bs/, "the point's own tags win; empty keys and values are left out");
  });

  it("over streamSnapshot's reused batches, one sink for the whole stream", async () => {
    for (const [name, o] of OPTION_SETS) {
      const writer = new LineProtocolSink(o);
      const want: string[] = [];
      let rows = 0;
      let got = '';
      await streamSnapshot(
        SNAPSHOT,
        (t) => {
          rows += t.length;
          want.push(...referenceLines(t, o));
          socketstatLineProtocol(t, TIME, o, writer);
          got += writer.bytes.text();
          writer.bytes.pos = 0;
        },
        replaySession(),
      );
      assert.ok(rows > 50);
      assert.equal(got, want.join(''), name);
    }
  });

  it('over random tables and options (fast-check)', () => {
    const opts = fc.record({
      protocols: fc.subarray(['tcp', 'udp', 'raw'], { minLength: 1 }),
      states: fc.oneof(fc.constant(undefined), fc.constant(ALL_STATES), fc.integer({ min: 0, max: 0xffffffff })),
      infoFields: fc.oneof(fc.constant(undefined), fc.subarray(SOCKETSTAT_INFO_FIELDS as string[])),
      uintAsInt: fc.oneof(fc.constant(undefined), fc.boolean()),
      interfaceNames: fc.option(fc.array(fc.option(text), { minLength: 1, maxLength: 4 })),
      tags: fc.option(fc.dictionary(fc.oneof(text, fc.constantFrom('host', 'proto', 'local_addr', 'remote_port', 'm', 'z')), text, { maxKeys: 5 })),
    });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 12 }), opts, (rows, g) => {
        const t = tableOf(rows);
        const names = g.interfaceNames;
        const o: SocketstatInfluxOptions = {
          protocols: g.protocols,
          states: g.states,
          infoFields: g.infoFields,
          uintAsInt: g.uintAsInt,
          tags: g.tags ?? undefined,
          interfaceName: names ? (ifindex) => names[ifindex % names.length] ?? undefined : undefined,
        };
        assertSame(t, o, 'random table');
      }),
      budget(3000, 8000),
    );
  });

  it('random TCP rows, every state, every field (more depth on tcp_info)', () => {
    fc.assert(
      fc.property(
        fc.array(
          row.map((r) => ({ ...r, proto: Proto.tcp, family: r.family % 2 ? AF_INET : AF_INET6 })),
          { minLength: 1, maxLength: 8 },
        ),
        (rows) => {
          assertSame(tableOf(rows), { states: ALL_STATES, infoFields: SOCKETSTAT_INFO_FIELDS }, 'tcp rows');
          assertSame(tableOf(rows), { states: ALL_STATES, infoFields: SOCKETSTAT_INFO_FIELDS, uintAsInt: false }, 'tcp rows, u');
        },
      ),
      budget(1000, 3000),
    );
  });

  it("the aggregated form: the collector's metrics, written as influxLine writes them", async () => {
    const t = await fixtureTable();
    const o: SocketstatInfluxOptions = { aggregate: true, tags: { host: 'h' } };
    const want = referenceLines(t, o).join('');
    assert.match(want, /connections=\d+i/);
    assert.equal(socketstatLineProtocol(t, TIME, o).bytes.text(), want);
  });

  it('a row that throws leaves no half line behind', () => {
    const rows = (n: number) => {
      const t = new SocketTable(16, 0);
      for (let k = 0; k < n; k++) {
        const i = t.addRow();
        t.proto[i] = Proto.tcp;
        t.family[i] = AF_INET;
        t.state[i] = 1;
        t.sport[i] = 1000 + k;
        t.ifindex[i] = k === 2 ? 9 : 0;
      }
      return t;
    };
    const w = new LineProtocolSink();
    assert.throws(
      () =>
        socketstatLineProtocol(
          rows(3),
          TIME,
          {
            interfaceName: (ifindex) => {
              throw new Error(`no name for ${ifindex}`);
            },
          },
          w,
        ),
      /no name for 9/,
    );
    assert.equal(w.bytes.text(), referenceLines(rows(2), {}).join(''), 'the two rows before the failure, whole');
  });
});

// ---------------------------------------------------------------------------------------------------------
// the streamed gather against gather()

/** Snapshots of the recorded kernel answers, every one through a fresh replay session. */
const replaySnapshotter: Required<Snapshotter> = {
  snapshot: (o) => takeSnapshot(o, replaySession()),
  census: (o) => takeCensus(o, replaySession()),
  stream: (o, onBatch) => streamSnapshot(o, onBatch, replaySession()),
};

/** A stdout stand-in: keeps copies of the chunks (the writer reuses its buffer once writableLength is 0). */
function collector() {
  const chunks: Buffer[] = [];
  return { sink: { write: (c: Uint8Array) => chunks.push(Buffer.from(c)), writableLength: 0 }, text: () => Buffer.concat(chunks).toString('utf8') };
}

const lineSet = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/ \d+$/, ''))
    .sort();
const timesOf = (text: string) =>
  new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(l.lastIndexOf(' ') + 1)),
  );

describe('streamed socketstat gather (gather and execd, format influx)', () => {
  it('streams only socketstat alone, one point per connection, nothing else counted', () => {
    const c = (o: Partial<GatherConfig>): GatherConfig => ({ measurements: ['socketstat'], ...o });
    assert.equal(streams(c({})), true);
    assert.equal(streams(c({ socketstat: { infoFields: ['rtt_us'] }, tags: { host: 'h' } })), true);
    assert.equal(streams(c({ measurements: ['socketstat', 'netstat'] })), false);
    assert.equal(streams(c({ measurements: ['listen'] })), false);
    assert.equal(streams(c({ socketstat: { aggregate: true } })), false);
    assert.equal(streams(c({ countProtocols: ['unix'] })), false);
  });

  for (const [name, config, uintAsInt, least] of [
    ['defaults', { measurements: ['socketstat'] }, true, 10],
    [
      'every field, every protocol, tags, u suffix',
      { measurements: ['socketstat'], socketstat: { protocols: ['tcp', 'udp', 'raw'], infoFields: SOCKETSTAT_INFO_FIELDS }, tags: TAGS },
      false,
      10,
    ],
    // no tcp_info asked for: no attributes kept, datagrams in the session's buffer instead of the batch arena
    ['udp only', { measurements: ['socketstat'], socketstat: { protocols: ['udp'] } }, true, 2],
  ] as [string, GatherConfig, boolean, number][]) {
    it(`writes the lines gather() + InfluxWriter writes, with the same report (${name})`, async () => {
      const w = new InfluxWriter({ uintAsInt });
      const want = await gather(config, replaySnapshotter, w.write);
      const wantText = w.take();
      const out = collector();
      const got = await streamInflux(config, uintAsInt, replaySnapshotter, out.sink);
      const gotText = out.text();
      assert.ok(lineSet(wantText).length >= least, `at least ${least} points`);
      assert.deepEqual(lineSet(gotText), lineSet(wantText));
      assert.equal(timesOf(gotText).size, 1, 'one time for the gather');
      assert.deepEqual(
        got.collectors.map(({ name, ok, metrics }) => ({ name, ok, metrics })),
        want.collectors.map(({ name, ok, metrics }) => ({ name, ok, metrics })),
      );
      assert.deepEqual(got.notes, want.notes);
      assert.equal(got.error, undefined);
      // the kernel is asked for socketstat's states only; the rest of the plan is gather()'s
      const seen: unknown[] = [];
      await gatherStream(config, { stream: async (o, cb) => (seen.push(o), replaySnapshotter.stream(o, cb)) }, new MetricSink(() => {}));
      const planned = planSnapshot(config).options;
      assert.deepEqual(seen, [{ ...planned, states: ALL_STATES & ~((1 << 10) | (1 << 7) | (1 << 6) | (1 << 3)) }]);
    });
  }

  it('a failing batch: the collector is reported failed (its points so far written), later batches dropped', async () => {
    let calls = 0;
    const batch = () => {
      const t = new SocketTable(16, 0);
      for (let k = 0; k < 5; k++) {
        const i = t.addRow();
        t.proto[i] = Proto.tcp;
        t.family[i] = AF_INET;
        t.state[i] = 1;
      }
      return t;
    };
    const report = await gatherStream(
      { measurements: ['socketstat'] },
      {
        stream: async (_o, onBatch) => {
          for (let k = 0; k < 3; k++) onBatch(batch(), TIME);
          return { sources: [], takenAt: TIME, durationMs: 1, ext: 0, notes: ['a note'] };
        },
      },
      new MetricSink(() => {
        if (++calls === 6) throw new Error('boom');
      }),
    );
    assert.equal(calls, 6, 'no batch after the failure');
    assert.deepEqual(
      report.collectors.map(({ name, ok, metrics, error }) => ({ name, ok, metrics, error })),
      [{ name: 'socketstat', ok: false, metrics: 6, error: 'boom' }],
    );
    assert.deepEqual(report.notes, ['a note']);
  });

  it('a snapshot that fails: report.error, no collector ran (as gather())', async () => {
    const fail: Required<Pick<Snapshotter, 'stream'>> = {
      stream: async () => {
        throw new Error('setns: EPERM');
      },
    };
    const report = await gatherStream({ measurements: ['socketstat'] }, fail, new MetricSink(() => {}));
    assert.equal(report.error, 'setns: EPERM');
    assert.deepEqual(report.collectors, []);
    const reference = await gather(
      { measurements: ['socketstat'] },
      {
        ...replaySnapshotter,
        snapshot: async () => {
          throw new Error('setns: EPERM');
        },
      },
      () => {},
    );
    assert.equal(reference.error, report.error);
  });
});
