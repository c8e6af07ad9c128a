/**
 * What every command's spec is made of (spec.ts lists the commands): the shapes of an option and a command, the
 * options several commands share (-h, -N, --all-netns and its selectors, --format) and the format names.
 */
import { DEFAULT_MAX_NAMESPACES, NETNS_LABELS } from '../netns/options.js';

export interface OptionSpec {
  long: string;
  short?: string;
  /** the value's placeholder in help (FILE, N, ...); none: a switch */
  arg?: string;
  multiple?: boolean;
  /** the values it takes, for completion and the parser's check */
  choices?: readonly string[];
  /** completion of the value: a file name, a network namespace */
  complete?: 'file' | 'netns';
  help: string;
  /** a heading the option is listed under (ls: Sockets, Details, Output) */
  group?: string;
}

export interface CommandSpec {
  /** as typed after `sockscope`: '' (the summary), 'ls', 'config show', ... */
  name: string;
  /** one line for the command list */
  summary: string;
  /** the usage lines after `sockscope NAME` */
  usage: string[];
  /** paragraphs after the usage */
  description: string[];
  options: OptionSpec[];
  /** takes positional words (ls: the filter) */
  positionals?: boolean;
  /** more sections: [heading, paragraphs] */
  sections?: [string, string[]][];
  /** the man page this command belongs to: 1 (sockscope.1) or 8 (sockscope-agent.8) */
  man?: 1 | 8;
}

export const HELP: OptionSpec = { long: 'help', short: 'h', help: 'this help' };
export const NET: OptionSpec = {
  long: 'net',
  short: 'N',
  arg: 'NAME|PID|PATH',
  complete: 'netns',
  help: "read another network namespace: a name under /run/netns ('ip netns'), a PID, or a namespace file (needs CAP_SYS_ADMIN)",
};
/** --all-netns and the namespace selectors (src/netns/options.ts planNetnsCli reads them; docs/namespaces.md) */
export const ALL_NETNS: OptionSpec = {
  long: 'all-netns',
  group: 'Namespaces',
  help: "every network namespace on the host: containers, pods, ip netns; needs CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (other users' /proc). See docs/namespaces.md",
};
export const NETNS_GROUP: OptionSpec[] = [
  ALL_NETNS,
  { long: 'netns', arg: 'NAME|INODE', multiple: true, complete: 'netns', group: 'Namespaces', help: 'only these namespaces (repeatable; implies --all-netns)' },
  { long: 'pod', arg: 'NAME', multiple: true, group: 'Namespaces', help: "only these pods' namespaces (repeatable; implies --all-netns)" },
  { long: 'pod-namespace', arg: 'NS', multiple: true, group: 'Namespaces', help: 'only pods of these Kubernetes namespaces (repeatable)' },
  {
    long: 'container',
    arg: 'NAME|ID',
    multiple: true,
    group: 'Namespaces',
    help: "only these containers' namespaces (name, or an id prefix of 12+ hex digits; repeatable)",
  },
  { long: 'max-netns', arg: 'N', group: 'Namespaces', help: `read at most N namespaces besides sockscope's own (default ${DEFAULT_MAX_NAMESPACES})` },
  {
    long: 'netns-labels',
    arg: 'LIST',
    choices: NETNS_LABELS,
    group: 'Namespaces',
    help: `labels on their metrics: ${NETNS_LABELS.join(',')} (comma-separated; default all four)`,
  },
  {
    long: 'kubelet-log-root',
    arg: 'DIR',
    complete: 'file',
    group: 'Namespaces',
    help: "where kubelet's pods/ and containers/ log directories are (default /var/log)",
  },
];
export const formatOption = (formats: readonly string[], extra = ''): OptionSpec => ({
  long: 'format',
  arg: 'FORMAT',
  choices: formats,
  help: `${formats.join(', ')} (default ${formats[0]})${extra}`,
});

export const SUMMARY_FORMATS = ['text', 'json'] as const;
export const LS_FORMATS = ['table', 'json', 'ndjson', 'ss2'] as const;
export const GATHER_FORMATS = ['influx', 'prometheus', 'openmetrics', 'json'] as const;
export const CONFIG_SHOW_FORMATS = ['toml', 'json'] as const;
