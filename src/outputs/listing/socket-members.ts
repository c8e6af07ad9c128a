/**
 * The socket record, declared once: every member `ls --format json|ndjson` (and the record object of `-r` and
 * the library) can hold, in output order, with when it is shown, where it comes from (a column of the socket
 * table, a scalar attribute, a struct attribute, tcp_info) and its unit. From this table:
 *  - SocketJsonWriter (socket-ndjson.ts) compiles its per-family member programs, as OUT_FIELDS does for
 *    tcp_info, and writes records straight from the columns and attribute bytes;
 *  - socketRecord() (socket-record.ts) is that writer's output parsed: the object and the text cannot differ;
 *  - socketSchema() (socket-schema.ts) writes schema/socket.schema.json (`npm run schema`; a test fails when the
 *    committed schema differs);
 *  - the table's detail words (ls-table.ts) read the same tcp_info members by name.
 * Adding a member: one entry here (and, for a new source kind, its case in SocketJsonWriter), plus its test.
 */
import { InetAttr, PROTO_NAMES, SOCK_TYPE_NAMES, STATE_KEYS, UnixAttr } from '../../diag/constants.js';
import { TCP_INFO_FIELDS, unitName, type TcpInfoField } from '../../diag/tcp-info.js';
import { UID_UNKNOWN } from '../../snapshot/table.js';

/** The ss-style flag that shows a member (always: every record). */
export type Section = 'always' | 'names' | 'bound' | 'extended' | 'timers' | 'info' | 'memory' | 'processes' | 'netns';

/** The flag per section, for the schema's description. */
export const SECTION_FLAG: Readonly<Record<Section, string>> = {
  always: '',
  names: '-r',
  bound: 'bound to a device',
  extended: '-e',
  timers: '-o',
  info: '-i',
  memory: '-m',
  processes: '-p',
  netns: '--all-netns',
};

export type Unit = 'bytes' | 'us' | 'ms' | 'bps' | 'connections';

/** The ss flags (and ls's) that print a word: -e -o -i -m -p --cgroup. */
export type SsFlag = 'extended' | 'timers' | 'info' | 'memory' | 'processes' | 'cgroup';

/**
 * How ss writes a word (ss.c's printf formats), after ` name:` (or ` name ` for a rate):
 *  - int: %u; hex: 0x%x; g: %g of the published (scaled) value;
 *  - time: milliseconds with %g (rtt:0.05), from the member's unit; timeTrunc: whole milliseconds and `ms` (busy:12ms);
 *  - limited: whole milliseconds and the share of `of` in percent (rwnd_limited:2ms(4.5%));
 *  - rate: bits per second as ss's sprint_bw, then `bps` (`send 12bps`: a space, no colon);
 *  - flag: the bare name when the value is not 0 (app_limited); bare: the member's text alone (the congestion control);
 *  - options: the tcpi_options bits ss names (ts sack ecn ecnseen fastopen); send: ss's send rate (cwnd × mss × 8 / rtt,
 *    vegas' rtt when it has one);
 *  - group: `name:(field:value,...)` from the struct's fields' own ss words (bbr:(bw:..,mrtt:..));
 *  - text: the member's text as the record has it (the cookie's hex); timer: `(name,expires,retransmits)`;
 *    cgroupPath: the cgroup's path; shutdown: `<->`; skmem: `(r0,rb..,d0)`; vfs: `ino:N dev:major/minor`;
 *    list: the numbers after `name:`, space-separated; users: `users:(("comm",pid=N,fd=N),...)`.
 */
export type SsFormat =
  | 'int'
  | 'hex'
  | 'g'
  | 'time'
  | 'timeTrunc'
  | 'limited'
  | 'rate'
  | 'flag'
  | 'bare'
  | 'options'
  | 'send'
  | 'group'
  | 'text'
  | 'timer'
  | 'cgroupPath'
  | 'shutdown'
  | 'skmem'
  | 'vfs'
  | 'list'
  | 'users';

