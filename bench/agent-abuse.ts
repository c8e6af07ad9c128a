/**
 * `npm run build && node dist/bench/agent-abuse.js [--node-exporter PATH] [--clients 40] [--scrapes 40]`
 *
 * The agent under abuse, the figures of issue 16 (on 127.0.0.1 of this namespace, each agent on port 0):
 *
 *   auth    a scrape's latency (median, p90, max; sequential scrapes 100 ms apart with the right password, so from
 *           the credentials cache) while --clients clients send wrong passwords (a new one each time, bcrypt cost
 *           10) as fast as they are answered. Side by side with node_exporter (exporter-toolkit) given the same
 *           web config, when --node-exporter PATH (Debian's prometheus-node-exporter) is given or on PATH.
 *   idle    the agent with its fd limit at 1,024 (prlimit) while another process holds 1,100 idle connections to
 *           it (re-opening those closed): scrapes answered out of 20, and their latency.
 *   sighup  scrapes on fresh connections, back to back, while the agent gets 10 SIGHUPs (300 ms apart, unchanged
 *           configuration): failed scrapes out of all.
 *
 * The fourth figure (kill -9 during an InfluxDB outage with the disk buffer: points lost) needs a real influxd:
 * test/agent/influxdb.test.ts measures it. Prints one JSON document; not part of npm test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/sockscope.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function get(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<{ status: number | string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: e.message, ms: performance.now() - t0 }));
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `sockscope agent ARGS` (under `wrap`); resolves with the child and its port once it serves. */
async function agent(args: string[], wrap: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const cmd = [...wrap, process.execPath, BIN, 'agent', '--listen', '127.0.0.1:0', ...args];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      const m = /"listen":\["127\.0\.0\.1:(\d+)"\]/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`agent exited: ${err}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

const basic = (u: string, p: string) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

/** Scrape latency with `clients` wrong-password clients hammering `port`. */
async function underWrongPasswords(port: number, clients: number, scrapes: number, path: string) {
  const good = basic('prometheus', 'correct horse');
  // the first scrape with the right password fills the credentials cache (both tools have one)
  for (let i = 0; i < 30 && (await get(port, path, good)).status !== 200; i++) await sleep(200);
  let hammering = true;
  let wrong = 0;
  const hammer = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; hammering; i++) {
      await get(port, path, basic('prometheus', `guess-${c}-${i}`), 30_000);
      wrong++;
    }
  });
  await sleep(1000);
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < scrapes; i++) {
    const r = await get(port, path, good);
    if (r.status !== 200) failed++;
    times.push(r.ms);
    await sleep(100);
  }
  hammering = false;
  await Promise.all(hammer);
  return {
    scrapes,
    failed,
    wrongPasswordRequests: wrong,
    medianMs: Math.round(q(times, 0.5)),
    p90Ms: Math.round(q(times, 0.9)),
    maxMs: Math.round(Math.max(...times)),
  };
}

const HOLDER = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let stopping = false;
function hold() {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.on('close', () => { if (!stopping) setTimeout(hold, 20); });
}
for (let i = 0; i < n; i++) hold();
setTimeout(() => process.stdout.write('held\\n'), 3000);
`;

async function main() {
  const { values: v } = parseArgs({
    options: { 'node-exporter': { type: 'string' }, clients: { type: 'string', default: '40' }, scrapes: { type: 'string', default: '40' } },
  });
  const clients = Number(v.clients);
  const scrapes = Number(v.scrapes);
  const dir = mkdtempSync(join(tmpdir(), 'sockscope-harden-bench-'));
  const out: Record<string, unknown> = {
    loadavg: (await import('node:os')).loadavg().map((x) => x.toFixed(2)),
    cpus: (await import('node:os')).availableParallelism(),
  };
  try {
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('correct horse', 10)}\n`);
    // auth: sockscope
    {
      const a = await agent(['--interval', '10s', '--web-config', join(dir, 'web.yml')]);
      out.auth_sockscope = await underWrongPasswords(a.port, clients, scrapes, '/metrics');
      await stop(a.child);
    }
    // auth: node_exporter, same web config
    const ne = v['node-exporter'] ?? (spawnSync('which', ['prometheus-node-exporter'], { encoding: 'utf8' }).stdout.trim() || undefined);
    if (ne) {
      const port = await freePort();
      const child = spawn(
        ne,
        [`--web.listen-address=127.0.0.1:${port}`, `--web.config.file=${join(dir, 'web.yml')}`, '--collector.disable-defaults', '--collector.tcpstat'],
        { stdio: 'ignore' },
      );
      await sleep(1000);
      out.auth_node_exporter = await underWrongPasswords(port, clients, scrapes, '/metrics');
      child.kill('SIGTERM');
    } else out.auth_node_exporter = 'not run: give --node-exporter PATH (Debian prometheus-node-exporter)';

    // idle: fd limit 1,024, 1,100 idle connections
    {
      const a = await agent(['--interval', '1s'], ['prlimit', '--nofile=1024:1024', '--']);
      const holder = spawn('prlimit', ['--nofile=4096:4096', '--', process.execPath, '-e', HOLDER, String(a.port), '1100'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      await new Promise((r) => holder.stdout!.once('data', r));
      const times: number[] = [];
      let answered = 0;
      for (let i = 0; i < 20; i++) {
        const r = await get(a.port, '/metrics', {}, 5000);
        if (r.status === 200) answered++;
        times.push(r.ms);
        await sleep(100);
      }
      holder.kill('SIGKILL');
      out.idle_connections = {
        fdLimit: 1024,
        idleConnections: 1100,
        scrapes: 20,
        answered,
        medianMs: Math.round(q(times, 0.5)),
        maxMs: Math.round(Math.max(...times)),
      };
      await stop(a.child);
    }

    // sighup: 10 reloads during back-to-back scrapes
    {
      const a = await agent(['--interval', '1s']);
      await sleep(1500);
      let scraping = true;
      let total = 0;
      let failed = 0;
      const scraper = (async () => {
        while (scraping) {
          const r = await get(a.port, '/metrics', {}, 5000);
          total++;
          if (r.status !== 200) failed++;
        }
      })();
      for (let i = 0; i < 10; i++) {
        a.child.kill('SIGHUP');
        await sleep(300);
      }
      await sleep(1000);
      scraping = false;
      await scraper;
      out.sighup = { sighups: 10, scrapes: total, failed };
      await stop(a.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
