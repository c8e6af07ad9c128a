/**
 * `ls`'s command line as a plan: ss's options (tables -t -u -x -A -f -0, states -a -l, details -e -o -i -m -p, -4/-6
 * as ss takes them together) read into what to dump and how to print it; what cannot be honoured says why (exit 2).
 */
import { readFileSync } from 'node:fs';
import {
  AF_INET,
  AF_INET6,
  ALL_STATES,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  Ext,
  TCP_CLOSE,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_TIME_WAIT,
  UNIX_SHOW_ALL,
  UnixShow,
  type ProtoName,
} from '../diag/constants.js';
import { UsageError } from '../errors.js';
import type { SnapshotOptions } from '../snapshot/snapshot.js';
import { READ_AHEAD_FROM } from '../snapshot/plan.js';
import { netnsValues, parseCommand } from './options.js';
import { commandSpec, LS_FORMATS } from './spec.js';
import { resolveNetns } from './netns.js';
import { planNetnsCli } from '../netns/options.js';
import type { FamilyRequest } from '../snapshot/families.js';
import { DEFAULT_FAMILIES, lastLinkFamily } from './ls-families.js';

const FORMATS = LS_FORMATS;
export type Format = (typeof FORMATS)[number];

/** ss's SS_CONN: everything but LISTEN, CLOSE, TIME_WAIT and SYN_RECV. */
export const SS_CONN = ALL_STATES & ~((1 << TCP_LISTEN) | (1 << TCP_CLOSE) | (1 << TCP_TIME_WAIT) | (1 << TCP_SYN_RECV));

export interface LsPlan {
  snapshot: SnapshotOptions;
  format: Format;
  header: boolean;
  extended: boolean;
  timers: boolean;
  info: boolean;
  memory: boolean;
  processes: boolean;
  summary: boolean;
  /** -E: follow destroyed sockets (src/lifecycle/follow.ts) */
  events: boolean;
  /** -E's receive buffer (--rcvbuf) */
  rcvbufBytes?: number;
  protocolsChosen: boolean;
  filterWords: string[];
  /** --all-netns (or a namespace selector): every namespace, see src/netns/ls.ts */
  allNetns?: import('../netns/all.js').AllNetnsOptions;
  /** -r: host names (reverse DNS) */
  resolve: boolean;
  /** no -n: service names, protocol names and rates in K/M/G, as ss without -n */
  services: boolean;
  /** -a, -l or -A set ss's states (else each table's default does): the State column follows them alone */
  explicitStates: boolean;
  /** -O: each socket on one line */
  oneline: boolean;
  /** --cgroup: the cgroup path of each socket */
  cgroup: boolean;
  /** --tos: tos, tclass and class_id of each inet socket */
  tos: boolean;
  /** -Z/-z: the security context of each holding process */
  securityContext: boolean;
  /** -z: and the security context of each holder's socket */
  socketContext: boolean;
  /** -K: close the listed sockets (SOCK_DESTROY) */
  kill: boolean;
  /** -D FILE: write the kernel's raw netlink answer there instead of listing ('-': stdout) */
  diag?: string;
  /** -0, -f link/netlink/vsock/xdp, --vsock, --xdp, -A packet,...: the other families ss lists (states: at run time) */
  families: Omit<FamilyRequest, 'states'>[];
  /** -b: packet sockets' classic BPF programs */
  bpf: boolean;
  /** ss's tables listed (its Netid column shows when more than one is) */
  tables: number;
  /**
   * SnapshotOptions.readAheadFrom for the listing's dumps: READ_AHEAD_FROM for the streamed json, ndjson and ss2
   * (~1 KB of text per socket with -i: formatting outlasts the kernel's walk); undefined for the table (the dump is
   * most of its time, formatting little: the worker would cost more memory than it saves time), -r, -K and -p
   * (its /proc walk keeps both CPUs busy already)
   */
  readAheadFrom?: number;
  /** -A unix_stream / unix_dgram / unix_seqpacket: the unix socket types listed (undefined: all three) */
  unixTypes?: ReadonlySet<number>;
  /** ss's preferred family when the last family option was -0/-f link, -f netlink or -x/-f unix: how the filter reads addresses */
  linkFamily?: 'packet' | 'netlink' | 'unix';
}

/**
 * The order in which ss prints its tables (ss.c main(): netlink_show, packet_show, unix_show, raw_show, udp_show,
 * tcp_show, dccp_show, sctp_show, vsock_show, tipc_show, xdp_show, mptcp_show); UDP-Lite, which ss 6.1 does not
 * list, beside UDP. The families around them: ls-families.ts (otherFamilies).
 */
