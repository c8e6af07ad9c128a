#!/usr/bin/env node
// The one bundling definition of the sockscope command (esbuild), for the two things that run a bundle:
//
//   npm   `node scripts/bundle.mjs` (run by npm run build, prepare and pretest): dist/bundle/sockscope.cjs,
//         which bin/sockscope.js loads through dist/bundle/launch.cjs (src/cli/launch.ts: a V8 code cache),
//         and one .mjs per worker thread beside it. koffi stays in node_modules (a native addon); everything else is inside.
//         Why: node's ES module loader costs ~1 ms per file, and the CLI's start touched 56-71 files of
//         dist/src; one CommonJS file can be compiled from a code cache (docs/benchmarks.md, "Start-up").
//         dist/src stays as it is: the library's export ("exports" in package.json) and the tests use it.
//   sea   scripts/build-sea.mjs: the single executable's bundle, the same modules with koffi's loader pointed
//         at src/sys/sea.ts (its native module comes from an asset) and the Worker URLs at the worker assets.
//
// Both: the main bundle is CommonJS (what a single executable runs, and what vm.Script can cache), its
// import.meta.url defined as its own file; the workers are ES modules (.mjs: they use top-level await) with
// a require for the CommonJS code inside them; dynamic import() inside the main bundle becomes require().
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const seaSource = join(root, 'src', 'sys', 'sea.ts');
/** Builtins the main bundle loads when first used (see plugin()): the agent's, ls -p's and --all-netns's worker threads, execd's stdin. */
const LAZY_BUILTINS = /^node:(worker_threads|readline)$/;
/** koffi's CommonJS entry (what `import('koffi')` loads from node_modules) */
const koffiCjs = createRequire(import.meta.url).resolve('koffi');

/** The first line of the npm bundle: `// sockscope-bundle sha256=<hash of the rest>` (launch.ts keys its code cache on it). */
export const BUNDLE_HEADER = '// sockscope-bundle sha256=';

/** `new Worker(new URL('./x.js', import.meta.url)`: a worker thread whose script is src/.../x.ts */
const WORKER_URL = /new Worker\(new URL\('\.\/([\w-]+)\.js', import\.meta\.url\)/;

/** Every worker entry in src/: [entry .ts relative to the repository, bundle name (x.mjs)] */
export function workerEntries() {
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts')) {
        for (const m of readFileSync(join(root, rel), 'utf8').matchAll(new RegExp(WORKER_URL.source, 'g')))
          found.push([join(dir, `${m[1]}.ts`), `${m[1]}.mjs`]);
      }
    }
  };
  walk('src');
  if (found.length === 0) throw new Error('no worker entries found in src/: has the Worker URL form changed?');
  if (new Set(found.map((f) => f[1])).size !== found.length) throw new Error(`two workers with one name: ${found.map((f) => f[0]).join(', ')}`);
  return found;
}

/**
 * esbuild plugin, per flavor. Both rewrite `new Worker(new URL('./x.js', import.meta.url)` to the bundled worker
 * x.mjs: for npm the file beside the bundle, for sea the cached asset. sea also replaces koffi's static loader
 * with loadKoffiNative().
 */
