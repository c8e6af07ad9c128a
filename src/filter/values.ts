/**
 * The values after a keyword: host conditions (misc/ss.c parse_hostcond), ports, marks (parse_markmask).
 * Each parser returns the value or a sentence saying what is wrong with the text; the parser adds the position.
 */
import { AF_INET, AF_INET6 } from '../diag/constants.js';
import { parseAddress } from '../diag/address.js';
import { parseLinkHost, type LinkFamily } from './link-values.js';
import { lookupService, type ServiceTable } from './services.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export interface HostCondition {
  /** 0 (AF_UNSPEC: no address), AF_INET, AF_INET6; AF_UNIX (1): a name pattern; AF_NETLINK (16), AF_PACKET (17): see link-values.ts */
  family: 0 | 1 | 2 | 10 | 16 | 17;
  /** AF_UNIX: the name pattern (fnmatch) */
  pattern?: string;
  prefixLength: number;
  /** 16 bytes, network order, as written (host bits are not cleared) */
  address: Uint8Array;
  /** -1 = any */
  port: number;
}

export interface PortLookup {
  /** called only for a service name, so /etc/services is read only when a filter names one */
  services: () => ServiceTable;
  protocols: readonly string[];
  /** ss's preferred family when it is unix, packet or netlink (the last family option: -x, -f unix, -0, -f link, -f netlink) */
  linkFamily?: LinkFamily | 'unix';
  /** a device name → its ifindex (packet conditions name interfaces) */
  ifindex: (name: string) => number | undefined;
}

/**
 * A port: `443`, `:443`, `:https` (one leading colon is optional, as in ss), or `*` (any port). Decimal only.
 */
export function parsePort(text: string, lookup: PortLookup): Parsed<number> {
  if (lookup.linkFamily === 'unix') return bad('after -x a port is read as a unix name pattern, as ss reads it: write src/dst PATTERN');
  if (lookup.linkFamily) {
    const link = parseLinkHost(text, lookup.linkFamily, true, lookup.ifindex);
    return link.ok ? ok(link.value.port) : link;
  }
  const p = text.startsWith(':') ? text.slice(1) : text;
  if (p === '') return bad('the port is empty');
  if (p === '*') return ok(-1);
  if (/^\d+$/.test(p)) {
    const n = Number(p);
    return n <= 65535 ? ok(n) : bad(`${p} is out of range (0-65535)`);
  }
  if (/^-\d+$/.test(p)) return bad(`${p} is out of range (0-65535)`);
  const found = lookupService(lookup.services(), p, lookup.protocols);
  if (!found) return bad(`'${p}' is not a port number or a service name in /etc/services`);
  if ('ambiguous' in found) return bad(`'${p}' is ambiguous: ${found.ambiguous[0]}/tcp but ${found.ambiguous[1]}/udp`);
  return ok(found.port);
}

/**
 * A dotted quad for a prefix: 1-4 decimal parts, missing trailing parts zero (iproute2 get_addr_ipv4, so
 * `10/8` is 10.0.0.0/8). Short forms only with a prefix length: a bare `127.1` would be read differently by
 * inet_aton(3) and by ss.
 */
function parseIPv4Parts(text: string, allowShort: boolean): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length > 4 || (parts.length < 4 && !allowShort)) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < parts.length; i++) {
    if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return undefined;
    out[i] = Number(parts[i]);
  }
  return out;
}

/** `/24` or a contiguous dotted netmask `/255.255.255.0` (iproute2 get_netmask). */
function parsePrefixLength(text: string, family: number): Parsed<number> {
  const max = family === AF_INET ? 32 : 128;
  if (text === '') return bad("the prefix length after '/' is missing");
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n <= max ? ok(n) : bad(`prefix length ${text} is longer than ${max}`);
  }
  if (family === AF_INET) {
    const mask = parseIPv4Parts(text, false);
    if (mask) {
      const m = ((mask[0] << 24) | (mask[1] << 16) | (mask[2] << 8) | mask[3]) >>> 0;
      const len = 32 - Math.log2((~m >>> 0) + 1);
      if (Number.isInteger(len)) return ok(len);
      return bad(`netmask ${text} is not contiguous`);
    }
  }
  return bad(`'${text}' is not a prefix length`);
}

