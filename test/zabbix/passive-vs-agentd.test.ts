/**
 * sockscope's passive agent against the real zabbix_agentd 6.0, in a throwaway namespace holding the known
 * population plus listeners on named services (ssh 22, http 80 dual-stack, https 443, domain 53/udp):
 *
 *   - a table of net.tcp.socket.count / net.udp.socket.count keys (addresses, CIDRs, IPv6 and v4-mapped, service
 *     names, every state name, empty and malformed parameters) answered by sockscope's passive listener, whose
 *     snapshots come from a worker thread inside the namespace, equals `zabbix_agentd -t KEY` run in the same
 *     namespace: the value, or ZBX_NOTSUPPORTED with the same reason;
 *   - sockscope.* items and the LLD keys agree with what zabbix_agentd counts;
 *   - the captured requests of zabbix_agentd / zabbix_agent2 6.0.14 replay through sockscope's listener with
 *     the answers the agents gave.
 *
 * The passive listener itself runs in the test's own namespace, so its connections never enter the counts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePortGroups } from '../../src/collectors/netstat-port.js';
import { SnapshotWorker } from '../../src/agent/worker.js';
import { answerer } from '../../src/zabbix/answer.js';
import type { LatestGather } from '../../src/zabbix/items.js';
import { PassiveAgent } from '../../src/zabbix/passive.js';
import { netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { agentdConfig, answerValue, ask, CAPTURES, frame, parseAgentdTest, zabbixBinary } from '../helpers/zabbix.js';

const support = netnsSupport();
const agentd = zabbixBinary('zabbix_agentd');
const skip =
  support.skip ?? (support.mode !== 'root' ? 'the snapshot worker enters the namespace with setns(2), which needs root here' : undefined) ?? agentd.skip;
const VERSION = '0.0.0-test';

/** Named services the population lacks, made by a python3 child inside the namespace and held open. */
const SERVICES = String.raw`
import ctypes, socket, sys
ctypes.CDLL(None).prctl(1, 9)  # die with the test
S = socket
keep = []
def listen(fam, addr, port, v6only=None):
    s = S.socket(fam, S.SOCK_STREAM); s.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    if v6only is not None: s.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
    s.bind((addr, port)); s.listen(8); keep.append(s); return s
def pair(fam, host, port, l):
    c = S.socket(fam, S.SOCK_STREAM); c.connect((host, port)); a, _ = l.accept(); keep.extend([c, a])
ssh = listen(S.AF_INET, '127.0.0.1', 22)
http = listen(S.AF_INET6, '::', 80, 0)
https = listen(S.AF_INET6, '::1', 443, 1)
pair(S.AF_INET, '127.0.0.1', 22, ssh)
pair(S.AF_INET, '127.0.0.1', 80, http)   # server side v4-mapped ::ffff:127.0.0.1
pair(S.AF_INET6, '::1', 80, http)
pair(S.AF_INET6, '::1', 443, https)
def udp(fam, addr, port, v6only=None, peer=None):
    s = S.socket(fam, S.SOCK_DGRAM)
    if v6only is not None: s.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
    s.bind((addr, port))
    if peer: s.connect(peer)
    keep.append(s)
udp(S.AF_INET, '127.0.0.1', 53)
udp(S.AF_INET6, '::1', 53, 1)
udp(S.AF_INET6, '::', 5353, 0, ('::ffff:127.0.0.1', 53))   # v4-mapped both ends
udp(S.AF_INET, '127.0.0.1', 0, None, ('127.0.0.1', 53))
print('ready', flush=True)
sys.stdin.read()
`;

type Answer = { value: string } | { notSupported: string };

