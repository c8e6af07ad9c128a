/**
 * Shared by the output tests (socket-ndjson, ls-table): the recorded fixtures replayed through the production
 * snapshot code, the option sets ls can pass, and fast-check generators of random socket tables (columns and
 * raw attributes) with the options to list them with.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { NUMBER_COLUMNS, SocketTable, UID_UNKNOWN } from '../../src/snapshot/table.js';
import type { RecordOptions } from '../../src/outputs/listing/socket-record.js';
import { SocketHolders } from '../../src/procfs/processes.js';
import { concat, le32, nlattr } from './bytes.js';
import { MetricSink, type HostFacts } from '../../src/collectors/collector.js';
import { collectSocketstat, socketstatPlan, type SocketstatOptions } from '../../src/collectors/socketstat.js';
import type { Metric } from '../../src/model/metric.js';
import { LineProtocolSink, type LineProtocolOptions } from '../../src/outputs/metrics/socketstat-influx.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

export const SNAPSHOT = { ext: 0xff, unixShow: 0x7f, procRoot: `${fixtures}proc` };

/** Holders whose comm comes from a table (no /proc), with names that need escaping. */
export class FakeHolders extends SocketHolders {
  constructor(private readonly names: ReadonlyMap<number, string>) {
    super('/nonexistent');
  }

  override comm(pid: number): string {
    return this.names.get(pid) ?? '';
  }
}

/** Every -e -o -i -m combination, and with -p / interface names on top of the fullest. */
export function optionSets(t: SocketTable): [string, RecordOptions][] {
  const holders = new FakeHolders(
    new Map([
      [100, 'nginx'],
      [101, 'we"ird\\name\n'],
      [102, 'ünïcode'],
      [103, ''],
    ]),
  );
  const inodes = Array.from(t.inode.subarray(0, t.length)).filter((x) => x !== 0);
  inodes.forEach((inode, k) => {
    if (k % 3 !== 2) holders.add(inode, 100 + (k % 4), 3 + k);
    if (k % 5 === 0) holders.add(inode, 100 + ((k + 1) % 4), 10 + k); // a second holder
    if (k % 7 === 0) holders.add(inode, 100 + (k % 4), 2); // the same pid twice, a lower fd
  });
  const interfaceName = (ifindex: number) => (ifindex === 1 ? 'lo' : ifindex % 2 ? `e"th${ifindex}` : undefined);
  const sets: [string, RecordOptions][] = [];
  for (let m = 0; m < 16; m++) {
    const o: RecordOptions = { extended: !!(m & 1), timers: !!(m & 2), info: !!(m & 4), memory: !!(m & 8) };
    const name = ['-e', '-o', '-i', '-m'].filter((_, b) => m & (1 << b)).join(' ') || '(none)';
    sets.push([name, o], [`${name} -p`, { ...o, processes: holders, interfaceName }]);
  }
  // a SocketHolders-like object without holdersJson: the generic path
  const duck = { holders: (inode: number) => holders.holders(inode) } as unknown as SocketHolders;
  sets.push(['-e -o -i -m -p (duck-typed holders)', { extended: true, timers: true, info: true, memory: true, processes: duck }]);
  sets.push([
    '-e -o -i -m -r',
    { extended: true, timers: true, info: true, memory: true, hostName: (a) => (a.includes(':') ? `h"${a}` : a === '127.0.0.1' ? 'localhost' : undefined) },
  ]);
  return sets;
}

// --- random tables -----------------------------------------------------------------------------------------

/** struct tcp_info lengths Linux has sent (3.x .. 7.0), and then some */
export const TCP_INFO_LENGTHS = [104, 120, 136, 144, 160, 168, 192, 200, 224, 232, 240, 248, 276, 280];

/** u32 words that hit the special cases: ~0 (u64 "unlimited", min_rtt unset), 0, small, large */
export const word = fc.oneof(fc.constant(0xffffffff), fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }));

export function tcpInfoBytes(length: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(length, fc.array(word, { minLength: 82, maxLength: 82 })).map(([len, words]) => concat(...words.map(le32)).slice(0, len));
}

