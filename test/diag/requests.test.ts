/**
 * Exact request bytes, written out from the struct layouts in kernel-abi.md §1, §2 and §6:
 * nlmsghdr (16 B) + inet_diag_req_v2 (56 B) / inet_diag_req (60 B) / unix_diag_req (24 B) + request attributes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest } from '../../src/diag/requests.js';
import { hex, toHex } from '../helpers/bytes.js';

const same = (got: Uint8Array, want: string) => assert.equal(toHex(got), toHex(hex(want)));

describe('inetDumpRequest (SOCK_DIAG_BY_FAMILY + inet_diag_req_v2)', () => {
  it('TCP over IPv4, every state, INFO extension', () => {
    same(
      inetDumpRequest({ family: 2, protocol: 6, states: 0xfff, ext: 0x02 }, 7),
      `
      48 00 00 00  14 00  01 03  07 00 00 00  00 00 00 00
      02 06 02 00                                         | family AF_INET, IPPROTO_TCP, idiag_ext, pad
      ff 0f 00 00                                         | idiag_states
      00 00 00 00                                         | sport, dport (any)
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00     | idiag_src
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00     | idiag_dst
      00 00 00 00                                         | idiag_if
      ff ff ff ff ff ff ff ff                             | idiag_cookie = INET_DIAG_NOCOOKIE
    `.replace(/\|[^\n]*/g, ''),
    );
  });

  it('ports are __be16 exact-match filters; UDP over IPv6; sequence number little-endian', () => {
    same(
      inetDumpRequest({ family: 10, protocol: 17, states: 1 << 7, ext: 0, sport: 22, dport: 443 }, 0x01020304),
      `
      48 00 00 00  14 00  01 03  04 03 02 01  00 00 00 00
      0a 11 00 00  80 00 00 00  00 16 01 bb
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00  ff ff ff ff ff ff ff ff`,
    );
  });

  it('MPTCP: sdiag_protocol = 262 & 0xff and INET_DIAG_REQ_PROTOCOL (3) carries the u32 262', () => {
    same(
      inetDumpRequest({ family: 2, protocol: 262, states: 0xfff, ext: 0 }, 1),
      `
      50 00 00 00  14 00  01 03  01 00 00 00  00 00 00 00
      02 06 00 00  ff 0f 00 00  00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00  ff ff ff ff ff ff ff ff
      08 00 03 00  06 01 00 00`,
    );
  });

  it('no PROTOCOL attribute for protocols that fit in a byte (RAW is 255)', () => {
    const r = inetDumpRequest({ family: 2, protocol: 255, states: 0xfff, ext: 0 }, 1);
    assert.equal(r.byteLength, 72);
    assert.equal(r[17], 255);
  });

  it('bytecode goes in INET_DIAG_REQ_BYTECODE (1) right after the 56-byte body, before PROTOCOL', () => {
    // { S_GE(2), yes 8, no 12 } { NOP, 0, port 1024 }: sport >= 1024
    const program = hex('02 08 0c 00  00 00 00 04');
    same(
      inetDumpRequest({ family: 10, protocol: 262, states: 0x400, ext: 0x0a, bytecode: program }, 2),
      `
      5c 00 00 00  14 00  01 03  02 00 00 00  00 00 00 00
      0a 06 0a 00  00 04 00 00  00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00  ff ff ff ff ff ff ff ff
      0c 00 01 00  02 08 0c 00 00 00 00 04
      08 00 03 00  06 01 00 00`,
    );
  });
});

describe('legacyTcpDumpRequest (TCPDIAG_GETSOCK + inet_diag_req)', () => {
  it('family 0 (the kernel dumps AF_UNSPEC), ext at byte 3, cookie at 4+40, states at 52', () => {
    same(
      legacyTcpDumpRequest({ states: 0xfff, ext: 0x02 }, 9),
      `
      4c 00 00 00  12 00  01 03  09 00 00 00  00 00 00 00
      00 00 00 02                                       | idiag_family, src_len, dst_len, idiag_ext
      00 00 00 00                                       | sport, dport
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00                                       | idiag_if
      ff ff ff ff ff ff ff ff                           | idiag_cookie
      ff 0f 00 00                                       | idiag_states
      00 00 00 00                                       | idiag_dbs
    `.replace(/\|[^\n]*/g, ''),
    );
  });

  it('with bytecode appended as attribute 1', () => {
    const r = legacyTcpDumpRequest({ states: 2, ext: 0, bytecode: hex('00 04 08 00') }, 1);
    assert.equal(r.byteLength, 16 + 60 + 8);
    assert.equal(toHex(r.subarray(0, 4)), '54 00 00 00');
    assert.equal(toHex(r.subarray(76)), '08 00 01 00 00 04 08 00');
  });
});

describe('unixDumpRequest (SOCK_DIAG_BY_FAMILY + unix_diag_req)', () => {
  it('AF_UNIX, states, show flags at 12, no cookie', () => {
    same(
      unixDumpRequest({ states: 0xffffffff, show: 0x5d }, 3),
      `
      28 00 00 00  14 00  01 03  03 00 00 00  00 00 00 00
      01 00 00 00                 | family AF_UNIX, protocol 0, pad
      ff ff ff ff                 | udiag_states
      00 00 00 00                 | udiag_ino
      5d 00 00 00                 | udiag_show
      ff ff ff ff ff ff ff ff     | udiag_cookie
    `.replace(/\|[^\n]*/g, ''),
    );
  });
});
