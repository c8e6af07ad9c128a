/**
 * The document shape of pyroute2's ss2 (`{"TCP": {"flows": [...]}, "UNIX": {"flows": [...]}}`), so ss2 users
 * keep their parsers, with ss2's defects fixed: snd/rcv wscale in the right order, `backoff` instead of a
 * "null" key, TIME_WAIT flows carry their state, abstract unix names keep their '@', IPv6 is included, every
 * time is in milliseconds, newer tcp_info fields are present, and the output is one valid JSON document.
 * UDP, UDP-Lite, RAW, SCTP and MPTCP flows, which ss2 never had, come under their own keys with the TCP
 * flow shape minus tcp_info.
 */
import { formatAddress } from '../../diag/address.js';
import { ABSENT, AttributeIndex } from '../../diag/attribute-index.js';
import { InetAttr, PROTO_NAMES, Proto, TCP_TIME_WAIT } from '../../diag/constants.js';
import { MS_PER, readTcpInfoField, TCP_INFO_FIELDS, TCP_INFO_UNSET } from '../../diag/tcp-info.js';
import { decodeUnixAttributes } from '../../diag/unix.js';
import type { SocketTable } from '../../snapshot/table.js';
import { cString } from '../text/attribute-text.js';
import { INET_MEMBERS, type SocketMember, TCPI_OPTION_SS, TCPI_OPTIONS } from './socket-members.js';

/** pyroute2 ss2's state names (its sstate table) */
const SS2_STATES = [
  'unknown',
  'established',
  'syn-sent',
  'syn-recv',
  'fin-wait-1',
  'fin-wait-2',
  'time-wait',
  'unconnected',
  'close-wait',
  'last-ack',
  'listening',
  'closing',
];

/** ss2's names for tcpi_options bits: ss's (TCPI_OPTION_SS) */
const SS2_OPTS: readonly [number, string][] = TCPI_OPTIONS.map(([bit, name]) => [bit, TCPI_OPTION_SS[name] ?? name]);

/**
 * ss2's tcp_info: every field of the record's tcp_info source (TCP_INFO_FIELDS) under its kernel name, times in
 * milliseconds (ss2 mixed µs and ms): value / MS_PER of the field's declared unit.
 */
const SS2_TCP_INFO = TCP_INFO_FIELDS.filter((f) => f.name !== 'state').map((field) => ({
  field,
  perMs: field.unit === 'us' || field.unit === 'ms' ? MS_PER[field.unit] : 1,
}));

/** A member of the record (socket-members.ts), for its source. */
const member = (key: string): SocketMember => {
  const m = INET_MEMBERS.find((x) => x.key === key);
  if (!m) throw new Error(`ss2: no socket member '${key}'`);
  return m;
};
/** ss2's meminfo: the record's queue_memory struct (inet_diag_meminfo) under ss2's names */
const QUEUE_MEMORY = member('queue_memory').from;
const SS2_MEMINFO_NAMES: Readonly<Record<string, string>> = { rmem: 'r', wmem: 'w', fmem: 'f', tmem: 't' };
const SS2_MEMINFO = QUEUE_MEMORY.kind === 'struct' ? QUEUE_MEMORY.fields.map((f) => ({ name: SS2_MEMINFO_NAMES[f.key] ?? f.key, at: f.at })) : [];
const MEMINFO_ATTR = QUEUE_MEMORY.kind === 'struct' ? QUEUE_MEMORY.attr : InetAttr.MEMINFO;
/** ss2's cong_algo: the record's congestion member */
const CONGESTION = member('congestion').from;
const CONG_ATTR = CONGESTION.kind === 'name' ? CONGESTION.attr : InetAttr.CONG;
/** ss2's tcp_info: the record's tcp_info member's attribute */
const TCP_INFO = member('tcp_info').from;
const INFO_ATTR = TCP_INFO.kind === 'tcpInfo' ? TCP_INFO.attr : InetAttr.INFO;
const scan = new AttributeIndex();

