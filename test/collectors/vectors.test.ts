/**
 * The collectors against the systems' own unit-test data (copied into test/fixtures/metrics/vectors/ from
 * influxdata/telegraf and GuanceCloud/datakit, both MIT; see the README there):
 *
 *   telegraf-netstat      TestNetStats: gopsutil connections → the 13 netstat fields
 *   datakit-netstat       TestNetStatCollect (per ip_version) and every case of TestCollectByPort
 *   telegraf-socketstat   `ss -in` text → socketstat metrics (TestSocketstat_Gather, the README example)
 *
 * With semantics 'telegraf' the numbers must be the vectors' exactly. The default 'sockscope' semantics and the
 * deliberate differences (documented in docs/metrics.md) are asserted next to them, so a change to either is
 * a visible test change.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectNetstat, NETSTAT_FIELDS, NETSTAT_SCHEMA, type NetstatSemantics } from '../../src/collectors/netstat.js';
import { collectNetstatPort, NETSTAT_PORT_SCHEMA, parseAddrPortsEnv, parsePortGroups, type PortGroupConfig } from '../../src/collectors/netstat-port.js';
import { SOCKETSTAT_SCHEMA, SOCKETSTAT_AGGREGATE_SCHEMA } from '../../src/collectors/socketstat.js';
import { socketstatMetrics, type SocketstatTestOptions } from '../helpers/outputs.js';
import type { Metric } from '../../src/model/metric.js';
import { influxLine } from '../../src/outputs/metrics/influx.js';
import type { SocketTable } from '../../src/snapshot/table.js';
import { gopsutilConnections, parseLine, pointKey, socketTableFromSs, telegrafSocketstat, TELEGRAF_COUNTERS, type GopsutilConn } from '../helpers/metrics.js';

/** The host tag a gather adds (gather's tagging sink: the collector's own tags win), for the vectors' expected points. */
const withTags = (metrics: Metric[], tags: Record<string, string>): Metric[] => metrics.map((m) => ({ ...m, tags: { ...tags, ...m.tags } }));

const vectors = fileURLToPath(new URL('../../../test/fixtures/metrics/vectors/', import.meta.url));
const json = <T>(file: string): T => JSON.parse(readFileSync(`${vectors}${file}`, 'utf8')) as T;
const text = (file: string): string => readFileSync(`${vectors}${file}`, 'utf8');

type Fields = Record<string, number>;
interface TelegrafNetstatVector {
  input_connections: GopsutilConn[];
  expected: { measurement: string; tags: Record<string, string>; fields: Fields };
  readme_example_output: string;
}
interface DatakitVectors {
  TestNetStatCollect: { connections: GopsutilConn[]; expected_netstat_points: number; expected_by_ip_version: Record<string, Fields> };
  TestCollectByPort: {
    name: string;
    addr_ports: PortGroupConfig[];
    connections: GopsutilConn[];
    expected_netstat_port_points: { tags: Record<string, string>; fields: Fields }[];
  }[];
}

const telegraf = json<TelegrafNetstatVector>('telegraf-netstat/test_vectors.json');
const datakit = json<DatakitVectors>('datakit-netstat/test_vectors.json');

const byVersion = (points: Metric[]) => Object.fromEntries(points.map((p) => [p.tags.ip_version, p.fields]));
const zeros = () => Object.fromEntries(NETSTAT_FIELDS.map((f) => [f, 0]));

