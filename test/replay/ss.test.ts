/**
 * The recorded dumps decoded through runDump + appendInetMessage/appendUnixMessage + the attribute decoders,
 * compared with what `ss` printed for the same sockets at the same moment (test/fixtures/ss-*.txt). The
 * expectations are ss's; the mapping from ss's text to kernel numbers is ss.c's (helpers/ss.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress } from '../../src/diag/address.js';
import { decodeInetAttributes, type InetAttributes } from '../../src/diag/inet.js';
import { decodeUnixAttributes } from '../../src/diag/unix.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { parseSs, SS_STATE_NUMBERS, SS_TIMER_NUMBERS, SS_UNIX_TYPES, ssNumber, ssRtt, ssTimer, type SsRow } from '../helpers/ss.js';
import { ssPrintedDev } from '../helpers/ss.js';
import { fixtureText, recordedDump, replay } from '../helpers/recording.js';

const AF_INET6 = 10;
const cookieHex = (t: SocketTable, r: number) => ((BigInt(t.cookieHi[r]) << 32n) | BigInt(t.cookieLo[r])).toString(16);
const arrows = (mask: number | undefined) => (mask === undefined ? undefined : `${mask & 1 ? '-' : '<'}-${mask & 2 ? '-' : '>'}`);
/** ss prints %g of a millisecond value: 6 significant digits. */
const g = (x: number) => Number(x.toPrecision(6));

/** "addr:port" as ss prints it: '*' for the IPv6 wildcard of a socket that is not v6only (ss.c inet_addr_print). */
function endpoint(t: SocketTable, r: number, which: 'src' | 'dst', v6only: boolean): string {
  const bytes = t[which].subarray(r * 16, r * 16 + 16);
  const port = which === 'src' ? t.sport[r] : t.dport[r];
  const wildcard6 = t.family[r] === AF_INET6 && bytes.every((b) => b === 0) && !v6only;
  return `${wildcard6 ? '*' : formatAddress(t.family[r], t[which], r * 16)}:${port}`;
}
const ssEndpoint = (e: SsRow['local']) => `${e.address}:${e.port}`;

interface Row {
  r: number;
  a: InetAttributes;
  key: string;
}

function inetRows(file: string): { table: SocketTable; rows: Map<string, Row> } {
  const { table } = replay(recordedDump(file));
  const view = table.arenaView();
  const rows = new Map<string, Row>();
  for (let r = 0; r < table.length; r++) {
    const a = decodeInetAttributes(view, table.attrStart[r], table.attrStart[r] + table.attrLength[r]);
    assert.equal(a.error, undefined, `row ${r}: ${a.error}`);
    const key = `${table.state[r]} ${endpoint(table, r, 'src', a.v6only === true)} ${endpoint(table, r, 'dst', a.v6only === true)}`;
    assert.ok(!rows.has(key), `duplicate ${key}`);
    rows.set(key, { r, a, key });
  }
  return { table, rows };
}

function ssRows(file: string): Map<string, SsRow> {
  const out = new Map<string, SsRow>();
  for (const s of parseSs(fixtureText(file)).rows) {
    const state = SS_STATE_NUMBERS[s.state];
    assert.ok(state !== undefined, s.state);
    out.set(`${state} ${ssEndpoint(s.local)} ${ssEndpoint(s.peer)}`, s);
  }
  return out;
}

/** The columns and attributes every inet row shares with ss -e: queues, inode, cookie, v6only, shutdown. */
function compareCommon(t: SocketTable, row: Row, s: SsRow): void {
  const where = `${row.key}: ${s.raw}`;
  assert.equal(t.rqueue[row.r], s.recvQ, `Recv-Q ${where}`);
  assert.equal(t.wqueue[row.r], s.sendQ, `Send-Q ${where}`);
  assert.equal(t.inode[row.r], ssNumber(s, 'ino'), `ino ${where}`);
  assert.equal(cookieHex(t, row.r), s.fields.sk, `sk ${where}`);
  assert.equal(row.a.v6only === undefined ? undefined : String(Number(row.a.v6only)), s.fields.v6only, `v6only ${where}`);
  assert.equal(arrows(row.a.shutdown), s.shutdown, `shutdown ${where}`);
}

