/**
 * The census: counts per protocol, family and state (CensusCounts) straight from the dumps, no table; TIME_WAIT
 * and a namespace's want of UDP sockets from the kernel's counters.
 */
import { AF_INET, AF_INET6, ALL_STATES, INET_DIAG_MSG_SIZE, Proto, TCP_ESTABLISHED, TCP_TIME_WAIT } from '../diag/constants.js';
import { derivedEstablished, establishedMode, FullSocketCount, judgePremise, liveProcRoot } from './established.js';
import { errnoName } from '../sys/errno.js';
import { CensusCounts } from './census.js';
import type { MessageVisitor } from './dump.js';
import { normalize, plans, replyType } from './plan.js';
import { fallbackReason, readFromProc } from './proc-fallback.js';
import { noUdpSockets, type SockstatCounters, sockstatCounters } from './sockstat.js';
import { dumpWithRetry } from './retry.js';
import { type DiagSession, openSession } from './session.js';
import { SocketTable } from './table.js';
import type { Census, ProtocolSource, SnapshotOptions } from './types.js';

/**
 * Counts per protocol, family and state, with nothing decoded past the state byte. Uses the same dump plans,
 * retry policy and /proc fallback as takeSnapshot, without building a table.
 */
export async function takeCensus(options: Omit<SnapshotOptions, 'ext' | 'keepAttributes'> = {}, session?: DiagSession): Promise<Census> {
  const o = normalize({ ...options, ext: 0, unixShow: 0 });
  const started = performance.now();
  const takenAt = Date.now();
  const counts = new CensusCounts();
  const own = session ? undefined : await openSession(options);
  const s = session ?? (typeof own === 'string' ? undefined : own);
  const notes: string[] = [];
  const sources: ProtocolSource[] = [];
  if (typeof own === 'string') notes.push(`${own}: every protocol is read from /proc/net`);
  // read once, when TIME_WAIT or UDP wants them
  let counters: SockstatCounters | undefined;
  const udpCounts = !!options.skipEmptyUdp && o.protocols.includes('udp');
  const kernelCounters = () => (counters ??= sockstatCounters(o.procRoot, udpCounts, options.established === 'count', options.sockstatFiles));
  try {
    for (const protocol of o.protocols) {
      const src: ProtocolSource = { protocol, source: 'netlink', retries: 0, interrupted: false, malformed: 0, sockets: 0 };
      sources.push(src);
      // No UDP socket in the namespace by the kernel's own counters (options.skipEmptyUdp): nothing to dump. A UDP
      // dump walks the whole UDP hash table, shared by every namespace (thousands of buckets), once per family,
      // however few it finds: over a hundred namespaces without UDP sockets that was most of their UDP counts' cost.
      if (protocol === 'udp' && s && options.skipEmptyUdp && noUdpSockets(kernelCounters(), o.families)) continue;
      const p = Proto[protocol];
      const base = p * 32;
      const c = counts.counts;
      let failed = !s;
      let failedErrno = 0;
      // TIME_WAIT from the kernel's counter (options.timeWaitFromCounter): dump every other state
      const twCounter =
        protocol === 'tcp' &&
        !!options.timeWaitFromCounter &&
        !o.bytecode &&
        (o.states & (1 << TCP_TIME_WAIT)) !== 0 &&
        o.families.includes(AF_INET) &&
        o.families.includes(AF_INET6);
      let finWait2Timewait = 0;
      // ESTABLISHED counted, not dumped (options.established 'count'): established.ts
      const mode =
        protocol === 'tcp' && s && reducible(options, o, twCounter)
          ? establishedMode(options.established, !!s.transport.live && liveProcRoot(o.procRoot))
          : 'full';
      const full = mode === 'full' ? undefined : new FullSocketCount();
      const before = mode === 'verify' ? sockstatCounters(o.procRoot, false, true, options.sockstatFiles).tcpInuse : undefined;
      if (s) {
        let dumpStates = twCounter ? o.states & ~(1 << TCP_TIME_WAIT) : o.states;
        if (mode === 'derive') dumpStates &= ~(1 << TCP_ESTABLISHED);
        for (const plan of plans({ ...o, states: dumpStates }, protocol)) {
          const saved = c.slice(base, base + 32);
          const savedFull = full?.full.slice();
          // unix_diag_msg: state at byte 2; inet_diag_msg: family at 0, state at 1.
          const visit: MessageVisitor =
            protocol === 'unix'
              ? (_v, _w, b, off, len) => {
                  if (len >= 16) c[base + (b[off + 2] & 15)]++;
                }
              : (v, _w, b, off, len) => {
                  if (len < INET_DIAG_MSG_SIZE) return;
                  c[base + (b[off] === AF_INET6 ? 16 : 0) + (b[off + 1] & 15)]++;
                  // idiag_timer 3: a timewait minisocket (here an orphaned FIN_WAIT2 one)
                  if (twCounter && b[off + 2] === 3) finWait2Timewait++;
                  full?.visit(v, off, len);
                };
          const rollback = () => {
            c.set(saved, base);
            finWait2Timewait = 0;
            if (full) full.full.splice(0, 2, ...savedFull!);
          };
          const r = dumpWithRetry(s, plan, src, { maxRetries: o.maxRetries, canRetry: true }, { visit, rollback }, notes);
          if (r) {
            failed = true;
            failedErrno = r.errno;
            src.errno = errnoName(r.errno);
            break;
          }
        }
      }
      // a state the counters could not stand for after all (unreadable): dumped and counted, no retry
      const dumpStatesCounted = (states: number): boolean => {
        let bad = false;
        for (const plan of plans({ ...o, states }, protocol)) {
          const r = s!.dump(plan.request, replyType(plan), (_v, _w, b, off, len) => {
            if (len >= INET_DIAG_MSG_SIZE) c[base + (b[off] === AF_INET6 ? 16 : 0) + (b[off + 1] & 15)]++;
          });
          src.malformed += r.malformed;
          if (r.interrupted) src.interrupted = true;
          if (r.errno !== 0) bad = true;
        }
        return bad;
      };
      if (!failed && s && mode === 'verify') {
        counters = sockstatCounters(o.procRoot, udpCounts, true, options.sockstatFiles);
        const note = judgePremise(before, counters.tcpInuse, full!.full);
        if (note) notes.push(note);
      } else if (!failed && s && mode === 'derive') {
        const inuse = kernelCounters().tcpInuse;
        if (inuse) {
          const [v4, v6] = derivedEstablished(inuse, full!.full);
          counts.add(p, AF_INET, TCP_ESTABLISHED, v4);
          counts.add(p, AF_INET6, TCP_ESTABLISHED, v6);
        } else {
          failed = dumpStatesCounted(1 << TCP_ESTABLISHED);
        }
      }
      if (!failed && s && protocol === 'tcp' && twCounter) {
        // TIME_WAIT was left out of the dump: the counter, less the FIN_WAIT2 timewait sockets it also counts
        const tw = kernelCounters().tcpTimeWait;
        if (tw !== undefined) counts.tcpTimeWaitUnsplit = Math.max(0, tw - finWait2Timewait);
        else {
          failed = dumpStatesCounted(1 << TCP_TIME_WAIT);
        }
      }
      if (failed) {
        if (protocol === 'tcp') counts.tcpTimeWaitUnsplit = 0;
        c.fill(0, base, base + 32);
        const t = new SocketTable(1024);
        // the same words as the table's fallback: "no diag module" for ENOENT only, a refusal for anything else
        readFromProc(t, protocol, o.families, o.states, o.procRoot, src, failedErrno ? fallbackReason(protocol, failedErrno) : undefined);
        for (let i = 0; i < t.length; i++) counts.add(t.proto[i], t.family[i], t.state[i]);
      }
      src.sockets = counts.total(protocol);
    }
  } finally {
    if (!session && s) s.close();
  }
  return { counts, sources, takenAt, durationMs: performance.now() - started, notes };
}

/** Whether the census can count ESTABLISHED: both families, every state (TIME_WAIT from its counter or dumped), no filter program. */
const reducible = (options: SnapshotOptions, o: ReturnType<typeof normalize>, twCounter: boolean): boolean =>
  options.established === 'count' &&
  !o.bytecode &&
  ((twCounter ? o.states | (1 << TCP_TIME_WAIT) : o.states) & ALL_STATES) === ALL_STATES &&
  o.families.includes(AF_INET) &&
  o.families.includes(AF_INET6);
