/**
 * `npm run bench [-- --sizes 10k,50k,150k --reps 5 --warmup 1 --cases census,snapshot]`
 *
 * sockscope against its peers on one known TCP socket population per size, all cases on the same population:
 *
 *   1. bench/population.py builds the population in a private network namespace with its own TCP hash table
 *      (ESTABLISHED pairs, TIME_WAIT, CLOSE_WAIT/FIN_WAIT2 pairs, LISTEN; all on 127.0.0.1) and holds it;
 *      `ss -tan | wc -l` inside the namespace verifies the count before each case.
 *   2. Every measured command runs inside that namespace through `nsenter --net=/proc/<holder>/ns/net`:
 *      whole processes under bench/measure.py (wall time around spawn..wait4, user/sys CPU, peak RSS),
 *      library calls in one node child per row running dist/bench/inproc.js --serve (only the call is timed).
 *   3. A case runs in N interleaved rounds (--reps): each round runs the peer and every row once, in an order
 *      rotated each round, after warm-up (see measureCase). A row's figure is the median of its N timed runs,
 *      shown with its ratio to the case's peer.
 *
 * TIME_WAIT entries live 60 s, so before each case the holder destroys them (SOCK_DESTROY) and builds them again,
 * and the age of the oldest one is recorded when the case ends (a case must end before they expire).
 *
 * Cases are data (CASES below): { id, title, peer, rows, targets }; a row says how to run it. Add rows there.
 * Results: a table per size on stdout, bench/results/latest.json, and bench/results/latest.md (markdown for
 * docs/benchmarks.md). Needs root or an unprivileged user namespace (`unshare -r`); otherwise it says why and
 * exits 0. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DOCTOR_CASES } from './cases-doctor.js';
import { METRICS_CASES } from './cases-metrics.js';
import { PACKAGE_CASES } from './cases-package.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)); // dist/bench/run.js -> the repository
const BENCH = join(ROOT, 'bench');
const NODE = process.execPath;

// ---------------------------------------------------------------------------------------------------------------
// Sizes and the socket mix

interface Mix {
  /** ESTABLISHED pairs: both ends local, 2 sockets each */
  estab: number;
  timewait: number;
  /** CLOSE_WAIT pairs: the server end CLOSE_WAIT, the client end FIN_WAIT2 (half-closed, held): 2 sockets each */
  closewait: number;
  /** LISTEN sockets in total (one per holder process among them) */
  listen: number;
}

/**
 * The 150k shape at any size: 2/3 ESTABLISHED (pairs), <= 1000 CLOSE_WAIT pairs, <= 1000 listeners, the rest
 * TIME_WAIT. 150k = 50000 pairs (100000) + 47000 TIME_WAIT + 1000 CLOSE_WAIT + 1000 FIN_WAIT2 + 1000 LISTEN.
 */
export function mixFor(total: number): Mix {
  const estab = Math.floor(total / 3);
  const closewait = Math.min(1000, Math.max(1, Math.floor(total / 150)));
  const listen = Math.min(1000, Math.max(20, Math.floor(total / 150)));
  const timewait = total - 2 * estab - 2 * closewait - listen;
  if (timewait < 0) throw new Error(`size ${total} is too small for the mix`);
  return { estab, timewait, closewait, listen };
}
const mixTotal = (m: Mix) => 2 * m.estab + m.timewait + 2 * m.closewait + m.listen;

const DEFAULT_SIZES = [10_000, 50_000, 150_000];
/** quiet time after building sockets, before measuring */
const SETTLE_MS = 1000;
/**
 * Whole-machine CPU use during a case above which the case is flagged: the bench runs one thing at a time, about
 * one CPU's worth (55 % of 2 CPUs), so 75 % on 2 CPUs, 50 % on 4; a 1-CPU machine cannot tell (95 %).
 */
const busyWarnPct = (cpus = 1) => Math.min(95, (100 * cpus) / os.availableParallelism() + 25);
const label = (n: number) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));

// ---------------------------------------------------------------------------------------------------------------
// Cases: each { peer, rows, targets }. A row is a whole process (timed by measure.py) or an in-process call.

interface Ctx {
  sockets: number;
  mix: Mix;
  nldump?: string;
  nldumpNote?: string;
  procwalk?: string;
  procwalkNote?: string;
  /** pyroute2's ss2, when installed */
  ss2?: string;
}

type Runner =
  /**
   * a whole process, run by bench/measure.py inside the namespace; `parse` reads the socket count from stdout
   * (captured); or `countLines`: the lines of its warm-up run's stdout matching this regex (Python syntax) are its
   * count, while the timed runs write to /dev/null (for outputs too big to capture)
   */
  | { kind: 'process'; argv: (ctx: Ctx) => string[]; stdout?: 'null' | 'capture'; parse?: (stdout: string) => number; countLines?: string }
  /** dist/bench/inproc.js with these arguments, inside the namespace */
  | { kind: 'inproc'; args: string[] };

interface RowDef {
  name: string;
  runner: Runner;
  /** a reason this row cannot run here, or undefined */
  skip?: (ctx: Ctx) => string | undefined;
  /** informational rows are measured and shown, never checked against the case's targets */
  info?: boolean;
  /** seconds per run (process rows) / per call, warm-up included (in-process rows); default 120 / 300 */
  timeoutS?: number;
  /** this row's own targets (instead of the case's) */
  targets?: Targets;
  /** how many sockets the row should list (checked when it reports a count); default: the whole population */
  expect?: (ctx: Ctx) => number | undefined;
  /** instead of `expect`: a note on the count it reported, or undefined when the count is as it should be */
  countNote?: (count: number, ctx: Ctx) => string | undefined;
}

interface Targets {
  /** row median / peer median must be at most this */
  ratio?: number;
  /** peak RSS of the row (max over its runs), MiB */
  maxRssMiB?: number;
  /** median CPU (user + sys) of the row, ms: for rows that mostly wait (sockscope doctor's window) */
  maxCpuMs?: number;
  /** the targets are set for populations of at least this many sockets; below, results are shown in brackets */
  fromSockets: number;
}

interface CaseDef {
  id: string;
  title: string;
  peer?: RowDef;
  rows: RowDef[];
  /** targets of the case's subject rows (a row's own `targets` win) */
  targets?: Targets;
  /** a reason the whole case cannot run here (printed), or undefined */
  skip?: (ctx: Ctx) => string | undefined;
  /** at most this many rounds, whatever --reps says (slow peers) */
  maxReps?: number;
  /**
   * Rebuild TIME_WAIT (outside the timed runs) before every run / round when the oldest entry is older than
   * ifOlderThanS, for cases longer than TIME_WAIT's 60 s. The time and CPU of rebuilding are not counted.
   */
  twRefresh?: { every: 'run' | 'round'; ifOlderThanS: number };
  /** when the peer times out at a size, skip the case at the larger sizes (it would only time out again) */
  giveUpAfterPeerTimeout?: boolean;
  /** CPUs the case's subject keeps busy by itself (ls -p's parallel /proc walk): raises the busy threshold */
  cpus?: number;
}

const sh = (script: string): string[] => ['sh', '-c', script];
const AWK_STATES = `ss -tan | awk 'NR > 1 { n[$1]++ } END { for (s in n) print s, n[s] }'`;
const sumCounts = (out: string) =>
  out
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + (Number(line.split(/\s+/)[1]) || 0), 0);
const nldumpTotal = (out: string) => Number(JSON.parse(out).total);
const needNldump = (ctx: Ctx) => (ctx.nldump ? undefined : (ctx.nldumpNote ?? 'nldump not built'));

const NLDUMP: RowDef = {
  name: 'nldump (C floor)',
  runner: { kind: 'process', argv: (c) => [c.nldump!], stdout: 'capture', parse: nldumpTotal },
  skip: needNldump,
};
const NLDUMP_INFO: RowDef = {
  name: 'nldump info (C floor, tcp_info)',
  runner: { kind: 'process', argv: (c) => [c.nldump!, 'info'], stdout: 'capture', parse: nldumpTotal },
  skip: needNldump,
  info: true,
};
const inproc = (name: string, args: string[], info = false): RowDef => ({ name, runner: { kind: 'inproc', args }, info });

