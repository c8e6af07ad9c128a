/**
 * A parser for iproute2 `ss` output, the oracle of the integration tests. Written against ss 6.1 as it prints
 * `ss -tanieO`, `ss -uanieO`, `ss -xaneO` and their shorter forms (see /work/shared/reference/ss/):
 *
 *   State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
 *   ESTAB  0      0      127.0.0.1:37470    127.0.0.1:42787   ino:611721 sk:48926 cgroup:/ <-> ts sack bbr ...
 *   Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process        (-x, or several protocols)
 *   u_str LISTEN 2      3      /tmp/p.sock 611728 * 0 <-> ino:2146638 dev:0/65024 peers: 611729 611730
 *
 * Addresses: IPv6 in brackets ("[::1]:80", "[::ffff:127.0.0.1]:80"); "*" is the IPv6 wildcard of a socket
 * that is not v6only ("*:80", peer "*:*"); a port "*" is 0. Unix rows carry "name inode" pairs; an unnamed
 * socket's name is "*". Without -O the details of -i/-e/-m continue on a tab-indented line; both are read.
 * Not handled: unix names or cgroup paths with spaces (the test population has none).
 */

export interface SsEndpoint {
  /** as printed, without brackets or %iface: "127.0.0.1", "::1", "::ffff:127.0.0.1", "*", a unix name */
  address: string;
  /** port number; for unix rows the inode; "*" is 0 */
  port: number;
  /** "%lo" suffix (SO_BINDTODEVICE) */
  iface?: string;
}

export interface SsRow {
  netid?: string;
  state: string;
  recvQ: number;
  sendQ: number;
  local: SsEndpoint;
  peer: SsEndpoint;
  /** every `key:value` detail token (value as printed; "send"/"pacing_rate"/"delivery_rate" too) */
  fields: Record<string, string>;
  /** bare detail tokens: ts, sack, bbr, app_limited, ... */
  flags: string[];
  /** "<->", "-->", "<--" or "---" (-e: which directions are shut down) */
  shutdown?: string;
  /** unix -e: inodes after "peers:" (a listener's not yet accepted connections, by their client inode) */
  peers?: number[];
  raw: string;
}

export interface SsTable {
  header: string;
  hasNetid: boolean;
  rows: SsRow[];
}

const TWO_TOKEN = new Set(['send', 'pacing_rate', 'delivery_rate']);
const ARROWS = new Set(['<->', '-->', '<--', '---']);

function parseQueue(s: string, line: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`ss: bad queue "${s}" in: ${line}`);
  return Number(s);
}

/** "127.0.0.1:80", "[::1]:80", "*:*", "127.0.0.1%lo:80" */
export function parseInetEndpoint(s: string): SsEndpoint {
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new Error(`ss: no port in "${s}"`);
  let address = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  let iface: string | undefined;
  const pct = address.lastIndexOf('%');
  if (pct >= 0) {
    iface = address.slice(pct + 1);
    address = address.slice(0, pct);
  }
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const port = portText === '*' ? 0 : Number(portText);
  if (!Number.isInteger(port)) throw new Error(`ss: bad port in "${s}"`);
  return iface === undefined ? { address, port } : { address, port, iface };
}

function parseDetails(tokens: string[], row: SsRow): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (ARROWS.has(t)) {
      row.shutdown = t;
    } else if (t === 'peers:') {
      const list: number[] = [];
      while (i + 1 < tokens.length && /^\d+$/.test(tokens[i + 1])) list.push(Number(tokens[++i]));
      row.peers = list;
    } else if (TWO_TOKEN.has(t) && i + 1 < tokens.length) {
      row.fields[t] = tokens[++i];
    } else {
      const colon = t.indexOf(':');
      if (colon > 0) row.fields[t.slice(0, colon)] = t.slice(colon + 1);
      else row.flags.push(t);
    }
  }
}

/** Parse the whole output of one ss command (header line included). */
export function parseSs(text: string): SsTable {
  const lines = text.split('\n');
  const header = lines[0] ?? '';
  if (!/^(State|Netid)\b/.test(header)) throw new Error(`ss: unexpected header "${header}"`);
  const hasNetid = header.startsWith('Netid');
  const rows: SsRow[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      // a continuation line of -i/-e/-m details without -O
      const last = rows[rows.length - 1];
      if (!last) throw new Error(`ss: continuation line before any socket: ${line}`);
      parseDetails(line.trim().split(/\s+/), last);
      last.raw += `\n${line}`;
      continue;
    }
    const tok = line.trim().split(/\s+/);
    let i = 0;
    const netid = hasNetid ? tok[i++] : undefined;
    const state = tok[i++];
    const recvQ = parseQueue(tok[i++], line);
    const sendQ = parseQueue(tok[i++], line);
    let local: SsEndpoint;
    let peer: SsEndpoint;
    if (netid?.startsWith('u_')) {
      const ln = tok[i++];
      const lino = Number(tok[i++]);
      const pn = tok[i++];
      const pino = Number(tok[i++]);
      if (!Number.isInteger(lino) || !Number.isInteger(pino)) throw new Error(`ss: bad unix inode in: ${line}`);
      local = { address: ln, port: lino };
      peer = { address: pn, port: pino };
    } else {
      local = parseInetEndpoint(tok[i++]);
      peer = parseInetEndpoint(tok[i++]);
    }
    const row: SsRow = { state, recvQ, sendQ, local, peer, fields: {}, flags: [], raw: line };
    if (netid !== undefined) row.netid = netid;
    parseDetails(tok.slice(i), row);
    rows.push(row);
  }
  return { header, hasNetid, rows };
}

