/**
 * The destroy-event thread: one NETLINK_SOCK_DIAG socket joined to the destroy groups, drained as fast as the
 * kernel fills it (a blocking recv with a short timeout, so a stop request is seen within it), decoded into
 * SocketTable batches transferred to the thread that started it. Receiving is all this thread does, so a busy
 * consumer (a gather, a slow terminal) never leaves the socket's buffer to overflow.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NETLINK_SOCK_DIAG } from '../diag/constants.js';
import { isSockscopeError } from '../errors.js';
import { EAGAIN, ENOBUFS, errnoName } from '../sys/errno.js';
import { CLONE_NEWNET, loadLibc } from '../sys/libc.js';
import { SocketTable } from '../snapshot/table.js';
import { appendDestroyDatagram, type EventCounts } from './events.js';
import type { SubscriptionMessage, SubscriptionSettings, SubscriptionStats } from './subscription.js';

const settings = workerData as SubscriptionSettings;
const control = new Int32Array(settings.control);
const post = (m: SubscriptionMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

async function run(): Promise<void> {
  const libc = await loadLibc();
  if (settings.netns) {
    const nsfd = libc.openReadOnly(settings.netns);
    try {
      libc.setns(nsfd, CLONE_NEWNET); // this thread only
    } finally {
      libc.close(nsfd);
    }
  }
  const fd = libc.openNetlink(NETLINK_SOCK_DIAG, {
    rcvbufBytes: settings.rcvbufBytes,
    forceRcvbuf: true,
    timeoutMs: settings.flushMs,
    groups: settings.groups,
  });
  const counts: EventCounts = { events: 0, malformed: 0 };
  const stats: SubscriptionStats = { events: 0, malformed: 0, overruns: 0, lost: 0, rcvbufBytes: libc.receiveStats(fd).rcvbufBytes, batches: 0 };
  post({ kind: 'ready', stats: { ...stats } });
  const bytes = new Uint8Array(64 * 1024); // a destroy datagram is one message of a few hundred bytes
  const view = new DataView(bytes.buffer);
  const words = new Uint32Array(bytes.buffer);
  let table = new SocketTable(settings.batchRows, settings.batchRows * 320);
  let firstAt = 0;
  const flush = () => {
    stats.events = counts.events;
    stats.malformed = counts.malformed;
    stats.lost = libc.receiveStats(fd).drops; // SK_MEMINFO_DROPS: every multicast message the socket had no room for
    if (table.length === 0) return post({ kind: 'stats', stats: { ...stats } });
    stats.batches++;
    Atomics.add(control, 1, 1); // in flight until the consumer is done with it
    const { buffers, transfer } = table.toBuffers();
    post({ kind: 'batch', buffers, stats: { ...stats } }, transfer);
    table = new SocketTable(settings.batchRows, settings.batchRows * 320);
  };
  let lastStats = performance.now();
  try {
    let stopAt = 0;
    for (;;) {
      const stopping = Atomics.load(control, 0) !== 0;
      if (stopping && stopAt === 0) stopAt = performance.now();
      // what was queued when asked to stop, not a flood that never ends: at most a second more
      if (stopping && performance.now() - stopAt > 1000) break;
      // the consumer is behind (a slow terminal, a long gather): stop reading, so the kernel's buffer takes the
      // burst and counts what it cannot hold, instead of batches piling up in memory
      const inFlight = Atomics.load(control, 1);
      if (inFlight >= settings.maxInFlight && !stopping) {
        Atomics.wait(control, 1, inFlight, settings.flushMs);
        continue;
      }
      // once asked to stop: take what is queued without waiting, then the last batch
      const n = libc.tryRecv(fd, bytes, stopping);
      if (n > 0) {
        if (table.length === 0) firstAt = performance.now();
        appendDestroyDatagram(table, view, words, bytes, n, counts);
      } else if (n === -ENOBUFS) {
        stats.overruns++; // the kernel dropped messages: SK_MEMINFO_DROPS says how many (read at the next flush)
      } else if (n === -EAGAIN || n === 0) {
        if (stopping) break;
      } else {
        throw new Error(`recv() on the destroy-event socket failed: ${errnoName(-n)}`);
      }
      const now = performance.now();
      if (table.length >= settings.batchRows || (table.length > 0 && (n <= 0 || now - firstAt >= settings.flushMs))) {
        flush();
        lastStats = now;
      } else if (now - lastStats >= 1000) {
        flush(); // an idle stream still reports its counts (and drops) once a second
        lastStats = now;
      }
    }
    flush();
  } finally {
    libc.close(fd);
  }
  post({ kind: 'done', stats: { ...stats } });
}

run().catch((e: unknown) => {
  post({
    kind: 'error',
    code: isSockscopeError(e) ? e.code : 'ESOCKSCOPE_WORKER',
    message: (e as Error)?.message ?? String(e),
    facts: isSockscopeError(e) ? e.facts : {},
  });
});
