/**
 * Shared pieces of the agent tests:
 *   - AgentProcess: `sockscope agent` as a child process (the real CLI), in this network namespace or, through
 *     nsenter, in a test namespace; its JSON log lines (stderr) and stdout collected; the address it listens on
 *     read from its 'serving metrics' log line (so tests can ask for port 0); stopped by pid.
 *   - Daemon: any server process (prometheus, influxd) started by the test and stopped by pid (and killed by the
 *     kernel if the test process dies: setpriv --pdeathsig).
 *   - NsBridge: a forwarder inside a test namespace from a unix socket on the filesystem (reachable from every
 *     network namespace) to 127.0.0.1:<port> inside it, so this process can talk HTTP to servers in there.
 *   - request(): a plain HTTP(S) client (node:http) over TCP or a unix socket, no connection reuse.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PopulationNetns } from './netns.js';
import { until } from './wait.js';

export const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sockscope-${prefix}-`));
}

/** An environment without any SOCKSCOPE_* or ENV_INPUT_* variable of ours leaking into the agent. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('SOCKSCOPE_') || k.startsWith('ENV_INPUT_') || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

let pdeathsig: boolean | undefined;
/**
 * The command line that runs `file args` in `ns` (or here), under `wrap` (e.g. setpriv to drop privileges).
 * nsenter and setpriv exec the next command, so the pid is the command's and its parent is this process; the
 * command gets SIGKILL if this process dies (setpriv --pdeathsig, innermost: a change of uid would clear it).
 */
function commandIn(ns: PopulationNetns | undefined, file: string, args: readonly string[], wrap: readonly string[] = []): [string, string[]] {
  pdeathsig ??= spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  const inner = [...wrap, ...(pdeathsig ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : []), file, ...args];
  const full = ns ? ['nsenter', ...ns.enterArgs(), '--', ...inner] : inner;
  return [full[0], full.slice(1)];
}