/**
 * The command as users run it: bin/sockscope.js executed (npm's bin), so sh reads its first lines and execs node
 * on it, without NODE_EXTRA_CA_CERTS for the commands that open no TLS connection. `node bin/sockscope.js` would
 * skip that launcher (the breakdown shows what that costs).
 */
const sockscope = (...args: string[]) => ['bin/sockscope.js', ...args];
/** node without NODE_EXTRA_CA_CERTS, as the launcher starts it (for the rows that start node themselves) */
const NO_CA = ['env', '-u', 'NODE_EXTRA_CA_CERTS'];
/** the command from the ES modules of dist/src, as bin/sockscope.js ran it before the bundle (the breakdown's "before") */
const unbundled = (...args: string[]) => [
  ...NO_CA,
  NODE,
  '--input-type=module',
  '-e',
  `const { main } = await import('./dist/src/cli/main.js'); await main(${JSON.stringify(args)});`,
];
/** socket lines of ss's (and `sockscope ls`'s) table: not the header, not the indented detail lines */
const TABLE_LINES = '^(?!State|Netid)\\S';
/** one per flow in ss2's document (pretty-printed, one key per line), ours and pyroute2's */
const SS2_FLOW_LINES = '^\\s*"src": ';
/** ss's default states (SS_CONN) on our population, IPv4 only: ESTABLISHED pairs and CLOSE_WAIT/FIN_WAIT2 pairs */
const connected = (c: Ctx) => 2 * c.mix.estab + 2 * c.mix.closewait;
/**
 * A /proc walk (-p) sees every socket descriptor of the machine: the population's (its TIME_WAIT entries have
 * none) plus whatever else runs. Another big socket holder makes the walk slower: say so.
 */
const walkNote = (n: number, c: Ctx): string | undefined => {
  const ours = connected(c) + c.mix.listen;
  return n > ours * 1.05 + 2000
    ? `the /proc walk found ${n} socket descriptors, the population holds ${ours}: other processes held ${n - ours}, which made the walk longer`
    : undefined;
};
const lsArgs = (args: string) => `--ls=${args}`;
const SS2_INSTALL =
  "pyroute2's ss2 is not installed: the ss2 case is skipped (install it with `apt-get install python3-pyroute2` on Debian/Ubuntu, or `pip install pyroute2 psutil`)";

