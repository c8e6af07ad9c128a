/**
 * `sockscope gather` against iproute2 `ss` in a throwaway network namespace holding the known population
 * (test/helpers/population-holder.ts), plus a few sockets made here for what the population lacks: two
 * SO_REUSEPORT listeners on one port (gopsutil's de-duplication) and a connection bound to `lo` (ss prints
 * "127.0.0.1%lo"). ss is captured first, then sockscope runs; the population is idle, so both describe the
 * same sockets. Nothing expected is written here: ss says what is true.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { NETSTAT_FIELDS } from '../../src/collectors/netstat.js';
import { holdPython, netnsSupport, PopulationNetns, type Population } from '../helpers/netns.js';
import { NETSTAT_FIELD_OF_SS_STATE, parseSs, ssNumber, type SsRow } from '../helpers/ss.js';
import {
  parseExposition,
  parseLines,
  promtoolCheckMetrics,
  promtoolParseOpenMetrics,
  telegrafSocketstat,
  unexplainedOpenMetricsLint,
  type LpPoint,
  type LpType,
} from '../helpers/metrics.js';
import { findPromtool } from '../helpers/tools.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));

const zeros = (): Record<string, number> => Object.fromEntries(NETSTAT_FIELDS.map((f) => [f, 0]));
const familyOf = (r: SsRow): '4' | '6' => (r.local.address === '*' || r.local.address.includes(':') ? '6' : '4');
function countsOf(tcpRows: readonly SsRow[], udpRows: readonly SsRow[]): Record<string, number> {
  const out = zeros();
  for (const r of tcpRows) out[NETSTAT_FIELD_OF_SS_STATE[r.state]]++;
  out.udp_socket = udpRows.length;
  return out;
}
/**
 * What gopsutil-based Telegraf counts for the same sockets: unix datagram sockets in udp_socket, unix stream and
 * seqpacket in tcp_none; rows with the same (type, local, remote, status) once (gopsutil's key; UDP and unix
 * status is NONE; unnamed unix sockets stay distinct).
 */
