/**
 * listen: every TCP listener's accept queue against its backlog (the kernel's rqueue/wqueue for a LISTEN
 * socket), and the ephemeral port range, so "backlog near full" and "TIME_WAIT near the port range" can be
 * alerted on. Bounded cardinality: one point per listening socket.
 */
import { formatAddress } from '../diag/address.js';
import { AF_INET, AF_INET6 } from '../diag/constants.js';
import type { MeasurementSchema, Metric } from '../model/metric.js';
import type { SocketTable } from '../snapshot/table.js';
import { defineCollector, type HostFacts } from './collector.js';
import { portText, tcpListenerRows } from './connections.js';

export const LISTEN_SCHEMA: MeasurementSchema = {
  name: 'listen',
  help: 'TCP listeners: accept queue and backlog',
  fields: {
    accept_queue: {
      type: 'int',
      help: 'connections waiting for accept()',
      prom: { name: 'listen_accept_queue', help: 'connections waiting for accept() on a TCP listener' },
    },
    backlog: { type: 'int', help: 'the listen() backlog', prom: { name: 'listen_backlog', help: 'the listen() backlog of a TCP listener (max accept queue)' } },
  },
};

export const PORT_RANGE_SCHEMA: MeasurementSchema = {
  name: 'local_port_range',
  help: 'the ephemeral port range (net.ipv4.ip_local_port_range)',
  fields: {
    low: { type: 'int', help: 'first ephemeral port' },
    high: { type: 'int', help: 'last ephemeral port' },
    size: {
      type: 'int',
      help: 'ports in the ephemeral range',
      prom: {
        name: 'local_port_range_size',
        help: 'ports in the ephemeral range (net.ipv4.ip_local_port_range): TIME_WAIT sockets to one peer cannot exceed it',
      },
    },
  },
};

/** The listeners' points, and the port range's when the host facts hold it. */
/**
 * A listener's local_addr tag (IPv6 in brackets). IPv4 texts are kept by address: an agent labels every
 * listener of every namespace each gather, mostly on the same few addresses (0.0.0.0, 127.0.0.1, the pod's).
 */
const ipv4Texts = new Map<number, string>();
function localAddrText(t: SocketTable, i: number): string {
  const fam = t.family[i];
  const at = i * 16;
  if (fam === AF_INET6) return `[${formatAddress(fam, t.src, at)}]`;
  if (fam !== AF_INET) return formatAddress(fam, t.src, at);
  const s = t.src;
  const key = ((s[at] << 24) | (s[at + 1] << 16) | (s[at + 2] << 8) | s[at + 3]) >>> 0;
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    text = formatAddress(fam, s, at);
    if (ipv4Texts.size >= 4096) ipv4Texts.clear(); // addresses that churn cannot grow it
    ipv4Texts.set(key, text);
  }
  return text;
}

export function collectListen(t: SocketTable, time: number, portRange: HostFacts['localPortRange']): Metric[] {
  const out: Metric[] = [];
  for (const i of tcpListenerRows(t)) {
    out.push({
      schema: LISTEN_SCHEMA,
      tags: { proto: 'tcp', local_addr: localAddrText(t, i), local_port: portText(t.sport[i]) },
      fields: { accept_queue: t.rqueue[i], backlog: t.wqueue[i] },
      time,
    });
  }
  // no procfs sysctl: the range is unknown, nothing to report
  if (portRange)
    out.push({ schema: PORT_RANGE_SCHEMA, tags: {}, fields: { low: portRange.low, high: portRange.high, size: portRange.high - portRange.low + 1 }, time });
  return out;
}

export const listenCollector = defineCollector<undefined, Record<string, never>, 'listen'>({
  name: 'listen',
  enabledByDefault: true,
  schemas: [LISTEN_SCHEMA, PORT_RANGE_SCHEMA],
  options: () => undefined,
  // the listeners' rows only: ESTABLISHED sockets need not be dumped for it
  needs: () => ({ protocols: ['tcp'], table: true, established: 'count' }),
  facts: () => ['localPortRange'],
  collect(s, facts, sink) {
    for (const m of collectListen(s.table!, s.time, facts.localPortRange)) sink.metric(m);
  },
  config: {
    about: "Every TCP listener's accept queue and backlog, and the ephemeral port range (for alerts).",
    defaults: {},
    schema: {},
    sample: '',
    gather: () => ({}),
  },
});