describe('replay vs ss: TCP (legacy dump, both families, every extension)', () => {
  const { table: t, rows } = inetRows('tcp-legacy-ext255.bin');
  const ss = ssRows('ss-tanieO.txt');

  it('the same sockets: state, local and peer address:port', () => {
    assert.deepEqual([...rows.keys()].sort(), [...ss.keys()].sort());
  });

  it('queues, inode, cookie, v6only, shutdown and timer as ss -e prints them', () => {
    for (const [key, row] of rows) {
      const s = ss.get(key)!;
      compareCommon(t, row, s);
      const timer = ssTimer(s);
      if (timer) assert.equal(t.timer[row.r], SS_TIMER_NUMBERS[timer.name], `timer ${s.raw}`);
    }
  });

  it('TIME-WAIT rows carry no tcp_info, congestion control or cgroup', () => {
    const tw = [...rows.values()].filter((row) => t.state[row.r] === 6);
    assert.ok(tw.length > 0);
    for (const row of tw) {
      assert.equal(row.a.tcpInfo, undefined);
      assert.equal(row.a.congestion, undefined);
      assert.equal(t.timer[row.r], 3);
      assert.equal(t.inode[row.r], 0);
    }
  });

  it('tcp_info, congestion control and BBR fields as ss -i prints them', () => {
    let compared = 0;
    const infoLengths = new Set<number | undefined>();
    for (const [key, row] of rows) {
      const s = ss.get(key)!;
      const i = row.a.tcpInfo;
      if (t.state[row.r] === 6) continue;
      assert.ok(i, `no tcp_info: ${s.raw}`);
      // one struct size per kernel, one of the sizes of kernel-abi.md §5 (280 on this recording's 6.18)
      assert.ok([104, 120, 136, 144, 160, 168, 192, 200, 224, 232, 240, 248, 280].includes(row.a.tcpInfoLength ?? 0), `${row.a.tcpInfoLength}`);
      infoLengths.add(row.a.tcpInfoLength);
      assert.ok(s.flags.includes(row.a.congestion ?? '-'), `congestion ${row.a.congestion}: ${s.raw}`);
      // the same order and conditions as ss.c tcp_show_info(); SYN-SENT's counters move with its retransmits
      const volatile = t.state[row.r] === 2;
      const checks: [string, number | undefined][] = [
        ['cwnd', i.snd_cwnd],
        ['mss', i.snd_mss],
        ['pmtu', i.pmtu],
        ['rcvmss', i.rcv_mss],
        ['advmss', i.advmss],
        ['bytes_sent', i.bytes_sent],
        ['bytes_acked', i.bytes_acked],
        ['bytes_received', i.bytes_received],
        ['data_segs_out', i.data_segs_out],
        ['data_segs_in', i.data_segs_in],
        ['delivered', i.delivered],
        ['rcv_space', i.rcv_space],
        ['rcv_ssthresh', i.rcv_ssthresh],
        ['snd_wnd', i.snd_wnd],
        ['unacked', i.unacked],
        ['ato', i.ato === undefined ? undefined : g(i.ato / 1000)],
        ['minrtt', i.min_rtt === undefined ? undefined : g(i.min_rtt / 1000)],
        ['rcv_rtt', i.rcv_rtt === undefined ? undefined : g(i.rcv_rtt / 1000)],
        ...(volatile
          ? []
          : ([
              ['segs_out', i.segs_out],
              ['segs_in', i.segs_in],
              ['rto', g(i.rto / 1000)],
            ] as [string, number][])),
      ];
      for (const [field, mine] of checks) {
        const theirs = ssNumber(s, field);
        if (theirs !== undefined) assert.equal(mine, theirs, `${field}: ${s.raw}`);
      }
      if (s.fields.wscale) assert.equal(`${i.snd_wscale},${i.rcv_wscale}`, s.fields.wscale, s.raw);
      assert.equal(s.fields.wscale !== undefined, (i.options & 4) !== 0, 'wscale printed iff TCPI_OPT_WSCALE');
      assert.equal(s.flags.includes('ts'), (i.options & 1) !== 0, `ts: ${s.raw}`);
      assert.equal(s.flags.includes('sack'), (i.options & 2) !== 0, `sack: ${s.raw}`);
      assert.equal(s.flags.includes('app_limited'), i.delivery_rate_app_limited === 1, `app_limited: ${s.raw}`);
      const rtt = ssRtt(s);
      if (rtt) assert.deepEqual({ rttMs: g(i.rtt / 1000), rttvarMs: g(i.rttvar / 1000) }, rtt, s.raw);
      if (s.fields.busy) assert.equal(`${Math.floor(i.busy_time / 1000)}ms`, s.fields.busy);
      if (!volatile && s.fields.pacing_rate) assert.equal(`${i.pacing_rate * 8}bps`, s.fields.pacing_rate, s.raw);
      if (s.fields.delivery_rate) assert.equal(`${i.delivery_rate * 8}bps`, s.fields.delivery_rate, s.raw);
      if (s.fields.bbr) {
        assert.ok(row.a.bbr, `BBRINFO missing: ${s.raw}`);
        const b = row.a.bbr;
        const m = /^\(bw:(\d+)bps,mrtt:([\d.]+)(?:,pacing_gain:([\d.]+),cwnd_gain:([\d.]+))?\)$/.exec(s.fields.bbr);
        assert.ok(m, s.fields.bbr);
        assert.equal(b.bw_bytes_per_second * 8, Number(m[1]), s.raw);
        assert.equal(g(b.min_rtt / 1000), Number(m[2]), s.raw);
        if (m[3]) assert.deepEqual([g(b.pacing_gain / 256), g(b.cwnd_gain / 256)], [Number(m[3]), Number(m[4])], s.raw);
      }
      compared++;
    }
    assert.ok(compared >= 25);
    assert.equal(infoLengths.size, 1);
  });

  it('what the population is known to hold (fixtures README): accept queues, unread data, v4-mapped', () => {
    const listeners = [...rows.values()].filter((row) => t.state[row.r] === 10);
    // a full accept queue: Recv-Q 2 > Send-Q 1 on the ::1 listener
    assert.ok(listeners.some((row) => t.family[row.r] === 10 && t.rqueue[row.r] === 2 && t.wqueue[row.r] === 1));
    // server ends of never-accepted connections: ESTAB with inode 0 and unread data
    assert.ok([...rows.values()].some((row) => t.state[row.r] === 1 && t.inode[row.r] === 0 && t.rqueue[row.r] === 200));
    assert.ok([...rows.keys()].some((k) => k.includes('::ffff:127.0.0.1:')));
    // tcp_info of a listener: unacked = accept queue, sacked = backlog (kernel-abi.md §5)
    for (const row of listeners) {
      assert.equal(row.a.tcpInfo?.unacked, t.rqueue[row.r]);
      assert.equal(row.a.tcpInfo?.sacked, t.wqueue[row.r]);
    }
  });
});

