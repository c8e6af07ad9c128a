/**
 * The doctor's checks, declared once: their stable ids, what each measures (one number per subject), the
 * thresholds (the defaults, the config keys `doctor.<check>.<measure>_<level>`, the sample configuration), the
 * explanation and the advice. `sockscope doctor`, docs/doctor.md's tables, the configuration and the generated
 * Prometheus rules all read this table; the evaluation of each check (checks.ts) is keyed by the same ids.
 *
 * Every threshold means "the measure is at or above it". Rates are per minute over the sampling window.
 */

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** What a finding is about; a check fills the keys that name its culprit. */
export interface Subject {
  process?: { pid: number; comm: string };
  listener?: string;
  destination?: string;
  source?: string;
  peer?: string;
  local?: string;
  netns?: string;
  /** --all-netns: the namespace's `ip netns` (or docker) name, its pod (`namespace/name`), its container */
  netns_name?: string;
  pod?: string;
  container?: string;
}
export type SubjectKey = keyof Subject;

export interface MeasureDefinition {
  name: string;
  unit: 'sockets' | 'percent' | 'per_minute' | 'connections';
  help: string;
  /** default thresholds; a level without one is never reached by this measure */
  info?: number;
  warning?: number;
  critical?: number;
  /** the subject keys this measure's findings carry (the Prometheus labels) */
  subject: readonly SubjectKey[];
}

export interface CheckDefinition {
  id: string;
  title: string;
  measures: readonly MeasureDefinition[];
  /** other numeric settings of the check (e.g. how many segments are enough to judge) */
  params?: Readonly<Record<string, { default: number; help: string }>>;
  /** the theory an operator needs, one paragraph */
  explanation: string;
  /** what to do */
  advice: string;
}

