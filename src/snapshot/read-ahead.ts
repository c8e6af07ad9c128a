/**
 * Read-ahead: the datagrams of a big dump received by a worker thread (read-ahead-worker.ts) while this thread
 * decodes and formats the ones before. The kernel walks its socket table inside recv(), so on one thread a
 * listing costs the kernel's time plus ours; with the receiving on another CPU it costs about the longer of the
 * two. It is a Transport like the netlink socket itself: the dump loop (dump.ts), the retry policy and the
 * decoders are the same code, only where recv() gets its datagram from differs.
 *
 * A worker takes ~30 ms to start. Until it is ready this thread receives as without read-ahead; then, between
 * two of its own recv() calls, it hands the socket over: the worker receives the rest of the dump in progress
 * and every later one (one per request sent), into a ring of SLOTS slots of a SharedArrayBuffer, and stops at
 * each dump's end (endsDump: runDump's rules) until the next request. recv() here copies the next slot into the
 * caller's buffer, waiting (Atomics.wait) when the worker is behind; the worker waits when the ring is full, so
 * memory stays at the ring's 2 MiB whatever the dump's size. An error of the worker's recv() (a timeout, a
 * datagram larger than a slot) is thrown here, in order, as the same NetlinkError.
 */
import { Worker } from 'node:worker_threads';
import { NetlinkError, type SockscopeErrorFacts } from '../errors.js';
import type { Libc } from '../sys/libc.js';
import type { Transport } from './session.js';

/** Slots in the ring, each one datagram (the kernel caps dump datagrams near 32 KiB) */
export const SLOTS = 32;
export const SLOT_BYTES = 64 * 1024;

/** The control words (Int32Array over `control`), then SLOTS lengths: a datagram's, or -1 - an error's JSON length */
export const Ctl = {
  /** datagrams the worker put in the ring */
  produced: 0,
  /** datagrams this thread took from it */
  consumed: 1,
  /** dumps the worker is to receive to their end (the one in progress at the hand-over, then one per request) */
  wanted: 2,
  /** 1 once the worker can receive */
  ready: 3,
  /** 1: the transport is closed, the worker stops */
  closed: 4,
  /** 1: the worker has stopped (it no longer touches the socket) */
  stopped: 5,
  /** 1 while this thread waits for a datagram */
  readerWaits: 6,
  /** 1 while the worker waits for room in the ring */
  workerWaits: 7,
  /** the netlink socket, set before the first dump is wanted */
  fd: 8,
} as const;
/** A waiting reader is woken once this many datagrams are ready (or at the dump's end): fewer wake-ups */
export const READER_WAKE = 4;
export const CONTROL_WORDS = 9;

