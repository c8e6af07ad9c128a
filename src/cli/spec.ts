/**
 * Every command's options, declared once. The parser (parseCommand), `--help` and `sockscope help`, the man
 * pages (scripts/build-man.mjs) and the shell completions (`sockscope completion`) are all made from these
 * specs, so none of them can drift from what the commands accept.
 */
import { MEASUREMENTS } from '../collectors/registry.js';
import { SOCKETSTAT_INFO_FIELDS } from '../collectors/socketstat.js';
import { CHECK_IDS } from '../doctor/definitions.js';
import { LS } from './spec-ls.js';
import {
  ALL_NETNS,
  type CommandSpec,
  CONFIG_SHOW_FORMATS,
  formatOption,
  GATHER_FORMATS,
  HELP,
  NET,
  NETNS_GROUP,
  type OptionSpec,
  SUMMARY_FORMATS,
} from './spec-shared.js';

export type { CommandSpec, OptionSpec } from './spec-shared.js';
export { CONFIG_SHOW_FORMATS, GATHER_FORMATS, LS_FORMATS, SUMMARY_FORMATS } from './spec-shared.js';

const SUMMARY: CommandSpec = {
  name: '',
  summary: 'a summary of the sockets on this host',
  usage: ['[options]', 'COMMAND [options]'],
  description: [
    'Socket statistics read straight from the Linux kernel (NETLINK_SOCK_DIAG). Without a command: sockets per protocol and family, TCP states, listeners with accept-queue use, top local ports and remote peers, and where the data came from.',
  ],
  options: [
    formatOption(SUMMARY_FORMATS),
    { long: 'json', help: 'the same as --format json' },
    { long: 'top', arg: 'N', help: 'how many ports and peers to list (default 10)' },
    {
      long: 'source',
      arg: 'SOURCE',
      choices: ['auto', 'proc'],
      help: 'auto (default): netlink, and /proc/net for what netlink cannot dump; proc: /proc/net only',
    },
    NET,
    HELP,
    { long: 'version', short: 'V', help: 'print the version' },
    ...NETNS_GROUP.map((o) => (o === ALL_NETNS ? { ...o, help: `${o.help}; a table of every namespace follows the summary` } : o)),
  ],
  sections: [
    [
      'Environment',
      [
        'SOCKSCOPE_DEBUG=1: print stack traces for internal errors.',
        'SOCKSCOPE_DNS_SERVERS=ADDR,...: the resolvers ls -r asks (default: /etc/resolv.conf).',
        'SOCKSCOPE_<SECTION>_<KEY>: the agent settings (see sockscope.toml(5)).',
        "NODE_EXTRA_CA_CERTS: reaches node for the agent only; the sockscope command (npm's bin/sockscope.js, the .deb's /usr/bin/sockscope) starts every other command without it, none of them opening a TLS connection (node 20 parses the file at every start).",
      ],
    ],
    ['Exit status', ['0 success; 1 a system or gather failure; 2 a usage or configuration error.']],
  ],
  man: 1,
};

const GATHER_OPTIONS: OptionSpec[] = [
  {
    long: 'measurement',
    arg: 'LIST',
    choices: [...MEASUREMENTS, 'netns'],
    help: `${MEASUREMENTS.join(', ')}, netns (comma-separated; default netstat); netns: each namespace's kernel counters (listen overflows, drops, ...)`,
  },
  formatOption(GATHER_FORMATS),
  {
    long: 'netstat-semantics',
    arg: 'S',
    choices: ['sockscope', 'telegraf'],
    help: 'sockscope (default) or telegraf: reproduce Telegraf/DataKit numbers (unix sockets counted into udp_socket/tcp_none, duplicate sockets counted once)',
  },
  { long: 'per-ip-version', help: 'netstat: one point per ip_version (DataKit); always on for prometheus' },
  {
    long: 'port-group',
    arg: 'SPEC',
    multiple: true,
    help: "a netstat_port group (repeatable), entries comma-separated: 80,1.1.1.1:80,[::1]:80 (local ports and addresses, DataKit ports); *:80 (one series per local address, DataKit ports_match); remote:443 (the peer's port); then optionally @tag=value,tag=value",
  },
  { long: 'addr-ports', arg: 'JSON', help: 'a DataKit ENV_INPUT_NETSTAT_ADDR_PORTS array, e.g. \'["1.1.1.1:80","443"]\'' },
  { long: 'process-attribution', help: 'netstat_port pid field: walk /proc/*/fd (see docs/metrics.md)' },
  { long: 'socketstat-protocols', arg: 'LIST', help: 'tcp,udp,raw (default tcp,udp)' },
  { long: 'socketstat-info', arg: 'LIST', help: `extra tcp_info fields, comma-separated, or "all": ${SOCKETSTAT_INFO_FIELDS.join(', ')}` },
  { long: 'socketstat-aggregate', help: 'one point per (proto, local address, remote address)' },
  { long: 'influx-uint', help: "write unsigned fields with the u suffix (default: i, as Telegraf's default)" },
  { long: 'tag', arg: 'KEY=VALUE', multiple: true, help: 'a tag on every metric (repeatable)' },
  { long: 'host-tag', arg: '[NAME]', help: "add host=NAME (alone: this host's name)" },
  NET,
  HELP,
  ...NETNS_GROUP,
];

