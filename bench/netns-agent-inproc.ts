/**
 * `node dist/bench/netns-agent-inproc.js [--tree DIR ...] [--namespaces 100] [--sockets 1500] [--gathers 8]`
 *
 * The agent's gathers over every namespace, per gather, in one process: for each --tree (a checkout's root,
 * built; default this one) an Agent of that tree's dist/src with [netns] enabled and its Prometheus endpoint on
 * 127.0.0.1:0, its gathers driven one after the other (gatherOnce), each followed by one scrape of /metrics in
 * Prometheus' format (OpenMetrics), the trees alternated gather by gather so both see the same load. Reports
 * the CPU (user and system of the whole process: every thread) of each tree's gather + scrape, median over the
 * gathers after the first two (the scrapes, by a python3 process, are served by the agent's event loop while this
 * waits), and checks the trees' expositions are the same bytes (the sample values of a
 * still population: equal). Two trees in one process share its main thread's heap (their agents' main-thread
 * collections are one): for what a build does on the main thread, run one tree at a time. The CPU of each thread
 * during each tree's gathers is printed per tree (each agent's walker thread is busy during its own only). Run with `node --cpu-prof --cpu-prof-dir=DIR` for a profile per thread.
 *
 * The population is bench/netns.ts's agent case (bench/netns-holder.py, no TIME_WAIT, a private TCP hash table
 * per namespace), in a private pid and mount namespace as there. Needs root. Not part of `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isolate } from './netns-isolate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOLDER = join(ROOT, 'bench/netns-holder.py');

const { values: a } = parseArgs({
  options: {
    tree: { type: 'string', multiple: true, default: [] },
    namespaces: { type: 'string', default: '100' },
    sockets: { type: 'string', default: '1500' },
    gathers: { type: 'string', default: '8' },
  },
});

if (process.getuid?.() !== 0) {
  console.log('bench/netns-agent-inproc: needs root; skipped');
  process.exit(0);
}
isolate(); // a private pid and mount namespace (bench/netns-isolate.ts)
delete process.env.SOCKSCOPE_NETNS_BENCH_ISOLATED; // the agent's config refuses SOCKSCOPE_ variables that name no setting

const per = Number(a.sockets);
const listen = Math.max(1, Math.round(per * 0.02));
const closewait = Math.round(per * 0.025);
const estab = Math.floor((per - listen - 2 * closewait) / 2);
const holders: ChildProcess[] = [];
const one = () =>
  new Promise<void>((res, rej) => {
    const c = spawn(
      'python3',
      [HOLDER, '--listen', `${listen}`, '--estab', `${estab}`, '--closewait', `${closewait}`, '--timewait', '0', '--private-ehash', '4096'],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    holders.push(c);
    createInterface({ input: c.stdout! })
      [Symbol.asyncIterator]()
      .next()
      .then(() => res(), rej);
    c.once('exit', (code) => rej(new Error(`holder exited (${code})`)));
  });
const n = Number(a.namespaces);
for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, one));
console.log(`${n} namespaces × ${per} TCP sockets`);

const dir = mkdtempSync(join(tmpdir(), 'netns-agent-inproc-'));
const conf = join(dir, 'sockscope.toml');
writeFileSync(conf, '[agent]\ninterval = "1h"\n\n[outputs.prometheus]\nlisten = ["127.0.0.1:0"]\n\n[netns]\nenabled = true\n');
const trees = (a.tree.length ? a.tree : [ROOT]).map((t) => resolve(t));
interface Side {
  tree: string;
  agent: { start(): Promise<void>; stop(): Promise<void>; gatherOnce(): Promise<unknown>; addresses(): string[] };
  user: number[];
  sys: number[];
  body?: Buffer;
  /** CPU ticks per thread during this side's gathers (after the first two) */
  byThread: Map<string, { user: number; sys: number }>;
}
const sides: Side[] = [];
for (const tree of trees) {
  const mod = (p: string) => import(pathToFileURL(join(tree, 'dist/src', p)).href);
  const { loadConfig } = await mod('config/load.js');
  const { Agent } = await mod('agent/agent.js');
  const agent = new Agent(loadConfig({ file: conf }), { version: 'bench', log: () => {} });
  await agent.start();
  sides.push({ tree, agent, user: [], sys: [], byThread: new Map() });
}
// Prometheus scrapes from a process of their own (python3), so that receiving 5 MB is not counted as the agent's CPU
const scraper = spawn(
  'python3',
  [
    '-c',
    `import sys, urllib.request
for url in sys.stdin:
    r = urllib.request.urlopen(urllib.request.Request(url.strip(), headers={'Accept': 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'}))
    body = r.read()
    open(url.strip().split('#')[1], 'wb').write(body)
    print(len(body), flush=True)`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const scraped = createInterface({ input: scraper.stdout! })[Symbol.asyncIterator]();
const scrape = async (s: Side, k: number) => {
  const file = join(dir, `body-${k}`);
  scraper.stdin!.write(`http://${s.agent.addresses()[0]}/metrics#${file}\n`);
  await scraped.next();
  return file;
};
const gathers = Number(a.gathers);
/** CPU ticks (user, system) of each thread of this process, by tid (with its name) */
const threads = () => {
  const m = new Map<string, { comm: string; user: number; sys: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(tid, { comm: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')), user: Number(f[11]), sys: Number(f[12]) });
    } catch {}
  }
  return m;
};
try {
  for (const [k, s] of sides.entries()) await scrape(s, k); // waits for the gather the agent starts with

  for (let g = 0; g < gathers + 2; g++) {
    for (const [k, s] of sides.entries()) {
      const c0 = process.cpuUsage();
      const t0 = threads();
      await s.agent.gatherOnce();
      const body = await scrape(s, k);
      const c = process.cpuUsage(c0);
      if (g >= 2) {
        for (const [tid, t] of threads()) {
          const b = t0.get(tid);
          const name = `${tid === String(process.pid) ? 'main' : tid} ${t.comm}`;
          const x = s.byThread.get(name) ?? { user: 0, sys: 0 };
          s.byThread.set(name, { user: x.user + t.user - (b?.user ?? 0), sys: x.sys + t.sys - (b?.sys ?? 0) });
        }
      }
      s.body = readFileSync(body);
      if (g >= 2) {
        s.user.push(c.user / 1000);
        s.sys.push(c.system / 1000);
      }
      await new Promise((r) => setTimeout(r, 500)); // the agent is idle between gathers
    }
  }
} finally {
  for (const s of sides) await s.agent.stop();
  for (const h of holders) h.kill('SIGKILL');
  scraper.kill();
  rmSync(dir, { recursive: true, force: true });
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
// the namespaces' samples (the host's own sockets, shared with the machine, come and go), no self-metrics
const samples = (b: Buffer) =>
  b
    .toString()
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('sockscope_') &&
        l.includes('netns="') &&
        !/^sockscope_(netns_(namespaces|discovery|walk|series|denied|vanished|tcp_mem)|agent_|gather|collector_|snapshot_|last_|build_|http_|dump_|sockets_seen)/.test(
          l,
        ),
    )
    .join('\n');
for (const s of sides) {
  console.log(
    `${s.tree}: per gather (gather + one scrape) user ${median(s.user).toFixed(1)} ms, system ${median(s.sys).toFixed(1)} ms (median of ${s.user.length}; user ${s.user.map((x) => x.toFixed(0)).join(' ')}); /metrics ${s.body?.length} bytes`,
  );
}
// where each tree's CPU went, by thread (ticks of 10 ms, summed over its gathers: coarse). A thread busy during
// one tree's gathers only is that tree's (its agent's walker); main and V8's platform threads serve both.
for (const s of sides) {
  console.log(`${s.tree}: by thread, during its gathers`);
  const busy = [...s.byThread].filter(([, t]) => t.user + t.sys > 0).sort((p, q) => q[1].user + q[1].sys - p[1].user - p[1].sys);
  for (const [k, t] of busy)
    console.log(`  thread ${k}: user ${((t.user * 10) / gathers).toFixed(1)} ms, system ${((t.sys * 10) / gathers).toFixed(1)} ms per gather`);
}
if (sides.length > 1) {
  const equal = sides.every((s) => samples(s.body!) === samples(sides[0].body!));
  console.log(`expositions (gathered samples) equal: ${equal}`);
  if (!equal) {
    sides.forEach((s, k) => writeFileSync(join(tmpdir(), `netns-agent-inproc-${k}.txt`), samples(s.body!)));
    console.log(`  their samples: ${join(tmpdir(), 'netns-agent-inproc-{0,1}.txt')}`);
  }
}
process.exit(0);