export const CHECKS = [
  {
    id: 'close_wait',
    title: 'CLOSE_WAIT sockets per process',
    measures: [
      { name: 'sockets', unit: 'sockets', info: 1, warning: 10, critical: 100, subject: ['process', 'netns'], help: 'CLOSE_WAIT sockets the process holds' },
    ],
    explanation:
      'CLOSE_WAIT means the peer closed its side and the kernel is waiting for this application to call close(). ' +
      'Unlike TIME_WAIT (this side closed first, the kernel expires it by itself) no timeout ends CLOSE_WAIT: ' +
      'every one is a descriptor the application forgot, and a count that grows is a leak.',
    advice:
      'Find the code path that stops using a connection after a read returns 0 (EOF) or an error without closing it ' +
      '(a missing close()/finally, a connection pool that never evicts dead connections). Restarting the process frees them; ' +
      'no sysctl does.',
  },
  {
    id: 'accept_queue',
    title: 'Accept queues and listen drops',
    measures: [
      {
        name: 'fill',
        unit: 'percent',
        warning: 90,
        critical: 100,
        subject: ['listener', 'process', 'netns'],
        help: 'connections waiting for accept() as a share of the listen() backlog',
      },
      {
        name: 'drops',
        unit: 'per_minute',
        warning: 1,
        critical: 5,
        subject: ['listener', 'process', 'netns'],
        help: 'connections the listener dropped (SK_MEMINFO_DROPS) per minute',
      },
      { name: 'overflows', unit: 'per_minute', warning: 1, critical: 5, subject: ['netns'], help: 'TcpExt ListenOverflows per minute in the namespace' },
      { name: 'listen_drops', unit: 'per_minute', warning: 1, critical: 5, subject: ['netns'], help: 'TcpExt ListenDrops per minute in the namespace' },
    ],
    explanation:
      'A listener holds fully established connections in its accept queue until the application calls accept(); ' +
      "the queue holds the listen() backlog (capped by net.core.somaxconn). When it is full the kernel drops the handshake's " +
      "final ACK or the SYN itself (ListenOverflows, ListenDrops, and the listener's own drop counter): clients see " +
      'connection timeouts and retries, the server logs nothing.',
    advice:
      'Make the application accept faster (more acceptor threads or processes, SO_REUSEPORT, less work before accept()), ' +
      'and raise the backlog given to listen() together with net.core.somaxconn if bursts are legitimate.',
  },
  {
    id: 'syn_queue',
    title: 'SYN queue: half-open connections, drops and cookies',
    measures: [
      {
        name: 'syn_recv',
        unit: 'percent',
        warning: 50,
        critical: 100,
        subject: ['listener', 'process', 'netns'],
        help: 'SYN_RECV (half-open) connections of a listener as a share of its backlog',
      },
      {
        name: 'req_qfull_drops',
        unit: 'per_minute',
        warning: 1,
        critical: 5,
        subject: ['netns'],
        help: 'TcpExt TCPReqQFullDrop per minute: SYNs dropped because a SYN queue was full',
      },
      {
        name: 'syncookies',
        unit: 'per_minute',
        warning: 1,
        critical: 5,
        subject: ['netns'],
        help: 'TcpExt SyncookiesSent per minute: SYN queue overflowed and answered with cookies',
      },
    ],
    explanation:
      "A SYN creates a request socket (SYN_RECV) that waits for the client's ACK; a listener keeps at most its backlog " +
      'of them (and net.ipv4.tcp_max_syn_backlog). When the queue is full the kernel answers with SYN cookies ' +
      '(net.ipv4.tcp_syncookies=1) or drops the SYN (TCPReqQFullDrop). Many half-open connections mean a SYN flood, ' +
      'clients that vanish after the SYN, or an accept queue so full that handshakes cannot complete.',
    advice:
      'Check the accept_queue findings first (a full accept queue stalls handshakes). For a flood keep tcp_syncookies=1 ' +
      'and filter upstream; for real load raise the listen() backlog, net.core.somaxconn and net.ipv4.tcp_max_syn_backlog.',
  },
  {
    id: 'ephemeral_ports',
    title: 'Ephemeral ports per source address and destination',
    measures: [
      {
        name: 'usage',
        unit: 'percent',
        info: 50,
        warning: 70,
        critical: 90,
        subject: ['source', 'destination', 'netns'],
        help: 'connections from one source address to one destination address:port as a share of net.ipv4.ip_local_port_range',
      },
    ],
    explanation:
      'A connection is identified by its 4-tuple, so connect() can reuse a local port for different destinations but ' +
      'has only the ports of net.ipv4.ip_local_port_range for one (source address, destination address:port). TIME_WAIT ' +
      'sockets keep their port for 60 s. When the range is used up connect() fails with EADDRNOTAVAIL ' +
      '("Cannot assign requested address").',
    advice:
      'Reuse connections (keep-alive, pooling). Set net.ipv4.tcp_tw_reuse=1 so outgoing connections may take ports in ' +
      'TIME_WAIT. If the application bind()s before connect(), set IP_BIND_ADDRESS_NO_PORT so the port is chosen per ' +
      'destination. Add source addresses (or destination addresses/ports) or widen net.ipv4.ip_local_port_range.',
  },
  {
    id: 'time_wait',
    title: 'TIME_WAIT against tcp_max_tw_buckets',
    measures: [
      { name: 'usage', unit: 'percent', warning: 80, critical: 95, subject: ['netns'], help: 'TIME_WAIT sockets as a share of net.ipv4.tcp_max_tw_buckets' },
    ],
    explanation:
      'TIME_WAIT is the side that closed first waiting 60 s so late segments of the old connection are not taken ' +
      'for a new one. It costs little memory, but net.ipv4.tcp_max_tw_buckets caps it: past the cap the kernel destroys ' +
      'TIME_WAIT sockets at once and logs "time wait bucket table overflow".',
    advice:
      'Reuse connections instead of opening one per request; let the client side close first where you control the ' +
      'protocol; raise net.ipv4.tcp_max_tw_buckets if memory allows. Never shorten TIME_WAIT with tcp_tw_recycle (removed).',
  },
  {
    id: 'orphans',
    title: 'Orphaned sockets against tcp_max_orphans',
    measures: [
      {
        name: 'usage',
        unit: 'percent',
        warning: 25,
        critical: 50,
        subject: ['netns'],
        help: 'orphaned TCP sockets (closed by the application, still in the kernel) as a share of net.ipv4.tcp_max_orphans',
      },
    ],
    explanation:
      'An orphan is a TCP socket the application has closed while the kernel still finishes the connection ' +
      '(FIN_WAIT1, LAST_ACK, CLOSING; data still to send). Each can pin up to its send buffer; past tcp_max_orphans the ' +
      'kernel resets them ("too many orphaned sockets"). The count is host-wide.',
    advice:
      'Look for peers that stop reading (zero_window) or vanish (retransmits) while the application closes with data ' +
      'unsent; lower net.ipv4.tcp_orphan_retries; raise net.ipv4.tcp_max_orphans only with the memory to back it.',
  },
  {
    id: 'tcp_memory',
    title: 'TCP memory against tcp_mem',
    measures: [
      { name: 'pressure', unit: 'percent', warning: 100, subject: ['netns'], help: "TCP memory in use as a share of tcp_mem's pressure threshold" },
      { name: 'high', unit: 'percent', critical: 90, subject: ['netns'], help: "TCP memory in use as a share of tcp_mem's hard limit" },
    ],
    explanation:
      'net.ipv4.tcp_mem is three page counts for all TCP sockets of the host: below min nothing is done, above ' +
      'pressure the kernel shrinks buffers, above high it refuses allocations and drops data. The count is host-wide.',
    advice: 'Find the sockets holding memory (large Recv-Q or Send-Q: stuck_receive_queue, zero_window); raise tcp_mem only if ' + 'the host has the memory.',
  },
  {
    id: 'retransmits',
    title: 'Retransmissions per peer',
    measures: [
      {
        name: 'ratio',
        unit: 'percent',
        warning: 5,
        critical: 15,
        subject: ['peer', 'netns'],
        help: 'segments retransmitted to a peer as a share of segments sent to it over the window',
      },
    ],
    params: { min_segments: { default: 200, help: 'segments sent to a peer over the window before its ratio is judged' } },
    explanation:
      'TCP resends a segment that was not acknowledged in time (or reported lost by SACK). A few retransmissions ' +
      'are normal on the Internet; a high share to one peer means loss, congestion or a bad path to it, and each one ' +
      'costs that connection at least a round trip.',
    advice:
      "Check the path to the peer (interface errors, drops, duplex, MTU, a congested link, the peer's load). " +
      "If many peers are affected, look at this host's interface and qdisc drops.",
  },
  {
    id: 'stuck_receive_queue',
    title: 'Receive queues the application does not read',
    measures: [
      {
        name: 'sockets',
        unit: 'sockets',
        warning: 1,
        critical: 10,
        subject: ['process', 'netns'],
        help: 'connections whose unread data was not read at all over the window',
      },
    ],
    explanation:
      'Recv-Q is data the kernel received and acknowledged that the application has not read yet. When it stays ' +
      'and nothing is read during the whole window, the application is blocked, busy elsewhere or has forgotten the ' +
      'connection; the window it advertises shrinks to zero and the sender stalls.',
    advice:
      'Look at what the process is doing (a stack dump, strace): a blocked thread, a full worker pool, a missing read ' +
      'handler. The data is safe in the kernel until read or the connection closes.',
  },
  {
    id: 'zero_window',
    title: 'Send queues stuck against a zero window',
    measures: [
      {
        name: 'sockets',
        unit: 'sockets',
        warning: 1,
        critical: 10,
        subject: ['peer', 'process', 'netns'],
        help: 'connections with queued data the peer advertised no room for, with nothing acknowledged over the window',
      },
    ],
    explanation:
      'Send-Q is data written by this application and not yet acknowledged. When the peer advertises a zero ' +
      'receive window its application is not reading: this side can only probe, and writes block or buffer up.',
    advice:
      'The fix is on the peer (see its stuck_receive_queue). Here: time out writes, bound what is buffered per ' +
      'connection, and close connections that make no progress.',
  },
  {
    id: 'syn_sent',
    title: 'Connection attempts piling up per destination',
    measures: [
      {
        name: 'sockets',
        unit: 'sockets',
        info: 1,
        warning: 10,
        critical: 100,
        subject: ['destination', 'netns'],
        help: 'connections to a destination still in SYN_SENT after the whole window',
      },
    ],
    explanation:
      'SYN_SENT is connect() waiting for the SYN-ACK. Beyond a round trip it means the destination does not ' +
      'answer: down, overloaded (its SYN queue full), filtered, or unreachable; the kernel retries the SYN with backoff ' +
      '(net.ipv4.tcp_syn_retries) for up to about two minutes.',
    advice:
      'Check the destination is up and listening and that nothing filters the path; give connect() a short timeout and ' +
      'back off instead of opening more attempts.',
  },
  {
    id: 'udp_drops',
    title: 'UDP receive drops',
    measures: [
      {
        name: 'drops',
        unit: 'per_minute',
        warning: 1,
        critical: 60,
        subject: ['local', 'process', 'netns'],
        help: 'datagrams a UDP socket dropped (SK_MEMINFO_DROPS) per minute',
      },
      {
        name: 'rcvbuf_errors',
        unit: 'per_minute',
        warning: 1,
        critical: 60,
        subject: ['netns'],
        help: 'Udp RcvbufErrors + Udp6RcvbufErrors per minute in the namespace',
      },
    ],
    explanation:
      'A UDP socket queues datagrams up to its receive buffer (SO_RCVBUF, default net.core.rmem_default); when ' +
      'the application reads slower than they arrive the kernel drops them (RcvbufErrors) and nobody retransmits.',
    advice: 'Read faster (more reader threads, SO_REUSEPORT, recvmmsg) and give the socket a larger SO_RCVBUF ' + '(raise net.core.rmem_max to allow it).',
  },
] as const satisfies readonly CheckDefinition[];

