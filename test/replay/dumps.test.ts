/**
 * Every recorded dump (test/fixtures/manifest.json): the request builders reproduce the bytes the kernel was
 * sent, and the recorded answer replays through runDump with the outcome the recording saw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest } from '../../src/diag/requests.js';
import { toHex } from '../helpers/bytes.js';
import { manifest, replay, type RecordedDump } from '../helpers/recording.js';

function request(d: RecordedDump): Uint8Array {
  switch (d.kind) {
    case 'legacy':
      return legacyTcpDumpRequest({ states: d.states, ext: d.ext ?? 0 }, d.seq);
    case 'inet':
      return inetDumpRequest({ family: d.family ?? 0, protocol: d.protocol ?? 0, states: d.states, ext: d.ext ?? 0 }, d.seq);
    case 'unix':
      return unixDumpRequest({ states: d.states, show: d.show ?? 0 }, d.seq);
  }
}

describe('recorded dumps', () => {
  const m = manifest();
  it('the recording has the dumps the README describes', () => {
    assert.ok(m.dumps.length >= 17);
    assert.ok(m.dumps.some((d) => d.kind === 'legacy') && m.dumps.some((d) => d.kind === 'unix'));
  });

  for (const d of m.dumps) {
    it(`${d.file}: the builder reproduces the request the kernel answered`, () => {
      assert.equal(toHex(request(d)).replace(/ /g, ''), d.requestHex);
    });

    it(`${d.file}: replays with the recorded outcome`, () => {
      const { outcome, table, rejected, reads } = replay(d);
      const sockets = d.messagesByType[String(d.requestType)] ?? 0;
      assert.deepEqual(
        {
          messages: outcome.messages,
          errno: outcome.errno,
          malformed: outcome.malformed,
          problem: outcome.problem,
          datagrams: outcome.datagrams,
          interrupted: outcome.interrupted,
        },
        { messages: sockets, errno: d.errno, malformed: 0, problem: undefined, datagrams: d.datagrams, interrupted: false },
      );
      assert.equal(reads, d.datagrams, 'DONE ends the dump: nothing is read after it');
      assert.equal(rejected, 0);
      assert.equal(table.length, sockets);
      assert.equal(d.messagesByType['3'], 1, 'one NLMSG_DONE');
    });
  }

  it('a protocol without its diag module answers NLMSG_DONE carrying ENOENT (kernel-abi.md §1)', () => {
    const enoent = m.dumps.filter((d) => d.errno !== 0);
    assert.ok(enoent.length > 0);
    for (const d of enoent) {
      assert.ok(d.protocol === 255 || d.protocol === 132, d.file);
      assert.equal(replay(d).outcome.errno, 2);
    }
  });

  it('the legacy dump returns the rows of both v2 dumps (both families, one walk)', () => {
    const legacy = m.dumps.find((d) => d.kind === 'legacy' && d.ext === 255);
    const v2 = m.dumps.filter((d) => d.kind === 'inet' && d.protocol === 6 && d.ext === 255);
    assert.ok(legacy && v2.length === 2);
    const key = (t: ReturnType<typeof replay>['table'], r: number) =>
      [
        t.family[r],
        t.state[r],
        t.sport[r],
        t.dport[r],
        t.inode[r],
        t.cookieLo[r],
        t.cookieHi[r],
        toHex(t.src.subarray(r * 16, r * 16 + 16)),
        toHex(t.dst.subarray(r * 16, r * 16 + 16)),
      ].join(' ');
    const rows = (d: RecordedDump) => {
      const { table } = replay(d);
      return Array.from({ length: table.length }, (_, r) => key(table, r));
    };
    assert.deepEqual(rows(legacy).sort(), [...rows(v2[0]), ...rows(v2[1])].sort());
  });
});
