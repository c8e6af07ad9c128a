/**
 * Helpers for the Zabbix tests: finding the real Zabbix 6.0 binaries (zabbix_agentd, zabbix_sender from
 * Debian's zabbix-agent, unpacked by .ci/run), a minimal agentd configuration for `zabbix_agentd -t`, a fake
 * trapper that answers like a Zabbix server, and a plain client for passive checks.
 *
 * The frame code here is written from the protocol description (SEMANTICS.md), independently of
 * src/zabbix/frame.ts, so a bug there cannot hide behind the same bug here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { gather } from '../../src/gather/gather.js';
import type { Metric } from '../../src/model/metric.js';
import { takeCensus, takeSnapshot } from '../../src/snapshot/snapshot.js';
import type { LatestGather } from '../../src/zabbix/items.js';
import { CI_PREFIX, type Found, findTool } from './tools.js';

/**
 * Real frames of zabbix_sender / zabbix_agentd / zabbix_agent2 6.0.14, copied from shared/reference/zabbix (see
 * its README.md, copied beside them) so the suite does not depend on shared/ being present.
 */
export const REFERENCE = fileURLToPath(new URL('../../../test/fixtures/zabbix/', import.meta.url));
export const CAPTURES = join(REFERENCE, 'captures');

/**
 * A Zabbix 6.0 binary (findTool): $SOCKSCOPE_ZABBIX_AGENTD / $SOCKSCOPE_ZABBIX_SENDER (set by .ci/run), else PATH,
 * /usr/sbin, or .ci/run's wrappers in /opt/sockscope-ci/zabbix/bin; only one that says it is 6.0 (`-V`).
 */
export function zabbixBinary(name: 'zabbix_agentd' | 'zabbix_sender'): Found {
  return findTool(name, name === 'zabbix_agentd' ? 'SOCKSCOPE_ZABBIX_AGENTD' : 'SOCKSCOPE_ZABBIX_SENDER', 'zabbix-agent', {
    dirs: ['/usr/sbin', join(CI_PREFIX, 'zabbix/bin')],
    accept: { what: 'Zabbix 6.0', test: (c) => /6\.0\.\d+/.test(spawnSync(c, ['-V'], { encoding: 'utf8', timeout: 5000 }).stdout ?? '') },
    hint: `run .ci/run (it unpacks Debian's zabbix-agent into ${join(CI_PREFIX, 'zabbix')})`,
  });
}

/** A throwaway directory with the smallest config `zabbix_agentd -t` accepts. */
export function agentdConfig(): { file: string; dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sockscope-zabbix-'));
  const file = join(dir, 'zabbix_agentd.conf');
  writeFileSync(file, `LogType=console\nPidFile=${join(dir, 'agentd.pid')}\nServer=127.0.0.1\nHostname=sockscope-test\n`);
  return { file, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface AgentdValue {
  key: string;
  /** 'u' unsigned, 't' text, 's' string, 'd' float, 'm' message (ZBX_NOTSUPPORTED) */
  type: string;
  value: string;
  /** the reason of a ZBX_NOTSUPPORTED */
  reason?: string;
}

/**
 * `zabbix_agentd -t KEY` prints `KEY<spaces>[u|VALUE]`, or `KEY<spaces>[m|ZBX_NOTSUPPORTED] [reason]`.
 */
export function parseAgentdTest(key: string, stdout: string): AgentdValue {
  const line = stdout.split('\n').find((l) => l.startsWith(key));
  if (line === undefined) throw new Error(`zabbix_agentd -t printed no line for ${key}: ${JSON.stringify(stdout)}`);
  const rest = line.slice(key.length).trimStart();
  const m = /^\[(\w)\|(.*?)\](?: \[(.*)\])?$/.exec(rest);
  if (!m) throw new Error(`cannot read zabbix_agentd -t output ${JSON.stringify(line)}`);
  return { key, type: m[1], value: m[2], ...(m[3] !== undefined ? { reason: m[3] } : {}) };
}

// ---- frames, written independently of src/zabbix/frame.ts ----

/** "ZBXD" 0x01 <u32 LE length> <u32 LE 0> data */
export function frame(data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(13);
  h.write('ZBXD', 0, 'latin1');
  h[4] = 1;
  h.writeUInt32LE(body.length, 5);
  return Buffer.concat([h, body]);
}

export interface ParsedFrame {
  flags: number;
  length: number;
  reserved: number;
  data: Buffer;
  /** bytes this frame took in the buffer */
  size: number;
}

/** One frame from the start of buf, or undefined when it is not complete yet. Throws on a bad header. */
export function parseFrame(buf: Buffer): ParsedFrame | undefined {
  if (buf.length < 5) return undefined;
  if (buf.toString('latin1', 0, 4) !== 'ZBXD') throw new Error(`not a ZBXD frame: ${buf.subarray(0, 16).toString('hex')}`);
  const flags = buf[4];
  const large = (flags & 4) !== 0;
  const head = large ? 21 : 13;
  if (buf.length < head) return undefined;
  const length = large ? Number(buf.readBigUInt64LE(5)) : buf.readUInt32LE(5);
  const reserved = large ? Number(buf.readBigUInt64LE(13)) : buf.readUInt32LE(9);
  if (buf.length < head + length) return undefined;
  let data = buf.subarray(head, head + length);
  if (flags & 2) data = inflateSync(data);
  return { flags, length, reserved, data, size: head + length };
}

export interface ClientAnswer {
  /** every byte the server sent before closing */
  bytes: Buffer;
  /** how the connection ended */
  ended: 'closed' | 'timeout' | 'error';
  error?: string;
}

/**
 * Connect, send `request` (bytes as given), read until the server closes (or timeoutMs passes). `localAddress`
 * binds the client first (e.g. 127.0.0.2).
 */
export function ask(
  port: number,
  request: Buffer,
  o: { host?: string; localAddress?: string; timeoutMs?: number; keepOpen?: boolean } = {},
): Promise<ClientAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: o.host ?? '127.0.0.1', port, localAddress: o.localAddress });
    let settled = false;
    const done = (ended: ClientAnswer['ended'], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), ended, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done('timeout'), o.timeoutMs ?? 5000);
    s.on('connect', () => {
      if (o.keepOpen) s.write(request);
      else s.end(request);
    });
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => done('closed'));
    s.on('error', (e) => done('error', (e as NodeJS.ErrnoException).code ?? e.message));
  });
}

