/**
 * `node dist/bench/agent-load.js [--sockets 150000] [--gathers 30] [--warmup 25] [--window 60] [--scrape-interval 15]
 *  [--latency-window 60] [--scrapes-per-s 2] [--skip execd,agent,exporter]`
 *
 * The long-running measurements that do not fit run.ts's one-shot rows, on the same population (bench/population.py,
 * the 150k mix of run.ts's mixFor), all inside its network namespace (root only):
 *
 *   execd     `sockscope execd --measurement netstat --signal stdin`: after 2 warm-up gathers, N newlines one at a
 *             time (each waits for its output line); CPU per gather = (utime+stime delta of /proc/<pid>/stat) / N,
 *             start-up excluded. Peer: bench/build/nldump, CPU per run (user+sys from wait4, measure.py, N runs).
 *   agent     `sockscope agent --listen 127.0.0.1:<port> --interval 10s` (default config: netstat + netstat_port + listen),
 *             after the first gather and --warmup s (a long-running agent's code is JIT-compiled; the first gathers
 *             are not what it costs), two windows, each with TIME_WAIT rebuilt (population.py refresh-tw) at its
 *             start and middle so the population stays at 150k:
 *             - steady (--window s): scraped once every --scrape-interval s (15 s: what a Prometheus does). CPU from
 *               /proc/<pid>/stat (all threads) and per thread (/proc/<pid>/task: the main thread, the gather worker =
 *               the busiest other thread, the rest = V8's GC and compiler threads and libuv), VmRSS each second,
 *               VmHWM and smaps_rollup at the end;
 *             - latency (--latency-window s): scraped --scrapes-per-s times a second (sequential, bounded), so
 *               enough scrapes for a p99 span several gathers; p50/p99/max latency, and the CPU of that window.
 *             Every scrape's self-metrics give per-gather snapshot and collector durations (median and max over
 *             the distinct gathers seen).
 *   exporter  a full scrape of sockscope's /metrics vs node_exporter --collector.tcpstat (Debian's
 *             prometheus-node-exporter under /opt/sockscope-ci), alternating, 15 each; with sockscope's gather time.
 *
 * `--scrape PORT SECONDS RATE [PATH]` is the scraper (run inside the namespace by this script).
 * Prints one JSON document; not part of npm test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;
const TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r2 = (x: number) => Math.round(x * 100) / 100;

function get(port: number, path: string): Promise<{ ms: number; bytes: number; status: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        chunks.push(d);
      });
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Self-metrics of one scrape body: gathers_total, snapshot and collector durations (ms). */
function selfTimes(body: string): { gathers: number; times: Record<string, number> } | undefined {
  const g = /^sockscope_gathers_total (\S+)$/m.exec(body);
  if (!g) return undefined;
  const times: Record<string, number> = {};
  const snap = /^sockscope_snapshot_duration_seconds (\S+)$/m.exec(body);
  if (snap) times.snapshot = Number(snap[1]) * 1000;
  for (const m of body.matchAll(/^sockscope_collector_duration_seconds\{collector="([^"]+)"\} (\S+)$/gm)) times[m[1]] = Number(m[2]) * 1000;
  return { gathers: Number(g[1]), times };
}

/**
 * The scraper: GET path every 1/rate s (sequential: a slow answer delays the next) for `seconds`; latency
 * percentiles, and the snapshot and collector durations of each distinct gather it saw (median and max).
 */
async function scrape(port: number, seconds: number, rate: number, path: string): Promise<void> {
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const maxN = Math.ceil(seconds * rate) + 1; // bounded
  let bytes = 0;
  const perGather = new Map<number, Record<string, number>>();
  for (let i = 0; i < maxN && Date.now() < end; i++) {
    const due = Date.now() + 1000 / rate;
    try {
      const r = await get(port, path);
      lat.push(r.ms);
      bytes = r.bytes;
      if (r.status !== 200) errors++;
      const st = r.body ? selfTimes(r.body) : undefined;
      if (st && st.gathers > 1) perGather.set(st.gathers, st.times); // not the first (cold) gather
    } catch {
      errors++;
    }
    await sleep(Math.max(0, Math.min(due, end) - Date.now()));
  }
  const gathers: Record<string, { median_ms: number; max_ms: number }> = {};
  for (const k of new Set([...perGather.values()].flatMap((t) => Object.keys(t)))) {
    const xs = [...perGather.values()].map((t) => t[k]).filter((x) => x !== undefined);
    gathers[k] = { median_ms: r2(pct(xs, 50)), max_ms: r2(Math.max(...xs)) };
  }
  process.stdout.write(
    `${JSON.stringify({ n: lat.length, errors, bytes, p50_ms: r2(pct(lat, 50)), p99_ms: r2(pct(lat, 99)), max_ms: r2(Math.max(...lat)), gathers_seen: perGather.size, gathers })}\n`,
  );
}

function procStat(pid: number | string): { ticks: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ticks: Number(f[11]) + Number(f[12]) }; // utime, stime (fields 14, 15)
}
function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|Threads|RssAnon|RssFile):\s+(\d+)/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
/** CPU ticks per thread (tid → utime+stime). */
function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), procStat(`${pid}/task/${tid}`).ticks);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}
/** CPU % of one core over `seconds` per thread group: main (tid = pid), worker (the busiest other thread), rest. */
function threadBreakdown(pid: number, a: Map<number, number>, b: Map<number, number>, seconds: number): Record<string, number> {
  const delta = [...b].map(([tid, t]) => [tid, t - (a.get(tid) ?? 0)] as const);
  const main = delta.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = delta.filter(([tid]) => tid !== pid).sort((x, y) => y[1] - x[1]);
  const worker = others[0]?.[1] ?? 0;
  const rest = others.slice(1).reduce((n, [, t]) => n + t, 0);
  const p = (t: number) => r2((t / TCK / seconds) * 100);
  return { main_pct: p(main), gather_worker_pct: p(worker), other_threads_pct: p(rest) };
}
function smapsRollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(Rss|Pss_Anon|Pss_File|Anonymous):\s+(\d+) kB/.exec(l);
    if (m) out[`${m[1]}_kb`] = Number(m[2]);
  }
  return out;
}