/** An address with an optional /len: `10.0.0.0/8`, `127.0.0.1`, `::1`, `2001:db8::/32`, `10/8`. */
function parsePrefix(text: string): Parsed<{ family: 2 | 10; prefixLength: number; address: Uint8Array }> {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  let family: 2 | 10;
  let address: Uint8Array;
  const v4 = parseIPv4Parts(addrText, slash >= 0);
  if (v4) {
    family = AF_INET;
    address = v4;
  } else {
    const parsed = addrText.includes(':') ? parseAddress(addrText) : undefined;
    if (!parsed || parsed.family !== AF_INET6) {
      if (/^\d{1,3}(\.\d{1,3}){0,2}$/.test(addrText) && slash < 0)
        return bad(`${addrText} is not an IPv4 address (write all four parts; short forms like 10/8 need a prefix length)`);
      if (/^[\d.]+$/.test(addrText)) return bad(`${addrText} is not an IPv4 address`);
      if (addrText.includes(':')) return bad(`${addrText} is not an IPv6 address`);
      return bad(`'${addrText}' is not an IP address (host names are not resolved)`);
    }
    family = AF_INET6;
    address = parsed.bytes;
  }
  let prefixLength = family === AF_INET ? 32 : 128;
  if (slash >= 0) {
    const len = parsePrefixLength(text.slice(slash + 1), family);
    if (!len.ok) return len;
    prefixLength = len.value;
  }
  // Host bits stay as written, as ss sends them: the kernel (bitstring_match) and matches() compare only the
  // first prefixLength bits.
  return ok({ family, prefixLength, address });
}

/**
 * A host condition after src/dst, in ss's forms:
 *   127.0.0.1   10.0.0.0/8   10.0.0.0/8:22   1.2.3.4:443   *   *:80   :80
 *   [::1]   [::1]:5432   [2001:db8::/32]:443   ::1/128   (a bare IPv6 address needs brackets or a /len)
 */
export function parseHost(text: string, lookup: PortLookup): Parsed<HostCondition> {
  const fam = /^(unix|link|netlink|vsock|inet6?):/.exec(text);
  if (fam?.[1] === 'link' || fam?.[1] === 'netlink')
    return parseLinkHost(text.slice(fam[0].length), fam[1] === 'link' ? 'packet' : 'netlink', false, lookup.ifindex);
  // ss parse_hostcond: after unix: (or with -x) the whole word is a pattern of the socket's name
  if (fam?.[1] === 'unix' || (!fam && lookup.linkFamily === 'unix')) {
    return ok({ family: 1, prefixLength: 0, address: new Uint8Array(16), port: -1, pattern: fam ? text.slice(fam[0].length) : text });
  }
  if (fam)
    return bad(`family prefixes like '${fam[0]}' are not supported: sockscope filters inet, unix (unix:), packet (link:) and netlink (netlink:) sockets`);
  if (lookup.linkFamily === 'packet' || lookup.linkFamily === 'netlink') return parseLinkHost(text, lookup.linkFamily, false, lookup.ifindex);
  let addrText: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return bad(`'[' without a closing ']'`);
    addrText = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest.startsWith(':')) portText = rest.slice(1);
    else if (rest !== '') {
      return bad(
        rest.startsWith('/') ? `the prefix length goes inside the brackets: [${addrText}${rest}]` : `'${rest}' after ']' is neither :PORT nor nothing`,
      );
    }
    if (addrText === '') return bad('the brackets are empty');
  } else if (text.startsWith('*')) {
    addrText = '*';
    const rest = text.slice(1);
    if (rest.startsWith(':')) portText = rest.slice(1);
    else if (rest !== '') return bad(`'${text}' is not '*' or '*:PORT'`);
  } else {
    // ss: the port is after the last ':' (after the '/' when there is one)
    const slash = text.indexOf('/');
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && colon > slash) {
      addrText = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (addrText.includes(':') && slash < 0 && parseAddress(text)?.family === AF_INET6) {
        return bad(`an IPv6 address needs brackets: [${text}] (bare, it reads as address '${addrText}' and port ${portText})`);
      }
    } else {
      addrText = text;
    }
  }
  let port = -1;
  if (portText !== undefined && portText !== '' && portText !== '*') {
    const p = parsePort(portText, lookup);
    if (!p.ok) return p;
    port = p.value;
  }
  if (addrText === '' || addrText === '*') return ok({ family: 0, prefixLength: 0, address: new Uint8Array(16), port });
  const prefix = parsePrefix(addrText);
  if (!prefix.ok) return prefix;
  return ok({ ...prefix.value, port });
}

/** C's %i: decimal, 0x hexadecimal, or 0-led octal; a u32. */
function parseCInteger(text: string): number | undefined {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) n = parseInt(text, 8);
  else if (/^[1-9]\d*$/.test(text)) n = Number(text);
  else return undefined;
  return n <= 0xffffffff ? n : undefined;
}

/** `MARK` or `MARK/MASK` (ss parse_markmask: sscanf "%i/%i"); the mask defaults to 0xffffffff. */
export function parseMark(text: string): Parsed<{ mark: number; mask: number }> {
  const slash = text.indexOf('/');
  const markText = slash >= 0 ? text.slice(0, slash) : text;
  const mark = parseCInteger(markText);
  if (mark === undefined) return bad(`'${markText}' is not a 32-bit number`);
  if (slash < 0) return ok({ mark, mask: 0xffffffff });
  const mask = parseCInteger(text.slice(slash + 1));
  if (mask === undefined) return bad(`'${text.slice(slash + 1)}' is not a 32-bit mask`);
  return ok({ mark, mask });
}