const utf8 = (s: string) => new TextEncoder().encode(s);
export const nameUnit = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom('"', '\\', '\n', '\t', '\u0001', '\u001f', '\u007f', 'é', '日本', '😀', '\ufeff', '/', '@', '\0'),
);
/** Names as bytes: text (any Unicode, escapes, NULs), raw bytes (invalid UTF-8 too), abstract, BOM-led, NUL-ended. */
export const nameBytes = fc.oneof(
  fc.tuple(fc.array(nameUnit, { maxLength: 12 }), fc.boolean()).map(([u, nul]) => concat(utf8(u.join('')), nul ? [0] : [])),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 20 }).map((b) => concat([0], b)),
  fc.array(nameUnit, { maxLength: 6 }).map((u) => concat([0xef, 0xbb, 0xbf], utf8(u.join('')))),
  fc.constantFrom(utf8('cubic'), utf8('bbr\0'), utf8('reno\0\0\0'), utf8('/run/x.sock\0'), new Uint8Array(0)),
);

/** any payload around the sizes the decoders test for */
const smallPayload = fc.uint8Array({ maxLength: 24 });
const wordsPayload = fc.array(word, { maxLength: 12 }).map((w) => concat(...w.map(le32)));

/** One attribute: a type meaningful to the inet or the unix decoder (or neither), with a fitting or unfitting payload. */
const attribute = fc.oneof(
  { arbitrary: fc.tuple(fc.constant(2), tcpInfoBytes(fc.oneof(fc.constantFrom(...TCP_INFO_LENGTHS), fc.integer({ min: 0, max: 320 })))), weight: 4 },
  { arbitrary: fc.tuple(fc.constantFrom(4, 0), nameBytes), weight: 4 }, // CONG (inet) / NAME (unix)
  { arbitrary: fc.tuple(fc.constantFrom(1, 3, 7, 9, 16, 5), wordsPayload), weight: 4 }, // MEMINFO/VFS, VEGAS/ICONS, SKMEMINFO/UID, DCTCP, BBR, TOS/MEMINFO
  { arbitrary: fc.tuple(fc.integer({ min: 0, max: 24 }), smallPayload), weight: 6 },
  { arbitrary: fc.tuple(fc.constantFrom(5, 6, 8, 10, 11, 15, 17, 21, 2, 6, 7), fc.uint8Array({ maxLength: 9 })), weight: 4 },
  { arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 12 })), weight: 1 },
);

/** A row's attribute bytes: attributes (type flags sometimes set), sometimes followed by broken framing. */
const attributes = fc
  .tuple(
    fc.array(fc.tuple(attribute, fc.constantFrom(0, 0, 0, 0x8000, 0x4000)), { maxLength: 12 }),
    fc.oneof({ arbitrary: fc.constant(new Uint8Array(0)), weight: 6 }, { arbitrary: fc.uint8Array({ maxLength: 7 }), weight: 1 }),
  )
  .map(([list, tail]) => concat(...list.map(([[type, payload], flags]) => nlattr((type | flags) & 0xffff, payload)), tail));

const ADDRESSES = [
  [127, 0, 0, 1],
  [127, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9],
  [0, 0, 0, 0],
  [10, 1, 2, 3],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1],
  [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
].map((a) => Uint8Array.from({ length: 16 }, (_, k) => a[k] ?? 0));
const address = fc.oneof(fc.constantFrom(...ADDRESSES), fc.uint8Array({ minLength: 16, maxLength: 16 }));

const u8 = fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 }));
const u32 = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 0xffffffff }), fc.constant(0xffffffff));
export const row = fc.record({
  proto: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 7 }), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 }),
  family: fc.oneof({ arbitrary: fc.constantFrom(2, 10, 1), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 }),
  state: u8,
  timer: u8,
  retrans: u8,
  sockType: fc.oneof(fc.constantFrom(1, 2, 3, 5), u8),
  sport: fc.integer({ min: 0, max: 0xffff }),
  dport: fc.integer({ min: 0, max: 0xffff }),
  ifindex: fc.oneof(fc.constant(0), fc.constant(0), u32),
  expires: u32,
  rqueue: u32,
  wqueue: u32,
  uid: fc.oneof(fc.constant(UID_UNKNOWN), u32),
  inode: fc.integer({ min: 0, max: 40 }),
  cookieLo: u32,
  cookieHi: fc.oneof(fc.constant(0), u32),
  src: address,
  dst: address,
  attrs: attributes,
});

