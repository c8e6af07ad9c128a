/**
 * takeSnapshot / takeCensus end to end over recorded kernel answers (test/fixtures, one recording): the
 * protocol plan, NLM_F_DUMP_INTR retries, the ENOENT → /proc/net fallback, broken streams. The requests go
 * through the production DiagSession; only the transport replays (src/snapshot/replay.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DiagSession, NLM_F_DUMP_INTR_FOR_TESTS, replayTransport, takeCensus, takeSnapshot } from '../helpers/library.js';
import { recordedAnswer } from '../helpers/recorded.js';
import { parseSs, SS_STATE_NUMBERS } from '../helpers/ss.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const procRoot = `${fixtures}proc`;
const ss = (file: string) => parseSs(readFileSync(`${fixtures}${file}`, 'utf8')).rows;

/** A copy of the datagrams with NLM_F_DUMP_INTR set on every message, as the kernel does when tables change. */
function interrupted(datagrams: Uint8Array[]): Uint8Array[] {
  return datagrams.map((d) => {
    const out = new Uint8Array(d);
    const v = new DataView(out.buffer);
    for (let at = 0; at + 16 <= out.byteLength; ) {
      const len = v.getUint32(at, true);
      v.setUint16(at + 6, v.getUint16(at + 6, true) | NLM_F_DUMP_INTR_FOR_TESTS, true);
      at += (len + 3) & ~3;
    }
    return out;
  });
}

const countByState = (rows: { state: string }[]) => {
  const out = new Map<number, number>();
  for (const r of rows) out.set(SS_STATE_NUMBERS[r.state], (out.get(SS_STATE_NUMBERS[r.state]) ?? 0) + 1);
  return out;
};

