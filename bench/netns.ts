/**
 * `npm run bench:netns -- [--namespaces 100] [--sockets 200] [--reps 5] [--case gather|agent|both]
 *  [--agent-sockets 1500] [--agent-seconds 120] [--agent-bin PATH ...] [--agent-scrape-seconds 15]
 *  [--agent-node-args='--cpu-prof --cpu-prof-dir=DIR'] [--agent-churn SECONDS] [--agent-raw-malloc] [--shared-ehash]`
 *
 * --all-netns against its peer, side by side in one run, on one population:
 *
 *   - N network namespaces, each held by bench/netns-holder.py with a known TCP population (listeners,
 *     established pairs, CLOSE_WAIT/FIN_WAIT2 pairs, TIME_WAIT), plus the host's.
 *   - The whole bench runs in a private pid and mount namespace (unshare --pid --mount --mount-proc) with an
 *     empty /run/netns: both sides see exactly the bench's namespaces and the host's, not those of the other
 *     tests and benchmarks sharing this machine.
 *   - Each namespace gets its own TCP hash table (tcp_child_ehash_entries) unless --shared-ehash: otherwise every
 *     dump, ours and the peer's, walks every socket of the machine.
 *
 * gather case: the peer is the shell loop
 *     for pid in PIDS; do nsenter --net=/proc/$pid/ns/net ss -tanH | awk '{s[$1]++} END {...}'; done
 * (and the host's ss), against `sockscope gather --all-netns --measurement netstat`; interleaved rounds under
 * bench/measure.py (wall time around spawn..wait4, user/sys CPU, peak RSS), medians. Both outputs are checked
 * to count the same sockets. Target: ours ≤ 0.25× the peer. sockscope keeps its V8 code cache in a directory
 * of the bench's own for these runs (CACHE_DIRECTORY): the machine's is shared with every other checkout.
 *
 * agent case: `sockscope agent` with [netns] enabled, a 15 s interval, over N namespaces of --agent-sockets
 * sockets each; CPU (utime+stime of the whole process, every thread) over --agent-seconds after a warm-up
 * gather, and RSS (VmRSS, VmHWM). Targets: ≤ 1% of a core, ≤ 150 MB RSS. With --agent-bin (repeated), one agent
 * per given bin/sockscope.js runs at the same time over the same namespaces: a change against its base, side by
 * side under the same load. Each agent has its own CACHE_DIRECTORY (its bundle's code cache). Every agent's
 * /metrics is scraped every --agent-scrape-seconds (15 by default, 0: never) as Prometheus scrapes it (its Accept
 * header: OpenMetrics preferred), so the figure includes serving the exposition. --agent-node-args are given to
 * node before the bin (e.g. `--agent-node-args='--cpu-prof --cpu-prof-dir=DIR'`: a profile per thread at the agent's exit).
 * Each agent runs with the environment `sockscope agent` gets from bin/sockscope.js's sh part and deploy/'s unit,
 * Dockerfile and DaemonSet (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072; the user's own value kept);
 * --agent-raw-malloc runs them with glibc's defaults instead (`node bin/sockscope.js agent`, a bare executable).
 * --agent-churn SECONDS: every namespace opens one more connection and resets it every SECONDS (a health check, a
 * short request): the counts stay, but connections come and go between gathers, so the agent cannot hand out a
 * namespace's last ESTABLISHED dump again (src/snapshot/established.ts EstablishedMemo) and dumps every gather.
 *
 * After the CPU window each agent's /metrics is scraped once and its sockscope_tcp_connections of every namespace
 * (per state and family) compared with `nsenter … ss -tanH -4` / `-6` counted in it: an agent that counts wrong
 * fails the bench (a MISS row, exit status 1), however fast it is.
 *
 * Floors, measured in the same run on the same namespaces: bench/netns-floor.c (built with `cc -O2`) does
 * the least a program can do for the same counts (setns, a NETLINK_SOCK_DIAG socket and the TCP dumps per
 * namespace, in C), timed by its CPU, asking what sockscope asks (`--legacy --established count` for netstat,
 * `listening-ports` for the default collectors: ESTABLISHED counted from sockstat, dumped on listening ports
 * only), and beside it the floor as it was (every socket dumped, one v2 request per family); `node -e 0` is the
 * cost of starting Node at all. A target below a floor cannot be met by any change to sockscope's JavaScript;
 * the table says so.
 *
 * Under load (a shared machine) wall times stretch unevenly (the peer's 300 short processes each wait for a CPU),
 * so the table shows the ratio of CPU (user + system) beside the wall ratio the target names.
 *
 * Results on stdout (a side-by-side table: figure, target, PASS/MISS) and in bench/results/netns.json. Needs
 * root. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isolate } from './netns-isolate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/sockscope.js');
const HOLDER = join(ROOT, 'bench/netns-holder.py');
const MEASURE = join(ROOT, 'bench/measure.py');
const FLOOR_SRC = join(ROOT, 'bench/netns-floor.c');
const FLOOR_BIN = join(ROOT, 'bench/build/netns-floor');

const { values: a } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '100' },
    sockets: { type: 'string', default: '200' },
    reps: { type: 'string', default: '5' },
    case: { type: 'string', default: 'both' },
    'agent-sockets': { type: 'string', default: '1500' },
    'agent-seconds': { type: 'string', default: '120' },
    'shared-ehash': { type: 'boolean', default: false },
    /** default: the agent's default collectors (netstat, netstat_port with auto_listen_ports, listen); netstat: netstat alone */
    'agent-collectors': { type: 'string', default: 'default' },
    /** the sockscope to run as the agent (bin/sockscope.js of a checkout); repeat to run several side by side */
    'agent-bin': { type: 'string', multiple: true, default: [] },
    /** each agent's /metrics scraped this often (as Prometheus does; 0: never) */
    'agent-scrape-seconds': { type: 'string', default: '15' },
    'agent-churn': { type: 'string', default: '0' },
    'agent-raw-malloc': { type: 'boolean', default: false },
    /** node options before the agent's bin, space-separated (e.g. --cpu-prof --cpu-prof-dir=DIR) */
    'agent-node-args': { type: 'string', default: '' },
  },
});

