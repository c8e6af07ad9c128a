/**
 * The Zabbix sender protocol (what zabbix_sender speaks to a server's trapper port, 10051): one framed JSON
 * request {"request":"sender data","data":[{host,key,value,clock,ns}],"clock","ns"}, one framed answer
 * {"response":"success","info":"processed: N; failed: M; total: T; seconds spent: S"}.
 */
import { connect } from 'node:net';
import { SockscopeError, systemErrorFacts } from '../errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import type { SenderItem } from './items.js';

export interface SenderResponse {
  response: string;
  info: string;
  processed: number;
  failed: number;
  total: number;
  secondsSpent: number;
}

export function senderRequest(items: readonly SenderItem[], now = Date.now()): string {
  return JSON.stringify({ request: 'sender data', data: items, clock: Math.floor(now / 1000), ns: Math.round((now % 1000) * 1e6) });
}

export function parseSenderResponse(text: string): SenderResponse {
  let doc: { response?: unknown; info?: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SockscopeError('ESOCKSCOPE_ZABBIX', `the Zabbix server answered something that is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
  }
  const info = typeof doc.info === 'string' ? doc.info : '';
  const num = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return { response: String(doc.response), info, processed: num('processed'), failed: num('failed'), total: num('total'), secondsSpent: num('seconds spent') };
}

export function splitServer(server: string): { host: string; port: number } {
  // a bare IPv6 address (more than one ':', no brackets) is all host: "::1" is not host ":" port 1
  if (!server.startsWith('[') && (server.match(/:/g) ?? []).length > 1) return { host: server, port: 10051 };
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  if (!m) throw new SockscopeError('ESOCKSCOPE_USAGE', `Zabbix server '${server}': expected HOST or HOST:PORT`);
  return { host: m[1], port: m[2] ? Number(m[2]) : 10051 };
}

/** Push items; resolves with the server's answer. Timeouts and closed connections reject. */
export function sendItems(server: string, items: readonly SenderItem[], o: { timeoutMs?: number; compress?: boolean } = {}): Promise<SenderResponse> {
  const { host, port } = splitServer(server);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const decoder = new FrameDecoder(1 << 20);
    const fail = (e: Error) => {
      s.destroy();
      reject(new SockscopeError('ESOCKSCOPE_ZABBIX', `Zabbix server ${host}:${port}: ${e.message}`, { server, ...systemErrorFacts(e) }, { cause: e }));
    };
    s.setTimeout(o.timeoutMs ?? 5000, () => fail(new Error('no answer within the timeout')));
    s.on('error', fail);
    s.on('connect', () => s.write(encodeFrame(senderRequest(items), { compress: o.compress })));
    s.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const ev = decoder.next();
      if (ev.kind === 'need-more') return;
      s.end();
      if (ev.kind === 'error') return fail(new Error(ev.reason));
      try {
        resolve(parseSenderResponse(ev.data.toString('utf8')));
      } catch (e) {
        fail(e as Error);
      }
    });
    s.on('end', () => fail(new Error('the connection closed before an answer')));
  });
}