export const CASES: CaseDef[] = [
  {
    id: 'census',
    title: 'TCP state census',
    peer: NLDUMP,
    rows: [
      inproc('sockscope census, in-process, legacy', ['--op', 'census', '--strategy', 'legacy']),
      inproc('sockscope census, in-process, v2', ['--op', 'census', '--strategy', 'v2']),
    ],
    targets: { ratio: 1.3, fromSockets: 150_000 },
  },
  {
    id: 'snapshot',
    title: 'full TCP snapshot with tcp_info',
    peer: { name: 'ss -tanie > /dev/null', runner: { kind: 'process', argv: () => ['ss', '-tanie'] } },
    rows: [
      inproc('sockscope full snapshot, in-process, legacy', ['--op', 'snapshot', '--strategy', 'legacy']),
      inproc('sockscope full snapshot, in-process, v2', ['--op', 'snapshot', '--strategy', 'v2']),
      NLDUMP_INFO,
    ],
    targets: { ratio: 0.3, fromSockets: 150_000 },
  },
  {
    id: 'summary',
    title: 'state summary, whole process',
    peer: { name: 'ss -tan | awk (count states)', runner: { kind: 'process', argv: () => sh(AWK_STATES), stdout: 'capture', parse: sumCounts } },
    rows: [
      { name: 'sockscope --json > /dev/null', runner: { kind: 'process', argv: () => sockscope('--json') } },
      {
        name: 'sockscope --json, unbundled (dist/src modules: the start before the bundle)',
        runner: { kind: 'process', argv: () => unbundled('--json') },
        info: true,
      },
    ],
    targets: { ratio: 0.85, maxRssMiB: 150, fromSockets: 150_000 },
  },
  {
    id: 'breakdown',
    title: 'where the time goes (informational)',
    rows: [
      // node's own start, with and without the root certificate store NODE_EXTRA_CA_CERTS makes it build
      { name: 'node -e 0 (NODE_EXTRA_CA_CERTS as set)', runner: { kind: 'process', argv: () => [NODE, '-e', '0'] }, info: true },
      { name: 'node -e 0, NODE_EXTRA_CA_CERTS unset', runner: { kind: 'process', argv: () => [...NO_CA, NODE, '-e', '0'] }, info: true },
      {
        name: 'node: import koffi',
        runner: { kind: 'process', argv: () => [...NO_CA, NODE, '--input-type=module', '-e', "await import('koffi')"] },
        info: true,
      },
      {
        name: 'node bin/sockscope.js --version (no launcher: NODE_EXTRA_CA_CERTS as set)',
        runner: { kind: 'process', argv: () => [NODE, 'bin/sockscope.js', '--version'] },
        info: true,
      },
      // the start (docs/benchmarks.md, "Start-up"): the bundle from its code cache, then without each measure
      { name: 'sockscope --version (CLI start, no koffi: bundle + code cache)', runner: { kind: 'process', argv: () => sockscope('--version') }, info: true },
      {
        name: 'sockscope --version, bundle without code cache (NODE_DISABLE_COMPILE_CACHE=1)',
        runner: { kind: 'process', argv: () => ['env', 'NODE_DISABLE_COMPILE_CACHE=1', ...sockscope('--version')] },
        info: true,
      },
      { name: 'sockscope --version, unbundled (dist/src modules)', runner: { kind: 'process', argv: () => unbundled('--version') }, info: true },
      inproc('raw TCP dump, no decode, legacy, in-process', ['--op', 'rawdump', '--strategy', 'legacy', '--ext', '0'], true),
      inproc('raw TCP dump, no decode, v2, in-process', ['--op', 'rawdump', '--strategy', 'v2', '--ext', '0'], true),
      inproc('raw TCP dump with tcp_info, no decode, legacy, in-process', ['--op', 'rawdump', '--strategy', 'legacy', '--ext', 'full'], true),
      inproc('raw TCP dump with tcp_info, no decode, v2, in-process', ['--op', 'rawdump', '--strategy', 'v2', '--ext', 'full'], true),
      inproc('--json work in-process (all protocols + summarize + stringify)', ['--op', 'summary'], true),
    ],
  },
  {
    id: 'ls-ndjson',
    title: 'ls -tan, ndjson (streamed) and table, whole process',
    peer: { name: 'ss -tan > /dev/null', runner: { kind: 'process', argv: () => ['ss', '-tan'], countLines: TABLE_LINES } },
    rows: [
      {
        name: 'sockscope ls -tan --format ndjson > /dev/null',
        runner: { kind: 'process', argv: () => sockscope('ls', '-tan', '--format', 'ndjson'), countLines: '.' },
        targets: { maxRssMiB: 200, fromSockets: 150_000 },
      },
      // issue 17: the listing typed most, faster than ss and in 80 MiB
      {
        name: 'sockscope ls -tan > /dev/null (table)',
        runner: { kind: 'process', argv: () => sockscope('ls', '-tan'), countLines: TABLE_LINES },
        targets: { ratio: 0.8, maxRssMiB: 80, fromSockets: 150_000 },
      },
    ],
  },
  {
    id: 'ls-info',
    title: 'ls -tani (tcp_info), ndjson and table, whole process',
    peer: { name: 'ss -tani > /dev/null', runner: { kind: 'process', argv: () => ['ss', '-tani'], countLines: TABLE_LINES } },
    rows: [
      {
        name: 'sockscope ls -tani --format ndjson > /dev/null',
        runner: { kind: 'process', argv: () => sockscope('ls', '-tani', '--format', 'ndjson'), countLines: '.' },
      },
      // the table's detail words (ss-details.ts, compiled from the member table), as ss prints them
      {
        name: 'sockscope ls -tani > /dev/null (table)',
        runner: { kind: 'process', argv: () => sockscope('ls', '-tani'), countLines: TABLE_LINES },
        info: true,
      },
    ],
    targets: { ratio: 0.6, fromSockets: 150_000 }, // issue 17
  },
  {
    id: 'ls-procs',
    title: 'ls -tanp (processes), table, whole process',
    peer: { name: 'ss -tanp > /dev/null', runner: { kind: 'process', argv: () => ['ss', '-tanp'], countLines: TABLE_LINES }, timeoutS: 600 },
    rows: [
      { name: 'sockscope ls -tanp > /dev/null', runner: { kind: 'process', argv: () => sockscope('ls', '-tanp'), countLines: TABLE_LINES }, timeoutS: 300 },
      {
        name: 'procwalk (C floor of -p: readlink every /proc/*/fd/*)',
        runner: { kind: 'process', argv: (c) => [c.procwalk!], stdout: 'capture', parse: (out) => Number(JSON.parse(out).sockets) },
        skip: (c) => (c.procwalk ? undefined : (c.procwalkNote ?? 'procwalk not built')),
        countNote: walkNote, // every socket fd of the machine, not only the population's
        info: true,
      },
    ],
    targets: { ratio: 0.15, maxRssMiB: 100, fromSockets: 150_000 }, // issue 17
    maxReps: 3,
    twRefresh: { every: 'run', ifOlderThanS: 15 },
    cpus: 2, // the /proc walk runs in worker threads next to the snapshot
  },
  {
    id: 'ss2',
    title: 'pyroute2 ss2 -t vs sockscope ls --format ss2, whole process',
    skip: (c) => (c.ss2 ? undefined : SS2_INSTALL),
    peer: {
      name: 'ss2 -t > /dev/null (pyroute2; TCP, IPv4, connected states)',
      runner: { kind: 'process', argv: (c) => [c.ss2!, '-t'], countLines: SS2_FLOW_LINES },
      timeoutS: 60,
      expect: connected,
    },
    rows: [
      {
        name: 'sockscope ls -t -4 --format ss2 > /dev/null (the same sockets)',
        runner: { kind: 'process', argv: () => sockscope('ls', '-t', '-4', '--format', 'ss2'), countLines: SS2_FLOW_LINES },
        timeoutS: 120,
        expect: connected,
      },
      {
        name: 'sockscope ls -ta --format ss2 > /dev/null (every TCP socket, both families)',
        runner: { kind: 'process', argv: () => sockscope('ls', '-ta', '--format', 'ss2'), countLines: SS2_FLOW_LINES },
        timeoutS: 120,
        info: true,
      },
    ],
    maxReps: 3,
    twRefresh: { every: 'run', ifOlderThanS: 5 },
    giveUpAfterPeerTimeout: true,
  },
  {
    id: 'ls-breakdown',
    cpus: 2, // -p rows: the parallel /proc walk
    title: 'where the time of ls goes (informational, in-process, cumulative stages)',
    rows: [
      inproc('ls -tani ndjson: kernel dump only (streamSnapshot, batches counted)', ['--op', 'ls', lsArgs('-tani --format ndjson'), '--stage', 'dump'], true),
      inproc('ls -tani ndjson: + SocketJsonWriter per socket (bytes dropped)', ['--op', 'ls', lsArgs('-tani --format ndjson'), '--stage', 'format'], true),
      inproc('ls -tani ndjson: + write to /dev/null (all of it)', ['--op', 'ls', lsArgs('-tani --format ndjson'), '--stage', 'write'], true),
      inproc(
        'ls -tani ndjson: all of it, read-ahead (the dump received in a worker thread)',
        ['--op', 'ls', lsArgs('-tani --format ndjson'), '--stage', 'write', '--read-ahead'],
        true,
      ),
      inproc('ls -tan table: takeSnapshot only', ['--op', 'ls', lsArgs('-tan'), '--stage', 'snapshot'], true),
      inproc('ls -tan table: + lsTableBytes (the aligned text, not written)', ['--op', 'ls', lsArgs('-tan'), '--stage', 'format'], true),
      inproc('ls -tan table: + write to /dev/null (all of it)', ['--op', 'ls', lsArgs('-tan'), '--stage', 'write'], true),
      // what the CLI does now (issue 17): the -tan table streamed batch by batch
      inproc('ls -tan table streamed: streamSnapshot + lines per batch + write', ['--op', 'ls', lsArgs('-tan'), '--stage', 'stream'], true),
      {
        ...inproc('ls -tanp: /proc/*/fd walk only (indexSocketHoldersParallel)', ['--op', 'ls', lsArgs('-tanp'), '--stage', 'procs'], true),
        countNote: walkNote,
      },
      inproc('ls -tanp: takeSnapshot only (no -p)', ['--op', 'ls', lsArgs('-tanp'), '--stage', 'snapshot'], true),
      inproc('ls -tanp: walk (workers) overlapping snapshot + lsTableBytes (not written)', ['--op', 'ls', lsArgs('-tanp'), '--stage', 'format'], true),
      inproc('ls -tanp: + write to /dev/null (all of it)', ['--op', 'ls', lsArgs('-tanp'), '--stage', 'write'], true),
    ],
    twRefresh: { every: 'round', ifOlderThanS: 0 },
  },
  ...(METRICS_CASES as CaseDef[]),
  ...(PACKAGE_CASES as CaseDef[]),
  ...(DOCTOR_CASES as CaseDef[]),
];

// ---------------------------------------------------------------------------------------------------------------
// Children: every one in its own process group, with a timeout; all killed on exit or interrupt.

const live = new Set<ChildProcess>();
/** populations are torn down by main (they hold TIME_WAIT etc.); every other child is killed on interrupt */
const populations = new Set<ChildProcess>();
let interrupted = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(argv: string[], timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    if (interrupted) return reject(new Error('interrupted'));
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      if (interrupted) reject(new Error('interrupted'));
      else resolve({ code, stdout, stderr, timedOut });
    });
  });
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Long-lived children that talk in JSON lines: the population, and in-process servers (dist/bench/inproc.js --serve).

interface Event {
  event: string;
  [k: string]: unknown;
}

/** A child in its own process group, commands on its stdin, one JSON event per line on its stdout. */
class Conversation {
  private readonly queue: Event[] = [];
  private readonly waiters: ((e: Event) => void)[] = [];
  private stderr = '';
  readonly child: ChildProcess;

