/**
 * Records test/fixtures/lifecycle/destroy-events.json: run as root or in a user namespace, in a fresh network
 * namespace (`unshare -n sh -c 'ip link set lo up; node dist/test/helpers/record-destroy-events.js OUT'`). Joins the four
 * destroy groups, makes a known population close (per family: one TCP connection, 1234 bytes client→server and
 * 4321 back, the server closing first; its listener; a connected UDP socket), and keeps every datagram as sent.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadLibc } from '../../src/sys/libc.js';

const POPULATION = `
import socket
for fam, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    srv = socket.socket(fam); srv.bind((addr, 5001)); srv.listen(4)
    c = socket.socket(fam); c.connect((addr, 5001)); a, _ = srv.accept()
    c.sendall(b'x' * 1234); got = 0
    while got < 1234: got += len(a.recv(65536))
    a.sendall(b'y' * 4321); got = 0
    while got < 4321: got += len(c.recv(65536))
    a.close(); c.recv(10); c.close(); srv.close()
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((addr, 5353)); u.connect((addr, 53)); u.close()
`;

const libc = await loadLibc();
const fd = libc.openNetlink(4, { groups: [1, 2, 3, 4], timeoutMs: 500 });
execFileSync('python3', ['-c', POPULATION]);
const buf = new Uint8Array(65536);
const datagrams: string[] = [];
for (let n; (n = libc.tryRecv(fd, buf, false)) > 0; ) datagrams.push(Buffer.from(buf.subarray(0, n)).toString('base64'));
writeFileSync(
  process.argv[2],
  `${JSON.stringify(
    {
      kernel: execFileSync('uname', ['-r']).toString().trim(),
      recorded:
        'test/helpers/record-destroy-events.ts: per family (IPv4, then IPv6) a TCP connection of 1234 bytes client->server and 4321 back, the server closing first; its listener; a connected UDP socket 5353->53',
      datagrams,
    },
    null,
    1,
  )}\n`,
);
process.stdout.write(`${datagrams.length} datagrams\n`);
