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

const gzip = promisify(gzipCb);

export interface OutputStats {
  buffered: number;
  limit: number;
  written: number;
  dropped: number;
  errors: number;
}

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export class InfluxOutput {
  private buffer: string[] = [];
  private readonly stats = { written: 0, dropped: 0, errors: 0 };
  private failures = 0;
  private retryAt = 0;
  private healthy = true;
  private sending: Promise<void> | undefined;

  constructor(readonly cfg: AgentConfig['outputs']['influxdb'], private readonly log: Log) {}

  /** Every unsent line, leaving the buffer empty. */
  take(): string[] {
    const lines = this.buffer;
    this.buffer = [];
    return lines;
  }

  /** A reload: the unsent lines and the reachability state (backoff, what was last logged) go to `next`. */
  handOver(next: InfluxOutput): void {
    next.add(this.take());
    next.healthy = this.healthy;
    next.failures = this.failures;
    next.retryAt = this.retryAt;
  }

  add(lines: string[]): void {
    this.buffer.push(...lines);
    const over = this.buffer.length - this.cfg.metric_buffer_limit;
    if (over > 0) {
      this.buffer.splice(0, over);
      this.stats.dropped += over;
      this.log('warn', 'influxdb: metric buffer full, dropped the oldest metrics', { dropped: over, limit: this.cfg.metric_buffer_limit });
    }
  }

  snapshotStats(): OutputStats {
    return { buffered: this.buffer.length, limit: this.cfg.metric_buffer_limit, ...this.stats };
  }

  /** Send what is buffered (unless backing off); one flush at a time. `force` ignores the backoff (shutdown). */
  flush(force = false): Promise<void> {
    if (this.sending) return this.sending;
    if (!force && Date.now() < this.retryAt) return Promise.resolve();
    this.sending = this.drain().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const n = Math.min(this.cfg.batch_size, this.buffer.length);
      const batch = this.buffer.slice(0, n);
      const result = await this.send(`${batch.join('\n')}\n`);
      if (result === 'retry') {
        this.failures++;
        this.retryAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        return;
      }
      // delivered, or refused for good (400: bad points): either way these lines leave the buffer
      this.buffer.splice(0, n);
      if (result === 'ok') this.stats.written += n;
      else this.stats.dropped += n;
      this.failures = 0;
      this.retryAt = 0;
    }
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
        if (res.ok) {
          this.setHealthy(true, base);
          return 'ok';
        }
        if (res.status === 400) {
          this.stats.errors++;
          this.log('error', 'influxdb refused points (400): dropping this batch', { url: base, response: text });
          return 'refused';
        }
        lastProblem = `HTTP ${res.status} ${text}`.trim();
      } catch (e) {
        lastProblem = (e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message;
      }
    }
    this.stats.errors++;
    this.setHealthy(false, c.urls.join(', '), lastProblem);
    return 'retry';
  }

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

  private setHealthy(ok: boolean, url: string, problem?: string): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    if (ok) this.log('info', 'influxdb reachable again: sending the buffered metrics', { url, buffered: this.buffer.length });
    else this.log('error', 'influxdb unreachable: keeping metrics in the buffer and retrying with backoff', { url, problem, buffered: this.buffer.length, limit: this.cfg.metric_buffer_limit });
  }
}
