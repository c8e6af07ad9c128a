/**
 * A real Zabbix 6.0 server for the tests, owned by them: PostgreSQL (initdb'd once into a cached tarball, then a
 * fresh copy per run, unix socket only), zabbix_server with a generated configuration, and the frontend's
 * JSON-RPC API served by `php -S`, all in a network namespace of their own (`srv`). The monitored side lives in
 * other namespaces; TCP between them goes through unix-socket relays (a unix socket on the file system is
 * reachable from every network namespace), so no address outside loopback is ever used.
 *
 * The binaries come from Debian's zabbix-server-pgsql and zabbix-frontend-php, unpacked by .ci/run into
 * /opt/sockscope-ci/zabbix-server (SOCKSCOPE_ZABBIX_SERVER, SOCKSCOPE_ZABBIX_FRONTEND, SOCKSCOPE_ZABBIX_SCHEMA),
 * PostgreSQL and PHP from apt. Without them the suite skips with the reason; under CI it fails.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, request, tempDir, type Target } from '../helpers/agent.js';
import { CI_PREFIX } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';
import type { PopulationNetns } from '../helpers/netns.js';

export interface StackPaths {
  server: string;
  frontend: string;
  schema: string;
  php: string;
  pgBin: string;
}

/** The binaries, or why not (a skip reason; under CI an error). */
export function findStack(): { paths: StackPaths; skip?: undefined } | { paths?: undefined; skip: string } {
  const prefix = join(CI_PREFIX, 'zabbix-server');
  const server = process.env.SOCKSCOPE_ZABBIX_SERVER ?? join(prefix, 'bin/zabbix_server');
  const frontend = process.env.SOCKSCOPE_ZABBIX_FRONTEND ?? join(prefix, 'usr/share/zabbix');
  const schema = process.env.SOCKSCOPE_ZABBIX_SCHEMA ?? join(prefix, 'usr/share/zabbix-server-pgsql');
  const php = spawnSync('sh', ['-c', 'command -v php'], { encoding: 'utf8' }).stdout.trim();
  const pgVersions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const missing = [
    process.getuid?.() === 0 ? '' : 'root (to run PostgreSQL as its own user and make network namespaces)',
    existsSync(server) ? '' : `zabbix_server (${server})`,
    existsSync(join(frontend, 'api_jsonrpc.php')) ? '' : `the Zabbix frontend (${frontend})`,
    existsSync(join(schema, 'schema.sql.gz')) ? '' : `the schema SQL (${schema})`,
    php ? '' : 'php (php-cli, php-pgsql)',
    pgVersions.length ? '' : 'PostgreSQL (/usr/lib/postgresql/*/bin/initdb)',
    spawnSync('id', ['postgres'], { stdio: 'ignore' }).status === 0 ? '' : 'the postgres user',
  ].filter(Boolean);
  if (missing.length) {
    const reason = `a Zabbix 6.0 server cannot be had here: missing ${missing.join(', ')}; run .ci/run (it installs PostgreSQL and PHP and unpacks zabbix-server-pgsql and zabbix-frontend-php)`;
    if (process.env.CI) throw new Error(`${reason} — CI must have it`);
    return { skip: reason };
  }
  return { paths: { server, frontend, schema, php, pgBin: `/usr/lib/postgresql/${pgVersions[0]}/bin` } };
}

// ---------------------------------------------------------------------------------------------------------
// namespaces

/** A bare network namespace (lo up) held by a `sleep` under `unshare -n`; entered with nsenter. */
export class Netns {
  private constructor(
    readonly name: string,
    private readonly holder: ChildProcess,
  ) {}

