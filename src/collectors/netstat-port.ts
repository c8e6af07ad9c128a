/**
 * netstat_port: DataKit's per-port-group counts. Groups (addr_ports) are tried in order and the first that
 * matches a socket wins, so a socket lands in at most one point; each point is (addr_port, ip_version) plus
 * the group's tags, with netstat's 13 fields and `pid`.
 *
 * Entries (see docs/metrics.md):
 *   ports        "80" (local port) or "1.1.1.1:80" / "[::1]:80" (local address and port); addr_port = the entry
 *   ports_match  "*:80": one point per local address, addr_port = "<local ip>:80" ("[v6]:80"); when a group has
 *                ports_match its ports are ignored, as in DataKit
 *   remote_ports "443" / "10.0.0.5:5432" / "[::1]:443": the peer's port (outbound connections), which
 *                DataKit cannot express; addr_port = "remote:<entry>"
 * IPv6 matches too (bracketed forms), which DataKit cannot.
 *
 * pid: with sockscope semantics, the lowest pid among the processes holding the point's sockets (0 when
 * process attribution is off or found no holder); with telegraf (DataKit) semantics, the pid of the last
 * socket counted, as DataKit does.
 */
import { SockscopeError } from '../errors.js';
import { parseAddress, formatAddress } from '../diag/address.js';
import type { MeasurementSchema, Metric } from '../model/metric.js';
import type { SocketTable } from '../snapshot/table.js';
import { defineCollector, type SnapshotNeeds } from './collector.js';
import { portText, ROWS_PER_CALL, tableConnections, tcpListenerRows, type ConnectionSource } from './connections.js';
import { countFields, countsAt, IP_VERSIONS, ipVersionIndex, NETSTAT_FIELD_COUNT, netstatFieldIndex, type NetstatSemantics } from './netstat.js';

export const NETSTAT_PORT_SCHEMA: MeasurementSchema = {
  name: 'netstat_port',
  help: 'Connections per configured port group (DataKit netstat_port names)',
  fields: countFields('Sockets of the port group: ', {
    pid: { type: 'int', help: "a process holding the group's sockets (see docs/metrics.md); 0 when unknown" },
  }),
};
// Prometheus families of their own for the per-port counts
for (const [k, spec] of Object.entries(NETSTAT_PORT_SCHEMA.fields)) {
  if (spec.prom) (NETSTAT_PORT_SCHEMA.fields as Record<string, typeof spec>)[k] = { ...spec, prom: { ...spec.prom, name: `port_${spec.prom.name}` } };
}

export interface PortGroupConfig {
  ports?: string[];
  ports_match?: string[];
  remote_ports?: string[];
  tags?: Record<string, string>;
}

interface Entry {
  text: string;
  port: number;
  /** normalized address text (formatAddress) or undefined for any address */
  address?: string;
}

export interface PortGroup {
  entries: Entry[];
  mode: 'ports' | 'match' | 'remote';
  tags: Record<string, string>;
}

function configError(key: string, value: unknown, expected: string): SockscopeError {
  return new SockscopeError('ESOCKSCOPE_CONFIG', `invalid ${key} entry ${JSON.stringify(value)}: expected ${expected}`, { key, value });
}

function parsePort(text: string, key: string, whole: string, expected: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw configError(key, whole, expected);
  return Number(text);
}

const PORTS_EXPECTED = 'a port ("80"), an address and port ("1.1.1.1:80", "[::1]:80")';

function parseEntry(text: unknown, key: string): Entry {
  if (typeof text !== 'string' || text === '') throw configError(key, text, PORTS_EXPECTED);
  if (/^\d+$/.test(text)) return { text, port: parsePort(text, key, text, PORTS_EXPECTED) };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw configError(key, text, PORTS_EXPECTED);
  const addr = parseAddress(m[1]);
  if (!addr) throw configError(key, text, `${PORTS_EXPECTED}; '${m[1]}' is not an IP address`);
  return { text, port: parsePort(m[2], key, text, PORTS_EXPECTED), address: formatAddress(addr.family, addr.bytes, 0) };
}

