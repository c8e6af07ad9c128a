/**
 * sockscope against a real Zabbix 6.0 server (Debian's zabbix-server-pgsql 6.0.14 with PostgreSQL, the
 * frontend's JSON-RPC API under `php -S`), all started by this file in network namespaces of its own:
 *
 *   srv  PostgreSQL (unix socket), zabbix_server (127.0.0.1:10051), php -S (127.0.0.1:8080)
 *   mon  `sockscope zabbix send` (host zbx-send) and the pathologies: a listener with a full accept queue,
 *        connections left in CLOSE_WAIT; nothing else runs there, so `ss` and Zabbix see the same sockets
 *   agt  `sockscope agent` with [outputs.zabbix] (host zbx-agent) and the passive listener (host zbx-passive,
 *        polled by zabbix_server through "check now" tasks)
 *
 * 127.0.0.1:10051 in mon and agt reaches the server's trapper, 127.0.0.1:10050 in srv reaches the agent
 * (unix-socket relays). Asserted: both templates import through configuration.import; the hosts are created;
 * once discovery has run a push has processed == total and failed == 0; every item (discovered ones included)
 * holds what `ss` says in its namespace; the triggers fire on the pathologies and recover when they are gone;
 * a port that stops listening reads 0 while Zabbix keeps its items; every passive item is supported.
 *
 * `npm run test:zabbix-server` (not part of `npm test`); .ci/run calls it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { AgentProcess, BIN, cleanEnv, type Daemon } from '../helpers/agent.js';
import { holdPython } from '../helpers/netns.js';
import { parseSs, type SsRow } from '../helpers/ss.js';
import { sleep, until } from '../helpers/wait.js';
import { findStack, linkPort, Netns, ZabbixStack } from './stack.js';
import { ITEMS } from '../../src/zabbix/catalog.js';
import { RTT_BUCKETS_SECONDS } from '../../src/collectors/lifecycle.js';

const found = findStack();
const LOAD = fileURLToPath(new URL('../helpers/lifecycle-load.js', import.meta.url));
type Obj = Record<string, any>;

const TRAPPER = 'sockscope by Zabbix trapper';
/** item.get's type of a calculated item */
const CALCULATED = '15';
const PASSIVE = 'sockscope by Zabbix agent';

/** ss state names for the netstat fields */
const SS_STATE: Record<string, string> = {
  tcp_established: 'ESTAB',
  tcp_syn_sent: 'SYN-SENT',
  tcp_syn_recv: 'SYN-RECV',
  tcp_fin_wait1: 'FIN-WAIT-1',
  tcp_fin_wait2: 'FIN-WAIT-2',
  tcp_time_wait: 'TIME-WAIT',
  tcp_close: 'UNCONN',
  tcp_close_wait: 'CLOSE-WAIT',
  tcp_last_ack: 'LAST-ACK',
  tcp_listen: 'LISTEN',
  tcp_closing: 'CLOSING',
};

/** What `ss` says in `ns`, as the value each sockscope key must hold. */
function ssOracle(ns: Netns): { text: string; expect(key: string): number | undefined } {
  const tcp = parseSs(ns.run('ss', ['-tan'])).rows;
  const udp = parseSs(ns.run('ss', ['-uan'])).rows;
  const unix = parseSs(ns.run('ss', ['-xan'])).rows;
  const [low, high] = ns.run('cat', ['/proc/sys/net/ipv4/ip_local_port_range']).trim().split(/\s+/).map(Number);
  const field = (rows: { tcp: SsRow[]; udp: SsRow[] }, f: string) =>
    f === 'udp_socket' ? rows.udp.length : f === 'tcp_none' ? 0 : SS_STATE[f] ? rows.tcp.filter((r) => r.state === SS_STATE[f]).length : undefined;
  const listeners = (port?: number) => tcp.filter((r) => r.state === 'LISTEN' && (port === undefined || r.local.port === port));
  const pct = (r: SsRow) => (r.sendQ > 0 ? (r.recvQ / r.sendQ) * 100 : 0);
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    // the listing itself, to compare two moments (TIME-WAIT timers and queues aside, sockets are what matter)
    text: [...tcp, ...udp]
      .map((r) => `${r.state} ${r.recvQ} ${r.local.address}:${r.local.port} ${r.peer.address}:${r.peer.port}`)
      .sort()
      .join('\n'),
    expect(key: string): number | undefined {
      let m = /^sockscope\.netstat\[(\w+)\]$/.exec(key);
      if (m) return field({ tcp, udp }, m[1]);
      m = /^sockscope\.sockets\[(tcp|udp|unix)\]$/.exec(key);
      if (m) return { tcp, udp, unix }[m[1] as 'tcp']!.length;
      m = /^sockscope\.port\[(\d+),(\w+)\]$/.exec(key);
      if (m) {
        const port = Number(m[1]);
        return field({ tcp: tcp.filter((r) => r.local.port === port), udp: udp.filter((r) => r.local.port === port) }, m[2]);
      }
      m = /^sockscope\.listen\[(\d+),(\w+)\]$/.exec(key);
      if (m) {
        const ls = listeners(Number(m[1]));
        if (m[2] === 'accept_queue') return ls.reduce((n, r) => n + r.recvQ, 0);
        if (m[2] === 'backlog') return ls.reduce((n, r) => n + r.sendQ, 0);
        if (m[2] === 'queue_pct') return round1(Math.max(0, ...ls.map(pct)));
      }
      if (key === 'sockscope.listen.backlog.max_pct') return round1(Math.max(0, ...listeners().map(pct)));
      if (key === 'sockscope.local_port_range.size') return high - low + 1;
      return undefined;
    },
  };
}

