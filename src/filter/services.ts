/**
 * Service names for ports (`dport = :https`), as ss looks them up with getservbyname(3): /etc/services, read
 * once on first use, with a small built-in table when the file is missing (minimal containers).
 */
import { readFileSync } from 'node:fs';

/** name (and alias) → port, per protocol ("tcp", "udp", ...) */
export type ServiceTable = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** IANA assignments most filters use; each is the same port for TCP and UDP. */
const BUILT_IN: readonly [string, number][] = [
  ['ftp-data', 20],
  ['ftp', 21],
  ['ssh', 22],
  ['telnet', 23],
  ['smtp', 25],
  ['domain', 53],
  ['http', 80],
  ['www', 80],
  ['kerberos', 88],
  ['pop3', 110],
  ['sunrpc', 111],
  ['ntp', 123],
  ['imap2', 143],
  ['imap', 143],
  ['snmp', 161],
  ['bgp', 179],
  ['ldap', 389],
  ['https', 443],
  ['microsoft-ds', 445],
  ['submissions', 465],
  ['syslog', 514],
  ['submission', 587],
  ['ldaps', 636],
  ['rsync', 873],
  ['imaps', 993],
  ['pop3s', 995],
  ['openvpn', 1194],
  ['ms-sql-s', 1433],
  ['nfs', 2049],
  ['mysql', 3306],
  ['sip', 5060],
  ['xmpp-client', 5222],
  ['postgresql', 5432],
  ['amqp', 5672],
  ['http-alt', 8080],
];

/** Parse services(5) text: "name port/proto [aliases...] [# comment]". */
export function parseServices(text: string): ServiceTable {
  const byProto = new Map<string, Map<string, number>>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/(\S+)$/.exec(portProto ?? '');
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    let names = byProto.get(m[2]);
    if (!names) byProto.set(m[2], (names = new Map()));
    for (const n of [name, ...aliases]) if (!names.has(n)) names.set(n, port);
  }
  return byProto;
}

function builtIn(): ServiceTable {
  const names = new Map(BUILT_IN);
  return new Map([
    ['tcp', names],
    ['udp', names],
  ]);
}

let cached: ServiceTable | undefined;

/** /etc/services, read once; the built-in table if it cannot be read. */
export function systemServices(): ServiceTable {
  if (!cached) {
    try {
      cached = parseServices(readFileSync('/etc/services', 'latin1'));
    } catch {
      cached = builtIn();
    }
  }
  return cached;
}

/**
 * The port for a service name, looked up for TCP and/or UDP as ss does (misc/ss.c parse_hostcond): when both
 * are asked and they disagree the name is ambiguous. With neither in `protocols`, both are asked.
 */
export function lookupService(table: ServiceTable, name: string, protocols: readonly string[]): { port: number } | { ambiguous: [number, number] } | undefined {
  const neither = !protocols.includes('tcp') && !protocols.includes('udp');
  const tcp = neither || protocols.includes('tcp') ? table.get('tcp')?.get(name) : undefined;
  const udp = neither || protocols.includes('udp') ? table.get('udp')?.get(name) : undefined;
  if (tcp !== undefined && udp !== undefined && tcp !== udp) return { ambiguous: [tcp, udp] };
  const port = udp ?? tcp;
  return port === undefined ? undefined : { port };
}