/** The sampling window of `sockscope doctor` (config doctor.window). */
export const DEFAULT_WINDOW = '2s';

export type CheckId = (typeof CHECKS)[number]['id'];
export const CHECK_IDS: readonly CheckId[] = CHECKS.map((c) => c.id);

/** `doctor.<check>.<measure>_<level>` and `doctor.<check>.<param>`: every threshold, with its default. */
export type DoctorThresholds = Record<string, Record<string, number>>;

export function defaultThresholds(): DoctorThresholds {
  const out: DoctorThresholds = {};
  for (const c of CHECKS as readonly CheckDefinition[]) {
    const t: Record<string, number> = (out[c.id] = {});
    for (const m of c.measures) for (const level of SEVERITIES) if (m[level] !== undefined) t[`${m.name}_${level}`] = m[level]!;
    for (const [k, p] of Object.entries(c.params ?? {})) t[k] = p.default;
  }
  return out;
}

/** The JSON Schema of the `[doctor]` section (for the config loader). */
export function thresholdsSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [id, t] of Object.entries(defaultThresholds())) {
    properties[id] = {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.keys(t).map((k) => [k, { type: 'number', minimum: 0 }])),
    };
  }
  return { type: 'object', additionalProperties: false, properties };
}

export const checkDefinition = (id: string): CheckDefinition | undefined => (CHECKS as readonly CheckDefinition[]).find((c) => c.id === id);

