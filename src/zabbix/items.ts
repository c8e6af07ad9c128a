/**
 * sockscope's Zabbix items, from one gather: the same keys answer passive checks and go out in trapper pushes.
 *
 *   sockscope.netstat[<field>]            the 13 netstat fields (TCP per state, udp_socket, tcp_none), zeros included
 *   sockscope.sockets[tcp|udp|unix]       sockets per protocol
 *   sockscope.port[<addr_port>,<field>]   netstat_port counts per port group
 *   sockscope.listen.backlog.max_pct      the fullest listener's accept queue, % of its backlog
 *   sockscope.local_port_range.size       ephemeral ports (net.ipv4.ip_local_port_range)
 *   sockscope.ports.discovery             LLD: listening TCP ports, one row per port ({#PORT}; {#ADDR}: its
 *                                         local addresses, space-separated)
 *   sockscope.portgroups.discovery        LLD: port groups ({#ADDR_PORT})
 */
import type { GatherReport } from '../collectors/gather.js';
import { LISTEN_SCHEMA, PORT_RANGE_SCHEMA } from '../collectors/listen.js';
import { mergeIpVersions, NETSTAT_FIELDS, NETSTAT_SCHEMA } from '../collectors/netstat.js';
import { NETSTAT_PORT_SCHEMA } from '../collectors/netstat-port.js';
import { doctorItemValues } from '../doctor/zabbix.js';
import type { Metric } from '../model/metric.js';

export interface LatestGather {
  metrics: readonly Metric[];
  report: GatherReport;
  time: number;
}

/** Every sockscope.* item of a gather, key → value as Zabbix wants it (a string). */
export function itemValues(g: LatestGather): Map<string, string> {
  const out = new Map<string, string>();
  const metrics = mergeIpVersions(g.metrics);
  for (const m of metrics) {
    if (m.schema === NETSTAT_SCHEMA) for (const f of NETSTAT_FIELDS) out.set(`sockscope.netstat[${f}]`, String(m.fields[f] ?? 0));
  }
  for (const s of g.report.sources) out.set(`sockscope.sockets[${s.protocol}]`, String(s.sockets));
  // netstat_port: families summed per addr_port
  const ports = new Map<string, Record<string, number>>();
  for (const m of metrics) {
    if (m.schema !== NETSTAT_PORT_SCHEMA) continue;
    const sum = ports.get(m.tags.addr_port) ?? {};
    for (const f of NETSTAT_FIELDS) sum[f] = (sum[f] ?? 0) + ((m.fields[f] as number) ?? 0);
    ports.set(m.tags.addr_port, sum);
  }
  for (const [addrPort, sum] of ports) for (const f of NETSTAT_FIELDS) out.set(`sockscope.port[${quoteParam(addrPort)},${f}]`, String(sum[f]));
  out.set('sockscope.portgroups.discovery', JSON.stringify([...ports.keys()].map((a) => ({ '{#ADDR_PORT}': a }))));
  let maxPct = 0;
  // one LLD row per port (a port often listens on 0.0.0.0 and [::]): the prototypes' keys hold only {#PORT}, and
  // two rows with the same {#PORT} would make Zabbix refuse the second item as a duplicate key
  const listeners = new Map<string, string[]>();
  for (const m of metrics) {
    if (m.schema === LISTEN_SCHEMA) {
      const backlog = m.fields.backlog as number;
      if (backlog > 0) maxPct = Math.max(maxPct, ((m.fields.accept_queue as number) / backlog) * 100);
      const addrs = listeners.get(m.tags.local_port) ?? [];
      if (!addrs.includes(m.tags.local_addr)) addrs.push(m.tags.local_addr);
      listeners.set(m.tags.local_port, addrs);
    } else if (m.schema === PORT_RANGE_SCHEMA) {
      out.set('sockscope.local_port_range.size', String(m.fields.size));
    }
  }
  if (metrics.some((m) => m.schema === LISTEN_SCHEMA) || g.report.collectors.some((c) => c.name === 'listen')) {
    out.set('sockscope.listen.backlog.max_pct', String(Math.round(maxPct * 10) / 10));
    const rows = [...listeners].sort((a, b) => Number(a[0]) - Number(b[0])).map(([port, addrs]) => ({ '{#PORT}': port, '{#ADDR}': addrs.join(' ') }));
    out.set('sockscope.ports.discovery', JSON.stringify(rows));
  }
  if (g.report.collectors.some((c) => c.name === 'doctor')) for (const [k, v] of doctorItemValues(metrics)) out.set(k, v);
  return out;
}

/**
 * An item key parameter, quoted exactly when Zabbix's quote_key_param quotes it (it starts with '"', ' ' or
 * '[', or holds ',' or ']'), so the pushed key is byte for byte the key Zabbix made from the LLD prototype.
 */
export function quoteParam(p: string): string {
  return /^["\[ ]/.test(p) || /[,\]]/.test(p) ? `"${p.replace(/"/g, '\\"')}"` : p;
}

export interface SenderItem {
  host: string;
  key: string;
  value: string;
  clock: number;
  ns: number;
}

/** The trapper items of a gather, clock/ns from the snapshot's time. */
export function senderItems(g: LatestGather, host: string): SenderItem[] {
  const clock = Math.floor(g.time / 1000);
  const ns = Math.round((g.time % 1000) * 1e6);
  return [...itemValues(g)].map(([key, value]) => ({ host, key, value, clock, ns }));
}