describe('netstat: Telegraf TestNetStats', () => {
  it("semantics 'telegraf' gives the vector's one point: no tags, all 13 fields, zeros included", () => {
    const points = collectNetstat(gopsutilConnections(telegraf.input_connections), 0, { semantics: 'telegraf' });
    assert.equal(points.length, 1);
    assert.equal(points[0].schema.name, telegraf.expected.measurement);
    assert.deepEqual(points[0].tags, telegraf.expected.tags);
    assert.deepEqual(points[0].fields, telegraf.expected.fields);
    assert.deepEqual(Object.keys(points[0].fields).sort(), [...NETSTAT_FIELDS].sort());
  });

  it('every field is an integer (Go int): written with the i suffix, whatever uintAsInt says', () => {
    for (const f of NETSTAT_FIELDS) assert.equal(NETSTAT_SCHEMA.fields[f].type, 'int', f);
    const [point] = collectNetstat(gopsutilConnections(telegraf.input_connections), 0, { semantics: 'telegraf' });
    for (const uintAsInt of [true, false]) {
      const p = parseLine(influxLine(point, { uintAsInt }));
      for (const f of NETSTAT_FIELDS) assert.deepEqual(p.fields[f], { type: 'i', value: telegraf.expected.fields[f] }, f);
    }
  });

  it("the README's example line is what sockscope writes for the same counts (field order aside)", () => {
    const want = parseLine(telegraf.readme_example_output);
    const fields = Object.fromEntries(Object.entries(want.fields).map(([k, f]) => [k, f.value as number]));
    const ours = parseLine(influxLine({ schema: NETSTAT_SCHEMA, tags: {}, fields, time: Number(BigInt(want.time!) / 1_000_000n) }));
    assert.equal(pointKey(ours), pointKey(want));
    assert.equal(ours.time, want.time);
  });

  it("semantics 'sockscope' counts only what is known to be TCP: the mock's Type 0 entries are not TCP", () => {
    const src = gopsutilConnections(telegraf.input_connections);
    const [mock] = collectNetstat(src, 0, { semantics: 'sockscope' });
    assert.deepEqual(mock.fields, { ...zeros(), udp_socket: 1 });
    // with the type gopsutil really reports for TCP (SOCK_STREAM, AF_INET) the two semantics agree here
    const real = telegraf.input_connections.map((c) => (c.type === 0 ? { ...c, type: 1, family: 2 } : c));
    const [a] = collectNetstat(gopsutilConnections(real), 0, { semantics: 'sockscope' });
    const [b] = collectNetstat(gopsutilConnections(real), 0, { semantics: 'telegraf' });
    assert.deepEqual(a.fields, telegraf.expected.fields);
    assert.deepEqual(b.fields, telegraf.expected.fields);
  });
});

describe('netstat: DataKit TestNetStatCollect (one point per ip_version)', () => {
  const src = gopsutilConnections(datakit.TestNetStatCollect.connections);
  const want = datakit.TestNetStatCollect.expected_by_ip_version;

  it("semantics 'telegraf' reproduces expected_by_ip_version ('4' and 'unknown') exactly; no pid field", () => {
    const points = collectNetstat(src, 0, { semantics: 'telegraf', perIpVersion: true });
    const got = byVersion(points);
    for (const v of Object.keys(want)) assert.deepEqual(got[v], want[v], `ip_version ${v}`);
    for (const p of points) {
      assert.deepEqual(Object.keys(p.tags), ['ip_version']);
      assert.ok(!('pid' in p.fields));
    }
  });

  it('deliberate difference: sockscope always writes ip_version 4 and 6 (zeros when none), DataKit only those it saw', () => {
    const points = collectNetstat(src, 0, { semantics: 'telegraf', perIpVersion: true });
    assert.equal(datakit.TestNetStatCollect.expected_netstat_points, 2);
    assert.deepEqual(points.map((p) => p.tags.ip_version).sort(), ['4', '6', 'unknown']);
    assert.deepEqual(byVersion(points)['6'], zeros());
  });

  it("DataKit's ip_version comes from the local address text: '*' is unknown even for AF_INET6 sockets", () => {
    const c = datakit.TestNetStatCollect.connections;
    const v6family = c.filter((x) => x.family === 30);
    assert.ok(v6family.some((x) => x.laddr?.ip === '*') && v6family.some((x) => x.laddr?.ip === '127.0.0.1'));
    const got = byVersion(collectNetstat(src, 0, { semantics: 'telegraf', perIpVersion: true }));
    // the AF_INET6 LISTEN on '*' counts as unknown, the AF_INET6 LISTENs on 127.0.0.1 as 4
    assert.equal(got.unknown.tcp_listen, 2);
    assert.equal(got['4'].tcp_listen, 4);
  });

  it("statuses gopsutil does not know ('CLOSED' from darwin's lsof) are dropped by 'telegraf', tcp_none in 'sockscope'", () => {
    const closed = datakit.TestNetStatCollect.connections.filter((x) => x.status === 'CLOSED');
    assert.equal(closed.length, 1);
    const got = byVersion(collectNetstat(src, 0, { semantics: 'sockscope', perIpVersion: true }));
    assert.deepEqual(got['4'], { ...want['4'], tcp_none: 1 });
    assert.deepEqual(got.unknown, want.unknown);
  });

  it('without perIpVersion: one point, the sum over the versions (Telegraf shape)', () => {
    const [p] = collectNetstat(src, 0, { semantics: 'telegraf' });
    const sum = zeros();
    for (const fields of Object.values(want)) for (const f of NETSTAT_FIELDS) sum[f] += fields[f];
    assert.deepEqual(p.fields, sum);
    assert.deepEqual(p.tags, {});
  });

  it("the vectors are gopsutil's output, already de-duplicated: dedupe on top would merge the darwin 5353 listeners", () => {
    const [plain] = collectNetstat(src, 0, { semantics: 'telegraf' });
    const [dedup] = collectNetstat(src, 0, { semantics: 'telegraf', dedupe: true });
    assert.ok((dedup.fields.udp_socket as number) < (plain.fields.udp_socket as number));
  });
});

