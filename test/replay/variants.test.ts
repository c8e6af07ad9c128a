/**
 * Variants derived from the recorded bytes: tcp_info cut to the sizes older kernels send, datagrams cut at
 * every offset of their first message, nlmsg_len set to every wrong value, and seeded garbage. The dump must
 * return a problem or a malformed count, or skip, never throw and never loop; what it keeps must decode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeInetAttributes, type InetAttributes } from '../../src/diag/inet.js';
import { decodeUnixAttributes } from '../../src/diag/unix.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { TABLE_COLUMNS } from '../helpers/outputs.js';
import { datagramOf, datagramsOf, messagesOf, prng, recordedDump, replay, type RecordedDump } from '../helpers/recording.js';

const INET_DIAG_MSG = 72;
const INFO = 2;

function attributesOf(t: SocketTable, r: number, unix = false) {
  const view = t.arenaView();
  return unix
    ? decodeUnixAttributes(view, t.attrStart[r], t.attrStart[r] + t.attrLength[r])
    : decodeInetAttributes(view, t.attrStart[r], t.attrStart[r] + t.attrLength[r]);
}

const columns = (t: SocketTable, r: number) => [
  ...TABLE_COLUMNS.map((c) => t[c][r]),
  ...t.src.subarray(r * 16, r * 16 + 16),
  ...t.dst.subarray(r * 16, r * 16 + 16),
];

/** A copy of one inet_diag message whose INET_DIAG_INFO payload is cut to `length` bytes (nla_len, nlmsg_len fixed). */
function withShortInfo(message: Uint8Array, length: number): Uint8Array {
  const v = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const parts: Uint8Array[] = [message.slice(0, 16 + INET_DIAG_MSG)];
  for (let at = 16 + INET_DIAG_MSG; at + 4 <= message.byteLength; ) {
    const len = v.getUint16(at, true);
    const type = v.getUint16(at + 2, true) & 0x3fff;
    let attr = message.slice(at, at + ((len + 3) & ~3));
    if (type === INFO && len - 4 > length) {
      attr = new Uint8Array((4 + length + 3) & ~3);
      attr.set(message.subarray(at, at + 4 + length));
      new DataView(attr.buffer).setUint16(0, 4 + length, true);
    }
    parts.push(attr);
    at += (len + 3) & ~3;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  new DataView(out.buffer).setUint32(0, out.byteLength, true);
  return out;
}

describe('variants: tcp_info as older kernels send it', () => {
  const d = recordedDump('tcp-legacy-ext255.bin');
  const original = replay(d).table;
  const originalAttrs = Array.from({ length: original.length }, (_, r) => attributesOf(original, r) as InetAttributes);

  // kernel-abi.md §5: 104 bytes up to 3.14 (last field total_retrans), 232 in 5.4 (last field snd_wnd)
  const cases: [number, string, string][] = [
    [104, 'total_retrans', 'pacing_rate'],
    [232, 'snd_wnd', 'rcv_wnd'],
  ];
  for (const [length, lastPresent, firstAbsent] of cases) {
    it(`INFO cut to ${length} bytes: newer fields absent, older fields and everything else unchanged`, () => {
      const datagrams = datagramsOf(d.file).map((dg) =>
        datagramOf(messagesOf(dg).map((m) => (m.byteLength > 16 + INET_DIAG_MSG ? withShortInfo(m, length) : m))),
      );
      const { outcome, table } = replay(d, datagrams);
      assert.equal(outcome.problem, undefined);
      assert.equal(outcome.malformed, 0);
      assert.equal(table.length, original.length);
      let withInfo = 0;
      for (let r = 0; r < table.length; r++) {
        assert.deepEqual(columns(table, r), columns(original, r));
        const before = originalAttrs[r];
        const after = attributesOf(table, r) as InetAttributes;
        assert.equal(after.error, undefined);
        const { tcpInfo: infoBefore, tcpInfoLength: _lb, infoLength: _ib, ...restBefore } = before;
        const { tcpInfo: infoAfter, tcpInfoLength, infoLength, ...restAfter } = after;
        assert.deepEqual(restAfter, restBefore, 'the other attributes are untouched');
        if (!infoBefore) {
          assert.equal(infoAfter, undefined);
          continue;
        }
        withInfo++;
        assert.ok(infoAfter);
        assert.equal(tcpInfoLength, length);
        assert.equal(infoLength, length);
        assert.equal(infoAfter[lastPresent], infoBefore[lastPresent]);
        assert.ok(lastPresent in infoAfter);
        assert.ok(!(firstAbsent in infoAfter), `${firstAbsent} must be absent, not 0`);
        for (const [k, v] of Object.entries(infoAfter)) assert.equal(v, infoBefore[k], k);
        assert.ok(Object.keys(infoAfter).length < Object.keys(infoBefore).length);
      }
      assert.ok(withInfo >= 25);
    });
  }
});

/** Replay, then decode every row: nothing may throw. */
function survive(d: RecordedDump, datagrams: Uint8Array[]) {
  const r = replay(d, datagrams);
  assert.ok(r.reads <= datagrams.length + 1, 'never reads past the end');
  for (let row = 0; row < r.table.length; row++) attributesOf(r.table, row, d.kind === 'unix');
  return r;
}

describe('variants: truncated and mislabelled framing', () => {
  for (const file of ['tcp-v2-inet-ext255.bin', 'unix-show7f.bin']) {
    const d = recordedDump(file);
    const datagrams = datagramsOf(file);
    const first = datagrams[0];
    const firstLen = new DataView(first.buffer).getUint32(0, true);
    const total = replay(d).table.length;
    const inFirst = replay(d, [first]).table.length;

    it(`${file}: the first datagram cut at every offset of its first message`, () => {
      for (let cut = 1; cut < firstLen; cut++) {
        const alone = survive(d, [first.slice(0, cut)]);
        assert.equal(alone.outcome.messages, 0);
        assert.equal(alone.outcome.malformed, 1);
        assert.match(alone.outcome.problem ?? '', /without NLMSG_DONE/);
        // with the rest of the dump after it: the rest is read, DONE is reached, the cut is the problem reported
        const withRest = survive(d, [first.slice(0, cut), ...datagrams.slice(1)]);
        assert.equal(withRest.table.length, total - inFirst);
        assert.equal(withRest.outcome.errno, 0);
        assert.equal(withRest.outcome.malformed, 1);
        assert.match(withRest.outcome.problem ?? '', cut < 16 ? /truncated netlink header/ : /bad nlmsg_len/);
      }
    });

    it(`${file}: the first message's nlmsg_len set to every wrong value`, () => {
      for (let len = 0; len < firstLen + 40; len++) {
        if (len === firstLen) continue;
        const bad = first.slice();
        new DataView(bad.buffer).setUint32(0, len, true);
        const r = survive(d, [bad, ...datagrams.slice(1)]);
        if (len < 16 || len > first.byteLength) {
          assert.equal(r.outcome.malformed, 1, `len ${len}`);
          assert.equal(r.table.length, total - inFirst);
        }
        const bytes = datagrams.reduce((n, x) => n + x.byteLength, 0);
        assert.ok(r.outcome.messages <= bytes / 16, 'every message visited has a header of its own');
      }
    });
  }
});

describe('variants: seeded garbage', () => {
  const d = recordedDump('tcp-legacy-ext255.bin');
  const datagrams = datagramsOf(d.file);

  it('random bytes flipped in the recorded datagrams (200 seeds)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = prng(seed);
      const mangled = datagrams.map((dg) => {
        const copy = dg.slice();
        const flips = 1 + Math.floor(rnd() * 8);
        for (let k = 0; k < flips; k++) copy[Math.floor(rnd() * copy.byteLength)] = Math.floor(rnd() * 256);
        return copy;
      });
      const r = survive(d, mangled);
      assert.ok(r.outcome.datagrams <= datagrams.length);
    }
  });

  it('a datagram of noise before the real dump is counted and skipped', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rnd = prng(seed);
      const noise = Uint8Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256));
      // a noise datagram whose first word is a plausible length would be read as a message of another sequence
      const r = survive(d, [noise, ...datagrams]);
      assert.equal(r.outcome.errno, 0);
      assert.ok(r.table.length >= replay(d).table.length);
    }
  });

  it('the stream cut after any datagram ends with a problem, not a hang', () => {
    for (let n = 0; n < datagrams.length; n++) {
      const r = survive(d, datagrams.slice(0, n));
      assert.match(r.outcome.problem ?? '', /without NLMSG_DONE/);
      assert.equal(r.reads, n + 1);
    }
  });
});
