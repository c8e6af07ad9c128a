/**
 * A network namespace's own kernel counters: /proc/<pid>/net/{netstat,snmp,sockstat} are per namespace (read
 * from a thread inside it: /proc/thread-self/net). The "netns" measurement carries the few that say a pod is in
 * trouble: full listeners (ListenOverflows, ListenDrops, TCPReqQFullDrop, SyncookiesSent), orphans,
 * TIME_WAIT, TCP memory and UDP receive-buffer drops.
 *
 * Parsers are pure (text → numbers); the walk reads the files.
 */
import type { MeasurementSchema } from '../model/metric.js';
import { parseSockstat } from '../procfs/net.js';

/**
 * /proc/net/netstat and /proc/net/snmp: pairs of lines, names then values, with the same prefix
 * ("TcpExt: SyncookiesSent ...", "TcpExt: 0 ..."). → { TcpExt: { SyncookiesSent: 0, ... }, ... }
 */
export function parseNetstatPairs(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i];
    const values = lines[i + 1];
    const colon = names.indexOf(':');
    if (colon < 0 || values.slice(0, colon + 1) !== names.slice(0, colon + 1)) {
      i--; // out of step (a blank or foreign line): resynchronise on the next line
      continue;
    }
    const k = names
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const v = values
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const rec: Record<string, number> = (out[names.slice(0, colon)] ??= {});
    for (let j = 0; j < k.length && j < v.length; j++) {
      const n = Number(v[j]);
      if (k[j] && Number.isFinite(n)) rec[k[j]] = n;
    }
  }
  return out;
}

/** The counters of the netns measurement: field name, where it comes from, what it means. */
const COUNTERS = [
  {
    field: 'listen_overflows',
    file: 'netstat',
    group: 'TcpExt',
    key: 'ListenOverflows',
    counter: true,
    help: "times a listener's accept queue was full (TcpExt ListenOverflows)",
  },
  {
    field: 'listen_drops',
    file: 'netstat',
    group: 'TcpExt',
    key: 'ListenDrops',
    counter: true,
    help: 'SYNs and ACKs dropped by listeners, for any reason (TcpExt ListenDrops)',
  },
  {
    field: 'tcp_req_q_full_drop',
    file: 'netstat',
    group: 'TcpExt',
    key: 'TCPReqQFullDrop',
    counter: true,
    help: 'SYNs dropped because the SYN queue was full and syncookies off (TcpExt TCPReqQFullDrop)',
  },
  {
    field: 'syncookies_sent',
    file: 'netstat',
    group: 'TcpExt',
    key: 'SyncookiesSent',
    counter: true,
    help: 'SYN cookies sent: the SYN queue overflowed (TcpExt SyncookiesSent)',
  },
  {
    field: 'udp_rcvbuf_errors',
    file: 'snmp',
    group: 'Udp',
    key: 'RcvbufErrors',
    counter: true,
    help: 'UDP datagrams dropped: the receive buffer was full (Udp RcvbufErrors)',
  },
  { field: 'tcp_orphans', file: 'sockstat', group: 'TCP', key: 'orphan', counter: false, help: 'TCP sockets no process holds any more (sockstat TCP orphan)' },
  {
    field: 'tcp_time_wait',
    file: 'sockstat',
    group: 'TCP',
    key: 'tw',
    counter: false,
    help: 'TCP TIME_WAIT sockets, orphaned FIN_WAIT2 included (sockstat TCP tw)',
  },
  { field: 'tcp_inuse', file: 'sockstat', group: 'TCP', key: 'inuse', counter: false, help: 'IPv4 TCP sockets in use (sockstat TCP inuse)' },
  {
    field: 'tcp_mem_pages',
    file: 'sockstat',
    group: 'TCP',
    key: 'mem',
    counter: false,
    help: 'pages of TCP buffer memory (sockstat TCP mem; the host-wide pool, as the kernel accounts it)',
  },
  { field: 'udp_inuse', file: 'sockstat', group: 'UDP', key: 'inuse', counter: false, help: 'IPv4 UDP sockets in use (sockstat UDP inuse)' },
] as const;

export type NetnsCounterField = (typeof COUNTERS)[number]['field'];
export type NetnsCounterValues = Partial<Record<NetnsCounterField, number>>;

/** The three files' text (an absent file: undefined) → the counters found in them. */
export function netnsCounters(files: { netstat?: string; snmp?: string; sockstat?: string }): NetnsCounterValues {
  const parsed = {
    netstat: files.netstat === undefined ? {} : parseNetstatPairs(files.netstat),
    snmp: files.snmp === undefined ? {} : parseNetstatPairs(files.snmp),
    sockstat: files.sockstat === undefined ? {} : parseSockstat(files.sockstat),
  };
  const out: NetnsCounterValues = {};
  for (const c of COUNTERS) {
    const v = parsed[c.file][c.group]?.[c.key];
    if (v !== undefined) out[c.field] = v;
  }
  return out;
}

export const NETNS_SCHEMA: MeasurementSchema = {
  name: 'netns',
  help: "a network namespace's own kernel counters (its /proc/net/netstat, snmp and sockstat)",
  fields: Object.fromEntries(
    COUNTERS.map((c) => [
      c.field,
      {
        type: 'int' as const,
        help: c.help,
        counter: c.counter,
        prom: { name: `netns_${c.field}${c.counter ? '_total' : ''}`, help: c.help },
      },
    ]),
  ),
};