/** Validate addr_ports once, at start. Throws ESOCKSCOPE_CONFIG naming the entry and what was expected. */
export function parsePortGroups(groups: readonly PortGroupConfig[], key = 'addr_ports'): PortGroup[] {
  return groups.map((g, n) => {
    const where = `${key}[${n}]`;
    if (typeof g !== 'object' || g === null) throw configError(where, g, 'a table with ports, ports_match or remote_ports');
    const tags = g.tags ?? {};
    for (const [k, v] of Object.entries(tags)) if (typeof v !== 'string') throw configError(`${where}.tags.${k}`, v, 'a string');
    if (g.ports_match?.length) {
      return {
        mode: 'match' as const,
        tags,
        entries: g.ports_match.map((e) => {
          const m = typeof e === 'string' ? /^\*:(\d+)$/.exec(e) : null;
          if (!m) throw configError(`${where}.ports_match`, e, '"*:<port>", e.g. "*:80"');
          return { text: e, port: parsePort(m[1], `${where}.ports_match`, e, '"*:<port>", e.g. "*:80"') };
        }),
      };
    }
    if (g.remote_ports?.length) return { mode: 'remote' as const, tags, entries: g.remote_ports.map((e) => parseEntry(e, `${where}.remote_ports`)) };
    if (!g.ports?.length) throw configError(where, g, 'a table with a non-empty ports, ports_match or remote_ports');
    return { mode: 'ports' as const, tags, entries: g.ports.map((e) => parseEntry(e, `${where}.ports`)) };
  });
}

/**
 * DataKit's ENV_INPUT_NETSTAT_ADDR_PORTS: a JSON array of port entries, one group with `ports` only.
 */
export function parseAddrPortsEnv(text: string, key = 'ENV_INPUT_NETSTAT_ADDR_PORTS'): PortGroup[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw configError(key, text, 'a JSON array of strings, e.g. ["1.1.1.1:80","443"]');
  }
  if (!Array.isArray(list)) throw configError(key, text, 'a JSON array of strings, e.g. ["1.1.1.1:80","443"]');
  return parsePortGroups([{ ports: list as string[] }], key);
}

const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);

export interface NetstatPortOptions {
  semantics?: NetstatSemantics;
  /** gopsutil's de-duplication, which DataKit's netstat_port counts after (on with telegraf semantics in gather) */
  dedupe?: boolean;
}

export function collectNetstatPort(src: ConnectionSource, groups: readonly PortGroup[], time: number, o: NetstatPortOptions = {}): Metric[] {
  const semantics = o.semantics ?? 'sockscope';
  const seen = o.dedupe ? new Set<string>() : undefined;
  // Candidate entries per port, in (group, entry) order, so a socket only looks at the entries of its own
  // ports: with one group per listener (auto_listen_ports) a linear scan of every group per socket costs
  // O(sockets x groups). A candidate whose addr_port does not depend on the socket (every mode but
  // ports_match) remembers its point per ip_version, so counting a socket builds no string.
  const candidates: Candidate[][] = [];
  // port → index in candidates: the two 256 KiB indexes are kept (and left all -1) between calls, not made and
  // filled per call: an agent over 100 namespaces counts 100 tables a gather
  const { byLocal, byRemote } = PORT_INDEX;
  const anyRemote = groups.some((g) => g.mode === 'remote');
  groups.forEach((group, g) => {
    for (const e of group.entries) {
      const index = group.mode === 'remote' ? byRemote : byLocal;
      if (index[e.port] < 0) index[e.port] = candidates.push([]) - 1;
      const fixed = group.mode === 'remote' ? `remote:${e.text}` : group.mode === 'match' ? undefined : e.text;
      candidates[index[e.port]].push({ g, e, mode: group.mode, fixed, points: [-1, -1, -1] });
    }
  });

  const points: Points = {
    keys: new Map(),
    addrPorts: [],
    versions: [],
    groups: [],
    counts: POINT_SCRATCH.counts,
    pids: POINT_SCRATCH.pids,
  };
  try {
    for (let from = 0; from < src.length; from += ROWS_PER_CALL) {
      countPorts(src, from, Math.min(src.length, from + ROWS_PER_CALL), candidates, byLocal, byRemote, anyRemote, semantics, seen, points);
    }
    const { counts, pids } = points;
    // tags are built after the counting loop, so that loop never handles objects made for this gather only
    return points.addrPorts.map((addrPort, p) => ({
      schema: NETSTAT_PORT_SCHEMA,
      tags: { ...groups[points.groups[p]].tags, addr_port: addrPort, ip_version: IP_VERSIONS[points.versions[p]] },
      fields: countsAt(counts, p * NETSTAT_FIELD_COUNT, pids[p]),
      time,
    }));
  } finally {
    for (const group of groups) for (const e of group.entries) (group.mode === 'remote' ? byRemote : byLocal)[e.port] = -1;
    // the counts back to 0 for the next call, kept at the size they grew to
    const n = points.addrPorts.length;
    POINT_SCRATCH.counts = points.counts.fill(0, 0, n * NETSTAT_FIELD_COUNT);
    POINT_SCRATCH.pids = points.pids.fill(0, 0, n);
  }
}

