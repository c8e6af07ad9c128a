/** Netlink framing (linux/netlink.h) over byte literals: MessageIterator, encodeRequest, messageErrno. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRequest, MessageIterator, messageErrno } from '../../src/netlink/message.js';
import { hex, toHex, viewOf } from '../helpers/bytes.js';

interface Seen {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: string;
}

function walk(bytes: Uint8Array, start = 0, end = bytes.byteLength): { seen: Seen[]; error: string | undefined } {
  const it = new MessageIterator(viewOf(bytes), start, end);
  const seen: Seen[] = [];
  while (it.next()) {
    seen.push({
      type: it.type,
      flags: it.flags,
      seq: it.seq,
      pid: it.pid,
      payload: toHex(bytes.subarray(it.payload, it.payload + it.payloadLength)),
    });
  }
  return { seen, error: it.error };
}

describe('MessageIterator', () => {
  const cases: { name: string; bytes: string; start?: number; end?: number; want: Seen[]; error?: RegExp }[] = [
    { name: 'empty datagram', bytes: '', want: [] },
    {
      name: 'one header-only message',
      //      len=16      type=3 flags=2 seq=7      pid=0x1234
      bytes: '10 00 00 00 03 00 02 00 07 00 00 00 34 12 00 00',
      want: [{ type: 3, flags: 2, seq: 7, pid: 0x1234, payload: '' }],
    },
    {
      name: 'two messages, the first with an unaligned length padded to 4',
      bytes: `15 00 00 00 14 00 02 00 01 00 00 00 00 00 00 00  aa bb cc dd ee  00 00 00
              14 00 00 00 03 00 02 00 01 00 00 00 00 00 00 00  00 00 00 00`,
      want: [
        { type: 20, flags: 2, seq: 1, pid: 0, payload: 'aa bb cc dd ee' },
        { type: 3, flags: 2, seq: 1, pid: 0, payload: '00 00 00 00' },
      ],
    },
    {
      name: 'last message unpadded at the very end is fine',
      bytes: '11 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00 ff',
      want: [{ type: 20, flags: 0, seq: 2, pid: 0, payload: 'ff' }],
    },
    {
      name: 'truncated header after a good message',
      bytes: '10 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00  10 00 00 00 03 00',
      want: [{ type: 20, flags: 0, seq: 2, pid: 0, payload: '' }],
      error: /truncated netlink header: 6 bytes left at offset 16/,
    },
    { name: 'nlmsg_len smaller than a header', bytes: '0c 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00', want: [], error: /bad nlmsg_len 12 at offset 0/ },
    { name: 'nlmsg_len zero (would loop forever if accepted)', bytes: '00 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00', want: [], error: /bad nlmsg_len 0/ },
    {
      name: 'nlmsg_len past the datagram',
      bytes: '20 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00 01 02 03 04',
      want: [],
      error: /bad nlmsg_len 32 at offset 0 \(datagram has 20 bytes left\)/,
    },
    { name: 'huge nlmsg_len', bytes: 'ff ff ff ff 14 00 00 00 02 00 00 00 00 00 00 00', want: [], error: /bad nlmsg_len 4294967295/ },
    {
      name: 'start/end window: only the bytes inside are walked',
      bytes: 'ee ee ee ee  10 00 00 00 03 00 00 00 09 00 00 00 00 00 00 00  ee ee',
      start: 4,
      end: 20,
      want: [{ type: 3, flags: 0, seq: 9, pid: 0, payload: '' }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const bytes = hex(c.bytes);
      const { seen, error } = walk(bytes, c.start, c.end);
      assert.deepEqual(seen, c.want);
      if (c.error) assert.match(error ?? '', c.error);
      else assert.equal(error, undefined);
    });
  }

  it('the error is sticky: next() stays false until reset()', () => {
    const bad = hex('0c 00 00 00 14 00 00 00 02 00 00 00 00 00 00 00');
    const it = new MessageIterator(viewOf(bad), 0, bad.byteLength);
    assert.equal(it.next(), false);
    assert.ok(it.error);
    assert.equal(it.next(), false);
    const good = hex('10 00 00 00 03 00 00 00 05 00 00 00 00 00 00 00');
    it.reset(viewOf(good), 0, good.byteLength);
    assert.equal(it.error, undefined);
    assert.equal(it.next(), true);
    assert.equal(it.seq, 5);
    assert.equal(it.next(), false);
    assert.equal(it.error, undefined);
  });
});

describe('messageErrno', () => {
  const cases: [string, string, number][] = [
    ['-ENOENT in NLMSG_DONE', 'fe ff ff ff', 2],
    ['-EINVAL', 'ea ff ff ff', 22],
    ['-EPERM with the echoed request header after it', 'ff ff ff ff 48 00 00 00 14 00 01 03 01 00 00 00 00 00 00 00', 1],
    ['0 (an ACK, or a clean DONE)', '00 00 00 00', 0],
    ['positive ints are not errnos', '05 00 00 00', 0],
    ['a DONE with no payload (old kernels)', '', 0],
    ['a payload shorter than an int', 'fe ff', 0],
  ];
  for (const [name, payload, errno] of cases) {
    it(name, () => {
      const b = hex(payload);
      assert.equal(messageErrno(viewOf(b), 0, b.byteLength), errno);
    });
  }
});

describe('encodeRequest', () => {
  it('writes nlmsghdr little-endian with the unpadded length and pads the body to 4', () => {
    const out = encodeRequest(20, 0x301, 0x01020304, hex('01 02 03 04 05'));
    assert.equal(
      toHex(out),
      toHex(
        hex(`
      15 00 00 00  14 00  01 03  04 03 02 01  00 00 00 00
      01 02 03 04 05 00 00 00`),
      ),
    );
  });
});