describe('netstat_port: every case of DataKit TestCollectByPort', () => {
  const keyOf = (tags: Record<string, string>) => JSON.stringify(Object.entries(tags).sort());
  for (const c of datakit.TestCollectByPort) {
    for (const semantics of ['telegraf', 'sockscope'] as NetstatSemantics[]) {
      it(`${c.name} (semantics '${semantics}'): the expected points as a set, tags, 13 fields and pid`, () => {
        const points = withTags(collectNetstatPort(gopsutilConnections(c.connections), parsePortGroups(c.addr_ports), 0, { semantics }), { host: 'HOST' });
        const got = new Map(points.map((p) => [keyOf(p.tags), p.fields]));
        const want = new Map(c.expected_netstat_port_points.map((p) => [keyOf(p.tags), p.fields]));
        assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
        // in these vectors every bucket's sockets share one pid, so DataKit's "last" and sockscope's "lowest" agree
        for (const [k, fields] of want) assert.deepEqual(got.get(k), fields, k);
        for (const p of points) assert.equal(p.schema, NETSTAT_PORT_SCHEMA);
      });
    }
  }

  it('the types: 13 ints and an int pid', () => {
    for (const [k, spec] of Object.entries(NETSTAT_PORT_SCHEMA.fields)) assert.equal(spec.type, 'int', k);
    assert.deepEqual(Object.keys(NETSTAT_PORT_SCHEMA.fields).sort(), [...NETSTAT_FIELDS, 'pid'].sort());
  });
});

