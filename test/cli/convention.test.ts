/**
 * One CLI convention (spec.ts): help made from the option specs, at most 80 columns, for every command;
 * `sockscope help CMD` = `CMD --help`; an unknown command or a missing subcommand is a usage error (exit 2)
 * that points to the right help; the completions are valid shell and carry every option.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionScript } from '../../src/cli/completion.js';
import { VERSION } from '../../src/cli/main.js';
import { runBatch, type BatchResult } from '../helpers/cli-batch.js';
import { manPages } from '../../src/cli/manpage.js';
import { planGather } from '../../src/cli/gather.js';
import { durationMs, LEAVES, loadConfig } from '../../src/config/load.js';
import { HELP_WIDTH, optionLabel, parseCommand, renderHelp } from '../../src/cli/options.js';
import { COMMANDS, commandSpec } from '../../src/cli/spec.js';
import { SockscopeError } from '../../src/errors.js';

const bin = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const words = (name: string) => (name ? name.split(' ') : []);

/** the runs of this file's checks, all in one child process (test/helpers/cli-batch.ts) */
const batch = new Map<string, BatchResult>();
const queued: string[][] = [];
const inBatch = (args: string[]): BatchResult => {
  const r = batch.get(JSON.stringify(args));
  if (!r) throw new Error(`not in the batch: ${args.join(' ')}`);
  return r;
};

/** usage errors and what stderr must say */
const cases: [string[], RegExp][] = [
  [['nosuchcmd'], /^sockscope: unknown command 'nosuchcmd': expected one of ls, gather,.*See 'sockscope --help'\.$/],
  [['help', 'nosuchcmd'], /^sockscope: no help for 'nosuchcmd'/],
  [['zabbix'], /^sockscope: zabbix needs a command: 'send' or 'template'\. See 'sockscope zabbix --help'\.$/],
  [['config'], /^sockscope: config needs a command: 'sample' or 'show'/],
  [['config', 'nope'], /unknown config command 'nope'.*See 'sockscope config --help'/],
  [['ls', '--bogus'], /^sockscope: Unknown option '--bogus'\. See 'sockscope ls --help'\.$/],
  [['config', 'show', '--bogus'], /See 'sockscope config show --help'/],
  [['zabbix', 'send', '--bogus'], /See 'sockscope zabbix send --help'/],
  [['--top', '-1'], /^sockscope: --top must be a non-negative integer, got '-1'$/],
  [['--json', '--format', 'text'], /--json is --format json/],
  [['completion', 'tcsh'], /unknown shell 'tcsh'/],
  [['doctor', '--bogus'], /^sockscope: Unknown option '--bogus'\. See 'sockscope doctor --help'\.$/],
  // the Namespaces group (spec.ts) reaches src/netns/options.ts planNetnsCli
  [['ls', '--max-netns', '5'], /^sockscope: --max-netns goes with --all-netns/],
  [['gather', '--all-netns', '-N', 'nosuchns'], /^sockscope: -N reads one namespace, --all-netns every one: give one of them$/],
  [['execd', '--netns-labels', 'pod,nope', '--all-netns'], /^sockscope: --netns-labels: unknown label 'nope'/],
];

for (const spec of COMMANDS) queued.push([...words(spec.name), '--help'], ...(spec.name ? [['help', ...words(spec.name)]] : []));
queued.push(
  ...cases.map(([args]) => args),
  ['config', 'sample', '--format', 'toml'],
  ['zabbix', 'template', '--format', 'json'],
  ['config', 'show', '--format', 'json'],
);
before(() => {
  runBatch(queued).forEach((r, n) => batch.set(JSON.stringify(queued[n]), r));
});

describe('help from the option specs', () => {
  for (const spec of COMMANDS) {
    it(`'${spec.name || '(summary)'}': every line within ${HELP_WIDTH} columns, every option listed`, () => {
      const help = renderHelp(spec, '0.0.0');
      for (const line of help.split('\n')) assert.ok(line.length <= HELP_WIDTH, `${line.length} columns: ${line}`);
      for (const o of spec.options) assert.ok(help.includes(optionLabel(o)), `${optionLabel(o)} missing`);
    });
  }

  it('every command prints its help with --help and with `sockscope help CMD`, exit 0', () => {
    for (const spec of COMMANDS) {
      const viaFlag = inBatch([...words(spec.name), '--help']);
      assert.equal(viaFlag.status, 0, `${spec.name} --help: ${viaFlag.stderr}`);
      assert.equal(viaFlag.stdout, renderHelp(spec, VERSION));
      if (spec.name) assert.equal(inBatch(['help', ...words(spec.name)]).stdout, viaFlag.stdout, `help ${spec.name}`);
    }
    // and through a real process, once
    const r = run(['help', 'config', 'show']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderHelp(commandSpec('config show'), VERSION));
  });

  it('every command that prints takes --format', () => {
    for (const name of ['', 'ls', 'gather', 'execd', 'doctor', 'config sample', 'config show', 'zabbix send', 'zabbix template']) {
      assert.ok(
        commandSpec(name).options.some((o) => o.long === 'format' && o.choices?.length),
        name,
      );
    }
    assert.match(inBatch(['config', 'sample', '--format', 'toml']).stdout, /^\[agent\]/m);
    assert.equal(inBatch(['zabbix', 'template', '--format', 'json']).status, 2);
    const show = JSON.parse(inBatch(['config', 'show', '--format', 'json']).stdout);
    assert.equal(show.origins['agent.interval'], 'default');
  });
});

