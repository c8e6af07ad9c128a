/**
 * Run inside a network namespace by test/snapshot/read-ahead.test.ts: the same dumps through a plain netlink
 * session and through the read-ahead transport (src/snapshot/read-ahead.ts), before its worker is ready, after
 * (handed over between dumps), and handed over in the middle of a dump; prints what each read, as JSON.
 *
 * It makes its own 300 TCP connections first (a dump with tcp_info then spans several datagrams).
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { NETLINK_SOCK_DIAG } from '../../src/diag/constants.js';
import { legacyTcpDumpRequest } from '../../src/diag/requests.js';
import { ALL_STATES, EXT_ALL, TCPDIAG_GETSOCK } from '../../src/diag/constants.js';
import { readAheadTransport } from '../../src/snapshot/read-ahead.js';
import { DiagSession } from '../../src/snapshot/session.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { loadLibc } from '../../src/sys/libc.js';

const PAIRS = 150;
const sockets: Socket[] = [];
const server = createServer((s) => void sockets.push(s));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address() as { port: number };
await Promise.all(Array.from({ length: PAIRS }, () => new Promise<void>((r) => sockets.push(createConnection(port, '127.0.0.1', r)))));
while (sockets.length < 2 * PAIRS) await new Promise((r) => setTimeout(r, 5));

/** the rows' identities and the bytes of their attributes, in dump order */
const rows = (t: SocketTable) =>
  Array.from({ length: t.length }, (_, i) => `${t.proto[i]}|${t.family[i]}|${t.state[i]}|${t.sport[i]}|${t.dport[i]}|${t.inode[i]}|${t.attrLength[i]}`);

const options = { protocols: ['tcp', 'udp', 'unix'] as const, ext: EXT_ALL, unixShow: 0x7f };
const libc = await loadLibc();
const plain = await DiagSession.open();
const direct = await takeSnapshot(options, plain);
plain.close();

const transport = readAheadTransport(libc, libc.openNetlink(NETLINK_SOCK_DIAG));
const session = new DiagSession(transport);
const before = await takeSnapshot(options, session);
const handedBefore = transport.handedOver();
for (let k = 0; k < 500 && !transport.ready(); k++) await new Promise((r) => setTimeout(r, 10));
const after = await takeSnapshot(options, session);
const handedAfter = transport.handedOver();

// handed over mid-dump: a new transport, its first dump's first message waits for the worker to be ready
const midTransport = readAheadTransport(libc, libc.openNetlink(NETLINK_SOCK_DIAG));
const mid = new DiagSession(midTransport);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let messages = 0;
let readyAtFirst = false;
const outcome = mid.dump(
  (seq) => legacyTcpDumpRequest({ states: ALL_STATES, ext: EXT_ALL }, seq),
  TCPDIAG_GETSOCK,
  () => {
    if (messages++ === 0) {
      readyAtFirst = midTransport.ready();
      for (let k = 0; k < 500 && !midTransport.ready(); k++) Atomics.wait(sleeper, 0, 0, 10);
    }
  },
);
const midHanded = midTransport.handedOver();
const midAgain = await takeSnapshot(options, mid);
// a datagram that does not fit the caller's buffer: the worker's datagram is refused as recv() refuses it
let tooSmall = '';
try {
  mid.transport.send(legacyTcpDumpRequest({ states: ALL_STATES, ext: EXT_ALL }, 99));
  mid.transport.recv(new Uint8Array(64));
} catch (e) {
  tooSmall = (e as Error).message;
}
mid.close();
session.close();

process.stdout.write(
  `${JSON.stringify({
    direct: rows(direct.table),
    before: rows(before.table),
    after: rows(after.table),
    handedBefore,
    handedAfter,
    mid: { messages, errno: outcome.errno, readyAtFirst, handed: midHanded, again: rows(midAgain.table), datagrams: outcome.datagrams },
    tooSmall,
    tcp: direct.sources.find((s) => s.protocol === 'tcp')?.sockets,
  })}\n`,
);
for (const s of sockets) s.destroy();
server.close();
