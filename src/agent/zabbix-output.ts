/**
 * Trapper push every gather: all sockscope.* items (zeros included) with the gather's clock/ns. Unsent
 * pushes wait in a bounded buffer (oldest dropped first, counted) and are retried with backoff; what the
 * server refuses (items it does not know: "failed: N") is counted, and logged once when refusals start (and
 * once when they stop).
 */
import { BufferedOutput, type Delivery, type Log } from './buffered-output.js';
import type { SenderItem } from '../zabbix/items.js';
import { explainRefusal } from '../zabbix/refusal.js';
import { sendItems } from '../zabbix/sender.js';

export interface ZabbixOutputConfig {
  server: string;
  timeoutMs: number;
  compress: boolean;
  /** items kept while the server is unreachable */
  bufferLimit: number;
}

export class ZabbixOutput extends BufferedOutput<SenderItem> {
  private refusing = false;

  constructor(private readonly cfg: ZabbixOutputConfig, log: Log) {
    super(cfg.bufferLimit, 1000, log, { peer: 'zabbix server', unit: 'items', where: { server: cfg.server } });
  }

  protected async deliver(batch: SenderItem[]): Promise<Delivery> {
    const answer = await sendItems(this.cfg.server, batch, { timeoutMs: this.cfg.timeoutMs, compress: this.cfg.compress });
    const failed = Number.isFinite(answer.failed) ? answer.failed : 0;
    // logged when refusing starts and when it stops, not on every push: the info text changes every time
    // ("seconds spent: ..."), so it cannot tell a new problem from the same one
    const refusing = answer.response !== 'success' || failed > 0;
    if (refusing !== this.refusing) {
      if (refusing) this.log('warn', `zabbix: ${explainRefusal(batch, answer)}`, { server: this.cfg.server, info: answer.info });
      else this.log('info', 'zabbix: the server accepts every item again', { server: this.cfg.server });
      this.refusing = refusing;
    }
    return { written: Number.isFinite(answer.processed) ? answer.processed : batch.length, refused: failed };
  }
}