/** JSON cannot carry 2^64-1 as a number exactly; this placeholder is replaced in the text (ss2 prints it). */
const U64_MAX = '\u0000u64max';
/** How JSON.stringify writes the placeholder, quotes included. */
const U64_MAX_JSON = JSON.stringify(U64_MAX);
export const U64_MAX_TEXT = '18446744073709551615';

export const ss2Key = (proto: number): string => (proto === Proto.unix ? 'UNIX' : PROTO_NAMES[proto].toUpperCase());

function ss2TcpInfo(view: DataView, offset: number, length: number, state: number): Record<string, unknown> {
  const out: Record<string, unknown> = { state: SS2_STATES[state] ?? String(state) };
  for (const { field, perMs } of SS2_TCP_INFO) {
    const v = readTcpInfoField(view, offset, length, field);
    if (v === undefined) continue;
    if (field.name === 'options') {
      out.opts = SS2_OPTS.filter(([bit]) => v & bit).map(([, n]) => n);
    } else if (v === Infinity) {
      out[field.name] = U64_MAX;
    } else if (field.name === 'min_rtt' && v === TCP_INFO_UNSET.min_rtt) {
      out[field.name] = null;
    } else if (field.name === 'snd_ssthresh' && v >= 0xffff) {
      out[field.name] = null; // "infinite", as ss2 and ss print it
    } else {
      out[field.name] = perMs === 1 ? v : v / perMs;
    }
  }
  return out;
}

/** One flow of row i. */
export function ss2Flow(t: SocketTable, i: number, view: DataView, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const start = t.attrStart[i];
  const end = start + t.attrLength[i];
  if (t.proto[i] === Proto.unix) {
    const a = t.attrLength[i] > 0 ? decodeUnixAttributes(view, start, end) : {};
    const flow: Record<string, unknown> = { inode: t.inode[i] };
    if (a.name !== undefined) flow.path_name = a.name;
    if (a.vfs) flow.vfs = { inode: a.vfs.inode, dev: a.vfs.dev };
    if (a.peer !== undefined && a.peer !== 0) flow.peer_inode = a.peer;
    if (a.shutdown !== undefined) flow.shutdown = a.shutdown;
    return Object.assign(flow, extra);
  }
  const fam = t.family[i];
  const flow: Record<string, unknown> = {
    src: formatAddress(fam, t.src, i * 16),
    dst: formatAddress(fam, t.dst, i * 16),
    src_port: t.sport[i],
    dst_port: t.dport[i],
    inode: t.inode[i],
    iface_idx: t.ifindex[i],
    retrans: t.retrans[i],
  };
  const { off, len } = scan.inet(view, start, end);
  const mem = off[MEMINFO_ATTR];
  if (mem !== ABSENT) flow.meminfo = Object.fromEntries(SS2_MEMINFO.map((f) => [f.name, view.getUint32(mem + f.at, true)]));
  if (t.proto[i] === Proto.tcp) {
    const info = off[INFO_ATTR];
    if (info !== ABSENT) flow.tcp_info = ss2TcpInfo(view, info, len[INFO_ATTR], t.state[i]);
    else if (t.state[i] === TCP_TIME_WAIT) flow.tcp_info = { state: 'time-wait' }; // ss2 dropped the state
  }
  const cong = off[CONG_ATTR] === ABSENT ? '' : cString(view, off[CONG_ATTR], len[CONG_ATTR]);
  if (cong) flow.cong_algo = cong;
  return Object.assign(flow, extra);
}

/** JSON text of a flow, with 2^64-1 written exactly. */
export const ss2FlowText = (flow: Record<string, unknown>, indent: string): string =>
  JSON.stringify(flow, null, 4).replaceAll(U64_MAX_JSON, U64_MAX_TEXT).replace(/\n/g, `\n${indent}`);
