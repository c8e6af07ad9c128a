/**
 * What every push output shares (InfluxDB, Zabbix): a bounded in-memory buffer (beyond the limit the oldest go
 * first, counted), batches taken off the buffer while on the wire and put back at its head when the send fails,
 * exponential backoff between failed attempts (1 s doubling to 30 s), one flush at a time, reachability logged
 * once per change of state (not per retry), and a hand-over of what is still waiting when a reload replaces
 * the output. Subclasses say how one batch is delivered.
 */
export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface OutputStats {
  buffered: number;
  limit: number;
  written: number;
  dropped: number;
  errors: number;
}

/** How a batch went: delivered (some maybe refused for good), or worth another try later. */
export type Delivery = { written: number; dropped?: number; refused?: number } | { retry: string };

export abstract class BufferedOutput<T> {
  protected buffer: T[] = [];
  protected readonly stats = { written: 0, dropped: 0, errors: 0, refused: 0 };
  private failures = 0;
  private retryAt = 0;
  private healthy = true;
  /** items of the batch on the wire: out of the buffer until answered */
  private inFlight = 0;
  /** replaced by a reload: stop after the batch in flight */
  private retired = false;
  private sending: Promise<void> | undefined;

  constructor(
    protected readonly limit: number,
    protected readonly batchSize: number,
    protected readonly log: Log,
    /** for log lines: what the output talks to ("influxdb"), what it sends ("metrics"), where (fields) */
    private readonly label: { peer: string; unit: string; where: Record<string, unknown> },
  ) {}

  /** Deliver one batch. Throwing counts as { retry }. */
  protected abstract deliver(batch: T[]): Promise<Delivery>;

  add(items: readonly T[]): void {
    this.buffer.push(...items);
    this.trim(true);
  }

  private trim(warn: boolean): void {
    const over = this.buffer.length - this.limit;
    if (over <= 0) return;
    this.buffer.splice(0, over);
    this.stats.dropped += over;
    if (warn) this.log('warn', `${this.label.peer}: buffer full, dropped the oldest ${this.label.unit}`, { dropped: over, limit: this.limit });
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
    next.add(this.take());
    next.healthy = this.healthy;
    next.failures = this.failures;
    next.retryAt = this.retryAt;
  }

  snapshotStats(): OutputStats {
    const { refused: _refused, ...counts } = this.stats;
    return { buffered: this.buffer.length + this.inFlight, limit: this.limit, ...counts };
  }

  /** Items the server received but refused (Zabbix: "failed: N"); counted apart from drops. */
  refusedCount(): number {
    return this.stats.refused;
  }

  /** Send what is buffered (unless backing off); one flush at a time. `force` ignores the backoff (shutdown). */
  flush(force = false): Promise<void> {
    if (this.sending) return this.sending;
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
        this.trim(false);
        this.stats.errors++;
        this.failures++;
        this.retryAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        this.setHealthy(false, result.retry);
        return;
      }
      this.stats.written += result.written;
      this.stats.dropped += result.dropped ?? 0;
      this.stats.refused += result.refused ?? 0;
      this.failures = 0;
      this.retryAt = 0;
      this.setHealthy(true);
    }
  }

  private setHealthy(ok: boolean, problem?: string): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    const { peer, unit, where } = this.label;
    if (ok) this.log('info', `${peer} reachable again: sending the buffered ${unit}`, { ...where, buffered: this.buffer.length });
    else this.log('error', `${peer} unreachable: keeping ${unit} in the buffer and retrying with backoff`, { ...where, problem, buffered: this.buffer.length, limit: this.limit });
  }
}