describe('passive checks compared with zabbix_agentd 6.0 in a network namespace', { skip: skip ?? false }, () => {
  let ns: PopulationNetns;
  let services: ChildProcess | undefined;
  let worker: SnapshotWorker;
  let passive: PassiveAgent;
  let port = 0;
  let latest: LatestGather | undefined;
  let conf: ReturnType<typeof agentdConfig>;

  const sockscope = async (key: string): Promise<Answer> => {
    const r = await ask(port, frame(key));
    assert.equal(r.ended, 'closed', `${key}: the connection ended by ${r.ended} ${r.error ?? ''}`);
    assert.ok(r.bytes.length > 0, `${key}: no answer`);
    const v = answerValue(r.bytes);
    return v.startsWith('ZBX_NOTSUPPORTED\0') ? { notSupported: v.slice(17) } : { value: v };
  };
  const zabbix = async (key: string): Promise<Answer> => {
    const v = parseAgentdTest(key, await ns.check(agentd.path!, ['-c', conf.file, '-t', key]));
    return v.value === 'ZBX_NOTSUPPORTED' ? { notSupported: v.reason ?? '' } : { value: v.value };
  };
  const num = (a: Answer, key: string): number => {
    assert.ok('value' in a, `${key}: ${JSON.stringify(a)}`);
    return Number(a.value);
  };

  before(async () => {
    ns = await PopulationNetns.start();
    services = spawn('nsenter', [...ns.enterArgs(), '--', 'python3', '-c', SERVICES], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      services!.stdout!.once('data', () => resolve());
      services!.once('exit', (c) => reject(new Error(`the services helper exited (${c})`)));
    });
    worker = new SnapshotWorker({ netns: `/proc/${ns.pid}/ns/net` });
    const { metrics, report } = await worker.gather({
      measurements: ['netstat', 'netstat_port', 'listen'],
      netstat: { perIpVersion: true },
      netstatPort: { groups: parsePortGroups([{ ports: ['22', '80'] }]), autoListenPorts: false },
      countProtocols: ['unix'],
    });
    latest = { metrics, report, time: metrics[0]?.time ?? Date.now() };
    passive = new PassiveAgent(
      { listen: ['127.0.0.1:0'], allow: ['127.0.0.1'] },
      answerer({
        version: VERSION,
        hostname: 'sockscope-test',
        latest: () => latest,
        snapshot: (o) => worker.snapshot(o),
      }),
    );
    port = Number((await passive.start())[0].split(':').pop());
    conf = agentdConfig();
  });
  after(async () => {
    await passive?.close();
    await worker?.close();
    if (services?.pid && services.exitCode === null) services.kill('SIGKILL');
    await ns?.stop();
    conf?.remove();
  });

  test('net.tcp.socket.count / net.udp.socket.count: sockscope answers what zabbix_agentd -t answers, key by key', async (t) => {
    const pop = ns.population;
    const v4 = pop.tcp.listeners.find((l) => l.name === 'node-v4')!.port;
    const dual = pop.tcp.listeners.find((l) => l.name === 'node-dual')!.port;
    const v6 = pop.tcp.listeners.find((l) => l.name === 'node-v6')!.port;
    const udpBound = pop.udp.bound.find((u) => u.family === 4 && !u.unreadDatagrams)!.port;
    const states = ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing'];
    const keys = [
      // empty parameters
      'net.tcp.socket.count',
      'net.tcp.socket.count[]',
      'net.tcp.socket.count[,,,,]',
      'net.tcp.socket.count[,"",]',
      // every state name
      ...states.map((s) => `net.tcp.socket.count[,,,,${s}]`),
      // addresses, CIDRs, IPv6, v4-mapped (Zabbix: an IPv4 parameter also matches v4-mapped sockets; an IPv6 one
      // skips them; a v4-mapped one with a prefix matches both)
      'net.tcp.socket.count[127.0.0.1]',
      'net.tcp.socket.count[::1]',
      'net.tcp.socket.count[::]',
      'net.tcp.socket.count[0.0.0.0]',
      'net.tcp.socket.count[::ffff:127.0.0.1]',
      'net.tcp.socket.count[::ffff:127.0.0.1,,,,established]',
      'net.tcp.socket.count[::ffff:7f00:1/120]',
      'net.tcp.socket.count[::ffff:0:0/96]',
      'net.tcp.socket.count[::ffff:0.0.0.0/0]',
      'net.tcp.socket.count[127.0.0.0/8]',
      'net.tcp.socket.count[0.0.0.0/0]',
      'net.tcp.socket.count[::/0]',
      'net.tcp.socket.count[::1/64,,,,listen]',
      'net.tcp.socket.count[127.000.000.001]',
      'net.tcp.socket.count[0:0:0:0:0:ffff:7f00:1]',
      'net.tcp.socket.count[,,::ffff:127.0.0.1]',
      'net.tcp.socket.count[,,127.0.0.1/32,,established]',
      'net.tcp.socket.count[127.0.0.1/32,,127.0.0.1/32,,established]',
      'net.tcp.socket.count[[127.0.0.1]]',
      'net.tcp.socket.count[ 127.0.0.1]',
      'net.tcp.socket.count["127.0.0.1",,,,"listen" ]',
      // ports: numbers, 0 (any), service names and aliases, as local and remote
      `net.tcp.socket.count[127.0.0.1,${v4},,,established]`,
      `net.tcp.socket.count[,${dual}]`,
      `net.tcp.socket.count[::1,${v6}]`,
      `net.tcp.socket.count[,,,${v4}]`,
      'net.tcp.socket.count[,0]',
      'net.tcp.socket.count[,080]',
      'net.tcp.socket.count[,ssh]',
      'net.tcp.socket.count[,http]',
      'net.tcp.socket.count[,www]',
      'net.tcp.socket.count[,https,,,listen]',
      'net.tcp.socket.count[::,http,,,listen]',
      'net.tcp.socket.count[,,127.0.0.1,ssh,established]',
      'net.tcp.socket.count[,,,http]',
      'net.tcp.socket.count[::ffff:127.0.0.1,http]',
      'net.tcp.socket.count[127.0.0.1,http]',
      // what Zabbix refuses, with its reasons
      'net.tcp.socket.count[localhost]',
      'net.tcp.socket.count[127.1]',
      'net.tcp.socket.count[127.0.0.1 ]',
      'net.tcp.socket.count[fe80::1%lo]',
      'net.tcp.socket.count[127.0.0.1/33]',
      'net.tcp.socket.count[127.0.0.1/]',
      'net.tcp.socket.count[::1/129]',
      'net.tcp.socket.count[,65536]',
      'net.tcp.socket.count[,-1]',
      'net.tcp.socket.count[,80x]',
      'net.tcp.socket.count[,nosuchservice]',
      'net.tcp.socket.count[,HTTP]',
      'net.tcp.socket.count[,,,,LISTEN]',
      'net.tcp.socket.count[,,,,bogus]',
      'net.tcp.socket.count[,,,,,]',
      'net.tcp.socket.count[,ssh,localhost]',
      'net.tcp.socket.count[,,,,listen',
      'net.tcp.socket.count[a]b]',
      // UDP
      'net.udp.socket.count',
      'net.udp.socket.count[,,,,established]',
      'net.udp.socket.count[,,,,unconn]',
      'net.udp.socket.count[,domain]',
      'net.udp.socket.count[::1,domain]',
      'net.udp.socket.count[::ffff:127.0.0.1]',
      'net.udp.socket.count[::]',
      'net.udp.socket.count[0.0.0.0/0,,,,established]',
      'net.udp.socket.count[,,127.0.0.1,domain]',
      `net.udp.socket.count[127.0.0.1,${udpBound},,,unconn]`,
      'net.udp.socket.count[::/0]',
      'net.udp.socket.count[,,,,listen]',
      'net.udp.socket.count[,ssh]',
      'net.udp.socket.count[,,,,,]',
    ];
    const rows: { key: string; sockscope: Answer; zabbix: Answer }[] = [];
    for (const key of keys) {
      const [s, z] = [await sockscope(key), await zabbix(key)];
      rows.push({ key, sockscope: s, zabbix: z });
    }
    const show = (a: Answer) => ('value' in a ? a.value : `ZBX_NOTSUPPORTED: ${a.notSupported}`);
    for (const r of rows)
      t.diagnostic(`${r.key} → ${show(r.zabbix)}${JSON.stringify(r.sockscope) === JSON.stringify(r.zabbix) ? '' : `   sockscope: ${show(r.sockscope)}`}`);
    const differ = rows.filter((r) => JSON.stringify(r.sockscope) !== JSON.stringify(r.zabbix));
    assert.deepEqual(differ, [], `${differ.length} of ${rows.length} keys differ from zabbix_agentd`);
    // the table is not vacuous: it holds real non-zero counts in several families, and refusals
    const values = rows.filter((r) => 'value' in r.zabbix).map((r) => Number((r.zabbix as { value: string }).value));
    assert.ok(rows.length >= 20 && values.length >= 20, `${rows.length} keys, ${values.length} with values`);
    assert.ok(values.filter((v) => v > 0).length >= 20, 'at least 20 keys count something');
    assert.ok(rows.some((r) => 'notSupported' in r.zabbix));
    t.diagnostic(`${rows.length} keys compared (${values.length} values, ${rows.length - values.length} ZBX_NOTSUPPORTED)`);
  });

  test('agent.ping, agent.version, agent.hostname; with any parameter (even []) refused as zabbix_agentd refuses them', async () => {
    assert.deepEqual(await sockscope('agent.ping'), { value: '1' });
    assert.deepEqual(await zabbix('agent.ping'), { value: '1' });
    assert.deepEqual(await sockscope('agent.version'), { value: VERSION }); // sockscope's version, not 6.0.x: documented
    assert.deepEqual(await sockscope('agent.hostname'), { value: 'sockscope-test' });
    assert.deepEqual(await sockscope('no.such.key[1]'), await zabbix('no.such.key[1]'));
    for (const key of ['agent.ping[]', 'agent.ping[x]', 'agent.ping[ ]', 'agent.version[1]', 'agent.hostname[a,b]', 'agent.hostname[]', 'agent.ping[a]b]']) {
      const z = await zabbix(key);
      assert.ok('notSupported' in z, `zabbix_agentd refuses ${key}`);
      assert.deepEqual(await sockscope(key), z, key);
    }
  });

  test('sockscope.* items agree with zabbix_agentd counting the same namespace', async () => {
    for (const [item, key] of [
      ['sockscope.netstat[tcp_listen]', 'net.tcp.socket.count[,,,,listen]'],
      ['sockscope.netstat[tcp_established]', 'net.tcp.socket.count[,,,,established]'],
      ['sockscope.netstat[tcp_close_wait]', 'net.tcp.socket.count[,,,,close_wait]'],
      ['sockscope.netstat[tcp_syn_sent]', 'net.tcp.socket.count[,,,,syn_sent]'],
      ['sockscope.port[22,tcp_established]', 'net.tcp.socket.count[,22,,,established]'],
      ['sockscope.port[80,tcp_established]', 'net.tcp.socket.count[,80,,,established]'],
      ['sockscope.port[80,tcp_listen]', 'net.tcp.socket.count[,80,,,listen]'],
      ['sockscope.port["80",tcp_listen]', 'net.tcp.socket.count[,80,,,listen]'], // quoted spelling of the same item
    ] as const) {
      const s = num(await sockscope(item), item);
      const z = num(await zabbix(key), key);
      assert.equal(s, z, `${item} = ${s}, zabbix_agentd ${key} = ${z}`);
    }
    assert.equal(num(await sockscope('sockscope.port[80,tcp_established]'), ''), 2, 'http: one v4-mapped and one ::1 connection');
    for (const item of [
      'sockscope.sockets[tcp]',
      'sockscope.sockets[udp]',
      'sockscope.sockets[unix]',
      'sockscope.local_port_range.size',
      'sockscope.listen.backlog.max_pct',
    ]) {
      assert.ok(num(await sockscope(item), item) >= 0, item);
    }
    assert.ok(num(await sockscope('sockscope.sockets[unix]'), '') > 0, 'the population holds unix sockets');
    assert.deepEqual(await sockscope('sockscope.netstat[no_such_field]'), { notSupported: 'Unsupported item key.' });
    // a port group or listening port that is not there (any more): 0, as the items of a port that stopped
    // listening read while Zabbix keeps them (the rules' lifetime); net.tcp.socket.count says 0 too
    assert.equal(num(await zabbix('net.tcp.socket.count[,1,,,listen]'), ''), 0);
    for (const item of [
      'sockscope.port[1,tcp_listen]',
      'sockscope.port["[::1]:1",tcp_established]',
      'sockscope.listen[1,accept_queue]',
      'sockscope.listen[1,queue_pct]',
    ]) {
      assert.deepEqual(await sockscope(item), { value: '0' }, item);
    }
    // the lifecycle collector's items (off by default, not enabled here): not supported, not 0
    for (const item of [
      'sockscope.port[1,no_such_field]',
      'sockscope.listen[x,backlog]',
      'sockscope.listen[1]',
      'sockscope.port[,tcp_listen]',
      'sockscope.lifecycle[inbound:22,closed]',
      'sockscope.lifecycle.events[lost]',
      'sockscope.lifecycle.discovery',
    ]) {
      assert.deepEqual(await sockscope(item), { notSupported: 'Unsupported item key.' }, item);
    }
  });

  test('LLD: sockscope.ports.discovery lists every listening port once; sockscope.portgroups.discovery the groups', async () => {
    const text = (a: Answer) => {
      assert.ok('value' in a, JSON.stringify(a));
      return a.value;
    };
    const ports = JSON.parse(text(await sockscope('sockscope.ports.discovery'))) as { '{#PORT}': string; '{#ADDR}': string }[];
    assert.ok(Array.isArray(ports) && ports.length > 0);
    const seen = new Set(ports.map((r) => r['{#PORT}']));
    assert.equal(seen.size, ports.length, 'one row per port (duplicate {#PORT} values would collide as item keys)');
    for (const p of ['22', '80', '443']) assert.ok(seen.has(p), `port ${p} discovered`);
    assert.equal(ports.find((r) => r['{#PORT}'] === '80')!['{#ADDR}'], '[::]');
    let listeners = 0;
    for (const r of ports) {
      const n = num(await zabbix(`net.tcp.socket.count[,${r['{#PORT}']},,,listen]`), r['{#PORT}']);
      assert.ok(n >= 1, `zabbix_agentd sees a listener on ${r['{#PORT}']}`);
      listeners += n;
    }
    assert.equal(listeners, num(await zabbix('net.tcp.socket.count[,,,,listen]'), ''), 'the discovered ports cover every listener zabbix_agentd counts');
    const groups = JSON.parse(text(await sockscope('sockscope.portgroups.discovery')));
    assert.deepEqual(groups.map((g: Record<string, string>) => g['{#ADDR_PORT}']).sort(), ['22', '80']);
  });

  test('captured 6.0 agent requests replay with the answers zabbix_agentd gave (zabbix_agent2 where noted)', async (t) => {
    const cap = (name: string) => readFileSync(join(CAPTURES, name));
    const listenNow = await zabbix('net.tcp.socket.count[,,,,listen]');
    for (const agent of ['agentd', 'agent2'] as const) {
      const pre = `${agent}_6.0.14_passive.`;
      // agent.ping and the 7.0 JSON request: the same value from both agents; byte for byte zabbix_agentd's frame
      // (agent2 puts the data length in the reserved header field, agentd and sockscope 0)
      for (const what of ['framed_agent.ping', 'framed_json_7.0_passive_checks']) {
        const r = await ask(port, cap(`${pre}${what}.request.bin`));
        const expected = cap(`${pre}${what}.response.bin`);
        assert.equal(answerValue(r.bytes), answerValue(expected), `${agent} ${what}`);
        if (agent === 'agentd') assert.deepEqual(r.bytes, expected, `${what}: byte for byte`);
      }
      // the listen count depends on the population: the captured frame's header, today's value from zabbix_agentd
      const r = await ask(port, cap(`${pre}framed_net.tcp.socket.count_listen.request.bin`));
      assert.deepEqual({ value: answerValue(r.bytes) }, listenNow);
      assert.deepEqual(r.bytes.subarray(0, 5), cap(`${pre}framed_net.tcp.socket.count_listen.response.bin`).subarray(0, 5));
      // unframed "agent.ping\n": no answer, the connection is closed (the captured response is empty)
      const u = await ask(port, cap(`${pre}unframed_agent.ping_newline.request.bin`));
      assert.equal(cap(`${pre}unframed_agent.ping_newline.response.bin`).length, 0);
      assert.equal(u.bytes.length, 0);
      assert.ok(u.ended === 'closed' || u.error === 'ECONNRESET', `closed by the server (${u.ended} ${u.error ?? ''})`);
      // an unsupported key: ZBX_NOTSUPPORTED; the reason is zabbix_agentd's ("Unsupported item key.");
      // zabbix_agent2 says "Unknown metric no.such.key"
      const n = await ask(port, cap(`${pre}framed_unsupported_key.request.bin`));
      const theirs = answerValue(cap(`${pre}framed_unsupported_key.response.bin`));
      assert.ok(answerValue(n.bytes).startsWith('ZBX_NOTSUPPORTED\0') && theirs.startsWith('ZBX_NOTSUPPORTED\0'));
      if (agent === 'agentd') assert.deepEqual(n.bytes, cap(`${pre}framed_unsupported_key.response.bin`));
      else t.diagnostic(`zabbix_agent2's reason ${JSON.stringify(theirs.slice(17))}, sockscope's ${JSON.stringify(answerValue(n.bytes).slice(17))}`);
    }
  });
});
