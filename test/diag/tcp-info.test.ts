/**
 * struct tcp_info decoded by the length the kernel sent. The offsets, sizes and the sizeof() table by kernel
 * release below are copied from kernel-abi.md §5, not from src/diag/tcp-info.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTcpInfo, readTcpInfoField, tcpInfoField, TCP_INFO_FIELDS } from '../../src/diag/tcp-info.js';
import { viewOf } from '../helpers/bytes.js';

/** [name without tcpi_, offset, size] for every whole-byte field of kernel-abi.md §5. */
const ABI: [string, number, number][] = [
  ['state', 0, 1],
  ['ca_state', 1, 1],
  ['retransmits', 2, 1],
  ['probes', 3, 1],
  ['backoff', 4, 1],
  ['options', 5, 1],
  ['rto', 8, 4],
  ['ato', 12, 4],
  ['snd_mss', 16, 4],
  ['rcv_mss', 20, 4],
  ['unacked', 24, 4],
  ['sacked', 28, 4],
  ['lost', 32, 4],
  ['retrans', 36, 4],
  ['fackets', 40, 4],
  ['last_data_sent', 44, 4],
  ['last_ack_sent', 48, 4],
  ['last_data_recv', 52, 4],
  ['last_ack_recv', 56, 4],
  ['pmtu', 60, 4],
  ['rcv_ssthresh', 64, 4],
  ['rtt', 68, 4],
  ['rttvar', 72, 4],
  ['snd_ssthresh', 76, 4],
  ['snd_cwnd', 80, 4],
  ['advmss', 84, 4],
  ['reordering', 88, 4],
  ['rcv_rtt', 92, 4],
  ['rcv_space', 96, 4],
  ['total_retrans', 100, 4],
  ['pacing_rate', 104, 8],
  ['max_pacing_rate', 112, 8],
  ['bytes_acked', 120, 8],
  ['bytes_received', 128, 8],
  ['segs_out', 136, 4],
  ['segs_in', 140, 4],
  ['notsent_bytes', 144, 4],
  ['min_rtt', 148, 4],
  ['data_segs_in', 152, 4],
  ['data_segs_out', 156, 4],
  ['delivery_rate', 160, 8],
  ['busy_time', 168, 8],
  ['rwnd_limited', 176, 8],
  ['sndbuf_limited', 184, 8],
  ['delivered', 192, 4],
  ['delivered_ce', 196, 4],
  ['bytes_sent', 200, 8],
  ['bytes_retrans', 208, 8],
  ['dsack_dups', 216, 4],
  ['reord_seen', 220, 4],
  ['rcv_ooopack', 224, 4],
  ['snd_wnd', 228, 4],
  ['rcv_wnd', 232, 4],
  ['rehash', 236, 4],
  ['total_rto', 240, 2],
  ['total_rto_recoveries', 242, 2],
  ['total_rto_time', 244, 4],
  ['received_ce', 248, 4],
  ['delivered_e1_bytes', 252, 4],
  ['delivered_e0_bytes', 256, 4],
  ['delivered_ce_bytes', 260, 4],
  ['received_e1_bytes', 264, 4],
  ['received_e0_bytes', 268, 4],
  ['received_ce_bytes', 272, 4],
];
/** The bitfield bytes 6 and 7 (same table). */
const BITFIELDS: [string, number][] = [
  ['snd_wscale', 6],
  ['rcv_wscale', 6],
  ['delivery_rate_app_limited', 7],
  ['fastopen_client_fail', 7],
];

/** sizeof(struct tcp_info) by kernel release (kernel-abi.md §5). */
const SIZES: [string, number][] = [
  ['<=3.14', 104],
  ['3.15', 120],
  ['4.1', 136],
  ['4.2', 144],
  ['4.6', 160],
  ['4.9', 168],
  ['4.10', 192],
  ['4.18', 200],
  ['4.19', 224],
  ['5.4', 232],
  ['6.2', 240],
  ['6.7', 248],
  ['6.18', 280],
];