export const SS_TABLE_ORDER: readonly ProtoName[] = ['unix', 'raw', 'udp', 'udplite', 'tcp', 'sctp', 'mptcp'];

/** whether the last of -4/-6 in this argument is -6 */
const a6 = (arg: string): boolean => (arg.startsWith('--') ? arg === '--ipv6' : arg.lastIndexOf('6') > arg.lastIndexOf('4'));

type LsValues = Record<string, string | boolean | string[] | undefined>;

/**
 * Flags ss has that sockscope cannot honour here: each says why (exit 2), never "unknown option".
 */
function refuseUnsupported(v: LsValues): void {
  const why: [string, string][] = [
    ['tipc', '--tipc is not built into sockscope: TIPC sockets are not listed'],
    ['dccp', '-d/--dccp: DCCP was removed from Linux 6.16 and sockscope does not list it'],
    ['tipcinfo', '--tipcinfo is not built into sockscope: TIPC sockets are not listed'],
    ['inet-sockopt', '--inet-sockopt is not built into sockscope yet: the INET_DIAG_SOCKOPT flags are not decoded'],
    ['threads', "-T/--threads is not built into sockscope: -p lists each socket's processes, not their threads"],
  ];
  for (const [key, message] of why) if (v[key] !== undefined) throw new UsageError(message, { key });
}

/** ss's -A/--query names (and -f's) as sockscope's protocols; unknown or unsupported ones say so. */
const QUERY: Record<string, ProtoName[] | string | Omit<FamilyRequest, 'states' | 'required'>[]> = {
  all: ['tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp', 'unix'],
  inet: ['tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp'],
  tcp: ['tcp'],
  udp: ['udp'],
  raw: ['raw'],
  sctp: ['sctp'],
  mptcp: ['mptcp'],
  udplite: ['udplite'],
  unix: ['unix'],
  unix_stream: ['unix'],
  unix_dgram: ['unix'],
  unix_seqpacket: ['unix'],
  u_str: ['unix'],
  u_dgr: ['unix'],
  u_seq: ['unix'],
  packet: [{ family: 'packet' }],
  packet_raw: [{ family: 'packet', types: [SOCK_RAW] }],
  p_raw: [{ family: 'packet', types: [SOCK_RAW] }],
  packet_dgram: [{ family: 'packet', types: [SOCK_DGRAM] }],
  p_dgr: [{ family: 'packet', types: [SOCK_DGRAM] }],
  netlink: [{ family: 'netlink' }],
  vsock: [{ family: 'vsock' }],
  vsock_stream: [{ family: 'vsock', types: [SOCK_STREAM] }],
  v_str: [{ family: 'vsock', types: [SOCK_STREAM] }],
  vsock_dgram: [{ family: 'vsock', types: [SOCK_DGRAM] }],
  v_dgr: [{ family: 'vsock', types: [SOCK_DGRAM] }],
  xdp: [{ family: 'xdp' }],
  tipc: 'TIPC sockets are not listed by sockscope',
  dccp: 'DCCP is not listed by sockscope',
};
const FAMILY = ['inet', 'inet6', 'unix', 'link', 'netlink', 'vsock', 'tipc', 'xdp'];

/** -f's families beside inet and unix, as ss's address families: the tables they list */
const FAMILY_OF: Record<string, FamilyRequest['family']> = { link: 'packet', netlink: 'netlink', vsock: 'vsock', xdp: 'xdp' };

/**
 * -f/--family, -A/--query, -0, --vsock and --xdp as the protocol flags and the other families they stand for (ss
 * adds them up). Returns the families asked for; `required` when named (not through -A all).
 */
