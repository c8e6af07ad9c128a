/**
 * ZBXD framing, item keys and the sender answer, at the byte level: sockscope's encoder against a parser written
 * from the protocol description (helpers.ts), the decoder on the captured frames of zabbix_sender 6.0.14, on
 * split, concatenated, compressed, large-header, garbage and oversized input (buffered bytes stay bounded), and
 * the server answer from its captured bytes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { encodeFrame, FrameDecoder } from '../../src/zabbix/frame.js';
import { quoteParam } from '../../src/zabbix/items.js';
import { NotSupported, parseItemKey } from '../../src/zabbix/keys.js';
import { parseSenderResponse, senderRequest, splitServer } from '../../src/zabbix/sender.js';
import { CAPTURES, parseFrame, REFERENCE } from '../helpers/zabbix.js';

/** The production decoder fed one whole buffer: the frame's payload, or an error naming what was wrong. */
function decodeFrame(buf: Buffer, maxBytes?: number): Buffer {
  const d = new FrameDecoder(maxBytes);
  d.push(buf);
  const e = d.next();
  if (e.kind !== 'frame') throw new Error(e.kind === 'error' ? e.reason : 'incomplete frame');
  return e.data;
}

const header = (flags: number, length: number, reserved: number) => {
  const h = Buffer.alloc(13);
  h.write('ZBXD', 'latin1');
  h[4] = flags;
  h.writeUInt32LE(length, 5);
  h.writeUInt32LE(reserved, 9);
  return h;
};

