/**
 * `sockscope gather` and `sockscope execd` as Telegraf runs them (inputs.exec, inputs.execd) and as people
 * mistype them: bad input is one clear line on stderr and exit status 2; execd writes nothing but line
 * protocol on stdout, logs on stderr with Telegraf's I!/W!/E! prefixes, and exits 0 when stdin closes or on
 * SIGTERM. These run in this process's own network namespace (the counts do not matter here).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { planGather } from '../../src/cli/gather.js';
import { SockscopeError } from '../../src/errors.js';
import { parseLine, parseLines } from '../helpers/metrics.js';
import { sleep } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));

function run(args: string[], input = '') {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sockscope gather: bad input is one line on stderr, exit 2', () => {
  const NP = ['--measurement', 'netstat_port'];
  const bad: [string, string[], RegExp][] = [
    ['unknown measurement', ['gather', '--measurement', 'netstat,bogus'], /unknown measurement 'bogus': expected one of netstat, netstat_port, socketstat/],
    ['unknown format', ['gather', '--format', 'xml'], /unknown format 'xml': expected one of influx, prometheus, openmetrics, json/],
    ['port out of range', ['gather', ...NP, '--port-group', '99999'], /--port-group\[0\]\.ports entry "99999": expected a port/],
    ['address without port', ['gather', ...NP, '--port-group', '1.2.3.4:'], /entry "1\.2\.3\.4:"/],
    ['ports_match with a non-numeric port', ['gather', ...NP, '--port-group', '*:x'], /ports_match entry "\*:x": expected "\*:<port>"/],
    ['unclosed IPv6 bracket', ['gather', ...NP, '--port-group', '[::1:80'], /entry "\[::1:80"/],
    ['a host name instead of an address', ['gather', ...NP, '--port-group', 'localhost:80'], /'localhost' is not an IP address/],
    [
      'local ports and *:port in one group',
      ['gather', ...NP, '--port-group', '80,*:443'],
      /--port-group '80,\*:443' mixes local ports, \*:port and remote: entries/,
    ],
    ['remote and local in one group', ['gather', ...NP, '--port-group', 'remote:443,80'], /mixes local ports, \*:port and remote: entries/],
    ['empty remote entry', ['gather', ...NP, '--port-group', 'remote:'], /remote_ports entry ""/],
    ['group tags that are not KEY=VALUE', ['gather', ...NP, '--port-group', '80@web'], /--port-group: 'web' is not KEY=VALUE/],
    ['netstat_port without a group', ['gather', ...NP], /netstat_port needs at least one --port-group/],
    ['--addr-ports not a JSON array', ['gather', ...NP, '--addr-ports', '80'], /--addr-ports.*a JSON array of strings/],
    ['unknown semantics', ['gather', '--netstat-semantics', 'gopsutil'], /--netstat-semantics must be 'sockscope' or 'telegraf', got 'gopsutil'/],
    ['unknown socketstat protocol', ['gather', '--measurement', 'socketstat', '--socketstat-protocols', 'tcp,sctp'], /unknown protocol 'sctp'/],
    ['unknown tcp_info field', ['gather', '--measurement', 'socketstat', '--socketstat-info', 'rtt'], /--socketstat-info: unknown field 'rtt'/],
    ['a tag without =', ['gather', '--tag', 'env'], /--tag: 'env' is not KEY=VALUE/],
    ['unknown option', ['gather', '--bogus'], /Unknown option '--bogus'/],
    ['execd with --format prometheus', ['execd', '--format', 'prometheus'], /execd writes line protocol only .* drop --format prometheus/],
    ['execd with a bad --signal', ['execd', '--signal', 'sighup'], /--signal must be 'stdin' or 'none', got 'sighup'/],
    ['--interval without a unit', ['execd', '--signal', 'none', '--interval', '10'], /--interval must be a duration .*got '10'/],
    ['--interval not a duration', ['execd', '--signal', 'none', '--interval', 'soon'], /--interval must be a duration .*got 'soon'/],
    ['--interval of zero (a busy loop)', ['execd', '--signal', 'none', '--interval', '0s'], /--interval must be a duration from 1ms .*got '0s'/],
    ['--interval negative', ['execd', '--signal', 'none', '--interval=-1s'], /--interval must be a duration .*got '-1s'/],
    ["--interval past setInterval's range", ['execd', '--signal', 'none', '--interval', '600h'], /got '600h'/],
  ];
  // pure checks of the option plan (planGather), in this process: no node process per mistyped line
  for (const [name, args, message] of bad) {
    it(`${name}: ${args.join(' ')}`, () => {
      assert.throws(
        () => planGather(args.slice(1), args[0] as 'gather' | 'execd'),
        (e: unknown) => {
          assert.ok(e instanceof SockscopeError, String(e));
          assert.equal(e.exitCode, 2);
          assert.match(e.message, message);
          assert.equal(e.message.split('\n').length, 1, e.message);
          return true;
        },
      );
    });
  }
  it('through the command: one line on stderr, exit 2, nothing on stdout', () => {
    const r = run(['gather', '--measurement', 'netstat,bogus']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sockscope: unknown measurement 'bogus'/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});

describe('sockscope gather: output', () => {
  it('--help: exit 0, the usage of gather; execd has its own', () => {
    const r = run(['gather', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: sockscope gather/);
    assert.match(r.stdout, /--port-group SPEC/);
    const e = run(['execd', '--help']);
    assert.match(e.stdout, /^Usage: sockscope execd/);
    assert.match(e.stdout, /--signal WHEN/);
  });

  it('one gather: exit 0, line protocol only, nothing on stderr', () => {
    const r = run(['gather', '--measurement', 'netstat,socketstat', '--tag', 'env=test', '--host-tag']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const points = parseLines(r.stdout);
    assert.equal(points.filter((p) => p.measurement === 'netstat').length, 1);
    assert.ok(
      points.every((p) => p.tags.env === 'test' && p.tags.host),
      'tags from --tag and --host-tag on every point',
    );
  });

  it("--host-tag NAME, and --host-tag alone before another option (this host's name)", () => {
    const named = parseLines(run(['gather', '--host-tag', 'web-01']).stdout);
    assert.equal(named[0].tags.host, 'web-01');
    const alone = run(['gather', '--host-tag', '--format', 'json']);
    assert.equal(alone.status, 0, alone.stderr);
    assert.ok(JSON.parse(alone.stdout).metrics[0].tags.host);
  });

  it('formats: json parses, prometheus has HELP/TYPE, openmetrics ends with # EOF', () => {
    assert.ok(Array.isArray(JSON.parse(run(['gather', '--format', 'json']).stdout).metrics));
    assert.match(run(['gather', '--format', 'prometheus']).stdout, /^# HELP sockscope_/);
    assert.match(run(['gather', '--format', 'openmetrics']).stdout, /# EOF\n$/);
  });
});

/** A running execd: its stdout lines as they come, stderr collected. */
class Execd {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stdout = '';
  stderr = '';
  private waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, 'execd', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (c: string) => {
      this.stdout += c;
      const parts = this.stdout.split('\n');
      this.lines.splice(0, this.lines.length, ...parts.slice(0, -1));
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.on('data', (c: string) => (this.stderr += c));
  }

