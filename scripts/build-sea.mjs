#!/usr/bin/env node
// npm run build:sea: dist/bin/sockscope-linux-<arch>, a Node.js single executable application.
//
//   1. esbuild bundles src/cli (and the two worker-thread entries) into CommonJS files; koffi's loader is
//      pointed at src/sys/sea.ts (its native module comes from an asset, not node_modules) and the Worker
//      URLs at the worker assets (ES modules) written to the cache directory.
//   2. node --experimental-sea-config makes the preparation blob: the main bundle, its V8 code cache, and the
//      assets (koffi.node, the worker scripts) whose SHA-256 the bundle carries.
//   3. postject injects the blob into a copy of this node binary.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(import.meta.url);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const arch = process.arch;
const work = join(root, 'dist', 'sea');
const out = join(root, 'dist', 'bin', `sockscope-linux-${arch}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(out), { recursive: true });

// koffi's prebuilt native module for this platform (glibc): the one its own loader would pick
const koffiPkg = dirname(require.resolve(`@koromix/koffi-linux-${arch}/package.json`, { paths: [dirname(require.resolve('koffi'))] }));
const koffiNode = join(koffiPkg, `linux_${arch}`, 'koffi.node');

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const seaSource = join(root, 'src', 'sys', 'sea.ts');

/** `new Worker(new URL('./x.js', import.meta.url)`: a worker thread whose script is src/.../x.ts */
const WORKER_URL = /new Worker\(new URL\('\.\/([\w-]+)\.js', import\.meta\.url\)/;

/** Every worker entry in src/: [entry .ts relative to the repository, asset name] */
function workerEntries() {
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

/** esbuild plugin: koffi's static loader → loadKoffiNative(); `new URL('./x.js', import.meta.url)` of a Worker → the cached asset. */
const seaPlugin = {
  name: 'sockscope-sea',
  setup(build) {
    build.onResolve({ filter: /^\.\/src\/static\.js$/ }, (a) =>
      a.importer.includes(`${'node_modules'}/koffi/`) ? { path: 'koffi-static', namespace: 'sea' } : undefined,
    );
    build.onLoad({ filter: /^koffi-static$/, namespace: 'sea' }, () => ({
      contents: `import { loadKoffiNative } from ${JSON.stringify(seaSource)}; export function loadStatic() { return loadKoffiNative(); }`,
      loader: 'js',
      resolveDir: root,
    }));
    build.onLoad({ filter: /\/src\/.*\.ts$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      if (!WORKER_URL.test(text)) return undefined;
      const contents = text.replace(new RegExp(WORKER_URL.source, 'g'), (_m, name) => `new Worker(__seaWorkerFile(${JSON.stringify(`${name}.mjs`)})`);
      return {
        contents: `import { seaAssetFile as __seaAsset } from ${JSON.stringify(seaSource)};\nconst __seaWorkerFile = (name) => (__seaAsset('koffi.node'), __seaAsset(name));\n${contents}`,
        loader: 'ts',
      };
    });
  },
};

/**
 * The main bundle is CommonJS (what a single executable runs), its import.meta the executable's path; the
 * workers are ES modules (.mjs: they use top-level await) run from the cache directory, with a require for
 * the CommonJS code inside them.
 */
async function bundle(entry, outfile, assetHashes, format) {
  const cjs = format === 'cjs';
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    plugins: [seaPlugin],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      ...(cjs ? { 'import.meta.url': '__seaImportMetaUrl', 'import.meta.dirname': '__seaImportMetaDirname' } : {}),
      SOCKSCOPE_VERSION: JSON.stringify(version),
      SOCKSCOPE_SEA_ASSETS: JSON.stringify(assetHashes),
    },
    banner: {
      js: cjs
        ? 'var __seaImportMetaUrl=require("node:url").pathToFileURL(process.execPath).href,__seaImportMetaDirname=require("node:path").dirname(process.execPath);'
        : 'import{createRequire as __seaCreateRequire}from"node:module";const require=__seaCreateRequire(import.meta.url);',
    },
  });
}

// the workers first: the main bundle carries their hashes
const assets = { 'koffi.node': koffiNode };
const hashes = { 'koffi.node': sha256(koffiNode) };
for (const [entry, name] of workerEntries()) {
  const file = join(work, name);
  await bundle(entry, file, hashes, 'esm');
  assets[name] = file;
  hashes[name] = sha256(file);
}
// koffi.node's hash is all a worker needs (it never writes a worker asset); the main bundle knows every one
await bundle('src/cli/sea-entry.ts', join(work, 'sockscope.cjs'), hashes, 'cjs');

const config = {
  main: join(work, 'sockscope.cjs'),
  output: join(work, 'sea-prep.blob'),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  useSnapshot: false,
  assets,
};
writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });

rmSync(out, { force: true });
copyFileSync(process.execPath, out);
chmodSync(out, 0o755);
// node's own symbols and debug information (a third of the official binary) serve no one here
try {
  execFileSync('strip', ['--strip-all', out], { stdio: 'inherit' });
} catch {
  console.warn("build-sea: strip failed or is missing (binutils): the executable keeps node's debug information");
}
const injected = spawnSync(
  process.execPath,
  [
    require.resolve('postject/dist/cli.js'),
    out,
    'NODE_SEA_BLOB',
    join(work, 'sea-prep.blob'),
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  { encoding: 'utf8' },
);
// postject's LIEF warns about every note section it cannot name: noise, not a problem
const noise = /^warning: Can't find string offset for section name/;
process.stderr.write(
  injected.stderr
    .split('\n')
    .filter((l) => l && !noise.test(l))
    .map((l) => `${l}\n`)
    .join(''),
);
if (injected.status !== 0) throw new Error(`postject failed (${injected.status})`);
console.log(`${out}: ${(statSync(out).size / 1048576).toFixed(1)} MiB (node ${process.version}, ${arch})`);
