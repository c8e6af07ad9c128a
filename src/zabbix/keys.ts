/**
 * Zabbix item keys: `key[param,"quoted, param",[array]]`, and the net.tcp.socket.count / net.udp.socket.count
 * semantics of Zabbix 6.0 agents: count sockets of both families whose local/remote address (IP, CIDR or DNS
 * name) and port (number or service name) match, in a state. Evaluated over a snapshot table instead of
 * /proc/net.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { parseAddress } from '../diag/address.js';
import { AF_INET, AF_INET6, Proto, TCP_CLOSE, TCP_ESTABLISHED, TCP_STATE_NUMBERS, STATE_KEYS } from '../diag/constants.js';
import type { SocketTable } from '../snapshot/table.js';

export class NotSupported extends Error {}

export interface ItemKey {
  key: string;
  params: string[];
}

/** Parse `key[p1,p2,...]`. Throws NotSupported("Invalid item key format.") like the agents. */
export function parseItemKey(text: string): ItemKey {
  const open = text.indexOf('[');
  const key = open < 0 ? text : text.slice(0, open);
  if (!/^[A-Za-z0-9_.\-]+$/.test(key)) throw new NotSupported('Invalid item key format.');
  if (open < 0) return { key, params: [] };
  if (!text.endsWith(']')) throw new NotSupported('Invalid item key format.');
  const body = text.slice(open + 1, -1);
  const params: string[] = [];
  let i = 0;
  for (;;) {
    while (body[i] === ' ') i++;
    if (body[i] === '"') {
      let v = '';
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\' && body[i + 1] === '"') i++;
        v += body[i++];
      }
      if (body[i] !== '"') throw new NotSupported('Invalid item key format.');
      i++;
      params.push(v);
      while (body[i] === ' ') i++;
    } else if (body[i] === '[') {
      const end = body.indexOf(']', i);
      if (end < 0) throw new NotSupported('Invalid item key format.');
      params.push(body.slice(i + 1, end));
      i = end + 1;
    } else {
      let v = '';
      while (i < body.length && body[i] !== ',') v += body[i++];
      params.push(v.trimEnd());
    }
    if (i >= body.length) break;
    if (body[i] !== ',') throw new NotSupported('Invalid item key format.');
    i++;
  }
  return { key, params };
}

let services: Map<string, number> | undefined;
function servicePort(name: string, proto: 'tcp' | 'udp'): number | undefined {
  if (!services) {
    services = new Map();
    try {
      for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
        const m = /^([\w.+-]+)\s+(\d+)\/(\w+)(.*)$/.exec(line.replace(/#.*/, ''));
        if (!m) continue;
        for (const n of [m[1], ...m[4].trim().split(/\s+/).filter(Boolean)]) if (!services.has(`${n}/${m[3]}`)) services.set(`${n}/${m[3]}`, Number(m[2]));
      }
    } catch {
      /* numbers only */
    }
  }
  return services.get(`${name}/${proto}`);
}

interface AddrMatch {
  family: number;
  bytes: Uint8Array;
  prefix: number;
}

/** An address parameter: IP, IP/prefix, or a DNS name (every address it resolves to). */
async function addressParam(text: string, which: string): Promise<AddrMatch[] | undefined> {
  if (text === '') return undefined;
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const ip = parseAddress(host);
  if (ip) {
    const max = ip.family === AF_INET ? 32 : 128;
    const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new NotSupported(`Invalid ${which} parameter.`);
    return [{ family: ip.family, bytes: ip.bytes, prefix }];
  }
  if (slash >= 0) throw new NotSupported(`Invalid ${which} parameter.`);
  try {
    const all = await lookup(host, { all: true });
    return all.map((a) => {
      const p = parseAddress(a.address)!;
      return { family: p.family, bytes: p.bytes, prefix: p.family === AF_INET ? 32 : 128 };
    });
  } catch {
    throw new NotSupported(`Cannot resolve address in ${which} parameter.`);
  }
}

function portParam(text: string, proto: 'tcp' | 'udp', which: string): number | undefined {
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 65535) throw new NotSupported(`Invalid ${which} parameter.`);
    return n;
  }
  const p = servicePort(text, proto);
  if (p === undefined) throw new NotSupported(`Invalid ${which} parameter.`);
  return p;
}

/** Does the 16-byte address at `at` (family fam) fall in any of the matches? IPv4-mapped IPv6 counts as IPv4. */
function addressMatches(matches: AddrMatch[], fam: number, bytes: Uint8Array, at: number): boolean {
  let f = fam;
  let off = at;
  if (fam === AF_INET6 && isMapped(bytes, at)) {
    f = AF_INET;
    off = at + 12;
  }
  for (const m of matches) {
    if (m.family !== f) continue;
    let bits = m.prefix;
    let ok = true;
    for (let k = 0; bits > 0 && ok; k++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((bytes[off + k] & mask) !== (m.bytes[k] & mask)) ok = false;
    }
    if (ok) return true;
  }
  return false;
}

const isMapped = (b: Uint8Array, at: number) => {
  for (let k = 0; k < 10; k++) if (b[at + k] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
};

const TCP_STATES = new Map(TCP_STATE_NUMBERS.map((n) => [STATE_KEYS[n], n]));
const UDP_STATES = new Map([['established', TCP_ESTABLISHED], ['unconn', TCP_CLOSE]]);

/** net.tcp.socket.count / net.udp.socket.count over a table holding TCP/UDP rows of both families. */
export async function socketCount(t: SocketTable, proto: 'tcp' | 'udp', params: string[]): Promise<number> {
  if (params.length > 5) throw new NotSupported('Too many parameters.');
  const [laddr = '', lport = '', raddr = '', rport = '', stateText = ''] = params;
  const la = await addressParam(laddr, 'first');
  const lp = portParam(lport, proto, 'second');
  const ra = await addressParam(raddr, 'third');
  const rp = portParam(rport, proto, 'fourth');
  let state: number | undefined;
  if (stateText !== '') {
    state = (proto === 'tcp' ? TCP_STATES : UDP_STATES).get(stateText);
    if (state === undefined) throw new NotSupported('Invalid fifth parameter.');
  }
  const p = proto === 'tcp' ? Proto.tcp : Proto.udp;
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    if (t.proto[i] !== p) continue;
    if (state !== undefined && t.state[i] !== state) continue;
    if (lp !== undefined && t.sport[i] !== lp) continue;
    if (rp !== undefined && t.dport[i] !== rp) continue;
    if (la && !addressMatches(la, t.family[i], t.src, i * 16)) continue;
    if (ra && !addressMatches(ra, t.family[i], t.dst, i * 16)) continue;
    n++;
  }
  return n;
}
