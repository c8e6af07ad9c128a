/**
 * The sockscope command. Thin: parse options, call the library, print. Errors print one line on stderr
 * (exit 2 for usage and configuration, 1 for the system); stack traces only with SOCKSCOPE_DEBUG=1.
 */
import { isSockscopeError, SockscopeError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { resolveNetns } from './netns.js';
import { printHelp } from './help.js';
import { netnsValues, parseCommand } from './options.js';
import { planNetnsCli } from '../netns/options.js';
import { COMMANDS, commandSpec, SUMMARY_FORMATS, TOP_COMMANDS } from './spec.js';

export { VERSION } from '../version.js';

export { printHelp } from './help.js';

async function runSummary(args: string[]): Promise<void> {
  const o = parseCommand(commandSpec(''), args);
  if (o.flag('help')) return printHelp('');
  if (o.flag('version')) return void process.stdout.write(`sockscope ${VERSION}\n`);
  const top = o.str('top') === undefined ? 10 : /^-?\d+$/.test(o.str('top')!) ? Number(o.str('top')) : NaN;
  if (!Number.isInteger(top) || top < 0)
    throw new UsageError(`--top must be a non-negative integer, got '${o.str('top')}'`, { key: 'top', value: o.str('top') });
  const source = o.str('source') ?? 'auto';
  if (source !== 'auto' && source !== 'proc') throw new UsageError(`--source must be 'auto' or 'proc', got '${source}'`, { key: 'source', value: source });
  const format = o.str('format') ?? (o.flag('json') ? 'json' : 'text');
  if (!(SUMMARY_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be one of ${SUMMARY_FORMATS.join(', ')}, got '${format}'`, { key: 'format', value: format });
  if (o.flag('json') && format !== 'json') throw new UsageError(`--json is --format json: drop one of --json and --format ${format}`);
  const netns = o.str('net') === undefined ? undefined : resolveNetns(o.str('net')!);
  const allNetns = planNetnsCli(netnsValues(o), o.str('net'));
  const namespaces = allNetns && import('../netns/cli.js').then((m) => m.summarizeNamespaces(allNetns));

  const [{ takeSnapshot }, { summarize }] = await Promise.all([import('../snapshot/snapshot.js'), import('../summary/summary.js')]);
  const snapshot = await takeSnapshot({ ext: 0, unixShow: 0, source, netns });
  const summary = summarize(snapshot, { top });
  const all = await namespaces;
  if (format === 'json') {
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

/** `sockscope help [COMMAND [SUBCOMMAND]]` */
function runHelp(args: string[]): void {
  if (args[0] === '--help' || args[0] === '-h') {
    printHelp('help');
    return;
  }
  const name = args.join(' ');
  if (!COMMANDS.some((c) => c.name === name)) {
    throw new UsageError(
      `no help for '${name}': expected one of ${COMMANDS.filter((c) => c.name)
        .map((c) => c.name)
        .join(', ')}. See 'sockscope --help'.`,
      { key: 'command', value: name },
    );
  }
  printHelp(name);
}

export async function main(argv: string[]): Promise<void> {
  // A reader that goes away (`| head`) ends the run quietly, as it does for ss.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.exitCode = report(e);
  });
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command.startsWith('-')) {
      await runSummary(argv);
    } else if (command === 'help') {
      runHelp(rest);
    } else if (command === 'ls') {
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
    } else if (command === 'completion') {
      const { runCompletion } = await import('./completion.js');
      await runCompletion(rest);
    } else {
      throw new UsageError(`unknown command '${command}': expected one of ${TOP_COMMANDS.join(', ')}, or options for the summary. See 'sockscope --help'.`, {
        key: 'command',
        value: command,
      });
    }
  } catch (e) {
    process.exitCode = report(e);
  }
}

/** One line on stderr; the exit status for it. */
export function report(e: unknown): number {
  if (isSockscopeError(e)) {
    const errno = e.facts.errno === 1 || e.facts.errno === 13 ? ' (not permitted: run as root or with CAP_SYS_ADMIN for -N)' : '';
    // several problems (a configuration's): one line each, each prefixed; otherwise the message as it is (a
    // filter error's second and third lines show the expression and a caret under the bad word)
    const text = Array.isArray(e.facts.errors) ? e.message.split('\n').join('\nsockscope: ') : e.message;
    process.stderr.write(`sockscope: ${text}${errno}\n`);
    if (process.env.SOCKSCOPE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`sockscope: internal error: ${err?.message ?? String(e)} (set SOCKSCOPE_DEBUG=1 for details)\n`);
  if (process.env.SOCKSCOPE_DEBUG) process.stderr.write(`${err?.stack}\n`);
  return 1;
}

export { SockscopeError };