describe("usage errors: exit 2, one line, the command's own help", () => {
  for (const [args, message] of cases) {
    it(args.join(' '), () => {
      const r = inBatch(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trim(), message);
    });
  }

  it('through a real process: exit 2, one line', () => {
    const r = run(['nosuchcmd']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sockscope: unknown command 'nosuchcmd'.*\n$/);
  });

  it('a value that starts with "-" reaches the option, not "ambiguous"', () => {
    assert.equal(parseCommand(commandSpec(''), ['--top', '-1']).str('top'), '-1');
    assert.throws(
      () => parseCommand(commandSpec('ls'), ['--nope']),
      (e: unknown) => e instanceof SockscopeError && e.exitCode === 2,
    );
  });
});

describe('completion', () => {
  const shells: ['bash' | 'zsh' | 'fish', string[]][] = [
    ['bash', ['bash', '-n']],
    ['zsh', ['zsh', '-n']],
    ['fish', ['fish', '--no-execute']],
  ];
  for (const [shell, check] of shells) {
    const have = spawnSync('sh', ['-c', `command -v ${check[0]}`]).status === 0;
    it(`${shell}: every command and option${have ? ', and the shell parses it' : ''}`, () => {
      const script = completionScript(shell);
      for (const spec of COMMANDS) {
        for (const w of words(spec.name)) assert.ok(script.includes(w), `${shell}: ${w}`);
        for (const o of spec.options) assert.ok(script.includes(shell === 'fish' ? `-l ${o.long}` : `--${o.long}`), `${shell}: --${o.long} of ${spec.name}`);
      }
      if (have) {
        const dir = mkdtempSync(join(tmpdir(), 'ship-completion-'));
        try {
          writeFileSync(join(dir, 'script'), script);
          const r = spawnSync(check[0], [...check.slice(1), join(dir, 'script')], { encoding: 'utf8' });
          assert.equal(r.status, 0, `${shell} cannot parse it: ${r.stderr}`);
          if (shell === 'fish') {
            // what fish offers after these words
            const offer = (line: string) =>
              spawnSync('fish', ['--no-config', '-c', `source ${join(dir, 'script')}; complete -C '${line}'`], { encoding: 'utf8' })
                .stdout.split('\n')
                .map((l) => l.split('\t')[0]);
            assert.ok(offer('sockscope ga').includes('gather'));
            assert.ok(offer('sockscope ls --for').includes('--format'));
            assert.ok(offer('sockscope zabbix send --ti').includes('--timeout'));
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }

  it('bash: completes commands, options and --format values', () => {
    const script = completionScript('bash');
    const complete = (line: string) => {
      const cw = line.split(' ');
      const r = spawnSync(
        'bash',
        ['-c', `${script}\nCOMP_WORDS=(${cw.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cw.length - 1}; _sockscope; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { encoding: 'utf8' },
      );
      return r.stdout.trim().split('\n');
    };
    assert.ok(complete('sockscope ga').includes('gather'));
    assert.deepEqual(complete('sockscope config s').sort(), ['sample', 'show']);
    assert.ok(complete('sockscope ls --for').includes('--format'));
    assert.ok(complete('sockscope ls --format n').includes('ndjson'));
    assert.ok(complete('sockscope zabbix send --ti').includes('--timeout'));
  });
});

describe('man pages from the same specs', () => {
  const pages = manPages('0.0.0', '2026-01-01');
  const page = (f: string) =>
    pages
      .find((p) => p.file === f)!
      .text.replace(/\\-/g, '-')
      .replace(/\\f[BIR]/g, '');
  it("sockscope(1) has every command and option; sockscope-agent(8) the agent's; sockscope.toml(5) every key", () => {
    for (const spec of COMMANDS) {
      if (spec.name) assert.ok(page('sockscope.1').includes(`sockscope ${spec.name}`), spec.name);
      for (const o of spec.options) assert.ok(page('sockscope.1').includes(`--${o.long}`), `--${o.long}`);
    }
    for (const o of commandSpec('agent').options) assert.ok(page('sockscope-agent.8').includes(`--${o.long}`), `agent --${o.long}`);
    for (const leaf of LEAVES)
      assert.ok(page('sockscope.toml.5').includes(`${leaf[leaf.length - 1]} = `) || page('sockscope.toml.5').includes(`[${leaf.join('.')}]`), leaf.join('.'));
  });
  const haveMan = spawnSync('sh', ['-c', 'command -v man']).status === 0;
  it('man renders them without a warning', { skip: haveMan ? false : 'no man here' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ship-man-'));
    try {
      for (const p of pages) {
        writeFileSync(join(dir, p.file), p.text);
        const r = spawnSync('man', ['--warnings', '-l', join(dir, p.file)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8' } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '', `${p.file}: ${r.stderr}`);
        assert.match(r.stdout, /NAME/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one duration syntax', () => {
  it('the command line takes what the configuration takes, through one function', () => {
    for (const [text, ms] of [
      ['500ms', 500],
      ['10s', 10_000],
      ['1m30s', 90_000],
      ['1.5h', 5_400_000],
    ] as const) {
      const plan = planGather(['--signal', 'none', '--interval', text], 'execd');
      assert.ok(plan !== 'help');
      assert.equal(plan.intervalMs, ms, text);
      assert.equal(durationMs(loadConfig({ flags: { interval: text } }).config.agent.interval), ms, `config ${text}`);
    }
    for (const bad of ['10', '1m30', 'soon', '-1s']) {
      assert.throws(() => planGather(['--signal', 'none', '--interval', bad], 'execd'), /--interval must be a duration/);
      assert.throws(() => loadConfig({ flags: { interval: bad } }), /agent\.interval/);
    }
  });
});
