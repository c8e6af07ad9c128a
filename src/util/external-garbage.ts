/**
 * A garbage collection on demand, for a long-running process whose big allocations are short-lived
 * ArrayBuffers (a snapshot's table, a rendered exposition). V8 frees an ArrayBuffer's memory only when its
 * object is collected, and collects for the sake of such "external" memory only after some 64 MB of it has
 * piled up: a gather every 10 s (a 12 MB table for 150k sockets in the worker, a 1.3 MB exposition and the
 * /metrics bodies on the main thread) would otherwise leave tens of megabytes of dead buffers resident
 * between collections. After a gather each thread calls collectExternalGarbage: a full collection when more
 * than `budgetBytes` of external memory is held, which costs a few milliseconds on these small heaps.
 *
 * V8 exposes gc() only under --expose-gc; the flag can be set at run time (it is process-wide), and a new
 * context then has gc as a global. Without it (the flag refused) nothing is collected early.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const f: unknown = runInNewContext('gc');
      gc = typeof f === 'function' ? (f as () => void) : null;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** A full collection if this thread's isolate holds more than budgetBytes of external memory. True if it ran. */
export function collectExternalGarbage(budgetBytes: number): boolean {
  if (getHeapStatistics().external_memory <= budgetBytes) return false;
  const f = collector();
  if (!f) return false;
  f();
  return true;
}

/**
 * Free ArrayBuffers now rather than at V8's next full collection: they are transferred (detached here) in a
 * message to a port that is closed, and a dropped message frees what it carried. For buffers known to be dead
 * that nothing else may still read (a snapshot's table after its gather); never for bytes a pending socket
 * write may still be reading.
 */
export function releaseBuffers(buffers: ArrayBuffer[]): void {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, buffers);
  port2.close();
  port1.close();
}
