/**
 * The .deb (npm run build:deb) as an operator meets it: lintian finds no error; dpkg installs it (no service
 * enabled or started), /usr/bin/sockscope (the sh launcher of /usr/lib/sockscope/sockscope, the single
 * executable) runs every subcommand with node hidden, the man pages, completions
 * and unit are where the tools look for them, the sample is a conffile; dpkg -r keeps the conffile, dpkg -P
 * removes everything. Skipped unless root with dpkg (what CI has); fails rather than skips under CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exerciseArtifact, runArtifact } from '../helpers/artifact.js';
import { netnsSupport } from '../helpers/netns.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
const deb = readdirSync(join(REPO, 'dist')).find((f) => f.startsWith(`sockscope_${version}_`) && f.endsWith('.deb'));
const hasDpkg = spawnSync('sh', ['-c', 'command -v dpkg && command -v lintian'], { stdio: 'ignore' }).status === 0;
const skip = process.getuid?.() !== 0 ? 'needs root (dpkg -i)' : !hasDpkg ? 'needs dpkg and lintian (apt-get install lintian)' : undefined;
if (skip && process.env.CI) throw new Error(`the .deb test cannot run under CI: ${skip}`);

/** dpkg, waiting for the lock when other installs hold it */
function dpkg(args: string[]): { status: number | null; stdout: string; stderr: string } {
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync('dpkg', args, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status === 0 || !/lock/.test(r.stderr) || attempt > 60) return r;
    spawnSync('sleep', ['5']);
  }
}
const query = (field: string) => spawnSync('dpkg-query', ['-W', `-f=\${${field}}`, 'sockscope'], { encoding: 'utf8' });

before(() => {
  if (skip) return;
  assert.ok(deb, `dist/sockscope_${version}_*.deb is missing: npm run build:deb`);
  assert.notEqual(query('Status').stdout, 'install ok installed', 'sockscope is already installed on this machine: remove it first (dpkg -P sockscope)');
});
after(() => {
  if (!skip && query('Status').status === 0) dpkg(['--purge', 'sockscope']);
});

test('lintian: no error', { skip }, () => {
  const r = spawnSync('lintian', ['--fail-on', 'error', join(REPO, 'dist', deb!)], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /^E: /m);
});

test('installed with dpkg: every subcommand from /usr/bin/sockscope, no service started', { skip }, async (t) => {
  const i = dpkg(['--install', join(REPO, 'dist', deb!)]);
  assert.equal(i.status, 0, i.stderr);
  assert.equal(query('Status').stdout, 'install ok installed');
  // the unit is installed, neither enabled nor started
  assert.ok(existsSync('/lib/systemd/system/sockscope.service'));
  assert.ok(!existsSync('/etc/systemd/system/multi-user.target.wants/sockscope.service'), 'enabled by the package');
  assert.equal(spawnSync('pgrep', ['-f', '^/usr/(bin|lib/sockscope)/sockscope agent']).status, 1, 'an agent was started');
  // /usr/bin/sockscope: the launcher (sh) in front of the single executable
  assert.match(readFileSync('/usr/bin/sockscope', 'utf8'), /^#!\/bin\/sh\n[\s\S]*\nexec \/usr\/lib\/sockscope\/sockscope "\$@"\n$/);
  assert.match(
    readFileSync('/lib/systemd/system/sockscope.service', 'utf8'),
    /^ExecStart=\/usr\/bin\/sockscope agent --config \/etc\/sockscope\/sockscope\.toml$/m,
  );
  if (spawnSync('sh', ['-c', 'command -v systemd-analyze'], { stdio: 'ignore' }).status === 0) {
    const v = spawnSync('systemd-analyze', ['verify', '/lib/systemd/system/sockscope.service'], { encoding: 'utf8' });
    assert.equal(v.status, 0, `systemd-analyze verify: ${v.stderr}`);
  }
  // the sample as a conffile, the man pages, the completions
  assert.match(query('Conffiles').stdout, /\/etc\/sockscope\/sockscope\.toml [0-9a-f]{32}/);
  const sample = runArtifact({ argv: ['/usr/bin/sockscope'] }, ['config', 'sample']).stdout;
  assert.equal(readFileSync('/etc/sockscope/sockscope.toml', 'utf8'), sample);
  for (const page of ['1 sockscope', '8 sockscope-agent', '5 sockscope.toml']) {
    const r = spawnSync('man', ['-w', ...page.split(' ')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `man -w ${page}: ${r.stderr}`);
  }
  for (const f of [
    '/usr/share/bash-completion/completions/sockscope',
    '/usr/share/zsh/vendor-completions/_sockscope',
    '/usr/share/fish/vendor_completions.d/sockscope.fish',
  ])
    assert.ok(existsSync(f), f);
  // the service's configuration check: the packaged sample loads
  assert.equal(runArtifact({ argv: ['/usr/bin/sockscope'] }, ['config', 'show', '--config', '/etc/sockscope/sockscope.toml']).status, 0);
  if (!netnsSupport().skip) await exerciseArtifact(t, { argv: ['/usr/bin/sockscope'], hideNode: true, launcher: true }, version);
});

test('dpkg -r keeps the conffile, dpkg -P removes it', { skip }, () => {
  const r = dpkg(['--remove', 'sockscope']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync('/usr/bin/sockscope'));
  assert.ok(existsSync('/etc/sockscope/sockscope.toml'), 'the configuration was removed with the package');
  const p = dpkg(['--purge', 'sockscope']);
  assert.equal(p.status, 0, p.stderr);
  assert.ok(!existsSync('/etc/sockscope/sockscope.toml'));
  assert.ok(!existsSync('/var/cache/sockscope'), 'purge leaves the cache of native code');
  assert.ok(!existsSync('/var/lib/sockscope'), 'purge leaves the state directory');
});
