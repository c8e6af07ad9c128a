/**
 * In a throwaway namespace holding the known population: `sockscope --json` (the whole command) agrees with
 * ss, the /proc/net source agrees with netlink on counts, and a SnapshotWorker returns the same sockets as an
 * in-process snapshot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DumpOutput, DumpRecord } from '../helpers/dump-json.js';
import { DUMP_SCRIPT, netnsSupport, PopulationNetns } from '../helpers/netns.js';
import { parseSs, SS_STATE_NUMBERS } from '../helpers/ss.js';

const support = netnsSupport();
const opts = { skip: support.skip ?? false };
const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));
const KEYS = ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing'];

describe('summary and worker in a network namespace', opts, () => {
  let ns: PopulationNetns | undefined;
  let ssTcp: ReturnType<typeof parseSs>['rows'] = [];
  let ssListen: ReturnType<typeof parseSs>['rows'] = [];
  let json: any;
  let procJson: any;
  let inProcess: DumpOutput;
  let inWorker: DumpOutput;

  before(async () => {
    ns = await PopulationNetns.start();
    ssTcp = parseSs(await ns.check('ss', ['-tanO'])).rows;
    ssListen = parseSs(await ns.check('ss', ['-tlnO'])).rows;
    json = JSON.parse(await ns.node(BIN, ['--json', '--top', '50']));
    procJson = JSON.parse(await ns.node(BIN, ['--json', '--source', 'proc']));
    inProcess = JSON.parse(await ns.node(DUMP_SCRIPT, []));
    inWorker = JSON.parse(await ns.node(DUMP_SCRIPT, ['--worker']));
  });
  after(async () => {
    await ns?.stop();
  });

  test('sockscope --json: TCP state counts under the documented keys equal ss -tan', () => {
    assert.deepEqual(Object.keys(json.tcp.states), KEYS);
    for (const key of KEYS) {
      const n = KEYS.indexOf(key) + 1; // KEYS is in kernel state order, TCP_ESTABLISHED = 1
      const want = ssTcp.filter((r) => SS_STATE_NUMBERS[r.state] === n).length;
      assert.equal(json.tcp.states[key], want, key);
      assert.equal(json.tcp.ipv4[key] + json.tcp.ipv6[key], want, `${key} per family`);
    }
    assert.equal(json.sockets.tcp.total, ssTcp.length);
  });

  test('sockscope --json: listeners with accept queue and backlog as ss -tln shows them', () => {
    assert.equal(json.listeners.length, ssListen.length);
    for (const row of ssListen) {
      const l = json.listeners.find(
        (x: any) => x.port === row.local.port && (x.address === row.local.address || (row.local.address === '*' && x.address === '::')),
      );
      assert.ok(l, `listener ${row.local.address}:${row.local.port}`);
      assert.equal(l.accept_queue, row.recvQ, 'accept queue = Recv-Q');
      assert.equal(l.backlog, row.sendQ, 'backlog = Send-Q');
    }
    assert.ok(
      json.listeners.some((l: any) => l.accept_queue > 0),
      'the population has a listener with a non-empty accept queue',
    );
  });

  test('sockscope --json: top local ports and peers count TCP connections (not listeners, not TIME-WAIT)', () => {
    const conns = ssTcp.filter((r) => !['LISTEN', 'TIME-WAIT', 'UNCONN'].includes(r.state));
    const byPort = new Map<number, number>();
    for (const r of conns) byPort.set(r.local.port, (byPort.get(r.local.port) ?? 0) + 1);
    for (const p of json.top_local_ports) assert.equal(p.connections, byPort.get(p.port), `port ${p.port}`);
    assert.equal(json.top_local_ports.length, Math.min(50, byPort.size));
    const byPeer = new Map<string, number>();
    for (const r of conns) byPeer.set(r.peer.address, (byPeer.get(r.peer.address) ?? 0) + 1);
    for (const p of json.top_remote_peers) assert.equal(p.connections, byPeer.get(p.address), `peer ${p.address}`);
    const counts = json.top_local_ports.map((p: any) => p.connections);
    assert.deepEqual(
      counts,
      [...counts].sort((a: number, b: number) => b - a),
      'sorted by connections',
    );
  });

  test('--source proc: same counts from /proc/net, with the source said', () => {
    assert.deepEqual(procJson.tcp.states, json.tcp.states);
    assert.deepEqual(procJson.udp, json.udp);
    assert.equal(procJson.sockets.unix.total, json.sockets.unix.total);
    assert.ok(procJson.sources.every((s: any) => s.source !== 'netlink'));
    assert.ok(
      procJson.listeners.every((l: any) => l.backlog === null),
      '/proc has no max backlog',
    );
  });

  test('SnapshotWorker returns the same sockets and attributes as an in-process snapshot', () => {
    const key = (r: DumpRecord) => `${r.protocol}|${r.state}|${r.local}|${r.localPort}|${r.remote}|${r.remotePort}|${r.inode}`;
    const a = new Map(inProcess.sockets.map((r) => [key(r), r]));
    const b = new Map(inWorker.sockets.map((r) => [key(r), r]));
    assert.ok(a.size > 20);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, r] of a) {
      const w = b.get(k)!;
      assert.equal(w.cookie, r.cookie, k);
      assert.equal(w.rqueue, r.rqueue, k);
      assert.equal(w.inet?.tcpInfo?.bytes_acked, r.inet?.tcpInfo?.bytes_acked, k);
      assert.equal(w.inet?.congestion, r.inet?.congestion, k);
      assert.equal(w.unix?.name, r.unix?.name, k);
    }
  });
});
