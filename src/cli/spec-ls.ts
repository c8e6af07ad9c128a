/**
 * `sockscope ls`'s spec: ss's options, grouped as its help lists them (Sockets, Details, Output, Namespaces), and
 * ss's flags sockscope cannot honour, parsed so that each is refused with its reason.
 */
import { type CommandSpec, formatOption, HELP, LS_FORMATS, NET, NETNS_GROUP, type OptionSpec } from './spec-shared.js';

/** ss's flags sockscope cannot honour here: parsed so that each is refused with its reason (cli/ls.ts), never "unknown option" */
const LS_REFUSED: OptionSpec[] = [
  { long: 'tipc', help: 'TIPC sockets (not built: refused with the reason)', group: 'Not built' },
  { long: 'dccp', short: 'd', help: 'DCCP sockets (removed from Linux 6.16: refused)', group: 'Not built' },
  { long: 'tipcinfo', help: 'TIPC socket details (not built: refused with the reason)', group: 'Not built' },
  { long: 'inet-sockopt', help: "ss's inet socket options line (not built yet: refused with the reason)", group: 'Not built' },
  { long: 'threads', short: 'T', help: 'the threads holding each socket (not built: refused with the reason; -p lists processes)', group: 'Not built' },
];

export const LS: CommandSpec = {
  name: 'ls',
  summary: 'list sockets, like ss',
  usage: ['[options] [state STATE] [EXPRESSION]'],
  description: ["List sockets, like ss. Without -a or -l, connected sockets only (ss's default)."],
  positionals: true,
  options: [
    { long: 'tcp', short: 't', help: 'TCP', group: 'Sockets' },
    { long: 'udp', short: 'u', help: 'UDP', group: 'Sockets' },
    { long: 'udplite', help: 'UDP-Lite', group: 'Sockets' },
    { long: 'raw', short: 'w', help: 'RAW', group: 'Sockets' },
    { long: 'unix', short: 'x', help: 'unix', group: 'Sockets' },
    { long: 'sctp', short: 'S', help: 'SCTP', group: 'Sockets' },
    { long: 'mptcp', short: 'M', help: 'MPTCP (none of the above: all of them)', group: 'Sockets' },
    { long: 'packet', short: '0', help: 'packet sockets (packet_diag): p_raw, p_dgr', group: 'Sockets' },
    { long: 'vsock', help: 'vsock sockets (vsock_diag; a kernel without CONFIG_VSOCKETS_DIAG is said, exit 1)', group: 'Sockets' },
    { long: 'xdp', help: 'XDP sockets (xdp_diag; a kernel without CONFIG_XDP_SOCKETS_DIAG is said, exit 1)', group: 'Sockets' },
    { long: 'ipv4', short: '4', help: 'IPv4 only', group: 'Sockets' },
    { long: 'ipv6', short: '6', help: 'IPv6 only (with -4: the last one given wins, as with ss)', group: 'Sockets' },
    {
      long: 'family',
      short: 'f',
      arg: 'FAMILY',
      multiple: true,
      choices: ['inet', 'inet6', 'unix', 'link', 'netlink', 'vsock', 'xdp', 'tipc'],
      help: 'inet, inet6, unix, link (packet), netlink, vsock or xdp, as ss -f (repeatable; added up)',
      group: 'Sockets',
    },
    {
      long: 'query',
      short: 'A',
      arg: 'QUERY',
      multiple: true,
      help: "ss's socket tables (--socket is the same): all, inet, tcp, udp, raw, sctp, mptcp, udplite, unix, unix_stream, unix_dgram, unix_seqpacket, packet, packet_raw, packet_dgram, netlink, vsock, vsock_stream, vsock_dgram, xdp (comma-separated, repeatable; added up)",
      group: 'Sockets',
    },
    { long: 'socket', arg: 'QUERY', multiple: true, help: 'the same as -A', group: 'Sockets' },
    {
      long: 'listening',
      short: 'l',
      help: 'listening and unconnected sockets only (with no table named: netlink and packet sockets too, as ss -l)',
      group: 'Sockets',
    },
    { long: 'all', short: 'a', help: 'every state (with no table named: netlink and packet sockets too, as ss -a)', group: 'Sockets' },
    { long: 'extended', short: 'e', help: 'uid, inode, cookie, cgroup, v6only, shutdown (unix: vfs, pending connections)', group: 'Details' },
    { long: 'options', short: 'o', help: 'timers', group: 'Details' },
    { long: 'info', short: 'i', help: 'tcp_info and congestion control', group: 'Details' },
    { long: 'memory', short: 'm', help: 'socket memory', group: 'Details' },
    { long: 'bpf', short: 'b', help: "packet sockets' classic BPF filters (SO_ATTACH_FILTER; the kernel shows them to CAP_NET_ADMIN)", group: 'Details' },
    {
      long: 'processes',
      short: 'p',
      help: "the processes holding each socket (one walk of /proc/*/fd; other users' processes need root or CAP_SYS_PTRACE)",
      group: 'Details',
    },
    { long: 'numeric', short: 'n', help: 'numbers: no service, protocol or netlink names, rates in bps, as ss -n', group: 'Details' },
    { long: 'resolve', short: 'r', help: 'host names too (reverse DNS with a 2 s budget, /etc/hosts)', group: 'Details' },
    { long: 'cgroup', help: "the socket's cgroup path", group: 'Details' },
    { long: 'tos', help: 'tos, tclass and class_id of inet sockets, as ss --tos', group: 'Details' },
    { long: 'context', short: 'Z', help: "with -p, each process's security context (proc_ctx=; on netlink lines, the port id's process)", group: 'Details' },
    { long: 'contexts', short: 'z', help: "as -Z, and each holder's socket's context (sock_ctx=)", group: 'Details' },
    { ...formatOption(LS_FORMATS), group: 'Output' },
    { long: 'no-header', short: 'H', help: 'no header line (table)', group: 'Output' },
    { long: 'oneline', short: 'O', help: "ss's second line (-m, -i) on the socket's own line", group: 'Output' },
    { long: 'filter', short: 'F', arg: 'FILE', complete: 'file', help: "the filter expression from FILE ('-': stdin)", group: 'Output' },
    { long: 'diag', short: 'D', arg: 'FILE', complete: 'file', help: "the kernel's raw netlink answer into FILE ('-': stdout), no listing", group: 'Output' },
    { long: 'summary', short: 's', help: "ss -s: the kernel's socket counters in ss's layout", group: 'Output' },
    {
      long: 'events',
      short: 'E',
      help: 'follow: TCP and UDP sockets as they close, with their final numbers, until SIGINT or SIGTERM (--format table or ndjson; see docs/lifecycle.md)',
      group: 'Output',
    },
    { long: 'rcvbuf', arg: 'BYTES', help: "-E's receive buffer for bursts (default 16 MiB; past net.core.rmem_max as root)", group: 'Output' },
    { ...NET, group: 'Output' },
    { long: 'kill', short: 'K', help: 'close the listed TCP/UDP sockets (SOCK_DESTROY; needs CAP_NET_ADMIN)', group: 'Output' },
    { ...HELP, group: 'Output' },
    ...NETNS_GROUP,
    ...LS_REFUSED,
  ],
  sections: [
    ['Not built', ["ss's --tipc, --tipcinfo, -d/--dccp, -T/--threads and --inet-sockopt are accepted and refused with the reason (exit 2)."]],
    [
      'Filter',
      [
        "ss's language: state established, state connected, exclude time-wait, sport = :443, dport > :1024, src 10.0.0.0/8, dst [::1]:5432, dev eth0, fwmark 0x1/0xff, cgroup /system.slice/x, joined with and, or, not and parentheses. See docs/filters.md.",
      ],
    ],
  ],
  man: 1,
};