/** When ss prints a present value (all that are given must hold; none: always). */
export interface SsShow {
  /** not when 0 */
  nonzero?: boolean;
  /** not this value (rto's TCP_TIMEOUT_INIT, min_rtt's ~0U, reordering's default 3, an unknown uid) */
  except?: number;
  /** only below this (ssthresh "infinite" from 0xffff, a u64's ~0) */
  below?: number;
  /** only when the tcpi_options bit of this name is set (wscale) */
  option?: string;
  /** not on a listening socket (sacked) */
  connected?: boolean;
  /** only on an IPv6 socket (v6only) */
  ipv6?: boolean;
}

/**
 * A word of the ls table (as ss prints it), declared on the member it shows. ss-details.ts compiles every
 * member's words, sorted by `rank` per line, into the table's detail writer once per listing's flags.
 */
export interface SsWord {
  /** the name ss prints ('' for a word without one: the congestion control, the shutdown marker) */
  name: string;
  format: SsFormat;
  /** ss.c's print order among the words of its line */
  rank: number;
  /** ss's second line (inet: -m's skmem, -i's tcp_info words; -O keeps it on the first); default: the socket's line */
  line?: 'next';
  show?: SsShow;
  /** printed with any of these flags (default: the member's section); `unless`: not with this one */
  flags?: readonly SsFlag[];
  unless?: SsFlag;
  /** a second value after `sep` (rtt:rtt/rttvar, wscale:snd,rcv, pacing_rate/max); `either`: shown when either is (retrans) */
  with?: { field: string; sep: '/' | ','; show?: SsShow; either?: boolean };
  /** limited: the member it is a share of */
  of?: string;
  /** group: this text instead of the group when the field is 0 (dctcp:fallback_mode) */
  off?: { field: string; text: string };
  /** options: the tcpi_options bits ss prints as words, by record name (TCPI_OPTION_SS has their words) */
  bits?: readonly string[];
}

/** A number read at `at` in a struct attribute's payload. */
export interface StructField {
  key: string;
  at: number;
  kind: 'u16' | 'u32' | 'u64';
  /** published value = kernel value × scale (bytes/s → bits/s, BBR gains in 1/256) */
  scale?: number;
  unit?: Unit;
  doc?: string;
  /** its word inside its struct's ss group (bbr:(bw:..)); the name defaults to key */
  ss?: { name?: string; format: 'int' | 'g' | 'time' | 'rate'; show?: SsShow };
}

export type Source =
  /** a column of the socket table, as text or number; `text` says how a code becomes text */
  | {
      kind: 'column';
      column: 'proto' | 'family' | 'state' | 'rqueue' | 'wqueue' | 'sport' | 'dport' | 'uid' | 'inode' | 'sockType' | 'ifindex';
      text?: 'protocol' | 'family' | 'state' | 'socket_type' | 'interface';
    }
  /** the address columns as text (src: local, dst: remote) */
  | { kind: 'address'; column: 'src' | 'dst' }
  /** the host name of an address (-r: resolved before the listing) */
  | { kind: 'host'; column: 'src' | 'dst' }
  /** the socket cookie columns (cookieHi:cookieLo) in hex */
  | { kind: 'cookie' }
  /** idiag_timer, idiag_expires, idiag_retrans */
  | { kind: 'timer' }
  /** a scalar attribute: its value; bool: != 0; shutdown: the two bits of SHUTDOWN_MASK */
  | { kind: 'scalar'; attr: number; read: 'u8' | 'u32' | 'u64' | 'bool' | 'shutdown' }
  /** a struct attribute, present when the kernel sent at least `minLength` bytes */
  | { kind: 'struct'; attr: number; minLength: number; fields: readonly StructField[] }
  /** a NUL-terminated name (congestion control) or a unix name (abstract: '@'); nullable when absent */
  | { kind: 'name'; attr: number; decode: 'cString' | 'unixName' }
  /** a u32 attribute that may be absent: null */
  | { kind: 'nullableU32'; attr: number }
  /** a u32 list (UNIX_DIAG_ICONS) */
  | { kind: 'u32List'; attr: number }
  /** SK_MEMINFO_* u32s (INET_DIAG_SKMEMINFO, UNIX_DIAG_MEMINFO) under their names */
  | { kind: 'skmem'; attr: number }
  /** UNIX_DIAG_VFS: inode and "major:minor" */
  | { kind: 'vfs'; attr: number }
  /** INET_DIAG_INFO as struct tcp_info (TCP only) */
  | { kind: 'tcpInfo'; attr: number }
  /** the processes holding the socket (-p) */
  | { kind: 'processes' }
  /** a member its command adds to the written record (ls --all-netns: src/netns/ls.ts) */
  | { kind: 'added'; by: string };

