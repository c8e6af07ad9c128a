/**
 * Shared pieces of the metrics tests:
 *   - parseLine / parseLines: a strict InfluxDB line-protocol reader (escapes per the line protocol reference),
 *     so tests compare points as sets of tags and typed fields instead of text;
 *   - gopsutilConnections: a ConnectionSource over gopsutil ConnectionStat lists (the shape of Telegraf's and
 *     DataKit's test vectors);
 *   - socketTableFromSs / telegrafSocketstat: `ss -in` text turned into SocketTable rows (tcp_info bytes at the
 *     kernel offsets) and into the metrics Telegraf's inputs.socketstat derives from the same text;
 *   - promtool: where it is, and running `promtool check metrics` and its OpenMetrics parser.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddress } from '../../src/diag/address.js';
import { AF_INET, AF_INET6, InetAttr, Proto } from '../../src/diag/constants.js';
import { tcpInfoField } from '../../src/diag/tcp-info.js';
import { encodeAttribute } from '../../src/netlink/attributes.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { Kind, type ConnectionSource, type IpVersion } from '../../src/collectors/connections.js';
import { parseSs, SS_STATE_NUMBERS, type SsRow } from './ss.js';

// ---------------------------------------------------------------------------------------------------------
// Influx line protocol, read back

export type LpType = 'i' | 'u' | 'f' | 's' | 'b';
export interface LpField {
  type: LpType;
  value: number | string | boolean;
}
export interface LpPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, LpField>;
  time?: string;
}

/**
 * One line of line protocol. Measurement: `\,` and `\ ` are escapes; tag keys, tag values, field keys: `\,`
 * `\=` `\ `; string field values: `\"` and `\\`. Any other backslash is literal. Throws on anything malformed
 * (an empty tag value, a field without a value, a bad number, trailing garbage).
 */
export function parseLine(line: string): LpPoint {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`line protocol: ${why} at ${at} in: ${line}`);
  };
  // read up to an unescaped stop character; `escapable` are the characters a backslash escapes here
  const read = (stops: string, escapable: string): string => {
    let out = '';
    while (at < line.length && !stops.includes(line[at])) {
      if (line[at] === '\\' && at + 1 < line.length && escapable.includes(line[at + 1])) {
        out += line[at + 1];
        at += 2;
      } else {
        out += line[at++];
      }
    }
    return out;
  };
  const measurement = read(', ', ', ');
  if (!measurement) fail('empty measurement');
  const tags: Record<string, string> = {};
  while (line[at] === ',') {
    at++;
    const k = read('=, ', ',= ');
    if (line[at] !== '=') fail(`tag ${k} without '='`);
    at++;
    const v = read(', ', ',= ');
    if (!k || !v) fail('empty tag key or value');
    if (k in tags) fail(`duplicate tag ${k}`);
    tags[k] = v;
  }
  if (line[at] !== ' ') fail('expected a space before the fields');
  at++;
  const fields: Record<string, LpField> = {};
  for (;;) {
    const k = read('=, ', ',= ');
    if (!k || line[at] !== '=') fail('field without key or =');
    at++;
    let f: LpField;
    if (line[at] === '"') {
      at++;
      let s = '';
      while (at < line.length && line[at] !== '"') {
        if (line[at] === '\\' && (line[at + 1] === '"' || line[at + 1] === '\\')) {
          s += line[at + 1];
          at += 2;
        } else {
          s += line[at++];
        }
      }
      if (line[at] !== '"') fail('unterminated string');
      at++;
      f = { type: 's', value: s };
    } else {
      const raw = read(', ', '');
      if (/^-?\d+i$/.test(raw)) f = { type: 'i', value: Number(raw.slice(0, -1)) };
      else if (/^\d+u$/.test(raw)) f = { type: 'u', value: Number(raw.slice(0, -1)) };
      else if (/^(t|T|true|True|TRUE)$/.test(raw)) f = { type: 'b', value: true };
      else if (/^(f|F|false|False|FALSE)$/.test(raw)) f = { type: 'b', value: false };
      else if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) f = { type: 'f', value: Number(raw) };
      else return fail(`bad field value '${raw}'`);
    }
    if (k in fields) fail(`duplicate field ${k}`);
    fields[k] = f;
    if (line[at] === ',') {
      at++;
      continue;
    }
    break;
  }
  let time: string | undefined;
  if (line[at] === ' ') {
    at++;
    time = line.slice(at);
    if (!/^-?\d+$/.test(time)) fail('bad timestamp');
    at = line.length;
  }
  if (at !== line.length) fail('trailing characters');
  return time === undefined ? { measurement, tags, fields } : { measurement, tags, fields, time };
}

