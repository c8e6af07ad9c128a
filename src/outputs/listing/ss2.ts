/**
 * The document shape of pyroute2's ss2 (`{"TCP": {"flows": [...]}, "UNIX": {"flows": [...]}}`), so ss2 users
 * keep their parsers, with ss2's defects fixed: snd/rcv wscale in the right order, `backoff` instead of a
 * "null" key, TIME_WAIT flows carry their state, abstract unix names keep their '@', IPv6 is included, every
 * time is in milliseconds, newer tcp_info fields are present, and the output is one valid JSON document.
 * UDP, UDP-Lite, RAW, SCTP and MPTCP flows, which ss2 never had, come under their own keys with the TCP
 * flow shape minus tcp_info.
 */
import { formatAddress } from '../../diag/address.js';
import { InetAttr, PROTO_NAMES, Proto, TCP_TIME_WAIT } from '../../diag/constants.js';
import { decodeInetAttributes } from '../../diag/inet.js';
import { readTcpInfoField, TCP_INFO_FIELDS, TCP_INFO_UNSET } from '../../diag/tcp-info.js';
import { decodeUnixAttributes } from '../../diag/unix.js';
import { findAttribute } from '../../netlink/attributes.js';
import type { SocketTable } from '../../snapshot/table.js';

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

/** ss2's names for tcpi_options bits */
const SS2_OPTS: readonly [number, string][] = [
  [1, 'ts'],
  [2, 'sack'],
  [4, 'wscale'],
  [8, 'ecn'],
  [16, 'ecnseen'],
  [32, 'fastopen'],
  [64, 'usec_ts'],
  [128, 'tfo_child'],
];

/** Fields ss2 prints in microseconds or mixes (the kernel's microsecond fields): all of these become milliseconds. */
const US_TO_MS = new Set(TCP_INFO_FIELDS.filter((f) => f.unit === 'us').map((f) => f.name));

/** JSON cannot carry 2^64-1 as a number exactly; this placeholder is replaced in the text (ss2 prints it). */
const U64_MAX = '\u0000u64max';
/** How JSON.stringify writes the placeholder, quotes included. */
const U64_MAX_JSON = JSON.stringify(U64_MAX);
export const U64_MAX_TEXT = '18446744073709551615';

export const ss2Key = (proto: number): string => (proto === Proto.unix ? 'UNIX' : PROTO_NAMES[proto].toUpperCase());

function ss2TcpInfo(view: DataView, offset: number, length: number, state: number): Record<string, unknown> {
  const out: Record<string, unknown> = { state: SS2_STATES[state] ?? String(state) };
  for (const field of TCP_INFO_FIELDS) {
    if (field.name === 'state') continue;
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
      out[field.name] = US_TO_MS.has(field.name) ? v / 1000 : v;
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
  const a = t.attrLength[i] > 0 ? decodeInetAttributes(view, start, end, t.proto[i]) : {};
  if (a.meminfo) flow.meminfo = { r: a.meminfo.rmem, w: a.meminfo.wmem, f: a.meminfo.fmem, t: a.meminfo.tmem };
  if (t.proto[i] === Proto.tcp) {
    const info = findAttribute(view, start, end, InetAttr.INFO);
    if (info) flow.tcp_info = ss2TcpInfo(view, info[0], info[1], t.state[i]);
    else if (t.state[i] === TCP_TIME_WAIT) flow.tcp_info = { state: 'time-wait' }; // ss2 dropped the state
  }
  if (a.congestion) flow.cong_algo = a.congestion;
  return Object.assign(flow, extra);
}

/** JSON text of a flow, with 2^64-1 written exactly. */
export const ss2FlowText = (flow: Record<string, unknown>, indent: string): string =>
  JSON.stringify(flow, null, 4).replaceAll(U64_MAX_JSON, U64_MAX_TEXT).replace(/\n/g, `\n${indent}`);
