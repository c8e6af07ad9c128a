/**
 * Run inside a namespace (netns.ts runs it with nsenter): take one snapshot with sockscope's public API and
 * print it as one JSON document on stdout, so the test process never enters the namespace itself.
 *
 *   node dist/test/helpers/dump-json.js                        takeSnapshot({ ext: FULL_EXT, unixShow: 0x7f })
 *   node dist/test/helpers/dump-json.js --proc                 the same with source: 'proc'
 *   node dist/test/helpers/dump-json.js --census [--strategy legacy|v2] [--proc] [--tw-counter]
 *                                                              (--tw-counter: timeWaitFromCounter)
 *   ... --strategy legacy|v2                                   tcpStrategy for the snapshot too
 *
 * u64 tcp_info values of ~0 (Infinity) print as null: JSON has no Infinity.
 */
import {
  AF_INET6,
  decodeInetAttributes,
  decodeUnixAttributes,
  formatAddress,
  FULL_EXT,
  Proto,
  PROTO_NAMES,
  STATE_KEYS,
  SnapshotWorker,
  takeCensus,
  takeSnapshot,
  UID_UNKNOWN,
  UNIX_SHOW_ALL,
  type InetAttributes,
  type ProtocolSource,
  type ProtoName,
  type SnapshotOptions,
  type UnixAttributes,
} from '../../src/index.js';

export interface DumpRecord {
  protocol: ProtoName;
  family: number;
  sockType: number;
  state: number;
  stateName: string;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  rqueue: number;
  wqueue: number;
  inode: number;
  /** null when the kernel did not say (unix without UNIX_DIAG_UID) */
  uid: number | null;
  /** hex, as ss prints sk: */
  cookie: string;
  timer: number;
  retrans: number;
  expires: number;
  /** decoded inet attributes (tcpInfo, congestion, v6only, ...), when the snapshot kept them */
  inet?: InetAttributes;
  /** decoded unix attributes (name with '@' for abstract, peer, pending, vfs, ...) */
  unix?: UnixAttributes;
}

export interface DumpOutput {
  kind: 'snapshot';
  options: SnapshotOptions;
  sources: ProtocolSource[];
  notes: string[];
  ext: number;
  sockets: DumpRecord[];
}

export interface CensusOutput {
  kind: 'census';
  options: SnapshotOptions;
  sources: ProtocolSource[];
  notes: string[];
  /** per protocol: counts indexed by state number (0..15), per family and summed */
  counts: Record<string, { v4: number[]; v6: number[]; all: number[] }>;
  /** TCP TIME_WAIT counted without a family (timeWaitFromCounter) */
  timeWaitUnsplit: number;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const census = argv.includes('--census');
  const proc = argv.includes('--proc');
  const si = argv.indexOf('--strategy');
  const strategy = si >= 0 ? argv[si + 1] : undefined;
  if (strategy !== undefined && strategy !== 'legacy' && strategy !== 'v2') throw new Error(`--strategy must be legacy or v2, not ${strategy}`);
  const base: SnapshotOptions = {};
  if (proc) base.source = 'proc';
  if (strategy) base.tcpStrategy = strategy;

  if (census) {
    const c = await takeCensus({ ...base, timeWaitFromCounter: argv.includes('--tw-counter') });
    const counts: CensusOutput['counts'] = {};
    for (const name of PROTO_NAMES) {
      if (name === '') continue;
      counts[name] = { v4: c.counts.states(name, 2), v6: c.counts.states(name, AF_INET6), all: c.counts.states(name) };
    }
    const out: CensusOutput = { kind: 'census', options: base, sources: c.sources, notes: c.notes, counts, timeWaitUnsplit: c.counts.tcpTimeWaitUnsplit };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }

  const options: SnapshotOptions = { ...base, ext: FULL_EXT, unixShow: UNIX_SHOW_ALL };
  // --worker: the same snapshot taken by a SnapshotWorker thread and rebuilt from its transferred buffers
  let snap: Awaited<ReturnType<typeof takeSnapshot>>;
  if (argv.includes('--worker')) {
    const worker = new SnapshotWorker();
    try {
      snap = await worker.snapshot(options);
    } finally {
      await worker.close();
    }
  } else {
    snap = await takeSnapshot(options);
  }
  const t = snap.table;
  const view = t.arenaView();
  const sockets: DumpRecord[] = [];
  for (let i = 0; i < t.length; i++) {
    const protocol = PROTO_NAMES[t.proto[i]] as ProtoName;
    const r: DumpRecord = {
      protocol,
      family: t.family[i],
      sockType: t.sockType[i],
      state: t.state[i],
      stateName: STATE_KEYS[t.state[i]],
      local: formatAddress(t.family[i], t.src, i * 16),
      localPort: t.sport[i],
      remote: formatAddress(t.family[i], t.dst, i * 16),
      remotePort: t.dport[i],
      rqueue: t.rqueue[i],
      wqueue: t.wqueue[i],
      inode: t.inode[i],
      uid: t.uid[i] === UID_UNKNOWN ? null : t.uid[i],
      cookie: ((BigInt(t.cookieHi[i]) << 32n) | BigInt(t.cookieLo[i])).toString(16),
      timer: t.timer[i],
      retrans: t.retrans[i],
      expires: t.expires[i],
    };
    if (t.attrLength[i] > 0) {
      const start = t.attrStart[i];
      const end = start + t.attrLength[i];
      if (t.proto[i] === Proto.unix) r.unix = decodeUnixAttributes(view, start, end);
      else r.inet = decodeInetAttributes(view, start, end, t.proto[i]);
    }
    sockets.push(r);
  }
  const out: DumpOutput = { kind: 'snapshot', options, sources: snap.sources, notes: snap.notes, ext: snap.ext, sockets };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`dump-json: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
