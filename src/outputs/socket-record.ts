/**
 * One socket as a JSON record (`ls --format json|ndjson`): snake_case names, units in names where they are not
 * obvious (rtt_us, pacing_rate_bps, expires_ms), sections chosen by the ss-style flags. Published as
 * schema/socket.schema.json. Rates are converted to bits per second at this edge; times keep the kernel's unit
 * and say it.
 */
import { formatAddress } from '../diag/address.js';
import { AF_INET6, InetAttr, PROTO_NAMES, Proto, SOCK_TYPE_NAMES, STATE_KEYS } from '../diag/constants.js';
import { findAttribute } from '../netlink/attributes.js';
import { decodeInetAttributes, type InetAttributes } from '../diag/inet.js';
import { readTcpInfoField, TCP_INFO_FIELDS, type TcpInfoField } from '../diag/tcp-info.js';
import { decodeUnixAttributes, type UnixAttributes } from '../diag/unix.js';
import type { SocketHolders } from '../procfs/processes.js';
import { UID_UNKNOWN, type SocketTable } from '../snapshot/table.js';

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
  /** -r: names for addresses (already resolved) */
  hostName?: (address: string) => string | undefined;
  /** interface index → name */
  interfaceName?: (ifindex: number) => string | undefined;
}

export type SocketRecord = Record<string, unknown>;

/** idiag_timer values (ss's tmr_name[]). */
export const TIMER_NAMES: readonly string[] = ['off', 'on', 'keepalive', 'timewait', 'persist', 'unknown'];

/** tcpi_options bits (linux/tcp.h TCPI_OPT_*). */
export const TCPI_OPTIONS: readonly [number, string][] = [
  [1, 'timestamps'], [2, 'sack'], [4, 'wscale'], [8, 'ecn'], [16, 'ecn_seen'], [32, 'syn_data'], [64, 'usec_ts'], [128, 'tfo_child'],
];

/** tcp_info field → output name and scale; unlisted fields keep their kernel name; `null` drops the field. */
const RENAME: Record<string, [string, number] | null> = {
  state: null, // the record's state says it
  options: null, // decoded into `options`
  rto: ['rto_us', 1], ato: ['ato_us', 1], rtt: ['rtt_us', 1], rttvar: ['rttvar_us', 1], rcv_rtt: ['rcv_rtt_us', 1],
  min_rtt: ['min_rtt_us', 1], busy_time: ['busy_time_us', 1], rwnd_limited: ['rwnd_limited_us', 1],
  sndbuf_limited: ['sndbuf_limited_us', 1], last_data_sent: ['last_data_sent_ms', 1], last_ack_sent: ['last_ack_sent_ms', 1],
  last_data_recv: ['last_data_recv_ms', 1], last_ack_recv: ['last_ack_recv_ms', 1], total_rto_time: ['total_rto_time_ms', 1],
  pacing_rate: ['pacing_rate_bps', 8], max_pacing_rate: ['max_pacing_rate_bps', 8], delivery_rate: ['delivery_rate_bps', 8],
  notsent_bytes: ['notsent_bytes', 1], fackets: null, // always 0 since Linux 4.x
};

/** The tcp_info members of a record, in order: the kernel field, its output name, its scale. */
export const TCP_INFO_OUTPUT: readonly { field: TcpInfoField; name: string; scale: number }[] = TCP_INFO_FIELDS.flatMap((field) => {
  const r = RENAME[field.name];
  if (r === null) return [];
  return [{ field, name: r ? r[0] : field.name, scale: r ? r[1] : 1 }];
});

/** tcp_info with output names; ~0 rates ("unlimited") and an unset min_rtt are left out. */
export function tcpInfoRecord(view: DataView, offset: number, length: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const options = readTcpInfoField(view, offset, length, TCP_INFO_FIELDS[5]);
  for (const { field, name, scale } of TCP_INFO_OUTPUT) {
    const v = readTcpInfoField(view, offset, length, field);
    if (v === undefined || v === Infinity) continue;
    if (field.name === 'min_rtt' && v === 0xffffffff) continue;
    if ((field.name === 'snd_wscale' || field.name === 'rcv_wscale') && options !== undefined && !(options & 4)) continue;
    out[name] = v * scale;
  }
  if (options !== undefined) out.options = TCPI_OPTIONS.filter(([bit]) => options & bit).map(([, n]) => n);
  out.info_bytes = length;
  return out;
}

export const MEM_NAMES: readonly string[] = ['rmem_alloc', 'rcvbuf', 'wmem_alloc', 'sndbuf', 'fwd_alloc', 'wmem_queued', 'optmem', 'backlog', 'drops'];

function memoryRecord(skmeminfo: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  skmeminfo.forEach((v, i) => (out[MEM_NAMES[i] ?? `skmem_${i}`] = v));
  return out;
}

const shutdownRecord = (s: number) => ({ receive: (s & 1) !== 0, send: (s & 2) !== 0 });

