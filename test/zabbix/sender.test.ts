/**
 * The trapper push against the real zabbix_sender 6.0: a listener records what zabbix_sender sends for some
 * items and what sockscope sends for the same items; the two decode to the same request (same hosts, keys,
 * values, per-item clock/ns; a top-level clock/ns of the send time in both). zabbix_sender itself reads the
 * fake trapper's answers, so they are in the real format, and sockscope parses the same live answers.
 * `sockscope zabbix send` does one push of a real gather and prints the server's answer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NETSTAT_FIELDS } from '../../src/collectors/netstat.js';
import type { SenderItem } from '../../src/zabbix/items.js';
import { sendItems } from '../../src/zabbix/sender.js';
import { agentdConfig, FakeTrapper, senderField, zabbixBinary } from '../helpers/zabbix.js';

const sender = zabbixBinary('zabbix_sender');
const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000, env, encoding: 'utf8' }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

/** Items with the awkward parts: quoted keys, an IPv6 addr_port, a JSON value, zeros, one host. */
const CLOCK = 1_700_000_123;
const ITEMS: SenderItem[] = [
  ...NETSTAT_FIELDS.map((f, i) => ({ host: 'web-01', key: `sockscope.netstat[${f}]`, value: String(i === 0 ? 120006 : i % 3), clock: CLOCK, ns: 250_000_000 })),
  { host: 'web-01', key: 'sockscope.port["[::1]:80",tcp_listen]', value: '1', clock: CLOCK, ns: 250_000_000 },
  { host: 'web-01', key: 'sockscope.port[1.1.1.1:443,tcp_established]', value: '0', clock: CLOCK, ns: 250_000_000 },
  { host: 'web-01', key: 'sockscope.portgroups.discovery', value: '[{"{#ADDR_PORT}":"80"},{"{#ADDR_PORT}":"[::1]:80"}]', clock: CLOCK, ns: 250_000_000 },
  { host: 'db 02', key: 'sockscope.sockets[unix]', value: '46', clock: CLOCK + 1, ns: 0 },
];

describe('trapper requests compared with zabbix_sender 6.0', { skip: sender.skip ?? false }, () => {
  const trapper = new FakeTrapper();
  let dir: ReturnType<typeof agentdConfig>;
  before(async () => {
    await trapper.start();
    dir = agentdConfig();
  });
  after(async () => {
    await trapper.stop();
    dir?.remove();
  });

  test("sockscope's request decodes to what zabbix_sender -T -N sends for the same items", async () => {
    const input = join(dir.dir, 'items.txt');
    writeFileSync(input, `${ITEMS.map((i) => [i.host, i.key, String(i.clock), String(i.ns), i.value].map(senderField).join(' ')).join('\n')}\n`);
    const before = Math.floor(Date.now() / 1000);
    const z = await run(sender.path!, ['-z', '127.0.0.1', '-p', String(trapper.port), '-T', '-N', '-i', input]);
    assert.equal(z.code, 0, `zabbix_sender: ${z.stdout}${z.stderr}`);
    // zabbix_sender read the fake trapper's answer as a server's: "processed: N; failed: 0; total: N; ..."
    assert.match(z.stdout, new RegExp(`processed: ${ITEMS.length}; failed: 0; total: ${ITEMS.length}; seconds spent: [\\d.]+`));
    assert.match(z.stdout, new RegExp(`sent: ${ITEMS.length}; skipped: 0; total: ${ITEMS.length}`));
    const answer = await sendItems(`127.0.0.1:${trapper.port}`, ITEMS);
    assert.deepEqual([answer.response, answer.processed, answer.failed, answer.total], ['success', ITEMS.length, 0, ITEMS.length]);
    assert.equal(trapper.requests.length, 2);
    const [theirs, ours] = trapper.requests;
    assert.equal(ours.frame.flags, theirs.frame.flags, 'both uncompressed, protocol flag');
    assert.equal(ours.frame.reserved, 0);
    assert.equal(ours.json.request, theirs.json.request);
    assert.deepEqual(ours.json.data, theirs.json.data, 'hosts, keys, values (strings), per-item clock and ns');
    assert.deepEqual(Object.keys(ours.json).sort(), Object.keys(theirs.json).sort(), 'request, data, clock, ns');
    for (const r of [theirs, ours]) {
      assert.ok(r.json.clock >= before && r.json.clock <= Math.ceil(Date.now() / 1000), 'top-level clock: the send time');
      assert.ok(Number.isInteger(r.json.ns) && r.json.ns >= 0 && r.json.ns < 1e9);
    }
  });

  test("the server's failures: zabbix_sender and sockscope read the same answer", async () => {
    trapper.failKeys = /tcp_none|unix/;
    const input = join(dir.dir, 'failing.txt');
    writeFileSync(input, `${ITEMS.map((i) => [i.host, i.key, i.value].map(senderField).join(' ')).join('\n')}\n`);
    const z = await run(sender.path!, ['-z', '127.0.0.1', '-p', String(trapper.port), '-i', input]);
    assert.match(z.stdout, new RegExp(`processed: ${ITEMS.length - 2}; failed: 2; total: ${ITEMS.length}`));
    const a = await sendItems(`127.0.0.1:${trapper.port}`, ITEMS);
    assert.deepEqual([a.processed, a.failed, a.total], [ITEMS.length - 2, 2, ITEMS.length]);
    trapper.failKeys = undefined;
  });

  test('compressed (flags 0x03): the same request', async () => {
    const n = trapper.requests.length;
    await sendItems(`127.0.0.1:${trapper.port}`, ITEMS, { compress: true });
    const r = trapper.requests[n];
    assert.equal(r.frame.flags, 0x03);
    assert.deepEqual(r.json.data, ITEMS);
  });
});

