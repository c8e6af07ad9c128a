#!/usr/bin/env node
// npm run build:deb: dist/sockscope_<version>_<arch>.deb with dpkg-deb, from the single executable
// (npm run build:sea) and the generated man pages and completions:
//
//   /usr/lib/sockscope/sockscope                         the single executable (no Node.js needed)
//   /usr/bin/sockscope                                   its launcher: sh, bin/sockscope.js's choice of environment
//                                                        (NODE_EXTRA_CA_CERTS for the agent only), then exec
//   /lib/systemd/system/sockscope.service                deploy/systemd/sockscope.service for /usr/bin, with a
//                                                        CacheDirectory for the executable's native module;
//                                                        installed, neither enabled nor started
//   /etc/sockscope/sockscope.toml                        `sockscope config sample`, a conffile
//   /usr/share/man/man{1,5,8}/...                        sockscope(1), sockscope.toml(5), sockscope-agent(8)
//   /usr/share/{bash-completion,zsh,fish}/...            `sockscope completion bash|zsh|fish`
//   /usr/share/doc/sockscope/{copyright,changelog.gz}
//
// Depends comes from dpkg-shlibdeps on the executable. SOURCE_DATE_EPOCH (default: the last commit's time)
// fixes every timestamp, so the same tree gives the same package.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const debArch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const sea = join(root, 'dist', 'bin', `sockscope-linux-${process.arch}`);
statSync(sea); // npm run build:sea first
const epoch = Number(process.env.SOURCE_DATE_EPOCH) || Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim());
const when = new Date(epoch * 1000);

