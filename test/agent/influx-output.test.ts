/**
 * The InfluxDB output against a recording HTTP server on 127.0.0.1 (the real influxd is in influxdb.test.ts):
 *   - v1: POST /write?db=&rp=&precision=, basic auth; v2: POST /api/v2/write?org=&bucket=&precision=,
 *     Authorization: Token; gzip-compressed bodies; batches of batch_size in order;
 *   - the bounded buffer: beyond metric_buffer_limit the oldest lines go first, and are counted;
 *   - a server that fails (5xx, refused connections): lines stay, retried with backoff (no send before the
 *     retry time), logged once when it becomes unreachable and once when it is back, not per retry;
 *   - a 400 (bad points) drops that batch only, counted;
 *   - several URLs: the next one is tried when one fails.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { InfluxOutput } from '../../src/agent/influx-output.js';
import { DEFAULTS, type AgentConfig } from '../../src/config/defaults.js';
import { freePort } from '../helpers/agent.js';
import { sleep } from '../helpers/wait.js';

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  lines: string[];
}

class Recorder {
  readonly seen: Seen[] = [];
  /** status for each next request (204 once this runs out) */
  statuses: number[] = [];
  /** response bodies for the next non-204 answers (a generic error once this runs out) */
  bodies: string[] = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const u = new URL(req.url!, 'http://x');
      this.seen.push({
        method: req.method!,
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        lines: body.toString('utf8').split('\n').filter(Boolean),
      });
      const status = this.statuses.shift() ?? 204;
      res
        .writeHead(status, { 'Content-Type': 'application/json' })
        .end(status === 204 ? undefined : (this.bodies.shift() ?? JSON.stringify({ error: `status ${status}` })));
    });
  });
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  get lines(): string[] {
    return this.seen.flatMap((s) => s.lines);
  }
}

type Cfg = AgentConfig['outputs']['influxdb'];
const cfg = (over: Partial<Cfg>): Cfg => ({ ...structuredClone(DEFAULTS.outputs.influxdb), enabled: true, timeout: '2s', ...over });
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `netstat,host=h tcp_established=${from + i}i ${1_700_000_000_000 + from + i}`);

