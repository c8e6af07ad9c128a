/**
 * The one dump-with-retry policy, shared by the table (takeSnapshot), the stream (streamSnapshot) and the
 * census (takeCensus):
 *  - a filter program the kernel refuses (EPERM for a mark test without CAP_NET_ADMIN, EINVAL from an older
 *    kernel): dump unfiltered, once, and say so; the caller's user-space check still decides;
 *  - NLM_F_DUMP_INTR (the socket table changed during the dump): drop what the dump gave and dump again, up to
 *    maxRetries times; a stream cannot take rows back, so it reports instead of retrying; still flagged after the
 *    last try: the result is kept, flagged, and said;
 *  - a framing problem the dump survived is said;
 *  - any other errno ends the protocol's dumps: the caller falls back to /proc (fallbackReason says why).
 */
import { ENOENT, errnoName } from '../sys/errno.js';
import type { DumpOutcome, MessageVisitor } from './dump.js';
import { replyType, type DumpPlan } from './plan.js';
import type { DiagSession } from './session.js';
import type { SocketTable } from './table.js';
import type { ProtocolSource } from './types.js';

export interface RetryPolicy {
  /** NLM_F_DUMP_INTR retries before the result is kept flagged */
  maxRetries: number;
  /** false for a stream: rows handed out cannot be taken back */
  canRetry: boolean;
}

export interface DumpTarget {
  visit: MessageVisitor;
  /** forget what the last attempt added (rows, counts) before the dump is repeated */
  rollback(): void;
  /** receive straight into this table's arena (DiagSession.dump) */
  arena?: SocketTable;
  beforeRead?: () => void;
}

/**
 * Run one planned dump under the policy. Returns the failed outcome (an errno other than a refused filter), or
 * undefined when the dump went through (possibly flagged interrupted: `src.interrupted`).
 */
export function dumpWithRetry(
  session: DiagSession,
  plan: DumpPlan,
  src: ProtocolSource,
  policy: RetryPolicy,
  target: DumpTarget,
  notes: string[],
): DumpOutcome | undefined {
  let request = plan.request;
  for (let attempt = 0; ; attempt++) {
    const r = session.dump(request, replyType(plan), target.visit, target.arena, target.beforeRead);
    src.malformed += r.malformed;
    if (r.errno !== 0 && r.errno !== ENOENT && plan.unfiltered && request === plan.request) {
      notes.push(`${plan.protocol}: the kernel refused the filter program (${errnoName(r.errno)}); filtering in user space`);
      request = plan.unfiltered;
      target.rollback();
      attempt--;
      continue;
    }
    if (r.errno !== 0) return r;
    if (r.problem) notes.push(`${plan.protocol}: ${r.problem}`);
    if (!r.interrupted) return undefined;
    if (!policy.canRetry || attempt >= policy.maxRetries) {
      src.interrupted = true;
      notes.push(`${plan.protocol}: the socket table kept changing during the dump (NLM_F_DUMP_INTR after ${attempt + 1} tries); counts may mix two moments`);
      return undefined;
    }
    src.retries++;
    target.rollback();
  }
}