  static async start(name: string, lifetimeS = 900): Promise<Netns> {
    const holder = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && echo ready && exec setpriv --pdeathsig SIGKILL sleep ${lifetimeS}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    holder.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    holder.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await until(`namespace ${name}`, () => (out.includes('ready') ? true : holder.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 10_000, 20);
    return new Netns(name, holder);
  }

  get pid(): number {
    return this.holder.pid!;
  }

  enterArgs(): string[] {
    return [`--net=/proc/${this.pid}/ns/net`];
  }

  /** For the helpers that take a population namespace: they only enter it (enterArgs). */
  get asNs(): PopulationNetns {
    return this as unknown as PopulationNetns;
  }

  /** Run a command inside, to completion; its stdout. */
  run(file: string, args: readonly string[], timeoutMs = 20_000): string {
    return execFileSync('nsenter', [...this.enterArgs(), '--', file, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 << 20,
    });
  }

  async stop(): Promise<void> {
    if (this.holder.exitCode === null) {
      const exited = new Promise((r) => this.holder.once('exit', r));
      this.holder.kill('SIGKILL');
      await exited;
    }
  }
}

const RELAY = `
const net = require('node:net');
const [mode, from, to] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = mode === 'tcp-to-unix' ? net.connect(to) : net.connect(Number(to), '127.0.0.1');
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
if (mode === 'tcp-to-unix') server.listen(Number(from), '127.0.0.1', () => process.stdout.write('ready\\n'));
else server.listen(from, () => process.stdout.write('ready\\n'));
`;

/**
 * 127.0.0.1:port in namespace `from` reaches 127.0.0.1:port in namespace `to` (two relays and a unix socket).
 * Connections arrive in `to` from 127.0.0.1.
 */
export async function linkPort(from: Netns, to: Netns, port: number, dir: string): Promise<Daemon[]> {
  const path = join(dir, `zbx-${from.name}-${to.name}-${port}.sock`);
  const back = new Daemon(`relay ${path} → ${to.name}:${port}`, process.execPath, ['-e', RELAY, 'unix-to-tcp', path, String(port)], { ns: to.asNs });
  await until(back.name, () => (back.stdout.includes('ready') ? true : back.running ? undefined : Promise.reject(new Error(back.tail()))), 10_000, 20);
  const front = new Daemon(`relay ${from.name}:${port} → ${path}`, process.execPath, ['-e', RELAY, 'tcp-to-unix', String(port), path], { ns: from.asNs });
  await until(front.name, () => (front.stdout.includes('ready') ? true : front.running ? undefined : Promise.reject(new Error(front.tail()))), 10_000, 20);
  return [back, front];
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

const PG_USER = 'postgres';
const asPostgres = ['setpriv', `--reuid=${PG_USER}`, `--regid=${PG_USER}`, '--init-groups', '--'];
const DB_CACHE = join(CI_PREFIX, 'zabbix-server-db');

/** A tarball of an initialized, stopped data directory with Zabbix's schema, images and data loaded. */
function cachedDatabase(p: StackPaths, log: (s: string) => void): string {
  const files = ['schema.sql.gz', 'images.sql.gz', 'data.sql.gz'].map((f) => join(p.schema, f));
  const version = execFileSync(join(p.pgBin, 'postgres'), ['--version'], { encoding: 'utf8' });
  const key = createHash('sha256')
    .update(version + files.map((f) => `${f}:${statSync(f).size}:${statSync(f).mtimeMs}`).join())
    .digest('hex')
    .slice(0, 16);
  const tarball = join(DB_CACHE, `zabbix-pgdata-${key}.tar`);
  if (existsSync(tarball)) return tarball;
  const t0 = Date.now();
  const dir = tempDir('zbx-dbinit');
  chmodSync(dir, 0o755);
  chownSync(dir, Number(execFileSync('id', ['-u', PG_USER], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', PG_USER], { encoding: 'utf8' })));
  const pg = (bin: string, args: string[]) =>
    execFileSync(asPostgres[0], [...asPostgres.slice(1), join(p.pgBin, bin), ...args], { encoding: 'utf8', timeout: 120_000, cwd: dir });
  try {
    pg('initdb', ['-D', join(dir, 'data'), '-U', 'zabbix', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    pg('pg_ctl', ['-D', join(dir, 'data'), '-o', `-k ${dir} -c listen_addresses= -c fsync=off -c full_page_writes=off`, '-l', join(dir, 'log'), '-w', 'start']);
    try {
      execFileSync('psql', ['-h', dir, '-U', 'zabbix', '-d', 'postgres', '-qc', 'create database zabbix'], { timeout: 30_000 });
      for (const f of files)
        execFileSync('sh', ['-c', `zcat '${f}' | psql -h '${dir}' -U zabbix -d zabbix -q -v ON_ERROR_STOP=1 >/dev/null`], { timeout: 180_000 });
    } finally {
      pg('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
    }
    mkdirSync(DB_CACHE, { recursive: true });
    execFileSync('tar', ['-C', dir, '-cf', `${tarball}.tmp`, 'data']);
    renameSync(`${tarball}.tmp`, tarball);
    log(`zabbix database initialized and cached in ${Date.now() - t0} ms (${tarball})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tarball;
}

// ---------------------------------------------------------------------------------------------------------
// the stack

export interface ApiError extends Error {
  data?: unknown;
}

export class ZabbixStack {
  private readonly daemons: Daemon[] = [];
  private token = '';
  private id = 0;
  api!: Target;
  readonly dir: string;

  private constructor(
    readonly p: StackPaths,
    readonly ns: Netns,
  ) {
    this.dir = tempDir('zbx-srv');
    chmodSync(this.dir, 0o755);
  }

  /** Start PostgreSQL, zabbix_server and `php -S` in `ns`; log in to the API. */
  static async start(p: StackPaths, ns: Netns, log: (s: string) => void): Promise<ZabbixStack> {
    const s = new ZabbixStack(p, ns);
    try {
      await s.boot(log);
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  private async boot(log: (s: string) => void): Promise<void> {
    const { p, ns, dir } = this;
    const t0 = Date.now();
    const tarball = cachedDatabase(p, log);
    execFileSync('tar', ['-C', dir, '-xf', tarball]);
    const uid = Number(execFileSync('id', ['-u', PG_USER], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', PG_USER], { encoding: 'utf8' }));
    execFileSync('chown', ['-R', `${uid}:${gid}`, join(dir, 'data')]);
    const pgSock = join(dir, 'pg');
    mkdirSync(pgSock);
    chownSync(pgSock, uid, gid);
    const pg = new Daemon(
      'postgres',
      join(p.pgBin, 'postgres'),
      ['-D', join(dir, 'data'), '-k', pgSock, '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { ns: ns.asNs, wrap: asPostgres, cwd: dir },
    );
    this.daemons.push(pg);
    await until(
      'postgres to accept connections',
      () => {
        if (!pg.running) throw new Error(pg.tail());
        return spawnSync(join(p.pgBin, 'pg_isready'), ['-h', pgSock, '-U', 'zabbix', '-d', 'zabbix'], { stdio: 'ignore' }).status === 0 ? true : undefined;
      },
      30_000,
      100,
    );
    writeFileSync(
      join(dir, 'zabbix_server.conf'),
      [
        'LogType=console',
        `PidFile=${join(dir, 'zabbix_server.pid')}`,
        `SocketDir=${dir}`,
        `DBHost=${pgSock}`,
        'DBName=zabbix',
        'DBUser=zabbix',
        'AllowRoot=1',
        'ListenIP=127.0.0.1',
        'ListenPort=10051',
        'Timeout=4',
        // small: a 2-CPU machine shared with other suites; the caches sync every second so new hosts and
        // discovered items are accepted promptly
        'StartPollers=2',
        'StartPollersUnreachable=1',
        'StartTrappers=2',
        'StartPingers=0',
        'StartDiscoverers=0',
        'StartHTTPPollers=0',
        'StartTimers=1',
        'StartEscalators=1',
        'StartAlerters=1',
        'StartLLDProcessors=1',
        'StartPreprocessors=1',
        'StartDBSyncers=1',
        'StartHistoryPollers=1',
        'StartReportWriters=0',
        'StartODBCPollers=0',
        'CacheUpdateFrequency=1',
        'HousekeepingFrequency=0',
        'ProblemHousekeepingFrequency=3600',
        'UnreachablePeriod=3600',
        'UnavailableDelay=1',
        'UnreachableDelay=1',
        '',
      ].join('\n'),
    );
    const server = new Daemon('zabbix_server', p.server, ['-f', '-c', join(dir, 'zabbix_server.conf')], { ns: ns.asNs, cwd: dir });
    this.daemons.push(server);
    await until(
      'zabbix_server to listen on 10051',
      () => {
        if (!server.running) throw new Error(server.tail());
        return /:10051\b/.test(ns.run('ss', ['-Hltn'])) ? true : undefined;
      },
      60_000,
      200,
    );
    const php = new Daemon('php -S', p.php, ['-S', '127.0.0.1:8080', '-t', p.frontend], {
      ns: ns.asNs,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SOCKSCOPE_ZBX_DB_HOST: pgSock, SOCKSCOPE_ZBX_DB_USER: 'zabbix' },
    });
    this.daemons.push(php);
    await until(
      'php -S to listen on 8080',
      () => {
        if (!php.running) throw new Error(php.tail());
        return /:8080\b/.test(ns.run('ss', ['-Hltn'])) ? true : undefined;
      },
      20_000,
      100,
    );
    const bridge = new Daemon('api bridge', process.execPath, ['-e', RELAY, 'unix-to-tcp', join(dir, 'api.sock'), '8080'], { ns: ns.asNs });
    this.daemons.push(bridge);
    await until(
      'the API bridge',
      () => (bridge.stdout.includes('ready') ? true : bridge.running ? undefined : Promise.reject(new Error(bridge.tail()))),
      10_000,
      20,
    );
    this.api = { socketPath: join(dir, 'api.sock') };
    this.version = await this.call<string>('apiinfo.version', {});
    this.token = await this.call<string>('user.login', { username: 'Admin', password: 'zabbix' });
    log(`zabbix ${this.version} up in ${Date.now() - t0} ms`);
  }

  version: string | undefined;

  /** One JSON-RPC call; throws with Zabbix's message and data on an error. */
  async call<T = any>(method: string, params: unknown): Promise<T> {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      method,
      params,
      id: ++this.id,
      ...(this.token && method !== 'user.login' && method !== 'apiinfo.version' ? { auth: this.token } : {}),
    });
    const r = await request(this.api, '/api_jsonrpc.php', { method: 'POST', headers: { 'content-type': 'application/json-rpc' }, body, timeoutMs: 180_000 });
    let doc: { result?: T; error?: { message: string; data: unknown } };
    try {
      doc = JSON.parse(r.body);
    } catch {
      throw new Error(`${method}: HTTP ${r.status}, not JSON: ${r.body.slice(0, 500)}`);
    }
    if (doc.error) {
      const e: ApiError = new Error(`${method}: ${doc.error.message} ${typeof doc.error.data === 'string' ? doc.error.data : JSON.stringify(doc.error.data)}`);
      e.data = doc.error.data;
      throw e;
    }
    return doc.result as T;
  }

  /** zabbix_server's log so far (for assertion messages). */
  serverLog(): string {
    return this.daemons.find((d) => d.name === 'zabbix_server')?.tail(4000) ?? '';
  }

  /** Stop everything by pid, in reverse order of start; remove the temporary directory. */
  async stop(): Promise<void> {
    for (const d of [...this.daemons].reverse()) await d.stop('SIGTERM', 10_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
