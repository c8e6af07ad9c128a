/**
 * The agent's lifecycle counting in the thread that gathers: a destroy-event subscription (its own thread)
 * feeding a LifecycleTracker, which each gather's snapshot then brings up to date. Started by the first gather
 * that asks for the lifecycle measurement, replaced when its options change, stopped when no longer asked for.
 */
import { readFileSync } from 'node:fs';
import type { PortGroup } from '../collectors/netstat-port.js';
import { DEFAULT_EVENT_RCVBUF, LifecycleSubscription } from './subscription.js';
import { LifecycleTracker } from './tracker.js';

export interface LifecycleConfig {
  groups: readonly PortGroup[];
  autoPorts: boolean;
  maxGroups: number;
  rcvbufBytes?: number;
}

export class LifecycleHost {
  private constructor(
    readonly key: string, readonly tracker: LifecycleTracker, private readonly subscription: LifecycleSubscription,
  ) {}

  static async start(config: LifecycleConfig, netns?: string): Promise<LifecycleHost> {
    const tracker = new LifecycleTracker({ ...config, ephemeralPorts: ephemeralPorts() });
    const subscription = await LifecycleSubscription.start({
      protocols: ['tcp'], netns, rcvbufBytes: config.rcvbufBytes ?? DEFAULT_EVENT_RCVBUF,
      onBatch: (t, stats) => {
        tracker.subscription = stats;
        tracker.closed(t);
      },
      onStats: (stats) => (tracker.subscription = stats),
    });
    subscription.ref(false); // the gathering thread's life decides
    return new LifecycleHost(JSON.stringify(config), tracker, subscription);
  }

  async stop(): Promise<void> {
    await this.subscription.stop();
  }
}

/** net.ipv4.ip_local_port_range as this thread sees it (a thread that entered -N's namespace reads that one's). */
function ephemeralPorts(): [number, number] | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? [low, high] : undefined;
  } catch {
    return undefined;
  }
}

let current: LifecycleHost | undefined;

/**
 * The host for this gather's config (undefined: lifecycle not asked for). Counters start over when the options
 * change (a reload that changes the groups), as a restarted agent's would.
 */
export async function lifecycleFor(config: LifecycleConfig | undefined, netns?: string): Promise<LifecycleTracker | undefined> {
  const key = config && JSON.stringify(config);
  if (current && current.key !== key) {
    const old = current;
    current = undefined;
    await old.stop();
  }
  if (config && !current) current = await LifecycleHost.start(config, netns);
  return current?.tracker;
}
