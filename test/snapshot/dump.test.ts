/**
 * runDump, the dump loop, over replayed datagrams built from byte literals: multipart replies, NLMSG_DONE with
 * an errno, NLMSG_ERROR, NLM_F_DUMP_INTR, leftovers of other sequences, and every framing fault.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newReceiveBuffer, runDump, type DumpOutcome } from '../../src/snapshot/dump.js';
import { concat, done, hex, nlerror, nlmsg, NLM_F_DUMP_INTR, NLM_F_MULTI, replayReader, toHex } from '../helpers/bytes.js';

const SEQ = 7;
const SOCK = 20; // SOCK_DIAG_BY_FAMILY replies
const sock = (payload: string, seq = SEQ, flags = NLM_F_MULTI) => nlmsg(SOCK, flags, seq, hex(payload));

interface Case {
  name: string;
  datagrams: Uint8Array[];
  messageType?: number;
  want: Partial<DumpOutcome>;
  problem?: RegExp;
  /** payloads handed to the visitor, hex */
  visited: string[];
  /** how many times the reader may be called */
  reads: number;
}

const cases: Case[] = [
  {
    name: 'one datagram: two sockets and DONE',
    datagrams: [concat(sock('01 02 03 04'), sock('05 06 07 08'), done(SEQ))],
    want: { messages: 2, errno: 0, malformed: 0, interrupted: false, datagrams: 1 },
    visited: ['01 02 03 04', '05 06 07 08'],
    reads: 1,
  },
  {
    name: 'multipart: sockets spread over three datagrams, DONE alone in the last',
    datagrams: [concat(sock('0a'), sock('0b 0b')), sock('0c 0c 0c'), done(SEQ)],
    want: { messages: 3, errno: 0, malformed: 0, datagrams: 3 },
    visited: ['0a', '0b 0b', '0c 0c 0c'],
    reads: 3,
  },
  {
    name: 'DONE carries -ENOENT (a protocol without its diag module)',
    datagrams: [done(SEQ, 2)],
    want: { messages: 0, errno: 2, malformed: 0, datagrams: 1 },
    visited: [],
    reads: 1,
  },
  {
    name: 'DONE with no payload (old kernels) is a clean end',
    datagrams: [concat(sock('aa'), nlmsg(3, NLM_F_MULTI, SEQ))],
    want: { messages: 1, errno: 0 },
    visited: ['aa'],
    reads: 1,
  },
  {
    name: 'NLMSG_ERROR -EINVAL ends the dump without reading further',
    datagrams: [nlerror(SEQ, 22), concat(sock('ff'), done(SEQ))],
    want: { messages: 0, errno: 22, datagrams: 1 },
    visited: [],
    reads: 1,
  },
  {
    name: 'NLMSG_ERROR 0 is an ACK: the dump goes on',
    datagrams: [concat(nlerror(SEQ, 0), sock('01')), done(SEQ)],
    want: { messages: 1, errno: 0, malformed: 0 },
    visited: ['01'],
    reads: 2,
  },
  {
    name: 'NLM_F_DUMP_INTR on a socket message marks the dump interrupted, the message still counts',
    datagrams: [concat(sock('01'), sock('02', SEQ, NLM_F_MULTI | NLM_F_DUMP_INTR)), done(SEQ)],
    want: { messages: 2, interrupted: true, errno: 0 },
    visited: ['01', '02'],
    reads: 2,
  },
  {
    name: 'NLM_F_DUMP_INTR on DONE',
    datagrams: [concat(sock('01'), done(SEQ, 0, NLM_F_MULTI | NLM_F_DUMP_INTR))],
    want: { messages: 1, interrupted: true },
    visited: ['01'],
    reads: 1,
  },
  {
    name: 'leftovers of an abandoned dump (another sequence) are skipped, their DONE and DUMP_INTR included',
    datagrams: [concat(sock('66', SEQ - 1, NLM_F_MULTI | NLM_F_DUMP_INTR), done(SEQ - 1)), concat(sock('77'), nlerror(SEQ + 1, 1), done(SEQ))],
    want: { messages: 1, interrupted: false, errno: 0, malformed: 0, datagrams: 2 },
    visited: ['77'],
    reads: 2,
  },
  {
    name: 'NLMSG_NOOP and NLMSG_OVERRUN are ignored; an unexpected type is counted as malformed and skipped',
    datagrams: [concat(nlmsg(1, 0, SEQ), nlmsg(4, 0, SEQ), nlmsg(0x30, NLM_F_MULTI, SEQ, [1, 2, 3, 4]), sock('01'), done(SEQ))],
    want: { messages: 1, malformed: 1, errno: 0 },
    visited: ['01'],
    reads: 1,
  },
  {
    name: 'the visitor gets the payload without its padding; the next message starts at the aligned offset',
    datagrams: [concat(sock('01 02 03 04 05'), sock('06'), done(SEQ))],
    want: { messages: 2 },
    visited: ['01 02 03 04 05', '06'],
    reads: 1,
  },
  {
    name: 'messages after DONE in the same datagram are not visited',
    datagrams: [concat(sock('01'), done(SEQ), sock('02'))],
    want: { messages: 1 },
    visited: ['01'],
    reads: 1,
  },
  {
    name: 'the legacy TCPDIAG_GETSOCK dump answers with its own type (18)',
    datagrams: [concat(nlmsg(18, NLM_F_MULTI, SEQ, [9]), sock('01'), done(SEQ))],
    messageType: 18,
    want: { messages: 1, malformed: 1 },
    visited: ['09'],
    reads: 1,
  },
  {
    name: 'truncated header at the end of a datagram: counted, the rest skipped, the next datagram read',
    datagrams: [concat(sock('01'), hex('10 00 00 00 14 00')), concat(sock('02'), done(SEQ))],
    want: { messages: 2, malformed: 1, errno: 0, datagrams: 2 },
    problem: /truncated netlink header \(6 bytes\) at offset 20/,
    visited: ['01', '02'],
    reads: 2,
  },
  {
    name: 'nlmsg_len smaller than a header: the rest of the datagram is skipped',
    datagrams: [concat(sock('01'), hex('08 00 00 00 14 00 02 00 07 00 00 00 00 00 00 00'), sock('99')), done(SEQ)],
    want: { messages: 1, malformed: 1, errno: 0 },
    problem: /bad nlmsg_len 8 at offset 20 of a 56-byte datagram/,
    visited: ['01'],
    reads: 2,
  },
  {
    name: 'nlmsg_len zero does not loop',
    datagrams: [hex('00 00 00 00 14 00 02 00 07 00 00 00 00 00 00 00'), done(SEQ)],
    want: { messages: 0, malformed: 1 },
    problem: /bad nlmsg_len 0 at offset 0/,
    visited: [],
    reads: 2,
  },
  {
    name: 'nlmsg_len larger than the datagram',
    datagrams: [concat(hex('40 00 00 00 14 00 02 00 07 00 00 00 00 00 00 00'), hex('01 02 03 04')), done(SEQ)],
    want: { messages: 0, malformed: 1, errno: 0 },
    problem: /bad nlmsg_len 64 at offset 0 of a 20-byte datagram/,
    visited: [],
    reads: 2,
  },
  {
    name: 'the stream ends (reader returns 0) before DONE: a problem, not a hang',
    datagrams: [sock('01'), sock('02')],
    want: { messages: 2, datagrams: 2, errno: 0 },
    problem: /ended without NLMSG_DONE/,
    visited: ['01', '02'],
    reads: 3,
  },
  {
    name: 'no datagram at all',
    datagrams: [],
    want: { messages: 0, datagrams: 0 },
    problem: /ended without NLMSG_DONE/,
    visited: [],
    reads: 1,
  },
  {
    name: 'a datagram of garbage shorter than a header',
    datagrams: [hex('de ad be ef'), done(SEQ)],
    want: { messages: 0, malformed: 1, errno: 0, datagrams: 2 },
    problem: /truncated netlink header \(4 bytes\) at offset 0/,
    visited: [],
    reads: 2,
  },
];