describe('netstat_port: matching rules beyond the vectors (documented deviations from DataKit)', () => {
  const conn = (laddr: string, lport: number, raddr: string, rport: number, status: string, pid: number, type = 1): GopsutilConn => ({
    family: laddr.includes(':') ? 10 : 2,
    type,
    laddr: { ip: laddr, port: lport },
    raddr: { ip: raddr, port: rport },
    status,
    pid,
  });
  const conns: GopsutilConn[] = [
    conn('10.0.0.1', 80, '10.0.0.9', 5000, 'ESTABLISHED', 30),
    conn('10.0.0.1', 80, '10.0.0.9', 5001, 'ESTABLISHED', 20),
    conn('10.0.0.1', 80, '10.0.0.9', 5002, 'TIME_WAIT', 40),
    conn('0.0.0.0', 80, '0.0.0.0', 0, 'LISTEN', 10),
    conn('::1', 80, '::1', 6000, 'ESTABLISHED', 50),
    conn('::', 80, '::', 0, 'LISTEN', 10),
    conn('10.0.0.1', 40000, '93.184.216.34', 443, 'ESTABLISHED', 60),
    conn('2001:db8::1', 40001, '2001:db8::443', 443, 'SYN_SENT', 61),
    conn('10.0.0.1', 53, '0.0.0.0', 0, '', 70, 2),
  ];
  const src = gopsutilConnections(conns);
  const run = (groups: PortGroupConfig[], semantics: NetstatSemantics = 'sockscope') => collectNetstatPort(src, parsePortGroups(groups), 0, { semantics });
  const find = (points: Metric[], addrPort: string, ipVersion?: string) =>
    points.filter((p) => p.tags.addr_port === addrPort && (!ipVersion || p.tags.ip_version === ipVersion));

  it('ports_match "*:80": one point per local address, IPv6 bracketed (DataKit drops IPv6 there)', () => {
    const points = run([{ ports_match: ['*:80'] }]);
    assert.deepEqual(points.map((p) => `${p.tags.addr_port}|${p.tags.ip_version}`).sort(), ['0.0.0.0:80|4', '10.0.0.1:80|4', '[::1]:80|6', '[::]:80|6']);
    assert.equal(find(points, '10.0.0.1:80')[0].fields.tcp_established, 2);
    assert.equal(find(points, '10.0.0.1:80')[0].fields.tcp_time_wait, 1);
  });

  it('ports: "80" is every local address of the port, one point per ip_version; "[::1]:80" only that address', () => {
    const points = run([{ ports: ['[::1]:80', '80'] }]);
    assert.equal(find(points, '[::1]:80', '6')[0].fields.tcp_established, 1);
    assert.equal(find(points, '80', '6')[0].fields.tcp_listen, 1);
    assert.equal(find(points, '80', '6')[0].fields.tcp_established, 0, 'the [::1]:80 socket went to the first entry');
    assert.equal(find(points, '80', '4')[0].fields.tcp_established, 2);
    assert.equal(find(points, '80', '4')[0].fields.tcp_listen, 1);
  });

  it('a socket lands in the first group that matches, and only there', () => {
    const points = run([
      { ports: ['80'], tags: { g: 'first' } },
      { ports_match: ['*:80'], tags: { g: 'second' } },
    ]);
    assert.ok(points.every((p) => p.tags.g === 'first'));
    const total = points.reduce((n, p) => n + (p.fields.tcp_established as number) + (p.fields.tcp_listen as number) + (p.fields.tcp_time_wait as number), 0);
    assert.equal(total, 6);
  });

  it('a group with ports_match ignores its ports, as DataKit does', () => {
    const [g] = parsePortGroups([{ ports: ['53'], ports_match: ['*:80'] }]);
    assert.equal(g.mode, 'match');
    assert.ok(run([{ ports: ['53'], ports_match: ['*:80'] }]).every((p) => p.tags.addr_port.endsWith(':80')));
  });

  it('remote_ports counts outbound connections by the peer port (DataKit cannot); addr_port "remote:<entry>"', () => {
    const points = run([{ remote_ports: ['443'] }]);
    assert.deepEqual(points.map((p) => `${p.tags.addr_port}|${p.tags.ip_version}`).sort(), ['remote:443|4', 'remote:443|6']);
    assert.equal(find(points, 'remote:443', '4')[0].fields.tcp_established, 1);
    assert.equal(find(points, 'remote:443', '6')[0].fields.tcp_syn_sent, 1);
    const one = run([{ remote_ports: ['[2001:db8::443]:443'] }]);
    assert.equal(one.length, 1);
    assert.equal(one[0].tags.addr_port, 'remote:[2001:db8::443]:443');
    // a local-port group never sees outbound connections to 443
    assert.deepEqual(run([{ ports: ['443'] }]), []);
  });

  it("pid: 'telegraf' keeps DataKit's pid of the last socket counted; 'sockscope' the lowest non-zero pid", () => {
    const t = find(run([{ ports: ['10.0.0.1:80'] }], 'telegraf'), '10.0.0.1:80')[0];
    const s = find(run([{ ports: ['10.0.0.1:80'] }], 'sockscope'), '10.0.0.1:80')[0];
    assert.equal(t.fields.pid, 40);
    assert.equal(s.fields.pid, 20);
  });

  it('UDP sockets count in udp_socket of their port', () => {
    const [p] = run([{ ports: ['53'] }]);
    assert.equal(p.fields.udp_socket, 1);
    assert.equal(p.tags.ip_version, '4');
  });

  it("ENV_INPUT_NETSTAT_ADDR_PORTS (a JSON array) is one group with ports only, as DataKit's env", () => {
    const groups = parseAddrPortsEnv('["10.0.0.1:80","443"]');
    assert.deepEqual(
      groups.map((g) => [g.mode, g.entries.map((e) => e.text)]),
      [['ports', ['10.0.0.1:80', '443']]],
    );
    assert.throws(() => parseAddrPortsEnv('80'), /ENV_INPUT_NETSTAT_ADDR_PORTS.*JSON array/);
    assert.throws(() => parseAddrPortsEnv('["1.2.3.4:"]'), /"1\.2\.3\.4:"/);
  });

  it('bad entries are refused at start with the entry and what was expected', () => {
    const bad: [PortGroupConfig, RegExp][] = [
      [{ ports: ['99999'] }, /invalid addr_ports\[0\]\.ports entry "99999"/],
      [{ ports: ['1.2.3.4:'] }, /"1\.2\.3\.4:"/],
      [{ ports: ['[::1:80'] }, /"\[::1:80"/],
      [{ ports: ['foo:80'] }, /'foo' is not an IP address/],
      [{ ports_match: ['*:x'] }, /ports_match entry "\*:x": expected "\*:<port>"/],
      [{ ports_match: ['10.0.0.1:80'] }, /expected "\*:<port>"/],
      [{ remote_ports: ['70000'] }, /remote_ports entry "70000"/],
      [{}, /non-empty ports, ports_match or remote_ports/],
    ];
    for (const [g, re] of bad)
      assert.throws(
        () => parsePortGroups([g]),
        (e: Error & { code?: string }) => e.code === 'ESOCKSCOPE_CONFIG' && re.test(e.message),
        JSON.stringify(g),
      );
  });
});