export type Row = typeof row extends fc.Arbitrary<infer R> ? R : never;

/** SocketTable's per-row number columns but where the attributes lie (rows made here carry theirs apart). */
type RowColumn = Exclude<(typeof NUMBER_COLUMNS)[number], 'attrStart' | 'attrLength'>;
export const TABLE_COLUMNS = NUMBER_COLUMNS.filter((c): c is RowColumn => c !== 'attrStart' && c !== 'attrLength');

export function tableOf(rows: Row[]): SocketTable {
  const t = new SocketTable(16, 0);
  for (const r of rows) {
    const i = t.addRow();
    for (const k of TABLE_COLUMNS) {
      t[k][i] = r[k];
    }
    t.src.set(r.src, i * 16);
    t.dst.set(r.dst, i * 16);
    if (r.attrs.byteLength > 0) t.setAttributes(i, r.attrs, 0, r.attrs.byteLength);
    else t.setAttributeRange(i, 0, 0);
  }
  return t;
}

export const text = fc.array(nameUnit, { maxLength: 6 }).map((u) => u.join(''));
export const options = fc.record({
  extended: fc.boolean(),
  timers: fc.boolean(),
  info: fc.boolean(),
  memory: fc.boolean(),
  processes: fc.option(
    fc.tuple(fc.array(text, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.nat(3), fc.nat(1000)), { maxLength: 60 })),
  ),
  interfaceNames: fc.option(fc.array(fc.option(text), { minLength: 1, maxLength: 4 })),
  hostNames: fc.option(fc.array(fc.option(text), { minLength: 1, maxLength: 4 })),
});

export function recordOptions(g: typeof options extends fc.Arbitrary<infer R> ? R : never): RecordOptions {
  const o: RecordOptions = { extended: g.extended, timers: g.timers, info: g.info, memory: g.memory };
  if (g.processes) {
    const [comms, adds] = g.processes;
    const h = new FakeHolders(new Map(comms.map((c, k) => [k, c])));
    for (const [inode, pid, fd] of adds) h.add(inode, pid % comms.length, fd);
    o.processes = h;
  }
  if (g.interfaceNames) {
    const names = g.interfaceNames;
    o.interfaceName = (ifindex) => names[ifindex % names.length] ?? undefined;
  }
  if (g.hostNames) {
    const names = g.hostNames;
    o.hostName = (a) => names[a.length % names.length] ?? undefined;
  }
  return o;
}

/** socketstat options with the host facts and line-protocol settings the tests vary. */
export type SocketstatTestOptions = SocketstatOptions & LineProtocolOptions & { interfaceName?: (ifindex: number) => string | undefined };

const factsOf = (o: SocketstatTestOptions): HostFacts => ({ interfaceName: o.interfaceName ?? (() => undefined) });

/** The socketstat collector's metrics for a table, through the metric sink (the gather's tags merged in as gather() does). */
export function socketstatMetrics(t: SocketTable, time: number, o: SocketstatTestOptions, emit: (m: Metric) => void): void {
  const tags = o.tags ?? {};
  collectSocketstat(
    t,
    time,
    socketstatPlan(o),
    factsOf(o),
    new MetricSink((m) => {
      if (Object.keys(tags).length) m.tags = { ...tags, ...m.tags };
      emit(m);
    }),
  );
}

/** The same collector into the line-protocol sink: the bytes it writes. */
export function socketstatLineProtocol(t: SocketTable, time: number, o: SocketstatTestOptions, sink = new LineProtocolSink(o)): LineProtocolSink {
  collectSocketstat(t, time, socketstatPlan(o), factsOf(o), sink);
  return sink;
}
