/**
 * The table words of vsock and XDP sockets, which this kernel cannot produce (no vsock_diag, no xdp_diag): the
 * sockets are decoded from messages built from the UAPI layouts, and the words checked against ss 6.1's format
 * strings (misc/ss.c vsock_addr_print, xdp_stats_print, xdp_show_ring/umem/stats), quoted beside each. Packet
 * and netlink lines are compared with ss itself in test/integration/families-vs-ss.test.ts. Then the records of
 * all four against schema/socket.schema.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { decodeNetlinkMessage } from '../../../src/diag/netlink-diag.js';
import { decodePacketMessage } from '../../../src/diag/packet.js';
import { decodeVsockMessage } from '../../../src/diag/vsock.js';
import { decodeXdpMessage } from '../../../src/diag/xdp.js';
import { familyRecord } from '../../../src/outputs/listing/family-record.js';
import { bpfFilterText, familyLine, familyTableText } from '../../../src/outputs/listing/family-table.js';
import { concat, le16, le32, le64, nlattr, u8, viewOf, zeros } from '../../helpers/bytes.js';

const at = <T>(f: (v: DataView, o: number, l: number) => T, m: Uint8Array): T => f(viewOf(m), 0, m.byteLength);
const vsock = (state: number, local: [number, number], remote: [number, number]) =>
  at(
    decodeVsockMessage,
    concat(u8(40), u8(1), u8(state), u8(0), le32(local[0]), le32(local[1]), le32(remote[0]), le32(remote[1]), le32(31), le32(1), le32(0)),
  )!;
const xdp = at(
  decodeXdpMessage,
  concat(
    u8(44),
    u8(3),
    le16(0),
    le32(77),
    le32(0xabc),
    le32(0),
    nlattr(1, concat(le32(2), le32(5))),
    nlattr(2, le32(1000)),
    nlattr(3, le32(2048)),
    nlattr(5, concat(le64(4194304n), le32(1), le32(1024), le32(4096), le32(0), le32(2), le32(5), le32(1), le32(1))),
    nlattr(6, le32(4096)),
    nlattr(7, le32(2048)),
    nlattr(9, concat(...[1n, 2n, 3n, 4n, 5n, 6n].map(le64))),
  ),
)!;
const names = { interfaceName: (i: number) => (i === 2 ? 'eth0' : undefined) };

describe('vsock and XDP lines (ss 6.1 format strings)', () => {
  it('vsock: "%u:%u" with * for VMADDR_CID_ANY / VMADDR_PORT_ANY, netid v_str, ss state names', () => {
    const l = familyLine(vsock(10, [0xffffffff, 1234], [0xffffffff, 0xffffffff]), {});
    assert.deepEqual([l.netid, l.state, l.local, l.peer, l.words], ['v_str', 'LISTEN', '*:1234', '*:*', '']);
    const e = familyLine(vsock(1, [3, 1234], [2, 5555]), {});
    assert.deepEqual([e.state, e.local, e.peer], ['ESTAB', '3:1234', '2:5555']);
  });

  it('xdp: "DEVICE:qN", -e: details, then rx(entries:N), tx(...), umem(...), fr, cr, stats(...) on their own lines', () => {
    const l = familyLine(xdp, { ...names, extended: true });
    assert.deepEqual([l.netid, l.state, l.recvQ, l.local, l.peer], ['xdp', 'UNCONN', '0', 'eth0:q5', '*']);
    assert.equal(
      l.words,
      ' uid:1000 ino:77 sk:abc' +
        '\n\trx(entries:2048)' +
        '\n\tumem(id:1,size:4194304,num_pages:1024,chunk_size:4096,headroom:0,ifindex:2,qid:5,zc:1,refs:1)' +
        '\n\tfr(entries:4096)\n\tcr(entries:2048)' +
        '\n\tstats(rx dropped:1,rx invalid:2,rx queue full:3,rx fill ring empty:4,tx invalid:5,tx ring empty:6)',
    );
    // -O: ss's " tumem(" (its oneline spelling) and the rest on one line
    assert.match(familyLine(xdp, { ...names, extended: true, oneline: true }).words, /^ uid:1000 ino:77 sk:abc rx\(entries:2048\) tumem\(id:1,/);
  });

  it('ss -b\'s words: "bpf filter (N): " then " 0x%02x %u %u %u," per instruction', () => {
    assert.equal(
      bpfFilterText([
        { code: 0x28, jt: 0, jf: 0, k: 12 },
        { code: 6, jt: 0, jf: 0, k: 0xffffffff },
      ]),
      'bpf filter (2):  0x28 0 0 12, 0x06 0 0 4294967295,',
    );
  });

  it('the table: the header once, columns aligned, Netid and State as asked, no trailing blanks', () => {
    const text = familyTableText([vsock(10, [0xffffffff, 1234], [0xffffffff, 0xffffffff]), xdp], names, { header: true, netid: true, state: true });
    assert.deepEqual(text.split('\n'), [
      'Netid  State   Recv-Q  Send-Q  Local Address:Port  Peer Address:Port Process',
      'v_str  LISTEN       0       0  *:1234              *:*',
      'xdp    UNCONN       0       0  eth0:q5             *',
      '',
    ]);
    assert.equal(familyTableText([], names, { header: false, netid: false, state: false }), '');
  });
});

describe('-Z on netlink sockets (ss 6.1 netlink_show_one)', () => {
  it("proc_ctx= after the peer: the port id's process context, unavailable for autobound ids and without an LSM", () => {
    const nl = (portid: number) => ({
      family: 'netlink' as const,
      type: 3,
      state: 7,
      rqueue: 0,
      wqueue: 0,
      inode: 1,
      cookieLo: 0,
      cookieHi: 0,
      netlink: { protocol: 0, portid, dstPortid: 0, dstGroup: 0, connected: false },
    });
    let own: string;
    try {
      own = readFileSync(`/proc/${process.pid}/attr/current`, 'utf8').replace(/\0/g, '').trim() || 'unavailable';
    } catch {
      own = 'unavailable';
    }
    assert.equal(familyLine(nl(process.pid), { securityContext: true }).words, ` proc_ctx=${own}`);
    assert.equal(familyLine(nl(-4123), { securityContext: true, extended: true }).words, ' proc_ctx=unavailable sk=0 cb=0 groups=0x00000000');
    assert.match(familyLine(nl(0), { securityContext: true }).words, /^ proc_ctx=\S+$/);
    assert.equal(familyLine(nl(0), {}).words, '');
  });
});

describe("the four families' records", () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
    JSON.parse(readFileSync(`${root}schema/socket.schema.json`, 'utf8')),
  );
  const packet = at(
    decodePacketMessage,
    concat(
      u8(17),
      u8(3),
      le16(3),
      le32(5),
      le32(6),
      le32(0),
      nlattr(0, concat(le32(2), zeros(16), le32(1))),
      nlattr(7, concat(le16(6), u8(0), u8(0), le32(0))),
    ),
  )!;
  const netlink = at(decodeNetlinkMessage, concat(u8(16), u8(3), u8(15), u8(0), le32(412), zeros(8), le32(9), le32(1), le32(0), nlattr(1, le32(1))))!;

  it('validate against schema/socket.schema.json with every section on', () => {
    for (const s of [packet, netlink, vsock(1, [3, 1], [2, 2]), xdp]) {
      const r = familyRecord(s, { ...names, extended: true, memory: true, bpf: true });
      assert.ok(validate(JSON.parse(JSON.stringify(r))), `${JSON.stringify(r)}\n${JSON.stringify(validate.errors)}`);
    }
  });

  it('carry the family object always, the details with -e, the program with -b', () => {
    assert.deepEqual(familyRecord(packet, names), {
      protocol: 'packet',
      family: 'packet',
      socket_type: 'raw',
      state: 'close',
      recv_q: 0,
      send_q: 0,
      packet: { protocol: 3, protocol_name: 'all', ifindex: 2, interface: 'eth0' },
    });
    assert.deepEqual(familyRecord(packet, { bpf: true }).bpf_filter, [{ code: 6, jt: 0, jf: 0, k: 0 }]);
    assert.deepEqual(familyRecord(netlink, { extended: true }).netlink_details, { groups: [1] });
    assert.equal(familyRecord(xdp, { extended: true }).cookie, 'abc');
  });
});
