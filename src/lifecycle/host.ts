/**
 * The agent's lifecycle counting in the thread that gathers: a destroy-event subscription (its own thread)
 * feeding a LifecycleTracker, which each gather's snapshot then brings up to date. Started by the first gather
 * that asks for the lifecycle measurement, replaced when its options change, stopped when no longer asked for.
 */
import { readFileSync } from 'node:fs';
import type { LifecycleOptions } from '../collectors/lifecycle.js';
import { DEFAULT_EVENT_RCVBUF, LifecycleSubscription } from './subscription.js';
import { LifecycleTracker } from './tracker.js';

export type LifecycleConfig = LifecycleOptions;

/**
 * A tracker and the subscription feeding it. A subscription that cannot start, or fails later, is retried at
 * the next gather with the same tracker (its counters go on); meanwhile the collector reports why.
 */
export class LifecycleHost {
  private subscription: LifecycleSubscription | undefined;
  private starting: Promise<void> | undefined;

  private constructor(
    readonly key: string,
    readonly tracker: LifecycleTracker,
    private readonly config: LifecycleConfig,
    private readonly netns?: string,
  ) {}

  static create(config: LifecycleConfig, netns?: string): LifecycleHost {
    return new LifecycleHost(JSON.stringify(config), new LifecycleTracker({ ...config, ephemeralPorts: ephemeralPorts() }), config, netns);
  }

  /** Subscribe unless subscribed; a failure is left in tracker.unavailable (the collector says it). */
  async ensure(): Promise<void> {
    if (this.subscription) return;
    this.starting ??= this.subscribe().finally(() => (this.starting = undefined));
    await this.starting;
  }

  private async subscribe(): Promise<void> {
    const tracker = this.tracker;
    try {
      const sub = await LifecycleSubscription.start({
        protocols: ['tcp'],
        netns: this.netns,
        rcvbufBytes: this.config.rcvbufBytes ?? DEFAULT_EVENT_RCVBUF,
        onBatch: (t, stats) => {
          tracker.setSubscriptionStats(stats);
          tracker.closed(t);
        },
        onStats: (stats) => tracker.setSubscriptionStats(stats),
        onError: (e) => {
          // the thread is gone: keep its counts, subscribe again at the next gather
          tracker.subscriptionEnded(`the destroy-event subscription failed: ${e.message}`);
          if (this.subscription === sub) this.subscription = undefined;
        },
      });
      sub.ref(false); // the gathering thread's life decides
      this.subscription = sub;
      tracker.unavailable = undefined;
    } catch (e) {
      tracker.unavailable = `cannot subscribe to the kernel's destroy events: ${(e as Error).message}`;
    }
  }

  async stop(): Promise<void> {
    const sub = this.subscription;
    this.subscription = undefined;
    if (sub) await sub.stop().catch(() => undefined);
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
  if (config && !current) current = LifecycleHost.create(config, netns);
  await current?.ensure();
  return current?.tracker;
}

/** The tracker lifecycleFor() (or lifecycleInNetns()) keeps in this thread for this gather, if any (the gather's host fact). */
export const currentLifecycleTracker = (): LifecycleTracker | undefined => current?.tracker;

/**
 * [netns] in the agent: one host (tracker and subscription) per other network namespace, kept in the netns
 * walker's thread between gathers, keyed by the namespace's inode. The subscription thread enters the namespace
 * by its file (`path`) itself, as `ls -E -N` does; nothing enters a namespace on the agent's event loop.
 */
const byNetns = new Map<number, LifecycleHost>();

/**
 * Make the namespace's host the current one (the next gather's host fact), creating and subscribing it on first
 * use; called by the walker's thread once it is inside the namespace (the tracker reads that namespace's
 * ephemeral port range). `config` undefined: lifecycle not asked for, the namespace's host goes.
 */
export async function lifecycleInNetns(inode: number, path: string, config: LifecycleConfig | undefined): Promise<void> {
  let host = byNetns.get(inode);
  if (host && host.key !== (config && JSON.stringify(config))) {
    byNetns.delete(inode);
    await host.stop();
    host = undefined;
  }
  if (config && !host) byNetns.set(inode, (host = LifecycleHost.create(config, path)));
  await host?.ensure();
  current = host;
}

/** The gather in a namespace is over: no current host in this thread (lifecycleFor() is the agent's own thread's). */
export function leaveNetnsLifecycle(): void {
  current = undefined;
}

/** Stop the subscriptions of namespaces not in `keep` (vanished, no longer selected, lifecycle off). */
export async function keepNetnsLifecycle(keep: ReadonlySet<number>): Promise<void> {
  const gone = [...byNetns].filter(([inode]) => !keep.has(inode));
  for (const [inode] of gone) byNetns.delete(inode);
  await Promise.all(gone.map(([, host]) => host.stop()));
}

/** Namespaces with a lifecycle subscription kept in this thread. */
export const netnsLifecycleCount = (): number => byNetns.size;
