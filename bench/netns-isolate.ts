/**
 * The namespace benches (bench/netns.ts, bench/netns-agent-inproc.ts) run in a private pid namespace (only
 * their holders in /proc) and mount namespace (an empty /run/netns): sockscope there sees exactly the bench's
 * namespaces and the host's, not those of the other tests and benchmarks sharing the machine.
 */
import { spawnSync } from 'node:child_process';

/** Outside: run this script again (same node options and arguments) inside them, and exit with its status. */
export function isolate(): void {
  if (process.env.SOCKSCOPE_NETNS_BENCH_ISOLATED) return;
  const r = spawnSync(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount',
      '--mount-proc',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mkdir -p /run/netns && mount -t tmpfs netns-bench /run/netns && exec "$0" "$@"',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, SOCKSCOPE_NETNS_BENCH_ISOLATED: '1' } },
  );
  process.exit(r.status ?? 1);
}
