/**
 * `sockscope ls -E` (ss -E): sockets as the kernel destroys them, written as they arrive: table lines (the
 * columns of `ls`, a header once) or `--format ndjson` socket records with the final tcp_info. ss's filter
 * language applies in user space (the kernel filters nothing on a multicast group); every state is listed
 * unless the filter names states (a closed TCP socket is in state CLOSE, shown as ss shows it: UNCONN).
 * SIGINT and SIGTERM end it: what the kernel had queued is written first, then the counts go to stderr.
 */
import { once } from 'node:events';
import { AF_INET, AF_INET6, type ProtoName } from '../diag/constants.js';
import { UsageError } from '../errors.js';
import type { CompiledFilter } from '../filter/index.js';
import type { RecordOptions } from '../outputs/listing/socket-record.js';
import type { SocketTable } from '../snapshot/table.js';
import type { EventProtocol } from './events.js';
import { LifecycleSubscription, type SubscriptionStats } from './subscription.js';

export interface FollowPlan {
  protocols: readonly ProtoName[];
  families: readonly number[];
  /** the user named protocols (-t, -u, ...) rather than taking the default */
  protocolsChosen: boolean;
  netns?: string;
  rcvbufBytes?: number;
  format: string;
  header: boolean;
  record: RecordOptions;
}

export const FOLLOW_FORMATS = ['table', 'ndjson'] as const;

/** The protocols -E can follow: the kernel announces destroyed TCP and UDP (and UDP-Lite) sockets only. */
export function followProtocols(protocols: readonly ProtoName[], chosen: boolean): EventProtocol[] {
  const out: EventProtocol[] = [];
  if (protocols.includes('tcp')) out.push('tcp');
  if (protocols.includes('udp') || protocols.includes('udplite')) out.push('udp');
  const other = protocols.filter((p) => p !== 'tcp' && p !== 'udp' && p !== 'udplite');
  if (chosen && other.length > 0) {
    throw new UsageError(`-E follows TCP and UDP sockets only (the kernel announces no others): drop ${other.map((p) => `--${p}`).join(', ')}`, {
      key: 'events',
    });
  }
  return out;
}

export interface FollowResult {
  stats: SubscriptionStats;
  written: number;
}

/**
 * Follow until `stop` resolves (the CLI: SIGINT or SIGTERM). Returns the final counts; the caller reports them.
 */
export async function followEvents(
  plan: FollowPlan,
  filter: CompiledFilter,
  out: NodeJS.WritableStream & { writableLength?: number },
  stop: Promise<unknown>,
): Promise<FollowResult> {
  if (!(FOLLOW_FORMATS as readonly string[]).includes(plan.format)) {
    throw new UsageError(`-E writes --format table or ndjson (sockets stream as they close), got '${plan.format}'`, { key: 'format', value: plan.format });
  }
  const protocols = followProtocols(plan.protocols, plan.protocolsChosen);
  const [{ SocketJsonWriter }, { lsTableBytes }] = await Promise.all([import('../outputs/listing/socket-ndjson.js'), import('../outputs/listing/ls-table.js')]);
  const record = plan.format === 'ndjson' ? { ...plan.record, info: true } : plan.record; // the final tcp_info is the point
  const writer = plan.format === 'ndjson' ? new SocketJsonWriter(record) : undefined;
  let header = plan.header;
  let written = 0;
  let pending = 0; // bytes handed to a stream that is not synchronous (a pipe to a slow reader)
  const write = (chunk: Uint8Array | string) => {
    const ok = out.write(chunk);
    if (!ok) pending++;
  };
  const onBatch = (t: SocketTable) => {
    const view = t.arenaView();
    const rows: number[] = [];
    for (let i = 0; i < t.length; i++) if (filter.matches(t, i)) rows.push(i);
    if (rows.length === 0) return;
    written += rows.length;
    if (writer) {
      for (const i of rows) {
        writer.append(t, i, view);
        writer.bytes.byte(10);
      }
      writer.bytes.flush(
        (chunk) => write(chunk),
        () => out.writableLength === 0,
      );
    } else {
      write(lsTableBytes(t, rows, view, record, { header, netid: true }));
      header = false;
    }
  };
  let failed: Error | undefined;
  let onError!: (e: Error) => void;
  const failure = new Promise<void>((resolve) => {
    onError = (e) => {
      failed = e;
      resolve();
    };
  });
  const sub = await LifecycleSubscription.start({
    protocols,
    families: plan.families.length ? plan.families : [AF_INET, AF_INET6],
    netns: plan.netns,
    rcvbufBytes: plan.rcvbufBytes,
    onBatch,
    onError,
  });
  await Promise.race([stop, failure]);
  const stats = await sub.stop();
  if (failed) throw failed;
  if (pending > 0 && (out.writableLength ?? 0) > 0) await once(out, 'drain');
  return { stats, written };
}

/** The one line -E leaves on stderr when it ends. */
export function followSummary(r: FollowResult): string {
  const s = r.stats;
  const lost =
    s.lost > 0 || s.overruns > 0 ? `, ${s.lost} lost: the kernel overran the ${s.rcvbufBytes}-byte receive buffer ${s.overruns} time(s)` : ', 0 lost';
  return `${s.events} sockets closed, ${r.written} listed${lost}${s.malformed ? `, ${s.malformed} malformed messages skipped` : ''}`;
}