export interface ReadAheadData {
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

/** A read-ahead worker started ahead of its socket (startReadAhead), for the next transport to use. */
interface ReadAheadThread {
  worker: Worker | undefined;
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

let started: ReadAheadThread | undefined;

function startThread(): ReadAheadThread {
  const control = new SharedArrayBuffer((CONTROL_WORDS + SLOTS) * 4);
  const ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  let worker: Worker | undefined;
  try {
    worker = new Worker(new URL('./read-ahead-worker.js', import.meta.url), { workerData: { control, ring } satisfies ReadAheadData });
    worker.unref();
    // a worker that fails before it is ready is never handed the socket: this thread receives everything
    worker.on('error', () => undefined);
  } catch {
    worker = undefined;
  }
  return { worker, control, ring };
}

/**
 * Start the worker now, before the socket is opened (ls does this first thing when the listing will be big: the
 * worker's ~30 ms start then overlaps the rest of ls's start). The next readAheadTransport uses it; one never
 * used waits, unreferenced, until the process exits.
 */
export function startReadAhead(): void {
  started ??= startThread();
}

/** Longest wait for the worker's next datagram: past the socket's own receive timeout (10 s), which it reports. */
const WAIT_MS = 30_000;

export interface ReadAheadTransport extends Transport {
  /** the worker can receive (it is handed the socket at the next recv) */
  ready(): boolean;
  /** the worker receives: recv() takes from the ring */
  handedOver(): boolean;
}

/**
 * A transport over the netlink socket `fd` that receives ahead in a worker thread once that thread is ready.
 * Closing it closes `fd`.
 */
export function readAheadTransport(libc: Libc, fd: number): ReadAheadTransport {
  const { worker, control, ring } = started ?? startThread();
  started = undefined;
  const ctl = new Int32Array(control, 0, CONTROL_WORDS);
  const lengths = new Int32Array(control, CONTROL_WORDS * 4, SLOTS);
  const slot = (k: number) => new Uint8Array(ring, k * SLOT_BYTES, SLOT_BYTES);
  Atomics.store(ctl, Ctl.fd, fd);
  let handed = false;
  let consumed = 0;

  const take = (buf: Uint8Array): number => {
    if (Atomics.load(ctl, Ctl.produced) === consumed) {
      Atomics.store(ctl, Ctl.readerWaits, 1);
      for (let p = Atomics.load(ctl, Ctl.produced); p === consumed; p = Atomics.load(ctl, Ctl.produced)) {
        if (Atomics.load(ctl, Ctl.stopped) === 1 || Atomics.wait(ctl, Ctl.produced, p, WAIT_MS) === 'timed-out') {
          throw new NetlinkError('recv() failed: the read-ahead thread stopped answering', { syscall: 'recv' });
        }
      }
      Atomics.store(ctl, Ctl.readerWaits, 0);
    }
    const k = consumed % SLOTS;
    const n = Atomics.load(lengths, k);
    const data = slot(k);
    try {
      if (n < 0) {
        const { message, facts } = JSON.parse(Buffer.from(data.buffer, data.byteOffset, -1 - n).toString('utf8')) as {
          message: string;
          facts: SockscopeErrorFacts;
        };
        throw new NetlinkError(message, facts);
      }
      if (n > buf.byteLength)
        throw new NetlinkError(`recv(): a ${n}-byte datagram did not fit the ${buf.byteLength}-byte buffer`, { syscall: 'recv', length: n });
      buf.set(data.subarray(0, n));
      return n;
    } finally {
      Atomics.store(ctl, Ctl.consumed, ++consumed);
      // the worker waits for half the ring free: wake it then
      if (Atomics.load(ctl, Ctl.workerWaits) !== 0 && Atomics.load(ctl, Ctl.produced) - consumed <= SLOTS / 2) Atomics.notify(ctl, Ctl.consumed);
    }
  };

  return {
    ready: () => Atomics.load(ctl, Ctl.ready) === 1,
    handedOver: () => handed,
    send(message) {
      libc.sendToKernel(fd, message);
      if (handed) {
        Atomics.add(ctl, Ctl.wanted, 1);
        Atomics.notify(ctl, Ctl.wanted);
      }
    },
    recv(buf) {
      if (!handed) {
        if (Atomics.load(ctl, Ctl.ready) !== 1) return libc.recv(fd, buf);
        // recv() is only called inside a dump: the worker takes over the rest of it
        handed = true;
        Atomics.add(ctl, Ctl.wanted, 1);
        Atomics.notify(ctl, Ctl.wanted);
      }
      return take(buf);
    },
    close() {
      Atomics.store(ctl, Ctl.closed, 1);
      Atomics.notify(ctl, Ctl.wanted);
      Atomics.notify(ctl, Ctl.consumed);
      // a worker handed the socket may be inside recv() (a dump abandoned by an error): the kernel answers it
      // at once; wait for it before the descriptor is closed (and its number reused)
      if (handed) Atomics.wait(ctl, Ctl.stopped, 0, WAIT_MS);
      libc.close(fd);
      void worker?.terminate();
    },
  };
}