  constructor(
    argv: string[],
    readonly what: string,
    kind: 'population' | 'row',
  ) {
    this.child = spawn(argv[0], argv.slice(1), { cwd: ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.child);
    if (kind === 'population') populations.add(this.child);
    this.child.on('error', () => undefined); // reported through 'close'
    this.child.stdin!.on('error', () => undefined); // EPIPE when the child is gone: reported through 'close'
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let ev: Event;
      try {
        ev = JSON.parse(line) as Event;
      } catch {
        return; // not ours
      }
      const w = this.waiters.shift();
      if (w) w(ev);
      else this.queue.push(ev);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.child.on('close', (code, signal) => {
      live.delete(this.child);
      populations.delete(this.child);
      const ev = { event: 'exit', message: `${what} exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim().slice(-600)}` : ''}` };
      for (const w of this.waiters.splice(0)) w(ev);
      this.queue.push(ev);
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(`${line}\n`);
  }

  /** The next event, or { event: 'timeout' } (the child is then killed) or { event: 'exit' }. */
  next(timeoutMs: number, doing: string): Promise<Event> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        killGroup(this.child);
        resolve({ event: 'timeout', message: `${this.what}: ${doing}: no answer within ${timeoutMs / 1000} s` });
      }, timeoutMs);
      const done = (e: Event) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push(done);
    });
  }

  /** Ask it to quit (end of stdin), then kill its group after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.exited) {
      const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
      this.child.stdin!.end('quit\n');
      const timer = setTimeout(() => killGroup(this.child), graceMs);
      await closed;
      clearTimeout(timer);
    }
    killGroup(this.child); // anything left in its group
  }
}

const failure = (ev: Event) => String(ev.message ?? JSON.stringify(ev));

/** bench/population.py, holding its sockets until told to quit (or until its stdin closes). */
class Population {
  pid = 0;
  /** wall-clock seconds when the current TIME_WAIT generation started being built */
  twStarted = 0;

  private constructor(
    readonly talk: Conversation,
    readonly userns: boolean,
  ) {}

  static async start(python: string, mix: Mix, userns: boolean, timeoutMs: number): Promise<Population> {
    const args = [
      join(BENCH, 'population.py'),
      '--estab',
      `${mix.estab}`,
      '--timewait',
      `${mix.timewait}`,
      '--closewait',
      `${mix.closewait}`,
      '--listen',
      `${mix.listen}`,
    ];
    const argv = userns ? ['unshare', '-r', python, ...args] : [python, ...args];
    const pop = new Population(new Conversation(argv, 'population', 'population'), userns);
    const ev = await pop.talk.next(timeoutMs, 'building');
    if (ev.event !== 'ready') {
      await pop.stop();
      throw new Error(`population: ${failure(ev)}`);
    }
    pop.pid = Number(ev.pid);
    pop.twStarted = Number(ev.tw_started);
    return pop;
  }

  /** The prefix that runs a command inside the population's network namespace. */
  nsenter(): string[] {
    const net = `--net=/proc/${this.pid}/ns/net`;
    // unshare -r denied setgroups; keeping our credentials, we are the namespace's root (uid map 0 -> us)
    return this.userns ? ['nsenter', '--preserve-credentials', `--user=/proc/${this.pid}/ns/user`, net] : ['nsenter', net];
  }

  async refreshTimeWait(timeoutMs: number): Promise<Event> {
    this.talk.send('refresh-tw');
    const ev = await this.talk.next(timeoutMs, 'refreshing TIME_WAIT');
    if (ev.event !== 'refreshed') throw new Error(`population: ${failure(ev)}`);
    this.twStarted = Number(ev.tw_started);
    return ev;
  }

  stop(): Promise<void> {
    return this.talk.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring rows

interface Sample {
  ms: number;
  user_ms: number;
  sys_ms: number;
  /** minor page faults (process rows: the whole process; in-process rows: during the call) */
  minflt?: number;
  maxrss_kb?: number;
  /** process rows: exit code, or 'timeout' */
  status?: number | string;
}

interface Check {
  what: string;
  limit: number;
  value: number;
  pass: boolean;
  /** false below the population size the target is set for (fromSockets) */
  binding: boolean;
  fromSockets: number;
}

interface RowResult {
  name: string;
  role: 'peer' | 'subject' | 'info';
  status: 'ok' | 'skipped' | 'error';
  note?: string;
  samples_ms?: number[];
  median_ms?: number;
  min_ms?: number;
  max_ms?: number;
  median_user_ms?: number;
  median_sys_ms?: number;
  median_minflt?: number;
  /** max over every run, warm-up included, KiB */
  peak_rss_kb?: number;
  /** sockets the row saw (when it reports them) */
  count?: number;
  /** what it should have listed */
  expected_count?: number;
  /** the targets it is checked against (its own, or its case's for subject rows) */
  targets?: Targets;
  ratio?: number;
  checks: Check[];
  extra?: Record<string, unknown>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Settings {
  reps: number;
  warmup: number;
  python: string;
  /** measure a case again (after waiting for a quiet machine) when other work competed, up to this many times */
  retryBusy: number;
}

interface Invocation {
  runs: Sample[];
  warmup: Sample[];
  peakRssKb?: number;
  count?: number;
  notes: string[];
}

/** One measure.py child for a process row: `warmup` runs, then `reps` timed runs. */
async function invokeProcess(
  row: RowDef,
  r: Extract<Runner, { kind: 'process' }>,
  pop: Population,
  ctx: Ctx,
  reps: number,
  warmup: number,
  python: string,
): Promise<Invocation | { error: string }> {
  const perRun = row.timeoutS ?? 120;
  const argv = [
    ...pop.nsenter(),
    python,
    join(BENCH, 'measure.py'),
    '--reps',
    `${reps}`,
    '--warmup',
    `${warmup}`,
    '--timeout',
    `${perRun}`,
    '--stdout',
    r.stdout ?? 'null',
    ...(r.countLines && warmup > 0 ? ['--count-warmup', r.countLines] : []),
    '--',
    ...r.argv(ctx),
  ];
  const timeoutMs = (perRun * (reps + warmup) + 30) * 1000;
  const res = await run(argv, timeoutMs);
  if (res.timedOut) return { error: `timed out after ${timeoutMs / 1000} s` };
  let out: { runs?: Sample[]; warmup?: Sample[]; error?: string; stdout?: string; warmup_count?: number };
  try {
    out = JSON.parse(res.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return { error: `exit ${res.code}: ${(res.stderr || res.stdout).trim().slice(0, 400)}` };
  }
  if (out.error) return { error: out.error };
  const runs = out.runs ?? [];
  const bad = [...(out.warmup ?? []), ...runs].find((x) => x.status !== 0);
  if (bad)
    return { error: bad.status === 'timeout' ? `timed out (a run took more than ${perRun} s)` : `a run ended with status ${JSON.stringify(bad.status)}` };
  if (runs.length === 0 && reps > 0) return { error: 'no runs' };
  const inv: Invocation = { runs, warmup: out.warmup ?? [], notes: [] };
  if (typeof out.warmup_count === 'number') inv.count = out.warmup_count;
  inv.peakRssKb = Math.max(...[...inv.warmup, ...runs].map((x) => x.maxrss_kb ?? 0));
  if (r.parse && out.stdout !== undefined) {
    try {
      inv.count = r.parse(out.stdout);
    } catch {
      inv.notes.push(`unparsable output: ${out.stdout.slice(0, 200)}`);
    }
  }
  return inv;
}

type InprocExtra = { startup_ms?: number; import_koffi_ms?: number; import_sockscope_ms?: number; first_call_ms?: number };

/**
 * A case in interleaved rounds. In-process rows each get one node child for the whole case (inproc.js --serve):
 * it loads, makes its warm-up calls, then makes one timed call per round when asked, as a long-running user of the
 * library would. Process rows warm up once (first round), then run once per round. Each round runs the peer and
 * every row once, in an order rotated by one each round, so a slow drift of the machine falls on all of them
 * alike. A row's figure is the median of its N timed runs.
 */
interface Measured {
  peer?: RowResult;
  rows: RowResult[];
  reps: number;
  /** TIME_WAIT rebuilds made during the case (twRefresh), and the CPU jiffies [busy, total] they took */
  refreshes: number;
  refreshCpu: [number, number];
  /** the oldest TIME_WAIT entry's age at the end of any run or call, s */
  twAgeMax?: number;
}

async function measureCase(c: CaseDef, pop: Population, ctx: Ctx, o: Settings): Promise<Measured> {
  const reps = Math.min(o.reps, c.maxReps ?? Infinity);
  const refreshCpu: [number, number] = [0, 0];
  let refreshes = 0;
  let twAgeMax: number | undefined;
  const twAge = () => Date.now() / 1000 - pop.twStarted;
  const noteAge = () => {
    if (ctx.mix.timewait > 0) twAgeMax = Math.max(twAgeMax ?? 0, twAge());
  };
  /** rebuild TIME_WAIT when the case asks for it at this point ('run' or 'round') and the entries are old enough */
  const maybeRefresh = async (at: 'run' | 'round') => {
    if (!c.twRefresh || c.twRefresh.every !== at || ctx.mix.timewait === 0 || twAge() <= c.twRefresh.ifOlderThanS) return;
    const a = cpuTimes();
    await pop.refreshTimeWait(120_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const b = cpuTimes();
    refreshCpu[0] += b[0] - a[0];
    refreshCpu[1] += b[1] - a[1];
    refreshes++;
  };
  const entries = [
    ...(c.peer ? [{ def: c.peer, role: 'peer' as const }] : []),
    ...c.rows.map((def) => ({ def, role: def.info ? ('info' as const) : ('subject' as const) })),
  ].map((e) => ({
    ...e,
    skip: e.def.skip?.(ctx),
    error: undefined as string | undefined,
    runs: [] as Sample[],
    rss: [] as number[],
    counts: new Set<number>(),
    notes: new Set<string>(),
    server: undefined as Conversation | undefined,
    extra: undefined as InprocExtra | undefined,
  }));
  const tty = process.stdout.isTTY;
  try {
    for (const e of entries) {
      const r = e.def.runner;
      if (e.skip || r.kind !== 'inproc') continue;
      e.server = new Conversation(
        [...pop.nsenter(), NODE, join(ROOT, 'dist/bench/inproc.js'), ...r.args, '--warmup', `${o.warmup}`, '--serve'],
        e.def.name,
        'row',
      );
      const ev = await e.server.next((e.def.timeoutS ?? 300) * 1000, 'loading and warming up');
      if (ev.event !== 'ready') e.error = failure(ev);
      else
        e.extra = {
          startup_ms: ev.startup_ms as number,
          import_koffi_ms: ev.import_koffi_ms as number,
          import_sockscope_ms: ev.import_sockscope_ms as number,
          first_call_ms: (ev.warmup as Sample[])[0]?.ms,
        };
    }
    noteAge(); // in-process rows loaded and warmed up
    for (let round = 0; round < reps; round++) {
      if (interrupted) throw new Error('interrupted');
      const active = entries.filter((e) => !e.skip && !e.error);
      if (active.length === 0) break;
      if (tty) process.stdout.write(`bench: ${c.id}: round ${round + 1}/${reps}\r`);
      await maybeRefresh('round');
      for (let k = 0; k < active.length; k++) {
        const e = active[(k + round) % active.length];
        const r = e.def.runner;
        if (r.kind === 'inproc') {
          await maybeRefresh('run');
          e.server!.send('run');
          const ev = await e.server!.next((e.def.timeoutS ?? 300) * 1000, 'a timed call');
          noteAge();
          if (ev.event !== 'sample') {
            e.error = failure(ev);
            continue;
          }
          e.runs.push(ev as unknown as Sample);
          if (typeof ev.count === 'number') e.counts.add(ev.count);
        } else {
          let warmup = round === 0 ? o.warmup : 0;
          if (warmup > 0 && c.twRefresh?.every === 'run') {
            // slow rows: the warm-up gets its own fresh TIME_WAIT, like every timed run
            await maybeRefresh('run');
            const w = await invokeProcess(e.def, r, pop, ctx, 0, warmup, o.python);
            noteAge();
            if ('error' in w) {
              e.error = w.error;
              continue;
            }
            if (w.peakRssKb) e.rss.push(w.peakRssKb);
            if (w.count !== undefined) e.counts.add(w.count);
            for (const n of w.notes) e.notes.add(n);
            warmup = 0;
          }
          await maybeRefresh('run');
          const inv = await invokeProcess(e.def, r, pop, ctx, 1, warmup, o.python);
          noteAge();
          if ('error' in inv) {
            e.error = inv.error;
            continue;
          }
          e.runs.push(...inv.runs);
          if (inv.peakRssKb) e.rss.push(inv.peakRssKb);
          if (inv.count !== undefined) e.counts.add(inv.count);
          for (const n of inv.notes) e.notes.add(n);
        }
      }
    }
    if (interrupted) throw new Error('interrupted');
    for (const e of entries) {
      if (!e.server || e.error) continue;
      e.server.send('quit');
      const ev = await e.server.next(30_000, 'quitting');
      if (ev.event === 'done') {
        if (typeof ev.maxrss_kb === 'number') e.rss.push(ev.maxrss_kb);
        for (const n of (ev.notes as string[]) ?? []) e.notes.add(n);
      }
    }
  } finally {
    if (tty) process.stdout.write('\n');
    await Promise.all(entries.map((e) => e.server?.stop(2000)));
  }
  const results = entries.map((e): RowResult => {
    const targets = e.def.targets ?? (e.role === 'subject' ? c.targets : undefined);
    const base: RowResult = { name: e.def.name, role: e.role, status: 'ok', checks: [], ...(targets ? { targets } : {}) };
    if (e.skip) return { ...base, status: 'skipped', note: e.skip };
    if (e.error) return { ...base, status: 'error', note: e.error };
    const ms = e.runs.map((x) => x.ms);
    const res: RowResult = {
      ...base,
      samples_ms: ms,
      median_ms: median(ms),
      min_ms: Math.min(...ms),
      max_ms: Math.max(...ms),
      median_user_ms: median(e.runs.map((x) => x.user_ms)),
      median_sys_ms: median(e.runs.map((x) => x.sys_ms)),
      median_minflt: e.runs.every((x) => typeof x.minflt === 'number') ? median(e.runs.map((x) => x.minflt!)) : undefined,
      peak_rss_kb: e.rss.length ? Math.max(...e.rss) : undefined,
      extra: e.extra,
    };
    const counts = [...e.counts];
    if (counts.length) res.count = counts[counts.length - 1];
    const expected = e.def.countNote ? undefined : e.def.expect ? e.def.expect(ctx) : ctx.sockets;
    for (const n of e.def.countNote ? counts : []) {
      const note = e.def.countNote!(n, ctx);
      if (note) e.notes.add(note);
    }
    if (expected !== undefined) {
      res.expected_count = expected;
      for (const n of counts)
        if (n !== expected) e.notes.add(`listed ${n} sockets, expected ${expected}${expected === ctx.sockets ? ' (the population)' : ''}`);
    }
    if (e.notes.size) res.note = [...e.notes].join('; ');
    return res;
  });
  return { peer: c.peer ? results[0] : undefined, rows: results.slice(c.peer ? 1 : 0), reps, refreshes, refreshCpu, twAgeMax };
}

function applyTargets(peer: RowResult | undefined, rows: RowResult[], sockets: number): void {
  for (const row of rows) {
    if (row.status !== 'ok') continue;
    if (peer?.status === 'ok' && peer.median_ms) row.ratio = row.median_ms! / peer.median_ms;
    const t = row.targets;
    if (!t) continue;
    const binding = sockets >= t.fromSockets;
    if (t.ratio !== undefined && row.ratio !== undefined) {
      row.checks.push({ what: 'ratio', limit: t.ratio, value: row.ratio, pass: row.ratio <= t.ratio, binding, fromSockets: t.fromSockets });
    }
    if (t.maxRssMiB !== undefined && row.peak_rss_kb !== undefined) {
      const mib = row.peak_rss_kb / 1024;
      row.checks.push({ what: 'peak RSS MiB', limit: t.maxRssMiB, value: mib, pass: mib <= t.maxRssMiB, binding, fromSockets: t.fromSockets });
    }
    if (t.maxCpuMs !== undefined && row.median_user_ms !== undefined) {
      const cpu = row.median_user_ms + (row.median_sys_ms ?? 0);
      row.checks.push({ what: 'CPU ms', limit: t.maxCpuMs, value: cpu, pass: cpu <= t.maxCpuMs, binding, fromSockets: t.fromSockets });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

interface CaseResult {
  id: string;
  title: string;
  /** the whole machine's CPU use during the case, % of all CPUs (the bench alone keeps it near one CPU's worth) */
  cpu_busy_pct?: number;
  peer?: RowResult;
  rows: RowResult[];
  targets?: Targets;
  /** age of the oldest TIME_WAIT entry when the case ended, s (they expire at 60) */
  tw_age_at_end_s?: number;
  /** its largest age at the end of any run or call of the case, s */
  tw_age_max_s?: number;
  /** TIME_WAIT rebuilds during the case (twRefresh), their time and CPU not counted */
  tw_refreshes?: number;
  /** rounds run (--reps, or the case's maxReps) */
  reps?: number;
  population_after?: number;
  /** why the whole case was skipped */
  skipped?: string;
  /** measured this many times because other work competed (--retry-busy); the figures are the last attempt's */
  busy_attempts?: number;
}

interface SizeResult {
  sockets: number;
  label: string;
  mix: Mix;
  build: Record<string, unknown>;
  verified: { ss_tan_wc_l: number; states?: Record<string, number> };
  cases: CaseResult[];
  error?: string;
}

const f1 = (x: number | undefined) => (x === undefined ? '' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtMs = (x: number | undefined) => (x === undefined ? '' : `${f1(x)} ms`);
const fmtRatio = (x: number | undefined) => (x === undefined ? '' : x.toFixed(2));

const noChecks = (row: RowResult): string =>
  row.role === 'peer' ? 'peer' : row.role === 'info' ? 'info' : !row.targets ? 'no target' : 'not checked (no peer figure)';

function verdict(row: RowResult): string {
  if (row.status === 'skipped') return `skipped: ${row.note}`;
  if (row.status === 'error') return `ERROR: ${row.note}`;
  if (row.checks.length === 0) return noChecks(row);
  return row.checks
    .map((c) => {
      const word = c.pass ? 'PASS' : 'MISS';
      const v = c.what === 'ratio' ? `${c.value.toFixed(2)} ≤ ${c.limit}` : `${c.value.toFixed(0)} MiB ≤ ${c.limit}`;
      return c.binding ? `${word} (${c.what} ${v})` : `(${word}) (${c.what} ${v}; target set for ${label(c.fromSockets)})`;
    })
    .join(', ');
}

function targetText(row: RowResult): string {
  if (!row.targets) return '';
  const t: string[] = [];
  if (row.targets.ratio !== undefined) t.push(`≤ ${row.targets.ratio}`);
  if (row.targets.maxRssMiB !== undefined) t.push(`RSS ≤ ${row.targets.maxRssMiB} MiB`);
  if (row.targets.maxCpuMs !== undefined) t.push(`CPU ≤ ${row.targets.maxCpuMs} ms`);
  return t.join(', ');
}

/** TIME_WAIT age, reps and rebuilds of a case, for the tables */
function caseFacts(c: CaseResult): string[] {
  const f: string[] = [];
  const age = c.tw_age_max_s ?? c.tw_age_at_end_s;
  if (age !== undefined) f.push(`TIME_WAIT age ≤ ${age.toFixed(0)} s`);
  if (c.tw_refreshes) f.push(`TIME_WAIT rebuilt ${c.tw_refreshes}× during the case, untimed`);
  if (c.reps !== undefined) f.push(`${c.reps} round${c.reps === 1 ? '' : 's'}`);
  if (c.busy_attempts) f.push(`measured ${c.busy_attempts}× (other work competed before)`);
  return f;
}

const rssText = (r: RowResult) => (r.peak_rss_kb ? `${(r.peak_rss_kb / 1024).toFixed(0)} MiB` : '');
const cpuText = (r: RowResult) => (r.median_user_ms === undefined ? '' : `${f1(r.median_user_ms)} / ${f1(r.median_sys_ms)}`);
const statesText = (s?: Record<string, number>) =>
  s
    ? Object.entries(s)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '';

const populationText = (s: SizeResult) =>
  s.verified.ss_tan_wc_l > 0
    ? `\`ss -tan | wc -l\` = ${s.verified.ss_tan_wc_l} (header + ${s.verified.ss_tan_wc_l - 1})${s.verified.states ? `: ${statesText(s.verified.states)}` : ''}`
    : 'not verified';

function printSize(s: SizeResult): void {
  const lines: string[] = [];
  lines.push('');
  lines.push(`== ${s.label} TCP sockets: ${populationText(s)}`);
  const head = ['', 'median', 'min–max', 'cpu user/sys', 'peak RSS', '× peer', 'result'];
  const table: string[][] = [];
  for (const c of s.cases) {
    const facts = [c.skipped ? `skipped: ${c.skipped}` : '', c.cpu_busy_pct !== undefined ? `machine CPU busy ${c.cpu_busy_pct}%` : '', ...caseFacts(c)].filter(
      Boolean,
    );
    table.push([`[${c.id}] ${c.title}${facts.length ? `  (${facts.join(', ')})` : ''}`]);
    for (const r of [...(c.peer ? [c.peer] : []), ...c.rows]) {
      table.push([
        `  ${r.name}`,
        fmtMs(r.median_ms),
        r.min_ms === undefined ? '' : `${f1(r.min_ms)}–${f1(r.max_ms)}`,
        cpuText(r),
        rssText(r),
        r.role === 'peer' ? (r.status === 'ok' ? '1' : '') : fmtRatio(r.ratio),
        verdict(r),
      ]);
      if (r.status === 'ok' && r.note) table.push([`    note: ${r.note}`]);
      const x = r.extra as { startup_ms?: number; import_koffi_ms?: number; import_sockscope_ms?: number; first_call_ms?: number } | undefined;
      if (x?.startup_ms !== undefined) {
        table.push([
          `    node start ${f1(x.startup_ms)} ms, import koffi ${f1(x.import_koffi_ms)} ms, import sockscope ${f1(x.import_sockscope_ms)} ms, first call ${f1(x.first_call_ms)} ms; ${r.median_minflt ?? '?'} minor page faults per call`,
        ]);
      }
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...table.filter((t) => t.length > 1).map((t) => (t[i] ?? '').length)));
  const fmt = (t: string[]) =>
    t.length === 1 ? t[0] : t.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : i === t.length - 1 ? x : x.padStart(widths[i]))).join('  ');
  lines.push(fmt(head));
  for (const t of table) lines.push(fmt(t));
  if (s.error) lines.push(`ERROR: ${s.error}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function markdown(sizes: SizeResult[]): string {
  const out: string[] = [];
  for (const s of sizes) {
    out.push(`### ${s.label} TCP sockets`);
    out.push('');
    out.push(`Population: ${populationText(s)}.`);
    const facts = s.cases
      .filter((c) => !c.skipped)
      .map((c) => `${c.id} ${c.cpu_busy_pct ?? '?'}%${caseFacts(c).length ? ` (${caseFacts(c).join(', ')})` : ''}`);
    if (facts.length) out.push(`Machine CPU busy while each case ran (the bench alone: about one CPU): ${facts.join('; ')}.`);
    for (const c of s.cases) if (c.skipped) out.push(`Case ${c.id} skipped: ${c.skipped}.`);
    out.push('');
    out.push('| case | row | median | min–max | cpu user / sys ms | peak RSS | × peer | target | result |');
    out.push('|---|---|--:|--:|--:|--:|--:|---|---|');
    for (const c of s.cases) {
      for (const r of [...(c.peer ? [c.peer] : []), ...c.rows]) {
        const result =
          r.status !== 'ok'
            ? verdict(r)
            : r.checks.length
              ? r.checks.map((k) => (k.binding ? (k.pass ? '**PASS**' : '**MISS**') : k.pass ? '(pass)' : '(miss)')).join(', ')
              : noChecks(r);
        const noted = r.status === 'ok' && r.note ? ` (${r.note})` : '';
        out.push(
          `| ${c.id} | ${r.name.replaceAll('|', '\\|')} | ${fmtMs(r.median_ms)} | ${r.min_ms === undefined ? '' : `${f1(r.min_ms)}–${f1(r.max_ms)}`} | ${cpuText(r)} | ${rssText(r)} | ${r.role === 'peer' ? (r.status === 'ok' ? '1' : '') : fmtRatio(r.ratio)} | ${targetText(r)} | ${result}${noted.replaceAll('|', '\\|')} |`,
        );
      }
    }
    out.push('');
    const inprocRows = s.cases.flatMap((c) => c.rows.filter((r) => r.extra && r.status === 'ok').map((r) => ({ c, r })));
    if (inprocRows.length) {
      out.push('In-process rows: what their node child paid before the timed calls, and memory newly touched per call.');
      out.push('');
      out.push('| row | node start | import koffi | import sockscope | first call | timed call (median) | minor faults per call |');
      out.push('|---|--:|--:|--:|--:|--:|--:|');
      for (const { r } of inprocRows) {
        const x = r.extra as { startup_ms?: number; import_koffi_ms?: number; import_sockscope_ms?: number; first_call_ms?: number };
        out.push(
          `| ${r.name} | ${fmtMs(x.startup_ms)} | ${fmtMs(x.import_koffi_ms)} | ${fmtMs(x.import_sockscope_ms)} | ${fmtMs(x.first_call_ms)} | ${fmtMs(r.median_ms)} | ${r.median_minflt ?? ''} |`,
        );
      }
      out.push('');
    }
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Main

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}' (e.g. 10000 or 10k)`);
  return Math.round(Number(m[1]) * (m[2] ? 1000 : 1));
}

async function countPopulation(pop: Population, ctx: Ctx): Promise<{ ss_tan_wc_l: number; states?: Record<string, number> }> {
  const wc = await run([...pop.nsenter(), 'sh', '-c', 'ss -tan | wc -l'], 120_000);
  const lines = Number(wc.stdout.trim());
  if (wc.code !== 0 || !Number.isFinite(lines)) throw new Error(`ss -tan | wc -l failed: ${wc.stderr.trim()}`);
  let states: Record<string, number> | undefined;
  const st = ctx.nldump ? await run([...pop.nsenter(), ctx.nldump], 60_000) : await run([...pop.nsenter(), 'sh', '-c', AWK_STATES], 120_000);
  if (st.code === 0) {
    if (ctx.nldump) states = JSON.parse(st.stdout).states as Record<string, number>;
    else
      states = Object.fromEntries(
        st.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/\s+/))
          .map(([k, v]) => [k, Number(v)]),
      );
  }
  return { ss_tan_wc_l: lines, states };
}

async function verifiedCount(pop: Population, ctx: Ctx): Promise<{ ss_tan_wc_l: number; states?: Record<string, number> }> {
  let v = await countPopulation(pop, ctx);
  for (let i = 0; i < 5 && v.ss_tan_wc_l - 1 !== ctx.sockets; i++) {
    await new Promise((r) => setTimeout(r, 300)); // let closing connections settle
    v = await countPopulation(pop, ctx);
  }
  return v;
}

/** Jiffies from the first line of /proc/stat: [busy, total]. */
function cpuTimes(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = f[3] + f[4]; // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}
const busyPct = (a: [number, number], b: [number, number]) => Math.round(((b[0] - a[0]) / Math.max(1, b[1] - a[1])) * 1000) / 10;

/** Machine CPU busy below which (over 5 s, the bench idle) the machine counts as quiet: a tenth of one CPU. */
const QUIET_PCT = 10 / os.availableParallelism();
/** Wait (at most 10 min) until the machine is quiet: other work (tests, builds) would compete with the next attempt. */
async function waitQuiet(what: string): Promise<void> {
  const until = Date.now() + 600_000;
  for (;;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 5000));
    const busy = busyPct(a, cpuTimes());
    if (busy <= QUIET_PCT) return;
    if (interrupted) throw new Error('interrupted');
    if (Date.now() > until) {
      process.stdout.write(`bench: ${what}: the machine stayed busy (${busy}%) for 10 min: measuring anyway\n`);
      return;
    }
  }
}

