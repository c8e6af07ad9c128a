/**
 * The sockscope command. Thin: parse options, call the library, print. Errors print one line on stderr
 * (exit 2 for usage and configuration, 1 for the system); stack traces only with SOCKSCOPE_DEBUG=1.
 */
import { isSockscopeError, SockscopeError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { resolveNetns } from './netns.js';
import { parseOptions } from './options.js';
import { NETNS_HELP, NETNS_OPTIONS, planNetnsCli } from '../netns/options.js';

export { VERSION } from '../version.js';

const HELP = `sockscope ${VERSION}: socket statistics read straight from the Linux kernel (NETLINK_SOCK_DIAG)

Usage:
  sockscope [options]            a summary: sockets per protocol and family, TCP states, listeners with
                                 accept-queue use, top local ports and remote peers, where data came from
  sockscope --json               the same summary as one JSON document
  sockscope ls [options] [FILTER]
                                 list sockets like ss (see 'sockscope ls --help')
  sockscope gather [options]     one gather of netstat / netstat_port / socketstat metrics to stdout
                                 (influx, prometheus, openmetrics, json; see 'sockscope gather --help')
  sockscope execd [options]      the same for Telegraf's inputs.execd
  sockscope agent [options]      the long-running collector: /metrics, InfluxDB push (see 'sockscope agent --help')
  sockscope doctor [options]     find what is wrong with the host's sockets, name the culprit, say what to do
                                 (see 'sockscope doctor --help')
  sockscope config sample|show   a commented sample configuration / the effective configuration
  sockscope zabbix send|template push to a Zabbix trapper / print a Zabbix 6.0 template

Options:
  --json                 print JSON instead of text
  --top N                how many ports and peers to list (default 10)
  --source auto|proc     auto (default): netlink, /proc/net for what netlink cannot dump; proc: /proc/net only
  -N, --net NAME|PID     read the sockets of another network namespace (ip netns NAME, a PID, or a path)
  -h, --help             this help
  -V, --version          print the version

${NETNS_HELP.replace('Namespaces (docs/namespaces.md):', 'Namespaces (a table of every network namespace after the summary; docs/namespaces.md):')}
Environment:
  SOCKSCOPE_DEBUG=1      print stack traces for internal errors

Docs: README.md and docs/ in the sockscope repository.
`;

async function runSummary(args: string[]): Promise<void> {
  const { values } = parseOptions(args, {
    json: { type: 'boolean' },
    top: { type: 'string' },
    source: { type: 'string' },
    net: { type: 'string', short: 'N' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'V' }, ...NETNS_OPTIONS,
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`sockscope ${VERSION}\n`);
  const top = values.top === undefined ? 10 : Number(values.top);
  if (!Number.isInteger(top) || top < 0) throw new UsageError(`--top must be a non-negative integer, got '${values.top}'`, { key: 'top', value: values.top });
  const source = values.source ?? 'auto';
  if (source !== 'auto' && source !== 'proc') throw new UsageError(`--source must be 'auto' or 'proc', got '${source}'`, { key: 'source', value: source });
  const netns = values.net === undefined ? undefined : resolveNetns(values.net);
  const allNetns = planNetnsCli(values, values.net);
  const namespaces = allNetns && import('../netns/cli.js').then((m) => m.summarizeNamespaces(allNetns));

  const [{ takeSnapshot }, { summarize }] = await Promise.all([import('../snapshot/snapshot.js'), import('../summary/summary.js')]);
  const snapshot = await takeSnapshot({ ext: 0, unixShow: 0, source, netns });
  const summary = summarize(snapshot, { top });
  const all = await namespaces;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(all ? { ...summary, namespaces: all.namespaces, namespace_notes: all.notes } : summary, null, 2)}\n`);
  } else {
    const { renderSummary } = await import('../summary/render.js');
    process.stdout.write(renderSummary(summary, VERSION));
    if (all) {
      const [{ renderNamespaces }, { formatColumns }] = await Promise.all([import('../netns/cli.js'), import('../outputs/text-table.js')]);
      process.stdout.write(`\n${renderNamespaces(all.namespaces, all.notes, formatColumns)}`);
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  // A reader that goes away (`| head`) ends the run quietly, as it does for ss.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.exitCode = report(e);
  });
  try {
    const [command, ...rest] = argv;
    if (command === 'ls') {
      const { runLs } = await import('./ls.js');
      await runLs(rest);
    } else if (command === 'gather') {
      const { runGather } = await import('./gather.js');
      await runGather(rest);
    } else if (command === 'execd') {
      const { runExecd } = await import('./gather.js');
      await runExecd(rest);
    } else if (command === 'agent') {
      const { runAgent } = await import('./agent.js');
      await runAgent(rest);
    } else if (command === 'doctor') {
      const { runDoctor } = await import('./doctor.js');
      await runDoctor(rest);
    } else if (command === 'zabbix') {
      const { runZabbix } = await import('./zabbix.js');
      await runZabbix(rest);
    } else if (command === 'config') {
      const { runConfig } = await import('./agent.js');
      await runConfig(rest);
    } else {
      await runSummary(argv);
    }
  } catch (e) {
    process.exitCode = report(e);
  }
}

/** One line on stderr; the exit status for it. */
export function report(e: unknown): number {
  if (isSockscopeError(e)) {
    const errno = e.facts.errno === 1 || e.facts.errno === 13 ? ' (not permitted: run as root or with CAP_SYS_ADMIN for -N)' : '';
    process.stderr.write(`sockscope: ${e.message}${errno}\n`);
    if (process.env.SOCKSCOPE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`sockscope: internal error: ${err?.message ?? String(e)} (set SOCKSCOPE_DEBUG=1 for details)\n`);
  if (process.env.SOCKSCOPE_DEBUG) process.stderr.write(`${err?.stack}\n`);
  return 1;
}

export { SockscopeError };