function plugin(flavor, format) {
  return {
    name: `sockscope-${flavor}`,
    setup(build) {
      if (format === 'cjs') {
        // node builtins that only some runs use, loaded on first use rather than at start (~1.5 ms of CPU for
        // both): a module of getters, one per export of the builtin (listed here, at build time), each loading it
        build.onResolve({ filter: LAZY_BUILTINS }, (a) =>
          a.namespace === 'lazy-builtin' ? { path: a.path, external: true } : { path: a.path, namespace: 'lazy-builtin' },
        );
        build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => ({
          contents: `let m;\nconst load = () => (m ??= require(${JSON.stringify(a.path)}));\nfor (const k of ${JSON.stringify(Object.keys(createRequire(import.meta.url)(a.path)))}) Object.defineProperty(module.exports, k, { enumerable: true, get: () => load()[k] });`,
          loader: 'js',
        }));
      }
      if (flavor === 'npm') {
        // koffi's JavaScript inside the bundle (compiled from the code cache with the rest: ~3 ms of CPU less than
        // resolving and compiling it from node_modules at each start); its native module still comes from its
        // prebuilt package in node_modules (@koromix/koffi-<platform>, external). Where that is missing (koffi
        // built from source), the bundled loader fails and koffi as installed, with its own search, is used.
        build.onResolve({ filter: /^koffi$/ }, (a) => (a.namespace === 'koffi' ? { path: 'koffi', external: true } : { path: 'koffi', namespace: 'koffi' }));
        build.onLoad({ filter: /^koffi$/, namespace: 'koffi' }, () => ({
          contents: `try { module.exports = require(${JSON.stringify(koffiCjs)}); } catch { module.exports = require('koffi'); }`,
          loader: 'js',
          resolveDir: root,
        }));
      }
      if (flavor === 'sea') {
        build.onResolve({ filter: /^\.\/src\/static\.js$/ }, (a) =>
          a.importer.includes(`${'node_modules'}/koffi/`) ? { path: 'koffi-static', namespace: 'sea' } : undefined,
        );
        build.onLoad({ filter: /^koffi-static$/, namespace: 'sea' }, () => ({
          contents: `import { loadKoffiNative } from ${JSON.stringify(seaSource)}; export function loadStatic() { return loadKoffiNative(); }`,
          loader: 'js',
          resolveDir: root,
        }));
      }
      build.onLoad({ filter: /\/src\/.*\.ts$/ }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        if (!WORKER_URL.test(text)) return undefined;
        const all = new RegExp(WORKER_URL.source, 'g');
        if (flavor === 'npm')
          return { contents: text.replace(all, (_m, name) => `new Worker(new URL(${JSON.stringify(`./${name}.mjs`)}, import.meta.url)`), loader: 'ts' };
        const contents = text.replace(all, (_m, name) => `new Worker(__seaWorkerFile(${JSON.stringify(`${name}.mjs`)})`);
        return {
          contents: `import { seaAssetFile as __seaAsset } from ${JSON.stringify(seaSource)};\nconst __seaWorkerFile = (name) => (__seaAsset('koffi.node'), __seaAsset(name));\n${contents}`,
          loader: 'ts',
        };
      });
    },
  };
}

/** import.meta in the CommonJS main bundle: the executable (sea) or the bundle file itself (npm). */
const CJS_IMPORT_META = {
  sea: 'var __bundleImportMetaUrl=require("node:url").pathToFileURL(process.execPath).href,__bundleImportMetaDirname=require("node:path").dirname(process.execPath);',
  npm: 'var __bundleImportMetaUrl=require("node:url").pathToFileURL(__filename).href,__bundleImportMetaDirname=__dirname;',
};

/**
 * Bundle one entry. flavor 'npm' | 'sea'; format 'cjs' (the main bundle) or 'esm' (a worker); assetHashes:
 * the single executable's assets (sea only).
 */
export async function bundle({ flavor, entry, outfile, format, assetHashes = {} }) {
  const cjs = format === 'cjs';
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    plugins: [plugin(flavor, format)],
    external: flavor === 'npm' ? ['@koromix/*'] : [],
    // the main bundle is one CommonJS file: import() of koffi (external) becomes require() as well, so that
    // vm.Script (launch.ts) runs it without a module loader
    supported: cjs ? { 'dynamic-import': false } : {},
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      ...(cjs ? { 'import.meta.url': '__bundleImportMetaUrl', 'import.meta.dirname': '__bundleImportMetaDirname' } : {}),
      SOCKSCOPE_VERSION: JSON.stringify(version),
      ...(flavor === 'sea' ? { SOCKSCOPE_SEA_ASSETS: JSON.stringify(assetHashes) } : {}),
    },
    banner: {
      js: cjs
        ? CJS_IMPORT_META[flavor]
        : 'import{createRequire as __bundleCreateRequire}from"node:module";const require=__bundleCreateRequire(import.meta.url);',
    },
  });
}

/** The npm bundle: dist/bundle/sockscope.cjs (with its header line) and the workers beside it. */
export async function bundleNpm(outdir = join(root, 'dist', 'bundle')) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  for (const [entry, name] of workerEntries()) await bundle({ flavor: 'npm', entry, outfile: join(outdir, name), format: 'esm' });
  const main = join(outdir, 'sockscope.cjs');
  await bundle({ flavor: 'npm', entry: 'src/cli/main.ts', outfile: main, format: 'cjs' });
  // what bin/sockscope.js requires: the code cache's loader (src/cli/launch.ts), a few node builtins
  await bundle({ flavor: 'npm', entry: 'src/cli/launch.ts', outfile: join(outdir, 'launch.cjs'), format: 'cjs' });
  const body = readFileSync(main, 'utf8');
  // nothing in the main bundle may need a module loader (launch.ts runs it as a script)
  if (/\bimport\(/.test(body.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""')))
    throw new Error(`${main}: a dynamic import() is left in the CommonJS bundle`);
  writeFileSync(main, `${BUNDLE_HEADER}${createHash('sha256').update(body).digest('hex')}\n${body}`);
  return main;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const main = await bundleNpm();
  console.log(`${main.slice(root.length)}: ${(statSync(main).size / 1024).toFixed(0)} KiB`);
}
