/**
 * The kernel's destroy events end to end, in throwaway namespaces with connections the test makes
 * (test/helpers/lifecycle-load.ts: known byte counts both ways): `ls -E` against `ss -E` run alongside, unprivileged, with an
 * overrun induced, and the agent's lifecycle counters against the truth.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { netnsSupport } from '../helpers/netns.js';
import { promtoolCheckMetrics } from '../helpers/metrics.js';
import { findPromtool } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${root}bin/sockscope.js`;
const LOAD = fileURLToPath(new URL('../helpers/lifecycle-load.js', import.meta.url));
const support = netnsSupport();
const hasSs = spawnSync('sh', ['-c', 'command -v ss && command -v stdbuf && command -v ip'], { stdio: 'ignore' }).status === 0;
const skip = support.skip ?? (hasSs ? undefined : 'ss, stdbuf or ip missing');

/** Shell lines that wait (at most 30 s) until K sock_diag sockets of this namespace have joined groups. */
const waitSubscribers = (k: number) =>
  `i=0; until [ "$(awk '$2==4 && $4!="00000000"' /proc/net/netlink | wc -l)" -ge ${k} ]; do i=$((i+1)); [ $i -gt 600 ] && { echo "no subscriber" >&2; exit 9; }; sleep 0.05; done`;