/** The port indexes of collectNetstatPort, all -1 between its calls (scratch of one synchronous call). */
const PORT_INDEX = { byLocal: new Int32Array(65536).fill(-1), byRemote: new Int32Array(65536).fill(-1) };
/**
 * The points' counts (NETSTAT_FIELD_COUNT each) and pids of collectNetstatPort, all 0 between its calls (scratch of
 * one synchronous call, grown by pointOf and kept): an agent counts 100 namespaces' tables a gather.
 */
const POINT_SCRATCH: Pick<Points, 'counts' | 'pids'> = { counts: new Float64Array(64 * NETSTAT_FIELD_COUNT), pids: new Float64Array(64) };

interface Candidate {
  g: number;
  e: Entry;
  mode: PortGroup['mode'];
  fixed: string | undefined;
  points: [number, number, number];
}
const NONE: Candidate[] = [];

/** The counting loop over rows [from, to): each socket into the point of the first group with a matching entry. */
function countPorts(
  src: ConnectionSource,
  from: number,
  to: number,
  candidates: Candidate[][],
  byLocal: Int32Array,
  byRemote: Int32Array,
  anyRemote: boolean,
  semantics: NetstatSemantics,
  seen: Set<string> | undefined,
  points: Points,
): void {
  const telegraf = semantics === 'telegraf';
  for (let i = from; i < to; i++) {
    const lport = src.localPort(i);
    const rport = anyRemote ? src.remotePort(i) : 0;
    const local = byLocal[lport] >= 0 ? candidates[byLocal[lport]] : NONE;
    // the remote index only when a group has remote ports: a lookup per socket at its (ephemeral, scattered) peer
    // port misses the cache (most of a profiled countPorts' time was this line)
    const remote = anyRemote && byRemote[rport] >= 0 ? candidates[byRemote[rport]] : NONE;
    if (local.length === 0 && remote.length === 0) continue;
    const field = netstatFieldIndex(src, i, semantics);
    if (field < 0) continue;
    let addrPort: string | undefined;
    let found: Candidate | undefined;
    // walk both candidate lists in group order: the first group with a matching entry wins
    for (let a = 0, b = 0; a < local.length || b < remote.length; ) {
      const c = b >= remote.length || (a < local.length && local[a].g <= remote[b].g) ? local[a++] : remote[b++];
      if (c.mode === 'remote') {
        if (c.e.address === undefined || c.e.address === src.remoteAddress(i)) addrPort = c.fixed;
      } else if (c.mode === 'match') {
        addrPort = `${bracket(src.localAddress(i))}:${lport}`;
      } else if (c.e.address === undefined || c.e.address === src.localAddress(i)) {
        addrPort = c.fixed;
      }
      if (addrPort) {
        found = c;
        break;
      }
    }
    if (!addrPort || !found) continue;
    if (seen) {
      const k = src.dedupKey(i);
      if (seen.has(k)) continue;
      seen.add(k);
    }
    const v = ipVersionIndex(src.ipVersion(i));
    let p = found.fixed === undefined ? -1 : found.points[v];
    if (p < 0) {
      p = pointOf(points, addrPort, v, found.g);
      if (found.fixed !== undefined) found.points[v] = p;
    }
    points.counts[p * NETSTAT_FIELD_COUNT + field]++;
    const pid = src.pid(i);
    if (telegraf) points.pids[p] = pid;
    else if (pid > 0 && (points.pids[p] === 0 || pid < points.pids[p])) points.pids[p] = pid;
  }
}

/**
 * Points in the order their first socket was counted: (addr_port, ip_version index, group), then
 * NETSTAT_FIELD_COUNT counts and a pid each. Plain arrays and a module function rather than a closure or tag
 * objects per call: the counting loop's optimized code then depends on nothing that is garbage by the next
 * gather (see keepShape).
 */
interface Points {
  keys: Map<string, number>;
  addrPorts: string[];
  versions: number[];
  groups: number[];
  counts: Float64Array;
  pids: Float64Array;
}

function pointOf(points: Points, addrPort: string, v: number, gi: number): number {
  const key = `${addrPort}\u0000${v}\u0000${gi}`;
  let p = points.keys.get(key);
  if (p === undefined) {
    p = points.addrPorts.push(addrPort) - 1;
    points.versions.push(v);
    points.groups.push(gi);
    points.keys.set(key, p);
    if (p === points.pids.length) {
      const counts = new Float64Array(points.counts.length * 2);
      counts.set(points.counts);
      points.counts = counts;
      const pids = new Float64Array(points.pids.length * 2);
      pids.set(points.pids);
      points.pids = pids;
    }
  }
  return p;
}

/** One port group per TCP listening port (the default when no addr_ports are configured), ordered by port. */
/** The group of one listening port, made once per port (groups are read, never changed): auto_listen_ports. */
const LISTEN_PORT_GROUPS: (PortGroup | undefined)[] = [];
const listenPortGroup = (port: number): PortGroup => (LISTEN_PORT_GROUPS[port] ??= { mode: 'ports', tags: {}, entries: [{ text: portText(port), port }] });

