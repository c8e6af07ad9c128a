/**
 * What a user runs, run as a user runs it: an installed `sockscope` (the npm tarball installed without dev
 * dependencies, the single executable, the .deb's /usr/bin/sockscope) driven through every subcommand in a
 * throwaway network namespace with a known population. One definition for the three artifacts' tests
 * (test/package/*).
 *
 *   await exerciseArtifact(t, { argv: ['/tmp/prefix/bin/sockscope'], hideNode: false });
 *
 * hideNode runs each command in a private mount namespace with /dev/null bound over every node binary (the
 * one running the tests, every `node` on PATH): the single executable must not need one.
 *
 * NODE_EXTRA_CA_CERTS (bin/sockscope.js, the .deb's /usr/bin/sockscope): the agent's https InfluxDB output trusts
 * a CA given only there (a real influxd serving https with a self-signed certificate), and with `launcher` the
 * commands that open no TLS connection run without the variable (the environment of the running process).
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { cleanEnv, Daemon, freePortIn, influxdConfig, NsBridge, request, sampleValue, selfSignedCert, tempDir } from './agent.js';
import { findTool } from './tools.js';
import { until } from './wait.js';
import { PopulationNetns } from './netns.js';

export interface Artifact {
  /** the command that runs sockscope, e.g. ['/usr/bin/sockscope'] */
  argv: string[];
  /** bind /dev/null over every node binary while it runs */
  hideNode?: boolean;
  /** environment for every run (on top of cleanEnv()) */
  env?: Record<string, string>;
  /** started through sockscope's sh launcher (npm's bin, the .deb's /usr/bin/sockscope), not node or the executable itself */
  launcher?: boolean;
}

/** The environment a running process was started with (/proc/PID/environ), and what it runs (/proc/PID/exe). */
export function processEnv(pid: number): { exe: string; env: Map<string, string> } {
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean)) {
    const eq = kv.indexOf('=');
    env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return { exe: readlinkSync(`/proc/${pid}/exe`), env };
}

/** Every node binary a command could find: the test runner's and each `node` on PATH (real paths). */
export function nodeBinaries(): string[] {
  const found = new Set<string>([realpathSync(process.execPath)]);
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      found.add(realpathSync(join(dir, 'node')));
    } catch {
      /* none there */
    }
  }
  return [...found];
}

