/**
 * Trapper push every gather: all sockscope.* items (zeros included) with the gather's clock/ns. Unsent
 * pushes wait in a bounded buffer (oldest dropped first, counted) and are retried with backoff; what the
 * server refuses (items it does not know: "failed: N") is counted, and logged once when refusals start (and
 * once when they stop).
 */
import type { Log, OutputStats } from './influx-output.js';
import type { SenderItem } from '../zabbix/items.js';
import { sendItems } from '../zabbix/sender.js';

export interface ZabbixOutputConfig {
  server: string;
  timeoutMs: number;
  compress: boolean;
  /** items kept while the server is unreachable */
  bufferLimit: number;
}

export class ZabbixOutput {
  private buffer: SenderItem[] = [];
  private readonly stats = { written: 0, dropped: 0, errors: 0, refused: 0 };
  private failures = 0;
  private retryAt = 0;
  private healthy = true;
  private refusing = false;
  /** items of the batch on the wire (out of the buffer until answered; back at its head if the send fails) */
  private inFlight = 0;
  /** replaced by a reload: stop sending after the batch in flight */
  private retired = false;
  private sending: Promise<void> | undefined;

  constructor(private readonly cfg: ZabbixOutputConfig, private readonly log: Log) {}

  add(items: SenderItem[]): void {
    this.buffer.push(...items);
    this.trim();
  }

  /** Over the limit: the oldest go first, counted. */
  private trim(): void {
    const over = this.buffer.length - this.cfg.bufferLimit;
    if (over > 0) {
      this.buffer.splice(0, over);
      this.stats.dropped += over;
    }
  }

  /** Everything still waiting, oldest first; the buffer is left empty (a reload hands it to the new output). */
  take(): SenderItem[] {
    const items = this.buffer;
    this.buffer = [];
    this.retired = true;
    return items;
  }

  snapshotStats(): OutputStats & { refused: number } {
    return { buffered: this.buffer.length + this.inFlight, limit: this.cfg.bufferLimit, ...this.stats };
  }

  flush(force = false): Promise<void> {
    if (this.sending) return this.sending;
    if (!force && Date.now() < this.retryAt) return Promise.resolve();
    this.sending = this.drain().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length && !this.retired) {
      // the batch leaves the buffer while it is on the wire: items added meanwhile, and the limit, concern only
      // what waits; a failed batch goes back to the head
      const batch = this.buffer.splice(0, 1000);
      this.inFlight = batch.length;
      try {
        const answer = await sendItems(this.cfg.server, batch, { timeoutMs: this.cfg.timeoutMs, compress: this.cfg.compress });
        this.inFlight = 0;
        this.stats.written += Number.isFinite(answer.processed) ? answer.processed : batch.length;
        const failed = Number.isFinite(answer.failed) ? answer.failed : 0;
        this.stats.refused += failed;
        // logged when refusing starts and when it stops, not on every push: the info text changes every time
        // ("seconds spent: ..."), so it cannot tell a new problem from the same one
        const refusing = answer.response !== 'success' || failed > 0;
        if (refusing !== this.refusing) {
          if (refusing) this.log('warn', 'zabbix: the server refused items (does the host have the sockscope template?)', { server: this.cfg.server, info: answer.info });
          else this.log('info', 'zabbix: the server accepts every item again', { server: this.cfg.server });
          this.refusing = refusing;
        }
        this.failures = 0;
        this.setHealthy(true);
      } catch (e) {
        this.inFlight = 0;
        this.buffer.unshift(...batch);
        this.trim();
        this.stats.errors++;
        this.failures++;
        this.retryAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        this.setHealthy(false, (e as Error).message);
        return;
      }
    }
  }

  private setHealthy(ok: boolean, problem?: string): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    if (ok) this.log('info', 'zabbix server reachable again: sending the buffered items', { server: this.cfg.server, buffered: this.buffer.length });
    else this.log('error', 'zabbix server unreachable: keeping items and retrying with backoff', { server: this.cfg.server, problem, buffered: this.buffer.length });
  }
}
