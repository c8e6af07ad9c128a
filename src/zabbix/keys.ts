/**
 * Zabbix item keys: `key[param,"quoted, param",[array]]`, and the net.tcp.socket.count / net.udp.socket.count
 * semantics of Zabbix 6.0 agents: count sockets of both families whose local/remote address (numeric IP or
 * CIDR; no DNS names, like the agents) and port (number or service name) match, in a state. Evaluated over a
 * snapshot table instead of /proc/net; compared key by key with `zabbix_agentd -t` (test/zabbix/).
 */
import { readFileSync } from 'node:fs';
import { parseAddress } from '../diag/address.js';
import { AF_INET, AF_INET6, Proto, TCP_CLOSE, TCP_ESTABLISHED, TCP_STATE_NUMBERS, STATE_KEYS } from '../diag/constants.js';
import type { SocketTable } from '../snapshot/table.js';

export class NotSupported extends Error {}

export interface ItemKey {
  key: string;
  params: string[];
}

/**
 * Parse `key[p1,p2,...]` as the 6.0 agents do (parse_item_key): key characters [A-Za-z0-9_.-]; parameters
 * separated by commas; spaces before a parameter are skipped, spaces after an unquoted one are kept ("a " stays
 * "a "); a quoted parameter may hold commas and `]`, `\"` is a quote, spaces after its closing quote are
 * skipped; `[...]` is an array parameter (its text without the brackets); nothing may follow the closing `]`.
 * Anything else throws NotSupported("Invalid item key format.").
 */
export function parseItemKey(text: string): ItemKey {
  const invalid = () => new NotSupported('Invalid item key format.');
  let i = 0;
  while (i < text.length && /[A-Za-z0-9_.-]/.test(text[i])) i++;
  if (i === 0) throw invalid();
  const key = text.slice(0, i);
  if (i === text.length) return { key, params: [] };
  if (text[i] !== '[') throw invalid();
  i++;
  const params: string[] = [];
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') i++;
        v += text[i++];
      }
      if (text[i] !== '"') throw invalid();
      i++;
      while (text[i] === ' ') i++;
      params.push(v);
    } else if (text[i] === '[') {
      // one level of array: quoted elements may hold ',' and ']'
      const from = ++i;
      for (;;) {
        if (i >= text.length) throw invalid();
        if (text[i] === '"') {
          i++;
          while (i < text.length && text[i] !== '"') i += text[i] === '\\' && text[i + 1] === '"' ? 2 : 1;
          if (i >= text.length) throw invalid();
        } else if (text[i] === '[') {
          throw invalid();
        } else if (text[i] === ']') {
          break;
        }
        i++;
      }
      params.push(text.slice(from, i));
      i++;
      while (text[i] === ' ') i++;
    } else {
      const from = i;
      while (i < text.length && text[i] !== ',' && text[i] !== ']') i++;
      params.push(text.slice(from, i));
    }
    if (i >= text.length) throw invalid();
    if (text[i] === ']') {
      if (i !== text.length - 1) throw invalid();
      return { key, params };
    }
    if (text[i] !== ',') throw invalid();
    i++;
  }
}