describe('runDump', () => {
  for (const c of cases) {
    it(c.name, () => {
      const read = replayReader(c.datagrams);
      const visited: string[] = [];
      const out = runDump(read, newReceiveBuffer(), SEQ, c.messageType ?? SOCK, (_v, _w, bytes, off, len) => {
        visited.push(toHex(bytes.subarray(off, off + len)));
      });
      for (const [k, v] of Object.entries(c.want)) assert.equal(out[k as keyof DumpOutcome], v, k);
      if (c.problem) assert.match(out.problem ?? '', c.problem);
      else assert.equal(out.problem, undefined);
      assert.deepEqual(visited, c.visited);
      assert.equal(read.reads, c.reads, 'reader calls');
    });
  }

  it('a reader error (negative return) ends the dump with a problem', () => {
    let calls = 0;
    const out = runDump(
      () => (calls++ === 0 ? -1 : 16),
      newReceiveBuffer(),
      SEQ,
      SOCK,
      () => assert.fail('no visit'),
    );
    assert.equal(calls, 1);
    assert.match(out.problem ?? '', /without NLMSG_DONE/);
  });

  it('the visitor sees offsets into the receive buffer, 4-aligned, with the words view sharing its memory', () => {
    const rb = newReceiveBuffer();
    const offsets: number[] = [];
    runDump(replayReader([concat(sock('01 00 00 00 02'), sock('03 00 00 00'), done(SEQ))]), rb, SEQ, SOCK, (view, words, bytes, off, len) => {
      assert.equal(bytes, rb.bytes);
      assert.equal(off % 4, 0);
      assert.equal(words[off >> 2], view.getUint32(off, true));
      offsets.push(off, len);
    });
    assert.deepEqual(offsets, [16, 5, 24 + 16, 4]);
  });
});
