#!/usr/bin/env node
// Records REAL packet_diag and netlink_diag answers into test/fixtures/families/, with ss's text of the same
// namespace at the same moment: the sockets of test/helpers/family-maker.ts (python3) in a throwaway network
// namespace. Needs a build (npm run build) and root (unshare -n). See test/fixtures/families/README.md.
//
//   node scripts/record-family-fixtures.mjs [--out DIR]      (default test/fixtures/families)
//
// The script re-runs itself under `unshare -n` with --inside: there it brings lo up, starts the maker, sends
// each dump on one NETLINK_SOCK_DIAG socket (the library's own requests, through takeFamilySockets), keeps every
// datagram as received, runs ss right after, and stops the maker.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = resolve(dirname(self), '..');
const dist = join(root, 'dist');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = resolve(outAt >= 0 ? args[outAt + 1] : join(root, 'test/fixtures/families'));

if (!args.includes('--inside')) {
  execFileSync('unshare', ['-n', process.execPath, self, '--inside', '--out', out], { stdio: 'inherit' });
  process.exit(0);
}

execFileSync('ip', ['link', 'set', 'lo', 'up']);
const { FAMILY_MAKER } = await import(join(dist, 'test/helpers/family-maker.js'));
const { DiagSession } = await import(join(dist, 'src/snapshot/session.js'));
const { takeFamilySockets } = await import(join(dist, 'src/snapshot/families.js'));

const maker = spawn('python3', ['-c', FAMILY_MAKER], { stdio: ['pipe', 'pipe', 'inherit'] });
const ready = await new Promise((resolveLine, reject) => {
  let buf = '';
  maker.stdout.on('data', (c) => {
    buf += c;
    if (buf.includes('\n')) resolveLine(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
  });
  maker.once('exit', (code) => reject(new Error(`the maker exited (${code})`)));
});

const CLOSE = 1 << 7;
const dumps = [
  { file: 'netlink.bin', family: 'netlink' },
  { file: 'packet.bin', family: 'packet' },
];
const session = await DiagSession.open();
const recorded = [];
try {
  for (const d of dumps) {
    const datagrams = [];
    const requests = [];
    const tap = new DiagSession({
      send: (m) => {
        requests.push(Buffer.from(m).toString('hex'));
        session.transport.send(m);
      },
      recv: (b) => {
        const n = session.transport.recv(b);
        if (n > 0) datagrams.push(Buffer.from(b.subarray(0, n)));
        return n;
      },
      close: () => {},
    });
    const { sockets } = await takeFamilySockets([{ family: d.family, states: CLOSE, required: true }], {}, tap);
    const container = Buffer.concat(datagrams.flatMap((g) => [Buffer.from(Uint32Array.of(g.length).buffer), g]));
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, d.file), container);
    recorded.push({ ...d, requestHex: requests[0], datagrams: datagrams.length, bytes: container.length, sockets: sockets.length });
  }
} finally {
  session.close();
}
// ss right after, on the same sockets (no -p: a replay has no processes)
const ss = {
  'ss-0anebm.txt': ['-0', '-a', '-n', '-e', '-b', '-m'],
  'ss-Anetlink-anem.txt': ['-A', 'netlink', '-a', '-n', '-e', '-m'],
};
for (const [file, argv] of Object.entries(ss)) writeFileSync(join(out, file), execFileSync('ss', argv, { encoding: 'utf8' }));
maker.stdin.end();
writeFileSync(
  join(out, 'manifest.json'),
  `${JSON.stringify(
    {
      description: 'packet_diag and netlink_diag datagrams and ss text recorded at one moment from the sockets of test/helpers/family-maker.ts; see README.md',
      kernel: release(),
      ssVersion: execFileSync('ss', ['-V'], { encoding: 'utf8' }).trim(),
      node: process.version,
      recordedAt: new Date().toISOString(),
      makerPid: ready.pid,
      dumps: recorded,
      ss,
    },
    null,
    2,
  )}\n`,
);
console.log(`recorded ${recorded.map((r) => `${r.file}: ${r.sockets} sockets`).join(', ')} into ${out}`);
