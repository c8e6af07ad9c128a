/**
 * bin/sockscope.js as npm runs it: through a link in another directory, as sh (its first lines), which execs node
 * on the file the link points to. NODE_EXTRA_CA_CERTS reaches node for the agent (and any word it does not know),
 * never for the commands that open no TLS connection: node 20 would read that file at every start. What node got
 * is seen from inside the process (a --require'd probe prints it), for every command of src/cli/spec.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TOP_COMMANDS } from '../../src/cli/spec.js';
import { VERSION } from '../../src/version.js';
import { cleanEnv, tempDir } from '../helpers/agent.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin', 'sockscope.js');
/** the commands that open TLS connections: the agent's https outputs and TLS listener */
const TLS_COMMANDS = ['agent'];

const dir = tempDir('launcher');
after(() => rmSync(dir, { recursive: true, force: true }));
// npm's bin directory: a link to bin/sockscope.js
mkdirSync(join(dir, 'bin'));
const link = join(dir, 'bin', 'sockscope');
symlinkSync(bin, link);
const probe = join(dir, 'probe.cjs');
writeFileSync(
  probe,
  "process.stderr.write(`probe: NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS ?? '(unset)'}\\nprobe: GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}\\n`);\n",
);
const ca = join(dir, 'extra-ca.pem');
writeFileSync(ca, '');

function withoutGlibcTunables(env: Record<string, string>): Record<string, string> {
  const { GLIBC_TUNABLES: _, ...rest } = env;
  return rest;
}

/** What node got, run through the link with NODE_EXTRA_CA_CERTS set (and `env`). */
function seen(args: string[], env: Record<string, string> = {}): { value: string; glibc: string; status: number | null; stdout: string } {
  const r = spawnSync(link, args, {
    encoding: 'utf8',
    timeout: 60_000,
    // GLIBC_TUNABLES only as the case gives it (not the test's own environment's)
    env: { ...withoutGlibcTunables(cleanEnv({ NODE_EXTRA_CA_CERTS: ca, NODE_OPTIONS: `--require ${probe}` })), ...env },
  });
  const m = /^probe: NODE_EXTRA_CA_CERTS=(.*)$/m.exec(r.stderr);
  assert.ok(m, `sockscope ${args.join(' ')}: node never started (${r.status}): ${r.stderr}`);
  return { value: m[1], glibc: /^probe: GLIBC_TUNABLES=(.*)$/m.exec(r.stderr)?.[1] ?? '', status: r.status, stdout: r.stdout };
}

describe('bin/sockscope.js, the launcher', () => {
  it('runs the command through a link in another directory', () => {
    const r = seen(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `sockscope ${VERSION}\n`);
  });

  it('names every command but the agent in its case, and only commands that exist', () => {
    const m = /^case "\$1" in\n\s*(.*)\) unset NODE_EXTRA_CA_CERTS ;;\n\s*agent\) .*\n\s*esac$/m.exec(readFileSync(bin, 'utf8'));
    assert.ok(m, 'bin/sockscope.js has no `case "$1" in ... unset NODE_EXTRA_CA_CERTS ;; esac`');
    const words = m[1].split('|').map((w) => w.trim());
    assert.deepEqual(words.slice(0, 2), ["''", '-*'], 'the summary (no command word, or options) first');
    assert.deepEqual(words.slice(2).sort(), TOP_COMMANDS.filter((c) => !TLS_COMMANDS.includes(c)).sort());
  });

  it('NODE_EXTRA_CA_CERTS reaches node for the agent only', () => {
    for (const command of TOP_COMMANDS) {
      const { value } = seen([command, '--help']);
      assert.equal(value, TLS_COMMANDS.includes(command) ? ca : '(unset)', `sockscope ${command}`);
    }
    // the summary: no word at all, or options
    assert.equal(seen(['--version']).value, '(unset)');
    assert.equal(seen([]).value, '(unset)');
    // a word it does not know keeps the user's environment (and is refused by the command itself)
    const unknown = seen(['no-such-command']);
    assert.equal(unknown.value, ca);
    assert.equal(unknown.status, 2);
  });

  it("the agent runs with glibc's mmap threshold fixed (as deploy/ runs it), a GLIBC_TUNABLES of the user's kept; no other command gets one", () => {
    assert.equal(seen(['agent', '--help']).glibc, 'glibc.malloc.mmap_threshold=131072');
    assert.equal(seen(['agent', '--help'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).glibc, 'glibc.malloc.arena_max=2');
    assert.equal(seen(['ls', '--help']).glibc, '(unset)');
    assert.equal(seen([]).glibc, '(unset)');
    assert.equal(seen(['no-such-command']).glibc, '(unset)');
  });
});