if (process.getuid?.() !== 0) {
  console.log('bench/netns: needs root (network namespaces for 100 holders, setns); skipped');
  process.exit(0);
}

isolate(); // a private pid and mount namespace (bench/netns-isolate.ts)

interface Population {
  listen: number;
  estab: number;
  closewait: number;
  timewait: number;
}

/** The per-namespace mix of n TCP sockets: 2% listeners, 5% CLOSE_WAIT/FIN_WAIT2, 8% TIME_WAIT, the rest established. */
function mix(n: number, timewait: boolean): Population {
  const listen = Math.max(1, Math.round(n * 0.02));
  const closewait = Math.round(n * 0.025);
  const tw = timewait ? Math.round(n * 0.08) : 0;
  const estab = Math.floor((n - listen - 2 * closewait - tw) / 2);
  return { listen, estab, closewait, timewait: n - listen - 2 * closewait - 2 * estab };
}

const holders: ChildProcess[] = [];
const lines = new Map<ChildProcess, AsyncIterator<string>>();

async function startHolders(count: number, p: Population): Promise<number[]> {
  const pids: number[] = [];
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const args = [HOLDER, '--listen', `${p.listen}`, '--estab', `${p.estab}`, '--closewait', `${p.closewait}`, '--timewait', `${p.timewait}`];
      if (!a['shared-ehash']) args.push('--private-ehash', '4096');
      if (Number(a['agent-churn']) > 0) args.push('--churn', a['agent-churn']);
      const c = spawn('python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
      holders.push(c);
      const it = createInterface({ input: c.stdout! })[Symbol.asyncIterator]();
      lines.set(c, it);
      it.next().then((line) => resolve(JSON.parse(line.value).pid), reject);
      c.once('exit', (code) => reject(new Error(`holder exited (${code})`)));
    });
  for (let i = 0; i < count; i += 25) pids.push(...(await Promise.all(Array.from({ length: Math.min(25, count - i) }, one))));
  return pids;
}

/** Every holder makes its TIME_WAIT sockets now; resolves when all have. */
async function makeTimeWait(): Promise<void> {
  await Promise.all(
    holders.map(async (c) => {
      c.stdin!.write('tw\n');
      await lines.get(c)!.next();
    }),
  );
}