/** A distinct, recognisable value for every field: small ints for u8/u16, offset-coded u32, > 2^32 for u64. */
function expected(_name: string, off: number, size: number): number {
  switch (size) {
    case 1:
      return off + 1;
    case 2:
      return 0x100 + off;
    case 4:
      return 0x01000000 + off;
    default:
      return (off + 1) * 0x100000000 + off; // hi = off + 1, lo = off
  }
}

/** A struct of `length` bytes with every ABI field set; bytes past 280 are 0xee ("a newer kernel's fields"). */
function build(length: number, wscaleByte = 0x7e, bitsByte = 0x05): Uint8Array {
  const b = new Uint8Array(length).fill(0xee);
  const v = viewOf(b);
  for (const [name, off, size] of ABI) {
    if (off + size > length) continue;
    const x = expected(name, off, size);
    if (size === 1) v.setUint8(off, x);
    else if (size === 2) v.setUint16(off, x, true);
    else if (size === 4) v.setUint32(off, x, true);
    else {
      v.setUint32(off, x % 0x100000000, true);
      v.setUint32(off + 4, Math.floor(x / 0x100000000), true);
    }
  }
  if (length > 6) b[6] = wscaleByte;
  if (length > 7) b[7] = bitsByte;
  return b;
}

describe('decodeTcpInfo by kernel struct size', () => {
  for (const [kernel, length] of SIZES) {
    it(`${length} bytes (${kernel}): fields inside are read, fields past the end are absent`, () => {
      const b = build(length);
      const info = decodeTcpInfo(viewOf(b), 0, length);
      for (const [name, off, size] of ABI) {
        if (off + size <= length) assert.equal(info[name], expected(name, off, size), name);
        else assert.equal(info[name], undefined, `${name} lies past ${length} bytes and must be absent, not 0`);
        assert.equal(name in info, off + size <= length, `${name} key presence`);
      }
      assert.equal(info.snd_wscale, 14);
      assert.equal(info.rcv_wscale, 7);
    });
  }

  it('each kernel release adds exactly the fields the ABI table dates to it', () => {
    const added: Record<number, string[]> = {};
    let prev = new Set<string>();
    for (const [, length] of SIZES) {
      const keys = new Set(Object.keys(decodeTcpInfo(viewOf(build(length)), 0, length)));
      added[length] = [...keys].filter((k) => !prev.has(k));
      prev = keys;
    }
    assert.deepEqual(added[120], ['pacing_rate', 'max_pacing_rate']);
    assert.deepEqual(added[136], ['bytes_acked', 'bytes_received']);
    assert.deepEqual(added[144], ['segs_out', 'segs_in']);
    assert.deepEqual(added[160], ['notsent_bytes', 'min_rtt', 'data_segs_in', 'data_segs_out']);
    assert.deepEqual(added[168], ['delivery_rate']);
    assert.deepEqual(added[192], ['busy_time', 'rwnd_limited', 'sndbuf_limited']);
    assert.deepEqual(added[200], ['delivered', 'delivered_ce']);
    assert.deepEqual(added[224], ['bytes_sent', 'bytes_retrans', 'dsack_dups', 'reord_seen']);
    assert.deepEqual(added[232], ['rcv_ooopack', 'snd_wnd']);
    assert.deepEqual(added[240], ['rcv_wnd', 'rehash']);
    assert.deepEqual(added[248], ['total_rto', 'total_rto_recoveries', 'total_rto_time']);
    assert.deepEqual(added[280], [
      'received_ce',
      'delivered_e1_bytes',
      'delivered_e0_bytes',
      'delivered_ce_bytes',
      'received_e1_bytes',
      'received_e0_bytes',
      'received_ce_bytes',
    ]);
  });

  it('a 300-byte struct (a newer kernel) is accepted and its extra bytes ignored', () => {
    const b = build(300);
    const info = decodeTcpInfo(viewOf(b), 0, 300);
    const at280 = decodeTcpInfo(viewOf(b), 0, 280);
    assert.deepEqual(info, at280);
    assert.equal(info.received_ce_bytes, expected('received_ce_bytes', 272, 4));
  });

  it('a struct cut mid-field (e.g. 106 bytes) omits the partial field', () => {
    const b = build(300);
    const info = decodeTcpInfo(viewOf(b), 0, 106);
    assert.equal(info.total_retrans, expected('total_retrans', 100, 4));
    assert.equal(info.pacing_rate, undefined);
  });

  it('zero length gives an empty object; a struct inside a larger buffer is read from its offset', () => {
    assert.deepEqual(decodeTcpInfo(viewOf(new Uint8Array(8)), 0, 0), {});
    const inner = build(104);
    const outer = new Uint8Array(12 + 104 + 20).fill(0xaa);
    outer.set(inner, 12);
    const info = decodeTcpInfo(viewOf(outer), 12, 104);
    assert.equal(info.rtt, expected('rtt', 68, 4));
    assert.equal(info.pacing_rate, undefined, 'the bytes after the struct are not read');
  });

  it('every field the decoder knows is in the ABI table at the same offset', () => {
    const abi = new Map([...ABI.map(([n, o]) => [n, o] as const), ...BITFIELDS]);
    for (const f of TCP_INFO_FIELDS) assert.equal(abi.get(f.name), f.offset, f.name);
    assert.equal(TCP_INFO_FIELDS.length, ABI.length + BITFIELDS.length);
  });
});

