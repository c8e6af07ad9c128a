/**
 * The packet, netlink, vsock and XDP decoders and requests, from byte vectors BUILT here from the UAPI struct
 * layouts (linux/packet_diag.h, netlink_diag.h, vm_sockets_diag.h, xdp_diag.h), not recorded: the kernel these
 * tests were written on has no vsock_diag or xdp_diag, so it cannot produce those answers (packet and netlink
 * answers of the real kernel are compared with ss in test/integration/families-vs-ss.test.ts). Then the dump of
 * each family through takeFamilySockets over a replayed transport: ENOENT (no diag module) is an error naming the
 * kernel option when the family was asked for by name, a note otherwise; short messages are counted and skipped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNetlinkMessage, netlinkDumpRequest, NETLINK_SHOW_ALL } from '../../src/diag/netlink-diag.js';
import { decodePacketMessage, PACKET_SHOW_ALL, packetDumpRequest } from '../../src/diag/packet.js';
import { decodeVsockMessage, vsockDumpRequest } from '../../src/diag/vsock.js';
import { decodeXdpMessage, XDP_SHOW_ALL, xdpDumpRequest } from '../../src/diag/xdp.js';
import { isSockscopeError } from '../../src/errors.js';
import { takeFamilySockets } from '../../src/snapshot/families.js';
import { DiagSession } from '../../src/snapshot/session.js';
import { replayTransport } from '../../src/snapshot/replay.js';
import { concat, done, hex, le16, le32, le64, nlattr, nlmsg, NLM_F_MULTI, toHex, u8, viewOf, zeros } from '../helpers/bytes.js';

const SOCK_DIAG_BY_FAMILY = 20;
const decode = <T>(f: (v: DataView, off: number, len: number) => T, msg: Uint8Array): T => {
  // at an offset inside a larger buffer, as a datagram holds it
  const bytes = concat(zeros(16), msg, zeros(4));
  return f(viewOf(bytes), 16, msg.byteLength);
};

// struct packet_diag_msg { u8 pdiag_family, pdiag_type; u16 pdiag_num; u32 pdiag_ino; u32 pdiag_cookie[2]; }
const packetMsg = (type: number, num: number, ino: number, cookie: [number, number]) =>
  concat(u8(17), u8(type), le16(num), le32(ino), le32(cookie[0]), le32(cookie[1]));
// struct netlink_diag_msg { u8 family, type, protocol, state; u32 portid, dst_portid, dst_group, ino, cookie[2]; }
const netlinkMsg = (m: { type: number; protocol: number; state: number; portid: number; dstPortid: number; dstGroup: number; ino: number }) =>
  concat(u8(16), u8(m.type), u8(m.protocol), u8(m.state), le32(m.portid >>> 0), le32(m.dstPortid >>> 0), le32(m.dstGroup), le32(m.ino), le32(0x11), le32(0));

describe('packet_diag', () => {
  it('the request is struct packet_diag_req: AF_PACKET, protocol 0, ino 0, the show bits, no cookie', () => {
    const r = packetDumpRequest(PACKET_SHOW_ALL, 9);
    assert.equal(toHex(r.subarray(16)), toHex(hex('11 00 0000  00000000  3f000000  00000000 00000000')));
    assert.equal(toHex(r.subarray(0, 16)), toHex(concat(le32(36), le16(SOCK_DIAG_BY_FAMILY), le16(0x301), le32(9), le32(0))));
  });

  it('decodes the header and every attribute ss reads: INFO, MCLIST, rings, FANOUT, UID, MEMINFO, FILTER', () => {
    const info = concat(le32(2), le32(1), le32(0), le32(96), le32(0), le32(0x1 | 0x2)); // index 2, TPACKET_V2, running|auxdata
    const mc = concat(le32(2), le32(1), le16(1), le16(6), [0x01, 0x00, 0x5e, 0, 0, 1], zeros(26));
    const ring = concat(le32(4096), le32(2), le32(2048), le32(4), le32(60), le32(0), le32(1));
    const filter = concat(le16(0x28), u8(0), u8(0), le32(12), le16(0x15), u8(0), u8(1), le32(0x800), le16(0x06), u8(0), u8(0), le32(0xffffffff));
    const mem = concat(...[768, 212992, 0, 212992, 0, 0, 0, 0, 5].map(le32));
    const msg = concat(
      packetMsg(3, 0x0800, 4242, [0xdeadbeef, 1]),
      nlattr(0, info),
      nlattr(1, mc),
      nlattr(2, ring),
      nlattr(4, le32((1 << 16) | 7)), // PACKET_FANOUT_LB, id 7
      nlattr(5, le32(1000)),
      nlattr(6, mem),
      nlattr(7, filter),
      nlattr(42, le32(1)), // a newer kernel's attribute
    );
    const s = decode(decodePacketMessage, msg)!;
    assert.deepEqual(
      { type: s.type, state: s.state, inode: s.inode, cookie: [s.cookieLo, s.cookieHi], uid: s.uid, rq: s.rqueue, wq: s.wqueue },
      { type: 3, state: 7, inode: 4242, cookie: [0xdeadbeef, 1], uid: 1000, rq: 768, wq: 0 },
    );
    assert.deepEqual(s.packet, {
      protocol: 0x800,
      ifindex: 2,
      info: { version: 1, reserve: 0, copyThreshold: 96, timestamp: 0, flags: 3 },
      multicast: [{ ifindex: 2, count: 1, type: 1, address: '01:00:5e:00:00:01' }],
      rxRing: { blockSize: 4096, blockCount: 2, frameSize: 2048, frameCount: 4, retireTimeoutMs: 60, privateSize: 0, features: 1 },
      fanout: 0x10007,
    });
    assert.deepEqual(s.filter, [
      { code: 0x28, jt: 0, jf: 0, k: 12 },
      { code: 0x15, jt: 0, jf: 1, k: 0x800 },
      { code: 0x06, jt: 0, jf: 0, k: 0xffffffff },
    ]);
    assert.equal(s.skmem?.length, 9);
    assert.deepEqual(s.unknown, [42]);
    assert.equal(s.error, undefined);
  });

  it('survives a short message (undefined) and a broken attribute (the walk stops, the error is kept)', () => {
    assert.equal(decode(decodePacketMessage, packetMsg(2, 3, 1, [0, 0]).subarray(0, 15)), undefined);
    const broken = concat(packetMsg(2, 3, 1, [0, 0]), nlattr(5, le32(7)), le16(200), le16(6), zeros(4));
    const s = decode(decodePacketMessage, broken)!;
    assert.equal(s.uid, 7);
    assert.match(s.error ?? '', /bad nla_len 200/);
    // a too-short INFO is ignored, not read past its end
    const short = decode(decodePacketMessage, concat(packetMsg(2, 3, 1, [0, 0]), nlattr(0, le32(9))))!;
    assert.equal(short.packet?.ifindex, 0);
    assert.equal(short.packet?.info, undefined);
  });
});

describe('netlink_diag', () => {
  it('the request asks every protocol (NDIAG_PROTO_ALL) with the show bits', () => {
    const r = netlinkDumpRequest(NETLINK_SHOW_ALL, 1);
    assert.equal(toHex(r.subarray(16)), toHex(hex('10 ff 0000  00000000  0b000000  00000000 00000000')));
  });

  it('decodes protocol, port ids (signed, as ss prints them), the peer, groups, flags and memory', () => {
    const msg = concat(
      netlinkMsg({ type: 3, protocol: 0, state: 1, portid: -4242, dstPortid: 0, dstGroup: 0, ino: 99 }),
      nlattr(0, concat(...[128, 212992, 64, 212992, 0, 0, 0, 0, 0].map(le32))),
      nlattr(1, concat(le32(0x5), le32(0))),
      nlattr(4, le32(0x21)),
    );
    const s = decode(decodeNetlinkMessage, msg)!;
    assert.deepEqual(s.netlink, { protocol: 0, connected: true, portid: -4242, dstPortid: 0, dstGroup: 0, groups: [5, 0], flags: 0x21 });
    assert.deepEqual([s.type, s.state, s.inode, s.rqueue, s.wqueue, s.cookieLo], [3, 7, 99, 128, 64, 0x11]);
    assert.equal(decode(decodeNetlinkMessage, msg.subarray(0, 27)), undefined);
  });
});

describe('vsock_diag (built from the UAPI layout: this kernel has no vsock_diag)', () => {
  it('the request carries the state bitmap in vdiag_states', () => {
    const r = vsockDumpRequest(1 << 10, 3);
    assert.equal(toHex(r.subarray(16)), toHex(hex('28 00 0000  00040000  00000000  00000000  00000000 00000000')));
  });

  it('decodes cids, ports (VMADDR_*_ANY kept as the kernel sent them), state and shutdown', () => {
    const msg = concat(u8(40), u8(1), u8(10), u8(2), le32(3), le32(1234), le32(0xffffffff), le32(0xffffffff), le32(777), le32(5), le32(0));
    assert.equal(msg.byteLength, 32, 'sizeof(struct vsock_diag_msg)');
    const s = decode(decodeVsockMessage, msg)!;
    assert.deepEqual([s.family, s.type, s.state, s.inode, s.cookieLo], ['vsock', 1, 10, 777, 5]);
    assert.deepEqual(s.vsock, { shutdown: 2, localCid: 3, localPort: 1234, remoteCid: 0xffffffff, remotePort: 0xffffffff });
    assert.equal(decode(decodeVsockMessage, msg.subarray(0, 31)), undefined);
  });
});

describe('xdp_diag (built from the UAPI layout: this kernel has no xdp_diag)', () => {
  it('the request asks INFO, RING_CFG, UMEM, MEMINFO and STATS', () => {
    assert.equal(toHex(xdpDumpRequest(XDP_SHOW_ALL, 1).subarray(16)), toHex(hex('2c 00 0000  00000000  1f000000  00000000 00000000')));
  });

  it('decodes the device and queue, rings, the UMEM and the counters', () => {
    const umem = concat(le64(1n << 22n), le32(1), le32(1024), le32(4096), le32(256), le32(2), le32(3), le32(1), le32(2));
    const stats = concat(...[1n, 2n, 3n, 4n, 5n, 6n].map(le64));
    const msg = concat(
      u8(44),
      u8(3),
      le16(0),
      le32(555),
      le32(9),
      le32(0),
      nlattr(1, concat(le32(2), le32(3))),
      nlattr(2, le32(0)),
      nlattr(3, le32(2048)),
      nlattr(4, le32(1024)),
      nlattr(5, umem),
      nlattr(6, le32(4096)),
      nlattr(7, le32(512)),
      nlattr(8, concat(...[0, 212992, 0, 212992, 0, 0, 0, 0, 0].map(le32))),
      nlattr(9, stats),
    );
    const s = decode(decodeXdpMessage, msg)!;
    assert.deepEqual([s.family, s.type, s.state, s.inode, s.uid], ['xdp', 3, 7, 555, 0]);
    assert.deepEqual(s.xdp, {
      ifindex: 2,
      queueId: 3,
      rxEntries: 2048,
      txEntries: 1024,
      fillEntries: 4096,
      completionEntries: 512,
      umem: { size: 1n << 22n, id: 1, pages: 1024, chunkSize: 4096, headroom: 256, ifindex: 2, queueId: 3, flags: 1, refs: 2 },
      stats: { rxDropped: 1n, rxInvalid: 2n, rxFull: 3n, fillRingEmpty: 4n, txInvalid: 5n, txRingEmpty: 6n },
    });
  });
});

describe('takeFamilySockets over a replayed transport', () => {
  const answer = (messages: Uint8Array[], errno = 0) => [concat(...messages.map((m) => nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 0, m))), done(0, errno)];
  const session = (byFamily: Record<number, Uint8Array[]>) => {
    const t = replayTransport((r) => byFamily[r.body[0]]);
    return { t, s: new DiagSession(t) };
  };

  it("lists netlink before packet sockets (ss's order), keeps the asked socket types, skips short messages with a note", async () => {
    const { t, s } = session({
      17: answer([packetMsg(3, 3, 1, [0, 0]), packetMsg(2, 3, 2, [0, 0]), packetMsg(3, 3, 3, [0, 0]).subarray(0, 12)]),
      16: answer([netlinkMsg({ type: 3, protocol: 0, state: 0, portid: 0, dstPortid: 0, dstGroup: 0, ino: 10 })]),
    });
    const r = await takeFamilySockets(
      [
        { family: 'packet', types: [3], states: 1 << 7, required: true },
        { family: 'netlink', states: 1 << 7, required: true },
      ],
      {},
      s,
    );
    assert.deepEqual(
      r.sockets.map((x) => [x.family, x.inode]),
      [
        ['netlink', 10],
        ['packet', 1],
      ],
    );
    assert.deepEqual(r.notes, ['1 packet sockets could not be decoded and were skipped']);
    assert.deepEqual(
      t.requests.map((q) => q.body[0]),
      [16, 17],
    );
  });

  it('a family without its diag module (ENOENT): named, an error with the kernel option; through -A all, a note', async () => {
    const enoent = { 40: [done(0, 2)], 44: [done(0, 2)] };
    await assert.rejects(
      takeFamilySockets([{ family: 'vsock', states: 0xfff, required: true }], {}, session(enoent).s),
      (e: unknown) =>
        isSockscopeError(e) &&
        e.code === 'ESOCKSCOPE_NETLINK' &&
        e.exitCode === 1 &&
        e.facts.errno === 2 &&
        e.message === 'the kernel has no vsock_diag (CONFIG_VSOCKETS_DIAG): vsock sockets cannot be listed here',
    );
    const r = await takeFamilySockets(
      [
        { family: 'vsock', states: 0xfff, required: false },
        { family: 'xdp', states: 0xfff, required: false },
      ],
      {},
      session(enoent).s,
    );
    assert.deepEqual(r.sockets, []);
    assert.deepEqual(r.notes, [
      'the kernel has no vsock_diag (CONFIG_VSOCKETS_DIAG): vsock sockets cannot be listed here',
      'the kernel has no xsk_diag (CONFIG_XDP_SOCKETS_DIAG): XDP sockets cannot be listed here',
    ]);
  });

  it('vsock sockets outside the asked states are left out; no states asked: no dump', async () => {
    const v = (state: number, ino: number) => concat(u8(40), u8(1), u8(state), u8(0), zeros(16), le32(ino), zeros(8)) as Uint8Array;
    const { t, s } = session({ 40: answer([v(10, 1), v(1, 2)]) });
    const r = await takeFamilySockets([{ family: 'vsock', states: 1 << 10, required: true }], {}, s);
    assert.deepEqual(
      r.sockets.map((x) => x.inode),
      [1],
    );
    assert.equal(toHex(t.requests[0].body.subarray(4, 8)), toHex(Uint8Array.from(le32(1 << 10))));
    const none = session({});
    assert.deepEqual((await takeFamilySockets([{ family: 'packet', states: 0, required: true }], {}, none.s)).sockets, []);
    assert.equal(none.t.requests.length, 0);
  });
});
