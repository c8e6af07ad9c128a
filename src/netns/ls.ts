/**
 * `ls --all-netns`: every namespace's sockets in one listing. Each namespace is dumped by the walker's threads
 * into its own table; the tables are appended into one (one set of columns, so the table layout aligns across
 * namespaces), with the namespace of every row on the side. Records gain `netns`; the table gains a first
 * column. A socket in sockscope's own (the host's) namespace whose cgroup is a pod's or a container's
 * (hostNetwork pods) is attributed to it by its INET_DIAG_CGROUP_ID; in a pod's namespace, shared by its
 * containers, a socket names the container that made it the same way (host-pods.ts: SocketOwners).
 */
import type { RecordOptions, SocketRecord } from '../outputs/listing/socket-record.js';
import type { SnapshotOptions } from '../snapshot/snapshot.js';
import { SocketTable } from '../snapshot/table.js';
import { outcomeNotes, planNamespaces, selected, sharedByContainers, type AllNetnsOptions } from './all.js';
import { namespaceCell } from './cli.js';
import type { NetnsInfo } from './discover.js';
import { SocketOwners } from './host-pods.js';
import { NetnsWalker } from './walk.js';

/** The `netns` member of a record. */
export interface NetnsRecord {
  inode: number;
  name?: string;
  pid?: number;
  comm?: string;
  host?: true;
  container?: { runtime: string; id: string; name?: string };
  pod?: { namespace: string; name: string; uid: string };
}

export function netnsRecord(ns: NetnsInfo, who?: Pick<NetnsInfo, 'container' | 'pod'>): NetnsRecord {
  const r: NetnsRecord = { inode: ns.inode };
  if (ns.name !== undefined) r.name = ns.name;
  if (ns.pid !== undefined) r.pid = ns.pid;
  if (ns.comm !== undefined) r.comm = ns.comm;
  if (ns.own) r.host = true;
  const container = who?.container ?? ns.container;
  const pod = who?.pod ?? ns.pod;
  if (container) r.container = { ...container };
  if (pod) r.pod = { ...pod };
  return r;
}

export interface AllNetnsListing {
  /** every namespace's rows, appended */
  table: SocketTable;
  /** the rows to show, in order */
  rows: number[];
  /** per shown row (same index as rows): its namespace record */
  netns: NetnsRecord[];
  /** per shown row: the table column's text */
  cells: string[];
  /** where each namespace's rows start in `rows` (ascending; a namespace is one run of rows) */
  starts: number[];
  notes: string[];
}

/**
 * Dump every selected namespace with `snapshot`, keep the rows `matches` accepts (and, in the host's
 * namespace under a pod/container/netns selector, those whose cgroup names it).
 */
export async function listAllNetns(o: AllNetnsOptions, snapshot: SnapshotOptions, matches: (t: SocketTable, i: number) => boolean): Promise<AllNetnsListing> {
  const plan = planNamespaces(o);
  const walker = new NetnsWalker({ inProcess: true }); // a one-shot command: no worker to start
  let outcomes;
  try {
    ({ outcomes } = await walker.walk(
      plan.namespaces.map((ns) => ({ inode: ns.inode, path: ns.path, own: ns.own })),
      { kind: 'snapshot', options: { ...snapshot, keepAttributes: true } },
    ));
  } finally {
    await walker.close();
  }
  const notes = [...plan.notes, ...outcomeNotes(plan.namespaces, outcomes)];
  const tables: { t: SocketTable; ns: NetnsInfo }[] = [];
  outcomes.forEach((out, i) => {
    if (out.status !== 'ok' || !out.snapshot) return;
    tables.push({ t: SocketTable.fromBuffers(out.snapshot.buffers), ns: plan.namespaces[i] });
    for (const n of out.snapshot.meta.notes) notes.push(`${namespaceCell(plan.namespaces[i])}: ${n}`);
  });
  const table = new SocketTable(
    Math.max(
      16,
      tables.reduce((n, x) => n + x.t.length, 0),
    ),
    tables.reduce((n, x) => n + x.t.arenaUsed, 0),
  );
  const rows: number[] = [];
  const netns: NetnsRecord[] = [];
  const cells: string[] = [];
  const starts: number[] = [];
  const s = o.select;
  const bySelector = !!(s?.netns?.length || s?.pod?.length || s?.namespace?.length || s?.container?.length);
  const owners = new SocketOwners(o.logRoot);
  for (const { t, ns } of tables) {
    const from = table.length;
    starts.push(rows.length);
    table.append(t);
    const nsRecord = netnsRecord(ns);
    const nsCell = namespaceCell(ns);
    // whose each socket is, by its cgroup: a hostNetwork pod's in the host's namespace; in a pod's namespace,
    // shared by its containers, the container that made it (a sidecar's sockets are the sidecar's)
    const of = ns.own || ns.pod || ns.container ? owners.resolve(table, from, table.length) : undefined;
    const shared = sharedByContainers(ns);
    for (let i = from; i < table.length; i++) {
      if (!matches(table, i)) continue;
      const who = of?.[i - from];
      if (ns.own) {
        if (who) {
          if (bySelector && !selected({ ...ns, own: false, ...who }, s)) continue;
          rows.push(i);
          netns.push(netnsRecord(ns, who));
          cells.push(
            `host:${who.pod ? `${who.pod.namespace}/${who.pod.name}` : `${who.container!.runtime}:${who.container!.name ?? who.container!.id.slice(0, 12)}`}`,
          );
          continue;
        }
        if (bySelector) continue;
        rows.push(i);
        netns.push(nsRecord);
        cells.push(nsCell);
        continue;
      }
      // a socket's own container; one with no cgroup (and no listener to go by) is the namespace's container's
      // when it has one only, nobody's in particular in a pod of several
      const own = who?.container && (!ns.pod || !who.pod || who.pod.uid === ns.pod.uid) ? who.container : undefined;
      const container = own ?? (shared ? undefined : ns.container);
      if (s?.container?.length && !(container && selected({ ...ns, container, containers: undefined }, { container: s.container }))) continue;
      rows.push(i);
      netns.push(container?.id === ns.container?.id ? nsRecord : netnsRecord({ ...ns, container }, { container, pod: ns.pod }));
      cells.push(nsCell);
    }
  }
  return { table, rows, netns, cells, starts, notes };
}

