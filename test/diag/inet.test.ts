/**
 * inet_diag_msg → SocketTable rows, and every INET_DIAG_* response attribute, from byte literals laid out per
 * kernel-abi.md §3.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendInetMessage, decodeInetAttributes } from '../../src/diag/inet.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { ascii, concat, hex, inetDiagMsg, le16, le32, le64, nlattr, toHex, u8, viewOf, zeros } from '../helpers/bytes.js';

/** Put a message into a fresh 4-aligned receive buffer at `off` (after an nlmsghdr, as runDump hands it over). */
function received(msg: Uint8Array, off = 16) {
  const bytes = new Uint8Array((off + msg.byteLength + 7) & ~3);
  bytes.set(msg, off);
  return { bytes, view: viewOf(bytes), words: new Uint32Array(bytes.buffer), off, len: msg.byteLength };
}

const rowAddr = (t: SocketTable, which: 'src' | 'dst', row: number) => toHex(t[which].subarray(row * 16, row * 16 + 16));

describe('appendInetMessage', () => {
  const v4 = inetDiagMsg({
    family: 2,
    state: 1,
    timer: 1,
    retrans: 2,
    sport: 22,
    dport: 51000,
    src: [10, 0, 0, 1],
    dst: [192, 168, 1, 20],
    ifindex: 3,
    cookie: [0x11223344, 0x55667788],
    expires: 200,
    rqueue: 5,
    wqueue: 6,
    uid: 1000,
    inode: 123456,
  });

  it('the 72-byte header lands in the columns: ports from __be16, addresses as network-order bytes', () => {
    // Cross-check the helper against a hand-written literal of the same message (kernel-abi.md §3 offsets).
    assert.equal(
      toHex(v4),
      toHex(
        hex(`
      02 01 01 02  00 16 c7 38
      0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00
      c0 a8 01 14 00 00 00 00 00 00 00 00 00 00 00 00
      03 00 00 00  44 33 22 11 88 77 66 55
      c8 00 00 00  05 00 00 00  06 00 00 00  e8 03 00 00  40 e2 01 00`),
      ),
    );
    const t = new SocketTable();
    const r = received(v4);
    assert.equal(appendInetMessage(t, r.view, r.words, r.bytes, r.off, r.len, 1, 1, true), true);
    assert.equal(t.length, 1);
    assert.deepEqual([t.proto[0], t.family[0], t.state[0], t.timer[0], t.retrans[0], t.sockType[0], t.sport[0], t.dport[0]], [1, 2, 1, 1, 2, 1, 22, 51000]);
    assert.deepEqual(
      [t.ifindex[0], t.cookieLo[0], t.cookieHi[0], t.expires[0], t.rqueue[0], t.wqueue[0], t.uid[0], t.inode[0]],
      [3, 0x11223344, 0x55667788, 200, 5, 6, 1000, 123456],
    );
    assert.equal(rowAddr(t, 'src', 0), '0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00');
    assert.equal(rowAddr(t, 'dst', 0), 'c0 a8 01 14 00 00 00 00 00 00 00 00 00 00 00 00');
    assert.equal(t.attrLength[0], 0, 'no attributes were sent');
  });

  it('IPv6 addresses keep all 16 bytes in network order', () => {
    const msg = inetDiagMsg({
      family: 10,
      state: 10,
      sport: 443,
      dport: 0,
      src: hex('20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01'),
      dst: hex('00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01'),
    });
    const t = new SocketTable();
    const r = received(msg);
    appendInetMessage(t, r.view, r.words, r.bytes, r.off, r.len, 1, 1, false);
    assert.equal(rowAddr(t, 'src', 0), '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01');
    assert.equal(rowAddr(t, 'dst', 0), '00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01');
    assert.equal(t.family[0], 10);
    assert.equal(t.sport[0], 443);
  });

  it('attributes are copied into the arena when kept, and skipped otherwise', () => {
    const attrs = concat(nlattr(8, u8(0)), nlattr(21, le64(0x1234n)));
    const r = received(concat(v4, attrs));
    const kept = new SocketTable(16, 0);
    appendInetMessage(kept, r.view, r.words, r.bytes, r.off, r.len, 1, 1, true);
    assert.equal(kept.attrLength[0], attrs.byteLength);
    r.bytes.fill(0); // the receive buffer is reused for the next datagram
    const start = kept.attrStart[0];
    assert.equal(toHex(kept.arena.subarray(start, start + kept.attrLength[0])), toHex(attrs));
    const a = decodeInetAttributes(kept.arenaView(), start, start + kept.attrLength[0]);
    assert.deepEqual(a, { shutdown: 0, cgroupId: 0x1234 });

    const r2 = received(concat(v4, attrs));
    const dropped = new SocketTable(16, 0);
    appendInetMessage(dropped, r2.view, r2.words, r2.bytes, r2.off, r2.len, 1, 1, false);
    assert.equal(dropped.attrLength[0], 0);
    assert.equal(dropped.arenaUsed, 0);
  });

  it('rejects a message shorter than inet_diag_msg without adding a row', () => {
    const t = new SocketTable();
    const r = received(v4.subarray(0, 71));
    assert.equal(appendInetMessage(t, r.view, r.words, r.bytes, r.off, r.len, 1, 1, true), false);
    assert.equal(t.length, 0);
  });

  it('rows keep coming in order across many messages', () => {
    const t = new SocketTable(16);
    for (let i = 0; i < 40; i++) {
      const r = received(inetDiagMsg({ family: 2, state: 1 + (i % 11), sport: 1000 + i, dport: 65535 - i, src: [127, 0, 0, i], dst: [10, 0, 0, i], inode: i }));
      appendInetMessage(t, r.view, r.words, r.bytes, r.off, r.len, 2, 2, false);
    }
    assert.equal(t.length, 40);
    for (let i = 0; i < 40; i++) {
      assert.equal(t.sport[i], 1000 + i);
      assert.equal(t.dport[i], 65535 - i);
      assert.equal(t.inode[i], i);
      assert.equal(t.src[i * 16 + 3], i);
    }
  });
});