let services: Map<string, number> | undefined;
/** getservbyname(3) over /etc/services, as glibc's getaddrinfo does for a service name: exact, case-sensitive. */
function servicePort(name: string, proto: 'tcp' | 'udp'): number | undefined {
  if (!services) {
    services = new Map();
    try {
      for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
        const m = /^\s*(\S+)\s+(\d+)\/(\w+)(.*)$/.exec(line.replace(/#.*/, ''));
        if (!m) continue;
        for (const n of [m[1], ...m[4].trim().split(/\s+/).filter(Boolean)]) if (!services.has(`${n}/${m[3]}`)) services.set(`${n}/${m[3]}`, Number(m[2]));
      }
    } catch {
      /* no /etc/services: numbers only, like getaddrinfo without it */
    }
  }
  return services.get(`${name}/${proto}`);
}

/**
 * An address parameter as Zabbix 6.0 reads it (get_addr_info + zbx_ip_cmp): a numeric IPv4/IPv6 address,
 * optionally with a CIDR prefix; never a DNS name. `mode0` is zbx_ip_cmp's ipv6v4_mode = 0: set for an
 * IPv4-mapped IPv6 parameter with a non-zero prefix, which then also matches IPv4 sockets.
 */
interface AddrMatch {
  family: number;
  /** 16 bytes; IPv4 in the first 4 */
  bytes: Uint8Array;
  prefix: number;
  mode0: boolean;
}

/** Zabbix's is_ip4: four dot-separated groups of 1-3 decimal digits, each at most 255. */
function zbxIsIp4(t: string): boolean {
  const parts = t.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Zabbix's is_ip6: a loose shape check (glibc's inet_pton decides the rest). */
function zbxIsIp6(t: string): boolean {
  let xdigits = 0;
  let onlyX = false;
  let colons = 0;
  let dbl = 0;
  let p = 0;
  for (; p < t.length; p++) {
    const c = t[p];
    if (/[0-9a-fA-F]/.test(c)) {
      xdigits++;
      onlyX = true;
    } else if (c === ':') {
      if (xdigits === 0 && colons > 0) {
        onlyX = true;
        dbl++;
      }
      if (xdigits > 4 || dbl > 1) break;
      xdigits = 0;
      colons++;
    } else {
      onlyX = false;
      break;
    }
  }
  if (colons < 2 || colons > 7 || dbl > 1 || xdigits > 4) return false;
  if (onlyX) return true;
  const last = t.lastIndexOf(':');
  return colons < 7 && last < p && zbxIsIp4(t.slice(last + 1));
}

/** glibc's numeric IPv4 (inet_aton as getaddrinfo AI_NUMERICHOST uses it): a leading 0 means octal. */
function numericIPv4(t: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  const parts = t.split('.');
  for (let k = 0; k < 4; k++) {
    const p = parts[k];
    const v = /^0[0-7]*$/.test(p) ? parseInt(p, 8) : /^[1-9]\d*$/.test(p) ? Number(p) : NaN;
    if (!(v <= 255)) return undefined;
    out[k] = v;
  }
  return out;
}

function numericAddress(t: string): { family: number; bytes: Uint8Array } | undefined {
  if (zbxIsIp4(t)) {
    const b = numericIPv4(t);
    return b ? { family: AF_INET, bytes: b } : undefined;
  }
  if (!zbxIsIp6(t)) return undefined;
  const ip = parseAddress(t);
  return ip?.family === AF_INET6 ? ip : undefined;
}

const isMapped = (b: Uint8Array, at: number) => {
  for (let k = 0; k < 10; k++) if (b[at + k] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
};
const isCompat = (b: Uint8Array, at: number) => {
  for (let k = 0; k < 12; k++) if (b[at + k] !== 0) return false;
  return true;
};

function addressParam(text: string): AddrMatch | undefined {
  if (text === '') return undefined;
  const slash = text.indexOf('/');
  let prefix = -1;
  let host = text;
  if (slash >= 0) {
    host = text.slice(0, slash);
    const bits = text.slice(slash + 1);
    const max = zbxIsIp4(host) ? 32 : zbxIsIp6(host) ? 128 : -1;
    if (max < 0 || !/^\d+$/.test(bits) || Number(bits) > max) throw new NotSupported(`Cannot validate CIDR "${host}/${bits}"`);
    prefix = Number(bits);
  } else if (!zbxIsIp4(host) && !zbxIsIp6(host)) {
    throw new NotSupported(`IP is not supported: "${text}"`);
  }
  const ip = numericAddress(host);
  if (!ip) throw new NotSupported(`IP is not supported: "${text}"`);
  if (prefix < 0) prefix = ip.family === AF_INET ? 32 : 128;
  const mode0 = ip.family === AF_INET6 && isMapped(ip.bytes, 0) && prefix !== 0;
  return { family: ip.family, bytes: ip.bytes, prefix, mode0 };
}

/** Zabbix's port parameter: a number 0-65535 (0 and '' mean any port), else a service name. */
function portParam(text: string, proto: 'tcp' | 'udp'): number | undefined {
  if (text === '') return undefined;
  if (/^\d+$/.test(text) && Number(text) <= 65535) return Number(text) || undefined;
  const atoi = /^\s*([+-]?\d+)/.exec(text);
  if (atoi && Number(atoi[1]) !== 0) throw new NotSupported(`Invalid port number: ${text}`);
  const p = servicePort(text, proto);
  if (p === undefined) throw new NotSupported(`The service "${text}" is not available for the requested socket type.`);
  return p || undefined;
}

function subnetMatch(prefix: number, a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, bytes: number): boolean {
  let bits = prefix;
  for (let k = 0; k < bytes && bits > 0; k++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[aAt + k] & mask) !== (b[bAt + k] & mask)) return false;
  }
  return true;
}

/**
 * zbx_ip_cmp: does the socket address (family fam, 16 bytes at `at`) fall in the parameter's subnet?
 *   IPv4 parameter: IPv4 sockets, and IPv4-mapped IPv6 sockets (by their last 32 bits);
 *   IPv6 parameter: IPv6 sockets that are not IPv4-mapped (so `::/0` skips mapped ones);
 *   IPv4-mapped parameter with a non-zero prefix: IPv6 sockets (mapped included) and IPv4 sockets compared as
 *   ::a.b.c.d or ::ffff:a.b.c.d.
 */
function addressMatches(m: AddrMatch, fam: number, bytes: Uint8Array, at: number): boolean {
  if (m.family === fam) {
    if (fam === AF_INET) return subnetMatch(m.prefix, bytes, at, m.bytes, 0, 4);
    return (m.mode0 || !isMapped(bytes, at)) && subnetMatch(m.prefix, bytes, at, m.bytes, 0, 16);
  }
  if (m.family === AF_INET) {
    return (isMapped(bytes, at) || (m.mode0 && isCompat(bytes, at))) && subnetMatch(m.prefix, bytes, at + 12, m.bytes, 0, 4);
  }
  if (!m.mode0) return false;
  const as6 = new Uint8Array(16);
  as6.set(bytes.subarray(at, at + 4), 12);
  if (subnetMatch(m.prefix, m.bytes, 0, as6, 0, 16)) return true; // ::a.b.c.d
  as6[10] = 0xff;
  as6[11] = 0xff;
  return subnetMatch(m.prefix, m.bytes, 0, as6, 0, 16); // ::ffff:a.b.c.d
}

const TCP_STATES = new Map(TCP_STATE_NUMBERS.map((n) => [STATE_KEYS[n], n]));
const UDP_STATES = new Map([
  ['established', TCP_ESTABLISHED],
  ['unconn', TCP_CLOSE],
]);

/**
 * net.tcp.socket.count / net.udp.socket.count over a table holding TCP/UDP rows of both families, with the
 * 6.0 agents' checks in their order and their messages: too many parameters, local address and port, remote
 * address and port, state.
 */
export function socketCount(t: SocketTable, proto: 'tcp' | 'udp', params: string[]): number {
  if (params.length > 5) throw new NotSupported('Too many parameters.');
  const [laddr = '', lport = '', raddr = '', rport = '', stateText = ''] = params;
  const la = addressParam(laddr);
  const lp = portParam(lport, proto);
  const ra = addressParam(raddr);
  const rp = portParam(rport, proto);
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