/** The value of a passive answer frame (throws if the bytes are not exactly one frame). */
export function answerValue(bytes: Buffer): string {
  const f = parseFrame(bytes);
  if (!f || f.size !== bytes.length) throw new Error(`not exactly one frame: ${bytes.toString('hex')}`);
  return f.data.toString('utf8');
}

// ---- a fake Zabbix trapper ----

export interface TrapperRequest {
  frame: ParsedFrame;
  json: any;
  at: number;
}

/**
 * A stand-in for a Zabbix server's trapper port: reads one framed "sender data" request per connection and
 * answers as Zabbix 6.0 does: {"response":"success","info":"processed: P; failed: F; total: T; seconds spent:
 * S"}. `failKeys` makes items whose key matches fail (as unknown items do); `refuse` closes without an answer.
 */
export class FakeTrapper {
  readonly requests: TrapperRequest[] = [];
  failKeys: RegExp | undefined;
  /** answer this much later (a slow server) */
  delayMs = 0;
  /** read the request, then close without an answer (a server dying mid-request) */
  hangUp = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private waiters: { n: number; resolve: () => void }[] = [];
  port = 0;

  async start(port = 0): Promise<number> {
    const server = createServer((s) => this.connection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  private connection(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      let f: ParsedFrame | undefined;
      try {
        f = parseFrame(buf);
      } catch {
        s.destroy();
        return;
      }
      if (!f) return;
      const json = JSON.parse(f.data.toString('utf8'));
      this.requests.push({ frame: f, json, at: Date.now() });
      const data: { key: string }[] = Array.isArray(json.data) ? json.data : [];
      const failed = this.failKeys ? data.filter((d) => this.failKeys!.test(d.key)).length : 0;
      const spent = (0.00001 + Math.random() * 0.0001).toFixed(6); // varies, as a real server's does
      const answer = { response: 'success', info: `processed: ${data.length - failed}; failed: ${failed}; total: ${data.length}; seconds spent: ${spent}` };
      const hangUp = this.hangUp;
      setTimeout(() => (hangUp ? s.destroy() : s.end(frame(JSON.stringify(answer)))), this.delayMs);
      this.waiters = this.waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));
    });
  }

  /** Resolves once `n` requests have arrived in total. */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the fake trapper got ${this.requests.length} requests, not ${n}, within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Quote a field for zabbix_sender's input file (-i): "..." with \" and \\ escaped when it needs it. */
export function senderField(s: string): string {
  return /[\s"\\]/.test(s) || s === '' ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : s;
}

/**
 * A real gather of this machine as `sockscope zabbix send` makes it (listening ports as port groups), with a
 * listener of our own so there is at least one; close() it when done.
 */
export async function gatherHere(): Promise<LatestGather & { close(): void }> {
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const metrics: Metric[] = [];
  const report = await gather(
    {
      measurements: ['netstat', 'netstat_port', 'listen'],
      netstat: { perIpVersion: true },
      netstatPort: { groups: [], autoListenPorts: true },
      countProtocols: ['unix'],
    },
    { snapshot: takeSnapshot, census: takeCensus },
    (m) => metrics.push(m),
  );
  return { metrics, report, time: Date.now(), close: () => listener.close() };
}
