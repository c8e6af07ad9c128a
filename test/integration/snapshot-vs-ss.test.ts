/**
 * sockscope against iproute2 `ss`, in a throwaway network namespace holding a known, idle socket population
 * (test/helpers/population-holder.ts). Everything is captured once, in order, while nothing moves:
 *
 *   ss -tanieO, ss -uanieO, ss -xaneO, ss -tlnO   (the oracle)
 *   dump-json: snapshot (legacy TCP walk), snapshot --strategy v2, census legacy, census v2, snapshot --proc
 *   ss -tanieO, ss -uanieO, ss -xaneO again       (proof that the population stayed idle)
 *
 * and the tests compare the two views: exact per-state counts, and per socket the addresses, ports, queues,
 * inode, uid, cookie, timer, and tcp_info counters. Nothing expected is written here: ss says what is true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CensusOutput, DumpOutput, DumpRecord } from '../helpers/dump-json.js';
import { DUMP_SCRIPT, netnsSupport, PopulationNetns, type Population } from '../helpers/netns.js';
import {
  parseSs,
  SS_STATE_NUMBERS,
  SS_TIMER_NUMBERS,
  SS_UNIX_TYPES,
  ssNumber,
  ssRtt,
  ssTimer,
  type SsEndpoint,
  type SsRow,
  type SsTable,
} from '../helpers/ss.js';
import { ssPrintedDev } from '../helpers/ss.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };

/** ss '*' is the IPv6 wildcard of a socket that is not v6only; sockscope formats it as '::'. */
const normAddr = (a: string): string => (a === '*' ? '::' : a);
const ssFamily = (e: SsEndpoint): 4 | 6 => (e.address === '*' || e.address.includes(':') ? 6 : 4);
const ourFamily = (r: DumpRecord): 4 | 6 => (r.family === 10 ? 6 : 4);

function ssState(row: SsRow): number {
  const n = SS_STATE_NUMBERS[row.state];
  assert.ok(n !== undefined, `ss printed an unknown state ${row.state}: ${row.raw}`);
  return n;
}

const ssInetKey = (row: SsRow): string => `${ssState(row)}|${normAddr(row.local.address)}|${row.local.port}|${normAddr(row.peer.address)}|${row.peer.port}`;
const ourInetKey = (r: DumpRecord): string => `${r.state}|${r.local}|${r.localPort}|${r.remote}|${r.remotePort}`;
const tupleKey = (state: number, local: { address: string; port: number }, peer: { address: string; port: number }): string =>
  `${state}|${local.address}|${local.port}|${peer.address}|${peer.port}`;

function uniqueBy<T>(items: readonly T[], key: (x: T) => string, what: string): Map<string, T> {
  const m = new Map<string, T>();
  for (const x of items) {
    const k = key(x);
    assert.ok(!m.has(k), `${what}: two sockets share the key ${k}`);
    m.set(k, x);
  }
  return m;
}

/** counts[family][state] */
function countInet<T>(items: readonly T[], family: (x: T) => 4 | 6, state: (x: T) => number): Record<4 | 6, number[]> {
  const out: Record<4 | 6, number[]> = { 4: new Array(16).fill(0), 6: new Array(16).fill(0) };
  for (const x of items) out[family(x)][state(x)]++;
  return out;
}

/**
 * tcp_info counters ss prints as `name:value` (misc/ss.c tcp_stats_print) and sockscope's field for each.
 * ss omits a counter that is 0, so "not printed" means 0. All are static while the population is idle.
 */
const COUNTERS: readonly [ss: string, ours: string][] = [
  ['bytes_acked', 'bytes_acked'],
  ['bytes_received', 'bytes_received'],
  ['segs_in', 'segs_in'],
  ['segs_out', 'segs_out'],
  ['data_segs_in', 'data_segs_in'],
  ['data_segs_out', 'data_segs_out'],
  ['bytes_sent', 'bytes_sent'],
  ['bytes_retrans', 'bytes_retrans'],
  ['mss', 'snd_mss'],
  ['rcvmss', 'rcv_mss'],
  ['advmss', 'advmss'],
  ['cwnd', 'snd_cwnd'],
  ['pmtu', 'pmtu'],
  ['rcv_space', 'rcv_space'],
  ['rcv_ssthresh', 'rcv_ssthresh'],
  ['snd_wnd', 'snd_wnd'],
  ['delivered', 'delivered'],
  ['unacked', 'unacked'],
  ['notsent', 'notsent_bytes'],
  ['lost', 'lost'],
  ['reord_seen', 'reord_seen'],
  ['dsack_dups', 'dsack_dups'],
];
/** States whose counters may move on their own: SYN-SENT retransmits its SYN (1 s, 3 s, ...). */
const MOVING = new Set(['SYN-SENT']);