/**
 * `sockscope zabbix send --state FILE` in `ns` (the file remembers the discovered ports, so a port that stops
 * listening is sent as 0); the server's answer as printed, the exit status and stderr.
 */
function send(
  ns: Netns,
  host: string,
  state: string,
): {
  status: number | null;
  answer: { response: string; info: string; sent: number };
  processed: number;
  failed: number;
  total: number;
  stderr: string;
  clock: number;
} {
  const clock = Math.floor(Date.now() / 1000);
  const r = spawnSync(
    'nsenter',
    [...ns.enterArgs(), '--', process.execPath, BIN, 'zabbix', 'send', '--server', '127.0.0.1:10051', '--host', host, '--state', state],
    { encoding: 'utf8', timeout: 30_000, env: cleanEnv() },
  );
  if (!r.stdout.trim()) throw new Error(`zabbix send printed nothing (${r.status}): ${r.stderr}`);
  const answer = JSON.parse(r.stdout);
  const num = (n: string) => Number(new RegExp(`${n}: (\\d+)`).exec(answer.info)?.[1]);
  return { status: r.status, answer, processed: num('processed'), failed: num('failed'), total: num('total'), stderr: r.stderr, clock };
}

describe('a real Zabbix 6.0 server', { skip: found.skip, timeout: 900_000 }, () => {
  let srv: Netns;
  let mon: Netns;
  let agt: Netns;
  let zbx: ZabbixStack;
  let relays: Daemon[] = [];
  let agent: AgentProcess | undefined;
  const stoppers: (() => Promise<void>)[] = [];
  const hostids: Record<string, string> = {};
  /** items of the collectors that are off by default (lifecycle, doctor): in the template, pushed only by an agent running them */
  const GATED_ITEMS = new Set(ITEMS.filter((i) => i.collector).map((i) => i.key));
  /** the agent's answer before its first gather: Zabbix marks the item unsupported until it is checked again */
  const NO_DATA_YET = /^No data yet/;
  const templateids: Record<string, string> = {};
  const t0 = Date.now();

  before(async () => {
    [srv, mon, agt] = await Promise.all([Netns.start('srv'), Netns.start('mon'), Netns.start('agt')]);
    zbx = await ZabbixStack.start(found.paths!, srv, (s) => console.log(`# ${s}`));
    relays = [...(await linkPort(mon, srv, 10051, zbx.dir)), ...(await linkPort(agt, srv, 10051, zbx.dir)), ...(await linkPort(srv, agt, 10050, zbx.dir))];
  });

  after(async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await agent?.stop('SIGTERM', 10_000);
    for (const r of relays) await r.stop('SIGKILL');
    await zbx?.stop();
    await Promise.all([srv, mon, agt].map((n) => n?.stop()));
    console.log(`# the Zabbix server suite took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  /** Items of a host, by key. */
  const items = async (host: string): Promise<Map<string, Obj>> => {
    const list: Obj[] = await zbx.call('item.get', {
      hostids: hostids[host],
      output: ['itemid', 'key_', 'lastvalue', 'lastclock', 'lastns', 'state', 'error', 'flags', 'value_type', 'type'],
      selectItemDiscovery: ['ts_delete'],
    });
    return new Map(list.map((i) => [i.key_, i]));
  };
  const problems = async (host: string): Promise<string[]> => {
    const ts: Obj[] = await zbx.call('trigger.get', {
      hostids: hostids[host],
      output: ['description', 'value'],
      expandDescription: true,
      filter: { value: 1 },
    });
    return ts.map((t) => t.description).sort();
  };

  test('both templates import through configuration.import', async () => {
    for (const [name, args] of [
      [TRAPPER, []],
      [PASSIVE, ['--passive']],
    ] as const) {
      const yaml = spawnSync(process.execPath, [BIN, 'zabbix', 'template', ...args], { encoding: 'utf8' }).stdout;
      const all = { createMissing: true, updateExisting: true };
      const ok = await zbx.call('configuration.import', {
        format: 'yaml',
        source: yaml,
        rules: {
          groups: { createMissing: true },
          templates: all,
          items: all,
          discoveryRules: all,
          triggers: all,
          graphs: all,
          valueMaps: all,
          templateLinkage: { createMissing: true },
        },
      });
      assert.equal(ok, true, name);
      const [tpl] = await zbx.call('template.get', {
        filter: { host: name },
        output: ['templateid'],
        selectItems: 'count',
        selectDiscoveries: 'count',
        selectTriggers: 'count',
        selectGraphs: 'count',
        selectMacros: 'extend',
      });
      assert.ok(tpl, `${name} exists after the import`);
      templateids[name] = tpl.templateid;
      const doc = (await import('yaml')).parse(yaml).zabbix_export;
      const t = doc.templates[0];
      assert.equal(Number(tpl.items), t.items.length, `${name}: items`);
      assert.equal(Number(tpl.discoveries), t.discovery_rules.length, `${name}: discovery rules`);
      assert.equal(Number(tpl.triggers), doc.triggers.length + t.items.reduce((n: number, i: Obj) => n + (i.triggers?.length ?? 0), 0), `${name}: triggers`);
      assert.equal(Number(tpl.graphs), doc.graphs.length, `${name}: graphs`);
      // importing again updates the same objects (uuids derived from names)
      assert.equal(
        await zbx.call('configuration.import', {
          format: 'yaml',
          source: yaml,
          rules: { groups: { createMissing: true }, templates: all, items: all, discoveryRules: all, triggers: all, graphs: all },
        }),
        true,
      );
    }
  });

  test('hosts: two pushing (zabbix send, the agent), one polled (passive agent interface)', async () => {
    const [group] = (await zbx.call('hostgroup.create', { name: 'sockscope tests' })).groupids;
    // thresholds the pathologies cross (5 CLOSE_WAIT > 3; a full accept queue, 100 % > 80 %) for 5 s rather
    // than the template's 10 and 5 minutes, so the test need not wait that long
    const macros = [
      { macro: '{$SOCKSCOPE.CLOSE_WAIT.MAX}', value: '3' },
      { macro: '{$SOCKSCOPE.CLOSE_WAIT.PERIOD}', value: '5s' },
      { macro: '{$SOCKSCOPE.BACKLOG.PERIOD}', value: '5s' },
    ];
    for (const [host, tpl, iface] of [
      ['zbx-send', TRAPPER, false],
      ['zbx-agent', TRAPPER, false],
      ['zbx-passive', PASSIVE, true],
    ] as const) {
      const r = await zbx.call('host.create', {
        host,
        groups: [{ groupid: group }],
        templates: [{ templateid: templateids[tpl] }],
        macros,
        ...(iface ? { interfaces: [{ type: 1, main: 1, useip: 1, ip: '127.0.0.1', dns: '', port: '10050' }] } : {}),
      });
      hostids[host] = r.hostids[0];
    }
    const hosts: Obj[] = await zbx.call('host.get', { hostids: Object.values(hostids), output: ['host'], selectParentTemplates: ['host'] });
    assert.equal(hosts.length, 3);
    for (const h of hosts) assert.equal(h.parentTemplates.length, 1, h.host);
  });

  let pathologies: { backlog: number; closewait: number; stop: () => Promise<void> } | undefined;

  test('zabbix send: before discovery the refusal names the discovered items; once discovery has run processed == total, failed == 0', async () => {
    // the host reaches the server's configuration cache within a second or two
    const first = await until(
      'the server to know host zbx-send',
      () => {
        const r = send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        return r.processed > 0 ? r : undefined;
      },
      30_000,
      500,
    );
    if (first.failed > 0) {
      // the items of the discovered ports did not exist yet: the message says so (and not "check the template")
      assert.equal(first.status, 1);
      console.log(`# the first push: ${first.answer.info}; ${first.stderr.trim()}`);
      assert.match(
        first.stderr,
        /that is as many as the \d+ items of discovered port groups .* and the \d+ items of discovered listening TCP ports .*: likely Zabbix has not created them yet/,
        first.stderr,
      );
    }
    // discovery creates the items; the next pushes are accepted whole
    const accepted = await until(
      'a push with failed == 0',
      () => {
        const r = send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        return r.failed === 0 ? r : undefined;
      },
      60_000,
      1000,
    );
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.equal(accepted.processed, accepted.total);
    assert.equal(accepted.answer.sent, accepted.total);
    const now = await items('zbx-send');
    const rules: Obj[] = await zbx.call('discoveryrule.get', { hostids: hostids['zbx-send'], output: ['key_', 'state', 'error'] });
    assert.equal(rules.length, 3);
    for (const r of rules) assert.equal(r.state, '0', `${r.key_}: ${r.error}`);
    // the lifecycle and doctor collectors are off by default: their items are in the template, nothing of them is pushed
    for (const key of GATED_ITEMS) assert.ok(!Number(now.get(key)?.lastclock), `${key}: not pushed by zabbix send`);
    assert.ok(GATED_ITEMS.has('sockscope.doctor[close_wait,sockets]') && GATED_ITEMS.has('sockscope.doctor.findings'), 'the doctor items are gated');
    assert.ok(
      !now.has('sockscope.lifecycle.events[lost]') ||
        !now.get('sockscope.lifecycle.events[lost]')!.lastclock ||
        now.get('sockscope.lifecycle.events[lost]')!.lastclock === '0',
    );
    assert.ok(![...now.keys()].some((k) => k.startsWith('sockscope.lifecycle[')), 'no lifecycle group discovered');
    // every item sent is an item of the host (the two rules are counted in total too)
    // (the lifecycle and doctor collectors' items and rule are the template's, not pushed with the default collectors)
    const pushable = [...now.keys(), ...rules.map((r) => r.key_)].filter((k) => !GATED_ITEMS.has(k) && k !== 'sockscope.lifecycle.discovery');
    assert.equal(accepted.total, pushable.length, `${accepted.total} sent, ${pushable.length} items and rules on the host (lifecycle's and doctor's aside)`);
    const discovered = [...now.values()].filter((i) => i.flags === '4');
    assert.ok(
      discovered.some((i) => /^sockscope\.port\[10051,/.test(i.key_)),
      "the relay's port 10051 is a discovered port group",
    );
    assert.ok(
      discovered.some((i) => /^sockscope\.listen\[10051,/.test(i.key_)),
      'and a discovered listening port, without a key collision',
    );
  });

  test('pathologies in mon (a full accept queue, CLOSE_WAIT piling up): every item, discovered ones included, holds what ss says', async () => {
    const made = await holdPython(
      mon.asNs,
      `
import json, socket, sys, time
a = socket.socket(); a.bind(('127.0.0.1', 0)); a.listen(4)
pending = []
for i in range(4):
    c = socket.socket(); c.connect(a.getsockname()); pending.append(c)
b = socket.socket(); b.bind(('127.0.0.1', 0)); b.listen(16)
clients = [socket.create_connection(b.getsockname()) for i in range(5)]
accepted = [b.accept()[0] for i in range(5)]
for c in clients: c.close()
time.sleep(0.3)
print(json.dumps({'backlog': a.getsockname()[1], 'closewait': b.getsockname()[1]}), flush=True)
sys.stdin.read()
`,
      'the pathologies',
    );
    pathologies = { ...JSON.parse(made.line), stop: made.stop };
    stoppers.push(made.stop);
    // new listening ports: discovery, then a push that is accepted whole. The gather happens before the push
    // connects, so ss just before the push is what it must hold; a TIME-WAIT of an earlier push can expire in
    // between, so a round that differs is tried again (a wrong value differs every time)
    let differ: string[] = [];
    let compared = 0;
    const all = await until(
      'a whole push whose every item holds what ss said just before it',
      async () => {
        const oracle = ssOracle(mon);
        const r = send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        if (r.failed !== 0) return undefined;
        const m = await until(
          'every item to get the pushed value',
          async () => {
            // the lifecycle and doctor collectors' items (off by default) are the template's but zabbix send pushes none
            const x = new Map([...(await items('zbx-send'))].filter(([key]) => !GATED_ITEMS.has(key)));
            return [...x.values()].every((i) => Number(i.lastclock) >= r.clock) ? x : undefined;
          },
          30_000,
          500,
        );
        differ = [];
        compared = 0;
        for (const [key, item] of m) {
          const want = oracle.expect(key);
          assert.notEqual(want, undefined, `${key}: ss gives no value for it`);
          compared++;
          if (Number(item.lastvalue) !== want) differ.push(`${key}: zabbix ${item.lastvalue}, ss ${want}`);
        }
        if (differ.length) console.log(`# ${differ.length} of ${compared} differ: ${differ.join('; ')}`);
        return differ.length === 0 ? m : undefined;
      },
      90_000,
      1000,
    ).catch((e) => assert.fail(`${(e as Error).message}\n${differ.length} of ${compared} items differ from ss: ${differ.join('\n')}`));
    const p = pathologies!;
    assert.equal(Number(all.get(`sockscope.listen[${p.backlog},accept_queue]`)?.lastvalue), 4);
    assert.equal(Number(all.get(`sockscope.listen[${p.backlog},queue_pct]`)?.lastvalue), 100);
    assert.equal(Number(all.get(`sockscope.port[${p.closewait},tcp_close_wait]`)?.lastvalue), 5);
    assert.ok(compared >= 60, `${compared} items compared`);
    assert.deepEqual(differ, []);
  });

  test('triggers fire on the pathologies and recover when they are gone', async () => {
    const p = pathologies!;
    const firing = [
      'A listen backlog is nearly full (connections will be dropped)',
      'CLOSE_WAIT sockets piling up (an application is not closing connections)',
      `Listen backlog of port ${p.backlog} nearly full (connections will be dropped)`,
    ];
    await until(
      'the triggers to fire',
      async () => {
        send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        const now = await problems('zbx-send');
        return firing.every((f) => now.includes(f)) ? now : undefined;
      },
      60_000,
      1000,
    ).catch(async (e) => {
      const ts: Obj[] = await zbx.call('trigger.get', {
        hostids: hostids['zbx-send'],
        output: ['description', 'value', 'state', 'error', 'expression'],
        expandDescription: true,
        expandExpression: true,
      });
      assert.fail(`${(e as Error).message}: ${JSON.stringify(ts)}`);
    });
    await p.stop();
    // the port with the full queue is no longer discovered: its items read 0 (--state), so its trigger recovers too
    await until(
      'the triggers to recover',
      async () => {
        send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        const now = await problems('zbx-send');
        return firing.some((f) => now.includes(f)) ? undefined : now;
      },
      60_000,
      1000,
    );
    // the server's LLD workers process the discovery rows apart from the values: the trigger may recover before the
    // rule has marked the port's items lost
    const lost = await until(
      'its items to be "not discovered anymore"',
      async () => {
        const item = (await items('zbx-send')).get(`sockscope.listen[${p.backlog},queue_pct]`);
        if (item && Number(item.itemDiscovery?.ts_delete) > 0) return item;
        send(mon, 'zbx-send', join(zbx.dir, 'zbx-send.state'));
        return undefined;
      },
      60_000,
      1000,
    );
    assert.equal(Number(lost.lastvalue), 0);
  });

  test("the agent's [outputs.zabbix]: after discovery every push is accepted; a port that stops listening reads 0 while Zabbix keeps it", async () => {
    const dir = zbx.dir;
    const config = join(dir, 'agent.toml');
    writeFileSync(
      config,
      [
        '[agent]',
        '  interval = "2s"',
        '  hostname = "zbx-agent"',
        '[outputs.prometheus]',
        '  enabled = false',
        '[outputs.zabbix]',
        '  enabled = true',
        '  server = "127.0.0.1:10051"',
        '  host = "zbx-agent"',
        // its pushes are connections that close (outbound to 10051), the server's polls too (inbound 10050)
        '[collectors.lifecycle]',
        '  enabled = true',
        // what the agent computed, to compare with what Zabbix stored (the lifecycle histogram test below)
        '[outputs.stdout]',
        '  enabled = true',
        // the doctor's checks between two gathers (processes = false, the default: naming the process walks every
        // descriptor of the machine at each gather; test/doctor/agent.test.ts covers it)
        '[collectors.doctor]',
        '  enabled = true',
        '[zabbix_agent]',
        '  enabled = true',
        '  listen = ["127.0.0.1:10050"]',
        '  allow = ["127.0.0.1"]',
        '',
      ].join('\n'),
    );
    const gone = await holdPython(
      agt.asNs,
      `
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(7)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`,
      'a listener that will stop',
    );
    stoppers.push(gone.stop);
    const port = Number(gone.line);
    agent = new AgentProcess(['--config', config], { ns: agt.asNs });
    // the first pushes carry items discovery has not created yet: refused, then accepted whole
    await agent.waitLog('the refusal', (l) => /refused \d+ of \d+ items of host "zbx-agent"/.test(l.msg), 30_000);
    const recovered = await agent.waitLog('every item accepted', (l) => /accepts every item again/.test(l.msg), 90_000);
    const from = agent.logs.indexOf(recovered);
    let m = await until(
      `port ${port}'s items to hold its backlog`,
      async () => {
        const x = await items('zbx-agent');
        return Number(x.get(`sockscope.listen[${port},backlog]`)?.lastvalue) === 7 ? x : undefined;
      },
      30_000,
      500,
    );
    const t = Math.floor(Date.now() / 1000);
    m = await until(
      'every item of zbx-agent to get a value from the agent',
      async () => {
        const x = await items('zbx-agent');
        // (the calculated ones are the server's, from values over a window: the lifecycle test below checks them)
        return [...x.values()].every((i) => i.type === CALCULATED || Number(i.lastclock) >= t) ? x : undefined;
      },
      90_000,
      1000,
    );
    assert.ok(m.size >= 40, `${m.size} items`);
    // the lifecycle items: its pushes are closed connections to the trapper, stored per second
    m = await until(
      'the lifecycle group of the pushes to be discovered and get a rate',
      async () => {
        const x = await items('zbx-agent');
        const closed = x.get('sockscope.lifecycle[outbound:remote:10051,closed]');
        return closed && Number(closed.lastclock) > 0 && Number(closed.lastvalue) > 0 ? x : undefined;
      },
      60_000,
      1000,
    );
    assert.equal(m.get('sockscope.lifecycle[outbound:remote:10051,closed]')!.value_type, '0', 'FLOAT: a rate');
    assert.ok(Number(m.get('sockscope.lifecycle[outbound:remote:10051,bytes_sent]')!.lastvalue) > 0, 'bytes sent per second');
    assert.equal(Number(m.get('sockscope.lifecycle.events[lost]')!.lastvalue), 0, 'no event lost');
    assert.ok(Number(m.get('sockscope.lifecycle.events[received]')!.lastvalue) > 0, 'events received per second');
    // the port stops listening: discovery loses it, its items stay (the rule's lifetime) and read 0
    await gone.stop();
    await until(
      `port ${port}'s items to be lost by discovery and read 0`,
      async () => {
        const x = await items('zbx-agent');
        const keys = ['accept_queue', 'backlog', 'queue_pct'].map((f) => x.get(`sockscope.listen[${port},${f}]`));
        return keys.every((i) => i && Number(i.itemDiscovery?.ts_delete) > 0 && Number(i.lastvalue) === 0) ? true : undefined;
      },
      60_000,
      1000,
    );
    await sleep(5000); // two more pushes, the lost port's zeros included
    assert.equal(
      agent.count(/refused \d+ of \d+ items/),
      agent.logs.slice(0, from).filter((l) => /refused/.test(l.msg)).length,
      'no refusal since discovery ran',
    );
  });

  test("lifecycle groups: the RTT histogram and duration counters Zabbix stores are the agent's, and its calculated percentiles and means are those of the connections closed in the window", async () => {
    assert.ok(agent, 'the agent of the test above');
    const a = agent!;
    const PORT = 5097;
    const load = (n: number, holdMs = 0) => {
      const r = spawnSync('nsenter', [...agt.enterArgs(), '--', process.execPath, LOAD, String(PORT), String(n), ...(holdMs ? [String(holdMs)] : [])], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { connections: number };
    };
    const GROUPS = [`inbound:${PORT}`, `outbound:remote:${PORT}`];
    const BOUNDS = [...RTT_BUCKETS_SECONDS.map(String), '+Inf'];
    const bucketKey = (le: string, g: string) => `sockscope.lifecycle.rtt[${le},${g}]`;
    const key = (g: string, f: string) => `sockscope.lifecycle[${g},${f}]`;
    const COUNTERS = ['rtt_count', 'rtt_sum_seconds', 'duration_known', 'duration_seconds_sum'];
    // 1. connections that make the groups: discovered, then their counters stored
    load(4);
    await until(
      `the groups of port ${PORT} to be discovered and hold their 4 connections`,
      async () => {
        const x = await items('zbx-agent');
        return GROUPS.every((g) => Number(x.get(bucketKey('+Inf', g))?.lastvalue) === 4) ? true : undefined;
      },
      120_000,
      1000,
    );
    // 2. connections closed while the items exist (the window's rates see them), some spanning gathers (durations known)
    load(12);
    load(4, 5000);
    /** the agent's lifecycle points for the group, from its last stdout line for it */
    const agentPoint = (g: string): Record<string, number> => {
      const [direction, ...rest] = g.split(':');
      const addrPort = rest.join(':');
      const last = a.stdout
        .split('\n')
        .filter((l) => {
          const tags = l.split(' ')[0].split(',');
          return tags[0] === 'lifecycle' && tags.includes(`direction=${direction}`) && tags.includes(`addr_port=${addrPort}`);
        })
        .at(-1);
      assert.ok(last, `the agent printed a lifecycle point for ${g}`);
      const fields = last.split(' ')[1];
      return Object.fromEntries(fields.split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1].replace(/[iu]$/, ''))]));
    };
    const stored = await until(
      'Zabbix to hold the 20 connections of each group, as the agent counted them',
      async () => {
        const x = await items('zbx-agent');
        const ok = GROUPS.every((g) => Number(x.get(key(g, 'rtt_count'))?.lastvalue) === 20 && agentPoint(g).rtt_count === 20);
        return ok ? x : undefined;
      },
      90_000,
      1000,
    );
    for (const g of GROUPS) {
      const p = agentPoint(g);
      for (const le of BOUNDS) {
        const field = `rtt_le_${le.replace('.', '_').replace('+Inf', 'inf')}`;
        assert.equal(Number(stored.get(bucketKey(le, g))!.lastvalue), p[field], `${bucketKey(le, g)} = the agent's ${field}`);
      }
      for (const f of COUNTERS) {
        const i = stored.get(key(g, f))!;
        assert.ok(Math.abs(Number(i.lastvalue) - p[f]) <= 1e-9 * Math.max(1, p[f]), `${key(g, f)}: Zabbix ${i.lastvalue}, the agent ${p[f]}`);
      }
      assert.equal(p.rtt_le_inf, 20);
    }
    // 3. the calculated items: checked now, compared with the same statistics over the stored values
    const calc = [...stored.values()].filter(
      (i) => /,(rtt_p50|rtt_p99|rtt_mean|duration_mean)\]$/.test(i.key_) && GROUPS.some((g) => i.key_.includes(`[${g},`)),
    );
    assert.equal(calc.length, 8, calc.map((i) => i.key_).join(' '));
    const t = Math.floor(Date.now() / 1000);
    const computed = await until(
      'the calculated items to be computed',
      async () => {
        await zbx
          .call(
            'task.create',
            calc.map((i) => ({ type: 6, request: { itemid: i.itemid } })),
          )
          .catch(() => undefined);
        const x = await items('zbx-agent');
        const now = calc.map((i) => x.get(i.key_)!);
        return now.every((i) => Number(i.lastclock) >= t && i.state === '0') ? x : undefined;
      },
      120_000,
      5000,
    );
    /** seconds a pushed value may take from the agent's clock to the server's value cache */
    const IN_FLIGHT = 3;
    /**
     * An item's rate over the window as the server computed it for a calculated item evaluated at `at` (s):
     * Zabbix's rate() (evaluate_RATE, as PromQL's: the increase over the values in the window, extrapolated towards
     * its edges, no further than where the counter would be 0) over the stored values.
     */
    const rate = async (k: string, at: number, lastInFlight = false): Promise<number> => {
      const i = computed.get(k)!;
      const h: Obj[] = await zbx.call('history.get', {
        itemids: [i.itemid],
        history: Number(i.value_type),
        sortfield: 'clock',
        sortorder: 'ASC',
        output: 'extend',
      });
      const range = 300; // {$SOCKSCOPE.LIFECYCLE.WINDOW}
      const v = h.map((x) => ({ t: Number(x.clock) + Number(x.ns) / 1e9, v: Number(x.value) })).filter((x) => x.t > at - range && x.t <= at);
      if (lastInFlight) {
        if (!(v.length > 2 && v.at(-1)!.t > at - IN_FLIGHT)) return Number.NaN; // no such value: no second candidate
        v.pop();
      }
      assert.ok(v.length >= 2, `${k}: ${v.length} values in the window`);
      const first = v[0];
      const last = v.at(-1)!;
      const delta = last.v - first.v;
      const sampled = last.t - first.t;
      const average = sampled / (v.length - 1);
      let gapStart = first.t - (at - range);
      const gapEnd = at - last.t;
      if (delta > 0 && first.v >= 0) gapStart = Math.min(gapStart, sampled * (first.v / delta));
      const threshold = average * 1.1;
      const interval = sampled + (gapStart < threshold ? gapStart : average / 2) + (gapEnd < threshold ? gapEnd : average / 2);
      return (delta * (interval / sampled)) / range;
    };
    /**
     * The server evaluates a calculated item over the values it holds then: a pushed value stamped with the agent's
     * clock a moment before `at` may still be on its way through the trapper and the history syncer, and each item's
     * values travel apart. So each item's rate is that of its values stamped up to `at`, or of those without the last
     * one when it was stamped less than IN_FLIGHT seconds before `at` (the window's edge still `at`); the statistic
     * is one of those over every choice per item, to the precision of a double.
     */
    const choices = async (k: string, at: number): Promise<number[]> => {
      const without = await rate(k, at, true);
      return Number.isNaN(without) ? [await rate(k, at)] : [await rate(k, at), without];
    };
    /** every combination of one choice per item */
    const combinations = (per: number[][]): number[][] => per.reduce<number[][]>((acc, c) => acc.flatMap((prefix) => c.map((x) => [...prefix, x])), [[]]);
    const near = (actual: number, expected: readonly number[], what: string) =>
      assert.ok(
        expected.some((e) => Math.abs(actual - e) <= 1e-6 * Math.max(1e-6, Math.abs(e))),
        `${what}: Zabbix ${actual}, expected one of ${[...new Set(expected)].slice(0, 8).join(', ')} (values stamped up to its evaluation, or an item's last one still in flight)`,
      );
    for (const g of GROUPS) {
      /** the calculated item's value, and the statistic over the rates at its evaluation time */
      const calculated = (f: string) => {
        const i = computed.get(key(g, f))!;
        return { value: Number(i.lastvalue), at: Number(i.lastclock) + Number(i.lastns) / 1e9 };
      };
      // PromQL's histogram_quantile over the buckets' rates (bucket_percentile = histogram_quantile(p/100, bucket_rate_foreach(...)))
      const quantile = (q: number, r: number[]) => {
        const rank = q * r.at(-1)!;
        const b = r.findIndex((n) => n >= rank);
        if (b === BOUNDS.length - 1) return RTT_BUCKETS_SECONDS.at(-1)!;
        const lower = b === 0 ? 0 : RTT_BUCKETS_SECONDS[b - 1];
        const below = b === 0 ? 0 : r[b - 1];
        return lower + (RTT_BUCKETS_SECONDS[b] - lower) * ((rank - below) / (r[b] - below));
      };
      const quantiles = async (q: number, at: number) =>
        combinations(await Promise.all(BOUNDS.map((le) => choices(bucketKey(le, g), at)))).map((r) => quantile(q, r));
      const means = async (sum: string, count: string, at: number) =>
        combinations(await Promise.all([choices(key(g, sum), at), choices(key(g, count), at)])).map(([s, c]) => s / (c + (c === 0 ? 1 : 0)));
      for (const [f, q] of [
        ['rtt_p50', 0.5],
        ['rtt_p99', 0.99],
      ] as const) {
        const c = calculated(f);
        near(c.value, await quantiles(q, c.at), `${g} ${f}`);
      }
      const m = calculated('rtt_mean');
      near(m.value, await means('rtt_sum_seconds', 'rtt_count', m.at), `${g} rtt_mean`);
      const d = calculated('duration_mean');
      near(d.value, await means('duration_seconds_sum', 'duration_known', d.at), `${g} duration_mean`);
    }
    assert.ok(
      GROUPS.some((g) => Number(computed.get(key(g, 'duration_mean'))!.lastvalue) > 0),
      'the connections that spanned gathers have a known duration',
    );
    // the pushes are accepted whole again (processed == total) once discovery made the new groups' items: the
    // agent's last word on it is that the server accepts every item
    const word = a.logs.filter((l) => /refused \d+ of \d+ items|accepts every item again/.test(l.msg)).at(-1);
    assert.match(String(word?.msg), /accepts every item again/);
  });

  test('doctor: a CLOSE_WAIT leak in agt fires the doctor trigger at its default threshold, the culprit (its namespace) in sockscope.doctor.findings; it recovers when the leak is gone', async () => {
    const logsBeforeDoctor = agent!.logs.length;
    // leakysrv keeps every connection it accepts; 12 clients close theirs: 12 CLOSE_WAIT (warning at 10, critical at 100)
    const leak = await holdPython(
      agt.asNs,
      `
import ctypes, json, os, socket, sys, threading, time
ctypes.CDLL(None).prctl(15, b'leakysrv', 0, 0, 0)
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(64)
kept = []
def acceptor():
    while True:
        kept.append(srv.accept()[0])
threading.Thread(target=acceptor, daemon=True).start()
for i in range(12):
    socket.create_connection(srv.getsockname()).close()
while len(kept) < 12:
    time.sleep(0.01)
time.sleep(0.3)
print(json.dumps({'port': srv.getsockname()[1]}), flush=True)
sys.stdin.read()
`,
      'a CLOSE_WAIT leak',
    );
    stoppers.push(leak.stop);
    const netns = agt.run('readlink', ['/proc/self/ns/net']).trim();
    const warning = 'sockscope doctor close_wait: CLOSE_WAIT sockets the process holds at warning level';
    const fired = await until(
      'the doctor close_wait trigger to fire on zbx-agent',
      async () => {
        const now = await problems('zbx-agent');
        return now.find((p) => p.startsWith(warning));
      },
      60_000,
      1000,
    );
    assert.equal(fired, `${warning} (12)`, 'the trigger name carries the value');
    // the info and critical levels of the same measure are not problems at the same time
    assert.ok(!(await problems('zbx-agent')).some((p) => /close_wait: .* at (info|critical) level/.test(p)));
    const m = await items('zbx-agent');
    assert.equal(Number(m.get('sockscope.doctor[close_wait,sockets]')!.lastvalue), 12);
    assert.ok(
      m.get('sockscope.doctor.findings')!.lastvalue.split('\n').includes(`close_wait sockets = 12 sockets: netns ${netns}`),
      m.get('sockscope.doctor.findings')!.lastvalue,
    );
    // every doctor item of the host got a value from the agent (a push with the doctor collector on is accepted whole)
    for (const key of GATED_ITEMS) assert.ok(Number(m.get(key)?.lastclock) > 0, `${key} pushed by the agent`);
    await leak.stop();
    await until(
      'the doctor trigger to recover',
      async () => ((await problems('zbx-agent')).some((p) => p.startsWith('sockscope doctor close_wait')) ? undefined : true),
      60_000,
      1000,
    );
    const after = await items('zbx-agent');
    assert.equal(Number(after.get('sockscope.doctor[close_wait,sockets]')!.lastvalue), 0);
    // the leak's listener is a new port: pushes are refused until discovery has made its items, and only those
    // the leak's listener and its connections are new ports and lifecycle groups: pushes may be refused until discovery
    // has made their items. Zabbix does not say which items it refused, so "no doctor item refused" is shown by the
    // pushes being accepted whole again (every item, the doctor's included: they are template items, never discovered)
    const word = () =>
      agent!.logs
        .slice(logsBeforeDoctor)
        .filter((l) => /refused \d+ of \d+ items|accepts every item again/.test(l.msg))
        .at(-1)?.msg;
    if (word() !== undefined)
      await until('the pushes accepted whole again after discovery', () => (/accepts every item again/.test(String(word())) ? true : undefined), 120_000);
  });

  test('passive: "check now" polls every item through the agent\'s listener; all supported, listeners as ss says', async () => {
    const rules: Obj[] = await zbx.call('discoveryrule.get', { hostids: hostids['zbx-passive'], output: ['itemid', 'key_'] });
    const checkNow = (ids: string[]) =>
      zbx.call(
        'task.create',
        ids.map((itemid) => ({ type: 6, request: { itemid } })),
      );
    await until(
      'the passive discovery rules to run',
      async () => {
        await checkNow(rules.map((r) => r.itemid)).catch(() => undefined); // refused until the host is in the server's cache
        const done: Obj[] = await zbx.call('discoveryrule.get', { hostids: hostids['zbx-passive'], output: ['key_', 'lastclock', 'state', 'error'] });
        const x = await items('zbx-passive');
        return [...x.values()].some((i) => i.flags === '4') && done.every((r) => r.state === '0') ? true : undefined;
      },
      60_000,
      2000,
    );
    const t = Math.floor(Date.now() / 1000);
    const polled = await until(
      'every passive item to be polled',
      async () => {
        // the calculated ones are the server's (from polled values over a window: unsupported until there are two)
        const x = new Map([...(await items('zbx-passive'))].filter(([, i]) => i.type !== CALCULATED));
        // polled while the agent was starting (test above): checked again, not left unsupported for 10 minutes
        const stale = [...x.values()].filter((i) => (Number(i.lastclock) < t && i.state === '0') || (i.state !== '0' && NO_DATA_YET.test(i.error)));
        if (stale.length) await checkNow(stale.map((i) => i.itemid)).catch(() => undefined);
        return stale.length === 0 ? x : undefined;
      },
      90_000,
      3000,
    );
    const unsupported = [...polled.values()].filter((i) => i.state !== '0').map((i) => `${i.key_}: ${i.error}`);
    assert.deepEqual(unsupported, [], 'every item supported');
    const oracle = ssOracle(agt);
    for (const [key, i] of polled) {
      if (/^sockscope\.listen\[\d+,backlog\]$/.test(key) || key === 'sockscope.netstat[tcp_listen]') assert.equal(Number(i.lastvalue), oracle.expect(key), key);
    }
    assert.ok(
      [...polled.keys()].some((k) => k === 'sockscope.listen[10050,backlog]'),
      "the agent's own listener is discovered",
    );
  });
});