describe('decodeInetAttributes', () => {
  const tcpInfo104 = new Uint8Array(104);
  tcpInfo104[0] = 1; // state
  tcpInfo104[6] = 0x79; // snd_wscale 9, rcv_wscale 7
  new DataView(tcpInfo104.buffer).setUint32(68, 12345, true); // rtt

  it('every attribute type of kernel-abi.md §3', () => {
    const attrs = concat(
      nlattr(1, [...le32(1), ...le32(2), ...le32(3), ...le32(4)]), // MEMINFO
      nlattr(14), // PAD (aligns INFO)
      nlattr(2, tcpInfo104), // INFO
      nlattr(3, [...le32(1), ...le32(10), ...le32(2000), ...le32(1500)]), // VEGASINFO
      nlattr(4, [...ascii('cubic'), 0]), // CONG
      nlattr(5, u8(0x10)), // TOS
      nlattr(6, u8(0x20)), // TCLASS
      nlattr(
        7,
        [0, 1, 2, 3, 4, 5, 6, 7, 8].flatMap((x) => le32(x * 100)),
      ), // SKMEMINFO
      nlattr(8, u8(3)), // SHUTDOWN
      nlattr(9, [...le16(1), ...le16(2), ...le32(1024), ...le32(7), ...le32(9)]), // DCTCPINFO
      nlattr(10, u8(1)), // PROTOCOL (raw sockets: ICMP)
      nlattr(11, u8(1)), // SKV6ONLY
      nlattr(12, zeros(16)), // LOCALS (SCTP): skipped
      nlattr(13, zeros(16)), // PEERS (SCTP): skipped
      nlattr(15, le32(0xdeadbeef)), // MARK
      nlattr(16, [...le32(0x89abcdef), ...le32(0x12), ...le32(4000), ...le32(739), ...le32(512)]), // BBRINFO
      nlattr(17, le32(0x10001)), // CLASS_ID
      nlattr(18, zeros(200)), // MD5SIG: two struct tcp_diag_md5sig
      nlattr(19 | 0x8000, nlattr(1, [...ascii('tls'), 0])), // ULP_INFO { NAME "tls" }
      nlattr(20 | 0x8000, nlattr(1, le32(7))), // SK_BPF_STORAGES: skipped
      nlattr(14), // PAD before a u64
      nlattr(21, le64(0x0000000100000002n)), // CGROUP_ID
      nlattr(22, [0b10100101, 0b101]), // SOCKOPT
    );
    const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength);
    assert.equal(a.error, undefined);
    assert.equal(a.unknown, undefined);
    assert.deepEqual(a.meminfo, { rmem: 1, wmem: 2, fmem: 3, tmem: 4 });
    assert.equal(a.tcpInfoLength, 104);
    assert.equal(a.tcpInfo?.state, 1);
    assert.equal(a.tcpInfo?.rtt, 12345);
    assert.equal(a.tcpInfo?.snd_wscale, 9);
    assert.equal(a.tcpInfo?.rcv_wscale, 7);
    assert.equal(a.tcpInfo?.pacing_rate, undefined);
    assert.deepEqual(a.vegas, { enabled: 1, rttcnt: 10, rtt: 2000, minrtt: 1500 });
    assert.equal(a.congestion, 'cubic');
    assert.equal(a.tos, 0x10);
    assert.equal(a.tclass, 0x20);
    assert.deepEqual(a.skmeminfo, [0, 100, 200, 300, 400, 500, 600, 700, 800]);
    assert.equal(a.shutdown, 3);
    assert.deepEqual(a.dctcp, { enabled: 1, ce_state: 2, alpha: 1024, ab_ecn: 7, ab_tot: 9 });
    assert.equal(a.protocol, 1);
    assert.equal(a.v6only, true);
    assert.equal(a.mark, 0xdeadbeef);
    assert.deepEqual(a.bbr, { bw_bytes_per_second: 0x12 * 2 ** 32 + 0x89abcdef, min_rtt: 4000, pacing_gain: 739, cwnd_gain: 512 });
    assert.equal(a.classId, 0x10001);
    assert.equal(a.md5sigCount, 2);
    assert.equal(a.ulp, 'tls');
    assert.equal(a.cgroupId, 2 ** 32 + 2);
    assert.deepEqual(a.sockopt, {
      recverr: true,
      is_icsk: false,
      freebind: true,
      hdrincl: false,
      mc_loop: false,
      transparent: true,
      mc_all: false,
      nodefrag: true,
      bind_address_no_port: true,
      recverr_rfc4884: false,
      defer_connect: true,
    });
  });

  it('what a TIME_WAIT socket gets: nothing, or MARK only', () => {
    assert.deepEqual(decodeInetAttributes(viewOf(new Uint8Array(0)), 0, 0), {});
    const m = nlattr(15, le32(0));
    assert.deepEqual(decodeInetAttributes(viewOf(m), 0, m.byteLength), { mark: 0 });
  });

  it('unknown attribute types are listed, not errors, and decoding goes on past them', () => {
    const attrs = concat(nlattr(23, le32(1)), nlattr(0x3fff, []), nlattr(8, u8(1)));
    const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength);
    assert.deepEqual(a.unknown, [23, 0x3fff]);
    assert.equal(a.shutdown, 1);
    assert.equal(a.error, undefined);
  });

  it('fixed-size structs that are too short are left out rather than misread', () => {
    const attrs = concat(nlattr(1, zeros(12)), nlattr(3, zeros(12)), nlattr(9, zeros(12)), nlattr(16, zeros(16)), nlattr(22, u8(1)), nlattr(8, u8(2)));
    const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength);
    assert.deepEqual(a, { shutdown: 2 });
  });

  for (const [name, type, payload] of [
    ['mark', 15, []],
    ['classId', 17, u8(1)],
    ['cgroupId', 21, le32(7)],
    ['tos', 5, []],
  ] as const) {
    it(`a ${name} attribute shorter than its type is absent (not 0) and reported`, () => {
      const attrs = concat(nlattr(8, u8(1)), nlattr(type, payload));
      const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength) as Record<string, unknown>;
      assert.equal(a[name], undefined);
      assert.match(String(a.error), new RegExp(`attribute type ${type} has`));
      assert.equal(a.shutdown, 1, 'what came before is kept');
    });
  }

  it('INFO is struct tcp_info only for TCP; for MPTCP and SCTP only its length is kept', () => {
    const info = nlattr(2, zeros(48));
    const tcp = decodeInetAttributes(viewOf(info), 0, info.byteLength);
    assert.equal(tcp.tcpInfoLength, 48);
    assert.equal(tcp.tcpInfo?.rto, 0);
    for (const proto of [5, 6]) {
      const other = decodeInetAttributes(viewOf(info), 0, info.byteLength, proto);
      assert.equal(other.tcpInfo, undefined, `proto ${proto}`);
      assert.equal(other.infoLength, 48);
    }
  });

  it('a malformed region keeps what was decoded before it and reports the error', () => {
    const attrs = concat(nlattr(8, u8(1)), nlattr(5, u8(4)), hex('10 00 0f 00 01 00 00 00'));
    const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength);
    assert.equal(a.shutdown, 1);
    assert.equal(a.tos, 4);
    assert.equal(a.mark, undefined);
    assert.match(a.error ?? '', /bad nla_len 16/);
  });

  it('a zero-length u32 attribute is an error (sticky), later attributes are not read', () => {
    const attrs = concat(nlattr(15), nlattr(8, u8(1)));
    const a = decodeInetAttributes(viewOf(attrs), 0, attrs.byteLength);
    assert.match(a.error ?? '', /attribute type 15 has 0 bytes/);
    assert.equal(a.shutdown, undefined);
  });
});