/** Every line of a line-protocol document (it must end in a newline, or be empty). */
export function parseLines(text: string): LpPoint[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('line protocol output does not end in a newline');
  return text.slice(0, -1).split('\n').map(parseLine);
}

/** A point as one comparable string: measurement, sorted tags, sorted typed fields (time left out). */
export function pointKey(p: { measurement: string; tags: Record<string, string>; fields: Record<string, LpField> }): string {
  const tags = Object.keys(p.tags)
    .sort()
    .map((k) => `${k}=${p.tags[k]}`)
    .join(',');
  const fields = Object.keys(p.fields)
    .sort()
    .map((k) => `${k}=${JSON.stringify(p.fields[k].value)}${p.fields[k].type}`)
    .join(',');
  return `${p.measurement}|${tags}|${fields}`;
}

// ---------------------------------------------------------------------------------------------------------
// gopsutil ConnectionStat lists (Telegraf's and DataKit's test vectors) as a ConnectionSource

export interface GopsutilConn {
  fd?: number;
  /** 1 AF_UNIX, 2 AF_INET, 10 AF_INET6 (30 on darwin, where DataKit's vectors were captured) */
  family?: number;
  /** 1 SOCK_STREAM, 2 SOCK_DGRAM, 5 SOCK_SEQPACKET; Telegraf's mock leaves 0 for TCP */
  type: number;
  laddr?: { ip: string; port: number };
  raddr?: { ip: string; port: number };
  status: string;
  pid?: number;
}

/** gopsutil's TCP status strings (net.TCPStatuses) → kernel TCP_* numbers. "NONE", "" and others → 0. */
export const GOPSUTIL_STATUS: Readonly<Record<string, number>> = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
};

/**
 * The conversion a gopsutil-based collector sees: SOCK_DGRAM is UDP (or unix dgram when the family is
 * AF_UNIX), the status string decides everything else; ip_version is what DataKit derives with
 * netip.ParseAddr(laddr.ip): '4', '6', or 'unknown' (for '*' and unix paths). Addresses are kept as given.
 */