export interface SocketMember {
  key: string;
  /** which sockets have it */
  on: 'inet' | 'unix';
  when: Section;
  from: Source;
  unit?: Unit;
  /** the member's JSON schema (type, enum, ...) without its description */
  schema: Record<string, unknown>;
  doc?: string;
  /** its words in the ls table (ss's), where ss shows it */
  ss?: SsWord | readonly SsWord[];
}

const uint = { type: 'integer', minimum: 0 } as const;
const enumOf = (values: readonly (string | undefined)[]) => ({ enum: [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))] });

/** SK_MEMINFO_* (linux/sock_diag.h), in order */
export const MEM_NAMES: readonly string[] = ['rmem_alloc', 'rcvbuf', 'wmem_alloc', 'sndbuf', 'fwd_alloc', 'wmem_queued', 'optmem', 'backlog', 'drops'];

/** idiag_timer values (ss's tmr_name[]). */
export const TIMER_NAMES: readonly string[] = ['off', 'on', 'keepalive', 'timewait', 'persist', 'unknown'];

/** tcpi_options bits (linux/tcp.h TCPI_OPT_*). */
export const TCPI_OPTIONS: readonly [number, string][] = [
  [1, 'timestamps'],
  [2, 'sack'],
  [4, 'wscale'],
  [8, 'ecn'],
  [16, 'ecn_seen'],
  [32, 'syn_data'],
  [64, 'usec_ts'],
  [128, 'tfo_child'],
];

/** ss's (and pyroute2 ss2's) words for the tcpi_options bits, by record name. */
export const TCPI_OPTION_SS: Readonly<Record<string, string>> = {
  timestamps: 'ts',
  sack: 'sack',
  wscale: 'wscale',
  ecn: 'ecn',
  ecn_seen: 'ecnseen',
  syn_data: 'fastopen',
  usec_ts: 'usec_ts',
  tfo_child: 'tfo_child',
};

/** tcp_info fields the record leaves out: state (the record's state says it), options (decoded into `options`), fackets (0 since Linux 4.x). */
const TCP_INFO_LEFT_OUT = new Set(['state', 'options', 'fackets']);

/** What the record does with a tcp_info value: leave out a u64's ~0, min_rtt unset, wscale without the option. */
export type TcpInfoSpecial = 'none' | 'minRtt' | 'wscale';

/** The tcp_info members of a record, in order: the kernel field, its output name (unit in the name), its scale. */
export const TCP_INFO_MEMBERS: readonly { field: TcpInfoField; name: string; scale: number; special: TcpInfoSpecial }[] = TCP_INFO_FIELDS.filter(
  (field) => !TCP_INFO_LEFT_OUT.has(field.name),
).map((field) => ({
  field,
  ...unitName(field),
  // min_rtt's TCP_INFO_UNSET value means "no sample yet"; wscale is meaningless without TCPI_OPT_WSCALE
  special: field.name === 'min_rtt' ? 'minRtt' : field.name === 'snd_wscale' || field.name === 'rcv_wscale' ? 'wscale' : 'none',
}));

const nonzero: SsShow = { nonzero: true };
/** an integer word ss prints when it is not 0 (most of tcp_info's) */
const count = (name: string, rank: number): SsWord => ({ name, format: 'int', rank, line: 'next', show: nonzero });
/** a u64's ~0 ("unlimited") is not a rate */
const U64_SET = 0xffffffff * 2 ** 32;