const MAINTAINER = 'sockscope maintainers <sockscope@users.noreply.github.com>';
const work = join(root, 'dist', 'deb');
const tree = join(work, 'sockscope');
rmSync(work, { recursive: true, force: true });
const put = (path, content, mode = 0o644) => {
  const p = join(tree, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
};
const run = (args) => execFileSync(sea, args, { encoding: 'utf8', env: { ...process.env, CACHE_DIRECTORY: join(work, 'cache') } });

// the executable, and the command: a single executable is node itself, which reads NODE_EXTRA_CA_CERTS's file
// before any of sockscope's code runs (~35 ms of CPU for a system bundle), so /usr/bin/sockscope is the sh
// part of bin/sockscope.js (its `case`, copied: one list of the commands that open no TLS connection) that
// execs the executable; systemd's ExecStart and the operator's shell both come through it
const EXE = '/usr/lib/sockscope/sockscope';
mkdirSync(join(tree, 'usr', 'lib', 'sockscope'), { recursive: true });
copyFileSync(sea, join(tree, EXE));
chmodSync(join(tree, EXE), 0o755);
const launcherCase = /^case "\$1" in\n[\s\S]*?^esac\n/m.exec(readFileSync(join(root, 'bin', 'sockscope.js'), 'utf8'))?.[0];
if (!launcherCase) throw new Error('bin/sockscope.js has no `case "$1" in ... esac` block: update scripts/build-deb.mjs');
put(
  'usr/bin/sockscope',
  `#!/bin/sh
# sockscope: the single executable ${EXE}, without NODE_EXTRA_CA_CERTS for the commands that open no TLS
# connection (node would read the file at every start); the agent keeps it (its https outputs trust it)
${launcherCase}exec ${EXE} "$@"
`,
  0o755,
);

// the unit: the repository's, for /usr/bin and the man pages; the executable writes its native module to the
// CacheDirectory systemd makes for it ($CACHE_DIRECTORY), the one place ProtectSystem=strict leaves writable
const unit = readFileSync(join(root, 'deploy', 'systemd', 'sockscope.service'), 'utf8')
  .replace(
    /^(#.*\n)+/,
    [
      '# sockscope agent as a hardened systemd service (installed by the sockscope package, not enabled):',
      '#   edit /etc/sockscope/sockscope.toml, then: systemctl enable --now sockscope',
      '#   systemctl reload sockscope   # SIGHUP: re-read the configuration (a bad one is logged, the old kept)',
      '# Process attribution needs two capabilities: /usr/share/doc/sockscope/examples/sockscope-process-attribution.conf',
      '',
    ].join('\n'),
  )
  .replace(/^Documentation=.*$/m, 'Documentation=man:sockscope-agent(8) man:sockscope.toml(5)')
  .replace(/^ExecStart=\S+/m, 'ExecStart=/usr/bin/sockscope')
  .replace(/^\[Service\]\n/m, '[Service]\nCacheDirectory=sockscope\nCacheDirectoryMode=0700\n');
if (!/^ExecStart=\/usr\/bin\/sockscope agent/m.test(unit) || !/^CacheDirectory=sockscope$/m.test(unit))
  throw new Error('deploy/systemd/sockscope.service changed shape: update scripts/build-deb.mjs');
put('lib/systemd/system/sockscope.service', unit);
put('usr/share/doc/sockscope/examples/sockscope-process-attribution.conf', readFileSync(join(root, 'deploy', 'systemd', 'sockscope-process-attribution.conf')));

// the configuration (a conffile: dpkg keeps the operator's edits on upgrade and removal)
put('etc/sockscope/sockscope.toml', run(['config', 'sample']));

// man pages and completions, made by the executable itself from its option specs
const man = join(root, 'dist', 'man');
for (const f of readdirSync(man)) {
  const section = f.slice(f.lastIndexOf('.') + 1);
  put(`usr/share/man/man${section}/${f}.gz`, gzipSync(readFileSync(join(man, f)), { level: 9 }));
}
put('usr/share/bash-completion/completions/sockscope', run(['completion', 'bash']));
put('usr/share/zsh/vendor-completions/_sockscope', run(['completion', 'zsh']));
put('usr/share/fish/vendor_completions.d/sockscope.fish', run(['completion', 'fish']));

// docs: copyright (DEP-5) and changelog
const year = when.getUTCFullYear();
put(
  'usr/share/doc/sockscope/copyright',
  `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sockscope
Source: https://github.com/sockscope/sockscope

Files: *
Copyright: ${year} the sockscope authors
License: MIT

Files: usr/lib/sockscope/sockscope
Copyright: Node.js contributors and the authors of the bundled npm packages (koffi, pino, ajv, smol-toml,
 yaml, bcryptjs and their dependencies)
License: MIT
Comment: /usr/lib/sockscope/sockscope is a Node.js ${process.version} single executable application: the Node.js
 runtime (MIT, with its bundled third-party code under their own permissive licenses, listed in
 Node.js's LICENSE file) with sockscope's bundled JavaScript and koffi's native module inside.

License: MIT
${readFileSync(join(root, 'LICENSE'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (l.trim() ? ` ${l}` : ' .'))
  .join('\n')}
`,
);
const rfc2822 = when.toUTCString().replace('GMT', '+0000');
put(
  'usr/share/doc/sockscope/changelog.gz',
  gzipSync(
    Buffer.from(`sockscope (${version}) unstable; urgency=medium

  * Release ${version}: see the README in the source repository.

 -- ${MAINTAINER}  ${rfc2822}
`),
    { level: 9 },
  ),
);

// lintian: Node.js links its own zlib (and OpenSSL, libuv, ...) statically; a single executable is that
// runtime, so the embedded copy is the point of the package, not an accident
put(
  'usr/share/lintian/overrides/sockscope',
  `# /usr/lib/sockscope/sockscope is a Node.js single executable: Node.js carries its own zlib by design
sockscope: embedded-library zlib [usr/lib/sockscope/sockscope]
# the official Node.js binary is not built as PIE; the executable is that binary with the bundle injected
sockscope: hardening-no-pie [usr/lib/sockscope/sockscope]
`,
);

// maintainer scripts: systemd learns about the unit (no enable, no start); purge removes the cache
const script = (body) => `#!/bin/sh\nset -e\n${body}\n`;
const reload = 'if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi';
const control = join(tree, 'DEBIAN');
mkdirSync(control, { recursive: true });
writeFileSync(join(control, 'postinst'), script(`if [ "$1" = configure ]; then\n  ${reload}\nfi`));
writeFileSync(
  join(control, 'postrm'),
  script(
    `if [ "$1" = remove ] || [ "$1" = purge ]; then\n  ${reload}\nfi\nif [ "$1" = purge ]; then\n  rm -rf /var/cache/sockscope /var/cache/private/sockscope /var/lib/sockscope /var/lib/private/sockscope\nfi`,
  ),
);
chmodSync(join(control, 'postinst'), 0o755);
chmodSync(join(control, 'postrm'), 0o755);
writeFileSync(join(control, 'conffiles'), '/etc/sockscope/sockscope.toml\n');

// Depends: the shared libraries the executable links (dpkg-shlibdeps wants a debian/control to read)
mkdirSync(join(work, 'debian'), { recursive: true });
writeFileSync(join(work, 'debian', 'control'), 'Source: sockscope\n\nPackage: sockscope\nArchitecture: any\n');
const shlibs = execFileSync('dpkg-shlibdeps', ['-O', join('sockscope', EXE)], {
  cwd: work,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
});
const depends = /shlibs:Depends=(.*)/.exec(shlibs)?.[1].trim();
if (!depends) throw new Error(`dpkg-shlibdeps gave no dependencies: ${shlibs}`);
rmSync(join(work, 'debian'), { recursive: true });

const sizeKiB = Math.ceil(Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', tree], { encoding: 'utf8' }).split('\t')[0]));
writeFileSync(
  join(control, 'control'),
  `Package: sockscope
Version: ${version}
Architecture: ${debArch}
Maintainer: ${MAINTAINER}
Installed-Size: ${sizeKiB}
Depends: ${depends}
Section: net
Priority: optional
Homepage: https://github.com/sockscope/sockscope
Description: socket statistics read straight from the Linux kernel
 sockscope reads socket tables over NETLINK_SOCK_DIAG: an ss/ss2 successor
 (sockscope ls), one-shot gathers for Telegraf's exec and execd inputs, and a
 metrics agent serving Prometheus /metrics, pushing to InfluxDB and answering
 Zabbix passive checks.
 .
 This package holds a single executable with its own Node.js runtime, the
 systemd unit sockscope.service (installed, not enabled), a sample
 configuration in /etc/sockscope, man pages and shell completions.
`,
);

// every file's time is SOURCE_DATE_EPOCH's; owners root:root (--root-owner-group)
const stamp = (p) => {
  for (const name of readdirSync(p)) {
    const q = join(p, name);
    if (statSync(q).isDirectory()) {
      chmodSync(q, 0o755);
      stamp(q);
    }
    utimesSync(q, when, when);
  }
};
stamp(tree);
const deb = join(root, 'dist', `sockscope_${version}_${debArch}.deb`);
execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', tree, deb], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
});
console.log(`${deb}: ${(statSync(deb).size / 1048576).toFixed(1)} MiB`);
