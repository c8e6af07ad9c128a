/**
 * `npm run build && node dist/bench/lifecycle.js [--seconds 20] [--clients 8] [--bytes 100] [--port 5001] [--with ls,agent,tcplife]`
 *
 * Closed-connection events under churn (docs/lifecycle.md, issue 14's targets), in one run, in a private
 * network namespace (root: `unshare -n`; otherwise `unshare -rn`):
 *
 *   1. readers subscribe: `sockscope ls -E -t --format ndjson > /dev/null`, `sockscope agent` with only the
 *      lifecycle collector, `ss -E -tnH` (line-buffered to a file: the reference) and, where it runs, bcc's
 *      tcplife (bench/tcplife.ts: root, kernel headers BCC can compile against, made available when missing; it
 *      traces the whole machine, so its rows are counted for --port only); the run waits until each has joined
 *      the destroy groups (/proc/net/netlink) and tcplife's programs are attached;
 *   2. bench/churn.c opens and closes TCP connections on loopback as fast as it can for --seconds
 *      (graceful closes: two destroyed sockets per connection), with --clients threads;
 *   3. every second each reader's CPU time (all threads, /proc/PID/stat) and RSS (/proc/PID/status) is sampled;
 *   4. one second after the churn the readers are stopped (SIGINT / SIGTERM) and their counts read: ls -E's
 *      summary line, the agent's lifecycle_events_total / _lost_total, ss's lines, tcplife's CSV rows.
 *
 * Expected events = 2 × connections + 1 (the listener); for tcplife 2 × connections (it never sees a listener
 * born). A reader that cannot run is reported with its error. Reported per reader: events received, lost (what the
 * kernel dropped: SK_MEMINFO_DROPS), CPU ms per 10 000 events, RSS first / max / last sample. Results as a
 * table on stdout and bench/results/lifecycle.json. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { debianHeaders, headersFound, startTcplife, tcplifeMissing, type TcplifeRun } from './tcplife.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCH = join(ROOT, 'bench');
const BIN = join(ROOT, 'bin', 'sockscope.js');
const NODE = process.execPath;
const CLK_TCK = 100;
const PROM = 19979;

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '8' },
    bytes: { type: 'string', default: '100' },
    with: { type: 'string', default: 'ls,agent,tcplife' },
    port: { type: 'string', default: '5001' },
    // made by outside() before the namespace (apt-get needs the network): Debian's headers for tcplife, or why not
    kheaders: { type: 'string' },
    'kheaders-made': { type: 'boolean', default: false },
    'tcplife-error': { type: 'string' },
    inside: { type: 'boolean', default: false },
  },
});

const PORT = Number(opt.port);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function buildChurn(): string {
  const src = join(BENCH, 'churn.c');
  const out = join(BENCH, 'build', 'churn');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(join(BENCH, 'build'), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-pthread', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc bench/churn.c failed: ${r.stderr}`);
  return out;
}

interface Reader {
  name: string;
  child: ChildProcess;
  /** the pid whose CPU and memory are sampled */
  pid: () => number | undefined;
  stop: () => Promise<{ events: number; lost?: number; note?: string }>;
  /** events it should see for this many connections (default 2 × connections + 1: both ends and the listener) */
  expected?: (connections: number) => number;
  cpuStart?: number;
  cpuEnd?: number;
  rss: number[];
  failed?: string;
}

const bpfNote = (b: { ns: number; runs: number }) =>
  b.runs
    ? `${Math.round(b.ns / 1e6)} ms over ${b.runs} runs (every TCP state change on the machine, not only the churn's)`
    : 'not measured (kernel.bpf_stats_enabled off)';

function cpuTicks(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15), all threads
  } catch {
    return undefined;
  }
}
function rssKiB(pid: number): number | undefined {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return undefined;
  }
}
const subscribers = () =>
  readFileSync('/proc/net/netlink', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === '4' && f[3] !== undefined && f[3] !== '00000000';
    }).length;
const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  return r.text();
}

