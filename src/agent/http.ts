/**
 * The agent's HTTP endpoint: /metrics, /healthz, /api/snapshot and a landing page on /. Hardened for being
 * scraped over a network: optional TLS and basic auth (exporter-toolkit web config), a cap on requests in
 * flight (503 beyond it), a header size limit (431), a deadline for the whole request (slow clients are cut
 * off), 400 for malformed HTTP, 404/405 for unknown paths and methods.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { negotiateFormat, CONTENT_TYPE } from '../outputs/metrics/prometheus.js';
import type { Log } from './output.js';
import { PasswordChecker } from './password-check.js';
import { BasicAuth, type WebConfig } from './web-config.js';
import { boundAddresses, listenOn } from '../util/net.js';

export interface Routes {
  /** waitMs: how long the scrape can wait for data (its X-Prometheus-Scrape-Timeout-Seconds, else read_timeout) */
  metrics(format: 'text' | 'openmetrics', waitMs: number): string | Buffer | Promise<string | Buffer>;
  /**
   * A /metrics body is being sent: the returned function is called once the response is done with it (sent,
   * or the connection closed), so its bytes may be reused after that.
   */
  sending?(body: Buffer): () => void;
  snapshot(): string | Promise<string>;
  health(): { ok: boolean; detail: string };
}

export interface HttpOptions {
  listen: readonly string[];
  web: WebConfig;
  maxRequests: number;
  /** connections kept open at most (capped below the fd limit); beyond, the oldest idle one is closed */
  maxConnections: number;
  maxHeaderBytes: number;
  readTimeoutMs: number;
  version: string;
  log: Log;
}

/** Failed logins are logged at most this often (the line says how many there were since the last one). */
const AUTH_LOG_EVERY_MS = 60_000;