describe('takeSnapshot over a recorded dump', () => {
  it('reads every protocol, falls back to /proc/net for RAW (ENOENT) and reports SCTP unavailable', async () => {
    const transport = replayTransport(recordedAnswer);
    const snap = await takeSnapshot({ ext: 0xff, unixShow: 0x7f, procRoot }, new DiagSession(transport));
    const t = snap.table;
    const count = (proto: number) => Array.from(t.proto.subarray(0, t.length)).filter((p) => p === proto).length;
    assert.equal(count(1), ss('ss-tanO.txt').length, 'TCP sockets = rows of ss -tan recorded with the dump');
    assert.equal(count(2), ss('ss-uanO.txt').length, 'UDP sockets = rows of ss -uan');
    assert.equal(count(7), ss('ss-xanO.txt').length, 'unix sockets = rows of ss -xan');
    const src = Object.fromEntries(snap.sources.map((s) => [s.protocol, s]));
    assert.equal(src.tcp.source, 'netlink');
    assert.equal(src.raw.source, 'proc');
    assert.equal(src.raw.errno, 'ENOENT');
    assert.match(src.raw.note ?? '', /cannot dump raw over sock_diag \(ENOENT/);
    assert.equal(src.sctp.source, 'unavailable');
    assert.equal(src.mptcp.source, 'netlink');
    // one legacy TCP walk; udp, udplite, mptcp per family; raw and sctp stop at the first ENOENT; unix once
    assert.deepEqual(
      transport.requests.map((r) => r.type),
      [18, ...new Array(9).fill(20)],
    );
    assert.deepEqual(
      transport.requests.slice(1).map((r) => r.body[1]),
      [17, 17, 136, 136, 255, 132, 6, 6, 0],
    );
    assert.deepEqual(snap.notes, []);
    assert.ok(snap.sources.every((s) => s.retries === 0 && !s.interrupted && s.malformed === 0));
  });

  it('repeats a dump the kernel flagged NLM_F_DUMP_INTR, keeping only the clean answer', async () => {
    const transport = replayTransport((req) => {
      const answer = recordedAnswer(req);
      return req.type === 18 && req.index === 0 ? interrupted(answer) : answer;
    });
    const snap = await takeSnapshot({ protocols: ['tcp'], ext: 0xff }, new DiagSession(transport));
    assert.equal(snap.table.length, ss('ss-tanO.txt').length, 'rows of the interrupted try are discarded');
    assert.equal(snap.sources[0].retries, 1);
    assert.equal(snap.sources[0].interrupted, false);
    assert.equal(transport.requests.length, 2);
  });

  it('after maxRetries it returns the last answer flagged, with a note', async () => {
    const transport = replayTransport((req) => interrupted(recordedAnswer(req)));
    const snap = await takeSnapshot({ protocols: ['tcp'], ext: 0, maxRetries: 2 }, new DiagSession(transport));
    assert.equal(transport.requests.length, 3);
    assert.equal(snap.sources[0].retries, 2);
    assert.equal(snap.sources[0].interrupted, true);
    assert.equal(snap.table.length, ss('ss-tanO.txt').length);
    assert.match(snap.notes.join('\n'), /kept changing during the dump/);
  });

  it('a stream that ends without NLMSG_DONE is reported, not waited on', async () => {
    const transport = replayTransport((req) => recordedAnswer(req).slice(0, 1));
    const snap = await takeSnapshot({ protocols: ['tcp'], ext: 0xff }, new DiagSession(transport));
    assert.ok(snap.table.length > 0 && snap.table.length < ss('ss-tanO.txt').length);
    assert.match(snap.notes.join('\n'), /ended without NLMSG_DONE/);
  });

  it('a corrupted datagram is counted as malformed and the rest of the dump still decodes', async () => {
    const transport = replayTransport((req) => {
      const answer = recordedAnswer(req).map((d) => new Uint8Array(d));
      // break the nlmsg_len of the first message of the first datagram: that datagram is skipped
      new DataView(answer[0].buffer).setUint32(0, 0xffff, true);
      return answer;
    });
    const snap = await takeSnapshot({ protocols: ['tcp'], ext: 0xff }, new DiagSession(transport));
    assert.equal(snap.sources[0].malformed, 1);
    assert.ok(snap.table.length < ss('ss-tanO.txt').length);
    assert.match(snap.notes.join('\n'), /bad nlmsg_len 65535/);
  });
});

describe("keepAttributes: 'ipv6-wildcard' (what a plain ls table reads)", () => {
  it('keeps the attributes of unix sockets and IPv6 wildcard sockets, byte for byte, and no others', async () => {
    const options = { protocols: ['tcp', 'udp', 'unix'] as const, ext: 0xff, unixShow: 0x7f, procRoot }; // Proto.unix is 7
    const all = (await takeSnapshot({ ...options, protocols: [...options.protocols], keepAttributes: true }, new DiagSession(replayTransport(recordedAnswer))))
      .table;
    const some = (
      await takeSnapshot({ ...options, protocols: [...options.protocols], keepAttributes: 'ipv6-wildcard' }, new DiagSession(replayTransport(recordedAnswer)))
    ).table;
    assert.equal(some.length, all.length);
    const attrs = (t: typeof all, i: number) => [...t.arena.subarray(t.attrStart[i], t.attrStart[i] + t.attrLength[i])];
    const zero = (a: Uint8Array, i: number) => a.subarray(16 * i, 16 * i + 16).every((b) => b === 0);
    let wildcards = 0;
    let unix = 0;
    for (let i = 0; i < all.length; i++) {
      const kept = all.proto[i] === 7 || (all.family[i] === 10 && (zero(all.src, i) || zero(all.dst, i)));
      if (all.proto[i] === 7) unix++;
      else if (kept) wildcards++;
      assert.deepEqual(attrs(some, i), kept ? attrs(all, i) : [], `row ${i}: family ${all.family[i]}, proto ${all.proto[i]}`);
    }
    assert.ok(wildcards > 0 && unix > 0, 'the recording has IPv6 wildcard and unix sockets');
    assert.ok(some.arenaUsed < all.arenaUsed / 2, `${some.arenaUsed} bytes kept of ${all.arenaUsed}`);
  });
});

describe('takeCensus over a recorded dump', () => {
  for (const tcpStrategy of ['legacy', 'v2'] as const) {
    it(`counts per state equal ss -tan/-uan/-xan recorded with the dump (${tcpStrategy})`, async () => {
      const census = await takeCensus({ procRoot, tcpStrategy }, new DiagSession(replayTransport(recordedAnswer)));
      for (const [proto, file] of [
        ['tcp', 'ss-tanO.txt'],
        ['udp', 'ss-uanO.txt'],
        ['unix', 'ss-xanO.txt'],
      ] as const) {
        const want = countByState(ss(file));
        const got = census.counts.states(proto);
        for (let s = 0; s < 16; s++) assert.equal(got[s], want.get(s) ?? 0, `${proto} state ${s}`);
      }
    });
  }
});

describe('a filter program the kernel refuses', () => {
  it('is dropped: the dump is repeated unfiltered and a note says so (user space still decides)', async () => {
    // what a kernel answers an unprivileged MARK_COND program: NLMSG_DONE carrying -EPERM
    const eperm = new Uint8Array(20);
    const v = new DataView(eperm.buffer);
    v.setUint32(0, 20, true);
    v.setUint16(4, 3, true); // NLMSG_DONE
    v.setInt32(16, -1, true);
    const transport = replayTransport((req) => (req.body.byteLength > 60 ? [eperm] : recordedAnswer(req)));
    const bytecode = new Uint8Array([0, 4, 8, 0]); // a NOP program: any program makes the request longer
    const snap = await takeSnapshot({ protocols: ['tcp'], ext: 0xff, bytecode }, new DiagSession(transport));
    assert.equal(snap.table.length, ss('ss-tanO.txt').length);
    assert.equal(snap.sources[0].source, 'netlink');
    assert.match(snap.notes.join('\n'), /refused the filter program \(EPERM\); filtering in user space/);
    assert.deepEqual(
      transport.requests.map((r) => r.body.byteLength > 60),
      [true, false],
    );
  });
});

/** NLMSG_DONE carrying -errno, as the kernel ends a dump it refuses. */
function doneWithErrno(errno: number): Uint8Array {
  const done = new Uint8Array(20);
  const v = new DataView(done.buffer);
  v.setUint32(0, 20, true);
  v.setUint16(4, 3, true); // NLMSG_DONE
  v.setInt32(16, -errno, true);
  return done;
}

describe('one retry policy and one /proc fallback for the table, the stream and the census', () => {
  // UDP refused with EPERM (a dump the kernel will not give, not a missing module), everything else recorded
  const refusing = () => replayTransport((req) => (req.type === 20 && req.body[1] === 17 && req.body[0] !== 1 ? [doneWithErrno(1)] : recordedAnswer(req)));

  it('the census says the kernel refused the dump (EPERM), not that a diag module is missing, as the table does', async () => {
    const census = await takeCensus({ protocols: ['tcp', 'udp'], procRoot }, new DiagSession(refusing()));
    const snap = await takeSnapshot({ protocols: ['tcp', 'udp'], procRoot }, new DiagSession(refusing()));
    for (const r of [census, snap]) {
      const udp = r.sources.find((s) => s.protocol === 'udp')!;
      assert.equal(udp.source, 'proc');
      assert.equal(udp.errno, 'EPERM');
      assert.equal(udp.note, 'the kernel refused to dump udp over sock_diag (EPERM)');
    }
    // the /proc files recorded with the dumps hold the same UDP sockets
    assert.equal(census.counts.total('udp'), ss('ss-uanO.txt').length);
  });

  it('the census retries NLM_F_DUMP_INTR and says so past maxRetries, as the table does', async () => {
    const transport = replayTransport((req) => (req.type === 18 ? interrupted(recordedAnswer(req)) : recordedAnswer(req)));
    const census = await takeCensus({ protocols: ['tcp'], procRoot, maxRetries: 2 }, new DiagSession(transport));
    assert.equal(census.sources[0].retries, 2);
    assert.equal(census.sources[0].interrupted, true);
    assert.match(census.notes.join('\n'), /tcp: the socket table kept changing during the dump \(NLM_F_DUMP_INTR after 3 tries\)/);
    assert.equal(census.counts.total('tcp'), ss('ss-tanO.txt').length, 'the last answer, counted once');
  });
});
