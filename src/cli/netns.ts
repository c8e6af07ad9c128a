/** -N NAME|PID|PATH → the network namespace file to setns() into, as `ss -N` and `ip netns` name them. */
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';

export function resolveNetns(spec: string): string {
  const candidates = /^\d+$/.test(spec) ? [`/proc/${spec}/ns/net`] : spec.includes('/') ? [spec] : [`/run/netns/${spec}`, `/var/run/netns/${spec}`];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new UsageError(
      `unknown network namespace '${spec}': expected a name under /run/netns (see 'ip netns list'), a PID, or a path to a namespace file; tried ${candidates.join(', ')}`,
      { key: 'net', value: spec },
    );
  }
  return found;
}
