/**
 * The read-ahead worker (read-ahead.ts): once handed the netlink socket, receives each wanted dump to its end
 * into the ring's slots, waiting when the ring is full or no dump is wanted, until the transport is closed.
 */
import { workerData } from 'node:worker_threads';
import { isSockscopeError } from '../errors.js';
import { loadLibc } from '../sys/libc.js';
import { endsDump } from './dump.js';
import { CONTROL_WORDS, Ctl, READER_WAKE, type ReadAheadData, SLOT_BYTES, SLOTS } from './read-ahead.js';

const { control, ring } = workerData as ReadAheadData;
const ctl = new Int32Array(control, 0, CONTROL_WORDS);
const lengths = new Int32Array(control, CONTROL_WORDS * 4, SLOTS);
const slots = Array.from({ length: SLOTS }, (_, k) => new Uint8Array(ring, k * SLOT_BYTES, SLOT_BYTES));
const views = slots.map((s) => new DataView(s.buffer, s.byteOffset, s.byteLength));

const libc = await loadLibc();

function receive(): void {
  const closed = () => Atomics.load(ctl, Ctl.closed) === 1;
  let produced = 0;
  let ended = 0;
  for (;;) {
    for (let w = Atomics.load(ctl, Ctl.wanted); ended >= w; w = Atomics.load(ctl, Ctl.wanted)) {
      if (closed()) return;
      Atomics.wait(ctl, Ctl.wanted, w);
    }
    // the ring full: wait until half of it is free (one wake-up per SLOTS / 2 datagrams, not one each)
    if (produced - Atomics.load(ctl, Ctl.consumed) >= SLOTS) {
      Atomics.store(ctl, Ctl.workerWaits, 1);
      for (let c = Atomics.load(ctl, Ctl.consumed); produced - c > SLOTS / 2; c = Atomics.load(ctl, Ctl.consumed)) {
        if (closed()) return;
        Atomics.wait(ctl, Ctl.consumed, c);
      }
      Atomics.store(ctl, Ctl.workerWaits, 0);
    }
    if (closed()) return;
    const k = produced % SLOTS;
    let n: number;
    try {
      n = libc.recv(Atomics.load(ctl, Ctl.fd), slots[k]);
      if (endsDump(views[k], 0, n)) ended++;
    } catch (e) {
      // thrown in order on the other side; the dump ends there
      const text = Buffer.from(JSON.stringify({ message: (e as Error).message, facts: isSockscopeError(e) ? e.facts : { syscall: 'recv' } }));
      const len = Math.min(text.length, SLOT_BYTES);
      slots[k].set(text.subarray(0, len));
      n = -1 - len;
      ended++;
    }
    Atomics.store(lengths, k, n);
    Atomics.store(ctl, Ctl.produced, ++produced);
    // the other thread waits for a datagram: wake it for this one, or once a few are ready, or at the dump's end
    const waiting = Atomics.load(ctl, Ctl.readerWaits);
    if (waiting !== 0 && (produced - Atomics.load(ctl, Ctl.consumed) >= READER_WAKE || n < 0 || ended >= Atomics.load(ctl, Ctl.wanted)))
      Atomics.notify(ctl, Ctl.produced);
  }
}

Atomics.store(ctl, Ctl.ready, 1);
try {
  receive();
} finally {
  Atomics.store(ctl, Ctl.stopped, 1);
  Atomics.notify(ctl, Ctl.stopped);
  Atomics.notify(ctl, Ctl.produced);
}