async function stopHolders(): Promise<void> {
  await Promise.all(
    holders.splice(0).map(
      (c) =>
        new Promise((r) => {
          if (c.exitCode !== null) return r(undefined);
          c.once('exit', r);
          c.kill('SIGKILL');
        }),
    ),
  );
}

interface Run {
  ms: number;
  user_ms: number;
  sys_ms: number;
  maxrss_kb: number;
  status: number;
}

function measure(argv: string[], env: NodeJS.ProcessEnv = process.env): { run: Run; stdout: string } {
  const r = spawnSync('python3', [MEASURE, '--reps', '1', '--warmup', '0', '--timeout', '300', '--stdout', 'capture', '--', ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env,
  });
  const j = JSON.parse(r.stdout);
  if (j.error || j.runs[0].status !== 0) throw new Error(`${argv.join(' ')}: ${JSON.stringify(j)}`);
  return { run: j.runs[0], stdout: j.stdout };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** bench/netns-floor.c built (once), or why not. */
function buildFloor(): string | undefined {
  mkdirSync(join(ROOT, 'bench/build'), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-o', FLOOR_BIN, FLOOR_SRC], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`  (no floor: cc -O2 bench/netns-floor.c failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]})`);
    return undefined;
  }
  return FLOOR_BIN;
}

/**
 * The C floor over these namespaces: median CPU ms per round (user + system), sockets dumped and counted per
 * round. `established` (sockscope's SnapshotOptions.established): 'all' is the full dump, one v2 request per
 * family (the floor as it was); 'count' / 'listening-ports' ask for what sockscope asks for the same counts (one
 * legacy walk for both families, ESTABLISHED counted from sockstat, or dumped on listening ports only).
 */
function floor(
  pids: number[],
  keep: boolean,
  reps = 5,
  established: 'all' | 'count' | 'listening-ports' = 'all',
): { cpu_ms: number; sockets: number; counted: number } | undefined {
  const bin = buildFloor();
  if (!bin) return undefined;
  const mode = established === 'all' ? [] : ['--legacy', '--established', established];
  const r = spawnSync(bin, ['--reps', String(reps), ...(keep ? ['--keep'] : []), ...mode, ...pids.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    console.log(`  (no floor: netns-floor failed: ${r.stderr.trim()})`);
    return undefined;
  }
  const rounds = (JSON.parse(r.stdout) as { rounds: { sockets: number; counted: number; user_ms: number; sys_ms: number }[] }).rounds;
  return { cpu_ms: median(rounds.map((x) => x.user_ms + x.sys_ms)), sockets: rounds[0].sockets, counted: rounds[0].counted };
}

/** Rows of the side-by-side table: what, measured, target, verdict. */
const table: string[][] = [];
const row = (what: string, measured: string, target: string, pass?: boolean) =>
  table.push([what, measured, target, pass === undefined ? '' : pass ? 'PASS' : 'MISS']);
function printTable(): void {
  if (table.length === 0) return;
  const head = ['', 'measured', 'target', ''];
  const w = head.map((h, k) => Math.max(h.length, ...table.map((r) => r[k].length)));
  const line = (r: string[]) =>
    r
      .map((c, k) => c.padEnd(w[k]))
      .join('  ')
      .trimEnd();
  console.log(`\n${line(head)}\n${w.map((n) => '-'.repeat(n)).join('  ')}\n${table.map(line).join('\n')}`);
}

/** TCP sockets counted in the peer's output ("STATE N" lines) and in ours (netstat points' tcp_* fields). */
const peerTotal = (out: string) =>
  out
    .split('\n')
    .filter(Boolean)
    .reduce((n, l) => n + Number(l.split(' ')[1]), 0);
const oursTotal = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('netstat'))
    .reduce((n, l) => {
      for (const m of l.matchAll(/tcp_(?!none)\w+=(\d+)i/g)) n += Number(m[1]);
      return n;
    }, 0);

async function gatherCase(results: Record<string, unknown>): Promise<void> {
  const n = Number(a.namespaces);
  const per = Number(a.sockets);
  const reps = Number(a.reps);
  const pop = mix(per, true);
  const t0 = Date.now();
  const pids = await startHolders(n, pop);
  console.log(`gather: ${n} namespaces × ${per} TCP sockets (${JSON.stringify(pop)}) built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const awk = `awk '{s[$1]++} END {for (k in s) print k, s[k]}'`;
  const loop = `ss -tanH | ${awk}; for pid in ${pids.join(' ')}; do nsenter --net=/proc/$pid/ns/net ss -tanH | ${awk}; done`;
  const peer = ['sh', '-c', loop];
  // as users run it: bin/sockscope.js executed (its sh launcher, then node without NODE_EXTRA_CA_CERTS)
  const ours = [BIN, 'gather', '--all-netns', '--measurement', 'netstat'];
  // sockscope's V8 code cache in a directory of the bench's own: the machine's (/var/cache/sockscope) is shared
  // with every other checkout and test on it, whose bundles (other hashes) would replace the cache between runs
  // and make a timed run compile the bundle afresh and write the cache again
  const cacheDir = mkdtempSync(join(tmpdir(), 'netns-bench-cache-'));
  const oursEnv: NodeJS.ProcessEnv = { ...process.env, CACHE_DIRECTORY: cacheDir };
  const rows: Record<string, Run[]> = { peer: [], sockscope: [] };
  await makeTimeWait();
  const twAt = Date.now();
  // warm-up (page cache, the JIT's first steps are part of every real run: not warmed beyond one run each)
  // the check leaves out the host's namespace, shared with the machine's other work (its sockets come and go)
  const wp = measure(['sh', '-c', loop.slice(loop.indexOf('for pid'))]);
  const wo = measure(ours, oursEnv);
  const want = peerTotal(wp.stdout);
  const got = oursTotal(
    wo.stdout
      .split('\n')
      .filter((l) => l.startsWith('netstat,netns='))
      .join('\n'),
  );
  console.log(`  check: in the ${n} namespaces the peer counts ${want} TCP sockets, sockscope ${got}`);
  if (Math.abs(want - got) > want * 0.001) throw new Error('the two sides do not count the same sockets');
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? (['peer', 'sockscope'] as const) : (['sockscope', 'peer'] as const);
    for (const k of order) rows[k].push(k === 'peer' ? measure(peer).run : measure(ours, oursEnv).run);
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const twAge = (Date.now() - twAt) / 1000;
  if (twAge >= 60) throw new Error(`the rounds took ${twAge.toFixed(0)} s: the TIME_WAIT sockets expired meanwhile; use fewer --reps`);
  const sum = (k: string) => ({
    wall_ms: median(rows[k].map((x) => x.ms)),
    cpu_ms: median(rows[k].map((x) => x.user_ms + x.sys_ms)),
    maxrss_mb: median(rows[k].map((x) => x.maxrss_kb / 1024)),
  });
  const p = sum('peer');
  const o = sum('sockscope');
  const ratio = o.wall_ms / p.wall_ms;
  const cpuRatio = o.cpu_ms / p.cpu_ms;
  // the floors: Node's start, and the dumps themselves in C (setns and a socket per namespace, as a one-shot must)
  // node's start as the launcher makes it: without NODE_EXTRA_CA_CERTS (bin/sockscope.js unsets it for a gather)
  const nodeStart = median(
    Array.from({ length: reps }, () => measure(['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']).run).map((x) => x.user_ms + x.sys_ms),
  );
  // the C walk: every socket dumped (the floor as it was), and what sockscope asks for the same counts (netstat
  // alone: ESTABLISHED counted from sockstat, not dumped)
  const fullFloor = floor(pids, false, reps);
  const f = floor(pids, false, reps, 'count');
  console.log(`  peer (nsenter + ss + awk loop):          wall ${p.wall_ms.toFixed(0)} ms, cpu ${p.cpu_ms.toFixed(0)} ms`);
  console.log(`  sockscope gather --all-netns netstat:    wall ${o.wall_ms.toFixed(0)} ms, cpu ${o.cpu_ms.toFixed(0)} ms, rss ${o.maxrss_mb.toFixed(0)} MB`);
  console.log(
    `  floors: node -e 0 cpu ${nodeStart.toFixed(0)} ms; the C walk (setns + socket + dumps) cpu ${f ? f.cpu_ms.toFixed(0) : '-'} ms (${f?.sockets} sockets dumped, ${f?.counted} counted); every socket dumped ${fullFloor ? fullFloor.cpu_ms.toFixed(0) : '-'} ms`,
  );
  const floorRatio = f ? (nodeStart + f.cpu_ms) / p.cpu_ms : undefined;
  row(
    `gather ${n} × ${per} TCP + host, wall ratio (medians of ${reps})`,
    `${ratio.toFixed(2)}× (${o.wall_ms.toFixed(0)} / ${p.wall_ms.toFixed(0)} ms)`,
    '≤ 0.25×',
    ratio <= 0.25,
  );
  row('  same, CPU ratio (user + sys)', `${cpuRatio.toFixed(2)}× (${o.cpu_ms.toFixed(0)} / ${p.cpu_ms.toFixed(0)} ms)`, '≤ 0.25×', cpuRatio <= 0.25);
  row(
    '  floor: node -e 0 + C walk, CPU ratio',
    floorRatio === undefined ? '-' : `${floorRatio.toFixed(2)}× (${nodeStart.toFixed(0)} + ${f!.cpu_ms.toFixed(0)} ms)`,
    '',
    undefined,
  );
  row(
    '  floor as it was: every socket dumped (C walk, v2 per family)',
    fullFloor === undefined ? '-' : `${((nodeStart + fullFloor.cpu_ms) / p.cpu_ms).toFixed(2)}× (${nodeStart.toFixed(0)} + ${fullFloor.cpu_ms.toFixed(0)} ms)`,
    '',
    undefined,
  );
  row('  sockscope peak RSS', `${o.maxrss_mb.toFixed(0)} MB`, '', undefined);
  results.gather = {
    namespaces: n,
    sockets_per_namespace: per,
    population: pop,
    shared_ehash: !!a['shared-ehash'],
    reps,
    peer: p,
    sockscope: o,
    ratio,
    cpu_ratio: cpuRatio,
    floor: { node_start_cpu_ms: nodeStart, c_walk_cpu_ms: f?.cpu_ms, c_walk_full_dump_cpu_ms: fullFloor?.cpu_ms, ratio: floorRatio },
    runs: rows,
  };
  await stopHolders();
}

function procStat(pid: number): { cpuTicks: number; sysTicks: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuTicks: Number(f[11]) + Number(f[12]), sysTicks: Number(f[12]), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** CPU ticks (user, system) of each thread of a process, by tid (with its comm). */
function threadTicks(pid: number): Map<string, { comm: string; user: number; sys: number }> {
  const m = new Map<string, { comm: string; user: number; sys: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {}
  for (const tid of tids) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(tid, { comm: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')), user: Number(f[11]), sys: Number(f[12]) });
    } catch {}
  }
  return m;
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const SS_STATE: Record<string, string> = {
  ESTAB: 'established',
  'SYN-SENT': 'syn_sent',
  'SYN-RECV': 'syn_recv',
  'FIN-WAIT-1': 'fin_wait1',
  'FIN-WAIT-2': 'fin_wait2',
  'TIME-WAIT': 'time_wait',
  'CLOSE-WAIT': 'close_wait',
  'LAST-ACK': 'last_ack',
  LISTEN: 'listen',
  CLOSING: 'closing',
};

/** Per namespace (the agent's netns label: the inode), "family state" → count, from ss -tanH -4 / -6 run in it. */
function ssCounts(pids: number[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const pid of pids) {
    const inode = /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1];
    const counts = new Map<string, number>();
    for (const [flag, family] of [
      ['-4', 'ipv4'],
      ['-6', 'ipv6'],
    ]) {
      const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ss', '-tanH', flag], { encoding: 'utf8', maxBuffer: 1 << 26 });
      for (const line of r.stdout.split('\n')) {
        const state = line.trim().split(/\s+/)[0];
        if (!state) continue;
        const key = `${family} ${SS_STATE[state] ?? state}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    out.set(inode, counts);
  }
  return out;
}

/** Scrape an agent's /metrics once; how many namespaces' sockscope_tcp_connections equal ss's, and the first difference. */
async function checkAgainstSs(port: number, expected: Map<string, Map<string, number>>): Promise<{ equal: number; first?: string }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const got = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('sockscope_tcp_connections{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.netns === undefined) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (value === 0) continue;
    if (!got.has(labels.netns)) got.set(labels.netns, new Map());
    const key = `${labels.family} ${labels.state}`;
    got.get(labels.netns)!.set(key, (got.get(labels.netns)!.get(key) ?? 0) + value);
  }
  let equal = 0;
  let first: string | undefined;
  for (const [inode, want] of expected) {
    const have = got.get(inode) ?? new Map<string, number>();
    const keys = new Set([...want.keys(), ...have.keys()]);
    const diff = [...keys].filter((k) => (want.get(k) ?? 0) !== (have.get(k) ?? 0));
    if (diff.length === 0) equal++;
    else first ??= `netns ${inode}: ${diff.map((k) => `${k} ss ${want.get(k) ?? 0} agent ${have.get(k) ?? 0}`).join(', ')}`;
  }
  return { equal, first };
}