function gopsutilCounts(tcpRows: readonly SsRow[], udpRows: readonly SsRow[], unixRows: readonly SsRow[]): Record<string, number> {
  const out = zeros();
  const seen = new Set<string>();
  const once = (key: string) => !seen.has(key) && !!seen.add(key);
  const ep = (r: SsRow) => `${r.local.address}:${r.local.port}-${r.peer.address}:${r.peer.port}`;
  for (const r of tcpRows) if (once(`1-${ep(r)}-${r.state}`)) out[NETSTAT_FIELD_OF_SS_STATE[r.state]]++;
  for (const r of udpRows) if (once(`2-${ep(r)}-NONE`)) out.udp_socket++;
  unixRows.forEach((r, n) => {
    if (!once(`${r.netid}-${r.local.address === '*' ? `#${n}` : r.local.address}`)) return;
    if (r.netid === 'u_dgr') out.udp_socket++;
    else out.tcp_none++;
  });
  return out;
}
const values = (p: LpPoint) => Object.fromEntries(Object.entries(p.fields).map(([k, f]) => [k, f.value]));

/** Extra sockets in the namespace, made by python3: held until its stdin closes. */
const EXTRA_SCRIPT = `
import json, socket, sys
def reuse():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return s
a = reuse(); a.bind(('127.0.0.1', 0)); a.listen(4)
port = a.getsockname()[1]
b = reuse(); b.bind(('127.0.0.1', port)); b.listen(4)
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_BINDTODEVICE', 25), b'lo')
c.connect(srv.getsockname())
c.sendall(b'x' * 77)
conn, _ = srv.accept()
conn.recv(77)
# an orphaned FIN-WAIT-2: the client closes, the server keeps its side open (CLOSE-WAIT); the kernel keeps the
# client end as a timewait minisocket in FIN-WAIT-2, which /proc/net/sockstat's "tw" counts too
hold = socket.socket(); hold.bind(('127.0.0.1', 0)); hold.listen(1)
orphan = socket.create_connection(hold.getsockname())
half, _ = hold.accept()
orphan.close()
import time; time.sleep(0.2)
print(json.dumps({'reuseport': port, 'boundClient': c.getsockname()[1], 'boundServer': srv.getsockname()[1]}), flush=True)
sys.stdin.read()
`;

describe('sockscope gather against ss in a throwaway network namespace', () => {
  let ns: PopulationNetns | undefined;
  let stopExtra: (() => Promise<void>) | undefined;
  let pop: Population;
  let ports: { v4: number; udp: number; reuseport: number; boundClient: number };
  const ss = async (...args: string[]) => parseSs(await ns!.check('ss', args)).rows;
  const gather = async (...args: string[]) => ns!.node(BIN, ['gather', ...args]);
  const lp = async (...args: string[]) => parseLines(await gather(...args));

  before(
    async () => {
      if (support.skip) return;
      ns = await PopulationNetns.start({ readyTimeoutMs: 20_000 });
      pop = ns.population;
      const held = await holdPython(ns, EXTRA_SCRIPT, 'the extra sockets');
      stopExtra = held.stop;
      const made = JSON.parse(held.line) as { reuseport: number; boundClient: number };
      ports = {
        v4: pop.tcp.listeners.find((l) => l.name === 'node-v4')!.port,
        udp: pop.udp.bound[0].port,
        reuseport: made.reuseport,
        boundClient: made.boundClient,
      };
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await stopExtra?.();
    await ns?.stop();
  });

  test('netstat: TCP states summed over v4 and v6 and udp_socket equal ss -tan / -uan', opts, async () => {
    const tcp = await ss('-tan');
    const udp = await ss('-uan');
    const [p] = await lp('--measurement', 'netstat');
    assert.equal(p.measurement, 'netstat');
    assert.deepEqual(values(p), countsOf(tcp, udp));
    assert.equal(p.fields.tcp_listen.value, tcp.filter((r) => r.state === 'LISTEN').length, 'both SO_REUSEPORT listeners count');
    // TIME_WAIT came from the kernel's counter (see takeCensus), which also counts the orphaned FIN-WAIT-2
    assert.ok(Number(p.fields.tcp_time_wait.value) > 0 && Number(p.fields.tcp_fin_wait2.value) > 0, 'TIME-WAIT and FIN-WAIT-2 present');
  });

  test('netstat --per-ip-version: one point per family, as ss shows them', opts, async () => {
    const tcp = await ss('-tan');
    const udp = await ss('-uan');
    const points = await lp('--measurement', 'netstat', '--per-ip-version');
    assert.deepEqual(points.map((p) => p.tags.ip_version).sort(), ['4', '6']);
    for (const p of points) {
      const v = p.tags.ip_version as '4' | '6';
      assert.deepEqual(
        values(p),
        countsOf(
          tcp.filter((r) => familyOf(r) === v),
          udp.filter((r) => familyOf(r) === v),
        ),
        `ip_version ${v}`,
      );
    }
  });

  test("netstat --netstat-semantics telegraf: unix sockets as ss -xa shows them, gopsutil's de-duplication", opts, async () => {
    const tcp = await ss('-tan');
    const udp = await ss('-uan');
    const unix = await ss('-xa');
    const [p] = await lp('--measurement', 'netstat', '--netstat-semantics', 'telegraf');
    const want = gopsutilCounts(tcp, udp, unix);
    assert.deepEqual(values(p), want);
    // what that means here: unix stream sockets in tcp_none, unix dgram in udp_socket, the REUSEPORT pair once
    assert.ok(want.tcp_none > 0 && want.tcp_none <= unix.filter((r) => r.netid === 'u_str' || r.netid === 'u_seq').length);
    assert.equal(want.udp_socket, udp.length + unix.filter((r) => r.netid === 'u_dgr').length);
    assert.equal(want.tcp_listen, tcp.filter((r) => r.state === 'LISTEN').length - 1);
    const byVersion = await lp('--measurement', 'netstat', '--netstat-semantics', 'telegraf', '--per-ip-version');
    const unknown = byVersion.find((x) => x.tags.ip_version === 'unknown')!;
    assert.deepEqual(values(unknown), gopsutilCounts([], [], unix));
  });

  test("netstat_port: a local port group counts what `ss -tan 'sport = :PORT'` and -uan show; remote: what 'dport' shows", opts, async () => {
    const local = await ss('-tan', `sport = :${ports.v4}`);
    const localUdp = await ss('-uan', `sport = :${ports.udp}`);
    const remote = await ss('-tan', `dport = :${ports.v4}`);
    const reuse = await ss('-tan', `sport = :${ports.reuseport}`);
    const points = await lp(
      '--measurement',
      'netstat_port',
      '--port-group',
      `${ports.v4},${ports.udp}@service=web`,
      '--port-group',
      `${ports.reuseport}`,
      '--port-group',
      `remote:${ports.v4}@direction=out`,
    );
    const find = (addrPort: string) => points.filter((p) => p.tags.addr_port === addrPort);
    assert.deepEqual(
      find(String(ports.v4)).map((p) => [p.tags.ip_version, p.tags.service, values(p)]),
      [['4', 'web', { ...countsOf(local, []), pid: 0 }]],
    );
    assert.deepEqual(values(find(String(ports.udp))[0]), { ...countsOf([], localUdp), pid: 0 });
    assert.deepEqual(values(find(`remote:${ports.v4}`)[0]), { ...countsOf(remote, []), pid: 0 });
    assert.ok(remote.length > 0 && local.length > 1, 'the population has connections both ways on that port');
    assert.deepEqual(values(find(String(ports.reuseport))[0]), { ...countsOf(reuse, []), pid: 0 });
    assert.equal(reuse.length, 2);
    // with telegraf semantics the REUSEPORT pair counts once, as DataKit (gopsutil) counts it
    const t = await lp('--measurement', 'netstat_port', '--port-group', `${ports.reuseport}`, '--netstat-semantics', 'telegraf');
    assert.equal(t[0].fields.tcp_listen.value, 1);
  });

  test("netstat_port --process-attribution: pid is the lowest pid ss -p shows holding the group's sockets", opts, async () => {
    const rows = await ss('-tanp', `sport = :${ports.v4}`);
    const pids = rows.flatMap((r) => [...r.raw.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
    assert.ok(pids.length > 0, 'ss -p shows the holder');
    const [p] = await lp('--measurement', 'netstat_port', '--port-group', String(ports.v4), '--process-attribution');
    assert.equal(p.fields.pid.value, Math.min(...pids));
    assert.equal(p.fields.pid.value, pop.pid);
  });

  test('socketstat: the connections of `ss -tin` and `ss -uin` as Telegraf parses them; counters equal', opts, async () => {
    const ssTcp = await ns!.check('ss', ['-tin']);
    const ssUdp = await ns!.check('ss', ['-uin']);
    const want = [...telegrafSocketstat(ssTcp, 'tcp'), ...telegrafSocketstat(ssUdp, 'udp')];
    const points = await lp('--measurement', 'socketstat');
    const key = (tags: Record<string, string>) => JSON.stringify(Object.entries(tags).sort());
    const got = new Map(points.map((p) => [key(p.tags), p]));
    assert.deepEqual([...got.keys()].sort(), want.map((w) => key(w.tags)).sort());
    assert.ok(
      want.some((w) => w.tags.local_addr === '127.0.0.1%lo' && w.tags.local_port === String(ports.boundClient)),
      'ss shows the socket bound to lo as 127.0.0.1%lo',
    );
    assert.ok(
      want.some((w) => w.tags.local_addr.startsWith('[')),
      'IPv6 connections are there',
    );
    for (const w of want) {
      const p = got.get(key(w.tags))!;
      const moving = w.fields.state === 'SYN-SENT'; // retransmits its SYN meanwhile
      for (const [k, v] of Object.entries(w.fields)) {
        if (moving && k.startsWith('segs')) continue;
        assert.equal(p.fields[k].value, v, `${key(w.tags)} ${k}`);
      }
      if (w.tags.proto === 'tcp' && p.fields.segs_out === undefined) {
        // no tcp_info (a timewait minisocket, e.g. the orphaned FIN-WAIT-2): no counters, and ss printed none
        assert.deepEqual(Object.keys(p.fields).sort(), ['recv_q', 'send_q', 'state'], key(w.tags));
        assert.deepEqual(Object.keys(w.fields).sort(), ['recv_q', 'send_q', 'state'], key(w.tags));
        assert.equal(w.fields.state, 'FIN-WAIT-2');
      } else if (w.tags.proto === 'tcp') {
        // ss omits zero counters: what Telegraf lacks, sockscope writes as 0
        for (const k of ['bytes_acked', 'bytes_received']) assert.equal(p.fields[k].value, w.fields[k] ?? 0, `${key(w.tags)} ${k}`);
      } else {
        assert.equal(p.fields.state.value, 'ESTAB');
      }
    }
  });

  test("socketstat bytes as ss -tin prints them, for the population's established pairs", opts, async () => {
    const rows = await ss('-tin');
    const points = (await lp('--measurement', 'socketstat')).filter((p) => p.tags.proto === 'tcp');
    for (const e of pop.tcp.established) {
      for (const [end, got] of [
        [e.server, e.clientSent],
        [e.client, e.serverSent],
      ] as const) {
        const p = points.find((x) => x.tags.local_port === String(end.local.port) && x.tags.remote_port === String(end.remote.port))!;
        assert.ok(p, `${e.name}: ${end.local.port} -> ${end.remote.port}`);
        assert.equal(p.fields.bytes_received.value, got, `${e.name} bytes_received`);
        const r = rows.find((x) => x.local.port === end.local.port && x.peer.port === end.remote.port)!;
        assert.equal(p.fields.bytes_acked.value, ssNumber(r, 'bytes_acked') ?? 0, `${e.name} bytes_acked`);
      }
    }
  });

  test('a field never changes type between two gathers (nor between points)', opts, async () => {
    const args = ['--measurement', 'netstat,netstat_port,socketstat', '--port-group', `${ports.v4},${ports.udp}`, '--socketstat-info', 'all'];
    const typesOf = (points: LpPoint[]) => {
      const types = new Map<string, LpType>();
      for (const p of points) {
        for (const [k, f] of Object.entries(p.fields)) {
          const id = `${p.measurement}.${k}`;
          assert.equal(types.get(id) ?? f.type, f.type, `${id} within one gather`);
          types.set(id, f.type);
        }
      }
      return types;
    };
    const first = typesOf(await lp(...args));
    const second = typesOf(await lp(...args));
    assert.deepEqual(second, first);
    assert.equal(first.get('socketstat.state'), 's');
    assert.equal(first.get('socketstat.bytes_acked'), 'i');
    assert.equal(first.get('netstat.tcp_listen'), 'i');
    const uint = typesOf(await lp(...args, '--influx-uint'));
    assert.equal(uint.get('socketstat.bytes_acked'), 'u');
    assert.equal(uint.get('netstat.tcp_listen'), 'i', 'counts are signed ints either way');
  });

  const promtool = findPromtool();
  test('promtool accepts the live Prometheus and OpenMetrics expositions', { skip: support.skip ?? promtool.skip ?? false }, async () => {
    const args = [
      '--measurement',
      'netstat,netstat_port,socketstat',
      '--port-group',
      `${ports.v4},${ports.udp}@service=web`,
      '--port-group',
      `remote:${ports.v4}`,
      '--socketstat-info',
      'all',
      '--host-tag',
    ];
    const text = await gather(...args, '--format', 'prometheus');
    const r = promtoolCheckMetrics(promtool.path!, text);
    assert.equal(r.status, 0, r.output);
    assert.ok(parseExposition(text).families.size > 10);
    const om = await gather(...args, '--format', 'openmetrics');
    const parsed = promtoolParseOpenMetrics(promtool.path!, om, Math.floor(Date.now() / 1000));
    assert.equal(parsed.status, 0, parsed.output);
    assert.deepEqual(unexplainedOpenMetricsLint(promtool.path!, om), []);
  });
});