  /** Wait until stdout holds at least n lines. */
  async waitLines(n: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < n) {
      if (Date.now() > deadline) throw new Error(`execd wrote ${this.lines.length} lines, expected ${n}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async exit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return { code: this.child.exitCode, signal: this.child.signalCode };
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = (await once(this.child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    return { code, signal };
  }
}

const checkStderr = (stderr: string) => {
  const lines = stderr.split('\n').filter(Boolean);
  assert.ok(lines.length >= 1, 'execd says it started');
  for (const l of lines) assert.match(l, /^[IWE]! /, `stderr line without Telegraf's prefix: ${l}`);
  assert.match(lines[0], /^I! sockscope execd: /);
};

describe('sockscope execd (Telegraf inputs.execd)', () => {
  it('--signal stdin (the default): one gather per newline; exit 0 when stdin closes; stdout is line protocol only', async () => {
    const e = new Execd(['--measurement', 'netstat,socketstat']);
    for (let n = 1; n <= 3; n++) {
      e.child.stdin.write('\n');
      // each gather writes one netstat line (plus socketstat lines): wait for the n-th netstat line
      const deadline = Date.now() + 15_000;
      while (e.lines.filter((l) => l.startsWith('netstat ')).length < n) {
        assert.ok(Date.now() < deadline, `gather ${n} did not come; stderr: ${e.stderr}`);
        await sleep(50);
      }
    }
    await sleep(300);
    assert.equal(e.lines.filter((l) => l.startsWith('netstat ')).length, 3, 'no gather without a newline');
    e.child.stdin.end();
    assert.deepEqual(await e.exit(), { code: 0, signal: null });
    assert.ok(e.stdout.endsWith('\n'));
    for (const l of e.lines) parseLine(l);
    checkStderr(e.stderr);
  });

  it('lines sent together are gathers in a row; closing stdin right after still finishes them', async () => {
    const e = new Execd(['--measurement', 'netstat']);
    e.child.stdin.end('\n\n');
    assert.deepEqual(await e.exit(), { code: 0, signal: null });
    assert.equal(parseLines(e.stdout).filter((p) => p.measurement === 'netstat').length, 2);
    checkStderr(e.stderr);
  });

  it('--signal none --interval 200ms: gathers repeatedly; exit 0 when stdin closes', async () => {
    const e = new Execd(['--signal', 'none', '--interval', '200ms', '--measurement', 'netstat']);
    const started = Date.now();
    await e.waitLines(3);
    assert.ok(Date.now() - started < 10_000);
    e.child.stdin.end();
    assert.deepEqual(await e.exit(), { code: 0, signal: null });
    const points = parseLines(e.stdout);
    assert.ok(points.length >= 3 && points.every((p) => p.measurement === 'netstat'));
    const times = points.map((p) => BigInt(p.time!));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1], 'each gather has its own time');
    checkStderr(e.stderr);
    assert.match(e.stderr, /signal none, every 200 ms/);
  });

  it('--signal none: exit 0 on SIGTERM', async () => {
    const e = new Execd(['--signal', 'none', '--interval', '200ms']);
    await e.waitLines(2);
    e.child.kill('SIGTERM');
    assert.deepEqual(await e.exit(), { code: 0, signal: null });
    for (const l of e.lines) parseLine(l);
    checkStderr(e.stderr);
  });
});