const GATHER: CommandSpec = {
  name: 'gather',
  summary: "one gather of socket metrics to stdout (Telegraf's inputs.exec)",
  usage: ['[options]'],
  description: ['One gather of netstat, netstat_port, socketstat and listen metrics, written to stdout. See docs/metrics.md.'],
  options: GATHER_OPTIONS,
  man: 1,
};

const EXECD: CommandSpec = {
  name: 'execd',
  summary: "gather on each line read, for Telegraf's inputs.execd",
  usage: ['[options] [--signal stdin|none] [--interval DURATION]'],
  description: [
    "The gather options, as a long-running process for Telegraf's inputs.execd: line protocol on stdout, logs on stderr with Telegraf's E!/W!/I! prefixes; exits 0 when stdin closes or on SIGTERM.",
  ],
  options: [
    ...GATHER_OPTIONS.filter((o) => o.long !== 'format' && o.long !== 'help'),
    formatOption(['influx'], ' (Telegraf reads data_format = "influx")'),
    { long: 'signal', arg: 'WHEN', choices: ['stdin', 'none'], help: 'stdin (default): gather on each line read; none: gather every --interval' },
    { long: 'interval', arg: 'DURATION', help: 'for --signal none (default 10s; e.g. 500ms, 10s, 1m)' },
    HELP,
  ],
  man: 1,
};

const AGENT_OPTIONS: OptionSpec[] = [
  { long: 'config', arg: 'FILE', complete: 'file', help: "a TOML file (sockscope's own sections, or DataKit's [[inputs.netstat]]); see sockscope.toml(5)" },
  { long: 'listen', arg: 'ADDR:PORT', multiple: true, help: 'where to serve /metrics (repeatable; default 127.0.0.1:11979)' },
  { long: 'interval', arg: 'DURATION', help: 'how often to gather (default 10s; e.g. 500ms, 10s, 1m)' },
  { long: 'web-config', arg: 'FILE', complete: 'file', help: 'a Prometheus exporter-toolkit web config (TLS, basic auth)' },
  { long: 'influxdb-url', arg: 'URL', multiple: true, help: 'push to InfluxDB (repeatable; enables the output)' },
  { long: 'stdout', help: 'write line protocol to stdout too' },
  { long: 'hostname', arg: 'NAME', help: 'the host tag' },
  { long: 'zabbix-listen', arg: 'ADDR:PORT', multiple: true, help: 'answer Zabbix passive checks here (repeatable; enables [zabbix_agent])' },
  { long: 'zabbix-allow', arg: 'LIST', multiple: true, help: 'addresses and CIDRs allowed to ask (comma-separated; default loopback)' },
  { long: 'all-netns', help: 'every network namespace (enables [netns]; see docs/namespaces.md)' },
];
const LOG_LEVEL: OptionSpec = { long: 'log-level', arg: 'LEVEL', choices: ['error', 'warn', 'info', 'debug'], help: 'error, warn, info (default), debug' };
const CONFIG_ENV = [
  "SOCKSCOPE_<SECTION>_<KEY> for every setting (e.g. SOCKSCOPE_AGENT_INTERVAL=30s, SOCKSCOPE_OUTPUTS_INFLUXDB_URLS=http://db:8086); a SOCKSCOPE_<SECTION>_ variable that names no setting is an error, as an unknown key in the file is. DataKit's ENV_INPUT_NETSTAT_TAGS, ENV_INPUT_NETSTAT_INTERVAL and ENV_INPUT_NETSTAT_ADDR_PORTS are read too.",
  'Precedence: flags > environment > file > defaults.',
];

