/**
 * `ls`'s listing once planned: the streamed formats (json, ndjson, ss2) and the streamed inet table batch by batch,
 * the other tables (and -r, -p, -K) from one whole snapshot; the other families' lines around them in ss's order.
 */
import { readFileSync } from 'node:fs';
import { interfaceNames } from '../netlink/links.js';
import { AF_INET, AF_INET6, ALL_STATES, Proto, TCP_CLOSE, TCP_ESTABLISHED } from '../diag/constants.js';
import { parseSockstat } from '../procfs/net.js';
import type { SocketTable } from '../snapshot/table.js';
import { otherFamilies } from './ls-families.js';
import type { LsPlan } from './ls-plan.js';
import { killSockets } from './ls-actions.js';

type CompiledFilter = import('../filter/index.js').CompiledFilter;
type Holders = import('../procfs/processes.js').SocketHolders;
type Walk = import('../procfs/holders-parallel.js').ParallelHolderWalk;

export async function listSockets(plan: LsPlan, filter: Pick<CompiledFilter, 'matches'>, walk: Promise<Walk> | undefined): Promise<void> {
  const [{ streamSnapshot, takeSnapshot }, { socketRecord }] = await Promise.all([
    import('../snapshot/snapshot.js'),
    import('../outputs/listing/socket-record.js'),
  ]);
  let holders: Holders | undefined;
  const waitHolders = async () => {
    if (!walk) return;
    holders = await (await walk).finish();
    recordOptions.processes = holders;
    const note = holders.note();
    if (note) process.stderr.write(`sockscope: ${note}\n`);
  };
  const recordOptions = {
    extended: plan.extended,
    timers: plan.timers,
    info: plan.info,
    memory: plan.memory,
    interfaceName: interfaceNames(),
    cgroup: plan.cgroup,
    tos: plan.tos,
    securityContext: plan.securityContext,
    socketContext: plan.socketContext,
    serviceNames: plan.services,
  } as Parameters<typeof socketRecord>[3];
  // -z's sock_ctx= is read through the FFI while the lines are written (src/procfs/security-context.ts)
  if (plan.socketContext) await (await import('../sys/libc.js')).loadLibc().catch(() => undefined);
  const unixTypes = plan.unixTypes;
  const selected = unixTypes
    ? (t: SocketTable, i: number) => (t.proto[i] !== Proto.unix || unixTypes.has(t.sockType[i])) && filter.matches(t, i)
    : (t: SocketTable, i: number) => filter.matches(t, i);
  const out = process.stdout;
  const others = await otherFamilies(plan, recordOptions, (filter as Partial<CompiledFilter>).matchesFamily);
  const inetOrUnix = (plan.snapshot.protocols?.length ?? 0) > 0;

  if (plan.allNetns) {
    const { listAllNetnsTo } = await import('../netns/ls.js');
    await waitHolders();
    await listAllNetnsTo(plan, plan.allNetns, selected, recordOptions, out);
    return;
  }

  // Streamed formats: each batch is written as soon as it is decoded.
  if (!plan.resolve && !plan.kill && (plan.format === 'ndjson' || plan.format === 'json' || plan.format === 'ss2')) {
    const { ss2Flow, ss2FlowText, ss2Key } = await import('../outputs/listing/ss2.js');
    const { SocketJsonWriter } = await import('../outputs/listing/socket-ndjson.js');
    await waitHolders();
    // the UTF-8 of JSON.stringify(socketRecord(...)), written without the record (test/outputs/socket-ndjson.test.ts)
    const writer = new SocketJsonWriter(recordOptions);
    const bytes = writer.bytes;
    let first = true;
    let currentKey = '';
    const ss2Users = plan.processes && holders ? await ss2UserContext(holders) : undefined;
    if (plan.format === 'json') out.write('{"sockets":[');
    if (plan.format === 'ss2') out.write('{');
    if (others) first = others.writeRecords('before', plan.format, first, (text) => out.write(text));
    const meta = await streamSnapshot({ ...plan.snapshot, readAheadFrom: plan.readAheadFrom }, (t) => {
      const view = t.arenaView();
      const parts: string[] = [];
      for (let i = 0; i < t.length; i++) {
        if (!selected(t, i)) continue;
        if (plan.format === 'ss2') {
          const key = ss2Key(t.proto[i]);
          if (key !== currentKey) {
            parts.push(`${currentKey ? '\n        ]\n    },\n' : '\n'}    "${key}": {\n        "flows": [\n            `);
            currentKey = key;
            first = true;
          }
          parts.push(`${first ? '' : ',\n            '}${ss2FlowText(ss2Flow(t, i, view, ss2Users?.(t.inode[i]) ?? {}), '            ')}`);
        } else if (plan.format === 'ndjson') {
          writer.append(t, i, view);
          bytes.byte(10); // \n
        } else {
          if (!first) bytes.byte(44); // ,
          bytes.byte(10);
          writer.append(t, i, view);
        }
        first = false;
      }
      if (parts.length) out.write(parts.join(''));
      // stdout is synchronous on Linux (files, pipes, sockets, terminals): the buffer is reused once written
      bytes.flush(
        (chunk) => out.write(chunk),
        () => out.writableLength === 0,
      );
    });
    if (others) first = others.writeRecords('after', plan.format, first, (text) => out.write(text));
    const notes = [...(others?.notes ?? []), ...meta.notes];
    if (plan.format === 'json') out.write(`\n],"sources":${JSON.stringify(meta.sources)},"notes":${JSON.stringify(notes)}}\n`);
    if (plan.format === 'ss2') out.write(`${currentKey ? '\n        ]\n    }\n' : ''}}\n`);
    for (const note of notes) process.stderr.write(`sockscope: ${note}\n`);
    return;
  }

  // The table of inet sockets alone (-tan, the listing typed most), without names, -p, -K or other families:
  // streamed as the ndjson is, each batch aligned over itself and the batches before it (a later, wider cell
  // widens the lines after it), so memory stays at a batch whatever the number of sockets.
  // Its Netid column does not depend on the rows (no unix sockets: lsShowsNetid's rule is the tables asked).
  if (plan.format === 'table' && inetOrUnix && !plan.resolve && !plan.kill && !plan.processes && !others && !plan.snapshot.protocols!.includes('unix')) {
    const { lsTableBytes } = await import('../outputs/listing/ls-table.js');
    const { JsonBytes } = await import('../outputs/text/json-bytes.js');
    const widths = { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 };
    const bytes = new JsonBytes(1 << 18);
    let header = plan.header;
    let rows = new Uint32Array(1024);
    let rows6 = new Uint32Array(1024);
    const layout = {
      ...tableLayout(plan, plan.tables !== 1),
      oneline: plan.oneline,
      service: plan.services ? (await import('../outputs/listing/ss-words.js')).serviceName : undefined,
      widths,
      bytes,
      write: (chunk: Uint8Array) => void out.write(chunk),
      drained: () => out.writableLength === 0,
    };
    const snapshot = { ...plan.snapshot };
    const hold = holdsIpv6Lines(snapshot);
    if (!hold && snapshot.protocols!.includes('tcp')) snapshot.tcpStrategy = 'v2';
    // TCP's IPv6 lines, made as their batches come (over the widths so far) and written when its walk is over
    let held: Uint8Array[] = [];
    const heldBytes = new JsonBytes(1 << 16);
    const empty = async () => new (await import('../snapshot/table.js')).SocketTable(16);
    // the header's widths from the start (its text dropped): lines made before it is written (held IPv6 ones) are
    // aligned under it
    if (header && hold)
      lsTableBytes(await empty(), [], new DataView(new ArrayBuffer(0)), recordOptions, { ...layout, header, bytes: heldBytes, write: undefined });
    const writeHeader = (t: SocketTable) => {
      if (!header) return;
      lsTableBytes(t, [], new DataView(new ArrayBuffer(0)), recordOptions, { ...layout, header });
      header = false;
    };
    const release = (t: SocketTable) => {
      if (held.length === 0) return;
      writeHeader(t);
      for (const chunk of held) out.write(chunk);
      held = [];
    };
    const meta = await streamSnapshot(snapshot, (t) => {
      if (rows.length < t.length) (rows = new Uint32Array(t.length)), (rows6 = new Uint32Array(t.length));
      let count = 0;
      let count6 = 0;
      // (a batch holds one protocol's rows: streamSnapshot hands out the batch at the end of each protocol)
      const tcp = hold && t.proto[0] === Proto.tcp;
      if (!tcp) release(t);
      for (let i = 0; i < t.length; i++) {
        if (!selected(t, i)) continue;
        if (tcp && t.family[i] === AF_INET6) rows6[count6++] = i;
        else rows[count++] = i;
      }
      const v6 = { ...layout, header: false, bytes: heldBytes, write: undefined };
      // the IPv6 rows' widths first (their text dropped), so that the batch's two groups are aligned alike
      if (count6 > 0 && count > 0) lsTableBytes(t, rows6.subarray(0, count6), t.arenaView(), recordOptions, v6);
      if (count > 0) {
        lsTableBytes(t, rows.subarray(0, count), t.arenaView(), recordOptions, { ...layout, header });
        header = false;
      }
      if (count6 > 0) held.push(lsTableBytes(t, rows6.subarray(0, count6), t.arenaView(), recordOptions, v6));
    });
    if (held.length) release(await empty());
    else if (header) writeHeader(await empty()); // the header alone: no row listed
    for (const note of meta.notes) process.stderr.write(`sockscope: ${note}\n`);
    return;
  }

  // Table (and -r): everything first, then names, then aligned output.
  const snap = inetOrUnix
    ? await takeSnapshot(plan.snapshot)
    : { table: new (await import('../snapshot/table.js')).SocketTable(16), sources: [], notes: [] as string[] };
  snap.notes.unshift(...(others?.notes ?? []));
  await waitHolders();
  const t = snap.table;
  const view = t.arenaView();
  // the selected rows as 4 bytes each (a growing array of 150k numbers costs several times that)
  const selectedRows = new Uint32Array(t.length);
  let count = 0;
  for (let i = 0; i < t.length; i++) if (selected(t, i)) selectedRows[count++] = i;
  let rows: ArrayLike<number> = selectedRows.subarray(0, count);
  if (plan.kill) rows = await killSockets(plan, t, Array.from(rows));
  if (plan.resolve) {
    const { NameResolver } = await import('../resolve/names.js');
    const { formatAddress } = await import('../diag/address.js');
    const servers = process.env.SOCKSCOPE_DNS_SERVERS?.split(',').filter(Boolean);
    const resolver = new NameResolver({ servers });
    const addresses = Array.from(rows).flatMap((i) => [formatAddress(t.family[i], t.src, i * 16), formatAddress(t.family[i], t.dst, i * 16)]);
    await resolver.resolveAll(addresses);
    if (resolver.skipped > 0)
      process.stderr.write(`sockscope: ${resolver.skipped} addresses left numeric: the resolver did not answer within the 2 s budget\n`);
    recordOptions.hostName = (a) => resolver.name(a);
  }
  if (plan.format === 'table') {
    // renderLsTable(records) without the records: the same text (test/outputs/ls-table.test.ts)
    const { lsShowsNetid, lsTableBytes, ssLineOrder } = await import('../outputs/listing/ls-table.js');
    const { serviceName } = await import('../outputs/listing/ss-words.js');
    // (plan.tables counts ss's tables exactly: no row needs looking at)
    const netid = lsShowsNetid(t, [], plan.tables);
    const layout = tableLayout(plan, netid);
    // ss's order: netlink and packet sockets, then unix and inet, then vsock and XDP; the header once
    const before = others?.table('before', layout) ?? '';
    if (before || (!inetOrUnix && plan.header)) out.write(before || (others?.table('header', layout) ?? ''));
    // a filter bound the listing to a family not listed (ls -t 'src link:ip'): ss's header alone
    const nothing = !inetOrUnix && !others;
    const headerWritten = before !== '' || (!inetOrUnix && !nothing);
    // ss's order of lines: unix, RAW, UDP, TCP, SCTP (each IPv4 first), then vsock and XDP, then MPTCP
    const ordered = ssLineOrder(t, rows);
    let mptcp = ordered.length;
    while (mptcp > 0 && t.proto[ordered[mptcp - 1]] === Proto.mptcp) mptcp--;
    const after = others?.table('after', { ...layout, header: false }) ?? '';
    // stdout is synchronous on Linux (files, pipes, terminals): each chunk's buffer is reused once written
    const lines = {
      ...layout,
      oneline: plan.oneline,
      service: plan.services ? serviceName : undefined,
      write: (chunk: Uint8Array) => void out.write(chunk),
      drained: () => out.writableLength === 0,
    };
    if (inetOrUnix || nothing) {
      // with vsock or XDP lines between them, the MPTCP lines aligned over the others' widths (as a streamed table)
      const split = after !== '' && mptcp < ordered.length;
      const widths = split ? { netid: 0, state: 0, recv: 0, send: 0, local: 0, peer: 0 } : undefined;
      lsTableBytes(t, split ? ordered.subarray(0, mptcp) : ordered, view, recordOptions, { ...lines, header: plan.header && !headerWritten, widths });
      if (split) {
        out.write(after);
        lsTableBytes(t, ordered.subarray(mptcp), view, recordOptions, { ...lines, header: false, widths });
      } else out.write(after);
    } else out.write(after);
    for (const note of snap.notes) process.stderr.write(`sockscope: ${note}\n`);
    return;
  }
  const list = Array.from(rows);
  const records = list.map((i) => socketRecord(t, i, view, recordOptions));
  // the other families' records around them, in ss's order (never with ss2: planLs refuses that)
  const listed = [...(others?.records('before') ?? []), ...records, ...(others?.records('after') ?? [])];
  if (plan.format === 'ndjson') {
    out.write(listed.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } else if (plan.format === 'json') {
    out.write(`${JSON.stringify({ sockets: listed, sources: snap.sources, notes: snap.notes })}\n`);
  } else {
    const { ss2Flow, ss2FlowText, ss2Key } = await import('../outputs/listing/ss2.js');
    const groups = new Map<string, string[]>();
    for (const i of list) {
      const extra: Record<string, unknown> = {};
      const lh = recordOptions.hostName?.(records[list.indexOf(i)].local_address as string);
      if (lh) extra.src_host = lh;
      const key = ss2Key(t.proto[i]);
      groups.set(key, [...(groups.get(key) ?? []), ss2FlowText(ss2Flow(t, i, view, extra), '            ')]);
    }
    out.write(
      `{${[...groups].map(([k, flows]) => `\n    "${k}": {\n        "flows": [\n            ${flows.join(',\n            ')}\n        ]\n    }`).join(',')}\n}\n`,
    );
  }
  for (const note of snap.notes) process.stderr.write(`sockscope: ${note}\n`);
}

/**
 * IPv6 TCP sockets (/proc/net/sockstat6's count) up to which the streamed table takes TCP in one walk of the
 * kernel's hash table, holding the IPv6 lines until it is over (~100 bytes each, plus IPv6 TIME-WAIT sockets,
 * which the count leaves out: at most tcp_max_tw_buckets); above it, or in another namespace (-N: its count is
 * not read), one walk per family as ss does, memory at a batch. The second walk costs ~20 ms of kernel time at
 * 150k sockets (docs/benchmarks.md).
 */
export const HOLD_IPV6_LINES_UP_TO = 10_000;

/** Whether the streamed table holds TCP's IPv6 lines (one legacy walk of both families) rather than walking twice. */
function holdsIpv6Lines(snapshot: LsPlan['snapshot']): boolean {
  if (!snapshot.protocols?.includes('tcp') || (snapshot.tcpStrategy ?? 'legacy') !== 'legacy') return false;
  if (!(snapshot.families ?? [AF_INET, AF_INET6]).includes(AF_INET6) || !(snapshot.families ?? [AF_INET]).includes(AF_INET)) return false;
  if (snapshot.netns !== undefined) return false;
  try {
    return (parseSockstat(readFileSync('/proc/net/sockstat6', 'latin1')).TCP6?.inuse ?? 0) <= HOLD_IPV6_LINES_UP_TO;
  } catch {
    return true; // no IPv6
  }
}

/** The table's header and columns: Netid as decided from the rows (lsShowsNetid), State unless one state is listed. */
function tableLayout(plan: LsPlan, netid: boolean): { header: boolean; netid: boolean; state: boolean } {
  // ss hides the State column when the filter lets one state through
  // (UDP and RAW sockets are only ever ESTABLISHED or CLOSE: ss -un has no State column)
  const inetOrUnix = (plan.snapshot.protocols?.length ?? 0) > 0;
  const datagram = inetOrUnix && plan.snapshot.protocols?.every((p) => p === 'udp' || p === 'udplite' || p === 'raw');
  // (-a, -l, -A and a `state` in the expression set ss's states: ss -ul has a State column, LISTEN and UNCONN)
  const explicit = plan.explicitStates || plan.filterWords.some((w) => w === 'state' || w === 'exclude' || w === 'excl');
  const states = (plan.snapshot.states ?? ALL_STATES) & (datagram && !explicit ? (1 << TCP_ESTABLISHED) | (1 << TCP_CLOSE) : ALL_STATES);
  return { header: plan.header, netid, state: (states & (states - 1)) !== 0 };
}

/** ss2's usr_ctxt: { user: { pid: { cmd, full_cmd, fds } } } per socket inode. */
async function ss2UserContext(holders: import('../procfs/processes.js').SocketHolders) {
  const { processCommand, processUid } = await import('../procfs/processes.js');
  const users = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid) users.set(Number(uid), name);
    }
  } catch {
    /* numeric users */
  }
  return (inode: number): Record<string, unknown> | undefined => {
    const hs = holders.holders(inode);
    if (hs.length === 0) return undefined;
    const ctxt: Record<string, Record<string, unknown>> = {};
    for (const h of hs) {
      const uid = processUid(h.pid);
      const user = uid === undefined ? 'unknown' : (users.get(uid) ?? String(uid));
      const byPid = (ctxt[user] ??= {});
      const entry = (byPid[h.pid] ??= { ...(({ cmd, fullCmd }) => ({ cmd, full_cmd: fullCmd }))(processCommand(h.pid)), fds: [] }) as { fds: number[] };
      entry.fds.push(h.fd);
    }
    return { usr_ctxt: ctxt };
  };
}