/** A numeric detail (undefined when ss did not print it: ss omits most zero counters). */
export function ssNumber(row: SsRow, key: string): number | undefined {
  const v = row.fields[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`ss: ${key}:${v} is not a number in: ${row.raw}`);
  return n;
}

/** rtt:<srtt_ms>/<rttvar_ms> (printed with %g, so 6 significant digits) */
export function ssRtt(row: SsRow): { rttMs: number; rttvarMs: number } | undefined {
  const v = row.fields.rtt;
  if (v === undefined) return undefined;
  const [a, b] = v.split('/').map(Number);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new Error(`ss: bad rtt "${v}" in: ${row.raw}`);
  return { rttMs: a, rttvarMs: b };
}

/** timer:(name,expires,retrans) */
export function ssTimer(row: SsRow): { name: string; expires: string; retrans: number } | undefined {
  const v = row.fields.timer;
  if (v === undefined) return undefined;
  const m = /^\(([^,]+),([^,]*),(\d+)\)$/.exec(v);
  if (!m) throw new Error(`ss: bad timer "${v}" in: ${row.raw}`);
  return { name: m[1], expires: m[2], retrans: Number(m[3]) };
}

/** Per-state line counts, e.g. { ESTAB: 12, LISTEN: 7 }. */
export function ssStateCounts(rows: readonly SsRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.state] = (out[r.state] ?? 0) + 1;
  return out;
}

/** ss state names → kernel TCP_* numbers (misc/ss.c sstate_name[]), kept apart from src/ on purpose. */
/**
 * The flag sets test/integration/ls-vs-ss.test.ts compares with ss word for word (each with -O); every member's
 * ss word is printed by one of them (test/outputs/listing/ss-details.test.ts checks).
 */
export const LS_VS_SS_FLAG_SETS: readonly string[] = [
  '-tan',
  '-tanp',
  '-tlnp',
  '-uanp',
  '-xanp',
  '-tni',
  '-tnie',
  '-tnieo',
  '-tnm',
  '-xanem',
  '-tan --cgroup',
  '-tanem --cgroup',
  '-tane --tos',
];

export const SS_STATE_NUMBERS: Readonly<Record<string, number>> = {
  ESTAB: 1,
  'SYN-SENT': 2,
  'SYN-RECV': 3,
  'FIN-WAIT-1': 4,
  'FIN-WAIT-2': 5,
  'TIME-WAIT': 6,
  UNCONN: 7,
  'CLOSE-WAIT': 8,
  'LAST-ACK': 9,
  LISTEN: 10,
  CLOSING: 11,
};

/** ss timer names → idiag_timer values (misc/ss.c tmr_name[]). */
export const SS_TIMER_NUMBERS: Readonly<Record<string, number>> = { off: 0, on: 1, keepalive: 2, timewait: 3, persist: 4 };

/** ss unix netids → socket types. */
export const SS_UNIX_TYPES: Readonly<Record<string, number>> = { u_str: 1, u_dgr: 2, u_seq: 5 };

/**
 * How ss -xe prints a unix socket's VFS device: glibc major()/minor() applied to the kernel's internal dev_t
 * (MAJOR << 20 | MINOR), so 254:0 prints as "0/65024". sockscope reports the real major/minor instead.
 */
export function ssPrintedDev(kernelDev: number): string {
  const major = (kernelDev >>> 8) & 0xfff;
  const minor = (kernelDev & 0xff) | ((kernelDev >>> 12) & 0xfff00);
  return `${major}/${minor}`;
}

/** ss's TCP state names (iproute2 sstate_name: TCP_CLOSE is "UNCONN") → the netstat measurement's field names. */
export const NETSTAT_FIELD_OF_SS_STATE: Readonly<Record<string, string>> = {
  ESTAB: 'tcp_established',
  'SYN-SENT': 'tcp_syn_sent',
  'SYN-RECV': 'tcp_syn_recv',
  'FIN-WAIT-1': 'tcp_fin_wait1',
  'FIN-WAIT-2': 'tcp_fin_wait2',
  'TIME-WAIT': 'tcp_time_wait',
  UNCONN: 'tcp_close',
  'CLOSE-WAIT': 'tcp_close_wait',
  'LAST-ACK': 'tcp_last_ack',
  LISTEN: 'tcp_listen',
  CLOSING: 'tcp_closing',
};

/** `ss -tanH` lines counted by netstat field (tcp_established, ...), an unknown state as "unknown STATE". */
export function ssNetstatCounts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const state = line.trim().split(/\s+/)[0];
    if (!state) continue;
    const f = NETSTAT_FIELD_OF_SS_STATE[state] ?? `unknown ${state}`;
    out[f] = (out[f] ?? 0) + 1;
  }
  return out;
}
