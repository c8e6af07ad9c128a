#!/usr/bin/env node
// Records REAL sock_diag datagrams from the test population (test/helpers/population-holder.ts) into
// test/fixtures/, with the ss text and /proc/net files of the same namespace at the same moment. See
// test/fixtures/README.md for the format and what each file holds. Needs a build (npm run build) and root
// (or unprivileged user namespaces).
//
//   node scripts/record-fixtures.mjs [--out DIR]      (default test/fixtures)
//
// The outer process never enters the namespace: it starts the holder, runs this same script inside with
// `--inside DIR` (via nsenter) to capture the dumps, then runs ss and cat inside, then stops the holder.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dist = join(root, 'dist');
const self = fileURLToPath(import.meta.url);

/** Every dump, in the order (and with the sequence number) it is sent on one NETLINK_SOCK_DIAG socket. */
const DUMPS = [
  { file: 'tcp-legacy-ext255.bin', kind: 'legacy', states: 0xfff, ext: 0xff },
  { file: 'tcp-legacy-census.bin', kind: 'legacy', states: 0xfff, ext: 0 },
  { file: 'tcp-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 6, states: 0xfff, ext: 0xff },
  { file: 'tcp-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 6, states: 0xfff, ext: 0xff },
  { file: 'tcp-v2-inet-census.bin', kind: 'inet', family: 2, protocol: 6, states: 0xfff, ext: 0 },
  { file: 'tcp-v2-inet6-census.bin', kind: 'inet', family: 10, protocol: 6, states: 0xfff, ext: 0 },
  { file: 'udp-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 17, states: 0xfff, ext: 0xff },
  { file: 'udp-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 17, states: 0xfff, ext: 0xff },
  { file: 'unix-show7f.bin', kind: 'unix', states: 0xfff, show: 0x7f },
  // the rest of ALL_PROTOS, so that a whole default takeSnapshot() can be replayed
  { file: 'udplite-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 136, states: 0xfff, ext: 0xff },
  { file: 'udplite-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 136, states: 0xfff, ext: 0xff },
  { file: 'raw-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 255, states: 0xfff, ext: 0xff },
  { file: 'raw-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 255, states: 0xfff, ext: 0xff },
  { file: 'sctp-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 132, states: 0xfff, ext: 0xff },
  { file: 'sctp-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 132, states: 0xfff, ext: 0xff },
  { file: 'mptcp-v2-inet-ext255.bin', kind: 'inet', family: 2, protocol: 262, states: 0xfff, ext: 0xff },
  { file: 'mptcp-v2-inet6-ext255.bin', kind: 'inet', family: 10, protocol: 262, states: 0xfff, ext: 0xff },
];

const SS = [
  ['ss-tanieO.txt', ['-tanieO']],
  ['ss-tanO.txt', ['-tanO']],
  ['ss-uanieO.txt', ['-uanieO']],
  ['ss-uanO.txt', ['-uanO']],
  ['ss-xaneO.txt', ['-xaneO']],
  ['ss-xanO.txt', ['-xanO']],
];
const PROC = ['tcp', 'tcp6', 'udp', 'udp6', 'udplite', 'udplite6', 'raw', 'raw6', 'unix', 'sockstat', 'sockstat6'];

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

/** Inside the namespace: send each request, keep every datagram until the one holding DONE (or ERROR). */
async function inside(outDir) {
  const { loadLibc } = await import(join(dist, 'src/sys/libc.js'));
  const { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest } = await import(join(dist, 'src/diag/requests.js'));
  const libc = await loadLibc();
  const fd = libc.openNetlink(4 /* NETLINK_SOCK_DIAG */);
  const buf = new Uint8Array(256 * 1024);
  const view = new DataView(buf.buffer);
  const results = [];
  try {
    for (const [i, d] of DUMPS.entries()) {
      const seq = i + 1;
      const request =
        d.kind === 'legacy'
          ? legacyTcpDumpRequest({ states: d.states, ext: d.ext }, seq)
          : d.kind === 'unix'
            ? unixDumpRequest({ states: d.states, show: d.show }, seq)
            : inetDumpRequest({ family: d.family, protocol: d.protocol, states: d.states, ext: d.ext }, seq);
      libc.sendToKernel(fd, request);
      const datagrams = [];
      const types = {};
      let errno = 0;
      let done = false;
      while (!done) {
        if (datagrams.length > 10_000) throw new Error(`${d.file}: no NLMSG_DONE after 10000 datagrams`);
        const n = libc.recv(fd, buf);
        datagrams.push(buf.slice(0, n));
        for (let at = 0; at + 16 <= n; ) {
          const len = view.getUint32(at, true);
          const type = view.getUint16(at + 4, true);
          if (len < 16 || at + len > n) throw new Error(`${d.file}: malformed datagram from the kernel`);
          if (view.getUint32(at + 8, true) === seq) {
            types[type] = (types[type] ?? 0) + 1;
            if (type === NLMSG_DONE || type === NLMSG_ERROR) {
              errno = len >= 20 ? -view.getInt32(at + 16, true) : 0;
              if (type === NLMSG_DONE || errno !== 0) done = true;
            }
          }
          at += (len + 3) & ~3;
        }
      }
      const size = datagrams.reduce((s, x) => s + 4 + x.byteLength, 0);
      const file = new Uint8Array(size);
      const fv = new DataView(file.buffer);
      let at = 0;
      for (const x of datagrams) {
        fv.setUint32(at, x.byteLength, true);
        file.set(x, at + 4);
        at += 4 + x.byteLength;
      }
      writeFileSync(join(outDir, d.file), file);
      results.push({
        ...d,
        seq,
        requestType: new DataView(request.buffer, request.byteOffset).getUint16(4, true),
        requestHex: Buffer.from(request).toString('hex'),
        datagrams: datagrams.length,
        bytes: size,
        messagesByType: types,
        errno,
      });
    }
  } finally {
    libc.close(fd);
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

async function outside(outDir) {
  const netnsJs = join(dist, 'test/helpers/netns.js');
  if (!existsSync(netnsJs)) throw new Error(`${netnsJs} is missing: run \`npm run build\` first`);
  const { PopulationNetns, netnsSupport } = await import(netnsJs);
  const support = netnsSupport();
  if (!support.mode) throw new Error(`cannot record: ${support.skip}`);
  mkdirSync(join(outDir, 'proc/net'), { recursive: true });
  const ns = await PopulationNetns.start({ lifetimeMs: 60_000 });
  try {
    // 1. the datagrams, 2. ss right after, 3. /proc/net: nothing moves in between (the population is idle)
    const dumps = JSON.parse(await ns.node(self, ['--inside', outDir], { timeoutMs: 30_000 }));
    for (const [file, args] of SS) writeFileSync(join(outDir, file), await ns.check('ss', args));
    for (const f of PROC) {
      const r = await ns.run('cat', [`/proc/net/${f}`]);
      if (r.code === 0) writeFileSync(join(outDir, 'proc/net', f), r.stdout);
    }
    const manifest = {
      description:
        'sock_diag datagrams, ss output and /proc/net files recorded at one moment from the population of test/helpers/population-holder.ts; see README.md',
      container: 'each .bin file: for every datagram the kernel sent for the request, in order: u32 little-endian length, then that many bytes',
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
      machine: execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim(),
      ssVersion: (await ns.check('ss', ['-V'])).trim(),
      node: process.version,
      mode: ns.mode,
      recordedAt: new Date().toISOString(),
      dumps,
      ss: Object.fromEntries(SS.map(([file, args]) => [file, `ss ${args.join(' ')}`])),
      proc: PROC.filter((f) => existsSync(join(outDir, 'proc/net', f))).map((f) => `proc/net/${f}`),
      population: ns.population,
    };
    writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const d of dumps)
      console.log(
        `${d.file}: seq ${d.seq}, ${d.datagrams} datagram(s), ${d.bytes} bytes, messages ${JSON.stringify(d.messagesByType)}${d.errno ? `, errno ${d.errno}` : ''}`,
      );
    console.log(`recorded into ${outDir} (kernel ${manifest.kernel})`);
  } finally {
    await ns.stop();
  }
}

const argv = process.argv.slice(2);
const at = argv.indexOf('--inside');
try {
  if (at >= 0) await inside(resolve(argv[at + 1]));
  else {
    const o = argv.indexOf('--out');
    await outside(resolve(o >= 0 ? argv[o + 1] : join(root, 'test/fixtures')));
  }
} catch (e) {
  console.error(`record-fixtures: ${e?.stack ?? e}`);
  process.exit(1);
}