/**
 * The listing with each namespace's rows in ss's line order (ssLineOrder: what `ip netns exec NAME ss` prints
 * there), the namespaces in the order they were walked; `netns` and `cells` follow their rows.
 */
export function inSsLineOrder(l: AllNetnsListing, order: (t: SocketTable, rows: ArrayLike<number>) => Uint32Array): AllNetnsListing {
  const at = new Map<number, number>();
  l.rows.forEach((r, k) => at.set(r, k));
  const rows: number[] = [];
  const netns: NetnsRecord[] = [];
  const cells: string[] = [];
  l.starts.forEach((from, n) => {
    const to = n + 1 < l.starts.length ? l.starts[n + 1] : l.rows.length;
    for (const r of order(l.table, l.rows.slice(from, to))) {
      const k = at.get(r)!;
      rows.push(r);
      netns.push(l.netns[k]);
      cells.push(l.cells[k]);
    }
  });
  return { ...l, rows, netns, cells };
}

/** Records with their `netns`. */
export function recordsWithNetns(l: AllNetnsListing, record: (t: SocketTable, i: number, view: DataView) => SocketRecord): SocketRecord[] {
  const view = l.table.arenaView();
  return l.rows.map((i, k) => ({ ...record(l.table, i, view), netns: l.netns[k] }));
}

/**
 * The ls table with a first column naming each row's namespace: the table as ls lays it out, a cell put before
 * each socket's line (detail lines, which start with a tab, are indented past it).
 */
export function withNamespaceColumn(text: string, cells: readonly string[], header: boolean): string {
  let width = header ? 5 : 0;
  for (const c of cells) if (c.length > width) width = c.length;
  const lines = text.split('\n');
  let k = 0;
  const out = lines.map((line, n) => {
    if (line === '' && n === lines.length - 1) return line;
    if (header && n === 0) return `${'Netns'.padEnd(width)}  ${line}`;
    if (line.startsWith('\t')) return `${' '.repeat(width)}  ${line}`;
    return `${(cells[k++] ?? '').padEnd(width)}  ${line}`;
  });
  return out.join('\n');
}

export type { RecordOptions };

/** ls's output for --all-netns: table (with the Netns column), json or ndjson (records with netns). */
export async function listAllNetnsTo(
  plan: { snapshot: SnapshotOptions; format: string; header: boolean },
  o: AllNetnsOptions,
  matches: (t: SocketTable, i: number) => boolean,
  recordOptions: RecordOptions,
  out: { write(s: string | Uint8Array): unknown },
): Promise<void> {
  let l = await listAllNetns(o, plan.snapshot, matches);
  if (plan.format === 'table') {
    const { lsShowsNetid, lsTableBytes, ssLineOrder } = await import('../outputs/listing/ls-table.js');
    // each namespace's lines in ss's order, as the table of one namespace (the records keep the walk's order)
    l = inSsLineOrder(l, ssLineOrder);
    const netid = lsShowsNetid(l.table, l.rows, plan.snapshot.protocols?.length ?? 0);
    const text = Buffer.from(lsTableBytes(l.table, l.rows, l.table.arenaView(), recordOptions, { header: plan.header, netid })).toString('utf8');
    out.write(withNamespaceColumn(text, l.cells, plan.header));
  } else {
    const { socketRecord } = await import('../outputs/listing/socket-record.js');
    const records = recordsWithNetns(l, (t, i, view) => socketRecord(t, i, view, recordOptions));
    if (plan.format === 'ndjson') out.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    else out.write(`${JSON.stringify({ sockets: records, notes: l.notes })}\n`);
  }
  for (const n of l.notes) process.stderr.write(`sockscope: ${n}\n`);
}