/**
 * The tcp_info members' words in the table (ss 6.1's tcp_show_info), by kernel field name: ss's names, formats
 * and conditions; units come from TCP_INFO_FIELDS. Ranks interleave with the other -i members' (congestion,
 * dctcp, bbr).
 */
export const TCP_INFO_SS: Readonly<Record<string, SsWord | readonly SsWord[]>> = {
  options: { name: '', format: 'options', rank: 100, line: 'next', flags: ['timers', 'extended'], bits: ['timestamps', 'sack', 'ecn', 'ecn_seen', 'syn_data'] },
  snd_wscale: { name: 'wscale', format: 'int', rank: 120, line: 'next', show: { option: 'wscale' }, with: { field: 'rcv_wscale', sep: ',' } },
  rto: { name: 'rto', format: 'time', rank: 130, line: 'next', show: { nonzero: true, except: 3000000 } },
  backoff: count('backoff', 140),
  rtt: { name: 'rtt', format: 'time', rank: 150, line: 'next', show: nonzero, with: { field: 'rttvar', sep: '/' } },
  ato: { name: 'ato', format: 'time', rank: 160, line: 'next', show: nonzero },
  snd_mss: count('mss', 170),
  pmtu: count('pmtu', 180),
  rcv_mss: count('rcvmss', 190),
  advmss: count('advmss', 200),
  snd_cwnd: [count('cwnd', 210), { name: 'send', format: 'send', rank: 330, line: 'next' }],
  snd_ssthresh: { name: 'ssthresh', format: 'int', rank: 220, line: 'next', show: { nonzero: true, below: 0xffff } },
  bytes_sent: count('bytes_sent', 230),
  bytes_retrans: count('bytes_retrans', 240),
  bytes_acked: count('bytes_acked', 250),
  bytes_received: count('bytes_received', 260),
  segs_out: count('segs_out', 270),
  segs_in: count('segs_in', 280),
  data_segs_out: count('data_segs_out', 290),
  data_segs_in: count('data_segs_in', 300),
  last_data_sent: count('lastsnd', 340),
  last_data_recv: count('lastrcv', 350),
  last_ack_recv: count('lastack', 360),
  pacing_rate: {
    name: 'pacing_rate',
    format: 'rate',
    rank: 370,
    line: 'next',
    show: { nonzero: true, below: U64_SET },
    with: { field: 'max_pacing_rate', sep: '/', show: { nonzero: true, below: U64_SET } },
  },
  delivery_rate: { name: 'delivery_rate', format: 'rate', rank: 380, line: 'next', show: nonzero },
  delivered: count('delivered', 390),
  delivered_ce: count('delivered_ce', 400),
  delivery_rate_app_limited: { name: 'app_limited', format: 'flag', rank: 410, line: 'next' },
  busy_time: { name: 'busy', format: 'timeTrunc', rank: 420, line: 'next', show: nonzero },
  rwnd_limited: { name: 'rwnd_limited', format: 'limited', rank: 421, line: 'next', show: nonzero, of: 'busy_time' },
  sndbuf_limited: { name: 'sndbuf_limited', format: 'limited', rank: 422, line: 'next', show: nonzero, of: 'busy_time' },
  unacked: count('unacked', 430),
  retrans: { name: 'retrans', format: 'int', rank: 440, line: 'next', show: nonzero, with: { field: 'total_retrans', sep: '/', either: true } },
  lost: count('lost', 450),
  sacked: { name: 'sacked', format: 'int', rank: 460, line: 'next', show: { nonzero: true, connected: true } },
  dsack_dups: count('dsack_dups', 470),
  fackets: count('fackets', 480),
  reordering: { name: 'reordering', format: 'int', rank: 490, line: 'next', show: { except: 3 } },
  reord_seen: count('reord_seen', 500),
  rcv_rtt: { name: 'rcv_rtt', format: 'time', rank: 510, line: 'next', show: nonzero },
  rcv_space: count('rcv_space', 520),
  rcv_ssthresh: count('rcv_ssthresh', 530),
  notsent_bytes: count('notsent', 540),
  min_rtt: { name: 'minrtt', format: 'time', rank: 550, line: 'next', show: { nonzero: true, except: 0xffffffff } },
  rcv_ooopack: count('rcv_ooopack', 560),
  snd_wnd: count('snd_wnd', 570),
};