describe('ZBXD frames', () => {
  test('encodeFrame: "ZBXD", flags 0x01, u32 LE length, reserved 0 — as zabbix_agentd frames its answers', () => {
    const f = encodeFrame('agent.ping');
    assert.deepEqual(f.subarray(0, 13), header(1, 10, 0));
    assert.equal(f.subarray(13).toString(), 'agent.ping');
    assert.deepEqual(encodeFrame('1'), readFileSync(join(CAPTURES, 'agentd_6.0.14_passive.framed_agent.ping.response.bin')));
  });

  test('encodeFrame compressed: flags 0x03, reserved = the uncompressed length, zlib data', () => {
    const text = JSON.stringify({ request: 'sender data', data: Array.from({ length: 50 }, (_, i) => ({ host: 'h', key: `k${i}`, value: '0' })) });
    const f = encodeFrame(text, { compress: true });
    const p = parseFrame(f)!;
    assert.equal(p.flags, 0x03);
    assert.equal(p.reserved, Buffer.byteLength(text));
    assert.ok(p.length < p.reserved);
    assert.equal(p.data.toString(), text);
  });

  test('decodes the captured zabbix_sender 6.0.14 frames and the compressed reference frame', () => {
    for (const name of ['zabbix_sender_6.0.14_single.0.bin', 'zabbix_sender_6.0.14_with_T.0.bin', 'zabbix_sender_6.0.14_seed_pipeline.0.bin']) {
      const bytes = readFileSync(join(CAPTURES, name));
      const doc = JSON.parse(decodeFrame(bytes).toString());
      assert.equal(doc.request, 'sender data', name);
      assert.ok(
        doc.data.every((d: Record<string, unknown>) => d.host === 'web-01' && typeof d.key === 'string' && typeof d.value === 'string'),
        name,
      );
      assert.equal(decodeFrame(bytes).toString(), parseFrame(bytes)!.data.toString());
    }
    const z = readFileSync(join(REFERENCE, 'sender_request_compressed.bin'));
    assert.equal(z[4], 0x03);
    const doc = JSON.parse(decodeFrame(z).toString());
    assert.deepEqual(
      doc.data.map((d: { key: string; value: string; clock: number; ns: number }) => [d.key, d.value, d.clock, d.ns]),
      [
        ['netstat.tcp_established', '14', 1700000000, 0],
        ['netstat.tcp_time_wait', '3', 1700000000, 0],
      ],
    );
    assert.deepEqual([doc.clock, doc.ns], [1700000000, 123456789]);
  });

  test('FrameDecoder: byte-at-a-time input, two frames in one chunk, the 0x04 large header', () => {
    const a = encodeFrame('first');
    const b = encodeFrame('second', { compress: true });
    const d = new FrameDecoder();
    const got: string[] = [];
    for (const byte of Buffer.concat([a, b])) {
      d.push(Buffer.from([byte]));
      for (let e = d.next(); e.kind === 'frame'; e = d.next()) got.push(e.data.toString());
    }
    assert.deepEqual(got, ['first', 'second']);
    assert.equal(d.buffered, 0);
    const both = new FrameDecoder();
    both.push(Buffer.concat([a, a]));
    assert.deepEqual(
      [both.next(), both.next(), both.next()].map((e) => (e.kind === 'frame' ? e.data.toString() : e.kind)),
      ['first', 'first', 'need-more'],
    );
    // large: u64 length and u64 reserved, a 21-byte header
    const large = Buffer.alloc(21);
    large.write('ZBXD', 'latin1');
    large[4] = 0x05;
    large.writeBigUInt64LE(3n, 5);
    assert.equal(decodeFrame(Buffer.concat([large, Buffer.from('big')])).toString(), 'big');
  });

  test('FrameDecoder: garbage, bad flags, a 1 GB claim, an inflation bomb → an error at once, nothing kept', () => {
    const cases: [string, Buffer][] = [
      ['garbage', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
      ['unframed key', Buffer.from('agent.ping\n')],
      ['bad flags', Buffer.concat([header(0x80, 1, 0), Buffer.from('x')])],
      ['no protocol flag', Buffer.concat([header(0x00, 1, 0), Buffer.from('x')])],
      ['1 GB claim', header(1, 1 << 30, 0)],
      ['1 GB uncompressed claim', header(3, 10, 1 << 30)],
      [
        'bomb',
        (() => {
          const z = deflateSync(Buffer.alloc(8 << 20));
          return Buffer.concat([header(3, z.length, 100), z]);
        })(),
      ],
      ['not zlib', Buffer.concat([header(3, 4, 4), Buffer.from('nope')])],
    ];
    for (const [name, bytes] of cases) {
      const d = new FrameDecoder(64 * 1024);
      d.push(bytes);
      const e = d.next();
      assert.equal(e.kind, 'error', name);
      assert.equal(d.buffered, 0, `${name}: buffered bytes dropped`);
      d.push(Buffer.alloc(1 << 20)); // after an error nothing more is kept
      assert.equal(d.buffered, 0, name);
      assert.equal(d.next().kind, 'error', `${name}: stays failed`);
    }
  });

  test('FrameDecoder: a half-sent frame keeps at most the frame it announced (under the limit)', () => {
    const d = new FrameDecoder(64 * 1024);
    d.push(header(1, 1000, 0));
    d.push(Buffer.alloc(500));
    assert.equal(d.next().kind, 'need-more');
    assert.equal(d.buffered, 513);
  });
});

describe('item keys', () => {
  test('parseItemKey: quoting, spaces, arrays, and what the agents refuse', () => {
    assert.deepEqual(parseItemKey('agent.ping'), { key: 'agent.ping', params: [] });
    assert.deepEqual(parseItemKey('k[]'), { key: 'k', params: [''] });
    assert.deepEqual(parseItemKey('k[a, b ,"c,]d" ,"e\\"f",[x,y]]'), { key: 'k', params: ['a', 'b ', 'c,]d', 'e"f', 'x,y'] });
    for (const bad of ['', 'k[', 'k[a]x', 'k[a]b]', 'k a', 'k["a"b]', '{"request":"passive checks"}', 'k[[a]', 'k[[[a]]]']) {
      assert.throws(
        () => parseItemKey(bad),
        (e: unknown) => e instanceof NotSupported && e.message === 'Invalid item key format.',
        bad,
      );
    }
  });

  test('quoteParam quotes exactly as Zabbix quote_key_param does, and parses back', () => {
    const cases: [string, string][] = [
      ['80', '80'],
      ['1.1.1.1:80', '1.1.1.1:80'],
      ['[::1]:80', '"[::1]:80"'],
      ['remote:[::1]:443', '"remote:[::1]:443"'],
      ['a,b', '"a,b"'],
      [' x', '" x"'],
      ['"q"', '"\\"q\\""'],
      ['a b', 'a b'],
      ['a"b', 'a"b'],
      ['', ''],
    ];
    for (const [raw, quoted] of cases) {
      assert.equal(quoteParam(raw), quoted, raw);
      assert.deepEqual(parseItemKey(`k[${quoted},x]`).params, [raw, 'x'], raw);
    }
  });
});

describe('the sender answer', () => {
  test('parseSenderResponse reads the captured server answer', () => {
    const r = parseSenderResponse(decodeFrame(readFileSync(join(REFERENCE, 'sender_response.bin'))).toString());
    assert.deepEqual(r, {
      response: 'success',
      info: 'processed: 2; failed: 0; total: 2; seconds spent: 0.000055',
      processed: 2,
      failed: 0,
      total: 2,
      secondsSpent: 0.000055,
    });
    const f = parseSenderResponse('{"response":"success","info":"processed: 7; failed: 3; total: 10; seconds spent: 0.001"}');
    assert.deepEqual([f.processed, f.failed, f.total], [7, 3, 10]);
    assert.throws(() => parseSenderResponse('not json'), /not JSON/);
  });

  test('splitServer: HOST, HOST:PORT, [v6]:PORT, and a bare IPv6 address (all host, port 10051)', () => {
    assert.deepEqual(splitServer('zabbix'), { host: 'zabbix', port: 10051 });
    assert.deepEqual(splitServer('10.0.0.1:10052'), { host: '10.0.0.1', port: 10052 });
    assert.deepEqual(splitServer('[::1]:10052'), { host: '::1', port: 10052 });
    assert.deepEqual(splitServer('[::1]'), { host: '::1', port: 10051 });
    assert.deepEqual(splitServer('::1'), { host: '::1', port: 10051 });
    assert.deepEqual(splitServer('2001:db8::5'), { host: '2001:db8::5', port: 10051 });
  });

  test('senderRequest: "sender data", items with string values and their clock/ns, the send time on top', () => {
    const doc = JSON.parse(senderRequest([{ host: 'h', key: 'k', value: '1', clock: 1700000000, ns: 5 }], 1700000001234));
    assert.deepEqual(doc, { request: 'sender data', data: [{ host: 'h', key: 'k', value: '1', clock: 1700000000, ns: 5 }], clock: 1700000001, ns: 234000000 });
  });
});
