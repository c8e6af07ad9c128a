/**
 * `sockscope ls`: the ss / ss2 successor. Options as ss spells them, ss's filter language after them, and four
 * formats: table (people), json (one document), ndjson (one socket per line, streamed: memory does not grow
 * with the number of sockets), ss2 (pyroute2 ss2's document shape, its defects fixed).
 */
import { readFileSync } from 'node:fs';
import { interfaceNames } from '../netlink/links.js';
import {
  AF_INET,
  AF_INET6,
  ALL_STATES,
  Proto,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  TCP_ESTABLISHED,
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
import type { SocketTable } from '../snapshot/table.js';
import { netnsValues, parseCommand } from './options.js';
import { commandSpec, LS_FORMATS } from './spec.js';
import { resolveNetns } from './netns.js';
import { printHelp } from './help.js';
import { planNetnsCli } from '../netns/options.js';
import type { FamilyRequest } from '../snapshot/families.js';
import { bindFamily, DEFAULT_FAMILIES, lastLinkFamily } from './ls-families.js';

const FORMATS = LS_FORMATS;
type Format = (typeof FORMATS)[number];

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
      protocols,
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

export async function runLs(args: string[]): Promise<void> {
  const plan = planLs(args);
  if (plan === 'help') return printHelp('ls');
  if (plan.events) {
    const { compileFilter, hasNetAdmin } = await import('../filter/index.js');
    return followLs(plan, compileFilter(plan.filterWords, { defaultStates: ALL_STATES, protocols: plan.snapshot.protocols, netAdmin: hasNetAdmin() }));
  }
  // no expression: the states alone, without loading the filter language (ten modules) before the first syscall
  const filter =
    plan.filterWords.length === 0
      ? statesOnly(plan.snapshot.states!)
      : await (async () => {
          const { compileFilter, hasNetAdmin } = await import('../filter/index.js');
          const f = compileFilter(plan.filterWords, {
            defaultStates: plan.snapshot.states!,
            protocols: plan.snapshot.protocols,
            netAdmin: hasNetAdmin(),
            linkFamily: plan.linkFamily,
          });
          bindFamily(plan, f.parsed.family);
          return f;
        })();
  plan.snapshot.states = filter.states;
  plan.snapshot.bytecode = filter.bytecode;
  if ((filter as { needsAttributes?: boolean }).needsAttributes) plan.snapshot.keepAttributes = true; // a filter on cgroup or mark
  for (const w of filter.warnings) process.stderr.write(`sockscope: ${w}\n`);

  if (plan.diag !== undefined) return dumpRaw(plan);

  if (plan.summary) {
    // ss -s: the kernel's own counters (/proc/net/sockstat, sockstat6, snmp), in ss's layout
    const { ssSummary } = await import('../outputs/listing/ss-words.js');
    process.stdout.write(ssSummary());
    return;
  }

  // a big listing: the read-ahead worker starts now, its start overlapping the rest of ls's (src/snapshot/read-ahead.ts)
  if (plan.readAheadFrom !== undefined && !plan.allNetns) {
    const [{ estimateSockets }, { startReadAhead }] = await Promise.all([import('../snapshot/plan.js'), import('../snapshot/read-ahead.js')]);
    if (estimateSockets(plan.snapshot.protocols!, '/proc') >= plan.readAheadFrom) startReadAhead();
  }

  // -p: the /proc walk starts now, in worker threads, and runs while this thread loads the rest and (table,
  // -r) takes the kernel snapshot; this thread joins it when the first row needs it
  const walkAbort = new AbortController();
  const walk = plan.processes ? import('../procfs/holders-parallel.js').then((m) => m.ParallelHolderWalk.start({ signal: walkAbort.signal })) : undefined;
  try {
    await listSockets(plan, filter, walk);
  } finally {
    walkAbort.abort(); // the workers have answered, or the listing failed and nobody will read the index
  }
}

/**
 * -K, as ss -K: SOCK_DESTROY each listed TCP, UDP and UDP-Lite socket; the listing then shows those the kernel
 * closed. Without CAP_NET_ADMIN the kernel refuses the first one (EPERM) and ls says so, closing nothing.
 */
async function killSockets(plan: LsPlan, t: SocketTable, rows: number[]): Promise<number[]> {
  const { DiagSession } = await import('../snapshot/snapshot.js');
  const { ackErrno, destroyRequest, DESTROYABLE } = await import('../diag/destroy.js');
  const { PROTO_NAMES } = await import('../diag/constants.js');
  const { SockscopeError } = await import('../errors.js');
  const session = await DiagSession.open(plan.snapshot.netns);
  const buf = new Uint8Array(8192);
  const closed: number[] = [];
  let seq = 1 << 20;
  let unsupported = 0;
  try {
    for (const i of rows) {
      if (!DESTROYABLE.includes(PROTO_NAMES[t.proto[i]] as ProtoName)) {
        unsupported++;
        continue;
      }
      session.transport.send(destroyRequest(t, i, ++seq));
      let errno: number | undefined;
      while (errno === undefined) errno = ackErrno(buf, session.transport.recv(buf));
      if (errno === 0) closed.push(i);
      else if (errno === 1) {
        throw new SockscopeError('ESOCKSCOPE_NETLINK', '-K: the kernel refused SOCK_DESTROY (EPERM): closing sockets needs CAP_NET_ADMIN (run as root)', {
          syscall: 'SOCK_DESTROY',
        });
      } else if (errno === 95) {
        throw new SockscopeError('ESOCKSCOPE_NETLINK', '-K: the kernel cannot close sockets (EOPNOTSUPP): it was built without CONFIG_INET_DIAG_DESTROY', {
          syscall: 'sendmsg',
          errno: 95,
        });
      }
      // ENOENT: closed meanwhile; left out of the listing
    }
  } finally {
    session.close();
  }
  if (unsupported) process.stderr.write(`sockscope: -K: ${unsupported} sockets left open: the kernel closes TCP, UDP and UDP-Lite sockets only\n`);
  return closed;
}

/**
 * -D FILE, as ss -D: the kernel's netlink answers to the listing's requests (filters included), every datagram
 * as received, written to FILE ('-': stdout) instead of the listing. test/replay reads such files.
 */
async function dumpRaw(plan: LsPlan): Promise<void> {
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const { takeSnapshot, DiagSession } = await import('../snapshot/snapshot.js');
  let fd: number;
  try {
    fd = plan.diag === '-' ? 1 : openSync(plan.diag!, 'w', 0o600);
  } catch (e) {
    throw new UsageError(`-D ${plan.diag}: cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      key: 'diag',
      value: plan.diag,
    });
  }
  const inner = await DiagSession.open(plan.snapshot.netns);
  const tap = new DiagSession({
    send: (m) => inner.transport.send(m),
    recv: (buf) => {
      const n = inner.transport.recv(buf);
      if (n > 0) writeSync(fd, buf, 0, n);
      return n;
    },
    close: () => inner.close(),
  });
  try {
    await takeSnapshot({ ...plan.snapshot, keepAttributes: false }, tap);
  } finally {
    tap.close();
    if (fd !== 1) closeSync(fd);
  }
}

/** compileFilter([]) without the filter modules: what it returns for no expression (test/cli/ls.test.ts compares). */
export function statesOnly(states: number): Pick<CompiledFilter, 'states' | 'warnings' | 'matches' | 'bytecode'> {
  return { states, warnings: [], matches: (t: SocketTable, r: number) => ((states >>> t.state[r]) & 1) === 1 };
}

type CompiledFilter = import('../filter/index.js').CompiledFilter;
function byteCount(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1024 || Number(text) > 2 ** 30) {
    throw new UsageError(`${option} must be a number of bytes between 1024 and 1073741824, got '${text}'`, { key: option.slice(2), value: text });
  }
  return Number(text);
}

/** -E: until SIGINT or SIGTERM; the counts (and any loss) on stderr. */
async function followLs(plan: LsPlan, filter: import('../filter/index.js').CompiledFilter): Promise<void> {
  if (plan.summary || plan.processes || plan.resolve)
    throw new UsageError('-E cannot be combined with -s, -p or -r (closed sockets have no process; names would stall the stream)', { key: 'events' });
  if (plan.allNetns)
    throw new UsageError('-E follows one network namespace: give -N NAME|PID|PATH, not --all-netns or a namespace selector', { key: 'events' });
  const { followEvents, followSummary } = await import('../lifecycle/follow.js');
  for (const w of filter.warnings) process.stderr.write(`sockscope: ${w}\n`);
  const stop = new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const record = { extended: plan.extended, timers: plan.timers, info: plan.info, memory: plan.memory, interfaceName: interfaceNames() };
  const result = await followEvents(
    {
      ...plan.snapshot,
      protocols: plan.snapshot.protocols!,
      families: plan.snapshot.families!,
      protocolsChosen: plan.protocolsChosen,
      rcvbufBytes: plan.rcvbufBytes,
      format: plan.format,
      header: plan.header,
      record,
    },
    filter,
    process.stdout,
    stop,
  );
  process.stderr.write(`sockscope: ${followSummary(result)}\n`);
}

type Holders = import('../procfs/processes.js').SocketHolders;
type Walk = import('../procfs/holders-parallel.js').ParallelHolderWalk;

/**
 * The packet, netlink, vsock and XDP sockets of a listing (none asked: undefined), taken before the inet and unix
 * dumps, and how to write them: the table's lines and the records, split where ss's order puts the inet and
 * unix sockets (netlink and packet before them, vsock and XDP after).
 */
async function otherFamilies(
  plan: LsPlan,
  recordOptions: import('../outputs/listing/socket-record.js').RecordOptions,
  select: CompiledFilter['matchesFamily'] | undefined,
) {
  if (plan.families.length === 0) return undefined;
  const [{ takeFamilySockets }, { familyTableText }, { familyRecord }] = await Promise.all([
    import('../snapshot/families.js'),
    import('../outputs/listing/family-table.js'),
    import('../outputs/listing/family-record.js'),
  ]);
  const states = plan.snapshot.states ?? ALL_STATES;
  const { sockets, notes } = await takeFamilySockets(
    plan.families.map((r) => ({ ...r, states })),
    { netns: plan.snapshot.netns, select },
  );
  const part = (which: 'before' | 'after') => sockets.filter((s) => (s.family === 'netlink' || s.family === 'packet') === (which === 'before'));
  const options = {
    extended: plan.extended,
    memory: plan.memory,
    bpf: plan.bpf,
    names: plan.services,
    oneline: plan.oneline,
    processes: recordOptions.processes,
    securityContext: plan.securityContext,
    interfaceName: recordOptions.interfaceName,
    processName: netlinkProcessName,
  };
  return {
    notes,
    // no line before the inet and unix ones: no header either (theirs is written with their widths)
    table: (which: 'before' | 'after' | 'header', layout: { header: boolean; netid: boolean; state: boolean }) =>
      which !== 'header' && part(which).length === 0
        ? ''
        : familyTableText(which === 'header' ? [] : part(which), { ...options, processes: recordOptions.processes }, layout),
    records: (which: 'before' | 'after') => part(which).map((s) => familyRecord(s, { ...options, processes: recordOptions.processes })),
    /** ndjson lines or json array elements; returns `first` for what follows */
    writeRecords(which: 'before' | 'after', format: Format, first: boolean, write: (text: string) => void): boolean {
      for (const s of part(which)) {
        const text = JSON.stringify(familyRecord(s, { ...options, processes: recordOptions.processes }));
        write(format === 'ndjson' ? `${text}\n` : `${first ? '' : ','}\n${text}`);
        first = false;
      }
      return first;
    },
  };
}

/** -r on a netlink port id: "comm/pid" as ss reads it from /proc/PID/stat (the name up to its first ')') */
function netlinkProcessName(pid: number): string | undefined {
  try {
    const m = /^\d+ \(([^)]*)/.exec(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    return m ? `${m[1]}/${pid}` : undefined;
  } catch {
    return undefined;
  }
}

async function listSockets(plan: LsPlan, filter: Pick<CompiledFilter, 'matches'>, walk: Promise<Walk> | undefined): Promise<void> {
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
    serviceNames: plan.services,
  } as Parameters<typeof socketRecord>[3];
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
    const layout = {
      ...tableLayout(plan, plan.tables !== 1),
      oneline: plan.oneline,
      service: plan.services ? (await import('../outputs/listing/ss-words.js')).serviceName : undefined,
      widths,
      bytes,
      write: (chunk: Uint8Array) => void out.write(chunk),
      drained: () => out.writableLength === 0,
    };
    const meta = await streamSnapshot(plan.snapshot, (t) => {
      if (rows.length < t.length) rows = new Uint32Array(t.length);
      let count = 0;
      for (let i = 0; i < t.length; i++) if (selected(t, i)) rows[count++] = i;
      if (count === 0) return; // the header waits for the first row (its widths)
      lsTableBytes(t, rows.subarray(0, count), t.arenaView(), recordOptions, { ...layout, header });
      header = false;
    });
    if (header)
      lsTableBytes(new (await import('../snapshot/table.js')).SocketTable(16), [], new DataView(new ArrayBuffer(0)), recordOptions, { ...layout, header });
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
    const { lsShowsNetid, lsTableBytes } = await import('../outputs/listing/ls-table.js');
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
    // stdout is synchronous on Linux (files, pipes, terminals): each chunk's buffer is reused once written
    if (inetOrUnix || nothing)
      lsTableBytes(t, rows, view, recordOptions, {
        ...layout,
        header: plan.header && !headerWritten,
        oneline: plan.oneline,
        service: plan.services ? serviceName : undefined,
        write: (chunk) => out.write(chunk),
        drained: () => out.writableLength === 0,
      });
    if (others) out.write(others.table('after', { ...layout, header: false }));
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
