/**
 * The read-ahead transport (src/snapshot/read-ahead.ts) against a plain netlink session, in a throwaway
 * namespace with connections of its own (test/helpers/read-ahead-run.ts): the same rows in the same order with
 * the same attribute lengths whether this thread or the worker received them, the socket handed over between
 * dumps and in the middle of one, and a datagram too large for the caller's buffer refused as recv() refuses it.
 * endsDump (src/snapshot/dump.ts) over recorded dumps: only each dump's last datagram ends it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { endsDump } from '../../src/snapshot/dump.js';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { recordedAnswer } from '../helpers/recorded.js';

const support = netnsSupport();
const SCRIPT = fileURLToPath(new URL('../helpers/read-ahead-run.js', import.meta.url));

describe('endsDump', () => {
  test("only a recorded dump's last datagram ends it (NLMSG_DONE), an ENOENT answer ends at once", () => {
    // the legacy TCP walk with every extension, unix with every show flag, and RAW (no diag module: ENOENT)
    const requests = [
      { type: 18, body: new Uint8Array([2, 6, 0, 0xff]) },
      { type: 20, body: new Uint8Array([1, 0]) },
    ];
    for (const req of requests) {
      const datagrams = recordedAnswer(req as never);
      assert.ok(datagrams.length > 1, 'a dump of several datagrams');
      const ends = datagrams.map((d) => endsDump(new DataView(d.buffer, d.byteOffset, d.byteLength), 0, d.byteLength));
      assert.deepEqual(
        ends,
        datagrams.map((_, k) => k === datagrams.length - 1),
      );
    }
    const error = new Uint8Array(36);
    const v = new DataView(error.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, 2, true); // NLMSG_ERROR
    v.setInt32(16, -2, true); // -ENOENT
    assert.equal(endsDump(v, 0, 36), true);
    v.setInt32(16, 0, true); // an ACK: the dump goes on
    assert.equal(endsDump(v, 0, 36), false);
    assert.equal(endsDump(v, 0, 0), true, 'an empty read ends it, as runDump');
  });
});

describe('read-ahead in a network namespace', { skip: support.skip ?? false }, () => {
  test('the worker reads what this thread reads, handed over between dumps and mid-dump', async () => {
    const ns = await PopulationNetns.start();
    try {
      const r = JSON.parse(await ns.node(SCRIPT, [], { timeoutMs: 60_000 }));
      assert.ok(r.tcp >= 300, `the script's 300 connections are listed (${r.tcp})`);
      assert.equal(r.handedBefore, false, 'dumps taken at once are received by this thread');
      assert.equal(r.handedAfter, true, 'once the worker is ready it receives');
      assert.deepEqual(r.before, r.direct);
      assert.deepEqual(r.after, r.direct);
      assert.equal(r.mid.errno, 0);
      assert.ok(r.mid.datagrams > 1, `the mid-dump case spans several datagrams (${r.mid.datagrams})`);
      assert.equal(r.mid.handed, true, 'handed over during the dump');
      assert.equal(r.mid.messages, r.direct.filter((x: string) => x.startsWith('1|')).length, 'every TCP socket of the dump, once');
      assert.deepEqual(r.mid.again, r.direct, 'and the next dumps through the worker');
      assert.match(r.tooSmall, /datagram did not fit the 64-byte buffer/);
    } finally {
      await ns.stop();
    }
  });
});
