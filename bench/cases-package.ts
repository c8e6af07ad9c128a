/**
 * The single executable against the npm install (bench/run.ts appends these cases): the same commands, one
 * started as `node bin/sockscope.js` (what the tarball installs: bin/, dist/src, production node_modules), the
 * other as dist/bin/sockscope-linux-<arch> (npm run build:sea; its native module already in the cache, as on
 * every start after the first). Sizes: docs/benchmarks.md (du of each install).
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NODE = process.execPath;
const SEA = fileURLToPath(new URL(`../../dist/bin/sockscope-linux-${process.arch}`, import.meta.url));
const seaSize = () => (existsSync(SEA) ? `${(statSync(SEA).size / 1048576).toFixed(1)} MiB` : 'not built');
const needSea = () => (existsSync(SEA) ? undefined : `${SEA} is missing: npm run build:sea`);
const TABLE_LINES = '^(?!State|Netid)\\S';

export const PACKAGE_CASES = [
  {
    id: 'sea-version',
    title: `start-up: sockscope --version, npm install (node) vs single executable (${seaSize()})`,
    peer: { name: 'node bin/sockscope.js --version (npm install)', runner: { kind: 'process' as const, argv: () => [NODE, 'bin/sockscope.js', '--version'] } },
    rows: [{ name: 'single executable --version', runner: { kind: 'process' as const, argv: () => [SEA, '--version'] }, info: true }],
    skip: needSea,
  },
  {
    id: 'sea-ls',
    title: 'sockscope ls -tan, npm install (node) vs single executable',
    peer: {
      name: 'node bin/sockscope.js ls -tan > /dev/null (npm install)',
      runner: { kind: 'process' as const, argv: () => [NODE, 'bin/sockscope.js', 'ls', '-tan'], countLines: TABLE_LINES },
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
