/**
 * A network namespace's own kernel counters: /proc/<pid>/net/{netstat,snmp,sockstat} are per namespace (read
 * from a thread inside it: /proc/thread-self/net). The "netns" measurement carries the few that say a pod is in
 * trouble: full listeners (ListenOverflows, ListenDrops, TCPReqQFullDrop, SyncookiesSent), orphans,
 * TIME_WAIT, TCP memory and UDP receive-buffer drops. The kernel counts orphans and TCP memory for the whole
 * host (sockstat_seq_show: tcp_orphan_count_sum(), proto_memory_allocated()): those two are the same in
 * every namespace; the rest are the namespace's own.
 *
 * Parsers are pure (text → numbers); the walk reads the files, the agent's through CounterFiles kept open.
 */
import { closeSync, openSync } from 'node:fs';
import type { MeasurementSchema } from '../model/metric.js';
import { parseSockstat } from '../procfs/net.js';
import { readProcFd } from '../procfs/read.js';

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
  {
    field: 'tcp_orphans',
    file: 'sockstat',
    group: 'TCP',
    key: 'orphan',
    counter: false,
    help: 'TCP sockets no process holds any more (sockstat TCP orphan; the host-wide count, as the kernel keeps it: every namespace shows the same)',
  },
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

/**
 * Where a header line's keys sit ("TcpExt: SyncookiesSent ... ListenOverflows ..." → the field index of each
 * wanted key, -1 when absent), by the header's text: every namespace of a kernel prints the same header, so it
 * is split once, not once per namespace per gather.
 */
const columns = new Map<string, Int32Array>();
function columnsOf(header: string, keys: readonly string[]): Int32Array {
  let c = columns.get(header);
  if (!c) {
    const names = header.trim().split(/\s+/);
    c = Int32Array.from(keys, (k) => names.indexOf(k));
    if (columns.size < 64) columns.set(header, c);
  }
  return c;
}

/**
 * The values of `keys` in one group of a netstat/snmp file (parseNetstatPairs's format), splitting only that
 * group's lines: `out[k]` for each key found.
 */
function pickPairs(text: string, group: string, keys: readonly string[], out: (number | undefined)[]): void {
  const tag = `${group}:`;
  const at = text.startsWith(tag) ? 0 : text.indexOf(`\n${tag}`) + 1;
  if (at === 0 && !text.startsWith(tag)) return;
  const e1 = text.indexOf('\n', at);
  if (e1 < 0 || !text.startsWith(tag, e1 + 1)) return;
  const e2 = text.indexOf('\n', e1 + 1);
  const cols = columnsOf(text.slice(at + tag.length, e1), keys);
  // the values line's whitespace-separated fields, walked in place: only the wanted ones become strings (a
  // split made a string per field, ~130 of TcpExt's, per namespace per gather)
  const end = e2 < 0 ? text.length : e2;
  let i = e1 + 1 + tag.length;
  for (let col = 0; i < end; col++) {
    while (i < end && text.charCodeAt(i) <= 32) i++;
    if (i === end) break;
    const from = i;
    while (i < end && text.charCodeAt(i) > 32) i++;
    for (let k = 0; k < keys.length; k++) {
      if (cols[k] !== col) continue;
      const v = Number(text.slice(from, i));
      if (Number.isFinite(v)) out[k] = v;
    }
  }
}

/** COUNTERS by file and group: the keys to pick and the fields they go to. */
const PICKS = (['netstat', 'snmp'] as const).flatMap((file) =>
  [...new Set(COUNTERS.filter((c) => c.file === file).map((c) => c.group))].map((group) => {
    const cs = COUNTERS.filter((c) => c.file === file && c.group === group);
    return { file, group, keys: cs.map((c) => c.key), fields: cs.map((c) => c.field) };
  }),
);

/** The three files' text (an absent file: undefined) → the counters found in them. */
export function netnsCounters(files: { netstat?: string; snmp?: string; sockstat?: string }): NetnsCounterValues {
  const out: NetnsCounterValues = {};
  for (const p of PICKS) {
    const text = files[p.file];
    if (text === undefined) continue;
    const values: (number | undefined)[] = [];
    pickPairs(text, p.group, p.keys, values);
    values.forEach((v, k) => {
      if (v !== undefined) out[p.fields[k]] = v;
    });
  }
  const sockstat = files.sockstat === undefined ? {} : parseSockstat(files.sockstat);
  for (const c of COUNTERS) {
    if (c.file !== 'sockstat') continue;
    const v = sockstat[c.group]?.[c.key];
    if (v !== undefined) out[c.field] = v;
  }
  return out;
}

/** Tcp ActiveOpens and PassiveOpens of a namespace's net/snmp text (SnapshotOptions.tcpOpens), or undefined. */
export function tcpOpens(snmp: string | undefined): readonly [number, number] | undefined {
  if (snmp === undefined) return undefined;
  const v: (number | undefined)[] = [];
  pickPairs(snmp, 'Tcp', OPENS, v);
  return v[0] !== undefined && v[1] !== undefined ? [v[0], v[1]] : undefined;
}
const OPENS = ['ActiveOpens', 'PassiveOpens'] as const;

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

export type CounterFileName = 'netstat' | 'snmp' | 'sockstat';
const COUNTER_FILES: readonly CounterFileName[] = ['netstat', 'snmp', 'sockstat'];
/** the files kept open: the counters', and sockstat6 for the snapshot's and census's plan (src/snapshot/sockstat.ts) */
const KEPT_FILES = [...COUNTER_FILES, 'sockstat6'] as const;

/**
 * A namespace's counter files kept open between gathers (the agent's walk, beside its kept socket): a /proc/net
 * file is bound to the namespace it was opened in, and reading it again from offset 0 makes the kernel print it
 * afresh, so each gather reads without opening (no path walk, no open and close: half the system time of
 * readFileSync). Like the kept socket, an open file holds its namespace alive: close() when the walk drops it.
 */
export class CounterFiles {
  private constructor(private readonly fds: (number | undefined)[]) {}

  /** Open the files under `dir` (/proc/thread-self, or /proc/<pid> of a process in the namespace); an absent one stays absent. */
  static open(dir: string): CounterFiles {
    return new CounterFiles(
      KEPT_FILES.map((name) => {
        try {
          return openSync(`${dir}/net/${name}`, 'r');
        } catch {
          return undefined;
        }
      }),
    );
  }

  /** The files' text now (a file that cannot be read: undefined). */
  read(): Partial<Record<CounterFileName, string>> {
    const out: Partial<Record<CounterFileName, string>> = {};
    COUNTER_FILES.forEach((name, k) => {
      const text = this.readAt(k);
      if (text !== undefined) out[name] = text;
    });
    return out;
  }

  /** net/snmp now, or undefined. */
  readonly snmp = (): string | undefined => this.readAt(KEPT_FILES.indexOf('snmp'));

  /** One of sockstat and sockstat6 now (SnapshotOptions.sockstatFiles), or undefined. */
  readonly sockstat = (name: 'sockstat' | 'sockstat6'): string | undefined => this.readAt(KEPT_FILES.indexOf(name));

  /** The text of the file at `k` now (undefined: absent, or unreadable now: absent from this gather). */
  private readAt(k: number): string | undefined {
    const fd = this.fds[k];
    if (fd === undefined) return undefined;
    try {
      return readProcFd(fd);
    } catch {
      return undefined;
    }
  }

  close(): void {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.length = 0;
  }
}
