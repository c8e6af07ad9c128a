/**
 * The disk buffer (buffer_strategy = "disk") on real files in a temp directory, through the InfluxDB output that
 * uses it (and the log itself for torn records):
 *   - what was accepted and not delivered is read back by the next output on the same directory, in order;
 *     what was delivered is not;
 *   - a record torn at the tail (a write cut short) is skipped and counted, the good ones read back, and records
 *     appended after it are read back next time;
 *   - a corrupt record (CRC) ends its segment, counted;
 *   - the limit: the oldest dropped, counted, and the files do not grow past it (segments behind the head go);
 *   - a directory that cannot be written is a configuration error naming the key.
 * The kill -9 test with a real influxd is in influxdb.test.ts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DiskBuffer } from '../../src/agent/disk-buffer.js';
import { InfluxOutput } from '../../src/agent/influx-output.js';
import { ZabbixOutput } from '../../src/agent/zabbix-output.js';
import { DEFAULTS, type AgentConfig } from '../../src/config/defaults.js';
import { freePort, tempDir } from '../helpers/agent.js';

type Cfg = AgentConfig['outputs']['influxdb'];
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `netstat,host=h tcp_established=${from + i}i ${1_700_000_000_000 + from + i}`);
const LINES = { encode: (l: readonly string[]) => Buffer.from(l.join('\n')), decode: (b: Buffer) => b.toString('utf8').split('\n') };

describe('disk buffer', () => {
  let dir = '';
  let received: string[] = [];
  let failing = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failing) return void res.writeHead(503).end();
      received.push(...Buffer.concat(chunks).toString().split('\n').filter(Boolean));
      res.writeHead(204).end();
    });
  });
  let port = 0;
  const logs: string[] = [];
  const log = (_level: string, msg: string) => void logs.push(msg);
  const cfg = (over: Partial<Cfg> = {}): Cfg => ({
    ...structuredClone(DEFAULTS.outputs.influxdb),
    enabled: true,
    gzip: false,
    urls: [`http://127.0.0.1:${port}`],
    buffer_strategy: 'disk',
    buffer_directory: dir,
    ...over,
  });

  before(async () => {
    dir = tempDir('wal');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('accepted and not delivered: read back by the next output on the directory, in order; delivered: not', async () => {
    received = [];
    failing = true;
    const a = new InfluxOutput(cfg(), log);
    a.add(lines(0, 3));
    await a.flush(true); // fails: kept
    a.add(lines(3, 4));
    failing = false;
    await a.flush(true); // all 7 delivered
    assert.deepEqual(received, lines(0, 7));
    failing = true;
    a.add(lines(7, 5));
    a.add(lines(12, 2));
    await a.flush(true); // fails: 7 waiting
    // the process dies here (no close): a new output on the same directory
    const b = new InfluxOutput(cfg(), log);
    failing = false;
    await b.flush(true);
    assert.deepEqual(received.slice(7), lines(7, 7), 'exactly what waited, in order');
    assert.equal(b.snapshotStats().buffered, 0);
    const c = new InfluxOutput(cfg(), log);
    await c.flush(true);
    assert.equal(received.length, 14, 'nothing delivered twice');
  });

  test('part of a record gone (a batch boundary inside a gather): the rest is read back, once', () => {
    const d = join(dir, 'part');
    const { wal } = DiskBuffer.open(d, LINES, 'k');
    wal.append(lines(100, 5));
    wal.append(lines(105, 2));
    wal.consume(3);
    wal.close();
    const r = DiskBuffer.open(d, LINES, 'k');
    assert.deepEqual(r.items, lines(103, 4));
    r.wal.consume(1);
    r.wal.close();
    assert.deepEqual(DiskBuffer.open(d, LINES, 'k').items, lines(104, 3), 'the head moves within the record read back');
  });

  test('a torn tail record is skipped and counted; records after it are read back next time', () => {
    const d = join(dir, 'torn');
    const { wal } = DiskBuffer.open(d, LINES, 'k');
    wal.append(lines(0, 2));
    wal.append(lines(2, 2));
    wal.append(lines(4, 2));
    wal.close();
    const seg = readdirSync(d).find((f) => f.endsWith('.wal'))!;
    const size = statSync(join(d, seg)).size;
    writeFileSync(join(d, seg), readFileSync(join(d, seg)).subarray(0, size - 5)); // the last write cut short
    const r = DiskBuffer.open(d, LINES, 'k');
    assert.deepEqual(r.items, lines(0, 4));
    assert.equal(r.wal.torn, 1);
    r.wal.append(lines(6, 1));
    r.wal.close();
    const again = DiskBuffer.open(d, LINES, 'k');
    assert.deepEqual(again.items, [...lines(0, 4), ...lines(6, 1)], 'the torn bytes were cut off: the new record follows the good ones');
    assert.equal(again.wal.torn, 0);
    again.wal.close();
  });

  test('a corrupt record (CRC) ends its segment, counted', () => {
    const d = join(dir, 'crc');
    const { wal } = DiskBuffer.open(d, LINES, 'k');
    wal.append(lines(0, 2));
    wal.append(lines(2, 2));
    wal.close();
    const seg = join(d, readdirSync(d).find((f) => f.endsWith('.wal'))!);
    const bytes = readFileSync(seg);
    bytes[bytes.length - 3] ^= 0xff; // flip a byte of the second record's payload
    writeFileSync(seg, bytes);
    appendFileSync(seg, Buffer.alloc(0));
    const r = DiskBuffer.open(d, LINES, 'k');
    assert.deepEqual(r.items, lines(0, 2));
    assert.equal(r.wal.torn, 1);
    r.wal.close();
  });

  test('bounded: the oldest dropped and counted, the files do not grow past the limit', async () => {
    const dead = await freePort();
    const sub = join(dir, 'bounded');
    const a = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`], metric_buffer_limit: 1000, buffer_directory: sub }), log);
    const big = (g: number) =>
      Array.from({ length: 500 }, (_, i) => `netstat,host=h,pad=${'x'.repeat(200)} tcp_established=${g * 500 + i}i ${1_700_000_000_000 + g * 500 + i}`);
    for (let g = 0; g < 100; g++) a.add(big(g)); // 50,000 lines of ~250 bytes: 12 MB written
    await a.flush(true);
    assert.equal(a.snapshotStats().buffered, 1000);
    assert.equal(a.snapshotStats().dropped, 49_000);
    const bytes = readdirSync(join(sub, 'influxdb')).reduce((n, f) => n + statSync(join(sub, 'influxdb', f)).size, 0);
    assert.ok(bytes < 1000 * 260 + (4 << 20) + 500 * 260, `${bytes} bytes on disk for a limit of 1000 lines`);
    const b = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`], metric_buffer_limit: 1000, buffer_directory: sub }), log);
    await b.flush(true);
    assert.equal(b.snapshotStats().buffered, 1000, 'the newest 1000 read back');
  });

  test('a reload that replaces the output hands the log over: nothing twice, nothing lost', async () => {
    const dead = await freePort();
    const sub = join(dir, 'reload');
    const a = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`], buffer_directory: sub }), log);
    a.add(lines(0, 3));
    await a.flush(true);
    const b = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`], buffer_directory: sub, timeout: '3s' }), log);
    await b.adopt(a);
    await a.close('reload');
    b.add(lines(3, 2));
    assert.equal(b.snapshotStats().buffered, 5);
    assert.equal(b.snapshotStats().errors, 1, 'the counters came along');
    // killed now: the next start reads back exactly the five
    received = [];
    failing = false;
    const c = new InfluxOutput(cfg({ buffer_directory: sub }), log);
    await c.flush(true);
    assert.deepEqual(received, lines(0, 5));
  });

  test('the Zabbix output: items read back by the next output on the directory', async () => {
    const dead = await freePort();
    const sub = join(dir, 'zbx');
    const items = (g: number) => Array.from({ length: 3 }, (_, i) => ({ host: 'h', key: `k${i}`, value: String(g), clock: 1_700_000_000 + g, ns: i }));
    const a = new ZabbixOutput({ server: `127.0.0.1:${dead}`, timeoutMs: 500, compress: false, bufferLimit: 100, bufferDirectory: sub }, log);
    a.add(items(0));
    a.add(items(1));
    await a.flush(true);
    const b = new ZabbixOutput({ server: `127.0.0.1:${dead}`, timeoutMs: 500, compress: false, bufferLimit: 100, bufferDirectory: sub }, log);
    await b.flush(true);
    assert.equal(b.snapshotStats().buffered, 6, 'both pushes read back');
    assert.ok(readdirSync(join(sub, 'zabbix')).some((f) => f.endsWith('.wal')));
  });

  test('a directory that cannot be written: a configuration error naming the key', () => {
    const ro = join(dir, 'ro');
    writeFileSync(ro, 'a file, not a directory');
    assert.throws(
      () => new InfluxOutput(cfg({ buffer_directory: ro }), log),
      (e: Error & { code?: string; facts?: { errno?: number } }) => {
        assert.equal(e.code, 'ESOCKSCOPE_CONFIG');
        assert.match(e.message, /outputs\.influxdb\.buffer_directory = ".*ro\/influxdb": expected a writable directory/);
        assert.equal(e.facts?.errno, 20, 'ENOTDIR, the positive errno');
        return true;
      },
    );
    chmodSync(dir, 0o755);
  });
});
