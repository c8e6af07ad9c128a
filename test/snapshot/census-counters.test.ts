/**
 * The census and the kernel's counters, in a throwaway network namespace: with skipEmptyUdp (the walk over every
 * namespace), UDP is not dumped at all while sockstat and sockstat6 say the namespace has no UDP socket (a UDP
 * dump walks the whole UDP hash table, shared by every namespace, to find none). With UDP sockets the dumps run
 * and count them; without the option they always run.
 * The requests are watched on the real netlink socket's way out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsSupport } from '../helpers/netns.js';

const support = netnsSupport();
const census = fileURLToPath(new URL('../../src/snapshot/census-dump.js', import.meta.url));
const session = fileURLToPath(new URL('../../src/snapshot/session.js', import.meta.url));

// in the new namespace: a census with no UDP socket, then one with a UDP socket of each family
const SCRIPT = `
const { takeCensus } = await import(${JSON.stringify(census)});
const { DiagSession } = await import(${JSON.stringify(session)});
const dgram = await import('node:dgram');
const real = await DiagSession.open();
const protocols = [];
const s = new DiagSession({ send: (m) => { protocols.push(m[17]); real.transport.send(m); }, recv: (b) => real.transport.recv(b), close: () => real.transport.close() });
const count = async (skipEmptyUdp = true) => {
  protocols.length = 0;
  const c = await takeCensus({ protocols: ['tcp', 'udp'], timeWaitFromCounter: true, skipEmptyUdp }, s);
  return { udp4: c.counts.total('udp', 2), udp6: c.counts.total('udp', 10), tcp: c.counts.total('tcp'), requests: [...protocols] };
};
const asked = await count(false);
const before = await count();
const a = dgram.createSocket('udp4'); const b = dgram.createSocket({ type: 'udp6', ipv6Only: true });
// the wildcard addresses: lo is down in a new namespace
const bound = (sock, addr) => new Promise((ok, fail) => { sock.once('error', fail); sock.bind(0, addr, ok); });
await Promise.all([bound(a, '0.0.0.0'), bound(b, '::')]);
const after = await count();
a.close(); b.close(); s.close();
console.log(JSON.stringify({ asked, before, after }));
`;

describe('census: skipEmptyUdp, the kernel counters in place of empty UDP dumps', () => {
  it('sends no UDP request while the namespace has no UDP socket, and counts them by dump once it has', { skip: support.skip }, () => {
    const r = spawnSync('unshare', [support.mode === 'user' ? '-rn' : '-n', process.execPath, '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const { asked, before, after } = JSON.parse(r.stdout);
    // without skipEmptyUdp the census dumps UDP whatever the counters say
    assert.deepEqual(asked, { udp4: 0, udp6: 0, tcp: 0, requests: [0, 17, 17] });
    // the legacy TCP walk's request (TCPDIAG_GETSOCK: byte 17 of the message is inet_diag_req's dst_len, 0)
    // and no inet_diag_req_v2 for IPPROTO_UDP (17)
    assert.deepEqual(before, { udp4: 0, udp6: 0, tcp: 0, requests: [0] });
    assert.equal(after.udp4, 1);
    assert.equal(after.udp6, 1);
    assert.deepEqual(after.requests, [0, 17, 17], 'one UDP dump per family once there are UDP sockets');
  });
});
