/**
 * Option parsing and help text, both made from a command's spec (spec.ts): util.parseArgs with its errors as
 * one-line usage errors that point to the command's own help, and help wrapped to 80 columns.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import type { NetnsValues } from '../netns/options.js';
import { COMMANDS, type CommandSpec, type OptionSpec } from './spec.js';

export const HELP_WIDTH = 80;

/** The values of one command line, by long option name. */
export class ParsedOptions {
  constructor(
    private readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>,
    readonly positionals: string[],
    /** the options as given, in order (ls: the last family option, as ss's preferred family) */
    readonly given: readonly { name: string; value?: string }[] = [],
  ) {}
  /** a string option's value */
  str(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  /** a switch */
  flag(name: string): boolean {
    return this.values[name] === true;
  }
  /** a repeatable option's values */
  list(name: string): string[] | undefined {
    const v = this.values[name];
    return Array.isArray(v) ? (v as string[]) : undefined;
  }
}

/** `sockscope ls --help`, `sockscope config show --help`, `sockscope --help` */
export const helpCommand = (spec: CommandSpec): string => `sockscope${spec.name ? ` ${spec.name}` : ''} --help`;

/** util.parseArgs over the spec's options; its errors become one-line usage errors (exit 2). */
export function parseCommand(spec: CommandSpec, args: readonly string[]): ParsedOptions {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const o of spec.options)
    options[o.long] = { type: o.arg ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  // A value that starts with '-' ("--top -1", "--interval -1s"): parseArgs takes it for an option and fails with
  // "ambiguous"; joined to its option it reaches the command's own check, which says what is expected.
  const argv: string[] = [];
  for (let n = 0; n < args.length; n++) {
    const a = args[n];
    const o = a.startsWith('--') ? spec.options.find((x) => `--${x.long}` === a) : undefined;
    if (o?.arg && n + 1 < args.length && /^-\d/.test(args[n + 1])) argv.push(`${a}=${args[++n]}`);
    else argv.push(a);
  }
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: !!spec.positionals, strict: true, tokens: true });
    const given = r.tokens.flatMap((t) => (t.kind === 'option' ? [{ name: t.name, value: t.value }] : []));
    return new ParsedOptions(r.values as Record<string, string | boolean | (string | boolean)[] | undefined>, r.positionals, given);
  } catch (e) {
    // Node's messages can span lines (the "ambiguous" hint): keep the first sentence, one line
    const msg = (e as Error).message
      .replace(/\. To specify a positional argument.*$/s, '')
      .split('\n')[0]
      .replace(/\.$/, '');
    throw new UsageError(`${msg}. See '${helpCommand(spec)}'.`);
  }
}

/** Words of `text` in lines of at most `width` columns, every line but the first indented by `indent`. */
export function wrap(text: string, width: number, indent: number, firstIndent = indent): string[] {
  const lines: string[] = [];
  let line = '';
  let room = width - firstIndent;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = width - indent;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines.map((l, n) => `${' '.repeat(n === 0 ? 0 : indent)}${l}`);
}

/** `-t, --tcp`, `    --format FORMAT` */
export function optionLabel(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : '    '}--${o.long}${o.arg ? ` ${o.arg}` : ''}`;
}

const LABEL_COLUMN = 28; // help text starts here; longer labels put it on the next line

function optionLines(options: readonly OptionSpec[]): string[] {
  const out: string[] = [];
  for (const o of options) {
    const label = `  ${optionLabel(o)}`;
    const body = wrap(o.help, HELP_WIDTH, LABEL_COLUMN);
    if (label.length + 2 <= LABEL_COLUMN) out.push(`${label.padEnd(LABEL_COLUMN)}${body[0]}`, ...body.slice(1));
    else out.push(label, `${' '.repeat(LABEL_COLUMN)}${body[0]}`, ...body.slice(1));
  }
  return out;
}

/** The --help text of a command, from its spec. */
export function renderHelp(spec: CommandSpec, version: string): string {
  const out: string[] = [];
  const cmd = `sockscope${spec.name ? ` ${spec.name}` : ''}`;
  if (!spec.name) out.push(`sockscope ${version}: socket statistics read straight from the Linux kernel`, '');
  spec.usage.forEach((u, n) => out.push(`${n === 0 ? 'Usage: ' : '       '}${cmd} ${u}`));
  for (const p of spec.description) out.push('', ...wrap(p, HELP_WIDTH, 0));
  if (!spec.name || spec.name === 'config' || spec.name === 'zabbix') {
    const children = COMMANDS.filter((c) => c.name && (spec.name ? c.name.startsWith(`${spec.name} `) : !c.name.includes(' ')));
    const width = Math.max(...children.map((c) => c.name.length - (spec.name ? spec.name.length + 1 : 0))) + 4;
    out.push('', 'Commands:');
    for (const c of children) {
      const name = spec.name ? c.name.slice(spec.name.length + 1) : c.name;
      const body = wrap(c.summary, HELP_WIDTH, 2 + width);
      out.push(`  ${name.padEnd(width)}${body[0]}`, ...body.slice(1));
    }
  }
  const groups = [...new Set(spec.options.map((o) => o.group ?? 'Options'))];
  for (const g of groups) out.push('', `${g}:`, ...optionLines(spec.options.filter((o) => (o.group ?? 'Options') === g)));
  for (const [heading, paragraphs] of spec.sections ?? []) {
    out.push('', `${heading}:`);
    for (const p of paragraphs) out.push(...wrap(p, HELP_WIDTH, 4, 2).map((l, n) => (n === 0 ? `  ${l}` : l)));
  }
  if (!spec.name || spec.name === 'config' || spec.name === 'zabbix')
    out.push('', `'${cmd} COMMAND --help' for a command's options; man ${spec.man === 8 ? 'sockscope-agent' : 'sockscope'}.`);
  return `${out.join('\n')}\n`;
}

/** The Namespaces group's values (spec.ts NETNS_GROUP), as src/netns/options.ts planNetnsCli reads them. */
export function netnsValues(o: ParsedOptions): NetnsValues {
  return {
    'all-netns': o.flag('all-netns'),
    netns: o.list('netns'),
    pod: o.list('pod'),
    'pod-namespace': o.list('pod-namespace'),
    container: o.list('container'),
    'max-netns': o.str('max-netns'),
    'netns-labels': o.str('netns-labels'),
    'kubelet-log-root': o.str('kubelet-log-root'),
  };
}
