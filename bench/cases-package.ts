/**
 * The single executable against the npm install (bench/run.ts appends these cases): the same commands, one
 * started as bin/sockscope.js (what the tarball installs: bin/, dist/bundle, production node_modules), the
 * other as dist/bin/sockscope-linux-<arch> (npm run build:sea; its native module already in the cache, as on
 * every start after the first). Sizes: docs/benchmarks.md (du of each install).
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SEA = fileURLToPath(new URL(`../../dist/bin/sockscope-linux-${process.arch}`, import.meta.url));
const seaSize = () => (existsSync(SEA) ? `${(statSync(SEA).size / 1048576).toFixed(1)} MiB` : 'not built');
const needSea = () => (existsSync(SEA) ? undefined : `${SEA} is missing: npm run build:sea`);
const TABLE_LINES = '^(?!State|Netid)\\S';

export const PACKAGE_CASES = [
  {
    id: 'sea-version',
    title: `start-up: sockscope --version, npm install (node) vs single executable (${seaSize()})`,
    peer: {
      name: 'bin/sockscope.js --version (npm install: the launcher, then node)',
      runner: { kind: 'process' as const, argv: () => ['bin/sockscope.js', '--version'] },
    },
    rows: [
      // a single executable is node: it builds the store NODE_EXTRA_CA_CERTS names before any code of ours runs
      { name: 'single executable --version (NODE_EXTRA_CA_CERTS as set)', runner: { kind: 'process' as const, argv: () => [SEA, '--version'] }, info: true },
      {
        name: "single executable --version, NODE_EXTRA_CA_CERTS unset (as the .deb's /usr/bin/sockscope starts it)",
        runner: { kind: 'process' as const, argv: () => ['env', '-u', 'NODE_EXTRA_CA_CERTS', SEA, '--version'] },
        info: true,
      },
    ],
    skip: needSea,
  },
  {
    id: 'sea-ls',
    title: 'sockscope ls -tan, npm install (node) vs single executable',
    peer: {
      name: 'bin/sockscope.js ls -tan > /dev/null (npm install: the launcher, then node)',
      runner: { kind: 'process' as const, argv: () => ['bin/sockscope.js', 'ls', '-tan'], countLines: TABLE_LINES },
    },
    rows: [
      {
        name: 'single executable ls -tan > /dev/null',
        runner: { kind: 'process' as const, argv: () => [SEA, 'ls', '-tan'], countLines: TABLE_LINES },
        info: true,
      },
    ],
    skip: needSea,
  },
];
