/**
 * InfluxDB push over HTTP: v1 POST /write?db=&rp=&precision= (basic auth) or v2 POST /api/v2/write?org=&bucket=
 * &precision= (Authorization: Token). Lines wait in a bounded in-memory buffer (metric_buffer_limit; the oldest
 * are dropped first and counted), go out in batches of batch_size, gzip-compressed, and a failed batch stays at
 * the head of the buffer and is retried with exponential backoff (1 s doubling to 30 s), so an outage shorter
 * than the buffer loses nothing. Reachability is logged once per change of state, not per retry.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { AgentConfig } from '../config/defaults.js';
import { durationMs } from '../config/load.js';
import { influxLine } from '../outputs/metrics/influx.js';
import { BufferedOutput, type Delivery, type Log } from './buffered-output.js';
import type { Gather, OutputKind } from './output.js';

const gzip = promisify(gzipCb);

export type { Log, OutputStats } from './buffered-output.js';

const LINES = { encode: (lines: readonly string[]) => Buffer.from(lines.join('\n')), decode: (b: Buffer) => b.toString('utf8').split('\n') };

export class InfluxOutput extends BufferedOutput<string> {
  readonly name = 'influxdb';

  constructor(
    readonly cfg: AgentConfig['outputs']['influxdb'],
    log: Log,
  ) {
    super(cfg.metric_buffer_limit, cfg.batch_size, log, {
      peer: 'influxdb',
      unit: 'metrics',
      where: { urls: cfg.urls },
      leftAtExit: 'exiting with metrics still buffered',
    });
    // one record per gather: its lines (line protocol has no raw newlines)
    if (cfg.buffer_strategy === 'disk') this.useDisk(cfg.buffer_directory, LINES, 'outputs.influxdb.buffer_directory');
  }

  protected itemsOf(g: Gather): string[] | undefined {
    const o = { precision: this.cfg.precision, uintAsInt: !this.cfg.uint_support };
    return g.lineMetrics?.map((m) => influxLine(m, o)).filter(Boolean);
  }

  /** Buffered lines fit the replacement when they have its precision and integer suffixes. */
  protected override compatible(prev: BufferedOutput<string>): boolean {
    const p = (prev as InfluxOutput).cfg;
    return p.precision === this.cfg.precision && p.uint_support === this.cfg.uint_support;
  }

  protected async deliver(batch: string[]): Promise<Delivery> {
    const result = await this.send(`${batch.join('\n')}\n`);
    if (result === 'ok') return { written: batch.length };
    if (result === 'refused') return { written: 0, dropped: batch.length }; // 400: bad points, never retried
    return { retry: this.lastProblem };
  }

  private url(base: string): string {
    const c = this.cfg;
    const u = new URL(base);
    if (c.version === 2) {
      u.pathname = `${u.pathname.replace(/\/$/, '')}/api/v2/write`;
      u.searchParams.set('org', c.organization);
      u.searchParams.set('bucket', c.bucket);
    } else {
      u.pathname = `${u.pathname.replace(/\/$/, '')}/write`;
      u.searchParams.set('db', c.database);
      if (c.retention_policy) u.searchParams.set('rp', c.retention_policy);
    }
    u.searchParams.set('precision', c.precision);
    return u.toString();
  }

  private async send(body: string): Promise<'ok' | 'retry' | 'refused'> {
    const c = this.cfg;
    const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'User-Agent': 'sockscope' };
    if (c.version === 2) headers.Authorization = `Token ${c.token}`;
    else if (c.username) headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    let payload: string | Buffer = body;
    if (c.gzip) {
      payload = await gzip(body);
      headers['Content-Encoding'] = 'gzip';
    }
    let lastProblem = '';
    for (const base of c.urls) {
      try {
        let res = await fetch(this.url(base), { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(durationMs(c.timeout)) });
        let text = res.ok ? '' : (await res.text()).slice(0, 300);
        if (res.status === 404 && c.version === 1 && /database not found/.test(text) && (await this.createDatabase(base, headers))) {
          // InfluxDB 1.x does not create databases on write; Telegraf creates its database too
          res = await fetch(this.url(base), { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(durationMs(c.timeout)) });
          text = res.ok ? '' : (await res.text()).slice(0, 300);
        }
        if (res.ok) return 'ok';
        if (res.status === 400) {
          this.counts.errors++; // the server said no: an error to count, though not one to retry
          this.log('error', 'influxdb refused points (400): dropping this batch', { url: base, response: text });
          return 'refused';
        }
        lastProblem = `HTTP ${res.status} ${text}`.trim();
      } catch (e) {
        lastProblem = (e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message;
      }
    }
    this.lastProblem = lastProblem;
    return 'retry';
  }

  private lastProblem = '';

  /** CREATE DATABASE (idempotent in InfluxDB 1.x); false when the server refuses (no admin rights). */
  private async createDatabase(base: string, writeHeaders: Record<string, string>): Promise<boolean> {
    const u = new URL(base);
    u.pathname = `${u.pathname.replace(/\/$/, '')}/query`;
    u.searchParams.set('q', `CREATE DATABASE "${this.cfg.database.replace(/(["\\])/g, '\\$1')}"`);
    const headers: Record<string, string> = { 'User-Agent': 'sockscope' };
    if (writeHeaders.Authorization) headers.Authorization = writeHeaders.Authorization;
    try {
      const res = await fetch(u, { method: 'POST', headers, signal: AbortSignal.timeout(durationMs(this.cfg.timeout)) });
      if (res.ok) this.log('info', 'influxdb: created the database', { url: base, database: this.cfg.database });
      return res.ok;
    } catch {
      return false;
    }
  }
}

export const influxdbOutput: OutputKind = {
  name: 'influxdb',
  settings: (c) => (c.outputs.influxdb.enabled ? c.outputs.influxdb : undefined),
  needs: { metrics: true },
  create: (c, ctx) => new InfluxOutput(c.outputs.influxdb, ctx.log),
};
