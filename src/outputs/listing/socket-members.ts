/**
 * The socket record, declared once: every member `ls --format json|ndjson` (and the record object of `-r` and
 * the library) can hold, in output order, with when it is shown, where it comes from (a column of the socket
 * table, a scalar attribute, a struct attribute, tcp_info) and its unit. From this table:
 *  - SocketJsonWriter (socket-ndjson.ts) compiles its per-family member programs, as OUT_FIELDS does for
 *    tcp_info, and writes records straight from the columns and attribute bytes;
 *  - socketRecord() (socket-record.ts) is that writer's output parsed: the object and the text cannot differ;
 *  - socketSchema() (socket-schema.ts) writes schema/socket.schema.json (`npm run schema`; a test fails when the
 *    committed schema differs);
 *  - the table's detail words: each member's `ss` words (TCP_INFO_SS for the tcp_info members), compiled by
 *    ss-details.ts once per listing's flags into the writer ls-table.ts runs;
 *  - ss2 (ss2.ts) reads tcp_info, meminfo and cong_algo from these members' sources and units.
 * Adding a member: one entry here (and, for a new source kind or word format, its case in SocketJsonWriter or
 * compileDetails), plus its test (docs/architecture.md, "Adding a socket field").
 */
import { InetAttr, PROTO_NAMES, SOCK_TYPE_NAMES, STATE_KEYS, UnixAttr } from '../../diag/constants.js';
import { UID_UNKNOWN } from '../../snapshot/table.js';
import type { SocketMember, SsShow, SsWord } from './member-types.js';
import { TCP_INFO_MEMBERS, TCPI_OPTIONS } from './tcp-info-members.js';

export * from './member-types.js';
export * from './tcp-info-members.js';

const uint = { type: 'integer', minimum: 0 } as const;
const enumOf = (values: readonly (string | undefined)[]) => ({ enum: [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))] });

/** SK_MEMINFO_* (linux/sock_diag.h), in order */
export const MEM_NAMES: readonly string[] = ['rmem_alloc', 'rcvbuf', 'wmem_alloc', 'sndbuf', 'fwd_alloc', 'wmem_queued', 'optmem', 'backlog', 'drops'];

/** idiag_timer values (ss's tmr_name[]). */
export const TIMER_NAMES: readonly string[] = ['off', 'on', 'keepalive', 'timewait', 'persist', 'unknown'];

const nonzero: SsShow = { nonzero: true };

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
    comm: { type: 'string', description: "that process's name (/proc/PID/comm)" },
    host: { type: 'boolean', description: 'the namespace sockscope runs in' },
    container: {
      description: "the container: runtime, id (64 hex digits; the machine name for systemd-nspawn), its name in its pod (kubelet's /var/log/containers)",
      type: 'object',
      additionalProperties: false,
      required: ['runtime', 'id'],
      properties: { runtime: { enum: ['docker', 'containerd', 'cri-o', 'podman', 'systemd-nspawn'] }, id: { type: 'string' }, name: { type: 'string' } },
    },
    pod: {
      description: "the Kubernetes pod (kubelet's /var/log/pods/<namespace>_<name>_<uid>); uid: a UUID, or 32 hex digits for a static pod",
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
  doc: "ls --all-netns: the network namespace the socket is in and who it belongs to (docs/namespaces.md). container and pod are the socket's own where its cgroup names them (a hostNetwork pod's socket in the host's namespace; in a pod's namespace, shared by its containers, the container that made it); a socket with no cgroup (TIME_WAIT, SYN_RECV) goes by the listener on its local port; otherwise the namespace's (none in particular for a pod of several containers).",
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

/** -e's tos, tclass, class_id (record), printed by --tos as ss: `tos:0x10` (C's %#x, 0 as `0`) */
const tosMember = (key: string, attr: number, read: 'u8' | 'u32', rank: number): SocketMember => ({
  key,
  on: 'inet',
  when: 'extended',
  from: { kind: 'scalar', attr, read },
  schema: uint,
  ss: { name: key, format: 'chex', rank, flags: ['tos'] },
});

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
    // -e: after fwmark, when not 0; --cgroup: after -e's words (so twice with both, as ss 6.1), even for 0
    ss: [
      { name: 'cgroup', format: 'cgroupPath', rank: 80, show: nonzero },
      { name: 'cgroup', format: 'cgroupPath', rank: 110, flags: ['cgroup'] },
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
  // --tos: after -e's words, before --cgroup's, each when the kernel sent it (tclass: IPv6 sockets)
  tosMember('tos', InetAttr.TOS, 'u8', 104),
  tosMember('tclass', InetAttr.TCLASS, 'u8', 105),
  tosMember('class_id', InetAttr.CLASS_ID, 'u32', 106),
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
