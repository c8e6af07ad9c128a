/**
 * What every push output shares (InfluxDB, Zabbix): a bounded in-memory buffer (beyond the limit the oldest go
 * first, counted), batches taken off the buffer while on the wire and put back at its head when the send fails,
 * exponential backoff between failed attempts (1 s doubling to 30 s), one flush at a time, reachability logged
 * once per change of state (not per retry), and a hand-over of what is still waiting when a reload replaces
 * the output. Subclasses say how one batch is delivered.
 *
 * With buffer_strategy = "disk" the buffer is also written ahead to disk (disk-buffer.ts) as items are accepted,
 * and read back at the next start: the memory buffer mirrors the log's order, and every item that leaves the
 * buffer (delivered, refused, dropped) moves the log's head.
 */
import { join } from 'node:path';
import type { PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { DiskBuffer, type Codec } from './disk-buffer.js';
import type { AgentOutput, Gather, Log } from './output.js';

export type { Log } from './output.js';

export interface OutputStats {
  buffered: number;
  limit: number;
  written: number;
  dropped: number;
  errors: number;
}

/** How a batch went: delivered (some maybe refused for good), or worth another try later. */
export type Delivery = { written: number; dropped?: number; refused?: number } | { retry: string };

export abstract class BufferedOutput<T> implements AgentOutput {
  abstract readonly name: string;
  protected buffer: T[] = [];
  protected readonly counts = { written: 0, dropped: 0, errors: 0, refused: 0, torn: 0 };
  private failures = 0;
  /** the dropped count when the buffer became full (undefined: not dropping) */
  private droppingSince: number | undefined;
  private retryAt = 0;
  private healthy = true;
  /** items of the batch on the wire: out of the buffer until answered */
  private inFlight = 0;
  /** replaced by a reload: stop after the batch in flight */
  private retired = false;
  private sending: Promise<void> | undefined;
  /** buffer_strategy = "disk": where and how; opened on first use (a reload's replacement takes its predecessor's) */
  private disk: { dir: string; codec: Codec<T>; key: string } | undefined;
  private wal: DiskBuffer<T> | undefined;
  private walReady = false;
  /**
   * Items gone from memory but still in the log, because they were dropped while a batch was on the wire: `size`
   * of them, after the first `at` items of the log. Moving the head past them waits until what is before is gone.
   */
  private hole: { at: number; size: number } | undefined;

  constructor(
    protected readonly limit: number,
    protected readonly batchSize: number,
    protected readonly log: Log,
    /** for log lines: what the output talks to ("influxdb"), what it sends ("metrics"), where (fields) */
    private readonly label: { peer: string; unit: string; where: Record<string, unknown>; leftAtExit: string },
  ) {}

  /** buffer_strategy = "disk": the log goes in `<directory>/<output name>`, which must be writable (checked now). */
  protected useDisk(directory: string, codec: Codec<T>, key: string): void {
    this.disk = { dir: join(directory, this.label.peer.split(' ')[0]), codec, key };
    DiskBuffer.check(this.disk.dir, key);
  }

  /** Open the log (once) and put what it read back at the head of the buffer. */
  private ensureWal(): void {
    if (this.walReady) return;
    this.walReady = true;
    if (!this.disk) return;
    const { wal, items } = DiskBuffer.open(this.disk.dir, this.disk.codec, this.disk.key);
    this.wal = wal;
    this.counts.torn += wal.torn;
    if (wal.torn)
      this.log('warn', `${this.label.peer}: skipped torn or corrupt records in the disk buffer (a write cut short by a crash)`, {
        records: wal.torn,
        directory: wal.dir,
      });
    if (items.length) {
      this.buffer.unshift(...items);
      this.log('info', `${this.label.peer}: read back ${this.label.unit} from the disk buffer`, { buffered: items.length, directory: wal.dir });
      this.trim();
    }
  }

  /** The oldest n items of the log (memory's head) are gone. */
  private consumeLog(n: number): void {
    if (!this.wal || n <= 0) return;
    if (this.hole && n >= this.hole.at) {
      const extra = this.hole.size;
      this.hole = undefined;
      this.wal.consume(n + extra);
    } else {
      if (this.hole) this.hole.at -= n;
      this.wal.consume(n);
    }
  }

  /** Deliver one batch. Throwing counts as { retry }. */
  protected abstract deliver(batch: T[]): Promise<Delivery>;

  /** The gather's items for this output (lines, Zabbix items). */
  protected abstract itemsOf(g: Gather): readonly T[] | undefined;

  /** What a reload's replacement can take over as it is (same item format). */
  protected compatible(_prev: BufferedOutput<T>): boolean {
    return true;
  }

  accept(g: Gather): void {
    const items = this.itemsOf(g);
    if (!items) return;
    this.add(items);
    void this.flush();
  }

  /** A reload: the counters always carry over; what waits when the items fit, else it gets a last flush. */
  async adopt(prev: AgentOutput): Promise<void> {
    const p = prev as BufferedOutput<T>;
    Object.assign(this.counts, p.counts);
    if (this.compatible(p)) return p.handOver(this);
    await p.flush(true);
    const left = p.take();
    p.wal?.destroy();
    if (left.length)
      this.log('warn', `${this.label.peer}: dropped buffered ${this.label.unit} the reloaded configuration cannot send`, { dropped: left.length });
  }

  async close(why: 'exit' | 'reload'): Promise<void> {
    if (why === 'reload') await this.flush(true); // the output was removed: a last try
    const left = this.buffer.length + this.inFlight;
    this.retired = true;
    if (why === 'exit') {
      // on disk it waits for the next start
      this.wal?.close();
      if (left > 0) this.log('warn', this.label.leftAtExit, { buffered: left, ...this.label.where, ...(this.wal ? { kept_on_disk: this.wal.dir } : {}) });
      return;
    }
    this.wal?.destroy();
    if (left > 0) this.log('warn', `${this.label.peer}: dropped buffered ${this.label.unit}: the reloaded configuration has no such output`, { dropped: left });
  }

  stats(w: PrometheusWriter): void {
    const s = this.snapshotStats();
    const output = { output: this.name };
    w.sample('output_buffer_metrics', 'metrics waiting in the output buffer', 'gauge', output, s.buffered);
    w.sample('output_buffer_limit_metrics', 'the output buffer limit (metric_buffer_limit)', 'gauge', output, s.limit);
    w.sample('output_written_metrics_total', 'metrics the output delivered', 'counter', output, s.written);
    w.sample('output_dropped_metrics_total', 'metrics dropped: buffer full, or refused by the server', 'counter', output, s.dropped + this.refusedCount());
    w.sample('output_errors_total', 'failed write attempts', 'counter', output, s.errors);
    w.sample(
      'output_buffer_torn_records_total',
      'records of the disk buffer skipped when read back: cut short or corrupt (a crash mid-write)',
      'counter',
      output,
      this.counts.torn,
    );
  }

  add(items: readonly T[]): void {
    try {
      this.ensureWal();
      this.wal?.append(items); // written before it counts as accepted
    } catch (e) {
      // a full or failing disk: memory from now on, said once
      this.log('error', `${this.label.peer}: the disk buffer failed: buffering in memory only from now on`, {
        error: (e as Error).message,
        directory: this.disk?.dir,
      });
      this.wal?.close();
      this.wal = undefined;
      this.disk = undefined;
    }
    this.buffer.push(...items);
    this.trim();
  }

  /** Beyond the limit the oldest go, counted; logged once when dropping starts (and once when there is room again). */
  private trim(): void {
    const over = this.buffer.length - this.limit;
    if (over <= 0) return;
    this.buffer.splice(0, over);
    this.counts.dropped += over;
    if (this.wal) {
      if (this.inFlight === 0) this.consumeLog(over);
      else if (!this.hole) this.hole = { at: this.inFlight, size: over };
      else if (this.hole.at === this.inFlight) this.hole.size += over;
      // else: left in the log, read back after a crash (more than the limit, never less)
    }
    if (this.droppingSince === undefined) {
      this.droppingSince = this.counts.dropped - over;
      this.log('warn', `${this.label.peer}: buffer full, dropped the oldest ${this.label.unit} (logged once per episode)`, {
        dropped: over,
        limit: this.limit,
      });
    }
  }

  /** After a delivery: the buffer has room again, the dropping episode is over. */
  private roomAgain(): void {
    if (this.droppingSince === undefined || this.buffer.length >= this.limit) return;
    this.log('info', `${this.label.peer}: buffer has room again`, { dropped: this.counts.dropped - this.droppingSince, buffered: this.buffer.length });
    this.droppingSince = undefined;
  }

  /** Everything still waiting, oldest first; this output sends nothing more. */
  take(): T[] {
    const items = this.buffer;
    this.buffer = [];
    this.retired = true;
    return items;
  }

  /** A reload: what waits, and the reachability state (backoff, what was last logged), go to `next`. */
  handOver(next: BufferedOutput<T>): void {
    next.droppingSince = this.droppingSince;
    this.ensureWal();
    if (this.wal && next.disk?.dir === this.wal.dir && !next.walReady) {
      // the same log: it moves, with where the memory buffer stands in it (a batch on the wire is a hole at its head)
      next.wal = this.wal;
      next.walReady = true;
      next.hole = this.inFlight > 0 ? { at: 0, size: this.inFlight + (this.hole?.at === this.inFlight ? this.hole.size : 0) } : this.hole;
      this.wal = undefined;
      next.buffer.push(...this.take());
      next.trim();
    } else {
      next.add(this.take());
      this.wal?.destroy(); // its items are in next now
    }
    next.healthy = this.healthy;
    next.failures = this.failures;
    next.retryAt = this.retryAt;
  }

  snapshotStats(): OutputStats {
    const { refused: _refused, torn: _torn, ...counts } = this.counts;
    return { buffered: this.buffer.length + this.inFlight, limit: this.limit, ...counts };
  }

  /** Items the server received but refused (Zabbix: "failed: N"); counted apart from drops. */
  refusedCount(): number {
    return this.counts.refused;
  }

  /** Send what is buffered (unless backing off); one flush at a time. `force` ignores the backoff (shutdown). */
  flush(force = false): Promise<void> {
    if (this.sending) return this.sending;
    this.ensureWal();
    if (!force && Date.now() < this.retryAt) return Promise.resolve();
    this.sending = this.drain().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.retired) {
      const batch = this.buffer.splice(0, this.batchSize);
      this.inFlight = batch.length;
      let result: Delivery;
      try {
        result = await this.deliver(batch);
      } catch (e) {
        result = { retry: (e as Error).message };
      }
      this.inFlight = 0;
      if ('retry' in result) {
        this.buffer.unshift(...batch);
        this.trim();
        this.counts.errors++;
        this.failures++;
        this.retryAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        this.setHealthy(false, result.retry);
        return;
      }
      this.consumeLog(batch.length);
      this.counts.written += result.written;
      this.counts.dropped += result.dropped ?? 0;
      this.counts.refused += result.refused ?? 0;
      this.failures = 0;
      this.retryAt = 0;
      this.setHealthy(true);
      this.roomAgain();
    }
  }

  private setHealthy(ok: boolean, problem?: string): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    const { peer, unit, where } = this.label;
    if (ok) this.log('info', `${peer} reachable again: sending the buffered ${unit}`, { ...where, buffered: this.buffer.length });
    else
      this.log('error', `${peer} unreachable: keeping ${unit} in the buffer and retrying with backoff`, {
        ...where,
        problem,
        buffered: this.buffer.length,
        limit: this.limit,
      });
  }
}
