/**
 * Host conditions of packet and netlink sockets, as ss 6.1 reads them (misc/ss.c parse_hostcond, the AF_PACKET
 * and AF_NETLINK branches): after a `link:` or `netlink:` prefix, or for every condition when the last family
 * option was -0 / -f link or -f netlink (ss's preferred_family). The "address" is the protocol and the "port" the
 * interface (packet: `ip:eth0`, `*:lo`, `:3`) or the port id (netlink: `rtnl:kernel`, `uevent:412`, `:-4123`), the
 * parts ss prints in Local Address:Port.
 */
import { NETLINK_PROTOCOL_NAMES } from '../diag/netlink-diag.js';
import { LL_PROTOCOL_NAMES } from '../diag/packet.js';

/** The families whose conditions read a protocol and an interface or port id: ss's AF_PACKET and AF_NETLINK. */
export type LinkFamily = 'packet' | 'netlink';
export const LINK_FAMILY_AF: Readonly<Record<LinkFamily, 16 | 17>> = { netlink: 16, packet: 17 };

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** iproute2 get_integer(): strtol(arg, &end, 0) into an int: decimal, 0x hexadecimal or 0-led octal, signed. */
export function cInteger(text: string, min = -(2 ** 31), max = 2 ** 31 - 1): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  const n =
    (m[1] === '-' ? -1 : 1) * (/^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.startsWith('0') ? parseInt(digits || '0', 8) : Number(digits));
  return n >= min && n <= max ? n : undefined;
}

/** ll_proto_a2n: ss's protocol names (any case), else a 16-bit number */
function packetProtocol(text: string): number | undefined {
  const lower = text.toLowerCase();
  for (const [n, name] of LL_PROTOCOL_NAMES) if (name.toLowerCase() === lower) return n;
  return cInteger(text, 0, 0xffff);
}

/** nl_proto_a2n: ss's protocol names, else a number up to 255 */
function netlinkProtocol(text: string): number | undefined {
  for (const [n, name] of Object.entries(NETLINK_PROTOCOL_NAMES)) if (name === text) return Number(n);
  return cInteger(text, 0, 255);
}

export interface LinkCondition {
  family: 16 | 17;
  /** 32 when a protocol is given (ss compares it as the first address word), else 0 */
  prefixLength: number;
  /** the protocol as ss's inet_prefix data[0]: a host-order u32 in the first 4 bytes */
  address: Uint8Array;
  /** the interface index (packet) or port id (netlink); -1: any */
  port: number;
}

/**
 * `PROTOCOL:PORT`, `PROTOCOL`, `:PORT`, `*` after src/dst (isPort false), or the `PORT` after sport/dport (isPort
 * true, one leading ':' optional). A packet port is an interface index or name (`ifindex` resolves it), a
 * netlink port a port id or `kernel` (0).
 */
export function parseLinkHost(text: string, family: LinkFamily, isPort: boolean, ifindex: (name: string) => number | undefined): Parsed<LinkCondition> {
  let protocolText = '';
  let portText: string | undefined;
  if (isPort) portText = text.startsWith(':') ? text.slice(1) : text;
  else {
    const colon = text.indexOf(':');
    protocolText = colon >= 0 ? text.slice(0, colon) : text;
    if (colon >= 0) portText = text.slice(colon + 1);
  }
  let port = -1;
  if (portText !== undefined && portText !== '' && portText !== '*') {
    const n = cInteger(portText);
    if (n !== undefined) port = n;
    else if (family === 'netlink') {
      if (portText !== 'kernel') return { ok: false, reason: `'${portText}' is not a netlink port id (a number or 'kernel')` };
      port = 0;
    } else {
      const index = ifindex(portText);
      if (index === undefined || index <= 0) return { ok: false, reason: `'${portText}' is neither an interface index nor a device in /sys/class/net` };
      port = index;
    }
  }
  const address = new Uint8Array(16);
  if (protocolText === '' || protocolText === '*') return { ok: true, value: { family: LINK_FAMILY_AF[family], prefixLength: 0, address, port } };
  const protocol = family === 'packet' ? packetProtocol(protocolText) : netlinkProtocol(protocolText);
  if (protocol === undefined) {
    return {
      ok: false,
      reason:
        family === 'packet'
          ? `'${protocolText}' is not an ethernet protocol (a name such as ip, ipv6, arp, all, or a number)`
          : `'${protocolText}' is not a netlink protocol (a name such as rtnl, uevent, genl, or a number up to 255)`,
    };
  }
  new DataView(address.buffer).setUint32(0, protocol, true);
  return { ok: true, value: { family: LINK_FAMILY_AF[family], prefixLength: 32, address, port } };
}