/** The command-line prefix that hides node: `unshare -m` + bind mounts, then exec the command. */
export function hideNodeWrap(): string[] {
  const binds = nodeBinaries()
    .map((p) => `mount --bind /dev/null '${p}'`)
    .join(' && ');
  return ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', `${binds} && exec "$@"`, 'hide-node'];
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the artifact to completion, in `ns` when given. */
export function runArtifact(a: Artifact, args: readonly string[], o: { ns?: PopulationNetns; env?: Record<string, string>; timeoutMs?: number } = {}): Ran {
  const inner = [...(a.hideNode ? hideNodeWrap() : []), ...a.argv, ...args];
  const full = o.ns ? ['nsenter', ...o.ns.enterArgs(), '--', ...inner] : inner;
  const r = spawnSync(full[0], full.slice(1), {
    env: cleanEnv({ ...a.env, ...o.env }),
    encoding: 'utf8',
    timeout: o.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Ran, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Every subcommand, from the artifact, against a population namespace (subtests of t). */
export async function exerciseArtifact(t: TestContext, a: Artifact, expectVersion: string): Promise<void> {
  if (a.hideNode) {
    const probe = runArtifact({ argv: ['sh', '-c', `'${process.execPath}' --version`], hideNode: true }, []);
    assert.notEqual(probe.status, 0, 'node still runs inside the hiding mount namespace');
  }
  const ns = await PopulationNetns.start();
  const dir = tempDir('artifact');
  // a self-signed certificate for 127.0.0.1: its own CA, in no system store
  selfSignedCert(dir);
  const ca = join(dir, 'cert.pem');
  try {
    const l = ns.population.tcp.listeners;
    await t.test('--version and --help', () => {
      assert.equal(ok(runArtifact(a, ['--version']), '--version').trim(), `sockscope ${expectVersion}`);
      assert.match(ok(runArtifact(a, ['help', 'ls']), 'help ls'), /^Usage: sockscope ls/);
    });
    await t.test('the summary and ls read the namespace through netlink', () => {
      const summary = ok(runArtifact(a, ['--format', 'json'], { ns }), 'summary');
      const s = JSON.parse(summary) as { sources?: unknown };
      assert.ok(JSON.stringify(s).includes('netlink'), `the summary did not come from netlink: ${summary.slice(0, 400)}`);
      const listing = ok(runArtifact(a, ['ls', '-tln'], { ns }), 'ls -tln');
      for (const x of l) assert.ok(listing.includes(`:${x.port} `), `ls -tln misses the listener on port ${x.port}:\n${listing}`);
    });
    await t.test('gather (influx and prometheus)', () => {
      const influx = ok(runArtifact(a, ['gather'], { ns }), 'gather');
      assert.match(influx, /^netstat[, ]/m);
      const prom = ok(runArtifact(a, ['gather', '--format', 'prometheus'], { ns }), 'gather --format prometheus');
      assert.match(prom, /^# TYPE \S+ gauge$/m);
    });
    await t.test('ls --all-netns (the namespace walk)', () => {
      const rows = JSON.parse(ok(runArtifact(a, ['ls', '-tln', '--all-netns', '--max-netns', '0', '--format', 'json'], { ns }), 'ls --all-netns')) as unknown;
      const text = JSON.stringify(rows);
      for (const x of l) assert.ok(text.includes(String(x.port)), `ls --all-netns misses the listener on port ${x.port}: ${text.slice(0, 400)}`);
    });
    await t.test('ls -E (the lifecycle subscription worker) lists a connection that closed', async () => {
      const follow = new Daemon('sockscope ls -E', a.argv[0], [...a.argv.slice(1), 'ls', '-E', '-t', '--format', 'ndjson'], {
        ns,
        env: cleanEnv({ ...a.env, NODE_EXTRA_CA_CERTS: ca }),
        wrap: a.hideNode ? hideNodeWrap() : [],
      });
      // the population's listener with the longest backlog (others are kept with full accept queues, where a
      // connection never completes)
      const target = l.reduce((a, x) => ((x.backlog ?? 0) > (a.backlog ?? 0) ? x : a));
      const bridge = await NsBridge.start(ns, target.port);
      try {
        // connections to it, closed at once, until -E (once subscribed) lists one
        await until(
          'a closed connection from ls -E',
          async () => {
            if (!follow.running) throw new Error(follow.tail());
            await new Promise<void>((resolve) => {
              const c = connect(bridge.socketPath, () => setTimeout(() => c.destroy(), 20));
              c.on('close', () => resolve()).on('error', () => resolve());
            });
            return follow.stdout.includes('\n') ? true : undefined;
          },
          30_000,
          200,
        );
        // the process that listed it: node (or the executable), started without the variable by the launcher
        const started = processEnv(follow.pid);
        assert.doesNotMatch(started.exe, /\/(ba|da)?sh$/, 'the launcher did not exec');
        if (a.launcher) assert.equal(started.env.get('NODE_EXTRA_CA_CERTS'), undefined, `ls -E runs with NODE_EXTRA_CA_CERTS (${started.exe})`);
      } finally {
        await bridge.stop();
        const exit = await follow.stop();
        assert.equal(exit.code, 0, `ls -E did not exit 0 on SIGTERM\n${follow.tail()}`);
      }
      assert.ok(
        follow.stdout
          .split('\n')
          .filter(Boolean)
          .every((line) => typeof JSON.parse(line) === 'object'),
        follow.stdout.slice(0, 400),
      );
      assert.match(follow.stderr, /sockets closed/);
    });
    await t.test('doctor: JSON findings, and the exit status says whether any is at warning or above', () => {
      const r = runArtifact(a, ['doctor', '--window', '1s', '--format', 'json'], { ns });
      assert.ok(r.status === 0 || r.status === 1, `doctor exited ${r.status}: ${r.stderr}`);
      const findings: { severity: string }[] = JSON.parse(r.stdout).findings;
      assert.ok(Array.isArray(findings), r.stdout.slice(0, 400));
      assert.equal(r.status, findings.some((f) => f.severity !== 'info') ? 1 : 0, r.stdout.slice(0, 400));
    });
    await t.test('zabbix template and config sample', () => {
      assert.match(ok(runArtifact(a, ['zabbix', 'template']), 'zabbix template'), /^zabbix_export:/m);
      assert.match(ok(runArtifact(a, ['config', 'sample']), 'config sample'), /^\[agent\]/m);
    });
    await t.test('the agent, configured by the sample, serves /metrics', async () => {
      const sample = join(dir, 'sockscope.toml');
      writeFileSync(sample, ok(runArtifact(a, ['config', 'sample']), 'config sample'));
      const port = await freePortIn(ns);
      const agent = new Daemon('sockscope agent', a.argv[0], [...a.argv.slice(1), 'agent', '--config', sample, '--listen', `127.0.0.1:${port}`], {
        ns,
        env: cleanEnv(a.env),
        wrap: a.hideNode ? hideNodeWrap() : [],
      });
      const bridge = await NsBridge.start(ns, port);
      try {
        const body = await until(
          '/metrics from the agent',
          async () => {
            if (!agent.running) throw new Error(agent.tail());
            const r = await request(bridge.target, '/metrics');
            // the first gather is in once every listener of the population is there
            return r.status === 200 && l.every((x) => r.body.includes(`local_port="${x.port}"`)) ? r.body : undefined;
          },
          30_000,
          100,
        );
        assert.match(body, new RegExp(`^sockscope_build_info\\{version="${expectVersion.replace(/\./g, '\\.')}"`, 'm'));
        for (const x of l) assert.match(body, new RegExp(`^sockscope_listen_backlog\\{[^}]*local_port="${x.port}"\\} \\d+$`, 'm'));
      } finally {
        await bridge.stop();
        const exit = await agent.stop();
        assert.equal(exit.code, 0, `the agent did not exit 0 on SIGTERM\n${agent.tail()}`);
      }
    });
    await t.test("NODE_EXTRA_CA_CERTS: the agent's https InfluxDB output trusts a CA given only there", { skip: influxd.skip }, async () => {
      const httpsPort = await freePortIn(ns);
      const rpcPort = await freePortIn(ns, [httpsPort]);
      const conf = join(dir, 'influxdb.conf');
      writeFileSync(conf, influxdConfig({ dir, httpPort: httpsPort, rpcPort, tls: { cert: ca, key: join(dir, 'key.pem') } }));
      const db = new Daemon('influxd', influxd.path!, ['run', '-config', conf], { ns, env: cleanEnv({ HOME: dir }) });
      const agents: Daemon[] = [];
      /** an agent pushing to influxd over https every 200 ms, NODE_EXTRA_CA_CERTS=extraCa; its /metrics once an influxdb write was done or failed */
      const agentWith = async (extraCa: string, until_: 'written' | 'errors'): Promise<{ agent: Daemon; metrics: string }> => {
        const port = await freePortIn(ns, [httpsPort, rpcPort]);
        const agent = new Daemon(
          'sockscope agent',
          a.argv[0],
          [...a.argv.slice(1), 'agent', '--listen', `127.0.0.1:${port}`, '--interval', '200ms', '--influxdb-url', `https://127.0.0.1:${httpsPort}`],
          { ns, env: cleanEnv({ ...a.env, NODE_EXTRA_CA_CERTS: extraCa, SOCKSCOPE_OUTPUTS_INFLUXDB_TIMEOUT: '2s' }), wrap: a.hideNode ? hideNodeWrap() : [] },
        );
        agents.push(agent);
        const bridge = await NsBridge.start(ns, port);
        try {
          const metrics = await until(
            `the agent's first influxdb ${until_ === 'written' ? 'write' : 'error'}`,
            async () => {
              if (!agent.running) throw new Error(agent.tail());
              const r = await request(bridge.target, '/metrics').catch(() => undefined);
              const n =
                r?.status === 200
                  ? sampleValue(r.body, `sockscope_output_${until_ === 'written' ? 'written_metrics' : 'errors'}_total`, { output: 'influxdb' })
                  : 0;
              return n !== undefined && n > 0 ? r!.body : undefined;
            },
            30_000,
            100,
          );
          return { agent, metrics };
        } finally {
          await bridge.stop();
        }
      };
      try {
        await until(
          'influxd to listen',
          async () => (db.running ? ((await ns.check('ss', ['-Htln'])).includes(`:${httpsPort} `) ? true : undefined) : Promise.reject(new Error(db.tail()))),
          20_000,
          50,
        );
        // trusted through the variable alone: written, and the agent's process has it as it was given
        const trusted = await agentWith(ca, 'written');
        assert.equal(sampleValue(trusted.metrics, 'sockscope_output_errors_total', { output: 'influxdb' }), 0, trusted.agent.tail());
        assert.equal(processEnv(trusted.agent.pid).env.get('NODE_EXTRA_CA_CERTS'), ca);
        assert.equal((await trusted.agent.stop()).code, 0, trusted.agent.tail());
        // the control: the same agent with another CA file (the system's bundle) refuses the certificate
        const other = '/etc/ssl/certs/ca-certificates.crt';
        if (existsSync(other)) {
          const refused = await agentWith(other, 'errors');
          assert.equal(sampleValue(refused.metrics, 'sockscope_output_written_metrics_total', { output: 'influxdb' }), 0, refused.agent.tail());
        }
      } finally {
        await Promise.all([db, ...agents].map((d) => d.stop('SIGKILL')));
      }
    });
  } finally {
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const influxd = findTool('influxd', 'SOCKSCOPE_INFLUXD', 'influxdb');
