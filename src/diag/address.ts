/**
 * Address text from the 16-byte network-order address columns: IPv4 dotted quads, IPv6 per RFC 5952 (longest
 * zero run compressed, lowercase), IPv4-mapped IPv6 shown as such ("::ffff:127.0.0.1"), like ss and inet_ntop.
 */
import { AF_INET, AF_INET6 } from './constants.js';

export function formatIPv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

export function formatIPv6(bytes: Uint8Array, at: number): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (bytes[at + 2 * i] << 8) | bytes[at + 2 * i + 1];
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d is not special-cased beyond what inet_ntop does for mapped
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, at + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function formatAddress(family: number, bytes: Uint8Array, at: number): string {
  if (family === AF_INET) return formatIPv4(bytes, at);
  if (family === AF_INET6) return formatIPv6(bytes, at);
  return '';
}

/** Parse an IPv4 or IPv6 literal into 16 network-order bytes (IPv4 in the first 4). Undefined if invalid. */
export function parseAddress(text: string): { family: number; bytes: Uint8Array } | undefined {
  const out = new Uint8Array(16);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    out.set(parts, 0);
    return { family: AF_INET, bytes: out };
  }
  if (!text.includes(':')) return undefined;
  let s = text;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseAddress(s.slice(lastColon + 1));
    if (!v4 || v4.family !== AF_INET) return undefined;
    tail = [(v4.bytes[0] << 8) | v4.bytes[1], (v4.bytes[2] << 8) | v4.bytes[3]];
    s = s.slice(0, lastColon + 1) + (s.endsWith('::') || s.slice(0, lastColon).endsWith(':') ? '' : '0');
    if (s.endsWith(':0')) s = s.slice(0, -2);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string) => (h === '' ? [] : h.split(':').map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = halves.length === 2
    ? [...head, ...new Array(Math.max(0, 8 - head.length - rest.length - tail.length)).fill(0), ...rest, ...tail]
    : [...head, ...tail];
  if (groups.length !== 8 || groups.some((x) => Number.isNaN(x))) return undefined;
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return { family: AF_INET6, bytes: out };
}
