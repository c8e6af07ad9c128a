/**
 * A Zabbix 6.0 passive agent: a server connects, sends one framed item key, gets one framed value (or
 * "ZBX_NOTSUPPORTED\0<reason>") and the connection closes. Like zabbix_agentd: connections from addresses
 * outside the allowed list (Server=) are closed without an answer, unframed requests get no answer, a 7.0-style
 * JSON request gets ZBX_NOTSUPPORTED "Invalid item key format." (so newer servers fall back), and a
 * connection that does not deliver a frame within the timeout, or claims a frame over the size limit, is closed.
 */
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { parseAddress } from '../diag/address.js';
import { AF_INET } from '../diag/constants.js';
import { SockscopeError } from '../errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { boundAddresses, listenOn } from '../util/net.js';
import { NotSupported } from './keys.js';

export const NOT_SUPPORTED = 'ZBX_NOTSUPPORTED';

export interface PassiveOptions {
  listen: readonly string[];
  /** addresses or CIDRs allowed to ask (zabbix_agentd's Server=); empty = loopback only */
  allow: readonly string[];
  /** a request must arrive within this time (Zabbix's Timeout, default 3 s) */
  timeoutMs?: number;
  /** requests are item keys: small */
  maxFrameBytes?: number;
  /** connections open at once (zabbix_agentd has no such cap: it forks StartAgents listeners) */
  maxConnections?: number;
  /** connections one source address may hold at once, so one client cannot take every slot */
  maxConnectionsPerSource?: number;
}

/** Zabbix servers poll with several pollers at once from one address: a quarter of the slots is room enough. */
export const DEFAULT_MAX_CONNECTIONS = 100;
export const DEFAULT_MAX_PER_SOURCE = 25;

/** Answers one key; throw NotSupported(reason) for ZBX_NOTSUPPORTED. */
export type KeyAnswerer = (key: string) => Promise<string> | string;

interface Cidr {
  family: number;
  bytes: Uint8Array;
  prefix: number;
}

export function parseAllowList(entries: readonly string[]): Cidr[] {
  const list = entries.length ? entries : ['127.0.0.1', '::1'];
  return list.map((e) => {
    const [host, len] = e.split('/');
    const ip = parseAddress(host.trim());
    const max = ip?.family === AF_INET ? 32 : 128;
    const prefix = len === undefined ? max : Number(len);
    if (!ip || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new SockscopeError('ESOCKSCOPE_CONFIG', `zabbix allow entry '${e}': expected an IP address or CIDR (e.g. 10.0.0.5, 10.0.0.0/24, ::1)`, {
        key: 'zabbix.allow',
        value: e,
      });
    }
    return { family: ip.family, bytes: ip.bytes, prefix };
  });
}

function allowed(list: Cidr[], remote: string | undefined): boolean {
  if (!remote) return false;
  let text = remote;
  if (text.startsWith('::ffff:') && isIPv4(text.slice(7))) text = text.slice(7); // v4 client on a dual-stack socket
  const ip = parseAddress(text);
  if (!ip) return false;
  return list.some((c) => {
    if (c.family !== ip.family) return false;
    let bits = c.prefix;
    for (let k = 0; bits > 0; k++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((ip.bytes[k] & mask) !== (c.bytes[k] & mask)) return false;
    }
    return true;
  });
}

export class PassiveAgent {
  private servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  /** open connections per source address */
  private readonly perSource = new Map<string, number>();
  private readonly allow: Cidr[];
  /** closed without an answer: not allowed, over the connection cap or the source's share, unframed, oversized, timed out */
  refused = 0;
  answered = 0;

  constructor(
    private readonly o: PassiveOptions,
    private readonly answer: KeyAnswerer,
  ) {
    this.allow = parseAllowList(o.allow);
  }

  async start(): Promise<string[]> {
    for (const addr of this.o.listen) {
      // allowHalfOpen: a client that shuts down its sending side right after the request (zabbix_get-like tools,
      // scripts) still gets the answer, even when the answer waits for a snapshot
      const server = createServer({ allowHalfOpen: true }, (s) => this.connection(s));
      // the caps are counted here rather than with server.maxConnections, whose drops nobody would count
      await listenOn(server, addr, 'zabbix_agent.listen');
      this.servers.push(server);
    }
    return this.addresses();
  }

  addresses(): string[] {
    return boundAddresses(this.servers);
  }

  private connection(s: Socket): void {
    if (!allowed(this.allow, s.remoteAddress)) {
      this.refused++;
      s.destroy();
      return;
    }
    const source = s.remoteAddress ?? '';
    const fromSource = this.perSource.get(source) ?? 0;
    if (this.sockets.size >= (this.o.maxConnections ?? DEFAULT_MAX_CONNECTIONS) || fromSource >= (this.o.maxConnectionsPerSource ?? DEFAULT_MAX_PER_SOURCE)) {
      this.refused++;
      s.destroy();
      return;
    }
    this.perSource.set(source, fromSource + 1);
    this.sockets.add(s);
    s.on('close', () => {
      this.sockets.delete(s);
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n > 0) this.perSource.set(source, n);
      else this.perSource.delete(source);
    });
    s.on('error', () => s.destroy());
    const decoder = new FrameDecoder(this.o.maxFrameBytes ?? 64 * 1024);
    let done = false;
    // a deadline for the whole request, not an idle timeout: a client trickling a byte at a time is cut off too
    const deadline = setTimeout(() => {
      if (done) return;
      done = true;
      this.refused++;
      s.destroy();
    }, this.o.timeoutMs ?? 3000);
    deadline.unref();
    s.on('close', () => clearTimeout(deadline));
    s.on('end', () => {
      if (done) return; // the request is in: the answer still goes out on our half
      done = true; // closed mid-request: it can never complete
      this.refused++;
      s.destroy();
    });
    s.on('data', (chunk: Buffer) => {
      if (done) return;
      decoder.push(chunk);
      const ev = decoder.next();
      if (ev.kind === 'need-more') return;
      done = true;
      s.pause();
      if (ev.kind === 'error') {
        this.refused++;
        s.destroy();
        return;
      }
      void this.reply(s, ev.data.toString('utf8'));
    });
  }

  private async reply(s: Socket, request: string): Promise<void> {
    let value: string;
    const text = request.replace(/\n$/, '');
    if (text.trimStart().startsWith('{')) {
      value = `${NOT_SUPPORTED}\0Invalid item key format.`; // 7.0 "passive checks" JSON: make the server fall back
    } else {
      try {
        value = await this.answer(text);
      } catch (e) {
        value = `${NOT_SUPPORTED}\0${e instanceof NotSupported ? e.message : `Cannot obtain value: ${(e as Error).message}`}`;
      }
    }
    this.answered++;
    s.end(encodeFrame(value));
    setTimeout(() => s.destroy(), this.o.timeoutMs ?? 3000).unref(); // a client that never closes its side
  }

  async close(): Promise<void> {
    const closed = this.servers.map((sv) => new Promise<void>((r) => sv.close(() => r())));
    for (const s of this.sockets) s.destroy();
    await Promise.all(closed);
    this.servers = [];
  }
}
