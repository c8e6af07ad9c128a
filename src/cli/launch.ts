/**
 * How bin/sockscope.js starts the command: the bundle (dist/bundle/sockscope.cjs, scripts/bundle.mjs) compiled
 * from a V8 code cache, so that a run pays node's own start and little more (docs/benchmarks.md, "Start-up").
 * This file is bundled too (dist/bundle/launch.cjs), and bin/sockscope.js is CommonJS (bin/package.json): no
 * ES module is loaded at all, which spares node's ES module loader (~5 ms).
 *
 * - One file instead of the 56-71 modules of dist/src the CLI's start touched: node's ES module loader spends
 *   about a millisecond per file on resolving, reading and linking.
 * - The code cache: the bundle is compiled with vm.Script from the bytecode a previous run of the same command
 *   left (cachedData), which skips parsing and compiling what that run ran. The cache is written when a run
 *   succeeds and found none (or V8 refused it: another node, other flags), so it holds what the first such run
 *   of its command compiled, and what a run compiles from it stays compiled; one file per command and node
 *   version in sockscope's private cache directory (src/util/cache-dir.ts; a code cache is code, so never a
 *   directory others can write to). The file starts with the bundle's SHA-256 (its first line, written by the
 *   build): V8 itself checks only the source's length. NODE_DISABLE_COMPILE_CACHE=1 turns it off, as it does
 *   node's own compile cache; any failure to read or write it only costs the speed-up.
 * - Node ≥ 22.1's module.enableCompileCache() is switched on too, for the worker threads' ES module bundles.
 *
 * A checkout compiled with tsc alone (no dist/bundle) runs the modules of dist/src (bin/sockscope.js).
 */
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { cacheRoots, privateDir } from '../util/cache-dir.js';

/** The bundle's first line (scripts/bundle.mjs BUNDLE_HEADER), then 64 hex digits. */
const HEADER = '// sockscope-bundle sha256=';

type Main = (argv: string[]) => Promise<void>;

/** The code cache's file for this command, or undefined (turned off, no private directory, no hash). */
export function codeCacheFile(argv: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  // one cache per command: each holds the functions its command ran (a summary's, an ls's); the command
  // word is taken as written, and a cache is only written by a run that succeeded, so a typo leaves none
  const command = argv[0] !== undefined && /^[a-z]{1,16}$/.test(argv[0]) ? argv[0] : 'summary';
  const root = cacheRoots(env).find(privateDir);
  return root && join(root, `v8-${command}-${process.version}-${process.arch}.cache`);
}

/** node's own compile cache (≥ 22.1) beside ours, for what is loaded as a module: the workers' bundles. */
function enableNodeCompileCache(dir: string): void {
  const enable = (nodeModule as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  try {
    enable?.(join(dir, 'node-compile-cache'));
  } catch {
    // a speed-up only
  }
}

/** The cached bytecode in `file` if it was made from the bundle with this hash. */
function readCache(file: string, hash: string): Buffer | undefined {
  try {
    const bytes = readFileSync(file);
    return bytes.subarray(0, 64).toString('latin1') === hash ? bytes.subarray(64) : undefined;
  } catch {
    return undefined;
  }
}

/** The hash, then the bytecode, replacing the file at once (another run may be reading it). */
function writeCache(file: string, hash: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, Buffer.from(hash, 'latin1'));
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    // a speed-up only
  }
}

/** Run the command from `bundle` (dist/bundle/sockscope.cjs). */
export async function launch(bundle: string, argv: string[]): Promise<void> {
  const source = readFileSync(bundle, 'utf8');
  const hash = source.startsWith(HEADER) ? source.slice(HEADER.length, HEADER.length + 64) : undefined;
  const file = hash && codeCacheFile(argv);
  if (file) enableNodeCompileCache(dirname(file));
  const cachedData = file && hash ? readCache(file, hash) : undefined;
  // CommonJS's own wrapper (the bundle is a CommonJS module), on the header's line so that lines keep their numbers
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, { filename: bundle, cachedData });
  const module = { exports: {} as { main: Main } };
  (script.runInThisContext() as (...a: unknown[]) => void).call(
    module.exports,
    module.exports,
    nodeModule.createRequire(bundle),
    module,
    bundle,
    dirname(bundle),
  );
  await module.exports.main(argv);
  // after the command's own work (for the agent: its start), so that the cache holds what it compiled; not
  // after --help or --version, which compile next to nothing of their command (a later run would find a cache
  // and keep it). createCachedData costs 15-35 ms at 400 KiB: once, not on every run.
  const quick = argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V');
  if (file && hash && (cachedData === undefined || script.cachedDataRejected) && !process.exitCode && !quick) writeCache(file, hash, script.createCachedData());
}