function applyFamiliesAndQuery(v: LsValues): Omit<FamilyRequest, 'states'>[] {
  const families: Omit<FamilyRequest, 'states'>[] = [];
  if (v.packet) families.push({ family: 'packet', required: true });
  if (v.vsock) families.push({ family: 'vsock', required: true });
  if (v.xdp) families.push({ family: 'xdp', required: true });
  for (const f of (v.family as string[] | undefined) ?? []) {
    if (!FAMILY.includes(f)) throw new UsageError(`-f/--family must be one of ${FAMILY.join(', ')}, got '${f}'`, { key: 'family', value: f });
    if (f === 'inet') v.ipv4 = true;
    else if (f === 'inet6') v.ipv6 = true;
    else if (f === 'unix') v.unix = true;
    else if (FAMILY_OF[f]) families.push({ family: FAMILY_OF[f], required: true });
    else throw new UsageError(`-f ${f}: ${f} sockets are not listed by sockscope`, { key: 'family', value: f });
  }
  // -x or -f unix with -4/-6: unix and the family's inet tables, as ss (its -4 adds the family, whose default tables join)
  if ((v.ipv4 || v.ipv6) && v.unix) v.unixToo = true;
  for (const q of ((v.query as string[] | undefined) ?? []).flatMap((x) => x.split(','))) {
    // one of ss's three unix tables: only that socket type (unixTypes), unless all three are asked for
    if (UNIX_TABLES[q] !== undefined) v.unixTables = [...((v.unixTables as string[] | undefined) ?? []), q];
    else if (q === 'unix' || q === 'all') v.unixAll = true;
    const want = QUERY[q];
    if (want === undefined)
      throw new UsageError(`-A/--query: unknown socket table '${q}', expected one of ${Object.keys(QUERY).join(', ')}`, { key: 'query', value: q });
    if (typeof want === 'string') throw new UsageError(`-A ${q}: ${want}`, { key: 'query', value: q });
    for (const p of want) {
      if (typeof p === 'string') v[p] = true;
      else families.push({ ...p, required: true });
    }
    // -A all: the other families too, each said (not refused) when the kernel lacks its diag module
    if (q === 'all') for (const family of ['netlink', 'packet', 'vsock', 'xdp'] as const) families.push({ family, required: false });
  }
  return families;
}

/** ss's unix tables by -A name: the socket type each lists */
const UNIX_TABLES: Record<string, number> = {
  unix_stream: SOCK_STREAM,
  u_str: SOCK_STREAM,
  unix_dgram: SOCK_DGRAM,
  u_dgr: SOCK_DGRAM,
  unix_seqpacket: SOCK_SEQPACKET,
  u_seq: SOCK_SEQPACKET,
};

/** How many of ss's tables the families stand for (packet: p_raw and p_dgr, vsock: v_str and v_dgr) */
function familyTables(families: readonly Omit<FamilyRequest, 'states'>[]): number {
  let n = 0;
  for (const f of ['packet', 'netlink', 'vsock', 'xdp'] as const) {
    const asked = families.filter((r) => r.family === f);
    if (asked.length === 0) continue;
    n += asked.some((r) => r.types === undefined) ? (f === 'packet' || f === 'vsock' ? 2 : 1) : new Set(asked.flatMap((r) => r.types ?? [])).size;
  }
  return n;
}

