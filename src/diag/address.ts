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
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function formatAddress(family: number, bytes: Uint8Array, at: number): string {
  if (family === AF_INET) return formatIPv4(bytes, at);
  if (family === AF_INET6) return formatIPv6(bytes, at);
  return '';
}

/**
 * Parse an IPv4 or IPv6 literal into 16 network-order bytes (IPv4 in the first 4). Undefined if invalid.
 * Accepts what inet_pton(3) accepts: dotted quads without leading zeros, at most one "::" standing for one or
 * more zero groups, 1-4 hex digits per group, an embedded IPv4 only as the last 32 bits. No zone ids.
 */
export function parseAddress(text: string): { family: number; bytes: Uint8Array } | undefined {
  const out = new Uint8Array(16);
  if (parseIPv4(text, out, 0)) return { family: AF_INET, bytes: out };
  if (!text.includes(':')) return undefined;
  const gap = text.indexOf('::');
  if (gap >= 0 && text.indexOf('::', gap + 1) >= 0) return undefined; // two gaps (also ':::')
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  // groups as 16-bit words; the last piece of the address may be a dotted quad worth two words
  const words = (pieces: string[], mayEndInIPv4: boolean): number[] | undefined => {
    const w: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (/^[0-9a-fA-F]{1,4}$/.test(p)) w.push(parseInt(p, 16));
      else if (mayEndInIPv4 && i === pieces.length - 1 && parseIPv4(p, out, 12)) w.push((out[12] << 8) | out[13], (out[14] << 8) | out[15]);
      else return undefined;
    }
    return w;
  };
  const hw = words(headGroups, gap < 0);
  const tw = words(tailGroups, true);
  if (!hw || !tw) return undefined;
  const zeros = 8 - hw.length - tw.length;
  if (gap < 0 ? zeros !== 0 : zeros < 1) return undefined; // "::" stands for at least one group
  const groups = [...hw, ...new Array<number>(Math.max(0, zeros)).fill(0), ...tw];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return { family: AF_INET6, bytes: out };
}

/** A dotted quad, each part 0-255 without leading zeros (inet_pton), into out[at..at+4). */
function parseIPv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return false;
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
  return true;
}