/** Wait (at most 30 s) until FILE has at least N lines. */
const waitLines = (file: string, n: number) => `i=0; until [ "$(wc -l < ${file})" -ge ${n} ]; do i=$((i+1)); [ $i -gt 600 ] && break; sleep 0.05; done`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a script in a new network namespace: as root (`unshare -n`), or unprivileged (nobody, `unshare -rn`). */
function inNamespace(script: string, mode: 'root' | 'user', timeoutMs = 90_000): Promise<Run> {
  const nobody = mode === 'user' && process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v setpriv'], { stdio: 'ignore' }).status === 0;
  const argv = [
    ...(nobody ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups'] : []),
    'unshare',
    mode === 'root' ? '-n' : '-rn',
    'sh',
    '-ec',
    `ip link set lo up\n${script}`,
  ];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE: process.execPath } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

interface Truth {
  connections: number;
  clientSent: number;
  serverSent: number;
}
interface TcpInfo {
  bytes_acked: number;
  bytes_received: number;
  bytes_sent: number;
  bytes_retrans: number;
}
interface Rec {
  protocol: string;
  state: string;
  local_port: number;
  remote_port: number;
  cookie?: string;
  tcp_info?: TcpInfo;
}
/** An agent with only the lifecycle collector (1 s interval) and the stdout output; `lifecycle` and `prometheus`: their sections' extra lines. */
const lifecycleAgent = (lifecycle: string, prometheus: string) =>
  `[agent]
interval = "1s"
[collectors.netstat]
enabled = false
[collectors.netstat_port]
enabled = false
[collectors.listen]
enabled = false
[collectors.lifecycle]
enabled = true
${lifecycle}
[outputs.prometheus]
${prometheus}
[outputs.stdout]
enabled = true
`;
const sum = (rs: Rec[], f: keyof TcpInfo) => rs.reduce((n, r) => n + r.tcp_info![f], 0);

describe('destroy events in a namespace', { skip }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'life-'));
    spawnSync('chmod', ['0777', dir]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ls -E: 2N closed sockets (and the listener) whose bytes add up exactly, as ss -E lists them', async () => {
    const N = 40;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} ls -E -t -e --format ndjson > ${dir}/e.ndjson 2> ${dir}/e.err & P=$!
      stdbuf -oL ss -E -tnH > ${dir}/ss.txt & S=$!
      ${waitSubscribers(2)}
      "$NODE" ${LOAD} 5001 ${N} > ${dir}/truth.json
      ${waitLines(`${dir}/ss.txt`, 2 * N + 1)}
      kill -INT $P; kill -TERM $S
      wait $P; echo "ls=$?"`,
      support.mode!,
    );
    assert.match(r.stdout, /ls=0/, r.stderr);
    const truth = JSON.parse(readFileSync(`${dir}/truth.json`, 'utf8')) as Truth;
    const records = readFileSync(`${dir}/e.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    assert.equal(records.length, 2 * N + 1);
    assert.equal(readFileSync(`${dir}/e.err`, 'utf8'), `sockscope: ${2 * N + 1} sockets closed, ${2 * N + 1} listed, 0 lost\n`);
    const clients = records.filter((x) => x.remote_port === 5001);
    const servers = records.filter((x) => x.local_port === 5001 && x.remote_port !== 0);
    assert.equal(clients.length, N);
    assert.equal(servers.length, N);
    assert.ok(records.every((x) => x.protocol === 'tcp' && x.state === 'close' && x.cookie && x.tcp_info));
    assert.equal(new Set(records.map((x) => x.cookie)).size, 2 * N + 1);
    // the data each side sent (bytes_sent counts data only; nothing is retransmitted on loopback)
    assert.equal(sum(clients, 'bytes_sent') - sum(clients, 'bytes_retrans'), truth.clientSent);
    assert.equal(sum(servers, 'bytes_sent') - sum(servers, 'bytes_retrans'), truth.serverSent);
    // sequence space: + 1 per FIN acknowledged / received, + 1 for the SYN the client sent
    assert.equal(sum(clients, 'bytes_acked'), truth.clientSent + 2 * N);
    assert.equal(sum(servers, 'bytes_received'), truth.clientSent + N);
    assert.equal(sum(servers, 'bytes_acked'), truth.serverSent + N);
    assert.equal(sum(clients, 'bytes_received'), truth.serverSent + N);
    // every client has its server end
    const serverPeers = new Set(servers.map((x) => x.remote_port));
    assert.ok(clients.every((c) => serverPeers.has(c.local_port)));
    // ss -E, the reference: the same connections
    const ssPairs = readFileSync(`${dir}/ss.txt`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => !f[4].endsWith(':*'))
      .map((f) => `${f[3]} ${f[4]}`)
      .sort();
    const ours = records
      .filter((x) => x.remote_port !== 0)
      .map((x) => `127.0.0.1:${x.local_port} 127.0.0.1:${x.remote_port}`)
      .sort();
    assert.deepEqual(ours, ssPairs);
  });

  it('TIME_WAIT: the full socket is announced as it enters TIME_WAIT; the minisocket is never announced', async (t) => {
    if (support.mode !== 'root') return t.skip('destroying TIME_WAIT sockets (ss -K) needs CAP_NET_ADMIN');
    const N = 10;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} ls -E -t -e --format ndjson > ${dir}/tw-e.ndjson 2> ${dir}/tw-e.err & P=$!
      ${waitSubscribers(1)}
      "$NODE" ${LOAD} 5005 ${N} > /dev/null
      ${waitLines(`${dir}/tw-e.ndjson`, 2 * N + 1)}
      "$NODE" ${BIN} ls -t -e --format ndjson state time-wait > ${dir}/tw.ndjson
      ss -K -tn state time-wait > /dev/null
      "$NODE" ${BIN} ls -t --format ndjson state time-wait > ${dir}/tw-after.ndjson
      sleep 1
      kill -INT $P; wait $P; echo "ls=$?"`,
      'root',
    );
    assert.match(r.stdout, /ls=0/, r.stderr);
    const events = readFileSync(`${dir}/tw-e.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    const tw = readFileSync(`${dir}/tw.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    // the server closed first: its ends are the ones in TIME_WAIT, already announced (state close, final tcp_info)
    assert.equal(tw.length, N);
    assert.ok(tw.every((x) => x.state === 'time_wait' && x.local_port === 5005 && x.tcp_info === undefined));
    const announced = new Set(events.map((x) => `${x.local_port} ${x.remote_port}`));
    for (const x of tw)
      assert.ok(announced.has(`${x.local_port} ${x.remote_port}`), `TIME_WAIT ${x.local_port} ${x.remote_port} was announced as its full socket closed`);
    // the cookie: the kernel makes one on first use; the minisocket copies the full socket's when it is made, so it
    // is the announced one only when something (a dump) used it before the close; here nothing did
    const cookies = new Set(events.map((x) => x.cookie));
    assert.ok(tw.every((x) => !cookies.has(x.cookie)));
    // destroying the minisockets frees no full socket: no event, the count stays 2N + 1
    assert.equal(readFileSync(`${dir}/tw-after.ndjson`, 'utf8').trim(), '');
    assert.equal(events.length, 2 * N + 1);
    assert.equal(readFileSync(`${dir}/tw-e.err`, 'utf8'), `sockscope: ${2 * N + 1} sockets closed, ${2 * N + 1} listed, 0 lost\n`);
  });

  it("-N: the subscription is the named namespace's, and only its sockets come", async (t) => {
    if (support.mode !== 'root' || process.getuid?.() !== 0) return t.skip('ip netns add needs root');
    const ns = `life-e-${process.pid}`;
    const N = 5;
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(
        'sh',
        [
          '-ec',
          `
        ip netns add ${ns}; trap 'ip netns del ${ns}' EXIT
        ip -n ${ns} link set lo up
        "$NODE" ${BIN} ls -E -t -N ${ns} --format ndjson > ${dir}/n.ndjson 2> ${dir}/n.err & P=$!
        i=0; until [ "$(ip netns exec ${ns} awk '$2==4 && $4!="00000000"' /proc/net/netlink | wc -l)" -ge 1 ]; do i=$((i+1)); [ $i -gt 600 ] && exit 9; sleep 0.05; done
        ip netns exec ${ns} "$NODE" ${LOAD} 5006 ${N} > /dev/null
        ${waitLines(`${dir}/n.ndjson`, 2 * N + 1)}
        kill -INT $P; wait $P; echo "ls=$?"`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE: process.execPath } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (status) => (clearTimeout(timer), resolve({ status, stdout, stderr })));
    });
    assert.match(r.stdout, /ls=0/, r.stderr);
    const records = readFileSync(`${dir}/n.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    assert.equal(records.length, 2 * N + 1);
    assert.ok(records.every((x) => x.local_port === 5006 || x.remote_port === 5006));
  });

  it('works unprivileged (a user namespace, no CAP_NET_ADMIN where it counts): TCP and UDP as table lines, SIGTERM ends it', async () => {
    const N = 12;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} ls -E -4 > ${dir}/u.txt 2> ${dir}/u.err & P=$!
      ${waitSubscribers(1)}
      "$NODE" ${LOAD} 5002 ${N} > /dev/null
      "$NODE" -e "const s = require('node:dgram').createSocket('udp4'); s.bind(5353, '127.0.0.1', () => s.connect(53, '127.0.0.1', () => s.close()))"
      ${waitLines(`${dir}/u.txt`, 1 + 2 * N + 2)}
      kill -TERM $P; wait $P; echo "ls=$?"`,
      'user',
    );
    assert.match(r.stdout, /ls=0/, r.stderr);
    const lines = readFileSync(`${dir}/u.txt`, 'utf8').trim().split('\n');
    assert.match(lines[0], /^Netid\s+State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port/);
    assert.equal(lines.length, 1 + 2 * N + 2, lines.join('\n'));
    assert.equal(lines.filter((l) => /^tcp\s+UNCONN\s/.test(l)).length, 2 * N + 1, lines.join('\n'));
    // the UDP socket: connected when it closed (ss shows a connected UDP socket as ESTAB)
    assert.equal(lines.filter((l) => /^udp\s+ESTAB\s+0\s+0\s+127\.0\.0\.1:5353\s+127\.0\.0\.1:53\s*$/.test(l)).length, 1, lines.join('\n'));
    assert.equal(readFileSync(`${dir}/u.err`, 'utf8'), `sockscope: ${2 * N + 2} sockets closed, ${2 * N + 2} listed, 0 lost\n`);
  });

  it('an overrun (a tiny buffer, the reader stopped during a burst) is counted exactly, and is not fatal', async () => {
    const N = 300;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} ls -E -t --rcvbuf 4096 --format ndjson > ${dir}/o.ndjson 2> ${dir}/o.err & P=$!
      ${waitSubscribers(1)}
      kill -STOP $P
      "$NODE" ${LOAD} 5003 ${N} > /dev/null
      sleep 1
      kill -CONT $P
      "$NODE" ${LOAD} 5004 5 > /dev/null
      sleep 1
      kill -INT $P; wait $P; echo "ls=$?"`,
      support.mode!,
    );
    assert.match(r.stdout, /ls=0/, r.stderr);
    const err = readFileSync(`${dir}/o.err`, 'utf8');
    const m = /^sockscope: (\d+) sockets closed, (\d+) listed, (\d+) lost: the kernel overran the (\d+)-byte receive buffer (\d+) time\(s\)\n$/.exec(err);
    assert.ok(m, err);
    const [received, listed, lost, , overruns] = m.slice(1).map(Number);
    assert.ok(lost > 0 && overruns >= 1, err);
    assert.equal(received + lost, 2 * N + 1 + 2 * 5 + 1);
    assert.equal(listed, received);
    const records = readFileSync(`${dir}/o.ndjson`, 'utf8').trim().split('\n');
    assert.equal(records.length, received);
    // after the overrun the stream goes on: the second burst's sockets come through (the buffer is still tiny, so
    // on a loaded machine a few of them may be dropped too, and counted)
    assert.ok(records.map((l) => JSON.parse(l) as Rec).some((x) => x.local_port === 5004 || x.remote_port === 5004));
  });

  it('the agent, unprivileged (a user namespace, as nobody): an induced overrun is counted exactly, and the counting goes on', async () => {
    writeFileSync(`${dir}/agent-overrun.toml`, lifecycleAgent('rcvbuf_bytes = 65536', 'enabled = false'));
    // what the agent says comes on stdout (line protocol): a scrape would be a connection of its own, closed, counted
    const out = `${dir}/overrun.out`;
    const last = `grep '^lifecycle_events,' ${out} | tail -n 1`;
    const total = `${last} | tr ' ,' '\\n\\n' | awk -F= '$1 == "events" || $1 == "lost" { n += $2 + 0 } END { print n + 0 }'`;
    const N = 400;
    const M = 5;
    const expected = 2 * N + 1 + 2 * M + 1;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} agent --config ${dir}/agent-overrun.toml > ${out} 2> ${dir}/agent-overrun.err & A=$!
      i=0; until grep -q '^lifecycle_events,' ${out}; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done
      kill -STOP $A
      "$NODE" ${LOAD} 5011 ${N} > /dev/null
      sleep 1
      kill -CONT $A
      "$NODE" ${LOAD} 5012 ${M} > /dev/null
      i=0; until [ "$(${total})" = ${expected} ]; do i=$((i+1)); [ $i -gt 150 ] && break; sleep 0.2; done
      sleep 1.5
      kill -TERM $A; wait $A; echo "agent=$?"`,
      'user',
      120_000,
    );
    assert.match(r.stdout, /agent=0/, `${r.stderr}\n${readFileSync(`${dir}/agent-overrun.err`, 'utf8')}`);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const fields = (line: string) =>
      Object.fromEntries(
        line
          .split(' ')[1]
          .split(',')
          .map((kv) => [kv.split('=')[0], Number(kv.split('=')[1].replace(/[iu]$/, ''))]),
      );
    const events = lines.filter((l) => l.startsWith('lifecycle_events,')).at(-1)!;
    const time = events.split(' ')[2];
    const e = fields(events);
    // the kernel dropped what the stopped agent had no room for, and counted each (SK_MEMINFO_DROPS): exact
    assert.ok(e.lost > 0, events);
    assert.ok(e.overruns >= 1, events);
    assert.equal(e.events + e.lost, expected, events);
    // every received close is counted in a group (the two listeners' own aside), and the later connections are there
    const groups = lines.filter((l) => l.startsWith('lifecycle,') && l.split(' ')[2] === time);
    const closed = groups.reduce((n, l) => n + fields(l).closed, 0);
    assert.ok(closed >= e.events - 2 && closed <= e.events, `${closed} closed of ${e.events} events (2 of them listeners')`);
    const later = groups.find((l) => l.split(' ')[0].split(',').includes('addr_port=5012'));
    assert.ok(later && fields(later).closed >= 1, groups.join('\n'));
    // the collector did not fail for it
    assert.doesNotMatch(readFileSync(`${dir}/agent-overrun.err`, 'utf8'), /collector.*fail|"level":50/);
  });

  it("the agent's lifecycle counters equal the truth, for short connections and ones that span gathers", async () => {
    writeFileSync(`${dir}/agent.toml`, lifecycleAgent('', 'listen = ["127.0.0.1:19979"]'));
    const fetch = `"$NODE" -e "fetch('http://127.0.0.1:19979/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), () => {})"`;
    const done = `grep -c '^sockscope_lifecycle_closed_total{.*} ${40}$\\|^sockscope_lifecycle_closed_total{.*5002.*} 6$'`;
    const r = await inNamespace(
      `
      "$NODE" ${BIN} agent --config ${dir}/agent.toml > ${dir}/agent.out 2> ${dir}/agent.err & A=$!
      i=0; until ${fetch} | grep -q '^sockscope_gathers_total [1-9]'; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done
      "$NODE" ${LOAD} 5001 40 > ${dir}/short.json
      ${fetch} | grep '^sockscope_gathers_total ' > ${dir}/gathers-before
      "$NODE" ${LOAD} 5002 6 2000 > ${dir}/long.json
      ${fetch} | grep '^sockscope_gathers_total ' > ${dir}/gathers-after
      i=0; until [ "$(${fetch} | ${done})" = 4 ] && ${fetch} | grep -q '^sockscope_lifecycle_tracked_connections{.*} 0$'; do i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1; done
      ${fetch} > ${dir}/metrics.txt
      "$NODE" -e "fetch('http://127.0.0.1:19979/api/snapshot').then((r) => r.text()).then((t) => process.stdout.write(t))" > ${dir}/snapshot.json
      kill -TERM $A; wait $A; echo "agent=$?"`,
      support.mode!,
      120_000,
    );
    assert.match(r.stdout, /agent=0/, `${r.stderr}\n${readFileSync(`${dir}/agent.err`, 'utf8')}`);
    const metrics = readFileSync(`${dir}/metrics.txt`, 'utf8');
    const value = (family: string, labels: string): number => {
      const m = new RegExp(`^sockscope_${family}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(metrics);
      assert.ok(
        m,
        `${family}{${labels}} not in\n${metrics
          .split('\n')
          .filter((l) => l.includes('lifecycle'))
          .join('\n')}`,
      );
      return Number(m[1]);
    };
    for (const [port, file, n] of [
      [5001, 'short', 40],
      [5002, 'long', 6],
    ] as const) {
      const truth = JSON.parse(readFileSync(`${dir}/${file}.json`, 'utf8')) as Truth;
      const inbound = `direction="inbound",addr_port="${port}"`;
      const outbound = `direction="outbound",addr_port="remote:${port}"`;
      assert.equal(value('lifecycle_closed_total', inbound), n);
      assert.equal(value('lifecycle_closed_total', outbound), n);
      assert.equal(value('lifecycle_bytes_sent_total', inbound), truth.serverSent + n);
      assert.equal(value('lifecycle_bytes_received_total', inbound), truth.clientSent + n);
      assert.equal(value('lifecycle_bytes_sent_total', outbound), truth.clientSent + 2 * n);
      assert.equal(value('lifecycle_bytes_received_total', outbound), truth.serverSent + n);
      assert.equal(value('lifecycle_closed_bytes_acked_total', inbound), truth.serverSent + n);
      assert.equal(value('lifecycle_closed_retransmitted_segments_total', inbound), 0);
      assert.equal(value('lifecycle_close_rtt_seconds_count', outbound), n);
      assert.equal(value('lifecycle_close_rtt_seconds_bucket', `${outbound},le="\\+Inf"`), n);
    }
    // two gathers ended while the long connections lived: the second one's snapshot saw them, so their duration
    // is known (on a machine too loaded for two gathers meanwhile there is nothing to check)
    const gathers = (f: string) => Number(readFileSync(`${dir}/${f}`, 'utf8').trim().split(' ')[1]);
    if (gathers('gathers-after') - gathers('gathers-before') >= 2) {
      assert.ok(value('lifecycle_closed_duration_known_total', 'direction="inbound",addr_port="5002"') >= 1);
    }
    assert.equal(value('lifecycle_events_lost_total', ''), 0);
    assert.equal(value('lifecycle_untracked_total', ''), 0);
    // Prometheus's own linter has nothing to say about the families
    const promtool = findPromtool();
    if (promtool.path) {
      const lint = promtoolCheckMetrics(promtool.path, metrics);
      assert.equal(lint.status, 0, lint.output);
    }
    // the same counters, the RTT histogram and the durations go to the JSON (/api/snapshot) and line-protocol
    // (InfluxDB, stdout) outputs: the last point of each group, the same numbers as the exposition
    const snapshot = JSON.parse(readFileSync(`${dir}/snapshot.json`, 'utf8')) as {
      metrics: { name: string; tags: Record<string, string>; fields: Record<string, number> }[];
    };
    const lines = readFileSync(`${dir}/agent.out`, 'utf8').trim().split('\n');
    const lineFields = (direction: string, addrPort: string): Record<string, number> | undefined => {
      const last = lines
        .filter((l) => {
          const tags = l.split(' ')[0].split(',');
          return tags[0] === 'lifecycle' && tags.includes(`direction=${direction}`) && tags.includes(`addr_port=${addrPort}`);
        })
        .at(-1);
      return last === undefined
        ? undefined
        : Object.fromEntries(
            last
              .split(' ')[1]
              .split(',')
              .map((kv) => [kv.split('=')[0], Number(kv.split('=')[1].replace(/[iu]$/, ''))]),
          );
    };
    const LE = ['0.0001', '0.0005', '0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
    for (const [direction, addrPort] of [
      ['inbound', '5001'],
      ['outbound', 'remote:5001'],
      ['inbound', '5002'],
      ['outbound', 'remote:5002'],
    ]) {
      const labels = `direction="${direction}",addr_port="${addrPort}"`;
      const want: Record<string, number> = {
        rtt_count: value('lifecycle_close_rtt_seconds_count', labels),
        rtt_sum_seconds: value('lifecycle_close_rtt_seconds_sum', labels),
        duration_known: value('lifecycle_closed_duration_known_total', labels),
        duration_seconds_sum: value('lifecycle_closed_duration_seconds_total', labels),
        closed: value('lifecycle_closed_total', labels),
      };
      for (const le of LE)
        want[`rtt_le_${le.replace('.', '_').replace('+Inf', 'inf')}`] = value('lifecycle_close_rtt_seconds_bucket', `${labels},le="${le.replace('+', '\\+')}"`);
      assert.equal(want.rtt_le_inf, want.rtt_count);
      const json = snapshot.metrics.find((m) => m.name === 'lifecycle' && m.tags.direction === direction && m.tags.addr_port === addrPort);
      assert.ok(json, `${direction} ${addrPort} in /api/snapshot`);
      const line = lineFields(direction, addrPort);
      assert.ok(line, `${direction} ${addrPort} on stdout`);
      for (const [f, v] of Object.entries(want)) {
        assert.ok(Math.abs(json.fields[f] - v) <= 1e-9, `/api/snapshot ${direction} ${addrPort} ${f}: ${json.fields[f]}, /metrics ${v}`);
        assert.ok(Math.abs(line[f] - v) <= 1e-9, `line protocol ${direction} ${addrPort} ${f}: ${line[f]}, /metrics ${v}`);
      }
    }
    assert.ok(lines.some((l) => /^lifecycle_events,.* events=\d+/.test(l)));
  });
});
