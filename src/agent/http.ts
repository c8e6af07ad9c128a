/**
 * The agent's HTTP endpoint: /metrics, /healthz, /api/snapshot and a landing page on /. Hardened for being
 * scraped over a network: optional TLS and basic auth (exporter-toolkit web config), a cap on requests in
 * flight (503 beyond it), a header size limit (431), a deadline for the whole request (slow clients are cut
 * off), 400 for malformed HTTP, 404/405 for unknown paths and methods.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { negotiateFormat, CONTENT_TYPE } from '../outputs/metrics/prometheus.js';
import { BasicAuth, type WebConfig } from './web-config.js';
import { boundAddresses, listenOn } from '../util/net.js';

export interface Routes {
  metrics(format: 'text' | 'openmetrics'): string | Buffer;
  snapshot(): string | Promise<string>;
  health(): { ok: boolean; detail: string };
}

export interface HttpOptions {
  listen: readonly string[];
  web: WebConfig;
  maxRequests: number;
  maxHeaderBytes: number;
  readTimeoutMs: number;
  version: string;
}

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
  private readonly sockets = new Set<Socket>();
  private readonly auth: BasicAuth | undefined;
  /** requests refused for the cap, for self-metrics */
  rejected = 0;

  constructor(private readonly o: HttpOptions, private readonly routes: Routes) {
    this.auth = o.web.users?.size ? new BasicAuth(o.web.users) : undefined;
  }

  async start(): Promise<string[]> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    for (const addr of this.o.listen) {
      // node checks requestTimeout/headersTimeout only every connectionsCheckingInterval (30 s by default): a client
      // trickling header bytes would outlive read_timeout by up to that much
      const opts = {
        maxHeaderSize: this.o.maxHeaderBytes, requestTimeout: this.o.readTimeoutMs, headersTimeout: this.o.readTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, this.o.readTimeoutMs / 4)),
      };
      const tls = this.o.web.tls;
      const server = tls
        ? createHttpsServer({ ...opts, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestCert, rejectUnauthorized: tls.clientAuth === 'RequireAndVerifyClientCert', minVersion: tls.minVersion }, handler)
        : createHttpServer(opts, handler);
      if (tls && (tls.clientAuth === 'RequireAnyClientCert' || tls.clientAuth === 'VerifyClientCertIfGiven')) {
        // node enforces a client certificate only with rejectUnauthorized, which also verifies it: Go's
        // RequireAnyClientCert (any certificate, unverified) and VerifyClientCertIfGiven are checked here
        server.on('secureConnection', (s: TLSSocket) => {
          const given = Object.keys(s.getPeerCertificate() ?? {}).length > 0;
          if (tls.clientAuth === 'RequireAnyClientCert' ? !given : given && !s.authorized) s.destroy();
        });
      }
      server.keepAliveTimeout = 5000;
      server.on('connection', (s: Socket) => {
        this.sockets.add(s);
        s.setTimeout(this.o.readTimeoutMs * 2, () => s.destroy()); // idle or never-finishing clients
        s.on('close', () => this.sockets.delete(s));
      });
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (!socket.writable) return socket.destroy();
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
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
    if (this.inflight >= this.o.maxRequests) {
      this.rejected++;
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' }).end('too many requests in flight\n');
      return;
    }
    this.inflight++;
    try {
      if (this.auth && !(await this.auth.check(req.headers.authorization))) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="sockscope"', 'Content-Type': 'text/plain; charset=utf-8' }).end('unauthorized\n');
        return;
      }
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
        body = this.routes.metrics(format);
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

  async close(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.sockets) s.destroy(); // keep-alive and stuck clients would hold close() open
    await Promise.all(closed);
    this.servers = [];
  }
}