/** -F FILE: the filter expression read from a file ('-': stdin), split into words as a shell would not. */
function filterFile(path: string): string[] {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8')
      .replace(/#.*$/gm, '')
      .split(/\s+/)
      .filter(Boolean);
  } catch (e) {
    throw new UsageError(`-F ${path}: cannot read the filter file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      key: 'filter',
      value: path,
    });
  }
}

export function planLs(args: string[]): LsPlan | 'help' {
  const o = parseCommand(commandSpec('ls'), args);
  const positionals = o.positionals;
  // absent switches are undefined, as util.parseArgs gives them (refuseUnsupported and the family logic test for that)
  const f = (name: string): true | undefined => (o.flag(name) ? true : undefined);
  // biome-ignore lint/suspicious/noExplicitAny: parseArgs-shaped values, each read through the typed LsValues keys or checked where it is used
  const v: LsValues & Record<string, any> = {
    tcp: f('tcp'),
    udp: f('udp'),
    raw: f('raw'),
    unix: f('unix'),
    sctp: f('sctp'),
    mptcp: f('mptcp'),
    udplite: f('udplite'),
    ipv4: f('ipv4'),
    ipv6: f('ipv6'),
    listening: f('listening'),
    all: f('all'),
    numeric: f('numeric'),
    resolve: f('resolve'),
    extended: f('extended'),
    info: f('info'),
    memory: f('memory'),
    options: f('options'),
    processes: f('processes'),
    summary: f('summary'),
    'no-header': f('no-header'),
    events: f('events'),
    rcvbuf: o.str('rcvbuf'),
    oneline: f('oneline'),
    family: o.list('family'),
    // --socket: ss's other name for -A
    query: o.list('query') || o.list('socket') ? [...(o.list('query') ?? []), ...(o.list('socket') ?? [])] : undefined,
    filter: o.str('filter'),
    cgroup: f('cgroup'),
    context: f('context'),
    contexts: f('contexts'),
    kill: f('kill'),
    diag: o.str('diag'),
    packet: f('packet'),
    bpf: f('bpf'),
    vsock: f('vsock'),
    xdp: f('xdp'),
    tipc: f('tipc'),
    tipcinfo: f('tipcinfo'),
    threads: f('threads'),
    'inet-sockopt': f('inet-sockopt'),
    tos: f('tos'),
    dccp: f('dccp'),
    net: o.str('net'),
    format: o.str('format'),
    help: f('help'),
    ...netnsValues(o),
  };
  if (v.help) return 'help';
  // -4 and -6 together: the last one given wins, as with ss
  if (v.ipv4 && v.ipv6) {
    const last = args.filter((a) => /^-[^-]*[46]/.test(a) || a === '--ipv4' || a === '--ipv6').pop() ?? '';
    const six = a6(last);
    v.ipv4 = !six;
    v.ipv6 = six;
  }
  refuseUnsupported(v);
  const families = applyFamiliesAndQuery(v);
  const format = (v.format ?? 'table') as Format;
  const allNetns = planNetnsCli(v, v.net);
  const linkFamily = lastLinkFamily(o.given);
  if (families.length > 0) {
    const why = allNetns
      ? '--all-netns or a namespace selector'
      : v.events
        ? '-E'
        : v.kill
          ? '-K'
          : v.diag !== undefined
            ? '-D'
            : v.format === 'ss2'
              ? '--format ss2'
              : undefined;
    if (why)
      throw new UsageError(`packet, netlink, vsock and XDP sockets are listed as a table, json or ndjson of one namespace: ${why} does not go with them`, {
        key: 'family',
      });
  }
  if (allNetns && v.resolve)
    throw new UsageError("-r does not go with --all-netns: names would be looked up from the host's resolver, not each namespace's", { key: 'resolve' });
  if (allNetns && (format === 'ss2' || v.summary))
    throw new UsageError(`--all-netns lists sockets as table, json or ndjson${v.summary ? "; for the summary run 'sockscope --all-netns'" : ''}`, {
      key: 'all-netns',
    });
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${v.format}'`, { key: 'format', value: v.format });
  if (v.rcvbuf !== undefined && !v.events) throw new UsageError('--rcvbuf is for -E (the receive buffer of the event stream)', { key: 'rcvbuf' });

  const chosen: ProtoName[] = [];
  // only other families (-0, -f netlink, --xdp, -A packet): no inet or unix dump
  const othersOnly = families.length > 0 && !(v.tcp || v.udp || v.udplite || v.raw || v.sctp || v.mptcp || v.unix || v.ipv4 || v.ipv6);
  if (v.tcp) chosen.push('tcp');
  if (v.udp) chosen.push('udp');
  if (v.udplite) chosen.push('udplite');
  if (v.raw) chosen.push('raw');
  if (v.sctp) chosen.push('sctp');
  if (v.mptcp) chosen.push('mptcp');
  if (v.unix) chosen.push('unix');
  const unixToo = (v as LsValues).unixToo === true;
  const familyOnly = (v.ipv4 || v.ipv6) && !unixToo;
  if (unixToo && chosen.length === 1) chosen.unshift('tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp');
  if (chosen.length === 0 && !othersOnly) chosen.push('tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp', ...(familyOnly ? [] : ['unix' as const]));
  const protocols = familyOnly ? chosen.filter((p) => p !== 'unix') : chosen;
  // -A u_str (...) without -A unix or all: those unix socket types only (ss's -A sets its tables: -x adds none then)
  const unixTypes = v.unixTables && !v.unixAll ? new Set((v.unixTables as string[]).map((q) => UNIX_TABLES[q])) : undefined;
  // no table named: ss's "all" tables, so netlink and packet sockets with -a or -l (each all UNCONN: without them,
  // nothing is dumped), and vsock and XDP ones where the kernel has them (said nowhere when it has not, as ss);
  // not where those families cannot go (ss2, --all-netns, -E, -K, -D)
  const defaults = !othersOnly && families.length === 0 && !(v.tcp || v.udp || v.udplite || v.raw || v.sctp || v.mptcp || v.unix || v.ipv4 || v.ipv6);
  const familiesToo = defaults && format !== 'ss2' && !allNetns && !v.events && !v.kill && v.diag === undefined;

  // ss's states: -a, -l, or with -A its connected default; else what each table listed adds (its default_dbs /
  // default_afs): SS_CONN for inet, unix and vsock, UNCONN (TCP_CLOSE) for packet, netlink and XDP
  // (-A sets ss's state filter to SS_CONN: `ss -A netlink` lists nothing without -a or -l, and so does ls)
  let states = v.all ? ALL_STATES : v.listening ? (1 << TCP_LISTEN) | (1 << TCP_CLOSE) : SS_CONN;
  if (!v.all && !v.listening && !(v.query as string[] | undefined)?.length && families.length > 0) {
    states = othersOnly ? 0 : SS_CONN;
    for (const r of families) states |= r.family === 'vsock' ? SS_CONN : 1 << TCP_CLOSE;
  }
  let ext = 0;
  if (v.info) ext |= Ext.info | Ext.vegasinfo | Ext.cong;
  if (v.memory) ext |= Ext.meminfo | Ext.skmeminfo;
  if (v.extended || v.tos) ext |= Ext.tos | Ext.tclass;
  // ss2's flows always carried tcp_info, meminfo and the congestion algorithm, and unix vfs
  if (format === 'ss2') ext |= Ext.info | Ext.meminfo | Ext.cong;
  let unixShow = UnixShow.NAME | UnixShow.PEER | UnixShow.RQLEN | (format === 'ss2' ? UnixShow.VFS : 0);
  if (v.extended) unixShow |= UnixShow.VFS | UnixShow.ICONS | UnixShow.UID;
  if (v.memory) unixShow |= UnixShow.MEMINFO;
  return {
    snapshot: {
      // the table's lines in ss's order of tables; the records in sockscope's (TCP first: ss2's documents, json)
      protocols: format === 'table' ? SS_TABLE_ORDER.filter((p) => protocols.includes(p)) : protocols,
      states,
      ext,
      unixShow: unixShow & UNIX_SHOW_ALL,
      // the table reads attributes for -e -i -m --cgroup; else only the v6only of IPv6 wildcards (holding every
      // socket's attributes would cost a plain listing a third of its memory)
      keepAttributes: format === 'table' && !(v.extended || v.info || v.memory || v.cgroup || v.tos) ? 'ipv6-wildcard' : true,
      families: v.ipv4 && !v.ipv6 ? [AF_INET] : v.ipv6 && !v.ipv4 ? [AF_INET6] : [AF_INET, AF_INET6],
      netns: v.net === undefined ? undefined : resolveNetns(v.net),
    },
    format,
    header: !v['no-header'],
    extended: !!v.extended,
    timers: !!(v.options || v.bpf), // ss's -b implies -o
    info: !!v.info,
    memory: !!v.memory,
    processes: !!(v.processes || v.context || v.contexts),
    resolve: !!v.resolve,
    services: !v.numeric,
    explicitStates: !!(v.all || v.listening || (v.query as string[] | undefined)?.length),
    summary: !!v.summary,
    filterWords: v.filter === undefined ? positionals : [...filterFile(v.filter), ...positionals],
    oneline: !!v.oneline,
    cgroup: !!v.cgroup,
    tos: !!v.tos,
    securityContext: !!(v.context || v.contexts),
    socketContext: !!v.contexts,
    diag: v.diag,
    kill: !!v.kill,
    families: familiesToo ? [...DEFAULT_FAMILIES] : families,
    bpf: !!v.bpf,
    // ss's tables: unix is three (u_str, u_dgr, u_seq) unless -A named some of them
    tables: protocols.length + (protocols.includes('unix') ? (unixTypes?.size ?? 3) - 1 : 0) + familyTables(familiesToo ? DEFAULT_FAMILIES : families),
    unixTypes,
    allNetns,
    events: !!v.events,
    rcvbufBytes: v.rcvbuf === undefined ? undefined : byteCount(v.rcvbuf, '--rcvbuf'),
    protocolsChosen: chosen.length > 0 && !!(v.tcp || v.udp || v.udplite || v.raw || v.sctp || v.mptcp || v.unix),
    readAheadFrom:
      format !== 'table' && !v.resolve && !v.kill && !(v.processes || v.context || v.contexts) && protocols.length > 0 ? READ_AHEAD_FROM : undefined,
    linkFamily,
  };
}

function byteCount(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1024 || Number(text) > 2 ** 30) {
    throw new UsageError(`${option} must be a number of bytes between 1024 and 1073741824, got '${text}'`, { key: option.slice(2), value: text });
  }
  return Number(text);
}
