/**
 * [outputs.prometheus]: the HTTP endpoint (http.ts) serving the latest gather. The gather's samples come rendered
 * from the worker; on the first scrape of a format after a gather the family lines and the self-metrics are added
 * and the body kept, so every later scrape of that format until the next gather gets the same bytes.
 */
import { durationMs } from '../config/load.js';
import type { AgentConfig } from '../config/defaults.js';
import { assembleExposition, PrometheusWriter, type ExpositionFormat } from '../outputs/metrics/prometheus.js';
import { HttpEndpoint } from './http.js';
import type { AgentOutput, Gather, OutputContext, OutputKind } from './output.js';
import { loadWebConfig } from './web-config.js';

class PrometheusOutput implements AgentOutput {
  readonly name = 'prometheus';
  readonly http: HttpEndpoint;
  private latest: Gather | undefined;
  /** counts of the endpoints this one replaced */
  private closed = { room: 0, full: 0 };
  /** the /metrics bodies of the latest gather, assembled on the first scrape of each format */
  private rendered: Partial<Record<ExpositionFormat, Buffer>> = {};
  /**
   * The previous gather's bodies, by format: the next body of a format is written into its old one when no
   * response is still sending it (a few MB a gather at 100 namespaces, not made afresh and left to the collector).
   */
  private retired: Partial<Record<ExpositionFormat, Buffer>> = {};
  /** responses still sending a body, by its memory */
  private readonly sendingBodies = new Map<ArrayBufferLike, number>();

  constructor(
    p: AgentConfig['outputs']['prometheus'],
    private readonly ctx: OutputContext,
  ) {
    this.latest = ctx.latest();
    const web = p.web_config_file ? loadWebConfig(p.web_config_file) : {};
    this.http = new HttpEndpoint(
      {
        listen: p.listen,
        web,
        maxRequests: p.max_requests,
        maxConnections: p.max_connections,
        maxHeaderBytes: p.max_header_bytes,
        readTimeoutMs: durationMs(p.read_timeout),
        version: ctx.version,
        log: ctx.log,
      },
      {
        metrics: (f, waitMs) => this.metrics(f, waitMs),
        sending: (body) => this.sending(body),
        snapshot: () => ctx.snapshotJson(),
        health: () => ctx.health(),
      },
    );
  }

  async open(): Promise<void> {
    try {
      await this.http.start();
    } catch (e) {
      await this.http.close(); // the addresses it did open
      throw e;
    }
  }

  announce(): void {
    this.ctx.log('info', 'serving metrics', { listen: this.http.addresses() });
  }

  accept(g: Gather): void {
    this.latest = g;
    for (const f of ['text', 'openmetrics'] as const) {
      const b = this.rendered[f];
      if (b) this.retired[f] = b;
    }
    this.rendered = {};
  }

  /** A response is sending `body`: its memory is not reused until it is done. */
  private sending(body: Buffer): () => void {
    const m = body.buffer;
    this.sendingBodies.set(m, (this.sendingBodies.get(m) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = this.sendingBodies.get(m)! - 1;
      if (n > 0) this.sendingBodies.set(m, n);
      else this.sendingBodies.delete(m);
    };
  }

  /**
   * Room for a body of `format`: its retired body's memory when no response is sending it and it is big enough,
   * else a buffer of its own (never from Buffer's shared pool: its memory is lent again) with room to grow.
   */
  private room(format: ExpositionFormat, size: number): Buffer {
    const old = this.retired[format];
    this.retired[format] = undefined;
    if (old && !this.sendingBodies.has(old.buffer) && old.buffer.byteLength >= size) return Buffer.from(old.buffer, 0, old.buffer.byteLength);
    return Buffer.allocUnsafeSlow(size + (size >>> 5) + 4096);
  }

  /**
   * The /metrics body: the latest gather's samples and the self-metrics. Before the first gather a scrape waits
   * for it (up to waitMs, from the scrape's own timeout) rather than answer without the sockets.
   */
  private metrics(format: ExpositionFormat, waitMs: number): Buffer | Promise<Buffer> {
    if (this.latest) return this.body(format);
    return this.ctx.firstGather(waitMs).then((g) => {
      if (g && !this.latest) this.accept(g);
      return this.body(format);
    });
  }

  private body(format: ExpositionFormat): Buffer {
    const self = () => {
      const w = new PrometheusWriter();
      this.ctx.selfMetrics(w);
      return w.exposition();
    };
    const l = this.latest;
    if (!l) return assembleExposition([self()], format);
    const cached = this.rendered[format];
    if (cached) return cached;
    if (!l.exposition) {
      // in-process gathers, or a worker that was not asked to render (the endpoint came with a reload)
      const w = new PrometheusWriter();
      for (const m of l.metrics ?? []) w.write(m);
      l.exposition = w.exposition();
    }
    return (this.rendered[format] = assembleExposition([l.exposition, ...(l.netnsParts ?? []), self()], format, (size) => this.room(format, size)));
  }

  async flush(): Promise<void> {}

  stats(w: PrometheusWriter): void {
    w.sample(
      'http_rejected_requests_total',
      'requests refused because max_requests were in flight (or waiting for a password check)',
      'counter',
      {},
      this.http.rejected,
    );
    w.sample('http_connections', 'open connections to the HTTP endpoint', 'gauge', {}, this.http.connections);
    w.sample('http_max_connections', 'connections kept open at most (max_connections, capped below the fd limit)', 'gauge', {}, this.http.connectionCap);
    for (const [reason, n] of Object.entries(this.http.closedConnections)) {
      w.sample(
        'http_connections_closed_total',
        'connections closed by the agent for lack of room: the oldest idle one for a new one (room), or a new one when every one was busy (full)',
        'counter',
        { reason },
        this.closed[reason as 'room'] + n,
      );
    }
    w.sample('http_auth_failures_total', 'requests refused for missing or wrong basic-auth credentials (401)', 'counter', {}, this.http.authFailures);
  }

  async adopt(prev: AgentOutput): Promise<void> {
    const p = prev as PrometheusOutput;
    this.http.rejected += p.http.rejected;
    this.http.authFailures += p.http.authFailures;
    this.closed = { room: p.closed.room + p.http.closedConnections.room, full: p.closed.full + p.http.closedConnections.full };
    this.latest = p.latest;
    // the old endpoint's bodies may still be sending: they are not lent to this one
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const prometheusOutput: OutputKind = {
  name: 'prometheus',
  // the web config's content (and that of the files it names) counts: a renewed certificate is a change
  settings: (c) =>
    c.outputs.prometheus.enabled
      ? { ...c.outputs.prometheus, web: c.outputs.prometheus.web_config_file ? loadWebConfig(c.outputs.prometheus.web_config_file) : {} }
      : undefined,
  needs: { exposition: true },
  create: (c, ctx) => new PrometheusOutput(c.outputs.prometheus, ctx),
};
