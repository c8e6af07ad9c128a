/**
 * The shapes of the member table (socket-members.ts): a member's source, section, unit and schema, and the words
 * of the ls table (ss's) a member declares.
 */
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
export type SsFlag = 'extended' | 'timers' | 'info' | 'memory' | 'processes' | 'cgroup' | 'tos';

/**
 * How ss writes a word (ss.c's printf formats), after ` name:` (or ` name ` for a rate):
 *  - int: %u; hex: 0x%x; chex: %#x (0 as `0`); g: %g of the published (scaled) value;
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
  | 'chex'
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