/** The `[doctor]` part of `sockscope config sample`, every threshold with its default and meaning. */
export function doctorSampleSection(): string {
  const lines = [
    '[doctor]',
    '  ## `sockscope doctor`: how long to sample (a duration) unless --window is given. Each [doctor.<check>]',
    '  ## below sets when a finding is info, warning or critical: the measure at or above the value, for',
    "  ## `sockscope doctor` and for the agent's [collectors.doctor] alike. The committed Prometheus rules and the",
    "  ## Zabbix templates' {$SOCKSCOPE.DOCTOR.*} macros carry these defaults: regenerate the rules with",
    '  ## `sockscope doctor --rules prometheus --config FILE`, set the macros on the host. See docs/doctor.md.',
    '  window = "2s"',
  ];
  for (const c of CHECKS as readonly CheckDefinition[]) {
    lines.push('', `[doctor.${c.id}]`, `  ## ${c.title}.`);
    for (const m of c.measures) {
      lines.push(`  ## ${m.name}: ${m.help} (${m.unit.replace('_', ' ')})`);
      for (const level of SEVERITIES) if (m[level] !== undefined) lines.push(`  ${m.name}_${level} = ${m[level]}`);
    }
    for (const [k, p] of Object.entries(c.params ?? {})) lines.push(`  ## ${p.help}`, `  ${k} = ${p.default}`);
  }
  return `${lines.join('\n')}\n`;
}