export function gopsutilConnections(list: readonly GopsutilConn[]): ConnectionSource {
  const version = (ip: string | undefined): IpVersion => {
    const a = ip ? parseAddress(ip) : undefined;
    return a?.family === AF_INET ? '4' : a?.family === AF_INET6 ? '6' : 'unknown';
  };
  return {
    length: list.length,
    kind(i) {
      const c = list[i];
      if (c.family === 1) return c.type === 1 ? Kind.unixStream : c.type === 2 ? Kind.unixDgram : c.type === 5 ? Kind.unixSeqpacket : Kind.other;
      return c.type === 1 ? Kind.tcp : c.type === 2 ? Kind.udp : Kind.other;
    },
    state: (i) => GOPSUTIL_STATUS[list[i].status] ?? 0,
    isStatusNone: (i) => list[i].status === 'NONE',
    ipVersion: (i) => version(list[i].laddr?.ip),
    localPort: (i) => list[i].laddr?.port ?? 0,
    localAddress: (i) => list[i].laddr?.ip ?? '',
    remotePort: (i) => list[i].raddr?.port ?? 0,
    remoteAddress: (i) => list[i].raddr?.ip ?? '',
    pid: (i) => list[i].pid ?? 0,
    // gopsutil's own key (net_linux.go statsFromInodes): type, laddr, raddr, status
    dedupKey: (i) => {
      const c = list[i];
      return `${c.type}-${c.laddr?.ip ?? ''}:${c.laddr?.port ?? 0}-${c.raddr?.ip ?? ''}:${c.raddr?.port ?? 0}-${c.status}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// `ss -in` text → SocketTable rows, and → what Telegraf's inputs.socketstat makes of the same text

/** The tcp_info counters ss prints as name:value and Telegraf reads (plugins/inputs/socketstat). */
export const TELEGRAF_COUNTERS = ['bytes_acked', 'bytes_received', 'segs_out', 'segs_in', 'data_segs_out', 'data_segs_in'] as const;

/**
 * ss's text for one protocol as parseSs reads it: `ss -in --udp` has no State column (ss hides it when the
 * state filter holds one state, ESTABLISHED for UDP without -a), so a State header and ESTAB are added, as
 * Telegraf adds a dummy word for udp/raw.
 */
export function ssRows(text: string, proto: 'tcp' | 'udp' | 'raw'): SsRow[] {
  let t = text;
  if (proto !== 'tcp' && /^Recv-Q/.test(t))
    t = t
      .split('\n')
      .map((l, n) => (n === 0 ? `State ${l}` : l.trim() && !/^\s/.test(l) ? `ESTAB ${l}` : l))
      .join('\n');
  return parseSs(t).rows;
}

export interface TableFromSsOptions {
  /**
   * Length of the tcp_info the "kernel" sent: 232 (5.4+) by default; 144 is 4.2 (segs but no data_segs),
   * 104 is 3.14 (no counters at all). Fields past it are absent, as decodeTcpInfo reads them.
   */
  tcpInfoLength?: number;
  /** interface name → ifindex, for "%iface" endpoints */
  ifindex?: Record<string, number>;
}

function putAddress(to: Uint8Array, row: number, text: string): number {
  const a = parseAddress(text === '*' ? '::' : text);
  if (!a) throw new Error(`not an address: ${text}`);
  to.set(a.bytes, row * 16);
  return a.family;
}

/**
 * SocketTable rows for the sockets of `ss -in` text: addresses, ports, state, queues, and for TCP an
 * INET_DIAG_INFO attribute holding a struct tcp_info with the counters ss printed at their kernel offsets
 * (a counter ss did not print is 0: ss omits zero counters), plus rtt/rttvar/min_rtt/cwnd.
 */
export function socketTableFromSs(text: string, proto: 'tcp' | 'udp' | 'raw', o: TableFromSsOptions = {}): SocketTable {
  const rows = ssRows(text, proto);
  const t = new SocketTable(16, 1 << 16);
  for (const r of rows) {
    const i = t.addRow();
    t.proto[i] = Proto[proto];
    t.family[i] = putAddress(t.src, i, r.local.address);
    putAddress(t.dst, i, r.peer.address);
    const state = SS_STATE_NUMBERS[r.state];
    if (state === undefined) throw new Error(`unknown ss state ${r.state}`);
    t.state[i] = state;
    t.sport[i] = r.local.port;
    t.dport[i] = r.peer.port;
    t.rqueue[i] = r.recvQ;
    t.wqueue[i] = r.sendQ;
    t.ifindex[i] = r.local.iface ? (o.ifindex?.[r.local.iface] ?? 0) : 0;
    if (proto !== 'tcp') continue;
    const len = o.tcpInfoLength ?? 232;
    const info = new Uint8Array(len);
    const v = new DataView(info.buffer);
    const put = (name: string, value: number) => {
      const f = tcpInfoField(name)!;
      if (f.offset + (f.kind === 'u64' ? 8 : 4) > len) return;
      if (f.kind === 'u64') {
        v.setUint32(f.offset, value % 0x100000000, true);
        v.setUint32(f.offset + 4, Math.floor(value / 0x100000000), true);
      } else {
        v.setUint32(f.offset, value, true);
      }
    };
    info[0] = state; // tcpi_state
    for (const c of TELEGRAF_COUNTERS) put(c, Number(r.fields[c] ?? 0));
    if (r.fields.rtt) {
      const [rtt, rttvar] = r.fields.rtt.split('/').map(Number);
      put('rtt', Math.round(rtt * 1000));
      put('rttvar', Math.round(rttvar * 1000));
    }
    if (r.fields.minrtt) put('min_rtt', Math.round(Number(r.fields.minrtt) * 1000));
    if (r.fields.cwnd) put('snd_cwnd', Number(r.fields.cwnd));
    const attr = encodeAttribute(InetAttr.INFO, info);
    t.setAttributes(i, attr, 0, attr.byteLength);
  }
  return t;
}

export interface TelegrafSocketstatPoint {
  tags: Record<string, string>;
  fields: Record<string, string | number>;
}

/**
 * What Telegraf's inputs.socketstat emits for `ss -in --<proto>` text (plugins/inputs/socketstat/
 * socketstat.go, getTagsAndState and getSeqNumbers): tags proto, local/remote addr and port split at the LAST
 * ':' of ss's endpoint (so IPv6 keeps its brackets and a %zone stays on the address); fields recv_q, send_q,
 * `state` (a string, TCP only: udp/raw lines get a dummy first word) and the counters ss printed.
 */
export function telegrafSocketstat(text: string, proto: 'tcp' | 'udp' | 'raw'): TelegrafSocketstatPoint[] {
  const out: TelegrafSocketstatPoint[] = [];
  let cur: TelegrafSocketstatPoint | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('State') || line.startsWith('Recv-Q')) continue;
    if (/^\s/.test(line)) {
      for (const w of line.trim().split(/\s+/)) {
        const m = /^([a-z][a-z_]+):([0-9]+)$/.exec(w);
        if (m && cur && (TELEGRAF_COUNTERS as readonly string[]).includes(m[1])) cur.fields[m[1]] = Number(m[2]);
      }
      continue;
    }
    let words = line.trim().split(/\s+/);
    const fields: Record<string, string | number> = {};
    if (proto === 'tcp') fields.state = words[0];
    else words = ['dummy', ...words];
    const split = (w: string) => [w.slice(0, w.lastIndexOf(':')), w.slice(w.lastIndexOf(':') + 1)];
    const [la, lp] = split(words[3]);
    const [ra, rp] = split(words[4]);
    fields.recv_q = Number(words[1]);
    fields.send_q = Number(words[2]);
    cur = { tags: { proto, local_addr: la, local_port: lp, remote_addr: ra, remote_port: rp }, fields };
    out.push(cur);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// promtool

/** promtool (Debian's prometheus package): $SOCKSCOPE_PROMTOOL, PATH or .ci/run's cache; a skip reason otherwise. */

/** `promtool check metrics` on a text exposition: exit status and its complaints. */
export function promtoolCheckMetrics(promtool: string, text: string): { status: number | null; output: string } {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * Prometheus's own OpenMetrics parser over the text, through `promtool tsdb create-blocks-from openmetrics`
 * (backfilling needs a timestamp on every sample, so `timestampSeconds` is appended to each sample line; the
 * rest of the text is parsed as it is: `# EOF`, HELP/TYPE, label syntax, counter `_total` samples).
 */
export function promtoolParseOpenMetrics(promtool: string, text: string, timestampSeconds: number): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sockscope-om-'));
  try {
    const stamped = text
      .split('\n')
      .map((l) => (l && !l.startsWith('#') ? `${l} ${timestampSeconds}` : l))
      .join('\n');
    writeFileSync(join(dir, 'in.om'), stamped);
    const r = spawnSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'in.om'), join(dir, 'out')], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `promtool check metrics` lints the text format 0.0.4 only (promlint over expfmt's text parser): on an
 * OpenMetrics exposition it reads every counter's `<family>_total` samples as a separate untyped family
 * without HELP. Returns the complaints NOT explained by that, which must be none.
 */
export function unexplainedOpenMetricsLint(promtool: string, text: string): string[] {
  const counters = new Set([...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]));
  const r = promtoolCheckMetrics(promtool, text);
  if (r.status === 0) return [];
  return r.output.split('\n').filter((l) => {
    const m = /^(\S+)_total no help text$/.exec(l.trim());
    return !(m && counters.has(m[1]));
  });
}

/** The structure of an exposition: family → { help, type, samples (name, labels text, value) }. */
export interface ExpositionFamily {
  help?: string;
  type?: string;
  samples: { name: string; labels: string; value: string }[];
}
export function parseExposition(text: string): { families: Map<string, ExpositionFamily>; eof: boolean } {
  const families = new Map<string, ExpositionFamily>();
  let current: ExpositionFamily | undefined;
  let eof = false;
  const fam = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (eof) throw new Error(`text after # EOF: ${line}`);
    if (line === '# EOF') {
      eof = true;
      continue;
    }
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      current = fam(m[1]);
      if (current.help !== undefined) throw new Error(`second HELP for ${m[1]}`);
      current.help = m[2];
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      current = fam(m[1]);
      if (current.type !== undefined) throw new Error(`second TYPE for ${m[1]}`);
      current.type = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m || !current) throw new Error(`not a sample line (or a sample before any family): ${line}`);
    current.samples.push({ name: m[1], labels: m[2] ?? '', value: m[3] });
  }
  return { families, eof };
}
