/**
 * `sockscope completion bash|zsh|fish`: completion scripts made from the command specs (spec.ts): the
 * commands, their subcommands, every option and the values of options that take a fixed set.
 */
import { UsageError } from '../errors.js';
import { parseCommand } from './options.js';
import { COMMANDS, commandSpec, subcommands, TOP_COMMANDS, type CommandSpec, type OptionSpec } from './spec.js';
import { printHelp } from './help.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export async function runCompletion(args: string[]): Promise<void> {
  const o = parseCommand(commandSpec('completion'), args);
  if (o.flag('help')) return printHelp('completion');
  if (o.positionals.length === 0) throw new UsageError("completion needs a shell: bash, zsh or fish. See 'sockscope completion --help'.");
  const shell = o.positionals[0];
  if (o.positionals.length > 1 || !(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`completion: unknown shell '${o.positionals.join(' ')}': expected bash, zsh or fish. See 'sockscope completion --help'.`, {
      key: 'shell',
      value: shell,
    });
  }
  process.stdout.write(completionScript(shell as (typeof SHELLS)[number]));
}

export function completionScript(shell: (typeof SHELLS)[number]): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish();
}

const words = (o: OptionSpec) => [...(o.short ? [`-${o.short}`] : []), `--${o.long}`];
/** the commands with options of their own: '' (summary), 'ls', 'config show', ... (not 'config', 'zabbix') */
const leaves = () => COMMANDS.filter((c) => subcommands(c.name).length === 0 || c.name === '');
const sq = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

function bash(): string {
  const lines = [
    '# bash completion for sockscope (sockscope completion bash)',
    '_sockscope() {',
    '  local cur prev cmd i',
    '  cur=${COMP_WORDS[COMP_CWORD]}',
    '  prev=${COMP_WORDS[COMP_CWORD-1]}',
    '  cmd=',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    case ${COMP_WORDS[i]} in',
    '      -*) ;;',
    '      *) if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}; elif [ "$cmd" = config ] || [ "$cmd" = zabbix ]; then cmd="$cmd ${COMP_WORDS[i]}"; break; fi ;;',
    '    esac',
    '  done',
    '  case $prev in',
  ];
  const valueCases = new Map<string, string>();
  for (const c of leaves()) {
    for (const o of c.options) {
      if (!o.arg) continue;
      const action = o.choices
        ? `COMPREPLY=($(compgen -W ${sq(o.choices.join(' '))} -- "$cur")); return`
        : o.complete === 'file'
          ? 'COMPREPLY=($(compgen -f -- "$cur")); return'
          : o.complete === 'netns'
            ? 'COMPREPLY=($(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur")); return'
            : 'return';
      for (const w of words(o)) if (!valueCases.has(w) || o.choices) valueCases.set(w, action);
    }
  }
  // an option with choices in one command and free values in another (--format): complete every choice
  const formats = [...new Set(leaves().flatMap((c) => c.options.filter((o) => o.long === 'format').flatMap((o) => o.choices ?? [])))];
  valueCases.set('--format', `COMPREPLY=($(compgen -W ${sq(formats.join(' '))} -- "$cur")); return`);
  for (const [w, action] of valueCases) lines.push(`    ${w}) ${action} ;;`);
  lines.push('  esac', '  case $cmd in');
  lines.push(`    '') COMPREPLY=($(compgen -W ${sq([...TOP_COMMANDS, ...commandSpec('').options.flatMap(words)].join(' '))} -- "$cur")) ;;`);
  for (const parent of ['config', 'zabbix'])
    lines.push(`    ${parent}) COMPREPLY=($(compgen -W ${sq([...subcommands(parent), '--help'].join(' '))} -- "$cur")) ;;`);
  lines.push(`    help) COMPREPLY=($(compgen -W ${sq(TOP_COMMANDS.join(' '))} -- "$cur")) ;;`);
  lines.push('    completion) COMPREPLY=($(compgen -W \'bash zsh fish\' -- "$cur")) ;;');
  for (const c of leaves()) {
    if (!c.name || c.name === 'help' || c.name === 'completion') continue;
    lines.push(`    ${sq(c.name)}) COMPREPLY=($(compgen -W ${sq(c.options.flatMap(words).join(' '))} -- "$cur")) ;;`);
  }
  lines.push('  esac', '}', 'complete -F _sockscope sockscope', '');
  return lines.join('\n');
}

