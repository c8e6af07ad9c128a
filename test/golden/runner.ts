/**
 * Runs every golden case (cases.ts) and writes { file: { stdout (base64), stderr, exitCode } } as JSON to the
 * path given as the first argument. golden.test.ts starts it in a fresh network namespace, so what the CLI reads
 * from the live host besides the recording is the same on every machine: /proc/net/raw{,6} (the recording's
 * raw dump answers ENOENT, so raw is read from /proc, empty in a new namespace), ip_local_port_range (the
 * kernel's default in a new namespace) and the loopback the Zabbix trapper listens on.
 *
 * Date.now() is fixed at the recording's time (the snapshot's takenAt, metric timestamps, Zabbix clock/ns);
 * `performance.now()` is not, so the summary's "read in N ms" / duration_ms are blanked in the result.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DiagSession } from '../../src/snapshot/snapshot.js';
import { replayTransport } from '../../src/snapshot/replay.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import { socketRecord, type RecordOptions } from '../../src/outputs/listing/socket-record.js';
import { SocketJsonWriter } from '../../src/outputs/listing/socket-ndjson.js';
import { lsShowsNetid, lsTableBytes } from '../../src/outputs/listing/ls-table.js';
import { SocketHolders } from '../../src/procfs/processes.js';
import { encodeFrame } from '../../src/zabbix/frame.js';
import { main } from '../../src/cli/main.js';
import type { Population } from '../helpers/population-holder.js';
import { FIXTURES, recordedAnswer } from '../helpers/recorded.js';
import { goldenCases, type GoldenCase, type WriterCase } from './cases.js';

export interface CaseResult {
  stdout: string; // base64
  stderr: string;
  exitCode: number;
}

const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as { recordedAt: string; population: Population };
export const GOLDEN_TIME = Date.parse(manifest.recordedAt);

/** The summary's duration is wall time: blanked so the rest of the text can be pinned. */
const scrub = (s: string) => s.replace(/read in \d+\.\d ms/g, 'read in <duration> ms').replace(/"duration_ms": [\d.]+/g, '"duration_ms": "<duration>"');

/** process.stdout/stderr.write captured (chunks copied: writers reuse their buffers once a write returns). */
async function captured(run: () => Promise<void>): Promise<CaseResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const listeners = process.stdout.listeners('error');
  const grab = (into: Buffer[]) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      into.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = grab(out);
  process.stderr.write = grab(err);
  process.exitCode = undefined;
  try {
    await run();
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    for (const l of process.stdout.listeners('error')) if (!listeners.includes(l)) process.stdout.off('error', l as () => void);
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return {
    stdout: Buffer.from(scrub(Buffer.concat(out).toString('latin1')), 'latin1').toString('base64'),
    stderr: Buffer.concat(err).toString('utf8'),
    exitCode,
  };
}

/** A holder index with fixed processes (what -p would find), names that need escaping included. */
class FixedHolders extends SocketHolders {
  constructor(private readonly names: ReadonlyMap<number, string>) {
    super('/nonexistent');
  }

  override comm(pid: number): string {
    return this.names.get(pid) ?? '';
  }
}

function fixedHolders(t: SocketTable): SocketHolders {
  const h = new FixedHolders(
    new Map([
      [100, 'nginx'],
      [101, 'we"ird\\name'],
      [102, 'ünïcode'],
    ]),
  );
  const inodes = [...new Set(Array.from(t.inode.subarray(0, t.length)).filter((x) => x !== 0))].sort((a, b) => a - b);
  inodes.forEach((inode, k) => {
    if (k % 3 !== 2) h.add(inode, 100 + (k % 3), 3 + k);
    if (k % 5 === 0) h.add(inode, 100 + ((k + 1) % 3), 10 + k);
  });
  return h;
}

const fixedName = (a: string) => (a === '127.0.0.1' ? 'localhost' : a === '::1' ? 'ip6-localhost' : undefined);

async function writerCase(c: WriterCase): Promise<CaseResult> {
  const session = new DiagSession(replayTransport(recordedAnswer));
  const snap = await takeSnapshot({ ext: 0xff, unixShow: 0x7f, keepAttributes: true, procRoot: `${FIXTURES}proc` }, session);
  const t = snap.table;
  const view = t.arenaView();
  const o: RecordOptions = {
    extended: c.flags.includes('e'),
    timers: c.flags.includes('o'),
    info: c.flags.includes('i'),
    memory: c.flags.includes('m'),
    interfaceName: (ifindex) => (ifindex === 1 ? 'lo' : undefined),
  };
  if (c.with === 'processes') o.processes = fixedHolders(t);
  else {
    // ls -r (without -n): host names, and rates as ss prints them without -n
    o.hostName = fixedName;
    o.serviceNames = true;
  }
  const rows = Array.from({ length: t.length }, (_, i) => i);
  let text: Uint8Array;
  if (c.writer === 'record') text = Buffer.from(rows.map((i) => `${JSON.stringify(socketRecord(t, i, view, o))}\n`).join(''));
  else if (c.writer === 'table') text = lsTableBytes(t, rows, view, o, { header: true, netid: lsShowsNetid(t, rows, 7) }).slice();
  else {
    const w = new SocketJsonWriter(o);
    const chunks: Buffer[] = [];
    for (const i of rows) {
      w.append(t, i, view);
      w.bytes.byte(10);
    }
    w.bytes.flush(
      (chunk) => chunks.push(Buffer.from(chunk)),
      () => true,
    );
    text = Buffer.concat(chunks);
  }
  return { stdout: Buffer.from(text).toString('base64'), stderr: '', exitCode: 0 };
}

/** `sockscope zabbix send` to a trapper on this namespace's loopback: the frame it sent, byte for byte. */
async function zabbixSend(argv: string[]): Promise<CaseResult> {
  const frames: Buffer[] = [];
  const server = createServer((s) => {
    const got: Buffer[] = [];
    s.on('data', (d) => {
      got.push(d);
      const all = Buffer.concat(got);
      // the whole frame: header (13 bytes) + the data length at offset 5
      if (all.length >= 13 && all.length >= 13 + all.readUInt32LE(5)) {
        frames.push(all);
        s.end(encodeFrame(JSON.stringify({ response: 'success', info: 'processed: 1; failed: 0; total: 1; seconds spent: 0.000001' })));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await captured(() => main(['zabbix', 'send', '--server', `127.0.0.1:${port}`, ...argv]));
    return { ...r, stdout: Buffer.concat(frames).toString('base64') };
  } finally {
    server.close();
  }
}

export async function runCase(c: GoldenCase): Promise<CaseResult> {
  if (c.kind === 'writer') return writerCase(c);
  if (c.kind === 'zabbix-send') return zabbixSend(c.argv);
  return captured(() => main(c.argv));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outFile = process.argv[2];
  // every netlink session the CLI opens is answered by the recording
  DiagSession.open = async () => new DiagSession(replayTransport(recordedAnswer));
  Date.now = () => GOLDEN_TIME;
  const results: Record<string, CaseResult> = {};
  for (const c of goldenCases(manifest.population)) results[c.file] = await runCase(c);
  writeFileSync(outFile, JSON.stringify(results));
}