async function inside(): Promise<void> {
  spawnSync('ip', ['link', 'set', 'lo', 'up']);
  // more ephemeral ports for a long churn (this namespace's own sysctl)
  try {
    writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', '1024 65535');
  } catch {
    /* unprivileged: the default range */
  }
  const churn = buildChurn();
  const dir = mkdtempSync(join(os.tmpdir(), 'life-bench-'));
  const want = new Set(opt.with!.split(','));
  const readers: Reader[] = [];

  if (want.has('ls')) {
    const child = spawn(NODE, [BIN, 'ls', '-E', '-t', '--format', 'ndjson'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    readers.push({
      name: 'sockscope ls -E -t --format ndjson',
      child,
      pid: () => child.pid,
      rss: [],
      stop: async () => {
        child.kill('SIGINT');
        await exited(child);
        const m = /(\d+) sockets closed, \d+ listed, (\d+) lost/.exec(err);
        if (!m) throw new Error(`ls -E said: ${err}`);
        return { events: Number(m[1]), lost: Number(m[2]) };
      },
    });
  }
  if (want.has('agent')) {
    writeFileSync(
      join(dir, 'agent.toml'),
      `[agent]\ninterval = "10s"\n[collectors.netstat]\nenabled = false\n[collectors.netstat_port]\nenabled = false\n[collectors.listen]\nenabled = false\n[collectors.lifecycle]\nenabled = true\n[outputs.prometheus]\nlisten = ["127.0.0.1:${PROM}"]\n`,
    );
    const child = spawn(NODE, [BIN, 'agent', '--config', join(dir, 'agent.toml')], { stdio: ['ignore', 'ignore', 'ignore'] });
    readers.push({
      name: 'sockscope agent (lifecycle, 10 s interval)',
      child,
      pid: () => child.pid,
      rss: [],
      stop: async () => {
        await sleep(10_500); // one more gather, so the last events are in the exposition
        const text = await fetchText(`http://127.0.0.1:${PROM}/metrics`);
        const v = (name: string) => Number(new RegExp(`^sockscope_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
        child.kill('SIGTERM');
        await exited(child);
        return { events: v('lifecycle_events_total'), lost: v('lifecycle_events_lost_total') };
      },
    });
  }
  {
    const out = join(dir, 'ss.txt');
    const child = spawn('sh', ['-c', `exec stdbuf -oL ss -E -tnH > ${out} 2> ${out}.err`], { stdio: 'ignore' });
    let endedEarly: string | undefined;
    child.once('exit', (code, signal) => (endedEarly = `ss ended by itself (exit ${code ?? signal}) ${readFileSync(`${out}.err`, 'utf8').trim()}`));
    readers.push({
      name: 'ss -E -tnH (line-buffered to a file)',
      child,
      pid: () => child.pid,
      rss: [],
      stop: async () => {
        const early = endedEarly;
        child.kill('SIGTERM');
        await exited(child);
        return { events: readFileSync(out, 'utf8').split('\n').filter(Boolean).length, note: early ?? 'ss counts no loss' };
      },
    });
  }
  let tcplifeNote: string | undefined;
  let tcplife: TcplifeRun | undefined;
  let bpfStart: { ns: number; runs: number } | undefined;
  let bpfEnd: { ns: number; runs: number } | undefined;
  if (want.has('tcplife')) {
    try {
      if (opt['tcplife-error']) throw new Error(opt['tcplife-error']);
      tcplife = startTcplife(join(dir, 'tcplife.csv'), opt.kheaders ? { dir: opt.kheaders, made: opt['kheaders-made']! } : undefined);
      await tcplife.ready();
      const t = tcplife;
      readers.push({
        name: 'bcc tcplife -s (CSV to a file)',
        child: t.child,
        pid: () => t.child.pid,
        rss: [],
        expected: (connections) => 2 * connections, // both ends; a listener is never born to it
        stop: async () => {
          const r = await t.stop(PORT, Number(opt.bytes));
          const bpf = { ns: (bpfEnd?.ns ?? 0) - (bpfStart?.ns ?? 0), runs: (bpfEnd?.runs ?? 0) - (bpfStart?.runs ?? 0) };
          return {
            events: r.rows,
            lost: r.lost,
            note: `${r.note}. Rows with the byte counts the churn made (each client sent ${opt.bytes} bytes, received none: TX_KB/RX_KB ${Math.floor(Number(opt.bytes) / 1024)}/0 for a client, 0/${Math.floor(Number(opt.bytes) / 1024)} for a server): ${r.bytesRight} of ${r.rows}; lost = perf-buffer samples it reported lost; eBPF programs' own run time: ${bpfNote(bpf)}`,
          };
        },
      });
    } catch (e) {
      const msg = (e as Error).message;
      tcplifeNote = `bcc tcplife does not run here: ${msg}${tcplife ? `; ${tcplife.setup.join('; ')}` : ''}`;
      if (tcplife) await tcplife.stop(PORT, Number(opt.bytes)).catch(() => undefined);
      tcplife = undefined;
    }
  }

  const expectSubs = readers.filter((r) => r.child !== tcplife?.child).length;
  for (let i = 0; subscribers() < expectSubs; i++) {
    if (i > 600) throw new Error(`only ${subscribers()} of ${expectSubs} readers subscribed`);
    await sleep(50);
  }
  await sleep(1000); // the agent's first gather
  for (const r of readers) r.cpuStart = cpuTicks(r.pid()!);
  bpfStart = tcplife?.bpfStats();
  const sampler = setInterval(() => {
    for (const r of readers) {
      const k = rssKiB(r.pid()!);
      if (k !== undefined) r.rss.push(k);
    }
  }, 1000);
  // not spawnSync: the sampler runs meanwhile
  const c = spawn(churn, [String(PORT), opt.seconds!, opt.clients!, opt.bytes!], { stdio: ['ignore', 'pipe', 'inherit'] });
  let churnOut = '';
  c.stdout!.on('data', (d) => (churnOut += d));
  await exited(c);
  if (c.exitCode !== 0) throw new Error(`churn failed: exit ${c.exitCode}`);
  const load = JSON.parse(churnOut) as { connections: number; failed: number; seconds: number };
  await sleep(1000);
  clearInterval(sampler);
  for (const r of readers) r.cpuEnd = cpuTicks(r.pid()!);
  bpfEnd = tcplife?.bpfStats();
  const expected = 2 * load.connections + 1;
  const rows = [];
  for (const r of readers) {
    const res = await r.stop();
    // a reader that ended early has no CPU figure to compare (its process is gone)
    const cpuMs = r.cpuEnd === undefined || r.cpuStart === undefined ? undefined : (r.cpuEnd - r.cpuStart) * (1000 / CLK_TCK);
    rows.push({
      reader: r.name,
      events: res.events,
      lost: res.lost,
      expected: r.expected?.(load.connections) ?? expected,
      missing: (r.expected?.(load.connections) ?? expected) - res.events,
      note: res.note,
      cpuMs,
      cpuMsPer10kEvents: res.events && cpuMs !== undefined ? Math.round((cpuMs / res.events) * 10_000) : undefined,
      rssMiB: r.rss.length
        ? {
            first: r.rss[0] / 1024,
            max: Math.max(...r.rss) / 1024,
            last: r.rss[r.rss.length - 1] / 1024,
            samples: r.rss.length,
            everyMinute: r.rss.filter((_, i) => i % 60 === 0).map((k) => Math.round(k / 102.4) / 10),
          }
        : undefined,
    });
  }
  const result = {
    at: new Date().toISOString(),
    kernel: os.release(),
    cpus: os.availableParallelism(),
    loadavg: os.loadavg(),
    churn: { ...load, perSecond: Math.round(load.connections / load.seconds), clients: Number(opt.clients), bytes: Number(opt.bytes) },
    expectedEvents: expected,
    rows,
    tcplife: tcplifeNote,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function outside(): Promise<void> {
  const flags = process.getuid?.() === 0 ? ['-n'] : ['-rn'];
  const extra: string[] = [];
  if (opt.with!.split(',').includes('tcplife') && !tcplifeMissing() && !headersFound()) {
    try {
      const h = debianHeaders();
      extra.push('--kheaders', h.dir, ...(h.made ? ['--kheaders-made'] : []));
    } catch (e) {
      extra.push('--tcplife-error', `no kernel headers for BCC, and Debian's could not be unpacked: ${(e as Error).message}`);
    }
  }
  const r = spawnSync('unshare', [...flags, NODE, fileURLToPath(import.meta.url), '--inside', ...process.argv.slice(2), ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) {
    process.stdout.write(`bench lifecycle: could not run in a private namespace (${flags.join(' ')}): exit ${r.status}\n`);
    return;
  }
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', 'lifecycle.json'), `${JSON.stringify(result, null, 2)}\n`);
  const ch = result.churn;
  process.stdout.write(
    `churn: ${ch.connections} connections in ${ch.seconds} s (${ch.perSecond}/s, ${ch.clients} client threads, ${ch.bytes} bytes each, ${ch.failed} failed); expected events ${result.expectedEvents}; load average ${result.loadavg.map((x: number) => x.toFixed(1)).join(' ')} on ${result.cpus} CPUs\n\n`,
  );
  process.stdout.write(
    '| reader | expected | events | missing | lost (counted) | CPU ms / 10k events | RSS MiB first / max / last |\n|---|---:|---:|---:|---:|---:|---|\n',
  );
  for (const row of result.rows) {
    const rss = row.rssMiB ? `${row.rssMiB.first.toFixed(1)} / ${row.rssMiB.max.toFixed(1)} / ${row.rssMiB.last.toFixed(1)}` : '';
    process.stdout.write(
      `| ${row.reader} | ${row.expected} | ${row.events} | ${row.missing} | ${row.lost ?? '-'} | ${row.cpuMsPer10kEvents ?? '-'} | ${rss} |\n`,
    );
  }
  for (const row of result.rows) if (row.note) process.stdout.write(`\n${row.reader}: ${row.note}`);
  if (result.tcplife) process.stdout.write(`\n${result.tcplife}\n`);
}

await (opt.inside ? inside() : outside());
