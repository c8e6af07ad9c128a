/**
 * A walk worker's findings as columns (src/procfs/holders-parallel.ts): one row per socket fd, and one
 * segment per /proc entry walked (entry, first row, end row), so the rows can be merged in /proc order.
 */
import type { HolderSink } from './processes.js';

export interface HolderColumnsBuffers {
  count: number;
  segmentCount: number;
  inode: Float64Array;
  pid: Int32Array;
  fd: Int32Array;
  segments: Int32Array;
  deniedPids: number;
  vanishedPids: number;
  processes: number;
}

export class HolderColumns implements HolderSink {
  /** socket inodes are unsigned longs ("socket:[%lu]"): a float64 holds them exactly up to 2^53 */
  inode = new Float64Array(1024);
  pid = new Int32Array(1024);
  fd = new Int32Array(1024);
  count = 0;
  segments = new Int32Array(3 * 64);
  segmentCount = 0;
  deniedPids = 0;
  vanishedPids = 0;
  processes = 0;

  add(inode: number, pid: number, fd: number): void {
    if (this.count === this.pid.length) {
      this.inode = grow(this.inode, new Float64Array(this.count * 2));
      this.pid = grow(this.pid, new Int32Array(this.count * 2));
      this.fd = grow(this.fd, new Int32Array(this.count * 2));
    }
    const i = this.count++;
    this.inode[i] = inode;
    this.pid[i] = pid;
    this.fd[i] = fd;
  }

  /** Rows [start, this.count) came from /proc entry `entry`. */
  segment(entry: number, start: number): void {
    if (start === this.count) return;
    if (3 * this.segmentCount === this.segments.length) this.segments = grow(this.segments, new Int32Array(this.segments.length * 2));
    const s = 3 * this.segmentCount++;
    this.segments[s] = entry;
    this.segments[s + 1] = start;
    this.segments[s + 2] = this.count;
  }

  /** The columns trimmed to their length, for postMessage (transfer their buffers). */
  toBuffers(): HolderColumnsBuffers {
    const { count, segmentCount, deniedPids, vanishedPids, processes } = this;
    return {
      count,
      segmentCount,
      deniedPids,
      vanishedPids,
      processes,
      inode: this.inode.slice(0, count),
      pid: this.pid.slice(0, count),
      fd: this.fd.slice(0, count),
      segments: this.segments.slice(0, 3 * segmentCount),
    };
  }

  static fromBuffers(b: HolderColumnsBuffers): HolderColumns {
    const c = new HolderColumns();
    Object.assign(c, b);
    return c;
  }
}

function grow<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
