#!/usr/bin/env node
// npm run build:sea: dist/bin/sockscope-linux-<arch>, a Node.js single executable application.
//
//   1. esbuild bundles src/cli and the worker-thread entries (scripts/bundle.mjs, the definition the npm bundle
//      shares): koffi's loader is pointed at src/sys/sea.ts (its native module comes from an asset, not
//      node_modules) and the Worker URLs at the worker assets (ES modules) written to the cache directory.
//   2. node --experimental-sea-config makes the preparation blob: the main bundle, its V8 code cache, and the
//      assets (koffi.node, the worker scripts) whose SHA-256 the bundle carries.
//   3. postject injects the blob into a copy of this node binary.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, workerEntries } from './bundle.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(import.meta.url);
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

// the workers first: the main bundle carries their hashes
const assets = { 'koffi.node': koffiNode };
const hashes = { 'koffi.node': sha256(koffiNode) };
for (const [entry, name] of workerEntries()) {
  const file = join(work, name);
  await bundle({ flavor: 'sea', entry, outfile: file, format: 'esm', assetHashes: hashes });
  assets[name] = file;
  hashes[name] = sha256(file);
}
// koffi.node's hash is all a worker needs (it never writes a worker asset); the main bundle knows every one
await bundle({ flavor: 'sea', entry: 'src/cli/sea-entry.ts', outfile: join(work, 'sockscope.cjs'), format: 'cjs', assetHashes: hashes });

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