class Lines {
  private q: string[] = [];
  private w: ((l: string) => void)[] = [];
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const w = this.w.shift();
      if (w) w(l);
      else this.q.push(l);
    });
  }
  next(timeoutMs: number): Promise<string> {
    const l = this.q.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout waiting for a line')), timeoutMs);
      this.w.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
}

const children: ChildProcess[] = [];
const start = (argv: string[]) => {
  const c = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  return c;
};
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function freePort(ns: string[]): Promise<number> {
  const r = spawnSync(ns[0], [...ns.slice(1), 'python3', '-c', 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'], {
    encoding: 'utf8',
  });
  return Number(r.stdout.trim());
}

async function waitUp(ns: string[], port: number, path: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = spawnSync(ns[0], [
      ...ns.slice(1),
      'python3',
      '-c',
      `import urllib.request;urllib.request.urlopen("http://127.0.0.1:${port}${path}",timeout=5).read()`,
    ]);
    if (r.status === 0) return;
    await sleep(200);
  }
  throw new Error(`nothing answered on 127.0.0.1:${port}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      sockets: { type: 'string', default: '150000' },
      gathers: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '25' },
      window: { type: 'string', default: '60' },
      'scrape-interval': { type: 'string', default: '15' },
      'latency-window': { type: 'string', default: '60' },
      'scrapes-per-s': { type: 'string', default: '2' },
      skip: { type: 'string', default: '' },
      scrape: { type: 'boolean' },
    },
  });
  if (values.scrape) return scrape(Number(positionals[0]), Number(positionals[1]), Number(positionals[2]), positionals[3] ?? '/metrics');
  const skip = new Set(values.skip!.split(','));
  const total = Number(values.sockets);
  const estab = Math.floor(total / 3);
  const closewait = Math.min(1000, Math.max(1, Math.floor(total / 150)));
  const listen = Math.min(1000, Math.max(20, Math.floor(total / 150)));
  const timewait = total - 2 * estab - 2 * closewait - listen;
  const pop = start([
    'python3',
    join(ROOT, 'bench/population.py'),
    '--estab',
    `${estab}`,
    '--timewait',
    `${timewait}`,
    '--closewait',
    `${closewait}`,
    '--listen',
    `${listen}`,
  ]);
  const popLines = new Lines(pop);
  const ready = JSON.parse(await popLines.next(300_000));
  if (ready.event !== 'ready') throw new Error(JSON.stringify(ready));
  const ns = ['nsenter', `--net=/proc/${ready.pid}/ns/net`];
  const count = () => Number(spawnSync(ns[0], [...ns.slice(1), 'sh', '-c', 'ss -tan | wc -l'], { encoding: 'utf8' }).stdout.trim()) - 1;
  const refresh = async () => {
    pop.stdin!.write('refresh-tw\n');
    const ev = JSON.parse(await popLines.next(120_000));
    await sleep(1000);
    return ev;
  };
  const out: Record<string, unknown> = { sockets: total, clk_tck: TCK };
  const nldump = join(ROOT, 'bench/build/nldump');

  if (!skip.has('execd')) {
    await refresh();
    const N = Number(values.gathers);
    const c = start([...ns, NODE, 'bin/sockscope.js', 'execd', '--measurement', 'netstat', '--signal', 'stdin']);
    const lines = new Lines(c);
    const t0 = performance.now();
    for (let i = 0; i < 2; i++) {
      c.stdin!.write('\n');
      await lines.next(60_000);
    }
    const warm_ms = performance.now() - t0;
    const a = procStat(c.pid!);
    const w0 = performance.now();
    let sample = '';
    for (let i = 0; i < N; i++) {
      c.stdin!.write('\n');
      sample = await lines.next(60_000);
    }
    const wall = (performance.now() - w0) / N;
    const b = procStat(c.pid!);
    const st = status(c.pid!);
    c.stdin!.end();
    const cpuPer = ((b.ticks - a.ticks) * 1000) / TCK / N;
    const m = spawnSync(
      ns[0],
      [...ns.slice(1), 'python3', join(ROOT, 'bench/measure.py'), '--reps', `${N}`, '--warmup', '2', '--stdout', 'null', '--', nldump],
      { encoding: 'utf8' },
    );
    const mr = JSON.parse(m.stdout.trim().split('\n').pop()!);
    const nlCpu = mr.runs.map((r: { user_ms: number; sys_ms: number }) => r.user_ms + r.sys_ms);
    const nlPer = nlCpu.reduce((x: number, y: number) => x + y, 0) / N;
    const nlWall = mr.runs.reduce((x: number, r: { ms: number }) => x + r.ms, 0) / N;
    out.execd = {
      gathers: N,
      population: count(),
      startup_plus_2_gathers_ms: r2(warm_ms),
      cpu_per_gather_ms: r2(cpuPer),
      wall_per_gather_ms: r2(wall),
      nldump_cpu_per_run_ms: r2(nlPer),
      nldump_wall_per_run_ms: r2(nlWall),
      ratio: r2(cpuPer / nlPer),
      target: 1.3,
      pass: cpuPer / nlPer <= 1.3,
      rss_kb: st.VmRSS,
      hwm_kb: st.VmHWM,
      sample_line: sample.slice(0, 300),
    };
    process.stderr.write(`execd: ${JSON.stringify(out.execd)}\n`);
  }

  if (!skip.has('agent') || !skip.has('exporter')) {
    const port = await freePort(ns);
    const windowS = Number(values.window);
    const rate = Number(values['scrapes-per-s']);
    await refresh();
    const t0 = Date.now();
    const ag = start([...ns, NODE, 'bin/sockscope.js', 'agent', '--listen', `127.0.0.1:${port}`, '--interval', '10s', '--log-level', 'warn']);
    ag.stdout!.resume();
    await waitUp(ns, port, '/metrics');
    const up_ms = Date.now() - t0;
    await sleep(3000); // the first gather
    const first = spawnSync(
      ns[0],
      [...ns.slice(1), 'python3', '-c', `import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:${port}/metrics").read().decode())`],
      { encoding: 'utf8' },
    ).stdout;
    // the self-metrics (no host label: the gather's samples all have one) of the first gather
    const selfLines = first
      .split('\n')
      .filter((l) => l.startsWith('sockscope_') && !l.includes('host="'))
      .slice(0, 40);
    const estabLine = first.split('\n').find((l) => /established/.test(l) && !l.startsWith('#'));
    if (!skip.has('agent')) {
      const pid = ag.pid!;
      await sleep(Number(values.warmup) * 1000);
      /** One window: the scraper at `rate`/s, TIME_WAIT rebuilt at the start and middle, CPU and memory. */
      const windowOf = async (seconds: number, rate: number) => {
        await refresh(); // keeps TIME_WAIT (60 s) alive across the window; not the agent's CPU
        const counts = [count()];
        const a = procStat(pid);
        const ta = threadTicks(pid);
        const w0 = Date.now();
        const scr = start([...ns, NODE, join(ROOT, 'dist/bench/agent-load.js'), '--scrape', `${port}`, `${seconds}`, `${rate}`]);
        const scrLines = new Lines(scr);
        const rss: number[] = [];
        let refreshed = false;
        while (Date.now() - w0 < seconds * 1000) {
          rss.push(status(pid).VmRSS);
          if (!refreshed && Date.now() - w0 > (seconds * 1000) / 2) {
            refreshed = true;
            counts.push(count());
            await refresh();
            counts.push(count());
          }
          await sleep(1000);
        }
        const b = procStat(pid);
        const tb = threadTicks(pid);
        const el = (Date.now() - w0) / 1000;
        const st = status(pid);
        const sres = JSON.parse(await scrLines.next(30_000));
        counts.push(count());
        return {
          window_s: r2(el),
          cpu_pct_of_one_core: r2(((b.ticks - a.ticks) / TCK / el) * 100),
          threads: threadBreakdown(pid, ta, tb, el),
          rss_max_kb: Math.max(...rss),
          rss_avg_kb: Math.round(rss.reduce((x, y) => x + y, 0) / rss.length),
          vmhwm_kb: st.VmHWM,
          rss_anon_kb: st.RssAnon,
          rss_file_kb: st.RssFile,
          scrape: sres,
          population_counts: counts,
        };
      };
      const scrapeInterval = Number(values['scrape-interval']);
      const steady = await windowOf(windowS, 1 / scrapeInterval);
      const latency = await windowOf(Number(values['latency-window']), rate);
      const rssMax = Math.max(steady.rss_max_kb, latency.rss_max_kb, steady.vmhwm_kb, latency.vmhwm_kb);
      out.agent = {
        port,
        up_ms,
        warmup_s: Number(values.warmup),
        threads: status(pid).Threads,
        smaps_rollup: smapsRollup(pid),
        steady: { scrape_interval_s: scrapeInterval, ...steady },
        latency: { scrapes_per_s: rate, ...latency },
        cpu_pct_of_one_core: steady.cpu_pct_of_one_core,
        cpu_target_pct: 2,
        cpu_pass: steady.cpu_pct_of_one_core <= 2,
        rss_max_kb: rssMax,
        rss_target_mb: 120,
        rss_pass: rssMax <= 120 * 1024,
        p50_ms: latency.scrape.p50_ms,
        p99_ms: latency.scrape.p99_ms,
        max_ms: latency.scrape.max_ms,
        p99_target_ms: 50,
        p99_pass: latency.scrape.p99_ms <= 50,
        estab_line: estabLine,
        first_gather_self_metrics: selfLines,
      };
      process.stderr.write(`agent: ${JSON.stringify(out.agent)}\n`);
    }
    if (!skip.has('exporter')) {
      const ne = '/opt/sockscope-ci/usr/bin/prometheus-node-exporter';
      if (!existsSync(ne)) out.exporter = { skipped: `${ne} not installed` };
      else {
        if (Date.now() / 1000 - 40 > 0) await refresh();
        const nport = await freePort(ns);
        const nex = start([...ns, ne, '--collector.disable-defaults', '--collector.tcpstat', `--web.listen-address=127.0.0.1:${nport}`]);
        nex.stdout!.resume();
        await waitUp(ns, nport, '/metrics');
        await sleep(11_000); // a fresh sockscope gather on the rebuilt population
        const one = (p: number) => {
          const r = spawnSync(
            ns[0],
            [
              ...ns.slice(1),
              NODE,
              '-e',
              `const h=require('http');const t=performance.now();h.get({host:'127.0.0.1',port:${p},path:'/metrics',agent:false},r=>{let n=0;r.on('data',d=>n+=d.length);r.on('end',()=>console.log(JSON.stringify({ms:performance.now()-t,bytes:n})))})`,
            ],
            { encoding: 'utf8' },
          );
          return JSON.parse(r.stdout.trim()) as { ms: number; bytes: number };
        };
        // warm-up each, then alternate; timed from inside one node per scrape (the node start is not counted)
        one(port);
        one(nport);
        const s: number[] = [];
        const n: number[] = [];
        let sb = 0;
        let nb = 0;
        for (let i = 0; i < 15; i++) {
          const x = one(port);
          const y = one(nport);
          s.push(x.ms);
          n.push(y.ms);
          sb = x.bytes;
          nb = y.bytes;
        }
        const nodeOut = spawnSync(
          ns[0],
          [...ns.slice(1), 'python3', '-c', `import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:${nport}/metrics").read().decode())`],
          { encoding: 'utf8' },
        ).stdout;
        const ours = spawnSync(
          ns[0],
          [...ns.slice(1), 'python3', '-c', `import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:${port}/metrics").read().decode())`],
          { encoding: 'utf8' },
        ).stdout;
        // sockscope's gather, whole process (what the served numbers cost to make), and in the agent if it says
        const g = spawnSync(
          ns[0],
          [
            ...ns.slice(1),
            'python3',
            join(ROOT, 'bench/measure.py'),
            '--reps',
            '5',
            '--warmup',
            '1',
            '--stdout',
            'null',
            '--',
            NODE,
            'bin/sockscope.js',
            'gather',
            '--measurement',
            'netstat,netstat_port',
            '--format',
            'prometheus',
          ],
          { encoding: 'utf8', cwd: ROOT },
        );
        const gr = JSON.parse(g.stdout.trim().split('\n').pop()!);
        const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
        out.exporter = {
          sockscope_scrape_median_ms: r2(med(s)),
          sockscope_scrape_p90_ms: r2(pct(s, 90)),
          sockscope_bytes: sb,
          node_exporter_scrape_median_ms: r2(med(n)),
          node_exporter_scrape_p90_ms: r2(pct(n, 90)),
          node_exporter_bytes: nb,
          ratio: r2(med(s) / med(n)),
          target: 0.7,
          pass: med(s) / med(n) <= 0.7,
          sockscope_gather_whole_process_median_ms: r2(med(gr.runs.map((x: { ms: number }) => x.ms))),
          sockscope_gather_lines: ours
            .split('\n')
            .filter((l) => /(gather|duration)/i.test(l) && !l.startsWith('#'))
            .slice(0, 10),
          node_exporter_tcpstat: nodeOut.split('\n').filter((l) => /tcp_connection_states|scrape_collector_duration/.test(l) && !l.startsWith('#')),
          population: count(),
        };
        process.stderr.write(`exporter: ${JSON.stringify(out.exporter)}\n`);
        nex.kill('SIGTERM');
      }
    }
    ag.kill('SIGTERM');
  }
  pop.stdin!.write('quit\n');
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await sleep(500);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`agent-load: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