function zshOption(o: OptionSpec): string[] {
  const desc = o.help
    .replace(/[[\]:'\\]/g, ' ')
    .replace(/\s+/g, ' ')
    .slice(0, 70)
    .trim();
  const value = o.arg ? `:${o.arg.replace(/[[\]:]/g, '')}:${o.choices ? `(${o.choices.join(' ')})` : o.complete === 'file' ? '_files' : ' '}` : '';
  const rep = o.multiple ? '*' : '';
  if (o.short) return [`'(-${o.short} --${o.long})'${rep}{-${o.short},--${o.long}}'[${desc}]${value}'`];
  return [`${rep}'--${o.long}[${desc}]${value}'`];
}

function zsh(): string {
  const fn = (c: CommandSpec) => `_sockscope_${c.name.replace(/ /g, '_') || 'summary'}`;
  const out = ['#compdef sockscope', '# zsh completion for sockscope (sockscope completion zsh)', ''];
  for (const c of leaves()) {
    out.push(`${fn(c)}() {`, '  _arguments -s \\');
    for (const l of c.options.flatMap(zshOption)) out.push(`    ${l} \\`);
    out.push(c.positionals ? "    '*:argument:'" : "    ''", '}', '');
  }
  out.push('_sockscope() {', '  local -a cmds', '  cmds=(');
  for (const c of COMMANDS.filter((x) => x.name && !x.name.includes(' '))) out.push(`    ${sq(`${c.name}:${c.summary.replace(/:/g, ' ')}`)}`);
  out.push('  )', '  if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then _describe command cmds; return; fi');
  out.push('  case $words[2] in');
  for (const parent of ['config', 'zabbix']) {
    out.push(`    ${parent})`, `      if (( CURRENT == 3 )); then compadd ${subcommands(parent).join(' ')}; return; fi`, '      case $words[3] in');
    for (const sub of subcommands(parent)) out.push(`        ${sub}) shift 2 words; (( CURRENT -= 2 )); ${fn(commandSpec(`${parent} ${sub}`))} ;;`);
    out.push('      esac ;;');
  }
  out.push('    help) compadd ${cmds%%:*} ;;', '    completion) compadd bash zsh fish ;;');
  for (const c of leaves()) {
    if (!c.name || c.name.includes(' ') || c.name === 'help' || c.name === 'completion') continue;
    out.push(`    ${c.name}) shift words; (( CURRENT-- )); ${fn(c)} ;;`);
  }
  out.push(`    *) ${fn(commandSpec(''))} ;;`, '  esac', '}', '', 'compdef _sockscope sockscope', '');
  return out.join('\n');
}

function fish(): string {
  const out = ['# fish completion for sockscope (sockscope completion fish)', 'complete -c sockscope -f'];
  const top = TOP_COMMANDS.join(' ');
  for (const c of COMMANDS.filter((x) => x.name && !x.name.includes(' '))) {
    out.push(`complete -c sockscope -n 'not __fish_seen_subcommand_from ${top}' -a ${c.name} -d ${sq(c.summary)}`);
  }
  for (const parent of ['config', 'zabbix']) {
    for (const sub of subcommands(parent)) {
      out.push(
        `complete -c sockscope -n '__fish_seen_subcommand_from ${parent}; and not __fish_seen_subcommand_from ${subcommands(parent).join(' ')}' -a ${sub} -d ${sq(commandSpec(`${parent} ${sub}`).summary)}`,
      );
    }
  }
  out.push("complete -c sockscope -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'");
  out.push(`complete -c sockscope -n '__fish_seen_subcommand_from help' -a ${sq(top)}`);
  for (const c of leaves()) {
    if (c.name === 'help' || c.name === 'completion') continue;
    const [parent, sub] = c.name.split(' ');
    const cond = !c.name
      ? `not __fish_seen_subcommand_from ${top}`
      : sub
        ? `__fish_seen_subcommand_from ${parent}; and __fish_seen_subcommand_from ${sub}`
        : `__fish_seen_subcommand_from ${parent}`;
    for (const o of c.options) {
      const parts = [`complete -c sockscope -n ${sq(cond)}`, `-l ${o.long}`];
      if (o.short) parts.push(`-s ${o.short}`);
      if (o.arg) parts.push('-r');
      if (o.choices) parts.push(`-a ${sq(o.choices.join(' '))}`);
      if (o.complete === 'file') parts.push('-F');
      parts.push(`-d ${sq(o.help.split(/[.;(]/)[0].slice(0, 60).trim())}`);
      out.push(parts.join(' '));
    }
  }
  return `${out.join('\n')}\n`;
}