const AGENT: CommandSpec = {
  name: 'agent',
  summary: 'the long-running collector: /metrics, InfluxDB, Zabbix',
  usage: ['[options]'],
  description: [
    'The long-running collector: gathers every interval and serves /metrics (Prometheus text or OpenMetrics), /healthz and /api/snapshot; optionally pushes to InfluxDB, answers Zabbix passive checks and writes line protocol to stdout. With no configuration: a Prometheus endpoint on 127.0.0.1:11979, netstat, netstat_port and listen.',
    'Logs are JSON lines (pino) on stderr. See docs/agent.md.',
  ],
  options: [...AGENT_OPTIONS, LOG_LEVEL, HELP],
  sections: [
    [
      'Environment',
      [
        ...CONFIG_ENV,
        'NODE_EXTRA_CA_CERTS: a PEM file of certificate authorities the https InfluxDB output trusts besides the built-in ones (node reads it as it starts; the sockscope command keeps it for the agent only).',
        'GLIBC_TUNABLES: the sockscope command sets glibc.malloc.mmap_threshold=131072 for the agent when it is unset, as the systemd unit, the container image and the DaemonSet do: big buffers get mappings of their own and go back to the kernel when freed (~20 MB less resident). A value already set is kept.',
      ],
    ],
    ['Signals', ['SIGHUP reloads the configuration; SIGTERM flushes the outputs and exits 0.']],
    ['Files', ['/etc/sockscope/sockscope.toml: the configuration the packaged systemd unit (sockscope.service) reads.']],
  ],
  man: 8,
};

export const DOCTOR_FORMATS = ['text', 'json'] as const;
export const DOCTOR_RULES = ['prometheus', 'prometheus-test'] as const;

const DOCTOR: CommandSpec = {
  name: 'doctor',
  summary: "what is wrong with the host's sockets, and what to do",
  usage: ['[options]'],
  description: [
    "Samples the host's TCP and UDP sockets and kernel counters twice, a window apart, runs the checks and prints findings by severity with their evidence, the culprit (process, listener, destination, peer), why it matters and what to do. See docs/doctor.md.",
  ],
  options: [
    { long: 'window', arg: 'DURATION', help: 'how long to sample (default 2s, or doctor.window from --config), like 500ms, 5s, 1m' },
    { ...formatOption(DOCTOR_FORMATS), help: 'text (default) or one JSON document {findings: [...], ...}' },
    { long: 'check', arg: 'ID', multiple: true, choices: CHECK_IDS, help: `run only this check (repeatable): ${CHECK_IDS.join(', ')}` },
    { long: 'config', arg: 'FILE', complete: 'file', help: 'read thresholds from the [doctor.*] sections of this TOML file' },
    { long: 'no-processes', help: 'do not walk /proc to name the processes holding sockets' },
    {
      long: 'rules',
      arg: 'KIND',
      choices: DOCTOR_RULES,
      help: "prometheus: print Prometheus alert rules for the doctor's metrics (thresholds from --config); prometheus-test: their promtool unit tests; then exit",
    },
    { ...NET, help: 'diagnose another network namespace: a name under /run/netns, a PID, or a namespace file' },
    HELP,
    // every namespace (the findings' subjects name theirs: netns, its ip-netns name, pod, container); no metric labels here
    ...NETNS_GROUP.filter((o) => o.long !== 'netns-labels'),
  ],
  sections: [['Exit status', ['0 when nothing is at warning or above; 1 otherwise; 2 a usage or configuration error.']]],
  man: 1,
};

const CONFIG: CommandSpec = {
  name: 'config',
  summary: "the agent's configuration: a commented sample, the effective values",
  usage: ['sample [--format toml]', 'show [options]'],
  description: [
    "'config sample' prints a fully commented configuration with every default; 'config show' the effective configuration and where each value came from.",
  ],
  options: [HELP],
  man: 8,
};

const CONFIG_SAMPLE: CommandSpec = {
  name: 'config sample',
  summary: 'a fully commented configuration with every default',
  usage: ['[--format toml]'],
  description: [
    'A fully commented agent configuration (TOML) with every default value: a starting point for /etc/sockscope/sockscope.toml. See sockscope.toml(5).',
  ],
  options: [formatOption(['toml']), HELP],
  man: 8,
};

const CONFIG_SHOW: CommandSpec = {
  name: 'config show',
  summary: 'the effective configuration and where each value came from',
  usage: ['[options]'],
  description: [
    'The configuration the agent would run with, given the same options and environment: each value with where it came from (default, file, env, flag).',
  ],
  options: [...AGENT_OPTIONS, formatOption(CONFIG_SHOW_FORMATS), HELP],
  sections: [['Environment', CONFIG_ENV]],
  man: 8,
};

