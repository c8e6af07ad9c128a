/**
 * One small /proc file as text, read the short way: open, read until the end into one buffer this thread keeps,
 * close. readFileSync also fstat()s the file (a /proc file says size 0, so that buys nothing), allocates a
 * buffer per call and joins chunks: about twice the time for a file of a few hundred bytes, which counts when
 * a gather over every namespace reads two or three of them per namespace and discovery one per process.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** this thread's read buffer; grown (doubled) for a larger file and kept */
let scratch = Buffer.allocUnsafe(16 * 1024);

/**
 * An open /proc file's whole text, read from its start (positional reads: a descriptor kept open is read again
 * each time, as the agent's namespace counters are), latin1 (/proc writes ASCII). Throws as readSync does.
 */
export function readProcFd(fd: number): string {
  let n = 0;
  for (;;) {
    if (n === scratch.length) {
      const bigger = Buffer.allocUnsafe(scratch.length * 2);
      scratch.copy(bigger, 0, 0, n);
      scratch = bigger;
    }
    const r = readSync(fd, scratch, n, scratch.length - n, n);
    if (r === 0) break;
    n += r;
  }
  return scratch.toString('latin1', 0, n);
}

/** The file's text, or undefined when it cannot be opened or read. */
export function readProcText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return readProcFd(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
