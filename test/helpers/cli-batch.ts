/**
 * Many `sockscope ARGS` runs in one node process (pure checks without a process each):
 *
 *   node dist/test/helpers/cli-batch.js '[["ls","--help"],["nosuchcmd"]]'
 *
 * runs main(args) for each, in order, with stdout and stderr captured, and prints one JSON array of
 * { status, stdout, stderr } at the end. runBatch() is the test side.
 *
 * A run may be { args, beside: [file, ...args] } instead: that command (ss) is run just before and just after
 * main(args), and the result has `before` and `after` ({ status, stdout, stderr }), so that what moved between
 * the two listings (a TIME-WAIT socket ending) can be told from a difference; with `once: true`, only just before
 * (`after` is the same run: for a command too slow to run twice).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface BatchResult {
  status: number;
  stdout: string;
  stderr: string;
  /** the process: the batch's own, or the `beside` command's */
  pid?: number;
  /** the `beside` command's runs, just before and just after */
  before?: BatchResult;
  after?: BatchResult;
}

export type BatchRun = string[] | { args: string[]; beside: string[]; once?: boolean };

/** Run every argument list through main() in one child process. */
export function runBatch(runs: BatchRun[]): BatchResult[] {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(runs)], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`cli-batch failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as BatchResult[];
}

/** The `beside` command, synchronously (nothing of main() runs meanwhile). */
function beside([file, ...args]: string[]): BatchResult {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? ''), pid: r.pid };
}

async function child(batch: BatchRun[]): Promise<void> {
  const { main } = await import('../../src/cli/main.js');
  const results: BatchResult[] = [];
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  for (const run of batch) {
    const args = Array.isArray(run) ? run : run.args;
    const before = Array.isArray(run) ? undefined : beside(run.beside);
    const out: string[] = [];
    const err: string[] = [];
    process.exitCode = undefined;
    process.stdout.write = ((c: string | Uint8Array) => (out.push(Buffer.from(c).toString()), true)) as typeof process.stdout.write;
    process.stderr.write = ((c: string | Uint8Array) => (err.push(Buffer.from(c).toString()), true)) as typeof process.stderr.write;
    try {
      await main(args);
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    process.stdout.removeAllListeners('error');
    const after = Array.isArray(run) ? undefined : run.once ? before : beside(run.beside);
    results.push({ status: Number(process.exitCode ?? 0), stdout: out.join(''), stderr: err.join(''), ...(before && { pid: process.pid, before, after }) });
  }
  process.exitCode = 0;
  write.out(JSON.stringify(results));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await child(JSON.parse(process.argv[2]) as BatchRun[]);