describe('replay vs ss: TCP v2 census dumps (ext 0)', () => {
  it('the same sockets and columns, no attributes beyond what the kernel always sends', () => {
    const ss = ssRows('ss-tanieO.txt');
    const keys: string[] = [];
    for (const file of ['tcp-v2-inet-census.bin', 'tcp-v2-inet6-census.bin']) {
      const { table: t, rows } = inetRows(file);
      for (const [key, row] of rows) {
        keys.push(key);
        const s = ss.get(key);
        assert.ok(s, key);
        assert.equal(row.a.tcpInfo, undefined);
        assert.equal(row.a.meminfo, undefined);
        compareCommon(t, row, s);
      }
    }
    assert.deepEqual(keys.sort(), [...ss.keys()].sort());
  });
});

describe('replay vs ss: UDP', () => {
  it('both families: sockets, queues, inode, cookie, v6only, shutdown; no tcp_info', () => {
    const ss = ssRows('ss-uanieO.txt');
    const keys: string[] = [];
    for (const file of ['udp-v2-inet-ext255.bin', 'udp-v2-inet6-ext255.bin']) {
      const { table: t, rows } = inetRows(file);
      for (const [key, row] of rows) {
        keys.push(key);
        const s = ss.get(key);
        assert.ok(s, key);
        compareCommon(t, row, s);
        assert.equal(row.a.tcpInfo, undefined, 'UDP has no INFO');
        assert.equal(t.sockType[row.r], 2);
      }
    }
    assert.deepEqual(keys.sort(), [...ss.keys()].sort());
  });
});

describe('replay vs ss: unix', () => {
  const { table: t } = replay(recordedDump('unix-show7f.bin'));
  const view = t.arenaView();
  const ss = new Map(parseSs(fixtureText('ss-xaneO.txt')).rows.map((s) => [s.local.port, s]));

  it('the same sockets by inode', () => {
    assert.deepEqual(Array.from(t.inode.subarray(0, t.length)).sort(), [...ss.keys()].sort());
  });

  it('type, state, queues (RQLEN), name, peer, VFS, pending connections (ICONS), shutdown', () => {
    for (let r = 0; r < t.length; r++) {
      const s = ss.get(t.inode[r])!;
      const a = decodeUnixAttributes(view, t.attrStart[r], t.attrStart[r] + t.attrLength[r]);
      assert.equal(a.error, undefined);
      assert.equal(t.sockType[r], SS_UNIX_TYPES[s.netid ?? ''], s.raw);
      assert.equal(t.state[r], SS_STATE_NUMBERS[s.state], s.raw);
      assert.deepEqual([t.rqueue[r], t.wqueue[r]], [s.recvQ, s.sendQ], s.raw);
      assert.deepEqual([a.rqueue, a.wqueue], [s.recvQ, s.sendQ], 'the RQLEN attribute and the columns agree');
      assert.equal(a.name ?? '*', s.local.address, s.raw);
      assert.equal(a.peer ?? 0, s.peer.port, s.raw);
      assert.equal(t.uid[r], a.uid);
      if (s.fields.ino) {
        assert.ok(a.vfs, s.raw);
        assert.equal(a.vfs.inode, Number(s.fields.ino));
        assert.equal(ssPrintedDev(a.vfs.dev), s.fields.dev, s.raw);
      } else {
        assert.equal(a.vfs, undefined, s.raw);
      }
      assert.deepEqual(a.pending, s.peers, s.raw);
      assert.equal(arrows(a.shutdown), s.shutdown, s.raw);
    }
  });

  it('abstract names show as @name, path names without their terminating NUL', () => {
    const names = Array.from({ length: t.length }, (_, r) => decodeUnixAttributes(view, t.attrStart[r], t.attrStart[r] + t.attrLength[r]).name);
    assert.ok(names.some((n) => n?.startsWith('@sockscope-stream-')));
    assert.ok(names.some((n) => n?.endsWith('/pending.sock')));
    assert.ok(names.every((n) => n === undefined || !n.endsWith('@')));
  });
});