// ---------------------------------------------------------------------------------------------------------
// processes

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process the test owns: output collected, stopped by its pid (SIGTERM, then SIGKILL). */
export class Daemon {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    o: { ns?: PopulationNetns; env?: Record<string, string>; cwd?: string; wrap?: readonly string[] } = {},
  ) {
    const [cmd, argv] = commandIn(o.ns, file, args, o.wrap);
    this.child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? cleanEnv(), cwd: o.cwd });
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => this.onStdout(c));
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => this.onStderr(c));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve((this.exit = { code, signal })));
      this.child.once('error', (e) => {
        this.stderr += `spawn error: ${e.message}\n`;
        resolve((this.exit = { code: null, signal: null }));
      });
    });
  }

  protected onStdout(c: string): void {
    this.stdout += c;
  }
  protected onStderr(c: string): void {
    this.stderr += c;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** Send `sig`; SIGKILL after graceMs. Resolves with how it ended and how long that took. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<Exit & { ms: number }> {
    const t0 = Date.now();
    if (this.running) {
      process.kill(this.pid, sig);
      const timer = setTimeout(() => this.running && process.kill(this.pid, 'SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return { ...(await this.exited), ms: Date.now() - t0 };
  }

  /** The tail of what it printed, for assertion messages. */
  tail(n = 2000): string {
    return `--- ${this.name} stderr ---\n${this.stderr.slice(-n)}\n--- ${this.name} stdout ---\n${this.stdout.slice(-n)}`;
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** `node bin/sockscope.js agent ARGS` (in `ns` when given), with its pino log lines parsed. */
export class AgentProcess extends Daemon {
  readonly logs: LogLine[] = [];
  private partial = '';
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  /** `wrap`: a command line to run node under (e.g. setpriv ...). */
  constructor(args: readonly string[], o: { ns?: PopulationNetns; env?: Record<string, string>; cwd?: string; wrap?: readonly string[] } = {}) {
    super('sockscope agent', process.execPath, [BIN, 'agent', ...args], o);
  }

  protected override onStderr(c: string): void {
    super.onStderr(c);
    this.partial += c;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let l: LogLine;
      try {
        l = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      this.logs.push(l);
      this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
    }
  }

  /** The first log line (already seen or to come) that satisfies pred. */
  waitLog(what: string, pred: (l: LogLine) => boolean, timeoutMs = 10_000, from = 0): Promise<LogLine> {
    const seen = this.logs.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for the agent to log ${what}\n${this.tail()}`)), timeoutMs);
      const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      this.waiters.push(w);
      void this.exited.then(() => {
        if (this.waiters.includes(w)) {
          clearTimeout(timer);
          reject(new Error(`the agent exited before logging ${what}\n${this.tail()}`));
        }
      });
    });
  }

  /** Where it serves /metrics: the addresses of its last 'serving metrics' line after log index `from`. */
  async listening(timeoutMs = 10_000, from = 0): Promise<string> {
    const l = await this.waitLog("'serving metrics'", (x) => x.msg === 'serving metrics', timeoutMs, from);
    return (l.listen as string[])[0];
  }

  count(msg: string | RegExp): number {
    return this.logs.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg))).length;
  }
}

/** Run `sockscope ARGS` to completion (config sample/show, a failing agent start). */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 15_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

export interface Target {
  /** TCP port on 127.0.0.1 (this namespace) */
  port?: number;
  host?: string;
  /** or a unix socket (NsBridge) */
  socketPath?: string;
  tls?: { ca?: Buffer; rejectUnauthorized?: boolean; cert?: Buffer; key?: Buffer };
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

export function targetOf(address: string): Target {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(i + 1)) };
}

/** One request on a fresh connection. */
export function request(
  t: Target,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<Response> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const lib = t.tls ? https : http;
    const req = lib.request(
      {
        host: t.socketPath ? undefined : (t.host ?? '127.0.0.1'),
        port: t.port,
        socketPath: t.socketPath,
        path,
        method: o.method ?? 'GET',
        headers: { ...(o.headers ?? {}) },
        agent: false,
        ca: t.tls?.ca,
        cert: t.tls?.cert,
        key: t.tls?.key,
        rejectUnauthorized: t.tls?.rejectUnauthorized ?? true,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Wait until the agent at `t` has gathered once (its /api/snapshot says so). */
export async function firstGather(t: Target, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<void> {
  await until(
    'the first gather',
    async () => {
      const r = await request(t, '/api/snapshot', { headers });
      return r.status === 200 && JSON.parse(r.body).gathered === true ? true : undefined;
    },
    timeoutMs,
    50,
  );
}

/** The value of one sample in a text exposition: `name{labels}` matched on every given label. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

/** Every metric family name a text exposition declares (# TYPE lines). */
export function familyNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]));
}

// ---------------------------------------------------------------------------------------------------------
// namespaces

const FORWARDER = `
const net = require('node:net');
const [path, port] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect(Number(port), '127.0.0.1');
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
server.listen(path, () => process.stdout.write('ready\\n'));
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
`;

/**
 * A forwarder in `ns` from a unix socket (a filesystem path: reachable from any network namespace) to
 * 127.0.0.1:port in there. Its connections to the server are IPv4 loopback connections inside the namespace.
 */
export class NsBridge {
  private constructor(
    readonly daemon: Daemon,
    readonly socketPath: string,
    private readonly dir: string,
  ) {}

  static async start(ns: PopulationNetns, port: number): Promise<NsBridge> {
    const dir = tempDir('bridge');
    const socketPath = join(dir, 'http.sock');
    const d = new Daemon(`bridge to ${port}`, process.execPath, ['-e', FORWARDER, socketPath, String(port)], { ns });
    await until(
      `the bridge to port ${port}`,
      () => (d.stdout.includes('ready') ? true : d.running ? undefined : Promise.reject(new Error(d.tail()))),
      10_000,
      20,
    );
    return new NsBridge(d, socketPath, dir);
  }

  get target(): Target {
    return { socketPath: this.socketPath };
  }

  async stop(): Promise<void> {
    await this.daemon.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TCP port nobody listens on in `ns`, below the ephemeral range (the namespace is ours: only the population uses ports there, all ephemeral). */
export async function freePortIn(ns: PopulationNetns, taken: readonly number[] = []): Promise<number> {
  const out = await ns.check('ss', ['-Htan']);
  const used = new Set([...out.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
  for (let p = 20000; p < 30000; p++) if (!used.has(p) && !taken.includes(p)) return p;
  throw new Error('no free port in the namespace');
}

/** A free TCP port on 127.0.0.1 in this namespace (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * An influxd 1.x configuration for a test (no reporting, no monitor store, no continuous queries, quiet logs),
 * its data under `dir`, its HTTP API on 127.0.0.1:httpPort (basic auth with `auth`, https with `tls`).
 */
export function influxdConfig(o: { dir: string; httpPort: number; rpcPort: number; auth?: boolean; tls?: { cert: string; key: string } }): string {
  const http = [
    `  bind-address = "127.0.0.1:${o.httpPort}"`,
    ...(o.auth ? ['  auth-enabled = true'] : []),
    ...(o.tls ? ['  https-enabled = true', `  https-certificate = "${o.tls.cert}"`, `  https-private-key = "${o.tls.key}"`] : []),
    '  log-enabled = false',
  ];
  return `reporting-enabled = false
bind-address = "127.0.0.1:${o.rpcPort}"
[meta]
  dir = "${o.dir}/meta"
[data]
  dir = "${o.dir}/data"
  wal-dir = "${o.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
${http.join('\n')}
[continuous_queries]
  enabled = false
`;
}

/**
 * A self-signed EC certificate and its key, written into `dir` by openssl (for 127.0.0.1, valid one day); asserts
 * that openssl succeeded.
 */
export function selfSignedCert(dir: string, o: { key?: string; cert?: string; cn?: string; ipSan?: boolean } = {}): void {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-keyout', join(dir, o.key ?? 'key.pem'), '-out', join(dir, o.cert ?? 'cert.pem'), '-days', '1', '-subj', `/CN=${o.cn ?? 'localhost'}`);
  if (o.ipSan ?? true) args.push('-addext', 'subjectAltName=IP:127.0.0.1');
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}
