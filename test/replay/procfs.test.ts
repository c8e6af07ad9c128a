/**
 * The /proc/net files recorded with the dumps, through the procfs parsers, against the netlink rows of the same
 * moment: the same sockets (addresses, ports, states, inodes) by both routes. The known differences are the
 * fixtures README's: a listener's tx_queue, and unix sockets without an inode that unix_diag skips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUnixAttributes } from '../../src/diag/unix.js';
import { parseProcNetInet, parseProcNetUnix, parseSockstat } from '../../src/procfs/net.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { toHex } from '../helpers/bytes.js';
import { fixtureText, recordedDump, replay } from '../helpers/recording.js';

const TCP_LISTEN = 10;
const TCP_TIME_WAIT = 6;

const key = (t: SocketTable, r: number) =>
  `${t.family[r]} ${t.state[r]} ${toHex(t.src.subarray(r * 16, r * 16 + 16))}:${t.sport[r]} ${toHex(t.dst.subarray(r * 16, r * 16 + 16))}:${t.dport[r]}`;

function byKey(t: SocketTable): Map<string, number> {
  const m = new Map<string, number>();
  for (let r = 0; r < t.length; r++) {
    assert.ok(!m.has(key(t, r)), `duplicate ${key(t, r)}`);
    m.set(key(t, r), r);
  }
  return m;
}

function procTable(files: [string, number][], proto: number): SocketTable {
  const t = new SocketTable();
  for (const [file, family] of files) {
    const text = fixtureText(`proc/net/${file}`);
    const r = parseProcNetInet(text, t, proto, family);
    assert.equal(r.malformed, 0, file);
    assert.equal(r.rows, text.trimEnd().split('\n').length - 1, `${file}: one row per line`);
  }
  return t;
}

describe('replay: /proc/net vs netlink at the same moment', () => {
  it("TCP: the same sockets; inode, uid, timer and queues agree (a listener's tx_queue aside)", () => {
    const proc = procTable(
      [
        ['tcp', 2],
        ['tcp6', 10],
      ],
      1,
    );
    const nl = replay(recordedDump('tcp-legacy-census.bin')).table;
    const p = byKey(proc);
    const n = byKey(nl);
    assert.deepEqual([...p.keys()].sort(), [...n.keys()].sort());
    for (const [k, pr] of p) {
      const nr = n.get(k)!;
      assert.deepEqual([proc.inode[pr], proc.uid[pr], proc.rqueue[pr], proc.sockType[pr]], [nl.inode[nr], nl.uid[nr], nl.rqueue[nr], nl.sockType[nr]], k);
      if (nl.state[nr] !== TCP_LISTEN) assert.equal(proc.wqueue[pr], nl.wqueue[nr], k);
      else assert.equal(proc.wqueue[pr], 0, "a listener's tx_queue is 0 in /proc; netlink has its backlog");
      if (nl.state[nr] !== 2) assert.equal(proc.timer[pr], nl.timer[nr], k); // SYN-SENT may have retransmitted between
    }
  });

  it('UDP: the same sockets, queues and inodes', () => {
    const proc = procTable(
      [
        ['udp', 2],
        ['udp6', 10],
      ],
      2,
    );
    const nl = new SocketTable();
    nl.append(replay(recordedDump('udp-v2-inet-ext255.bin')).table);
    nl.append(replay(recordedDump('udp-v2-inet6-ext255.bin')).table);
    const p = byKey(proc);
    const n = byKey(nl);
    assert.deepEqual([...p.keys()].sort(), [...n.keys()].sort());
    for (const [k, pr] of p) {
      const nr = n.get(k)!;
      assert.deepEqual([proc.inode[pr], proc.uid[pr], proc.rqueue[pr], proc.wqueue[pr]], [nl.inode[nr], nl.uid[nr], nl.rqueue[nr], nl.wqueue[nr]], k);
    }
  });

  it('udplite and raw: no sockets in /proc either (the dumps gave 0 sockets and ENOENT)', () => {
    for (const file of ['udplite', 'udplite6', 'raw', 'raw6']) {
      const t = new SocketTable();
      assert.deepEqual(parseProcNetInet(fixtureText(`proc/net/${file}`), t, file.startsWith('raw') ? 4 : 3, file.endsWith('6') ? 10 : 2), {
        rows: 0,
        malformed: 0,
      });
    }
  });

  it('unix: the same sockets, type, state and name; the inode-less embryos unix_diag skips are skipped', () => {
    const proc = new SocketTable();
    const text = fixtureText('proc/net/unix');
    const lines = text.trimEnd().split('\n').slice(1);
    // the server ends of the two never-accepted connections: no socket yet (inode 0), St 02, the listener's path
    const embryos = lines.filter((l) => l.trim().split(/\s+/)[6] === '0');
    assert.equal(embryos.length, 2);
    for (const l of embryos) assert.match(l, / 02 +0 \/.*\/pending\.sock$/);
    assert.deepEqual(parseProcNetUnix(text, proc), { rows: lines.length - embryos.length, malformed: 0 });
    const nl = replay(recordedDump('unix-show7f.bin')).table;
    const name = (t: SocketTable, r: number) => decodeUnixAttributes(t.arenaView(), t.attrStart[r], t.attrStart[r] + t.attrLength[r]).name;
    const nlByInode = new Map(Array.from({ length: nl.length }, (_, r) => [nl.inode[r], r]));
    assert.deepEqual(Array.from(proc.inode.subarray(0, proc.length)).sort(), [...nlByInode.keys()].sort());
    for (let pr = 0; pr < proc.length; pr++) {
      const nr = nlByInode.get(proc.inode[pr])!;
      assert.deepEqual([proc.sockType[pr], proc.state[pr], name(proc, pr)], [nl.sockType[nr], nl.state[nr], name(nl, nr)], `inode ${proc.inode[pr]}`);
    }
  });

  it('sockstat: in-use counts per family and TIME-WAIT count agree with the dumps', () => {
    const v4 = parseSockstat(fixtureText('proc/net/sockstat'));
    const v6 = parseSockstat(fixtureText('proc/net/sockstat6'));
    const tcp = replay(recordedDump('tcp-legacy-census.bin')).table;
    const count = (t: SocketTable, pred: (r: number) => boolean) => Array.from({ length: t.length }, (_, r) => r).filter(pred).length;
    // sockstat's inuse counts hashed full sockets (TIME-WAIT minisocks are counted in tw), one line per family
    assert.equal(
      v4.TCP.inuse,
      count(tcp, (r) => tcp.family[r] === 2 && tcp.state[r] !== TCP_TIME_WAIT),
    );
    assert.equal(
      v6.TCP6.inuse,
      count(tcp, (r) => tcp.family[r] === 10 && tcp.state[r] !== TCP_TIME_WAIT),
    );
    assert.equal(
      v4.TCP.tw,
      count(tcp, (r) => tcp.state[r] === TCP_TIME_WAIT),
    );
    assert.equal(v4.UDP.inuse, replay(recordedDump('udp-v2-inet-ext255.bin')).table.length);
    assert.equal(v6.UDP6.inuse, replay(recordedDump('udp-v2-inet6-ext255.bin')).table.length);
    assert.equal(v4.RAW.inuse, 0);
  });
});
