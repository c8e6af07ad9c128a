/**
 * One socket as a JSON record (`ls --format json|ndjson`, `-r`, the library): snake_case names, units in names
 * where they are not obvious (rtt_us, pacing_rate_bps, expires_ms), sections chosen by the ss-style flags. The
 * members are declared once, in socket-members.ts; the record object is the JSON writer's text parsed, so the
 * object, the text and schema/socket.schema.json cannot disagree.
 */
import type { SocketHolders } from '../../procfs/processes.js';
import type { SocketTable } from '../../snapshot/table.js';
import { SocketJsonWriter, tcpInfoJson } from './socket-ndjson.js';

export { cookieHex, familyName } from './socket-ndjson.js';
export { MEM_NAMES, TCPI_OPTIONS, TIMER_NAMES } from './socket-members.js';

export interface RecordOptions {
  /** -e: uid, inode, cookie, cgroup, v6only, shutdown, unix vfs and pending connections */
  extended?: boolean;
  /** -o: timers */
  timers?: boolean;
  /** -i: tcp_info, congestion control */
  info?: boolean;
  /** -m: socket memory */
  memory?: boolean;
  /** -p: holders of each socket */
  processes?: SocketHolders;
  /** no -n: rates as ss prints them without -n (`163.8Gbps`); with -n (`serviceNames` false) as numbers */
  serviceNames?: boolean;
  /** -r: names for addresses (already resolved) */
  hostName?: (address: string) => string | undefined;
  /** --tos: the table shows tos, tclass and class_id */
  tos?: boolean;
  /** --cgroup: the table shows each socket's cgroup path */
  cgroup?: boolean;
  /** -Z/-z: the table shows each holder's security context (proc_ctx=) */
  securityContext?: boolean;
  /** -z: and each holder's socket's (sock_ctx=) */
  socketContext?: boolean;
  /** interface index → name */
  interfaceName?: (ifindex: number) => string | undefined;
}

export type SocketRecord = Record<string, unknown>;

/** One writer per options object: the records of a listing share it. */
const writers = new WeakMap<RecordOptions, SocketJsonWriter>();

/** The record of row i. `view` is t.arenaView(), made once per table. */
export function socketRecord(t: SocketTable, i: number, view: DataView, o: RecordOptions): SocketRecord {
  let w = writers.get(o);
  if (!w) writers.set(o, (w = new SocketJsonWriter(o)));
  return JSON.parse(w.write(t, i, view)) as SocketRecord;
}

/** The tcp_info member of a record for a tcp_info payload at [offset, offset+length). */
export function tcpInfoRecord(view: DataView, offset: number, length: number): Record<string, unknown> {
  return JSON.parse(tcpInfoJson(view, offset, length)) as Record<string, unknown>;
}