interface Captures {
  ssTcp: SsTable;
  ssUdp: SsTable;
  ssUnix: SsTable;
  ssListen: SsTable;
  snap: DumpOutput;
  snapV2: DumpOutput;
  census: { legacy: CensusOutput; v2: CensusOutput };
  /** the census with TIME_WAIT from the kernel's counter (and the ss -tan taken right before it) */
  twCounter: { census: CensusOutput; ss: SsRow[] };
  proc: DumpOutput;
  later: { ssTcp: SsTable; ssUdp: SsTable; ssUnix: SsTable };
}

describe('sockscope against ss in a throwaway network namespace', () => {
  let ns: PopulationNetns | undefined;
  let pop: Population;
  let cap: Captures;

  before(
    async () => {
      if (support.skip) return;
      ns = await PopulationNetns.start({ readyTimeoutMs: 20_000 });
      pop = ns.population;
      const ss = async (args: string) => parseSs(await ns!.check('ss', args.split(' ')));
      const dump = async <T>(...args: string[]) => JSON.parse(await ns!.node(DUMP_SCRIPT, args)) as T;
      const ssTcp = await ss('-tanieO');
      const ssUdp = await ss('-uanieO');
      const ssUnix = await ss('-xaneO');
      const ssListen = await ss('-tlnO');
      const snap = await dump<DumpOutput>();
      const snapV2 = await dump<DumpOutput>('--strategy', 'v2');
      const legacy = await dump<CensusOutput>('--census', '--strategy', 'legacy');
      const v2 = await dump<CensusOutput>('--census', '--strategy', 'v2');
      const ssForCounter = (await ss('-tan')).rows;
      const twCensus = await dump<CensusOutput>('--census', '--tw-counter');
      const proc = await dump<DumpOutput>('--proc');
      const later = { ssTcp: await ss('-tanieO'), ssUdp: await ss('-uanieO'), ssUnix: await ss('-xaneO') };
      cap = { ssTcp, ssUdp, ssUnix, ssListen, snap, snapV2, census: { legacy, v2 }, twCounter: { census: twCensus, ss: ssForCounter }, proc, later };
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await ns?.stop();
  });

  const ours = (d: DumpOutput, protocol: string) => d.sockets.filter((s) => s.protocol === protocol);

  test('the population is in place, as ss sees it, and stayed idle while we looked', opts, () => {
    const tcp = uniqueBy(cap.ssTcp.rows, ssInetKey, 'ss -tanieO');
    const has = (state: number, l: { address: string; port: number }, p: { address: string; port: number }) => {
      const row = tcp.get(tupleKey(state, l, p));
      assert.ok(row, `ss does not show the ${state} socket ${l.address}:${l.port} -> ${p.address}:${p.port}`);
      return row;
    };
    const any = (family: 4 | 6) => ({ address: family === 4 ? '0.0.0.0' : '::', port: 0 });
    for (const l of pop.tcp.listeners) has(10, l, any(l.family));
    for (const e of pop.tcp.established) {
      const client = has(1, e.client.local, e.client.remote);
      const server = has(1, e.server.local, e.server.remote);
      // what each side's kernel says it received is what the other side wrote: every pair differs
      assert.equal(ssNumber(server, 'bytes_received') ?? 0, e.clientSent, `${e.name} server bytes_received`);
      assert.equal(ssNumber(client, 'bytes_received') ?? 0, e.serverSent, `${e.name} client bytes_received`);
      if (e.serverUnread) assert.equal(server.recvQ, e.clientSent, `${e.name}: unread bytes stay in the receive queue`);
    }
    for (const t of pop.tcp.timeWait) has(6, t.client, t.server);
    for (const c of pop.tcp.closeWait) {
      has(8, c.server, c.client);
      has(5, c.client, c.server);
    }
    for (const s of pop.tcp.synSent) has(2, s.client, s.server);
    const udp = uniqueBy(cap.ssUdp.rows, ssInetKey, 'ss -uanieO');
    for (const b of pop.udp.bound) assert.ok(udp.has(tupleKey(7, b, any(b.family))), `ss does not show UDP ${b.address}:${b.port}`);
    for (const c of pop.udp.connected) assert.ok(udp.has(tupleKey(1, c.local, c.remote)), `ss does not show connected UDP ${c.local.port}`);
    const unixNames = new Set(cap.ssUnix.rows.filter((r) => r.state === 'LISTEN' || r.netid === 'u_dgr').map((r) => r.local.address));
    for (const l of [...pop.unix.streamListeners, ...pop.unix.dgramBound]) assert.ok(unixNames.has(l.name), `ss does not show unix ${l.name}`);

    // Idle: a second look after all our dumps shows the same queues, inodes, cookies and counters.
    const stable = (r: SsRow) => JSON.stringify([r.recvQ, r.sendQ, r.fields.ino, r.fields.sk, r.fields.rtt, ...COUNTERS.map(([k]) => r.fields[k] ?? null)]);
    const settled = (t: SsTable) => new Map(t.rows.filter((r) => !MOVING.has(r.state)).map((r) => [ssInetKey(r), stable(r)]));
    assert.deepEqual(settled(cap.later.ssTcp), settled(cap.ssTcp), 'TCP sockets changed while we looked: the population is not idle');
    assert.deepEqual(
      cap.later.ssUdp.rows.map((r) => r.raw),
      cap.ssUdp.rows.map((r) => r.raw),
      'UDP sockets changed while we looked',
    );
    assert.deepEqual(
      cap.later.ssUnix.rows.map((r) => r.raw),
      cap.ssUnix.rows.map((r) => r.raw),
      'unix sockets changed while we looked',
    );
  });

  test('tcp: per-state counts, all eleven states, per family, equal ss -tan (legacy walk and v2 dumps)', opts, () => {
    const want = countInet(cap.ssTcp.rows, (r) => ssFamily(r.local), ssState);
    for (const snap of [cap.snap, cap.snapV2]) {
      const got = countInet(ours(snap, 'tcp'), ourFamily, (r) => r.state);
      for (const fam of [4, 6] as const) {
        for (let s = 0; s < 16; s++) assert.equal(got[fam][s], want[fam][s], `${snap.options.tcpStrategy ?? 'legacy'}: IPv${fam} state ${s}`);
      }
    }
    // the population spans these states, so the equalities above are not all 0 = 0
    for (const s of [1, 2, 5, 6, 8, 10]) assert.ok(want[4][s] + want[6][s] > 0, `ss shows no TCP socket in state ${s}`);
  });

  test('udp: per-state counts per family equal ss -uan', opts, () => {
    const want = countInet(cap.ssUdp.rows, (r) => ssFamily(r.local), ssState);
    const got = countInet(ours(cap.snap, 'udp'), ourFamily, (r) => r.state);
    assert.deepEqual(got, want);
    assert.ok(want[4][7] > 0 && want[6][7] > 0 && want[4][1] > 0 && want[6][1] > 0, 'bound and connected UDP in both families');
  });

  test('unix: per-type and per-state counts equal ss -xan', opts, () => {
    const count = <T>(items: readonly T[], key: (x: T) => string) => {
      const m: Record<string, number> = {};
      for (const x of items) m[key(x)] = (m[key(x)] ?? 0) + 1;
      return m;
    };
    const want = count(cap.ssUnix.rows, (r) => `${SS_UNIX_TYPES[r.netid ?? '']}|${ssState(r)}`);
    const got = count(ours(cap.snap, 'unix'), (r) => `${r.sockType}|${r.state}`);
    assert.deepEqual(got, want);
  });

  test('census: takeCensus counts equal ss per protocol, family and state, with tcpStrategy legacy and v2', opts, () => {
    const tcp = countInet(cap.ssTcp.rows, (r) => ssFamily(r.local), ssState);
    const udp = countInet(cap.ssUdp.rows, (r) => ssFamily(r.local), ssState);
    const unix = new Array(16).fill(0);
    for (const r of cap.ssUnix.rows) unix[ssState(r)]++;
    for (const [strategy, c] of Object.entries(cap.census)) {
      assert.deepEqual(c.counts.tcp.v4, tcp[4], `${strategy}: tcp v4`);
      assert.deepEqual(c.counts.tcp.v6, tcp[6], `${strategy}: tcp v6`);
      assert.deepEqual(c.counts.udp.v4, udp[4], `${strategy}: udp v4`);
      assert.deepEqual(c.counts.udp.v6, udp[6], `${strategy}: udp v6`);
      assert.deepEqual(c.counts.unix.all, unix, `${strategy}: unix`);
      for (const p of ['tcp', 'udp', 'unix']) {
        const src = c.sources.find((s) => s.protocol === p);
        assert.equal(src?.source, 'netlink', `${strategy}: ${p} source`);
        assert.equal(src?.interrupted, false);
      }
    }
  });

  test('census with timeWaitFromCounter: TIME_WAIT from the kernel counter, summed states equal ss -tan', opts, () => {
    const { census: c, ss: rows } = cap.twCounter;
    const want = new Array(16).fill(0);
    for (const r of rows) want[ssState(r)]++;
    assert.ok(want[6] > 0, 'the population has TIME-WAIT sockets');
    assert.deepEqual(c.counts.tcp.all, want, 'states summed over families, TIME_WAIT included');
    assert.equal(c.timeWaitUnsplit, want[6], 'TIME_WAIT came from the counter, not the dump');
    assert.equal(c.counts.tcp.v4[6] + c.counts.tcp.v6[6], 0, 'no per-family TIME_WAIT: the counter has no family');
  });

  test('tcp: every socket matches ss -tanieO: addresses, ports, queues, inode, uid, cookie, timer, tcp_info', opts, () => {
    const want = uniqueBy(cap.ssTcp.rows, ssInetKey, 'ss -tanieO');
    const got = uniqueBy(ours(cap.snap, 'tcp'), ourInetKey, 'sockscope tcp');
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same TCP sockets, by state and address tuple');
    let compared = 0;
    for (const [key, row] of want) {
      const r = got.get(key)!;
      const at = `${row.state} ${row.local.address}:${row.local.port} -> ${row.peer.address}:${row.peer.port}`;
      assert.equal(r.rqueue, row.recvQ, `${at}: rqueue`);
      assert.equal(r.wqueue, row.sendQ, `${at}: wqueue`);
      assert.equal(r.inode, ssNumber(row, 'ino'), `${at}: inode`);
      assert.equal(r.uid, ssNumber(row, 'uid') ?? 0, `${at}: uid`);
      assert.equal(r.cookie, row.fields.sk, `${at}: cookie`);
      const timer = ssTimer(row);
      assert.equal(r.timer, timer ? SS_TIMER_NUMBERS[timer.name] : 0, `${at}: timer`);
      if (!MOVING.has(row.state) && timer) assert.equal(r.retrans, timer.retrans, `${at}: retrans`);
      if (row.fields.v6only !== undefined) assert.equal(r.inet?.v6only, row.fields.v6only === '1', `${at}: v6only`);
      const info = r.inet?.tcpInfo;
      if (row.state === 'TIME-WAIT' || row.state === 'SYN-RECV') {
        assert.equal(info, undefined, `${at}: a minisocket has no tcp_info`);
        continue;
      }
      assert.ok(info, `${at}: tcp_info missing`);
      assert.equal(info.state, r.state, `${at}: tcpi_state`);
      assert.ok(r.inet?.congestion && row.flags.includes(r.inet.congestion), `${at}: congestion ${r.inet?.congestion} not in ss's ${row.flags.join(' ')}`);
      if (MOVING.has(row.state)) continue;
      for (const [k, f] of COUNTERS) assert.equal(info[f], ssNumber(row, k) ?? 0, `${at}: ${k}`);
      const rtt = ssRtt(row);
      if (rtt) {
        assert.ok(Math.abs(info.rtt / 1000 - rtt.rttMs) <= 0.001 + 1e-9, `${at}: rtt ${info.rtt} us vs ss ${rtt.rttMs} ms`);
        assert.ok(Math.abs(info.rttvar / 1000 - rtt.rttvarMs) <= 0.001 + 1e-9, `${at}: rttvar ${info.rttvar} us vs ss ${rtt.rttvarMs} ms`);
      } else {
        assert.equal(info.rtt, 0, `${at}: ss prints no rtt, so tcpi_rtt is 0`);
      }
      if (row.state === 'ESTAB') compared++;
    }
    assert.ok(compared >= 2 * pop.tcp.established.length, `compared tcp_info of ${compared} established sockets`);
  });

  test('udp: every socket matches ss -uanieO: addresses, ports, queues, inode, uid, cookie, v6only', opts, () => {
    const want = uniqueBy(cap.ssUdp.rows, ssInetKey, 'ss -uanieO');
    const got = uniqueBy(ours(cap.snap, 'udp'), ourInetKey, 'sockscope udp');
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [key, row] of want) {
      const r = got.get(key)!;
      assert.equal(r.rqueue, row.recvQ, `${key}: rqueue`);
      assert.equal(r.wqueue, row.sendQ, `${key}: wqueue`);
      assert.equal(r.inode, ssNumber(row, 'ino'), `${key}: inode`);
      assert.equal(r.uid, ssNumber(row, 'uid') ?? 0, `${key}: uid`);
      assert.equal(r.cookie, row.fields.sk, `${key}: cookie`);
      if (row.fields.v6only !== undefined) assert.equal(r.inet?.v6only, row.fields.v6only === '1', `${key}: v6only`);
      assert.equal(r.inet?.tcpInfo, undefined, `${key}: UDP has no tcp_info`);
    }
    assert.ok(
      [...want.values()].some((r) => r.recvQ > 0),
      'some UDP socket has unread datagrams',
    );
  });

  test('unix: every socket matches ss -xaneO: type, state, queues, name, peer, pending, vfs', opts, () => {
    const want = uniqueBy(cap.ssUnix.rows, (r) => String(r.local.port), 'ss -xaneO');
    const got = uniqueBy(ours(cap.snap, 'unix'), (r) => String(r.inode), 'sockscope unix');
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same unix sockets, by inode');
    for (const [ino, row] of want) {
      const r = got.get(ino)!;
      const u = r.unix ?? {};
      const at = `${row.netid} ${row.state} ${row.local.address} ${ino}`;
      assert.equal(r.sockType, SS_UNIX_TYPES[row.netid ?? ''], `${at}: type`);
      assert.equal(r.state, ssState(row), `${at}: state`);
      assert.equal(r.rqueue, row.recvQ, `${at}: rqueue`);
      assert.equal(r.wqueue, row.sendQ, `${at}: wqueue`);
      assert.equal(u.name ?? '*', row.local.address, `${at}: name`);
      assert.equal(u.peer ?? 0, row.peer.port, `${at}: peer inode`);
      assert.deepEqual(u.pending, row.peers, `${at}: not yet accepted connections (ss -e peers:)`);
      if (row.fields.ino !== undefined) {
        assert.equal(u.vfs?.inode, ssNumber(row, 'ino'), `${at}: vfs inode`);
        assert.equal(ssPrintedDev(u.vfs?.dev ?? 0), row.fields.dev, `${at}: vfs dev`);
      } else {
        assert.equal(u.vfs, undefined, `${at}: no vfs`);
      }
      assert.notEqual(r.uid, null, `${at}: UNIX_DIAG_UID was asked for`);
    }
    const names = [...want.values()].map((r) => r.local.address);
    assert.ok(names.some((n) => n.startsWith('@')) && names.some((n) => n.startsWith('/')), 'abstract and path names');
    assert.ok(
      [...want.values()].some((r) => r.peers && r.peers.length > 0),
      'a listener with pending connections',
    );
  });

  test('listeners: rqueue is the accept-queue length and wqueue the max backlog, as ss -l shows them', opts, () => {
    const got = uniqueBy(ours(cap.snap, 'tcp'), ourInetKey, 'sockscope tcp');
    assert.ok(cap.ssListen.rows.length >= pop.tcp.listeners.length);
    for (const row of cap.ssListen.rows) {
      assert.equal(row.state, 'LISTEN');
      const r = got.get(ssInetKey(row));
      assert.ok(r, `no listener ${row.local.address}:${row.local.port}`);
      assert.equal(r.rqueue, row.recvQ, `${row.local.port}: rqueue = Recv-Q`);
      assert.equal(r.wqueue, row.sendQ, `${row.local.port}: wqueue = Send-Q`);
      // tcp_get_info() reports the same two numbers for a listener: unacked = queue, sacked = backlog
      assert.equal(r.inet?.tcpInfo?.unacked, r.rqueue);
      assert.equal(r.inet?.tcpInfo?.sacked, r.wqueue);
    }
    // and they are the numbers the holder made: its listen() backlogs and the connections it never accepted
    for (const l of pop.tcp.listeners) {
      const r = got.get(tupleKey(10, l, { address: l.family === 4 ? '0.0.0.0' : '::', port: 0 }))!;
      if (l.backlog !== undefined) assert.equal(r.wqueue, l.backlog, `${l.name}: backlog`);
      assert.equal(r.rqueue, l.pending ?? 0, `${l.name}: accept queue`);
    }
    assert.ok(pop.tcp.listeners.some((l) => (l.pending ?? 0) > 0));
    const unix = new Map(
      ours(cap.snap, 'unix')
        .filter((r) => r.state === 10)
        .map((r) => [r.unix?.name, r]),
    );
    for (const l of pop.unix.streamListeners) {
      const r = unix.get(l.name);
      assert.ok(r, `no unix listener ${l.name}`);
      assert.equal(r.rqueue, l.pending ?? 0, `${l.name}: pending`);
      assert.equal(r.unix?.pending?.length, r.rqueue, `${l.name}: UNIX_DIAG_ICONS lists the pending connections`);
      if (l.backlog !== undefined) assert.equal(r.wqueue, l.backlog, `${l.name}: backlog`);
    }
  });

  test('/proc/net fallback: the same sockets as netlink, tcp_info absent, sources say proc', opts, () => {
    const p = cap.proc;
    for (const proto of ['tcp', 'udp', 'unix']) {
      const src = p.sources.find((s) => s.protocol === proto);
      assert.equal(src?.source, 'proc', `${proto} source`);
      assert.equal(src?.malformed, 0, `${proto}: every /proc line parsed`);
    }
    assert.ok(
      p.notes.some((n) => /proc/.test(n)),
      'a note says why /proc was read',
    );
    assert.equal(p.ext, 0, 'no extensions from /proc');
    for (const proto of ['tcp', 'udp']) {
      const nl = uniqueBy(ours(cap.snap, proto), ourInetKey, `netlink ${proto}`);
      const pr = uniqueBy(ours(p, proto), ourInetKey, `proc ${proto}`);
      assert.deepEqual([...pr.keys()].sort(), [...nl.keys()].sort(), `${proto}: same sockets by state and tuple`);
      for (const [key, a] of nl) {
        const b = pr.get(key)!;
        assert.equal(b.family, a.family, `${key}: family`);
        assert.equal(b.inode, a.inode, `${key}: inode`);
        assert.equal(b.uid, a.uid, `${key}: uid`);
        assert.equal(b.rqueue, a.rqueue, `${key}: rqueue`);
        // /proc/net/tcp prints a listener's tx_queue as 0: the max backlog is netlink-only
        if (a.state !== 10) assert.equal(b.wqueue, a.wqueue, `${key}: wqueue`);
        assert.equal(b.inet, undefined, `${key}: no attributes (tcp_info) from /proc`);
        assert.equal(b.cookie, '0', `${key}: no cookie in /proc`);
      }
    }
    // unix: /proc/net/unix also lists the server ends of not yet accepted connections ("embryos": no file,
    // inode 0), which unix_diag skips; the parser skips them too, so both sources list the same sockets.
    const nl = uniqueBy(ours(cap.snap, 'unix'), (r) => String(r.inode), 'netlink unix');
    const procUnix = ours(p, 'unix');
    assert.equal(procUnix.filter((r) => r.inode === 0).length, 0, 'no inode-0 embryos from /proc/net/unix');
    const pr = uniqueBy(procUnix, (r) => String(r.inode), 'proc unix');
    assert.deepEqual([...pr.keys()].sort(), [...nl.keys()].sort(), 'unix: same sockets by inode');
    for (const [ino, a] of nl) {
      const b = pr.get(ino)!;
      assert.equal(b.sockType, a.sockType, `${ino}: type`);
      assert.equal(b.state, a.state, `${ino}: state`);
      assert.equal(b.unix?.name, a.unix?.name, `${ino}: name`);
    }
    const pending = [...nl.values()].reduce((n, r) => n + (r.unix?.pending?.length ?? 0), 0);
    assert.ok(pending > 0, 'the population has pending unix connections, so embryo rows were there to skip');
  });
});