const LANDING = (version: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>sockscope</title></head>
<body><h1>sockscope ${version}</h1>
<p>Socket statistics read from the Linux kernel.</p>
<ul>
<li><a href="metrics">/metrics</a>: Prometheus text 0.0.4, or OpenMetrics 1.0 when the Accept header asks</li>
<li><a href="healthz">/healthz</a>: 200 when the last gather succeeded in time</li>
<li><a href="api/snapshot">/api/snapshot</a>: the latest gather as JSON</li>
</ul></body></html>
`;

export class HttpEndpoint {
  private servers: Server[] = [];
  private inflight = 0;
  /** open connections, least recently active first, with their requests in progress */
  private readonly sockets = new Map<Socket, { busy: number }>();
  /** max_connections, capped below the fd limit */
  readonly connectionCap: number;
  /** connections closed to make room (idle, the oldest first), and new ones refused (every one busy) */
  readonly closedConnections = { room: 0, full: 0 };
  private readonly auth: BasicAuth | undefined;
  private readonly checker: PasswordChecker | undefined;
  /** requests refused for the cap, for self-metrics */
  rejected = 0;
  /** requests answered 401 (no, malformed or wrong credentials) */
  authFailures = 0;
  private authLoggedAt = 0;
  private authUnlogged = 0;

  constructor(
    private readonly o: HttpOptions,
    private readonly routes: Routes,
  ) {
    // password checks have their own bound (max_requests waiting or running): requests with remembered
    // credentials never wait behind them
    this.checker = o.web.users?.size ? new PasswordChecker(o.maxRequests) : undefined;
    this.auth = this.checker ? new BasicAuth(o.web.users!, this.checker, o.readTimeoutMs) : undefined;
    this.connectionCap = Math.max(1, Math.min(o.maxConnections, openFileLimit() - FDS_KEPT));
  }

  /**
   * A new connection: within the cap it is simply tracked; at the cap the least recently active idle connection
   * (no request in progress) is closed to make room, and only when every connection is busy is the new one refused.
   * So clients holding idle connections (up to and beyond the fd limit) cannot lock a scraper out.
   */
  private admit(s: Socket): boolean {
    if (this.sockets.size >= this.connectionCap) {
      let victim: Socket | undefined;
      for (const [c, st] of this.sockets) {
        if (st.busy === 0) {
          victim = c;
          break;
        }
      }
      if (!victim) {
        this.closedConnections.full++;
        s.destroy();
        return false;
      }
      this.closedConnections.room++;
      this.sockets.delete(victim);
      victim.destroy();
    }
    this.sockets.set(s, { busy: 0 });
    s.on('close', () => this.sockets.delete(s));
    return true;
  }

  /** A request on `s` (the TCP socket under TLS): busy until its response is done, then the most recently active. */
  private track(req: IncomingMessage, res: ServerResponse): void {
    const s = ((req.socket as Socket & { _parent?: Socket })._parent ?? req.socket) as Socket;
    const st = this.sockets.get(s);
    if (!st) return;
    st.busy++;
    this.sockets.delete(s);
    this.sockets.set(s, st);
    res.once('close', () => {
      st.busy--;
      if (this.sockets.delete(s)) this.sockets.set(s, st);
    });
  }

  /** Open connections, for self-metrics. */
  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<string[]> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.track(req, res);
      void this.handle(req, res);
    };
    for (const addr of this.o.listen) {
      // node checks requestTimeout/headersTimeout only every connectionsCheckingInterval (30 s by default): a client
      // trickling header bytes would outlive read_timeout by up to that much
      const opts = {
        maxHeaderSize: this.o.maxHeaderBytes,
        requestTimeout: this.o.readTimeoutMs,
        headersTimeout: this.o.readTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, this.o.readTimeoutMs / 4)),
      };
      const tls = this.o.web.tls;
      const server = tls
        ? createHttpsServer(
            {
              ...opts,
              cert: tls.cert,
              key: tls.key,
              ca: tls.ca,
              requestCert: tls.requestCert,
              rejectUnauthorized: tls.clientAuth === 'RequireAndVerifyClientCert',
              minVersion: tls.minVersion,
              maxVersion: tls.maxVersion,
              ciphers: tls.ciphers,
              ecdhCurve: tls.ecdhCurve,
              honorCipherOrder: tls.honorCipherOrder,
              // a client stalling in the handshake is not yet an HTTP request: without this it would be held until the
              // idle timeout below (2 × read_timeout)
              handshakeTimeout: this.o.readTimeoutMs,
            },
            handler,
          )
        : createHttpServer(opts, handler);
      if (tls && (tls.clientAuth === 'RequireAnyClientCert' || tls.clientAuth === 'VerifyClientCertIfGiven')) {
        // node enforces a client certificate only with rejectUnauthorized, which also verifies it: Go's
        // RequireAnyClientCert (any certificate, unverified) and VerifyClientCertIfGiven are checked here
        server.on('secureConnection', (s: TLSSocket) => {
          const given = Object.keys(s.getPeerCertificate() ?? {}).length > 0;
          if (tls.clientAuth === 'RequireAnyClientCert' ? !given : given && !s.authorized) s.destroy();
        });
      }
      // a handshake that failed or timed out (handshakeTimeout): nothing to answer, the connection goes
      server.on('tlsClientError', (_e: Error, s: TLSSocket) => s.destroy());
      server.keepAliveTimeout = 5000;
      server.on('connection', (s: Socket) => {
        if (!this.admit(s)) return;
        s.setTimeout(this.o.readTimeoutMs * 2, () => s.destroy()); // idle or never-finishing clients
      });
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (!socket.writable) return socket.destroy();
        const status =
          err.code === 'HPE_HEADER_OVERFLOW'
            ? '431 Request Header Fields Too Large'
            : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? '408 Request Timeout'
              : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      });
      await listenOn(server, addr, 'outputs.prometheus.listen');
      this.servers.push(server);
    }
    return this.addresses();
  }

  addresses(): string[] {
    return boundAddresses(this.servers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.auth) {
      const a = await this.auth.check(req.headers.authorization);
      if (a.busy) return this.busy(res);
      if (!a.ok) {
        this.authFailed(req, a.user);
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="sockscope"', 'Content-Type': 'text/plain; charset=utf-8' }).end('unauthorized\n');
        return;
      }
    }
    if (this.inflight >= this.o.maxRequests) return this.busy(res);
    this.inflight++;
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
        return;
      }
      let status = 200;
      let type = 'text/plain; charset=utf-8';
      let body: string | Buffer;
      if (path === '/metrics') {
        const format = negotiateFormat(req.headers.accept);
        type = CONTENT_TYPE[format];
        const b = this.routes.metrics(format, scrapeWaitMs(req.headers['x-prometheus-scrape-timeout-seconds'], this.o.readTimeoutMs));
        body = typeof b === 'string' || Buffer.isBuffer(b) ? b : await b; // served without yielding once there is data
        if (this.routes.sending && Buffer.isBuffer(body) && req.method !== 'HEAD') res.once('close', this.routes.sending(body));
      } else if (path === '/healthz') {
        const h = this.routes.health();
        status = h.ok ? 200 : 503;
        body = `${h.detail}\n`;
      } else if (path === '/api/snapshot') {
        type = 'application/json';
        body = await this.routes.snapshot();
      } else if (path === '/') {
        type = 'text/html; charset=utf-8';
        body = LANDING(this.o.version);
      } else {
        status = 404;
        body = 'not found: try /metrics, /healthz or /api/snapshot\n';
      }
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${(e as Error).message}\n`);
    } finally {
      this.inflight--;
    }
  }

  private busy(res: ServerResponse): void {
    this.rejected++;
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' }).end('too many requests in flight\n');
  }

  /** Counted always; logged at most once a minute, with how many failed since the last line. */
  private authFailed(req: IncomingMessage, user: string | undefined): void {
    this.authFailures++;
    this.authUnlogged++;
    const now = Date.now();
    if (now - this.authLoggedAt < AUTH_LOG_EVERY_MS) return;
    this.o.log('warn', 'basic auth failed (logged at most once a minute; sockscope_http_auth_failures_total counts every one)', {
      user: user ?? null,
      remote: req.socket.remoteAddress ?? null,
      failures: this.authUnlogged,
    });
    this.authLoggedAt = now;
    this.authUnlogged = 0;
  }

  async close(): Promise<void> {
    void this.checker?.close();
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.sockets.keys()) s.destroy(); // keep-alive and stuck clients would hold close() open
    await Promise.all(closed);
    this.servers = [];
  }
}

/** How long a scrape may wait for data: 90 % of the timeout Prometheus says it has (the rest for the answer). */
function scrapeWaitMs(header: string | string[] | undefined, fallbackMs: number): number {
  const s = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(s) && s > 0 ? Math.min(s * 900, 60_000) : fallbackMs;
}

/** File descriptors left for everything but HTTP connections (listeners, netlink, workers, files, InfluxDB). */
const FDS_KEPT = 64;

/** This process's soft limit on open files (RLIMIT_NOFILE), from /proc/self/limits; large if unknown. */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m && m[1] !== 'unlimited') return Number(m[1]);
  } catch {
    /* no /proc */
  }
  return 1 << 20;
}