/** Compile bench/<name>.c into bench/build/<name> (once), or say why its rows are skipped. */
function buildC(name: string): { path?: string; note?: string } {
  const cc = which('cc');
  if (!cc) return { note: `no C compiler (cc) on this machine: the ${name} rows are skipped` };
  const src = join(BENCH, `${name}.c`);
  const dir = join(BENCH, 'build');
  const out = join(dir, name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return { path: out };
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(cc, ['-O2', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) return { note: `cc -O2 bench/${name}.c failed: the ${name} rows are skipped (${(r.stderr || '').trim().split('\n')[0]})` };
  return { path: out };
}

function machine(python: string): Record<string, unknown> {
  const first = (cmd: string[]) => {
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
    return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split('\n')[0] : undefined;
  };
  return {
    date: new Date().toISOString(),
    host_cpus: os.availableParallelism(),
    cpu_model: os.cpus()[0]?.model,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    /** a start-up cost of every node process of the run (docs/benchmarks.md, "Start-up") */
    node_extra_ca_certs: process.env.NODE_EXTRA_CA_CERTS,
    ss: first(['ss', '-V']),
    python: first([python, '--version']),
    cc: first(['cc', '--version']),
    koffi: (() => {
      try {
        return JSON.parse(readFileSync(join(ROOT, 'node_modules/koffi/package.json'), 'utf8')).version as string;
      } catch {
        return undefined;
      }
    })(),
    commit: first(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    /** uncommitted changes in the tree that was measured */
    dirty: (spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout ?? '').trim().length > 0,
    uid: process.getuid?.(),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      reps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      cases: { type: 'string' },
      'retry-busy': { type: 'string', default: '2' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench -- [--sizes 10k,50k,150k] [--reps 5] [--warmup 1] [--retry-busy 2] [--cases ${CASES.map((c) => c.id).join(',')}]\n`,
    );
    return 0;
  }
  const sizes = values.sizes ? values.sizes.split(',').map(parseSize) : DEFAULT_SIZES;
  const reps = Number(values.reps);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(warmup) || warmup < 0) throw new Error('--reps must be >= 1 and --warmup >= 0');
  const wanted = values.cases?.split(',');
  const cases = wanted ? CASES.filter((c) => wanted.includes(c.id)) : CASES;
  if (wanted && cases.length !== wanted.length) throw new Error(`unknown case in --cases; known: ${CASES.map((c) => c.id).join(', ')}`);

  // Preconditions: a note and exit 0 when the machine cannot run the bench.
  const skip = (why: string) => {
    process.stdout.write(`bench: not run: ${why}\n`);
    return 0;
  };
  if (process.platform !== 'linux') return skip('Linux only');
  for (const cmd of ['ss', 'nsenter', 'unshare', 'python3']) if (!which(cmd)) return skip(`'${cmd}' is not installed`);
  const pyExe = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  const python = pyExe.status === 0 ? pyExe.stdout.trim() : 'python3';
  let userns = false;
  if (process.getuid?.() !== 0) {
    const r = spawnSync('unshare', ['-r', '-n', 'true'], { encoding: 'utf8' });
    if (r.status !== 0) {
      return skip(
        `needs root, or unprivileged user namespaces for \`unshare -r\`, which failed here: ${(r.stderr || r.error?.message || `status ${r.status}`).trim()}`,
      );
    }
    userns = true;
    process.stdout.write('bench: not root: running the population in a user namespace (unshare -r)\n');
  }
  if (!existsSync(join(ROOT, 'dist/src/index.js')) || !existsSync(join(ROOT, 'dist/bench/inproc.js')))
    return skip('not built: run `npm run bench` (it builds first)');

  const nl = buildC('nldump');
  if (nl.note) process.stdout.write(`bench: ${nl.note}\n`);
  const pw = buildC('procwalk');
  if (pw.note && !nl.note) process.stdout.write(`bench: ${pw.note}\n`);
  const ss2 = which('ss2');
  if (!ss2 && cases.some((c) => c.id === 'ss2')) process.stdout.write(`bench: ${SS2_INSTALL}\n`);
  const retryBusy = Number(values['retry-busy']);
  if (!Number.isInteger(retryBusy) || retryBusy < 0) throw new Error('--retry-busy must be >= 0');
  const o: Settings = { reps, warmup, python, retryBusy };
  const info = machine(python);
  process.stdout.write(
    `bench: ${info.host_cpus} CPUs, ${info.memory_gib} GiB, kernel ${info.kernel}, node ${info.node}, ${info.ss}; ${reps} runs per row after ${warmup} warm-up\n`,
  );
  // node 20 reads and parses that file at every start, before any code of ours: every node row pays it, no peer does
  if (info.node_extra_ca_certs)
    process.stdout.write(
      `bench: NODE_EXTRA_CA_CERTS=${info.node_extra_ca_certs} is set: node 20 parses it at every start (~35 ms of CPU for Debian's bundle on a 2-vCPU VM); the sockscope rows run bin/sockscope.js as users do, whose launcher unsets it for every command but the agent; rows marked "as set" pay it\n`,
    );

  const results: SizeResult[] = [];
  const started = new Date().toISOString();
  /** cases whose peer timed out at a smaller size (giveUpAfterPeerTimeout): why they are skipped */
  const gaveUp = new Map<string, string>();
  for (const sockets of sizes) {
    const mix = mixFor(sockets);
    const ctx: Ctx = { sockets: mixTotal(mix), mix, nldump: nl.path, nldumpNote: nl.note, procwalk: pw.path, procwalkNote: pw.note, ss2 };
    const lbl = label(sockets);
    process.stdout.write(
      `\nbench: ${lbl}: building ${mix.estab} ESTABLISHED pairs, ${mix.timewait} TIME_WAIT, ${mix.closewait} CLOSE_WAIT pairs, ${mix.listen} LISTEN\n`,
    );
    const size: SizeResult = { sockets: ctx.sockets, label: lbl, mix, build: {}, verified: { ss_tan_wc_l: 0 }, cases: [] };
    results.push(size);
    let pop: Population | undefined;
    try {
      const t0 = Date.now();
      pop = await Population.start(python, mix, userns, 300_000);
      size.build = { seconds: (Date.now() - t0) / 1000, holder_pid: pop.pid };
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      let fresh = true;
      for (const c of cases) {
        if (interrupted) throw new Error('interrupted');
        const skipped = c.skip?.(ctx) ?? gaveUp.get(c.id);
        if (skipped) {
          process.stdout.write(`bench: ${c.id}: skipped: ${skipped}\n`);
          size.cases.push({ id: c.id, title: c.title, rows: [], skipped });
          continue;
        }
        for (let attempt = 0; ; attempt++) {
          if (mix.timewait > 0 && !fresh) {
            const ev = await pop.refreshTimeWait(120_000);
            process.stdout.write(`bench: ${c.id}: TIME_WAIT refreshed (destroyed ${ev.killed} in ${ev.destroy_s} s, built ${ev.built} in ${ev.build_s} s)\n`);
            await new Promise((r) => setTimeout(r, SETTLE_MS));
          }
          fresh = false;
          const v = await verifiedCount(pop, ctx);
          if (size.verified.ss_tan_wc_l === 0) size.verified = v;
          process.stdout.write(
            `bench: ${c.id}: ss -tan | wc -l = ${v.ss_tan_wc_l} (header + ${v.ss_tan_wc_l - 1}; expected ${ctx.sockets})${v.states ? `: ${statesText(v.states)}` : ''}\n`,
          );
          if (Math.abs(v.ss_tan_wc_l - 1 - ctx.sockets) > ctx.sockets * 0.01)
            throw new Error(`population has ${v.ss_tan_wc_l - 1} sockets, expected ${ctx.sockets}`);
          if (v.ss_tan_wc_l - 1 !== ctx.sockets)
            process.stdout.write(`bench: ${c.id}: WARNING: ${v.ss_tan_wc_l - 1} sockets, not the expected ${ctx.sockets}\n`);
          const cpu0 = cpuTimes();
          const measured = await measureCase(c, pop, ctx, o);
          const cpu1 = cpuTimes();
          // the case's own CPU use: TIME_WAIT rebuilds during it (twRefresh) are left out
          const busy = busyPct(cpu0, [cpu1[0] - measured.refreshCpu[0], cpu1[1] - measured.refreshCpu[1]]);
          const cr: CaseResult = {
            id: c.id,
            title: c.title,
            cpu_busy_pct: busy,
            peer: measured.peer,
            rows: measured.rows,
            targets: c.targets,
            reps: measured.reps,
            ...(measured.refreshes ? { tw_refreshes: measured.refreshes } : {}),
            ...(measured.twAgeMax !== undefined ? { tw_age_max_s: measured.twAgeMax } : {}),
          };
          const tooBusy = (cr.cpu_busy_pct ?? 0) > busyWarnPct(c.cpus);
          if (tooBusy) {
            process.stdout.write(
              `bench: ${c.id}: WARNING: the machine was ${cr.cpu_busy_pct}% busy during this case; the bench alone uses about ${c.cpus ?? 1} CPU of ${os.availableParallelism()}: other work competed, its figures are suspect\n`,
            );
          }
          if (tooBusy && attempt < o.retryBusy && !interrupted) {
            process.stdout.write(`bench: ${c.id}: measuring it again once the machine is quiet (--retry-busy ${o.retryBusy}: attempt ${attempt + 2})\n`);
            await waitQuiet(c.id);
            fresh = false; // TIME_WAIT is rebuilt before the next attempt
            continue;
          }
          if (attempt > 0) cr.busy_attempts = attempt + 1;
          if (mix.timewait > 0) cr.tw_age_at_end_s = Date.now() / 1000 - pop.twStarted;
          cr.population_after = (await countPopulation(pop, ctx)).ss_tan_wc_l - 1;
          if (cr.population_after !== ctx.sockets) {
            process.stdout.write(`bench: ${c.id}: WARNING: the population changed during the case (${cr.population_after} sockets at the end)\n`);
          }
          applyTargets(cr.peer, cr.rows, ctx.sockets);
          size.cases.push(cr);
          if (c.giveUpAfterPeerTimeout && cr.peer?.status === 'error' && /timed out/.test(cr.peer.note ?? '')) {
            gaveUp.set(c.id, `${c.peer!.name.split(' ')[0]} did not finish within ${c.peer!.timeoutS ?? 120} s at ${lbl}`);
          }
          break;
        }
      }
    } catch (e) {
      size.error = (e as Error).message;
    } finally {
      await pop?.stop();
    }
    printSize(size);
    if (interrupted) break;
  }

  const md = markdown(results);
  const dir = join(BENCH, 'results');
  mkdirSync(dir, { recursive: true });
  // An interrupted run leaves the last complete results alone.
  const stem = interrupted ? 'partial' : 'latest';
  const doc = { version: 1, started, finished: new Date().toISOString(), interrupted, machine: info, reps, warmup, sizes: results };
  writeFileSync(join(dir, `${stem}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, `${stem}.md`), `${md}\n`);
  process.stdout.write(`\nbench: wrote bench/results/${stem}.json and bench/results/${stem}.md\n\n${md}\n`);
  if (interrupted) return 130;
  return results.some((s) => s.error) ? 1 : 0;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) start();

function start(): void {
  // Teardown on every path: children (rows and populations) live in their own process groups.
  process.on('exit', () => {
    for (const c of live) killGroup(c);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) process.exit(130); // a second signal: leave now; the exit handler still kills the groups
      interrupted = true;
      process.stderr.write(`\nbench: ${sig}: stopping and tearing the population down\n`);
      for (const c of live) if (!populations.has(c)) killGroup(c); // populations are stopped by main's finally
    });
  }

  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
