/**
 * What README.md and docs/metrics.md tell people to paste must work: the Telegraf configs (```toml blocks)
 * parse as TOML and their commands run and print line protocol; the `sockscope gather` / `execd` lines of the
 * ```sh blocks run; the Prometheus family table lists every family of the schemas with its type.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { NETSTAT_SCHEMA } from '../../src/collectors/netstat.js';
import { NETSTAT_PORT_SCHEMA } from '../../src/collectors/netstat-port.js';
import { SOCKETSTAT_AGGREGATE_SCHEMA, SOCKETSTAT_SCHEMA } from '../../src/collectors/socketstat.js';
import { parseLines } from '../helpers/metrics.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${root}bin/sockscope.js`;
const DOCS = ['README.md', 'docs/metrics.md'];

function blocks(file: string, lang: string): string[] {
  const text = readFileSync(`${root}${file}`, 'utf8');
  return [...text.matchAll(new RegExp(`^( *)\`\`\`${lang}\\n([\\s\\S]*?)^\\1\`\`\`$`, 'gm'))].map((m) =>
    m[2]
      .split('\n')
      .map((l) => l.slice(m[1].length))
      .join('\n'),
  );
}

/** POSIX-shell-like word splitting with '…' and "…" quoting (what Telegraf's exec does with shellquote). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** Run a sockscope command line as the docs write it (argv[0] "sockscope" is this checkout's bin). */
function runSockscope(argv: string[], input?: string) {
  assert.equal(argv[0], 'sockscope', `a command that is not sockscope: ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [BIN, ...argv.slice(1)], { encoding: 'utf8', timeout: 30_000, input: input ?? '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface TelegrafConfig {
  inputs?: {
    exec?: { commands: string[]; data_format?: string; timeout?: string }[];
    execd?: { command: string[]; signal?: string; data_format?: string }[];
  };
}

describe('Telegraf configs in README.md and docs/metrics.md', () => {
  for (const file of DOCS) {
    const configs = blocks(file, 'toml').map((b) => ({ text: b, toml: parseToml(b) as TelegrafConfig }));

    it(`${file}: every toml block parses, and there is an inputs.exec and an inputs.execd config`, () => {
      assert.ok(
        configs.some((c) => c.toml.inputs?.exec?.length),
        `${file} has an [[inputs.exec]] block`,
      );
      assert.ok(
        configs.some((c) => c.toml.inputs?.execd?.length),
        `${file} has an [[inputs.execd]] block`,
      );
    });

    for (const { toml } of configs) {
      for (const exec of toml.inputs?.exec ?? []) {
        it(`${file}: [[inputs.exec]] ${JSON.stringify(exec.commands)} runs and prints line protocol`, () => {
          assert.equal(exec.data_format, 'influx');
          for (const command of exec.commands) {
            const r = runSockscope(shellWords(command));
            assert.equal(r.status, 0, r.stderr);
            const points = parseLines(r.stdout);
            assert.ok(
              points.some((p) => p.measurement === 'netstat'),
              r.stdout,
            );
          }
        });
      }
      for (const execd of toml.inputs?.execd ?? []) {
        it(`${file}: [[inputs.execd]] ${JSON.stringify(execd.command)} gathers on a newline and exits 0 when stdin closes`, () => {
          assert.equal(execd.data_format, 'influx');
          assert.equal(execd.signal, 'STDIN');
          assert.deepEqual(execd.command.slice(0, 2), ['sockscope', 'execd']);
          const r = runSockscope(execd.command, '\n');
          assert.equal(r.status, 0, r.stderr);
          assert.ok(
            parseLines(r.stdout).some((p) => p.measurement === 'netstat'),
            r.stdout,
          );
          for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, /^[IWE]! /);
        });
      }
    }
  }

  it('the sample configs are the ones asked for', () => {
    const all = DOCS.flatMap((f) => blocks(f, 'toml').map((b) => parseToml(b) as TelegrafConfig));
    assert.ok(all.some((c) => c.inputs?.exec?.some((e) => e.commands.includes('sockscope gather --measurement netstat'))));
    assert.ok(
      all.some(
        (c) =>
          JSON.stringify(c.inputs?.execd?.[0]?.command) ===
          JSON.stringify(['sockscope', 'execd', '--measurement', 'netstat,netstat_port', '--port-group', '80,443']),
      ),
    );
  });
});

describe('command lines in the docs', () => {
  for (const file of DOCS) {
    const lines = blocks(file, 'sh')
      .flatMap((b) => b.split('\n'))
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter((l) => /^sockscope (gather|execd)\b/.test(l));
    it(`${file}: has gather examples`, () => assert.ok(lines.length > 0));
    for (const line of lines) {
      it(`${file}: ${line}`, () => {
        const argv = shellWords(line);
        const r = runSockscope(argv, '\n');
        assert.equal(r.status, 0, r.stderr);
        // socketstat may have no connection to show on this host; what is printed must be its format
        if (!argv.includes('--format')) parseLines(r.stdout);
        else if (argv.includes('prometheus')) assert.match(r.stdout, /^# HELP /);
      });
    }
  }
});

describe('docs/metrics.md lists every Prometheus family of the schemas', () => {
  const doc = readFileSync(`${root}docs/metrics.md`, 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `(sockscope_[a-z_]+)` \| (gauge|counter) \|/gm)].map((m) => [m[1], m[2]]));
  const families = new Map<string, string>();
  for (const schema of [NETSTAT_SCHEMA, NETSTAT_PORT_SCHEMA, SOCKETSTAT_SCHEMA, SOCKETSTAT_AGGREGATE_SCHEMA]) {
    for (const spec of Object.values(schema.fields)) if (spec.prom) families.set(`sockscope_${spec.prom.name}`, spec.counter ? 'counter' : 'gauge');
  }
  it('same names, same types, nothing extra', () => {
    assert.deepEqual(new Map([...rows].sort()), new Map([...families].sort()));
  });
});
