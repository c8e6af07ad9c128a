/**
 * Files the single executable (scripts/build-sea.mjs) carries as assets and needs on disk: koffi's native
 * module (dlopen() wants a file) and the worker threads' scripts (new Worker() wants a file). Each is written
 * once to a private cache directory, under a name keyed by its SHA-256, checked against that hash on every
 * use, and used from there.
 *
 * The cache directory is src/util/cache-dir.ts's: private (0700, ours), so that the file checked is the file
 * loaded.
 *
 * Only the single executable's bundle reaches this module (the build points koffi's loader and the Worker
 * URLs at it); an npm install loads koffi from node_modules and the workers from dist/bundle (scripts/bundle.mjs).
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoots, privateDir } from '../util/cache-dir.js';

/** The assets' SHA-256, fixed at build time (esbuild define). */
declare const SOCKSCOPE_SEA_ASSETS: Record<string, string>;

interface SeaModule {
  isSea(): boolean;
  getRawAsset(name: string): ArrayBuffer;
}

function seaModule(): SeaModule | undefined {
  try {
    // a builtin of the single-executable runtime; the bundle is CommonJS, so require is there
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sea = require('node:sea') as SeaModule;
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The asset's bytes on disk if they are exactly what was built in, read through one open file. */
function verified(path: string, hash: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && st.uid === (process.getuid?.() ?? st.uid) && sha256(readFileSync(fd)) === hash;
  } finally {
    closeSync(fd);
  }
}

const written = new Map<string, string>();

/**
 * The path of asset `name` in the cache, written there first if it is missing or differs from the built-in
 * bytes. Throws when no cache directory can be used.
 */
export function seaAssetFile(name: string): string {
  const done = written.get(name);
  if (done) return done;
  const hash = SOCKSCOPE_SEA_ASSETS[name];
  if (!hash) throw new Error(`no asset '${name}' in this executable`);
  const tried: string[] = [];
  for (const root of cacheRoots()) {
    const dir = join(root, hash.slice(0, 16));
    if (!privateDir(root) || !privateDir(dir)) {
      tried.push(root);
      continue;
    }
    const path = join(dir, name);
    if (!verified(path, hash)) {
      const sea = seaModule();
      if (!sea) throw new Error(`asset '${name}' is missing from ${dir} and this is not the single executable`);
      const bytes = new Uint8Array(sea.getRawAsset(name));
      if (sha256(bytes) !== hash) throw new Error(`asset '${name}' inside the executable does not match its build hash`);
      const tmp = `${path}.${process.pid}.${Date.now()}`;
      const fd = openSync(tmp, 'wx', 0o500);
      try {
        writeSync(fd, bytes);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      if (!verified(path, hash)) throw new Error(`${path} changed while it was written`);
    }
    written.set(name, path);
    return path;
  }
  throw new Error(`no private cache directory for the executable's native module (tried ${tried.join(', ')}): set XDG_CACHE_HOME to a directory of yours`);
}

/** koffi's native module, for koffi's loader (the build replaces koffi's loadStatic with this). */
export function loadKoffiNative(): unknown {
  const module = { exports: {} as unknown };
  process.dlopen(module, seaAssetFile('koffi.node'));
  return module.exports;
}