export function familyName(family: number, proto: number): 'ipv4' | 'ipv6' | 'unix' {
  return proto === Proto.unix ? 'unix' : family === AF_INET6 ? 'ipv6' : 'ipv4';
}

/** The socket cookie as ss prints it after "sk:" (%llx). */
export function cookieHex(t: SocketTable, i: number): string {
  const hi = t.cookieHi[i];
  const lo = t.cookieLo[i].toString(16);
  return hi ? hi.toString(16) + lo.padStart(8, '0') : lo;
}

/** Build the record of row i. `view` is t.arenaView(), made once per table. */
export function socketRecord(t: SocketTable, i: number, view: DataView, o: RecordOptions): SocketRecord {
  const proto = t.proto[i];
  const r: SocketRecord = {
    protocol: PROTO_NAMES[proto],
    family: familyName(t.family[i], proto),
    state: STATE_KEYS[t.state[i]],
    recv_q: t.rqueue[i],
    send_q: t.wqueue[i],
  };
  const hasAttrs = t.attrLength[i] > 0;
  if (proto === Proto.unix) {
    const a: UnixAttributes = hasAttrs ? decodeUnixAttributes(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i]) : {};
    r.socket_type = SOCK_TYPE_NAMES[t.sockType[i]] ?? String(t.sockType[i]);
    r.path = a.name ?? null;
    r.inode = t.inode[i];
    r.peer_inode = a.peer ?? null;
    if (o.extended) {
      if (t.uid[i] !== UID_UNKNOWN) r.uid = t.uid[i];
      r.cookie = cookieHex(t, i);
      if (a.vfs) r.vfs = { inode: a.vfs.inode, device: `${a.vfs.major}:${a.vfs.minor}` };
      if (a.pending) r.pending_connections = a.pending;
      if (a.shutdown !== undefined) r.shutdown = shutdownRecord(a.shutdown);
    }
    if (o.memory && a.skmeminfo) r.memory = memoryRecord(a.skmeminfo);
  } else {
    const fam = t.family[i];
    const local = formatAddress(fam, t.src, i * 16);
    const remote = formatAddress(fam, t.dst, i * 16);
    r.local_address = local;
    r.local_port = t.sport[i];
    r.remote_address = remote;
    r.remote_port = t.dport[i];
    if (o.hostName) {
      const lh = o.hostName(local);
      const rh = o.hostName(remote);
      if (lh) r.local_host = lh;
      if (rh) r.remote_host = rh;
    }
    if (t.ifindex[i] !== 0) r.interface = o.interfaceName?.(t.ifindex[i]) ?? String(t.ifindex[i]);
    const a: InetAttributes = hasAttrs ? decodeInetAttributes(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], proto) : {};
    if (o.extended) {
      r.uid = t.uid[i];
      r.inode = t.inode[i];
      r.cookie = cookieHex(t, i);
      if (a.v6only !== undefined) r.v6only = a.v6only;
      if (a.shutdown !== undefined) r.shutdown = shutdownRecord(a.shutdown);
      if (a.cgroupId !== undefined) r.cgroup_id = a.cgroupId;
      if (a.mark !== undefined) r.mark = a.mark;
      if (a.tos !== undefined) r.tos = a.tos;
      if (a.tclass !== undefined) r.tclass = a.tclass;
      if (a.classId !== undefined) r.class_id = a.classId;
      if (a.protocol !== undefined) r.ip_protocol = a.protocol;
    }
    if (o.timers) r.timer = { name: TIMER_NAMES[t.timer[i]] ?? String(t.timer[i]), expires_ms: t.expires[i], retransmits: t.retrans[i] };
    if (o.info) {
      if (a.tcpInfo !== undefined && a.tcpInfoLength !== undefined) {
        const info = findAttribute(view, t.attrStart[i], t.attrStart[i] + t.attrLength[i], InetAttr.INFO);
        if (info) r.tcp_info = tcpInfoRecord(view, info[0], info[1]);
      }
      if (a.congestion) r.congestion = a.congestion;
      if (a.bbr) r.bbr = { bandwidth_bps: a.bbr.bw_bytes_per_second * 8, min_rtt_us: a.bbr.min_rtt, pacing_gain: a.bbr.pacing_gain / 256, cwnd_gain: a.bbr.cwnd_gain / 256 };
      if (a.dctcp) r.dctcp = a.dctcp;
      if (a.vegas) r.vegas = { enabled: a.vegas.enabled, rtt_count: a.vegas.rttcnt, rtt_us: a.vegas.rtt, min_rtt_us: a.vegas.minrtt };
    }
    if (o.memory) {
      if (a.skmeminfo) r.memory = memoryRecord(a.skmeminfo);
      if (a.meminfo) r.queue_memory = { rmem: a.meminfo.rmem, wmem: a.meminfo.wmem, fmem: a.meminfo.fmem, tmem: a.meminfo.tmem };
    }
  }
  if (o.processes) r.processes = o.processes.holders(t.inode[i]);
  return r;
}