describe('tcp_info bitfields and special values', () => {
  const cases: [string, number, number, Record<string, number>][] = [
    // byte 6: tcpi_snd_wscale : 4 (low nibble), tcpi_rcv_wscale : 4 (high nibble)
    ['wscale 0x7e → snd 14, rcv 7', 0x7e, 0, { snd_wscale: 14, rcv_wscale: 7 }],
    ['wscale 0x09 → snd 9, rcv 0', 0x09, 0, { snd_wscale: 9, rcv_wscale: 0 }],
    ['wscale 0xe0 → snd 0, rcv 14', 0xe0, 0, { snd_wscale: 0, rcv_wscale: 14 }],
    // byte 7: bit0 delivery_rate_app_limited, bits1-2 fastopen_client_fail
    ['byte 7 = 0b001', 0, 0b001, { delivery_rate_app_limited: 1, fastopen_client_fail: 0 }],
    ['byte 7 = 0b110', 0, 0b110, { delivery_rate_app_limited: 0, fastopen_client_fail: 3 }],
    ['byte 7 = 0b101, high bits ignored', 0, 0b11111101, { delivery_rate_app_limited: 1, fastopen_client_fail: 2 }],
  ];
  for (const [name, b6, b7, want] of cases) {
    it(name, () => {
      const info = decodeTcpInfo(viewOf(build(104, b6, b7)), 0, 104);
      for (const [k, v] of Object.entries(want)) assert.equal(info[k], v, k);
    });
  }

  it('u64 ~0 pacing_rate ("unlimited") is Infinity; other u64 values are exact below 2^53', () => {
    const b = build(280);
    const v = viewOf(b);
    v.setUint32(104, 0xffffffff, true);
    v.setUint32(108, 0xffffffff, true);
    v.setUint32(112, 0xffffffff, true); // max_pacing_rate = 2^53 - 1
    v.setUint32(116, 0x001fffff, true);
    v.setUint32(160, 0, true); // delivery_rate = 0: present, not absent
    v.setUint32(164, 0, true);
    v.setUint32(120, 0xffffffff, true); // bytes_acked: low word all ones, high word 0 → 2^32 - 1, not Infinity
    v.setUint32(124, 0, true);
    const info = decodeTcpInfo(v, 0, 280);
    assert.equal(info.pacing_rate, Infinity);
    assert.equal(info.max_pacing_rate, Number.MAX_SAFE_INTEGER);
    assert.equal(info.delivery_rate, 0);
    assert.ok('delivery_rate' in info);
    assert.equal(info.bytes_acked, 0xffffffff);
  });

  it('readTcpInfoField / tcpInfoField read one field by name', () => {
    const b = build(168);
    const rtt = tcpInfoField('rtt');
    assert.ok(rtt);
    assert.equal(rtt.offset, 68);
    assert.equal(readTcpInfoField(viewOf(b), 0, 168, rtt), expected('rtt', 68, 4));
    const busy = tcpInfoField('busy_time');
    assert.ok(busy);
    assert.equal(readTcpInfoField(viewOf(b), 0, 168, busy), undefined);
    assert.equal(tcpInfoField('tcpi_rtt'), undefined);
  });
});
