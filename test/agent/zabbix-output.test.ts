/**
 * `sockscope agent` with [outputs.zabbix] against a fake Zabbix trapper that answers like a real server
 * (helpers.ts FakeTrapper; its answers are read by the real zabbix_sender in sender.test.ts):
 *   - every gather pushes the 13 netstat fields (zeros included), socket counts per protocol (unix too) and the
 *     port groups' items, all with the gather's clock/ns;
 *   - a server answering "failed: N" makes one warning (not one per push) and counts in the self-metrics;
 *   - a server that goes away: pushes are kept and retried with backoff, and delivered when it is back;
 *   - the buffer is bounded: the oldest items go first, and are counted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { ZabbixOutput } from '../../src/agent/zabbix-output.js';
import { NETSTAT_FIELDS } from '../../src/collectors/netstat.js';
import { loadConfig } from '../../src/config/load.js';
import type { SenderItem } from '../../src/zabbix/items.js';
import { sleep, until } from '../helpers/wait.js';
import { FakeTrapper, type TrapperRequest } from '../helpers/zabbix.js';

const items = (r: TrapperRequest): SenderItem[] => r.json.data;

type LogLine = { level: string; msg: string; fields: Record<string, unknown> };

describe('agent trapper push ([outputs.zabbix])', () => {
  const trapper = new FakeTrapper();
  const logs: LogLine[] = [];
  let agent: Agent;
  let held: Server;
  let heldPort = 0;
  let dir = '';

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://${agent.addresses()[0]}/metrics`)).text();
    const m = new RegExp(`^sockscope_${name} (\\S+)$`, 'm').exec(text);
    assert.ok(
      m,
      `${name} in the self-metrics:\n${text
        .split('\n')
        .filter((l) => l.includes('zabbix'))
        .join('\n')}`,
    );
    return Number(m[1]);
  };

  before(async () => {
    await trapper.start();
    held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
    heldPort = (held.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'sockscope-zabbix-agent-'));
    const file = join(dir, 'sockscope.toml');
    writeFileSync(
      file,
      `
[agent]
interval = "1h"
hostname = "web-01"

[collectors.netstat_port]
addr_ports = [{ ports = ["${heldPort}"] }]

[outputs.prometheus]
listen = ["127.0.0.1:0"]

[outputs.zabbix]
enabled = true
server = "127.0.0.1:${trapper.port}"
timeout = "1s"
`,
    );
    agent = new Agent(loadConfig({ file }), { version: 'test', log: (level, msg, fields = {}) => void logs.push({ level, msg, fields }) });
    await agent.start(); // gathers (and pushes) at once
    await trapper.waitFor(1);
  });
  after(async () => {
    await agent?.stop();
    await trapper.stop();
    held?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every gather: the 13 netstat fields, socket counts (unix too), the port group, with clock/ns', async () => {
    const t0 = Date.now();
    await agent.gatherOnce();
    await trapper.waitFor(2);
    await agent.gatherOnce();
    await trapper.waitFor(3);
    const clocks = new Set<string>();
    for (const r of trapper.requests.slice(0, 3)) {
      const data = items(r);
      assert.equal(r.json.request, 'sender data');
      const byKey = new Map(data.map((d) => [d.key, d]));
      for (const f of NETSTAT_FIELDS) assert.match(byKey.get(`sockscope.netstat[${f}]`)?.value ?? 'missing', /^\d+$/, f);
      for (const p of ['tcp', 'udp', 'unix']) assert.match(byKey.get(`sockscope.sockets[${p}]`)?.value ?? 'missing', /^\d+$/, p);
      assert.ok(Number(byKey.get('sockscope.sockets[unix]')!.value) >= 0);
      assert.equal(byKey.get(`sockscope.port[${heldPort},tcp_listen]`)?.value, '1', 'the port group counts our listener');
      for (const f of NETSTAT_FIELDS) assert.ok(byKey.has(`sockscope.port[${heldPort},${f}]`), `port group field ${f}`);
      assert.deepEqual(JSON.parse(byKey.get('sockscope.portgroups.discovery')!.value), [{ '{#ADDR_PORT}': String(heldPort) }]);
      assert.ok(JSON.parse(byKey.get('sockscope.ports.discovery')!.value).some((x: Record<string, string>) => x['{#PORT}'] === String(heldPort)));
      // one gather, one clock/ns on every item
      assert.equal(new Set(data.map((d) => `${d.clock}.${d.ns}`)).size, 1);
      for (const d of data) {
        assert.equal(d.host, 'web-01');
        assert.ok(Number.isInteger(d.clock) && Number.isInteger(d.ns) && d.ns >= 0 && d.ns < 1e9);
      }
      clocks.add(`${data[0].clock}.${data[0].ns}`);
    }
    assert.equal(clocks.size, 3, 'each gather has its own time');
    const last = items(trapper.requests[2])[0];
    assert.ok(last.clock * 1000 >= t0 - 1000 && last.clock * 1000 <= Date.now());
  });

  test('the server answers failed > 0: one warning for the whole episode, counted in the self-metrics', async () => {
    const n = trapper.requests.length;
    trapper.failKeys = /^sockscope\.netstat\[tcp_(none|closing)\]$/;
    const warnings = () => logs.filter((l) => l.level === 'warn' && /refused 2 of \d+ items/.test(l.msg));
    for (let i = 1; i <= 3; i++) {
      await agent.gatherOnce();
      await trapper.waitFor(n + i);
      await until('the answer to be read', () => warnings().length > 0 || undefined, 5000, 20);
      await sleep(50);
    }
    assert.equal(warnings().length, 1, 'logged once, not once per push');
    assert.match(String(warnings()[0].fields.info), /failed: 2;/);
    trapper.failKeys = undefined;
    await agent.gatherOnce();
    await trapper.waitFor(n + 4);
    await until('the recovery to be logged', () => logs.some((l) => /accepts every item again/.test(l.msg)) || undefined, 5000, 20);
    assert.equal(await metric('zabbix_items_failed_total'), 6, '2 items in each of 3 pushes');
    assert.ok((await metric('output_dropped_metrics_total{output="zabbix"}')) >= 6);
  });

  test('the server goes away: items are kept, retried with backoff, delivered when it is back', async () => {
    const port = trapper.port;
    await trapper.stop();
    const n = trapper.requests.length;
    await agent.gatherOnce(); // the push fails: kept, retried after 1 s at the next gather
    await until('the failure to be logged', () => logs.some((l) => l.level === 'error' && /unreachable/.test(l.msg)) || undefined, 5000, 20);
    await agent.gatherOnce(); // within the backoff: not even tried, kept
    assert.ok((await metric('output_buffer_metrics{output="zabbix"}')) > 0, 'buffered');
    assert.ok((await metric('output_errors_total{output="zabbix"}')) >= 1);
    const restarted = Date.now();
    await trapper.start(port);
    // retries ride on gathers once the backoff has passed: gather until the buffer is delivered
    const delivered = () => trapper.requests.slice(n).flatMap(items);
    const timeOf = (d: SenderItem) => d.clock * 1000 + d.ns / 1e6;
    for (let i = 0; i < 20 && !delivered().some((d) => timeOf(d) > restarted); i++) {
      await sleep(400);
      await agent.gatherOnce();
      await sleep(100);
    }
    await until('the recovery to be logged', () => logs.some((l) => /reachable again/.test(l.msg)) || undefined, 5000, 20);
    const times = [...new Set(delivered().map(timeOf))];
    const whileAway = times.filter((t) => t < restarted);
    assert.equal(whileAway.length, 2, 'both gathers made while the server was away arrive');
    assert.ok(
      times.some((t) => t > restarted),
      'and the new ones',
    );
    for (const t of whileAway) {
      const keys = new Set(
        delivered()
          .filter((d) => timeOf(d) === t)
          .map((d) => d.key),
      );
      for (const f of NETSTAT_FIELDS) assert.ok(keys.has(`sockscope.netstat[${f}]`), `${f} of the gather at ${t}`);
    }
    assert.equal(logs.filter((l) => l.level === 'error' && /unreachable/.test(l.msg)).length, 1, 'one error for the outage');
    // the self-metrics are rendered once per gather, at its first scrape: gather, let its push finish, scrape
    const m = trapper.requests.length;
    await agent.gatherOnce();
    await trapper.waitFor(m + 1);
    await sleep(100);
    assert.equal(await metric('output_buffer_metrics{output="zabbix"}'), 0, 'nothing left behind');
  });
});

describe('agent trapper push on its own schedule', () => {
  test('a push every interval, compressed when asked (flags 0x03), each with the 13 netstat fields', async () => {
    const trapper = new FakeTrapper();
    await trapper.start();
    const dir = mkdtempSync(join(tmpdir(), 'sockscope-zabbix-agent-'));
    const file = join(dir, 'sockscope.toml');
    writeFileSync(
      file,
      `[agent]\ninterval = "300ms"\n[outputs.prometheus]\nenabled = false\n[outputs.zabbix]\nenabled = true\nserver = "127.0.0.1:${trapper.port}"\ncompress = true\n`,
    );
    const agent = new Agent(loadConfig({ file }), { version: 'test', log: () => undefined });
    try {
      await agent.start();
      await trapper.waitFor(4, 10_000);
    } finally {
      await agent.stop();
      await trapper.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const times = new Set<number>();
    for (const r of trapper.requests.slice(0, 4)) {
      assert.equal(r.frame.flags, 0x03);
      assert.ok(r.frame.reserved > r.frame.length, 'reserved = the uncompressed length');
      const keys = new Set(items(r).map((d) => d.key));
      for (const f of NETSTAT_FIELDS) assert.ok(keys.has(`sockscope.netstat[${f}]`), f);
      times.add(items(r)[0].clock * 1e9 + items(r)[0].ns);
    }
    assert.equal(times.size, 4, 'four gathers');
  });
});

describe('agent reload (SIGHUP) during an outage', () => {
  test('the items waiting for the server move to the reloaded output and arrive', async () => {
    const trapper = new FakeTrapper();
    const port = await trapper.start();
    await trapper.stop();
    const dir = mkdtempSync(join(tmpdir(), 'sockscope-zabbix-agent-'));
    const file = join(dir, 'sockscope.toml');
    writeFileSync(
      file,
      `[agent]\ninterval = "1h"\n[outputs.prometheus]\nenabled = false\n[outputs.zabbix]\nenabled = true\nserver = "127.0.0.1:${port}"\ntimeout = "1s"\n`,
    );
    const logs: string[] = [];
    const agent = new Agent(loadConfig({ file }), {
      version: 'test',
      log: (level, msg) => void logs.push(`${level} ${msg}`),
      reload: () => loadConfig({ file }),
    });
    try {
      await agent.start();
      await until('the outage to be noticed', () => logs.some((l) => /unreachable/.test(l)) || undefined, 5000, 20);
      await agent.gatherOnce();
      const reloadAt = Date.now();
      assert.equal(await agent.reload(), true);
      await trapper.start(port);
      const times = () => new Set(trapper.requests.flatMap(items).map((d) => d.clock * 1000 + d.ns / 1e6));
      for (let i = 0; i < 20 && [...times()].filter((t) => t < reloadAt).length < 2; i++) {
        await agent.gatherOnce();
        await sleep(200);
      }
      assert.equal([...times()].filter((t) => t < reloadAt).length, 2, 'both gathers made before the reload arrive');
    } finally {
      await agent.stop();
      await trapper.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ZabbixOutput buffer', () => {
  test('bounded: the oldest items are dropped and counted; the newest are delivered once the server is back', async () => {
    const trapper = new FakeTrapper();
    const port = await trapper.start();
    await trapper.stop();
    const logs: string[] = [];
    const out = new ZabbixOutput(
      { server: `127.0.0.1:${port}`, timeoutMs: 1000, compress: false, bufferLimit: 50 },
      (level, msg) => void logs.push(`${level} ${msg}`),
    );
    const batch = (g: number): SenderItem[] =>
      Array.from({ length: 30 }, (_, i) => ({ host: 'h', key: `k${i}`, value: String(g), clock: 1_700_000_000 + g, ns: 0 }));
    for (let g = 0; g < 3; g++) {
      out.add(batch(g));
      await out.flush(true);
    }
    assert.deepEqual({ buffered: out.snapshotStats().buffered, dropped: out.snapshotStats().dropped }, { buffered: 50, dropped: 40 });
    assert.ok(out.snapshotStats().errors >= 3);
    await trapper.start(port);
    await out.flush(true);
    await trapper.stop();
    const got = trapper.requests.flatMap((r) => r.json.data as SenderItem[]);
    assert.equal(got.length, 50);
    assert.deepEqual(
      got.map((d) => d.value),
      [...Array(20).fill('1'), ...Array(30).fill('2')],
      'the newest 50, oldest first',
    );
    assert.deepEqual({ buffered: out.snapshotStats().buffered, written: out.snapshotStats().written }, { buffered: 0, written: 50 });
    assert.deepEqual(logs.filter((l) => /unreachable|reachable again/.test(l)).length, 2);
  });
  test('items added while a batch is on the wire wait behind it; the limit counts only what waits; nothing is lost uncounted', async () => {
    const trapper = new FakeTrapper();
    const port = await trapper.start();
    trapper.delayMs = 300;
    const out = new ZabbixOutput({ server: `127.0.0.1:${port}`, timeoutMs: 2000, compress: false, bufferLimit: 50 }, () => undefined);
    const mk = (tag: string, n: number): SenderItem[] => Array.from({ length: n }, (_, i) => ({ host: 'h', key: `${tag}${i}`, value: tag, clock: 1, ns: 0 }));
    out.add(mk('o', 40));
    const sending = out.flush(true);
    await trapper.waitFor(1);
    out.add(mk('n', 100)); // while the 40 are on the wire: 100 wait, over the limit by 50
    assert.deepEqual({ buffered: out.snapshotStats().buffered, dropped: out.snapshotStats().dropped }, { buffered: 90, dropped: 50 });
    await sending;
    await trapper.stop();
    const got = trapper.requests.flatMap((r) => (r.json.data as SenderItem[]).map((d) => d.key));
    assert.deepEqual(
      got,
      [
        ...mk('o', 40).map((d) => d.key),
        ...mk('n', 100)
          .slice(50)
          .map((d) => d.key),
      ],
      'the 40 on the wire, then the newest 50',
    );
    const st = out.snapshotStats();
    assert.deepEqual(
      { buffered: st.buffered, written: st.written, dropped: st.dropped },
      { buffered: 0, written: 90, dropped: 50 },
      '140 items: 90 delivered + 50 dropped',
    );
  });

  test('a batch whose send fails goes back to the head of the buffer, and the limit drops the oldest', async () => {
    const trapper = new FakeTrapper();
    const port = await trapper.start();
    trapper.delayMs = 200;
    trapper.hangUp = true;
    const out = new ZabbixOutput({ server: `127.0.0.1:${port}`, timeoutMs: 2000, compress: false, bufferLimit: 50 }, () => undefined);
    const mk = (tag: string, n: number): SenderItem[] => Array.from({ length: n }, (_, i) => ({ host: 'h', key: `${tag}${i}`, value: tag, clock: 1, ns: 0 }));
    out.add(mk('o', 40));
    const sending = out.flush(true);
    await trapper.waitFor(1);
    out.add(mk('n', 30));
    await sending; // the server hung up: 40 back in front of 30, 20 over the limit
    assert.deepEqual(
      { buffered: out.snapshotStats().buffered, dropped: out.snapshotStats().dropped, errors: out.snapshotStats().errors },
      { buffered: 50, dropped: 20, errors: 1 },
    );
    trapper.hangUp = false;
    trapper.delayMs = 0;
    await out.flush(true);
    await trapper.stop();
    const got = (trapper.requests.at(-1)!.json.data as SenderItem[]).map((d) => d.key);
    assert.deepEqual(
      got,
      [...mk('o', 40).slice(20), ...mk('n', 30)].map((d) => d.key),
      'oldest dropped, order kept',
    );
  });
});
