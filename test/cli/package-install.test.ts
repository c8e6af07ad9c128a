/**
 * The npm tarball as a user installs it: `npm pack`, then `npm install -g --omit=dev` into a temporary prefix
 * (no devDependencies: whatever src/ imports at run time must come from "dependencies"), and every subcommand
 * run from that prefix (test/helpers/artifact.ts). Also: the tarball carries every file its docs link to.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exerciseArtifact } from '../helpers/artifact.js';
import { netnsSupport } from '../helpers/netns.js';
import { cleanEnv, tempDir } from '../helpers/agent.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** npm without the variables `npm test` sets for its own run (prefix, scripts, ...). */
function npm(args: string[], cwd = REPO): string {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 180_000, killSignal: 'SIGKILL' });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
}

/** The `npm install ...` arguments of the Dockerfile's RUN line, without the tarball. */
function dockerfileInstall(): string[] {
  const text = readFileSync(join(REPO, 'deploy', 'container', 'Dockerfile'), 'utf8');
  const m = /^RUN npm (install(?: --?[\w-]+(?:=\S+)?)+) \/tmp\/sockscope-\*\.tgz/m.exec(text);
  assert.ok(m, 'the Dockerfile installs the tarball with npm install');
  assert.ok(m[1].includes('--omit=dev'), 'the image is a production install');
  return m[1].split(' ');
}

let dir: string;
let prefix: string;
let files: string[];

before(() => {
  dir = tempDir('package');
  // --ignore-scripts: `npm test` has just compiled dist/ (prepare would run tsc again)
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir])) as { filename: string; files: { path: string }[] }[];
  files = packed[0].files.map((f) => f.path);
  prefix = join(dir, 'prefix');
  // the container image's install, flag for flag (deploy/container/Dockerfile), into a temporary prefix
  npm([...dockerfileInstall(), '--prefix', prefix, '--prefer-offline', join(dir, packed[0].filename)]);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the installed tree holds no devDependency', () => {
  const modules = join(prefix, 'lib', 'node_modules', 'sockscope', 'node_modules');
  const installed = new Set(readdirSync(modules).flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((m) => `${n}/${m}`) : [n])));
  for (const d of Object.keys(pkg.dependencies)) assert.ok(installed.has(d), `dependency ${d} is not installed`);
  for (const d of Object.keys(pkg.devDependencies)) assert.ok(!installed.has(d), `devDependency ${d} was installed with --omit=dev`);
});

test('the tarball holds every file its docs link to, and no test or benchmark code', () => {
  const shipped = new Set(files);
  // test-only code (reference models, helpers, fixtures) lives in test/, and bench/ is the benchmarks': neither ships
  assert.deepEqual(
    files.filter((f) => /^(dist\/)?(test|bench)\//.test(f)),
    [],
    'test or bench files in the tarball',
  );
  assert.ok(
    files.some((f) => f.startsWith('dist/src/')),
    'the tarball holds dist/src',
  );
  const missing: string[] = [];
  for (const doc of files.filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(REPO, doc), 'utf8');
    for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const path = normalize(join(dirname(doc), target)).replace(/\/$/, '');
      if (!shipped.has(path) && ![...shipped].some((f) => f.startsWith(`${path}/`))) missing.push(`${doc} -> ${target}`);
    }
  }
  assert.deepEqual(missing, [], 'links to files the tarball leaves out');
  assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'sockscope', 'deploy', 'systemd', 'sockscope.service')));
});

test('the DaemonSet runs the image the Dockerfile documents, at this version', () => {
  const ds = readFileSync(join(REPO, 'deploy', 'kubernetes', 'sockscope-daemonset.yaml'), 'utf8');
  const docker = readFileSync(join(REPO, 'deploy', 'container', 'Dockerfile'), 'utf8');
  assert.match(ds, new RegExp(`^\\s+image: sockscope:${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(docker, new RegExp(`-t REGISTRY/sockscope:${pkg.version.replace(/\./g, '\\.')} `));
});

test('the installed command runs the bundle from its code cache, not the modules of dist/src', () => {
  for (const f of ['bin/package.json', 'dist/bundle/launch.cjs', 'dist/bundle/sockscope.cjs', 'dist/bundle/worker-entry.mjs', 'dist/bundle/holders-worker.mjs'])
    assert.ok(files.includes(f), `${f} is not in the tarball (npm run build makes it; prepare runs that before npm pack)`);
  const installed = join(prefix, 'lib', 'node_modules', 'sockscope');
  const cache = join(dir, 'code-cache');
  mkdirSync(cache, { mode: 0o700 });
  // the library's modules out of the way: whatever the commands run comes from dist/bundle and node_modules
  renameSync(join(installed, 'dist', 'src'), join(installed, 'dist', 'src.away'));
  try {
    for (const args of [['--version'], ['--json'], ['ls', '-tanp'], ['gather', '--measurement', 'netstat', '--format', 'influx']]) {
      const r = spawnSync(join(prefix, 'bin', 'sockscope'), args, {
        encoding: 'utf8',
        timeout: 60_000,
        env: cleanEnv({ CACHE_DIRECTORY: cache }),
        maxBuffer: 1 << 30,
      });
      assert.equal(r.status, 0, `sockscope ${args.join(' ')} without dist/src: ${r.stderr}`);
      assert.ok(r.stdout.length > 0, `sockscope ${args.join(' ')} printed nothing`);
    }
  } finally {
    renameSync(join(installed, 'dist', 'src.away'), join(installed, 'dist', 'src'));
  }
  const suffix = `${process.version}-${process.arch}.cache`;
  assert.deepEqual(
    readdirSync(cache)
      .filter((f) => f.startsWith('v8-'))
      .sort(),
    ['gather', 'ls', 'summary'].map((c) => `v8-${c}-${suffix}`),
    'each command left its code cache',
  );
});

test('every subcommand runs from the production install', { skip: netnsSupport().skip }, async (t) => {
  await exerciseArtifact(t, { argv: [join(prefix, 'bin', 'sockscope')], launcher: true }, pkg.version);
});