const TCP_INFO_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(TCP_INFO_MEMBERS.map(({ name }) => [name, uint])),
    options: { type: 'array', items: enumOf(TCPI_OPTIONS.map(([, n]) => n)) },
    info_bytes: { ...uint, description: 'length of struct tcp_info the kernel sent; fields past it are absent' },
  },
};

const SHUTDOWN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['receive', 'send'],
  properties: { receive: { type: 'boolean' }, send: { type: 'boolean' } },
};
const MEMORY_SCHEMA = { type: 'object', additionalProperties: uint, properties: Object.fromEntries(MEM_NAMES.map((n) => [n, uint])) };
/** -p: the holders, first on the socket's line (ss's Process column) */
const USERS: SsWord = { name: 'users', format: 'users', rank: 10 };
const PROCESSES_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['pid', 'comm', 'fd'],
    properties: { pid: { type: 'integer', minimum: 1 }, comm: { type: 'string' }, fd: uint },
  },
};

/** ls --all-netns: the namespace of the socket (added to the record by src/netns/ls.ts) */
const NETNS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['inode'],
  properties: {
    inode: { type: 'integer', minimum: 1, description: "the namespace's inode (readlink /proc/PID/ns/net: net:[INODE])" },
    name: { type: 'string', description: 'its ip netns (or docker) name' },
    pid: { type: 'integer', minimum: 1, description: 'a process in it (the lowest pid)' },
    comm: { type: 'string' },
    host: { type: 'boolean', description: 'the namespace sockscope runs in' },
    container: {
      type: 'object',
      additionalProperties: false,
      required: ['runtime', 'id'],
      properties: { runtime: { enum: ['docker', 'containerd', 'cri-o', 'podman', 'systemd-nspawn'] }, id: { type: 'string' }, name: { type: 'string' } },
    },
    pod: {
      type: 'object',
      additionalProperties: false,
      required: ['namespace', 'name', 'uid'],
      properties: { namespace: { type: 'string' }, name: { type: 'string' }, uid: { type: 'string' } },
    },
  },
};
const netns = (on: 'inet' | 'unix'): SocketMember => ({
  key: 'netns',
  on,
  when: 'netns',
  from: { kind: 'added', by: 'src/netns/ls.ts' },
  schema: NETNS_SCHEMA,
  doc: "ls --all-netns: the network namespace the socket is in and who it belongs to (docs/namespaces.md). For a socket in the host's namespace made by a hostNetwork pod, pod and container come from the socket's cgroup.",
});

const head = (on: 'inet' | 'unix'): SocketMember[] => [
  { key: 'protocol', on, when: 'always', from: { kind: 'column', column: 'proto', text: 'protocol' }, schema: enumOf(PROTO_NAMES) },
  { key: 'family', on, when: 'always', from: { kind: 'column', column: 'family', text: 'family' }, schema: enumOf(['ipv4', 'ipv6', 'unix']) },
  {
    key: 'state',
    on,
    when: 'always',
    from: { kind: 'column', column: 'state', text: 'state' },
    schema: enumOf(STATE_KEYS),
    doc: "kernel TCP_* state names (node_exporter's); UDP and unix use established (connected), close (unconnected), listen",
  },
  {
    key: 'recv_q',
    on,
    when: 'always',
    from: { kind: 'column', column: 'rqueue' },
    unit: 'bytes',
    schema: uint,
    doc: 'bytes waiting to be read; for a listener, connections waiting for accept()',
  },
  {
    key: 'send_q',
    on,
    when: 'always',
    from: { kind: 'column', column: 'wqueue' },
    unit: 'bytes',
    schema: uint,
    doc: 'bytes not yet acknowledged; for a listener, the listen() backlog',
  },
];