describe('sockscope zabbix send', () => {
  const trapper = new FakeTrapper();
  before(async () => {
    await trapper.start();
  });
  after(async () => {
    await trapper.stop();
  });

  test("one push of a real gather; prints the server's answer; exit 0", async () => {
    const t0 = Date.now();
    const r = await run(process.execPath, [BIN, 'zabbix', 'send', '--server', `127.0.0.1:${trapper.port}`, '--host', 'web-01', '--port-group', '22,80']);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(trapper.requests.length, 1);
    const data: SenderItem[] = trapper.requests[0].json.data;
    assert.equal(printed.response, 'success');
    assert.equal(printed.sent, data.length);
    assert.match(printed.info, new RegExp(`^processed: ${data.length}; failed: 0; total: ${data.length}; seconds spent: [\\d.]+$`));
    const keys = new Set(data.map((d) => d.key));
    for (const f of NETSTAT_FIELDS) assert.ok(keys.has(`sockscope.netstat[${f}]`), f);
    for (const p of ['tcp', 'udp', 'unix']) assert.ok(keys.has(`sockscope.sockets[${p}]`), p);
    for (const d of data) {
      assert.equal(d.host, 'web-01');
      assert.equal(typeof d.value, 'string');
      assert.ok(d.clock * 1000 >= t0 - 1000 && d.clock * 1000 <= Date.now(), `${d.key} clock`);
      assert.ok(Number.isInteger(d.ns) && d.ns >= 0 && d.ns < 1e9);
    }
  });

  test('--state: a port that stopped listening since the last run is sent as 0 (not left at its last value); a bad state file is a clear error', async () => {
    const dir = agentdConfig().dir;
    const state = join(dir, 'send.state');
    const listener = createServer();
    await new Promise<void>((r) => listener.listen({ port: 0, host: '127.0.0.1', backlog: 9 }, () => r()));
    const port = (listener.address() as { port: number }).port;
    const push = async () => {
      const n = trapper.requests.length;
      const r = await run(process.execPath, [BIN, 'zabbix', 'send', '--server', `127.0.0.1:${trapper.port}`, '--host', 'web-01', '--state', state]);
      assert.equal(r.code, 0, r.stderr);
      return new Map((trapper.requests[n].json.data as SenderItem[]).map((d) => [d.key, d.value]));
    };
    const first = await push();
    assert.equal(first.get(`sockscope.listen[${port},backlog]`), '9');
    assert.ok(JSON.parse(first.get('sockscope.ports.discovery')!).some((r: Record<string, string>) => r['{#PORT}'] === String(port)));
    await new Promise((r) => listener.close(r));
    const second = await push();
    assert.ok(!JSON.parse(second.get('sockscope.ports.discovery')!).some((r: Record<string, string>) => r['{#PORT}'] === String(port)), 'no longer discovered');
    for (const f of ['accept_queue', 'backlog', 'queue_pct']) assert.equal(second.get(`sockscope.listen[${port},${f}]`), '0', f);
    assert.equal(second.get(`sockscope.port[${port},tcp_listen]`), '0');
    writeFileSync(state, '{"sockscope.ports.discovery": [1, 2]}');
    const bad = await run(process.execPath, [BIN, 'zabbix', 'send', '--server', `127.0.0.1:${trapper.port}`, '--host', 'web-01', '--state', state]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--state .*send\.state: expected sockscope's discovery state/);
    assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  });

  test('items the server refuses: the answer is printed, a warning names the host and the count, exit 1', async () => {
    trapper.failKeys = /^sockscope\.netstat\[tcp_none\]$/;
    const r = await run(process.execPath, [BIN, 'zabbix', 'send', '--server', `127.0.0.1:${trapper.port}`, '--host', 'web-01']);
    trapper.failKeys = undefined;
    assert.equal(r.code, 1);
    assert.match(JSON.parse(r.stdout).info, /failed: 1;/);
    assert.match(r.stderr, /refused 1 of \d+ items of host "web-01" \(its answer does not say which\); no group of sockscope's keys adds up to that/);
  });

  test('no server listening: a one-line error, exit non-zero', async () => {
    const closed = new FakeTrapper();
    const port = await closed.start();
    await closed.stop();
    const r = await run(process.execPath, [BIN, 'zabbix', 'send', '--server', `127.0.0.1:${port}`, '--timeout', '2s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Zabbix server 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});
