/**
 * Golden outputs: the recorded fixture snapshot replayed through `sockscope gather`'s plan and gather(), in
 * every format, compared byte for byte with test/fixtures/metrics/* (regenerate.mjs there rewrites them).
 *
 * A golden file alone only proves that nothing changed; so the same outputs are also checked against the `ss`
 * text recorded at the same moment (test/fixtures/ss-*.txt): per-state counts, port groups, the connections
 * socketstat lists and their counters. And the Prometheus/OpenMetrics goldens go through promtool.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { NETSTAT_FIELDS } from '../../src/collectors/netstat.js';
import type { Metric } from '../../src/model/metric.js';
import { NETSTAT_FIELD_OF_SS_STATE, parseSs, ssNumber, type SsRow } from '../helpers/ss.js';
import { FIXTURES, fixtureSnapshotter, GOLDEN_CASES, GOLDEN_DIR, GOLDEN_TIME, PORTS, renderGolden } from './metrics-fixture.js';
import {
  parseExposition,
  parseLines,
  pointKey,
  promtoolCheckMetrics,
  promtoolParseOpenMetrics,
  unexplainedOpenMetricsLint,
  type LpPoint,
} from '../helpers/metrics.js';
import { findPromtool } from '../helpers/tools.js';

const ss = (file: string): SsRow[] => parseSs(readFileSync(`${FIXTURES}${file}`, 'utf8')).rows;
const golden = (file: string): string => readFileSync(`${GOLDEN_DIR}${file}`, 'utf8');

const tcp = ss('ss-tanieO.txt');
const udp = ss('ss-uanieO.txt');
const unix = ss('ss-xanO.txt');

const familyOf = (r: SsRow): '4' | '6' => (r.local.address === '*' || r.local.address.includes(':') ? '6' : '4');
/** Counts as netstat fields from ss rows: TCP rows by state, UDP rows as udp_socket. */
function countsOf(tcpRows: SsRow[], udpRows: SsRow[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(NETSTAT_FIELDS.map((f) => [f, 0]));
  for (const r of tcpRows) out[NETSTAT_FIELD_OF_SS_STATE[r.state]]++;
  out.udp_socket = udpRows.length;
  return out;
}
/** The fields of a line-protocol point as plain numbers / strings. */
const values = (p: LpPoint) => Object.fromEntries(Object.entries(p.fields).map(([k, f]) => [k, f.value]));
/** Telegraf's socketstat tag value for an ss endpoint: IPv6 in brackets (ss prints "*" for the dual-stack ::). */
const tagAddr = (a: string) => (a === '*' ? '[::]' : a.includes(':') ? `[${a}]` : a);
/** ss without -a, as socketstat's default state mask */
const CONNECTED = (r: SsRow) => !['LISTEN', 'UNCONN', 'TIME-WAIT', 'SYN-RECV'].includes(r.state);

describe('golden outputs of the recorded fixture snapshot', () => {
  for (const c of GOLDEN_CASES) {
    it(`${c.file} = sockscope gather ${c.args.join(' ')}`, async () => {
      const { text, report } = await renderGolden(c.args);
      assert.equal(report.error, undefined);
      assert.ok(
        report.collectors.every((x) => x.ok),
        JSON.stringify(report.collectors),
      );
      assert.deepEqual(report.notes, []);
      assert.equal(
        text,
        golden(c.file),
        `${c.file} differs: if the change is deliberate, run \`npm run build && node test/fixtures/metrics/regenerate.mjs\` and review the diff`,
      );
    });
  }

  it('every golden metric carries the fixed time (the recording time)', () => {
    for (const p of parseLines(golden('all.influx'))) assert.equal(p.time, `${GOLDEN_TIME}000000`);
    for (const m of JSON.parse(golden('all.json')).metrics) assert.equal(m.timestamp, Math.floor(GOLDEN_TIME / 1000));
  });
});

describe('the golden content agrees with the ss text recorded with the dumps', () => {
  const all = parseLines(golden('all.influx'));
  const of = (points: LpPoint[], measurement: string) => points.filter((p) => p.measurement === measurement);

  it('netstat (sockscope semantics): TCP states summed over IPv4 and IPv6, udp_socket = UDP sockets; all 13 fields', () => {
    const [p] = of(all, 'netstat');
    assert.deepEqual(p.tags, { host: 'fixture' });
    assert.deepEqual(values(p), countsOf(tcp, udp));
    assert.ok(Object.values(p.fields).every((f) => f.type === 'i'));
    // the recording spans several states: the equality is not 0 = 0
    assert.ok((p.fields.tcp_established.value as number) > 0 && (p.fields.tcp_time_wait.value as number) > 0 && (p.fields.tcp_syn_sent.value as number) > 0);
  });

  it('netstat per ip_version (telegraf.influx): per family as ss shows it, plus unix sockets under "unknown"', () => {
    const points = of(parseLines(golden('telegraf.influx')), 'netstat');
    const by = Object.fromEntries(points.map((p) => [p.tags.ip_version, values(p)]));
    for (const v of ['4', '6'] as const)
      assert.deepEqual(
        by[v],
        countsOf(
          tcp.filter((r) => familyOf(r) === v),
          udp.filter((r) => familyOf(r) === v),
        ),
        `ip_version ${v}`,
      );
    // gopsutil's rule on ss -xan's rows: unix sockets have status NONE; unnamed ones are distinct, named ones
    // count once per (type, name): a listener and the connections it accepted carry the same name
    const distinct = (netids: string[]) =>
      new Set(unix.filter((r) => netids.includes(r.netid!)).map((r, n) => (r.local.address === '*' ? `#${n}` : r.local.address))).size;
    assert.deepEqual(by.unknown, { ...countsOf([], []), tcp_none: distinct(['u_str', 'u_seq']), udp_socket: distinct(['u_dgr']) });
    const streamRows = unix.filter((r) => r.netid === 'u_str').length;
    assert.ok(by.unknown.tcp_none < streamRows, 'the recording has named stream sockets with accepted connections');
  });

  it('netstat_port: each group counts the sockets ss shows on its ports', () => {
    const points = of(all, 'netstat_port');
    const find = (addrPort: string) => points.filter((p) => p.tags.addr_port === addrPort);
    const local = (port: number, rows: SsRow[]) => rows.filter((r) => r.local.port === port);
    // "38751,43735,38882@service=web": local ports, every address; one point per ip_version
    for (const port of [PORTS.v4, PORTS.dual]) {
      const want = new Map<string, Record<string, number>>();
      for (const v of ['4', '6'] as const) {
        const rows = local(port, tcp).filter((r) => familyOf(r) === v);
        if (rows.length) want.set(v, { ...countsOf(rows, []), pid: 0 });
      }
      const got = new Map(find(String(port)).map((p) => [p.tags.ip_version, values(p)]));
      assert.deepEqual(got, want, `port ${port}`);
      assert.ok(find(String(port)).every((p) => p.tags.service === 'web'));
    }
    assert.deepEqual(values(find(String(PORTS.udp))[0]), { ...countsOf([], local(PORTS.udp, udp)), pid: 0 });
    // "*:38049@service=web6": one point per local address, IPv6 bracketed
    const v6 = find(`[::1]:${PORTS.v6}`);
    assert.equal(v6.length, 1);
    assert.deepEqual(values(v6[0]), { ...countsOf(local(PORTS.v6, tcp), []), pid: 0 });
    // "remote:38751@direction=out": the connections whose PEER port is 38751
    const out = find(`remote:${PORTS.v4}`);
    assert.deepEqual(
      out.map((p) => p.tags.direction),
      ['out'],
    );
    assert.deepEqual(values(out[0]), {
      ...countsOf(
        tcp.filter((r) => r.peer.port === PORTS.v4),
        [],
      ),
      pid: 0,
    });
  });

  it("socketstat: the connections `ss -tin`/`ss -uin` list (no -a), Telegraf's tags, counters as ss printed them", () => {
    const points = of(all, 'socketstat');
    const rows = [...tcp.filter(CONNECTED).map((r) => ['tcp', r] as const), ...udp.filter((r) => r.state === 'ESTAB').map((r) => ['udp', r] as const)];
    const want = new Map(
      rows.map(([proto, r]) => [
        JSON.stringify({
          host: 'fixture',
          local_addr: tagAddr(r.local.address),
          local_port: String(r.local.port),
          proto,
          remote_addr: tagAddr(r.peer.address),
          remote_port: String(r.peer.port),
        }),
        r,
      ]),
    );
    const got = new Map(points.map((p) => [JSON.stringify(Object.fromEntries(Object.entries(p.tags).sort())), p]));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [k, r] of want) {
      const p = got.get(k)!;
      assert.equal(p.fields.state.value, r.state, k);
      assert.equal(p.fields.recv_q.value, r.recvQ, k);
      assert.equal(p.fields.send_q.value, r.sendQ, k);
      if (p.tags.proto !== 'tcp') continue;
      for (const c of ['bytes_acked', 'bytes_received', 'segs_out', 'segs_in', 'data_segs_out', 'data_segs_in']) {
        assert.equal(p.fields[c].value, ssNumber(r, c) ?? 0, `${k} ${c}`);
      }
    }
  });

  it('socketstat --socketstat-info all: rtt, cwnd and ssthresh as ss printed them', () => {
    const points = parseLines(golden('socketstat-info.influx')).filter((p) => p.tags.proto === 'tcp');
    assert.ok(points.length > 0);
    for (const p of points) {
      const r = tcp.find(
        (x) => String(x.local.port) === p.tags.local_port && String(x.peer.port) === p.tags.remote_port && tagAddr(x.local.address) === p.tags.local_addr,
      )!;
      assert.ok(r, JSON.stringify(p.tags));
      assert.equal(p.fields.cwnd.value, ssNumber(r, 'cwnd'));
      assert.equal(p.fields.cwnd.type, 'u', '--influx-uint');
      // ss leaves out an unset (infinite) ssthresh; so does sockscope, rather than write 2147483647
      assert.equal(p.fields.ssthresh?.value, ssNumber(r, 'ssthresh'));
      if (r.fields.rtt) {
        const [rtt, rttvar] = r.fields.rtt.split('/').map(Number);
        assert.ok(Math.abs((p.fields.rtt_us.value as number) / 1000 - rtt) <= 0.0005, `rtt ${p.fields.rtt_us.value} µs vs ss ${rtt} ms`);
        assert.ok(Math.abs((p.fields.rttvar_us.value as number) / 1000 - rttvar) <= 0.0005);
      }
    }
  });

  it('socketstat --socketstat-aggregate: one point per (proto, local address, remote address), connections counted', () => {
    const points = parseLines(golden('socketstat-aggregate.influx'));
    const want = new Map<string, number>();
    for (const [proto, r] of [
      ...tcp.filter(CONNECTED).map((r) => ['tcp', r] as const),
      ...udp.filter((r) => r.state === 'ESTAB').map((r) => ['udp', r] as const),
    ]) {
      const k = `${proto}|${tagAddr(r.local.address)}|${tagAddr(r.peer.address)}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    assert.deepEqual(new Map(points.map((p) => [`${p.tags.proto}|${p.tags.local_addr}|${p.tags.remote_addr}`, p.fields.connections.value])), want);
  });

  it('JSON and line protocol carry the same metrics', () => {
    const json = JSON.parse(golden('all.json')).metrics as { name: string; tags: Record<string, string>; fields: Record<string, number | string> }[];
    const sorted = (o: object) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    assert.deepEqual(
      json.map((m) => `${m.name}|${sorted(m.tags)}|${sorted(m.fields)}`).sort(),
      all.map((p) => `${p.measurement}|${sorted(p.tags)}|${sorted(values(p))}`).sort(),
    );
  });

  it('Prometheus carries the same numbers: tcp_connections per family sum to netstat, sockets per state', () => {
    const { families } = parseExposition(golden('all.prom'));
    const [netstat] = of(all, 'netstat');
    const tcpc = families.get('sockscope_tcp_connections')!.samples;
    for (const [field, f] of Object.entries(netstat.fields)) {
      if (!field.startsWith('tcp_') || field === 'tcp_none') continue;
      const state = field.slice(4);
      const sum = tcpc.filter((s) => s.labels.includes(`state="${state}"`)).reduce((n, s) => n + Number(s.value), 0);
      assert.equal(sum, f.value, field);
    }
    const udpSum = families.get('sockscope_udp_sockets')!.samples.reduce((n, s) => n + Number(s.value), 0);
    assert.equal(udpSum, netstat.fields.udp_socket.value);
    const acked = families.get('sockscope_socket_acked_bytes_total')!.samples.reduce((n, s) => n + Number(s.value), 0);
    const ackedLp = of(all, 'socketstat').reduce((n, p) => n + ((p.fields.bytes_acked?.value as number) ?? 0), 0);
    assert.equal(acked, ackedLp);
  });

  it('the census path (netstat alone) and the table path (netstat with other measurements) agree', async () => {
    const snapshotter = fixtureSnapshotter();
    const alone = await renderGolden(['--measurement', 'netstat', '--host-tag', 'fixture'], snapshotter);
    // a census: no tcp_info asked for (legacy TCP request with ext 0)
    assert.ok(snapshotter.requests.length > 0 && snapshotter.requests.every((r) => (r.type === 18 ? r.body[3] : r.body[2]) === 0));
    const [p] = parseLines(alone.text);
    assert.equal(pointKey(p), pointKey(of(all, 'netstat')[0]));
    const perVersion = await renderGolden(['--measurement', 'netstat', '--per-ip-version', '--host-tag', 'fixture']);
    const both = await renderGolden(['--measurement', 'netstat,socketstat', '--per-ip-version', '--host-tag', 'fixture']);
    const netstatOf = (ms: Metric[]) =>
      ms
        .filter((m) => m.schema.name === 'netstat')
        .map((m) => JSON.stringify([m.tags, m.fields]))
        .sort();
    assert.deepEqual(netstatOf(perVersion.metrics), netstatOf(both.metrics));
  });
});

describe('promtool on the golden expositions', () => {
  const promtool = findPromtool();
  const opts = { skip: promtool.skip ?? false };
  const files = GOLDEN_CASES.map((c) => c.file);

  for (const file of files.filter((f) => f.endsWith('.prom'))) {
    it(`promtool check metrics: ${file}`, opts, () => {
      const r = promtoolCheckMetrics(promtool.path!, golden(file));
      assert.equal(r.status, 0, r.output);
      assert.equal(r.output, '');
    });
  }
  for (const file of files.filter((f) => f.endsWith('.om'))) {
    it(`OpenMetrics: Prometheus's parser accepts ${file}; the text-format linter finds nothing but the _total naming`, opts, () => {
      const text = golden(file);
      const parsed = promtoolParseOpenMetrics(promtool.path!, text, Math.floor(GOLDEN_TIME / 1000));
      assert.equal(parsed.status, 0, parsed.output);
      assert.deepEqual(unexplainedOpenMetricsLint(promtool.path!, text), []);
    });
  }

  it('every family has HELP and TYPE; OpenMetrics names counters without _total and ends with # EOF', () => {
    for (const file of files.filter((f) => f.endsWith('.prom') || f.endsWith('.om'))) {
      const om = file.endsWith('.om');
      const { families, eof } = parseExposition(golden(file));
      assert.equal(eof, om, file);
      for (const [name, f] of families) {
        assert.ok(f.help && f.type, `${file}: ${name}`);
        assert.ok(f.samples.length > 0, `${file}: ${name} has samples`);
        if (f.type === 'counter') {
          assert.equal(name.endsWith('_total'), !om, `${file}: counter family ${name}`);
          for (const s of f.samples) assert.equal(s.name, om ? `${name}_total` : name);
        }
        const seen = new Set(f.samples.map((s) => `${s.name}${s.labels}`));
        assert.equal(seen.size, f.samples.length, `${file}: ${name} has no duplicate series`);
      }
    }
  });
});