describe('InfluxDB output (recording server)', () => {
  const server = new Recorder();
  let logs: { level: string; msg: string }[] = [];
  const log = (level: string, msg: string) => void logs.push({ level, msg });
  const count = (re: RegExp) => logs.filter((l) => re.test(l.msg)).length;

  before(() => server.start());
  after(() => server.stop());
  beforeEach(() => {
    server.seen.length = 0;
    server.statuses = [];
    server.bodies = [];
    logs = [];
  });

  test('v1: a missing database is created (as Telegraf does) and the batch written', async () => {
    // what influxd 1.x answers a write to a database that does not exist
    server.statuses = [404, 200];
    server.bodies = [JSON.stringify({ error: 'database not found: "fresh"' }), '{"results":[{"statement_id":0}]}'];
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`], database: 'fresh', username: 'admin', password: 'pw' }), log);
    o.add(lines(0, 3));
    await o.flush();
    assert.deepEqual(
      server.seen.map((x) => [x.method, x.path]),
      [
        ['POST', '/write'],
        ['POST', '/query'],
        ['POST', '/write'],
      ],
    );
    assert.equal(server.seen[1].query.q, 'CREATE DATABASE "fresh"');
    assert.equal(server.seen[1].headers.authorization, `Basic ${Buffer.from('admin:pw').toString('base64')}`);
    assert.deepEqual(server.seen[2].lines, lines(0, 3));
    assert.equal(o.snapshotStats().written, 3);
    assert.equal(count(/created the database/), 1);
  });

  test('v1: /write with db, rp, precision and basic auth; gzip; batches of batch_size, in order', async () => {
    const o = new InfluxOutput(
      cfg({
        urls: [`http://127.0.0.1:${server.port}`],
        database: 'metrics db',
        retention_policy: 'two_weeks',
        precision: 'ms',
        username: 'writer',
        password: 'pa:ss',
        batch_size: 4,
      }),
      log,
    );
    o.add(lines(0, 10));
    await o.flush();
    assert.equal(server.seen.length, 3, 'ceil(10 / 4) requests');
    assert.deepEqual(
      server.seen.map((s) => s.lines.length),
      [4, 4, 2],
    );
    assert.deepEqual(server.lines, lines(0, 10));
    for (const s of server.seen) {
      assert.equal(s.method, 'POST');
      assert.equal(s.path, '/write');
      assert.deepEqual(s.query, { db: 'metrics db', rp: 'two_weeks', precision: 'ms' });
      assert.equal(s.headers.authorization, `Basic ${Buffer.from('writer:pa:ss').toString('base64')}`);
      assert.equal(s.headers['content-encoding'], 'gzip');
    }
    assert.deepEqual(o.snapshotStats(), { buffered: 0, limit: 100_000, written: 10, dropped: 0, errors: 0 });
  });

  test('v2: /api/v2/write with org, bucket, precision and a token; no gzip when off; a base path kept', async () => {
    const o = new InfluxOutput(
      cfg({ urls: [`http://127.0.0.1:${server.port}/influx/`], version: 2, organization: 'acme', bucket: 'net', token: 'tok==', precision: 's', gzip: false }),
      log,
    );
    o.add(lines(0, 3));
    await o.flush();
    assert.equal(server.seen.length, 1);
    const s = server.seen[0];
    assert.equal(s.path, '/influx/api/v2/write');
    assert.deepEqual(s.query, { org: 'acme', bucket: 'net', precision: 's' });
    assert.equal(s.headers.authorization, 'Token tok==');
    assert.equal(s.headers['content-encoding'], undefined);
    assert.deepEqual(s.lines, lines(0, 3));
  });

  test('metric_buffer_limit: the oldest lines are dropped first, and counted', async () => {
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`], metric_buffer_limit: 5 }), log);
    o.add(lines(0, 3));
    o.add(lines(3, 5)); // 8 > 5: lines 0..2 go
    assert.deepEqual(o.snapshotStats(), { buffered: 5, limit: 5, written: 0, dropped: 3, errors: 0 });
    await o.flush();
    assert.deepEqual(server.lines, lines(3, 5), 'the newest five, in order');
    assert.equal(count(/buffer full/), 1);
    assert.equal(o.snapshotStats().written, 5);
  });

  test('a full buffer during an outage: one log line when dropping starts, one when it stops, not one per gather', async () => {
    const dead = await freePort();
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`], metric_buffer_limit: 5 }), log);
    for (let g = 0; g < 20; g++) {
      o.add(lines(g * 3, 3)); // a gather's 3 lines: full after the second, dropping from then on
      await o.flush(true);
    }
    assert.equal(o.snapshotStats().dropped, 55, 'every line beyond the limit counted');
    assert.equal(count(/buffer full/), 1, `one line for the whole episode: ${JSON.stringify(logs)}`);
    // InfluxDB back: the buffer drains and has room again; a new episode is logged again, once
    const back = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`], metric_buffer_limit: 5 }), log);
    await back.adopt(o);
    await back.flush(true);
    assert.equal(back.snapshotStats().buffered, 0);
    assert.equal(count(/buffer has room again/), 1, JSON.stringify(logs));
    server.statuses = [503, 503, 503, 503, 503, 503, 503, 503];
    for (let g = 0; g < 6; g++) {
      back.add(lines(g * 3, 3));
      await back.flush(true);
    }
    assert.equal(count(/buffer full/), 2, 'a second episode, a second line');
    assert.equal(back.snapshotStats().dropped, 55 + 13, 'counters carried over by adopt (a reload)');
  });

  test('a failing server: lines kept and retried with backoff, logged once per change of state', async () => {
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`], batch_size: 2 }), log);
    server.statuses = [503, 500, 502];
    o.add(lines(0, 3));
    await o.flush(); // 503
    assert.equal(server.seen.length, 1);
    await o.flush(); // backing off (1 s): nothing sent
    assert.equal(server.seen.length, 1, 'no request before the retry time');
    await o.flush(true); // 500
    await o.flush(true); // 502
    assert.equal(server.seen.length, 3);
    assert.deepEqual(o.snapshotStats(), { buffered: 3, limit: 100_000, written: 0, dropped: 0, errors: 3 });
    assert.equal(count(/unreachable/), 1, 'one log line for three failures');
    // the same failed batch each time: nothing skipped
    for (const s of server.seen) assert.deepEqual(s.lines, lines(0, 2));
    await o.flush(true); // 204 from now on
    assert.deepEqual(server.lines.slice(-3), lines(0, 3));
    assert.deepEqual(o.snapshotStats(), { buffered: 0, limit: 100_000, written: 3, dropped: 0, errors: 3 });
    assert.equal(count(/reachable again/), 1);
    assert.equal(count(/unreachable/), 1);
  });

  test('the first retry waits about a second', async () => {
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`] }), log);
    server.statuses = [503];
    o.add(lines(0, 1));
    await o.flush();
    const t0 = Date.now();
    while (o.snapshotStats().buffered > 0) {
      await o.flush();
      await sleep(50);
      assert.ok(Date.now() - t0 < 3000, 'retried within 3 s');
    }
    const waited = Date.now() - t0;
    assert.ok(waited >= 800 && waited < 2500, `retried after ${waited} ms`);
  });

  test('a refused connection counts as unreachable; the next URL is tried', async () => {
    const dead = await freePort();
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`] }), log);
    o.add(lines(0, 2));
    await o.flush();
    await o.flush(true);
    assert.equal(o.snapshotStats().errors, 2);
    assert.equal(o.snapshotStats().buffered, 2);
    assert.equal(count(/unreachable/), 1);
    const two = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${dead}`, `http://127.0.0.1:${server.port}`] }), log);
    two.add(lines(0, 2));
    await two.flush();
    assert.deepEqual(server.lines, lines(0, 2));
    assert.equal(two.snapshotStats().written, 2);
  });

  test('400 (bad points): that batch is dropped and counted, the rest goes on', async () => {
    const o = new InfluxOutput(cfg({ urls: [`http://127.0.0.1:${server.port}`], batch_size: 2 }), log);
    server.statuses = [400];
    o.add(lines(0, 5));
    await o.flush();
    assert.equal(server.seen.length, 3);
    assert.deepEqual(o.snapshotStats(), { buffered: 0, limit: 100_000, written: 3, dropped: 2, errors: 1 });
    assert.equal(count(/refused points/), 1);
  });
});
