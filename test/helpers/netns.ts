/**
 * A throwaway network namespace holding a known socket population (population-holder.ts), and a way to run
 * commands inside it without moving the test process itself.
 *
 *   const support = netnsSupport();            // { mode } or { skip: reason }
 *   const ns = await PopulationNetns.start();  // in before()
 *   const r = await ns.run('ss', ['-tanieO']);
 *   await ns.stop();                           // in after(): kills the holder by pid, removes its temp dir
 *
 * As root the holder runs under `unshare -n` and commands enter with `nsenter --net=/proc/<pid>/ns/net`;
 * otherwise under `unshare -rn` (a user namespace too) and `nsenter -t <pid> -U -n --preserve-credentials`.
 * Every child has a timeout. The holder also exits on its own within a second of this process exiting (it
 * watches its parent pid), or when its optional lifetime passes, so a crashed test leaks nothing for long.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Population } from './population-holder.js';

export type { Population } from './population-holder.js';
export type NetnsMode = 'root' | 'user';

export const HOLDER_SCRIPT = fileURLToPath(new URL('./population-holder.js', import.meta.url));
export const DUMP_SCRIPT = fileURLToPath(new URL('./dump-json.js', import.meta.url));

const TOOLS = ['unshare', 'nsenter', 'ss', 'ip', 'python3'] as const;

let cached: { mode: NetnsMode; skip?: undefined } | { mode?: undefined; skip: string } | undefined;

/** Whether throwaway namespaces can be made here, and how; or why not (a reason for t.skip). */
export function netnsSupport(): { mode: NetnsMode; skip?: undefined } | { mode?: undefined; skip: string } {
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { skip: `network namespaces need Linux (this is ${process.platform})` });
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore', timeout: 5000 }).status !== 0);
  if (missing.length > 0) return (cached = { skip: `missing tools for the netns tests: ${missing.join(', ')}` });
  const tryUnshare = (flags: string[]) => spawnSync('unshare', [...flags, 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  const root = process.getuid?.() === 0;
  if (root && tryUnshare(['-n'])) return (cached = { mode: 'root' });
  if (tryUnshare(['-rn'])) return (cached = { mode: 'user' });
  return (cached = {
    skip: `cannot create a network namespace: neither \`unshare -n\`${root ? '' : ' (needs root)'} nor \`unshare -rn\` (unprivileged user namespaces) works here`,
  });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  /** how long to wait for the holder's ready line */
  readyTimeoutMs?: number;
  /**
   * the holder exits by itself after this long, whatever happens to us; default none: it ends with stop(), or
   * within a second of this process's exit (it watches its parent), so a slow test never outlives it
   */
  lifetimeMs?: number;
}

export class PopulationNetns {
  private exited: Promise<void>;

  private constructor(
    readonly mode: NetnsMode,
    readonly holder: ChildProcess,
    readonly population: Population,
  ) {
    this.exited = holder.exitCode !== null || holder.signalCode !== null ? Promise.resolve() : new Promise((r) => holder.once('exit', () => r()));
  }

  get pid(): number {
    return this.population.pid;
  }

  /** Start the holder and wait for its description of what it made. */
  static async start(options: StartOptions = {}): Promise<PopulationNetns> {
    const support = netnsSupport();
    if (!support.mode) throw new Error(support.skip);
    const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    const lifetimeMs = options.lifetimeMs ?? 0;
    const flags = support.mode === 'root' ? ['-n'] : ['-rn'];
    const child = spawn('unshare', [...flags, process.execPath, HOLDER_SCRIPT, '--lifetime-ms', String(lifetimeMs)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      const line = await firstLine(child, readyTimeoutMs, 'the population holder');
      const parsed = JSON.parse(line) as Population | { error: string };
      if ('error' in parsed) throw new Error(`the population holder failed: ${parsed.error}`);
      // unshare execs the holder (no --fork), so the pid we spawned is the namespace's owner.
      if (parsed.pid !== child.pid) throw new Error(`holder pid ${parsed.pid} is not the spawned pid ${child.pid}`);
      return new PopulationNetns(support.mode, child, parsed);
    } catch (e) {
      child.kill('SIGKILL');
      throw new Error(`${(e as Error).message}${stderr ? `\nholder stderr:\n${stderr}` : ''}`, { cause: e });
    }
  }

  /** The nsenter arguments that enter this namespace. */
  enterArgs(): string[] {
    return this.mode === 'root' ? [`--net=/proc/${this.pid}/ns/net`] : ['-t', String(this.pid), '-U', '-n', '--preserve-credentials'];
  }

  /** Run a command inside the namespace; resolves with its exit status (a timeout kills it: signal SIGKILL). */
  run(file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile(
        'nsenter',
        [...this.enterArgs(), '--', file, ...args],
        {
          timeout: options.timeoutMs ?? 120_000,
          killSignal: 'SIGKILL',
          maxBuffer: 64 << 20,
          encoding: 'utf8',
        },
        (error, stdout, stderr) => {
          const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
          resolve({
            code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
            signal: e?.signal ?? null,
            stdout,
            stderr,
          });
        },
      );
    });
  }

  /** run(), throwing with stderr unless the command exits 0. */
  async check(file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(file, args, options);
    if (r.code !== 0) throw new Error(`\`${file} ${args.join(' ')}\` in the namespace failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Run a node script inside the namespace with this node binary. */
  node(script: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<string> {
    return this.check(process.execPath, [script, ...args], options);
  }

  /** Kill the holder by pid (SIGTERM, then SIGKILL after a grace period) and remove its temp dir. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      this.holder.kill('SIGTERM');
      const timer = setTimeout(() => this.holder.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.holder.stdin?.destroy();
    if (basename(this.population.tmpDir).startsWith('sockscope-netns-')) rmSync(this.population.tmpDir, { recursive: true, force: true });
  }
}

/** The first line a child writes on stdout; rejects when it exits, fails to start or stays silent too long. */
export function firstLine(child: ChildProcess, timeoutMs: number, who: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${who} was not ready within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${who} exited (${code ?? signal}) before it was ready`));
    });
  });
}

/**
 * Run a python3 script inside the namespace that makes sockets, prints one line when they are ready, and holds
 * them until its stdin closes. Resolves with that line and a stop() that ends it (stdin closed, SIGKILL after a
 * grace period); rejects (and stops it) when it exits or stays silent for timeoutMs.
 */
export async function holdPython(ns: PopulationNetns, script: string, what: string, timeoutMs = 10_000): Promise<{ line: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn('nsenter', [...ns.enterArgs(), '--', 'python3', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const line = await firstLine(child, timeoutMs, `the maker of ${what}`);
    return { line, stop };
  } catch (e) {
    child.kill('SIGKILL');
    await stop();
    throw new Error(`${(e as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: e });
  }
}