const cookie = (on: 'inet' | 'unix'): SocketMember => ({
  key: 'cookie',
  on,
  when: 'extended',
  from: { kind: 'cookie' },
  schema: { type: 'string', pattern: '^[0-9a-f]+$' },
  doc: 'the socket cookie in hex, as ss prints after sk:',
  ...(on === 'inet' ? { ss: { name: 'sk', format: 'text', rank: 60 } } : {}),
});

/** ss's shutdown marker (`<->`, `-->`, `<--`, `---`) */
const shutdownWord = (rank: number): SsWord => ({ name: '', format: 'shutdown', rank });

/** The members of an inet (TCP, UDP, UDP-Lite, RAW, SCTP, MPTCP) socket's record, in output order. */
export const INET_MEMBERS: readonly SocketMember[] = [
  ...head('inet'),
  { key: 'local_address', on: 'inet', when: 'always', from: { kind: 'address', column: 'src' }, schema: { type: 'string' } },
  { key: 'local_port', on: 'inet', when: 'always', from: { kind: 'column', column: 'sport' }, schema: { ...uint, maximum: 65535 } },
  { key: 'remote_address', on: 'inet', when: 'always', from: { kind: 'address', column: 'dst' }, schema: { type: 'string' } },
  { key: 'remote_port', on: 'inet', when: 'always', from: { kind: 'column', column: 'dport' }, schema: { ...uint, maximum: 65535 } },
  { key: 'local_host', on: 'inet', when: 'names', from: { kind: 'host', column: 'src' }, schema: { type: 'string' } },
  { key: 'remote_host', on: 'inet', when: 'names', from: { kind: 'host', column: 'dst' }, schema: { type: 'string' } },
  { key: 'interface', on: 'inet', when: 'bound', from: { kind: 'column', column: 'ifindex', text: 'interface' }, schema: { type: 'string' } },
  {
    key: 'uid',
    on: 'inet',
    when: 'extended',
    from: { kind: 'column', column: 'uid' },
    schema: uint,
    ss: { name: 'uid', format: 'int', rank: 40, show: { nonzero: true, except: UID_UNKNOWN } },
  },
  { key: 'inode', on: 'inet', when: 'extended', from: { kind: 'column', column: 'inode' }, schema: uint, ss: { name: 'ino', format: 'int', rank: 50 } },
  cookie('inet'),
  {
    key: 'v6only',
    on: 'inet',
    when: 'extended',
    from: { kind: 'scalar', attr: InetAttr.SKV6ONLY, read: 'bool' },
    schema: { type: 'boolean' },
    ss: { name: 'v6only', format: 'int', rank: 90, show: { ipv6: true } },
  },
  {
    key: 'shutdown',
    on: 'inet',
    when: 'extended',
    from: { kind: 'scalar', attr: InetAttr.SHUTDOWN, read: 'shutdown' },
    schema: SHUTDOWN_SCHEMA,
    ss: shutdownWord(100),
  },
  {
    key: 'cgroup_id',
    on: 'inet',
    when: 'extended',
    from: { kind: 'scalar', attr: InetAttr.CGROUP_ID, read: 'u64' },
    schema: uint,
    // --cgroup alone: after the timer, even for 0; -e: after fwmark, when not 0
    ss: [
      { name: 'cgroup', format: 'cgroupPath', rank: 30, flags: ['cgroup'], unless: 'extended' },
      { name: 'cgroup', format: 'cgroupPath', rank: 80, show: nonzero },
    ],
  },
  {
    key: 'mark',
    on: 'inet',
    when: 'extended',
    from: { kind: 'scalar', attr: InetAttr.MARK, read: 'u32' },
    schema: uint,
    ss: { name: 'fwmark', format: 'hex', rank: 70, show: nonzero },
  },
  { key: 'tos', on: 'inet', when: 'extended', from: { kind: 'scalar', attr: InetAttr.TOS, read: 'u8' }, schema: uint },
  { key: 'tclass', on: 'inet', when: 'extended', from: { kind: 'scalar', attr: InetAttr.TCLASS, read: 'u8' }, schema: uint },
  { key: 'class_id', on: 'inet', when: 'extended', from: { kind: 'scalar', attr: InetAttr.CLASS_ID, read: 'u32' }, schema: uint },
  { key: 'ip_protocol', on: 'inet', when: 'extended', from: { kind: 'scalar', attr: InetAttr.PROTOCOL, read: 'u8' }, schema: uint },
  {
    key: 'timer',
    on: 'inet',
    when: 'timers',
    from: { kind: 'timer' },
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'expires_ms', 'retransmits'],
      properties: { name: enumOf(TIMER_NAMES), expires_ms: uint, retransmits: uint },
    },
    // ss -e shows the timers too (it sets show_options)
    ss: { name: 'timer', format: 'timer', rank: 20, flags: ['timers', 'extended'] },
  },
  { key: 'tcp_info', on: 'inet', when: 'info', from: { kind: 'tcpInfo', attr: InetAttr.INFO }, schema: TCP_INFO_SCHEMA },
  {
    key: 'congestion',
    on: 'inet',
    when: 'info',
    from: { kind: 'name', attr: InetAttr.CONG, decode: 'cString' },
    schema: { type: 'string' },
    ss: { name: '', format: 'bare', rank: 110, line: 'next' },
  },
  {
    key: 'bbr',
    on: 'inet',
    when: 'info',
    // struct tcp_bbr_info: bbr_bw_lo, bbr_bw_hi, bbr_min_rtt, bbr_pacing_gain, bbr_cwnd_gain
    from: {
      kind: 'struct',
      attr: InetAttr.BBRINFO,
      minLength: 20,
      fields: [
        { key: 'bandwidth_bps', at: 0, kind: 'u64', scale: 8, unit: 'bps', ss: { name: 'bw', format: 'rate' } },
        { key: 'min_rtt_us', at: 8, kind: 'u32', unit: 'us', ss: { name: 'mrtt', format: 'time' } },
        { key: 'pacing_gain', at: 12, kind: 'u32', scale: 1 / 256, ss: { format: 'g', show: nonzero } },
        { key: 'cwnd_gain', at: 16, kind: 'u32', scale: 1 / 256, ss: { format: 'g', show: nonzero } },
      ],
    },
    schema: {},
    ss: { name: 'bbr', format: 'group', rank: 320, line: 'next' },
  },
  {
    key: 'dctcp',
    on: 'inet',
    when: 'info',
    // struct tcp_dctcp_info: u16 dctcp_enabled, u16 dctcp_ce_state, u32 dctcp_alpha, dctcp_ab_ecn, dctcp_ab_tot
    from: {
      kind: 'struct',
      attr: InetAttr.DCTCPINFO,
      minLength: 16,
      fields: [
        { key: 'enabled', at: 0, kind: 'u16' },
        { key: 'ce_state', at: 2, kind: 'u16', ss: { format: 'int' } },
        { key: 'alpha', at: 4, kind: 'u32', ss: { format: 'int' } },
        { key: 'ab_ecn', at: 8, kind: 'u32', ss: { format: 'int' } },
        { key: 'ab_tot', at: 12, kind: 'u32', ss: { format: 'int' } },
      ],
    },
    schema: {},
    ss: { name: 'dctcp', format: 'group', rank: 310, line: 'next', off: { field: 'enabled', text: 'fallback_mode' } },
  },
  {
    key: 'vegas',
    on: 'inet',
    when: 'info',
    // struct tcpvegas_info: tcpv_enabled, tcpv_rttcnt, tcpv_rtt, tcpv_minrtt
    from: {
      kind: 'struct',
      attr: InetAttr.VEGASINFO,
      minLength: 16,
      fields: [
        { key: 'enabled', at: 0, kind: 'u32' },
        { key: 'rtt_count', at: 4, kind: 'u32' },
        { key: 'rtt_us', at: 8, kind: 'u32', unit: 'us' },
        { key: 'min_rtt_us', at: 12, kind: 'u32', unit: 'us' },
      ],
    },
    schema: {},
  },
  {
    key: 'memory',
    on: 'inet',
    when: 'memory',
    from: { kind: 'skmem', attr: InetAttr.SKMEMINFO },
    unit: 'bytes',
    schema: MEMORY_SCHEMA,
    ss: { name: 'skmem', format: 'skmem', rank: 10, line: 'next' },
  },
  {
    key: 'queue_memory',
    on: 'inet',
    when: 'memory',
    // struct inet_diag_meminfo: idiag_rmem, idiag_wmem, idiag_fmem, idiag_tmem
    from: {
      kind: 'struct',
      attr: InetAttr.MEMINFO,
      minLength: 16,
      fields: [
        { key: 'rmem', at: 0, kind: 'u32', unit: 'bytes' },
        { key: 'wmem', at: 4, kind: 'u32', unit: 'bytes' },
        { key: 'fmem', at: 8, kind: 'u32', unit: 'bytes' },
        { key: 'tmem', at: 12, kind: 'u32', unit: 'bytes' },
      ],
    },
    schema: {},
  },
  { key: 'processes', on: 'inet', when: 'processes', from: { kind: 'processes' }, schema: PROCESSES_SCHEMA, ss: USERS },
  netns('inet'),
];