export function listenPortGroups(t: SocketTable): PortGroup[] {
  const ports = new Set<number>();
  for (const i of tcpListenerRows(t)) ports.add(t.sport[i]);
  return [...ports].sort((a, b) => a - b).map(listenPortGroup);
}

export interface NetstatPortGather {
  groups: readonly PortGroup[];
  semantics?: NetstatSemantics;
  processAttribution?: boolean;
  /** with no groups: one group per TCP listening port of the snapshot */
  autoListenPorts?: boolean;
}

/**
 * The ESTABLISHED rows it reads: those on a group's local port (ports, ports_match) or, with auto_listen_ports
 * and no groups, on a listening port; every row for remote_ports groups or de-duplication (telegraf semantics).
 */
function establishedNeed(o: NetstatPortGather): Pick<SnapshotNeeds, 'established' | 'establishedPorts'> {
  if (o.semantics === 'telegraf' || o.groups.some((g) => g.mode === 'remote')) return { established: 'all' };
  if (o.groups.length === 0) return { established: o.autoListenPorts ? 'listening-ports' : 'count' };
  return { established: 'listening-ports', establishedPorts: o.groups.flatMap((g) => g.entries.map((e) => e.port)) };
}

declare module './collector.js' {
  interface GatherConfig {
    netstatPort?: NetstatPortGather;
  }
}
export interface NetstatPortSection {
  semantics: NetstatSemantics;
  process_attribution: boolean;
  auto_listen_ports: boolean;
  addr_ports: PortGroupConfig[];
}

const strings = { type: 'array', items: { type: 'string' } };

/** The config schema of an addr_ports list (parsePortGroups reads it); `portsMatch`: the entries may name ports_match. */
export function portGroupsSchema(portsMatch: boolean): object {
  return {
    type: 'array',
    items: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ports: strings,
        ...(portsMatch ? { ports_match: strings } : {}),
        remote_ports: strings,
        tags: { type: 'object', additionalProperties: { type: 'string' }, description: 'a table of string tags' },
      },
    },
  };
}

export const netstatPortCollector = defineCollector<NetstatPortGather, NetstatPortSection, 'netstat_port'>({
  name: 'netstat_port',
  enabledByDefault: true,
  schemas: [NETSTAT_PORT_SCHEMA],
  options: (c) => c.netstatPort ?? { groups: [] },
  needs: (o) => ({ protocols: ['tcp', 'udp'], table: true, ...establishedNeed(o) }),
  facts: (o) => (o.processAttribution ? ['holders'] : []),
  collect(s, facts, sink, o) {
    const groups = o.groups.length === 0 && o.autoListenPorts ? listenPortGroups(s.table!) : o.groups;
    const metrics = collectNetstatPort(tableConnections(s.table!, facts.holders), groups, s.time, {
      semantics: o.semantics,
      dedupe: o.semantics === 'telegraf',
    });
    for (const m of metrics) sink.metric(m);
  },
  config: {
    about: 'Connection counts per port group (DataKit netstat_port).',
    defaults: { semantics: 'sockscope', process_attribution: false, auto_listen_ports: true, addr_ports: [] },
    schema: {
      semantics: { enum: ['sockscope', 'telegraf'] },
      process_attribution: { type: 'boolean' },
      auto_listen_ports: { type: 'boolean' },
      addr_ports: portGroupsSchema(true),
    },
    sample: `  semantics = "sockscope"
  ## Fill the pid field by walking /proc/*/fd every gather (costly on busy hosts; needs root for all pids).
  process_attribution = false
  ## With no addr_ports below: one group per TCP listening port.
  auto_listen_ports = true
  ## Port groups, tried in order; the first that matches a socket wins.
  addr_ports = []
  # [[collectors.netstat_port.addr_ports]]
  #   ports = ["80", "443", "10.0.0.1:8080", "[::1]:5432"]   # local port, or local address:port
  # [[collectors.netstat_port.addr_ports]]
  #   ports_match = ["*:80"]                                  # one series per local address
  #   [collectors.netstat_port.addr_ports.tags]
  #     service = "http"
  # [[collectors.netstat_port.addr_ports]]
  #   remote_ports = ["5432"]                                 # outbound connections to a port
`,
    gather: (s, key) => ({
      netstatPort: {
        groups: parsePortGroups(s.addr_ports, `${key}.addr_ports`),
        semantics: s.semantics,
        processAttribution: s.process_attribution,
        autoListenPorts: s.auto_listen_ports,
      },
    }),
  },
});