const ZABBIX: CommandSpec = {
  name: 'zabbix',
  summary: 'push to a Zabbix trapper, or print a Zabbix 6.0 template',
  usage: ['send --server HOST[:PORT] [options]', 'template [--passive]'],
  description: ["'zabbix send' pushes one gather to a Zabbix server's trapper; 'zabbix template' prints the template for those items. See docs/zabbix.md."],
  options: [HELP],
  man: 1,
};

const ZABBIX_SEND: CommandSpec = {
  name: 'zabbix send',
  summary: "one gather pushed to a Zabbix server's trapper",
  usage: ['--server HOST[:PORT] [options]'],
  description: [
    "One gather (netstat, netstat_port, listen, socket counts) pushed to a Zabbix server's or proxy's trapper port as trapper items; prints the server's answer (processed, failed, total) as one JSON line. Exit 1 when the server did not accept every item.",
  ],
  options: [
    { long: 'server', arg: 'HOST[:PORT]', help: 'the Zabbix server or proxy (port default 10051)' },
    { long: 'host', arg: 'NAME', help: "the host name in Zabbix (default: this host's name)" },
    { long: 'port-group', arg: 'SPEC', multiple: true, help: 'a netstat_port group, as for gather (repeatable; default: one per TCP listening port)' },
    { long: 'compress', help: "compress the frame (zabbix_sender's -z)" },
    { long: 'timeout', arg: 'DURATION', help: 'how long to wait for the server: connect, send and answer (default 5s)' },
    {
      long: 'state',
      arg: 'FILE',
      complete: 'file',
      help: 'remember the discovered ports between runs, so the items of a port that stopped listening read 0 while Zabbix keeps them (as the agent does)',
    },
    formatOption(['json']),
    HELP,
  ],
  man: 1,
};

const ZABBIX_TEMPLATE: CommandSpec = {
  name: 'zabbix template',
  summary: 'a Zabbix 6.0 YAML template for those items',
  usage: ['[--passive]'],
  description: [
    "A Zabbix 6.0 YAML template for the items 'zabbix send' pushes (trapper), or for polling the agent's passive listener (--passive). Import it in Zabbix: Data collection > Templates > Import.",
  ],
  options: [{ long: 'passive', help: 'items Zabbix polls (passive checks of sockscope agent --zabbix-listen)' }, formatOption(['yaml']), HELP],
  man: 1,
};

const COMPLETION: CommandSpec = {
  name: 'completion',
  summary: 'a shell completion script: bash, zsh or fish',
  usage: ['bash|zsh|fish'],
  description: [
    "Prints a completion script for the shell. bash: 'source <(sockscope completion bash)', or save it as /usr/share/bash-completion/completions/sockscope; zsh: save it as _sockscope in a directory of $fpath; fish: save it as ~/.config/fish/completions/sockscope.fish.",
  ],
  options: [HELP],
  positionals: true,
  man: 1,
};

const HELP_COMMAND: CommandSpec = {
  name: 'help',
  summary: 'the help of a command',
  usage: ['[COMMAND]'],
  description: ["The help of COMMAND (as 'sockscope COMMAND --help'), or of sockscope."],
  options: [HELP],
  positionals: true,
  man: 1,
};

export const COMMANDS: readonly CommandSpec[] = [
  SUMMARY,
  LS,
  GATHER,
  EXECD,
  AGENT,
  DOCTOR,
  CONFIG,
  CONFIG_SAMPLE,
  CONFIG_SHOW,
  ZABBIX,
  ZABBIX_SEND,
  ZABBIX_TEMPLATE,
  COMPLETION,
  HELP_COMMAND,
];

/** The spec of 'ls', 'config show', ... ('' is the summary). */
export function commandSpec(name: string): CommandSpec {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) throw new Error(`no command spec '${name}'`);
  return c;
}

/** The commands typed right after `sockscope` (ls, gather, ..., config, zabbix). */
export const TOP_COMMANDS = COMMANDS.filter((c) => c.name && !c.name.includes(' ')).map((c) => c.name);
/** The subcommands of a command with subcommands ('config' → sample, show). */
export const subcommands = (name: string): string[] => COMMANDS.filter((c) => c.name.startsWith(`${name} `)).map((c) => c.name.slice(name.length + 1));