async function agentCase(results: Record<string, unknown>): Promise<void> {
  const n = Number(a.namespaces);
  const per = Number(a['agent-sockets']);
  const seconds = Number(a['agent-seconds']);
  const pop = mix(per, false); // the agent runs for minutes: no TIME_WAIT, which would expire meanwhile
  const t0 = Date.now();
  const pids = await startHolders(n, pop);
  console.log(`agent: ${n} namespaces × ${per} TCP sockets built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(join(tmpdir(), 'netns-bench-'));
  const only = a['agent-collectors'] === 'netstat' ? '[collectors.netstat_port]\nenabled = false\n[collectors.listen]\nenabled = false\n' : '';
  // each agent on a port of its own: its /metrics is scraped once at the end and checked against ss
  const config = (port: number) => {
    const conf = join(dir, `sockscope-${port}.toml`);
    writeFileSync(conf, `[agent]\ninterval = "15s"\n\n[outputs.prometheus]\nlisten = ["127.0.0.1:${port}"]\n\n[netns]\nenabled = true\n${only}`);
    return conf;
  };
  // without the bench's own SOCKSCOPE_* marker: the agent refuses SOCKSCOPE_ variables that name no setting
  const { SOCKSCOPE_NETNS_BENCH_ISOLATED: _, ...env } = process.env;
  // one agent per --agent-bin (default: this checkout's), all at once over the same namespaces: a change and the
  // build it is compared with measured side by side, under the same load
  const bins = a['agent-bin'].length ? a['agent-bin'] : [BIN];
  const nodeArgs = a['agent-node-args'].split(' ').filter(Boolean);
  const ports = await Promise.all(bins.map(() => freePort()));
  const agents = bins.map((bin, k) => {
    // each its own code cache (CACHE_DIRECTORY): the machine's is shared with every checkout, and two builds' bundles
    // would replace each other's
    const cache = mkdtempSync(join(dir, 'cache-'));
    // node is run on the bin directly (for --agent-node-args), not through its sh part: the environment that part
    // gives the agent (glibc's mmap threshold, as deploy/'s unit, Dockerfile and DaemonSet set it) is given here,
    // unless --agent-raw-malloc (glibc's default, what `node bin/sockscope.js agent` or a bare executable get)
    const malloc = a['agent-raw-malloc'] ? {} : { GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=131072' };
    const child = spawn(process.execPath, [...nodeArgs, bin, 'agent', '--config', config(ports[k])], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...env, ...malloc, CACHE_DIRECTORY: cache },
    });
    const x = { bin, child, err: '', port: ports[k], scrapes: 0, scrapeBytes: 0, scrapeErrors: 0, exited: new Promise((r) => child.once('exit', r)) };
    child.stderr!.on('data', (d) => (x.err += d));
    return x;
  });
  // Prometheus' scrapes: every agent's /metrics each interval (not counted in the bench's figures but the agents')
  const scrapeMs = Number(a['agent-scrape-seconds']) * 1000;
  const scrape = async () => {
    await Promise.all(
      agents.map(async (x) => {
        if (!x.port) return;
        try {
          const r = await fetch(`http://127.0.0.1:${x.port}/metrics`, {
            headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' },
          });
          x.scrapeBytes = (await r.arrayBuffer()).byteLength;
          if (r.ok) x.scrapes++;
          else x.scrapeErrors++;
        } catch {
          x.scrapeErrors++;
        }
      }),
    );
  };
  const scraper = scrapeMs > 0 ? setInterval(() => void scrape(), scrapeMs) : undefined;
  try {
    // the first gather at start; wait for a second interval boundary so start-up is not counted
    await new Promise((r) => setTimeout(r, 20_000));
    for (const x of agents) if (x.child.exitCode !== null) throw new Error(`agent ${x.bin} exited: ${x.err}`);
    const s0 = agents.map((x) => procStat(x.child.pid!));
    const t0 = agents.map((x) => threadTicks(x.child.pid!));
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const s1 = agents.map((x) => procStat(x.child.pid!));
    const t1 = agents.map((x) => threadTicks(x.child.pid!));
    const wall = (Date.now() - w0) / 1000;
    const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    // the floors: the kernel's dumps of these namespaces over sockets kept open (no setns), in C, every 15 s:
    // every socket dumped (as it was), and what sockscope asks for the same counts
    const fullFloor = floor(pids, true);
    const f = floor(pids, true, 5, a['agent-collectors'] === 'netstat' ? 'count' : 'listening-ports');
    const floorPct = f ? (100 * f.cpu_ms) / 1000 / 15 : undefined;
    // with no churn the default collectors' ESTABLISHED dump is handed out again (EstablishedMemo): the kernel is
    // asked for the other states only, as for netstat alone
    const still = a['agent-collectors'] !== 'netstat' && !(Number(a['agent-churn']) > 0) ? floor(pids, true, 5, 'count') : undefined;
    const stillPct = still ? (100 * still.cpu_ms) / 1000 / 15 : undefined;
    const fullFloorPct = fullFloor ? (100 * fullFloor.cpu_ms) / 1000 / 15 : undefined;
    // what each agent counts, against ss in each namespace
    const expected = ssCounts(pids);
    const checks = await Promise.all(agents.map((x) => checkAgainstSs(x.port, expected)));
    const load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
    agents.forEach((x, k) => {
      const cpuPct = (100 * (s1[k].cpuTicks - s0[k].cpuTicks)) / hz / wall;
      const sysPct = (100 * (s1[k].sysTicks - s0[k].sysTicks)) / hz / wall;
      const name = bins.length > 1 ? ` ${x.bin}` : '';
      const perGather = (ticks: number) => (((1000 * ticks) / hz) * 15) / wall; // ms of CPU per 15 s interval
      console.log(
        `  sockscope agent${name} (${a['agent-collectors']} collectors), 15 s interval, ${seconds} s: cpu ${cpuPct.toFixed(2)}% of a core (target ≤ 1%; user ${perGather(s1[k].cpuTicks - s0[k].cpuTicks - (s1[k].sysTicks - s0[k].sysTicks)).toFixed(0)} ms, system ${perGather(s1[k].sysTicks - s0[k].sysTicks).toFixed(0)} ms per gather), rss ${(s1[k].rssKb / 1024).toFixed(0)} MB, peak ${(s1[k].hwmKb / 1024).toFixed(0)} MB (target ≤ 150 MB); ${x.scrapes} scrapes of ${(x.scrapeBytes / 1e6).toFixed(1)} MB${x.scrapeErrors ? `, ${x.scrapeErrors} failed` : ''}`,
      );
      // where it went, by thread (the main thread is the pid; worker threads and V8's platform threads are all
      // "node": the namespace walker is the one with the system time of the dumps)
      for (const [tid, t] of [...t1[k]].sort((p, q) => q[1].user + q[1].sys - p[1].user - p[1].sys)) {
        const b = t0[k].get(tid);
        const user = t.user - (b?.user ?? 0);
        const sys = t.sys - (b?.sys ?? 0);
        if (user + sys === 0) continue;
        const who = tid === String(x.child.pid) ? 'main' : `${tid} ${t.comm}`;
        console.log(`    thread ${who}: user ${perGather(user).toFixed(1)} ms, system ${perGather(sys).toFixed(1)} ms per gather`);
      }
      const churn = Number(a['agent-churn']) > 0 ? `, churn every ${a['agent-churn']} s` : '';
      const what = `agent${name} ${n} × ${per} TCP, ${a['agent-collectors']} collectors${churn}, 15 s`;
      row(`${what}: CPU over ${seconds} s`, `${cpuPct.toFixed(2)}% of a core (system ${sysPct.toFixed(2)}%)`, '≤ 1%', cpuPct <= 1);
      row('  RSS (peak)', `${(s1[k].rssKb / 1024).toFixed(0)} MB (${(s1[k].hwmKb / 1024).toFixed(0)} MB)`, '≤ 150 MB', s1[k].hwmKb / 1024 <= 150);
      const c = checks[k];
      row('  TCP counts = ss -tanH -4/-6 (per namespace, state, family)', `${c.equal}/${pids.length} namespaces equal`, 'all', c.equal === pids.length);
      if (c.equal !== pids.length) {
        console.log(`  agent ${x.bin} counts wrong: ${c.first}`);
        process.exitCode = 1;
      }
      results[`agent_${a['agent-collectors']}${bins.length > 1 ? `_${k}` : ''}`] = {
        bin: x.bin,
        collectors: a['agent-collectors'],
        namespaces: n,
        sockets_per_namespace: per,
        population: pop,
        seconds: wall,
        loadavg: load,
        cpu_pct: cpuPct,
        sys_pct: sysPct,
        scrapes: x.scrapes,
        scrape_errors: x.scrapeErrors,
        scrape_bytes: x.scrapeBytes,
        rss_mb: s1[k].rssKb / 1024,
        peak_rss_mb: s1[k].hwmKb / 1024,
        floor: {
          c_dumps_cpu_ms_per_gather: f?.cpu_ms,
          cpu_pct: floorPct,
          unchanged_established_cpu_ms_per_gather: still?.cpu_ms,
          unchanged_established_cpu_pct: stillPct,
          full_dump_cpu_ms_per_gather: fullFloor?.cpu_ms,
          full_dump_cpu_pct: fullFloorPct,
        },
        counts_equal_ss: `${c.equal}/${pids.length}`,
      };
    });
    if (f && fullFloor)
      console.log(
        `  floor: the C dumps over kept sockets, ${f.sockets} sockets dumped for ${f.counted} counted: ${f.cpu_ms.toFixed(0)} ms cpu per gather = ${floorPct!.toFixed(2)}% of a core at 15 s; every socket dumped (${fullFloor.sockets}): ${fullFloor.cpu_ms.toFixed(0)} ms = ${fullFloorPct!.toFixed(2)}%; load average ${load}`,
      );
    row(
      '  floor: the kernel dumps alone (C, kept sockets), the same requests',
      floorPct === undefined ? '-' : `${floorPct.toFixed(2)}% (${f!.cpu_ms.toFixed(0)} ms per gather)`,
      '',
      undefined,
    );
    if (still)
      row(
        '  floor, no connection came or went (the other states dumped, ESTABLISHED kept)',
        `${stillPct!.toFixed(2)}% (${still.cpu_ms.toFixed(0)} ms per gather)`,
        '',
        undefined,
      );
    row(
      '  floor as it was: every socket dumped (C, kept sockets)',
      fullFloorPct === undefined ? '-' : `${fullFloorPct.toFixed(2)}% (${fullFloor!.cpu_ms.toFixed(0)} ms per gather)`,
      '',
      undefined,
    );
  } finally {
    clearInterval(scraper);
    for (const x of agents) {
      // an agent that already exited has nothing to wait for (waiting for its 'exit' again would hang the bench)
      if (x.child.exitCode === null && x.child.signalCode === null) x.child.kill('SIGTERM');
      await x.exited;
    }
    rmSync(dir, { recursive: true, force: true });
    await stopHolders();
  }
}

const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  node: process.version,
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
};
try {
  if (a.case === 'gather' || a.case === 'both') await gatherCase(results);
  if (a.case === 'agent' || a.case === 'both') await agentCase(results);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/netns.json'), `${JSON.stringify(results, null, 2)}\n`);
  printTable();
} finally {
  await stopHolders();
}