/** The members of a unix socket's record, in output order. */
export const UNIX_MEMBERS: readonly SocketMember[] = [
  ...head('unix'),
  {
    key: 'socket_type',
    on: 'unix',
    when: 'always',
    from: { kind: 'column', column: 'sockType', text: 'socket_type' },
    schema: enumOf(Object.values(SOCK_TYPE_NAMES)),
  },
  {
    key: 'path',
    on: 'unix',
    when: 'always',
    from: { kind: 'name', attr: UnixAttr.NAME, decode: 'unixName' },
    schema: { type: ['string', 'null'] },
    doc: 'unix socket name; abstract names start with @',
  },
  { key: 'inode', on: 'unix', when: 'always', from: { kind: 'column', column: 'inode' }, schema: uint },
  { key: 'peer_inode', on: 'unix', when: 'always', from: { kind: 'nullableU32', attr: UnixAttr.PEER }, schema: { type: ['integer', 'null'], minimum: 0 } },
  { key: 'uid', on: 'unix', when: 'extended', from: { kind: 'column', column: 'uid' }, schema: uint },
  cookie('unix'),
  {
    key: 'vfs',
    on: 'unix',
    when: 'extended',
    from: { kind: 'vfs', attr: UnixAttr.VFS },
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['inode', 'device'],
      properties: { inode: uint, device: { type: 'string', pattern: '^\\d+:\\d+$' } },
    },
    ss: { name: 'ino', format: 'vfs', rank: 40 },
  },
  {
    key: 'pending_connections',
    on: 'unix',
    when: 'extended',
    from: { kind: 'u32List', attr: UnixAttr.ICONS },
    schema: { type: 'array', items: uint },
    ss: { name: 'peers', format: 'list', rank: 50 },
  },
  {
    key: 'shutdown',
    on: 'unix',
    when: 'extended',
    from: { kind: 'scalar', attr: UnixAttr.SHUTDOWN, read: 'shutdown' },
    schema: SHUTDOWN_SCHEMA,
    ss: shutdownWord(30),
  },
  {
    key: 'memory',
    on: 'unix',
    when: 'memory',
    from: { kind: 'skmem', attr: UnixAttr.MEMINFO },
    unit: 'bytes',
    schema: MEMORY_SCHEMA,
    ss: { name: 'skmem', format: 'skmem', rank: 20 },
  },
  { key: 'processes', on: 'unix', when: 'processes', from: { kind: 'processes' }, schema: PROCESSES_SCHEMA, ss: USERS },
  netns('unix'),
];

/** A struct member's schema, from its fields: integers, or numbers where a scale makes fractions or u64s. */
export function memberSchema(m: SocketMember): Record<string, unknown> {
  if (m.from.kind !== 'struct') return m.schema;
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(m.from.fields.map((f) => [f.key, f.scale !== undefined || f.kind === 'u64' ? { type: 'number', minimum: 0 } : uint])),
  };
}
