/**
 * Micro-benchmark of ls's per-socket output, in one process, no kernel: the recorded fixture dumps
 * (test/fixtures) replayed through takeSnapshot, the table appended to itself until it holds --sockets rows,
 * then each writer of the listing timed over the whole table (median of --reps, after one warm-up):
 *
 *   ndjson   SocketJsonWriter#append per socket into its byte buffer, taken per 512-row batch (what ls does)
 *   table    lsTableBytes straight from the columns (what ls does)
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ls-writer.js [--sockets 150000] [--reps 5] [--only tcp|all]
 *
 * Reported per 100k sockets. (Earlier versions also timed the record-object path these writers replaced.)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DiagSession, takeSnapshot } from '../src/snapshot/snapshot.js';
import { replayTransport, splitDatagrams, type ReplayRequest } from '../src/snapshot/replay.js';
import { SocketTable } from '../src/snapshot/table.js';
import type { RecordOptions } from '../src/outputs/listing/socket-record.js';
import { SocketJsonWriter } from '../src/outputs/listing/socket-ndjson.js';
import { lsShowsNetid, renderLsTableRows } from '../src/outputs/listing/ls-table.js';
import { SocketHolders } from '../src/procfs/processes.js';

const { values } = parseArgs({
  options: { sockets: { type: 'string', default: '150000' }, reps: { type: 'string', default: '5' }, only: { type: 'string', default: 'tcp' } },
});
const wanted = Number(values.sockets);
const reps = Number(values.reps);

const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const load = (file: string): Uint8Array[] => splitDatagrams(new Uint8Array(readFileSync(`${fixtures}${file}`)));
const PROTO_FILE: Record<number, string> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 255: 'raw', 132: 'sctp' };
function recordedAnswer(req: ReplayRequest): Uint8Array[] {
  const ext = req.type === 18 ? req.body[3] : req.body[2];
  if (req.type === 18) return load(`tcp-legacy-${ext === 0 ? 'census' : 'ext255'}.bin`);
  if (req.body[0] === 1) return load('unix-show7f.bin');
  const fam = req.body[0] === 10 ? 'inet6' : 'inet';
  const proto = req.body.byteLength > 56 && req.body[58] === 3 ? 'mptcp' : PROTO_FILE[req.body[1]];
  return load(`${proto}-v2-${fam}-${proto === 'tcp' ? (ext === 0 ? 'census' : 'ext255') : 'ext255'}.bin`);
}

const snap = await takeSnapshot(
  { protocols: values.only === 'tcp' ? ['tcp'] : undefined, ext: 0xff, unixShow: 0x7f, procRoot: `${fixtures}proc` },
  new DiagSession(replayTransport(recordedAnswer)),
);
const big = new SocketTable(wanted, 0);
while (big.length < wanted) big.append(snap.table);
big.length = wanted;
for (let i = 0; i < big.length; i++) if (big.inode[i] !== 0) big.inode[i] = 100_000 + i; // unique, as on a real host
const view = big.arenaView();

// -p: every socket held by one of a few processes (comm from this fake, no /proc)
class Holders extends SocketHolders {
  override comm(pid: number): string {
    return `proc${pid}`;
  }
}
const holders = new Holders('/nonexistent');
for (let i = 0; i < big.length; i++) if (big.inode[i] !== 0 && i % 4 !== 3) holders.add(big.inode[i], 1000 + (i % 7), 3 + (i % 100));

const BATCH = 512;
function ndjsonNew(o: RecordOptions): number {
  const w = new SocketJsonWriter(o);
  let bytes = 0;
  for (let from = 0; from < big.length; from += BATCH) {
    for (let i = from; i < Math.min(big.length, from + BATCH); i++) {
      w.append(big, i, view);
      w.bytes.byte(10);
    }
    bytes += w.bytes.take().length;
  }
  return bytes;
}
const rows = Array.from({ length: big.length }, (_, i) => i);
function tableNew(o: RecordOptions): string {
  return renderLsTableRows(big, rows, view, o, { header: true, netid: lsShowsNetid(big, rows, 1) });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
function time(f: () => unknown): number {
  f(); // warm-up
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const per100k = (ms: number) => (ms * 100_000) / big.length;
const fmt = (ms: number) => `${per100k(ms).toFixed(0).padStart(6)} ms`;
const sets: [string, RecordOptions][] = [
  ['-tan', {}],
  ['-tani', { info: true }],
  ['-tanp', { processes: holders }],
  ['-tan -e -o -i -m -p', { extended: true, timers: true, info: true, memory: true, processes: holders }],
];
process.stdout.write(`${big.length} sockets (the fixture's ${snap.table.length} repeated), node ${process.version}, median of ${reps}; per 100k sockets:\n`);
process.stdout.write('flags                    ndjson     table\n');
for (const [name, o] of sets) {
  const [a, b] = [time(() => ndjsonNew(o)), time(() => tableNew(o))];
  process.stdout.write(`${name.padEnd(22)} ${fmt(a)}  ${fmt(b)}\n`);
}
