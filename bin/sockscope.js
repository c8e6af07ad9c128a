#!/bin/sh
':' /*
# This file is read twice: by sh, then by node. The sh part (inside this JavaScript comment) chooses node's
# environment and execs node on this very file; node skips the first line and the comment.
#
# NODE_EXTRA_CA_CERTS: node 20 reads the whole file it names, and builds its root certificate store, as it
# starts, before any JavaScript runs: ~35 ms of CPU for a system bundle (/etc/ssl/certs/ca-certificates.crt),
# more than the rest of `sockscope ls` at a few hundred sockets (docs/benchmarks.md, "Start-up"). Only the
# agent opens TLS connections (its https InfluxDB output, its TLS listener), so every other command runs
# without the variable; the agent, and any command not named below, keeps it as the user set it.
#
# GLIBC_TUNABLES: the agent runs for months; glibc's mmap threshold fixed at 128 KiB gives each big block (a
# gather's table, its rendered samples) a mapping of its own, returned to the kernel when freed, instead of a
# threshold that rises with every block freed until they all stay in malloc's arenas (~20 MB more resident:
# docs/benchmarks-metrics-agent.md, "Runtime tuning"). deploy/'s systemd unit, Dockerfile and DaemonSet set the
# same; a value the user set is kept.
# scripts/build-deb.mjs copies this case into the .deb's /usr/bin/sockscope; test/cli/launcher.test.ts checks
# that it names every command of src/cli/spec.ts but the agent.
case "$1" in
  '' | -* | ls | gather | execd | doctor | zabbix | config | completion | help) unset NODE_EXTRA_CA_CERTS ;;
  agent) export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=131072}" ;;
esac
# "$0": the path this file was run by (a link in npm's bin directory): node follows it to this file
exec node "$0" "$@"
*/
// CommonJS (bin/package.json): dist/bundle/sockscope.cjs, compiled from its code cache by dist/bundle/launch.cjs
// (src/cli/launch.ts), without loading node's ES module loader; the modules of dist/src when there is no bundle
// (a checkout compiled with tsc alone).
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'bundle');
const argv = process.argv.slice(2);
let launcher;
try {
  launcher = require(join(bundle, 'launch.cjs'));
} catch (e) {
  if (e?.code !== 'MODULE_NOT_FOUND') throw e;
}
if (launcher) launcher.launch(join(bundle, 'sockscope.cjs'), argv);
else import('../dist/src/cli/main.js').then((m) => m.main(argv));