// ---------------------------------------------------------------------------------------------------------

interface SocketstatExpected {
  protocols: string[];
  metrics: { tags: Record<string, string>; fields: Record<string, string | number> }[];
}

function socketstat(table: SocketTable, o: SocketstatTestOptions): Metric[] {
  const out: Metric[] = [];
  socketstatMetrics(table, 0, o, (m) => out.push(m));
  return out;
}

describe('socketstat: Telegraf TestSocketstat_Gather (ss -in text → rows with tcp_info → metrics)', () => {
  for (const name of ['tcp_traffic', 'udp_traffic', 'tcp_no_sockets', 'udp_no_sockets']) {
    const expected = json<SocketstatExpected>(`telegraf-socketstat/expected/${name}.json`);
    const proto = expected.protocols[0] as 'tcp' | 'udp';
    const ss = text(`telegraf-socketstat/testdata/${name}.txt`);

    it(`${name}: the test's oracle (Telegraf's parsing of ss) gives Telegraf's expected metrics`, () => {
      assert.deepEqual(telegrafSocketstat(ss, proto), expected.metrics);
    });

    it(`${name}: same connections, same tags (Telegraf's formatting), same values`, () => {
      const ours = socketstat(socketTableFromSs(ss, proto), { protocols: [proto] });
      assert.equal(ours.length, expected.metrics.length);
      for (const [n, want] of expected.metrics.entries()) {
        const got = ours[n];
        assert.equal(got.schema, SOCKETSTAT_SCHEMA);
        assert.deepEqual(got.tags, want.tags);
        if (proto === 'tcp') {
          assert.deepEqual(got.fields, want.fields);
        } else {
          // deliberate difference: UDP points carry state too (Telegraf's udp lines have no State column)
          assert.deepEqual(got.fields, { ...want.fields, state: 'ESTAB' });
        }
      }
    });
  }

  it('types: state is a string field (not a tag); counters and queues are unsigned: i by default, u with uintAsInt false', () => {
    const ours = socketstat(socketTableFromSs(text('telegraf-socketstat/testdata/tcp_traffic.txt'), 'tcp'), {});
    assert.equal(SOCKETSTAT_SCHEMA.fields.state.type, 'string');
    for (const k of ['recv_q', 'send_q', ...TELEGRAF_COUNTERS]) assert.equal(SOCKETSTAT_SCHEMA.fields[k].type, 'uint', k);
    const asInt = parseLine(influxLine(ours[0]));
    const asUint = parseLine(influxLine(ours[0], { uintAsInt: false }));
    assert.deepEqual(asInt.fields.state, { type: 's', value: 'ESTAB' });
    assert.ok(!('state' in asInt.tags));
    for (const k of ['recv_q', 'send_q', ...TELEGRAF_COUNTERS]) {
      assert.equal(asInt.fields[k].type, 'i', k);
      assert.equal(asUint.fields[k].type, 'u', k);
      assert.equal(asInt.fields[k].value, asUint.fields[k].value);
    }
    assert.equal(asInt.fields.bytes_received.value, 532644751);
  });

  it("the README's example lines: a 4.2 kernel's tcp_info (no data_segs) and a pre-3.15 one (no counters)", () => {
    const lines = text('telegraf-socketstat/expected/readme_example_output.lp')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map(parseLine);
    const cases = [
      {
        info: 144,
        ss: 'State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 4344 0 10.6.231.226:42716 192.168.2.21:80\n\t bytes_acked:184 bytes_received:2624519595 segs_out:661642 segs_in:1812580\n',
      },
      { info: 104, ss: 'State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 0 0 10.6.231.163:35890 192.168.2.21:80\n' },
    ];
    for (const [n, c] of cases.entries()) {
      const want = lines[n];
      const [m] = withTags(socketstat(socketTableFromSs(c.ss, 'tcp', { tcpInfoLength: c.info }), {}), { host: want.tags.host });
      m.time = Number(BigInt(want.time!) / 1_000_000n);
      const got = parseLine(influxLine(m));
      assert.equal(pointKey(got), pointKey(want), `README line ${n + 1}`);
      assert.equal(got.time, want.time);
    }
  });

  it('deliberate difference: counters that are 0 are present (ss omits them, so Telegraf has no field)', () => {
    const ss = 'State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 0 0 127.0.0.1:8080 127.0.0.1:40000\n\t bytes_received:17 segs_in:3\n';
    const want = telegrafSocketstat(ss, 'tcp');
    const [got] = socketstat(socketTableFromSs(ss, 'tcp'), {});
    assert.deepEqual(Object.keys(want[0].fields).sort(), ['bytes_received', 'recv_q', 'segs_in', 'send_q', 'state']);
    for (const [k, v] of Object.entries(want[0].fields)) assert.equal(got.fields[k], v, k);
    for (const k of TELEGRAF_COUNTERS) if (!(k in want[0].fields)) assert.equal(got.fields[k], 0, k);
  });

  it('addresses as Telegraf takes them from ss: IPv6 in brackets, v4-mapped as such, %iface on the local address', () => {
    const ss = [
      'State Recv-Q Send-Q Local Address:Port Peer Address:Port',
      'ESTAB 0 0 [::1]:22 [::1]:50000',
      'ESTAB 0 0 [fe80::1]%eth0:22 [fe80::2]:50001',
      'ESTAB 0 0 10.0.0.1%eth0:22 10.0.0.2:50002',
      'ESTAB 0 0 [::ffff:127.0.0.1]:80 [::ffff:127.0.0.1]:50003',
      'CLOSE-WAIT 1 0 [2001:db8::1]:443 [2001:db8::2]:50004',
      '',
    ].join('\n');
    const want = telegrafSocketstat(ss, 'tcp');
    const table = socketTableFromSs(ss, 'tcp', { ifindex: { eth0: 2 } });
    const got = socketstat(table, { interfaceName: (i) => (i === 2 ? 'eth0' : undefined) });
    assert.deepEqual(
      got.map((m) => m.tags),
      want.map((w) => w.tags),
    );
    assert.deepEqual(
      got.map((m) => m.fields.state),
      ['ESTAB', 'ESTAB', 'ESTAB', 'ESTAB', 'CLOSE-WAIT'],
    );
  });

  it("the default states are ss's without -a: LISTEN, UNCONN, TIME-WAIT and SYN-RECV are left out", () => {
    const states = ['ESTAB', 'SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'UNCONN', 'CLOSE-WAIT', 'LAST-ACK', 'LISTEN', 'CLOSING'];
    const ss = ['State Recv-Q Send-Q Local Address:Port Peer Address:Port', ...states.map((s, n) => `${s} 0 0 10.0.0.1:${1000 + n} 10.0.0.2:80`), ''].join(
      '\n',
    );
    const got = socketstat(socketTableFromSs(ss, 'tcp'), {}).map((m) => m.fields.state);
    assert.deepEqual(got, ['ESTAB', 'SYN-SENT', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSING']);
    assert.equal(socketstat(socketTableFromSs(ss, 'tcp'), { states: 0xfff }).length, states.length);
  });

  it('protocols: only those asked for (default tcp and udp)', () => {
    const t = socketTableFromSs(text('telegraf-socketstat/testdata/tcp_traffic.txt'), 'tcp');
    t.append(socketTableFromSs(text('telegraf-socketstat/testdata/udp_traffic.txt'), 'udp'));
    assert.equal(socketstat(t, {}).length, 6);
    assert.deepEqual(
      socketstat(t, { protocols: ['udp'] }).map((m) => m.tags.proto),
      ['udp', 'udp', 'udp'],
    );
  });

  it('opt-in tcp_info fields (units in the names), unsigned', () => {
    const [m] = socketstat(socketTableFromSs(text('telegraf-socketstat/testdata/tcp_traffic.txt'), 'tcp'), {
      infoFields: ['rtt_us', 'rttvar_us', 'min_rtt_us', 'cwnd'],
    });
    // ss: rtt:0.057/0.033 cwnd:10 minrtt:0.047
    assert.equal(m.fields.rtt_us, 57);
    assert.equal(m.fields.rttvar_us, 33);
    assert.equal(m.fields.min_rtt_us, 47);
    assert.equal(m.fields.cwnd, 10);
    for (const k of ['rtt_us', 'rttvar_us', 'min_rtt_us', 'cwnd']) assert.equal(SOCKETSTAT_SCHEMA.fields[k].type, 'uint');
    const [plain] = socketstat(socketTableFromSs(text('telegraf-socketstat/testdata/tcp_traffic.txt'), 'tcp'), {});
    assert.ok(!('rtt_us' in plain.fields), 'not written unless asked for');
  });

  it('aggregate: one point per (proto, local address, remote address) with a connection count and sums', () => {
    const ss = [
      'State Recv-Q Send-Q Local Address:Port Peer Address:Port',
      'ESTAB 5 0 10.0.0.1:40000 10.0.0.2:443',
      '\t bytes_acked:10 bytes_received:100 segs_out:1 segs_in:2',
      'ESTAB 0 7 10.0.0.1:40001 10.0.0.2:443',
      '\t bytes_acked:20 bytes_received:200 segs_out:3 segs_in:4',
      'CLOSE-WAIT 0 0 10.0.0.1:40002 10.0.0.2:443',
      '\t bytes_acked:30',
      'ESTAB 0 0 10.0.0.1:40003 10.0.0.3:443',
      '\t bytes_acked:1',
      '',
    ].join('\n');
    const points = socketstat(socketTableFromSs(ss, 'tcp'), { aggregate: true });
    assert.equal(points.length, 2);
    const [a, b] = points;
    assert.equal(a.schema, SOCKETSTAT_AGGREGATE_SCHEMA);
    assert.deepEqual(a.tags, { proto: 'tcp', local_addr: '10.0.0.1', remote_addr: '10.0.0.2' });
    assert.deepEqual(a.fields, {
      connections: 3,
      recv_q: 5,
      send_q: 7,
      bytes_acked: 60,
      bytes_received: 300,
      segs_out: 4,
      segs_in: 6,
      data_segs_out: 0,
      data_segs_in: 0,
    });
    assert.equal(b.fields.connections, 1);
    for (const k of Object.keys(a.fields)) assert.equal(SOCKETSTAT_AGGREGATE_SCHEMA.fields[k]?.type, 'uint', k);
  });
});
