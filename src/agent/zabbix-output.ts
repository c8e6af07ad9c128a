/**
 * Trapper push every gather: all sockscope.* items (zeros included) with the gather's clock/ns. Unsent
 * pushes wait in a bounded buffer (oldest dropped first, counted) and are retried with backoff; what the
 * server refuses (items it does not know: "failed: N") is counted, and logged once when refusals start (and
 * once when they stop).
 */
import { durationMs } from '../config/load.js';
import type { PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { DiscoveryMemory, senderItems, type SenderItem } from '../zabbix/items.js';
import { explainRefusal } from '../zabbix/refusal.js';
import { sendItems } from '../zabbix/sender.js';
import { BufferedOutput, type Delivery, type Log } from './buffered-output.js';
import type { AgentOutput, Gather, OutputKind } from './output.js';

export interface ZabbixOutputConfig {
  server: string;
  timeoutMs: number;
  compress: boolean;
  /** items kept while the server is unreachable */
  bufferLimit: number;
  /** the Zabbix host the items belong to (the host tag when not given) */
  host?: () => string;
  /** buffer_strategy = "disk": the parent directory of the disk buffer */
  bufferDirectory?: string;
}

const ITEMS = {
  encode: (items: readonly SenderItem[]) => Buffer.from(JSON.stringify(items)),
  decode: (b: Buffer) => JSON.parse(b.toString('utf8')) as SenderItem[],
};

export class ZabbixOutput extends BufferedOutput<SenderItem> {
  readonly name = 'zabbix';
  private refusing = false;
  /** port groups and listening ports pushed before: 0 for their items while Zabbix keeps them (LLD lifetime) */
  private discovered = new DiscoveryMemory();

  constructor(
    private readonly cfg: ZabbixOutputConfig,
    log: Log,
  ) {
    super(cfg.bufferLimit, 1000, log, {
      peer: 'zabbix server',
      unit: 'items',
      where: { server: cfg.server },
      leftAtExit: 'exiting with Zabbix items still buffered',
    });
    if (cfg.bufferDirectory) this.useDisk(cfg.bufferDirectory, ITEMS, 'outputs.zabbix.buffer_directory');
  }

  protected itemsOf(g: Gather): SenderItem[] | undefined {
    const metrics = g.hostMetrics ?? g.metrics; // the host's: the namespaces' labeled metrics have no items
    if (!metrics) return undefined;
    return senderItems({ metrics, report: g.report, time: metrics[0]?.time ?? Date.now() }, this.cfg.host?.() ?? '', this.discovered);
  }

  /** a reload's replacement keeps what was discovered, so gone ports keep reading 0 */
  override async adopt(prev: AgentOutput): Promise<void> {
    await super.adopt(prev);
    if (prev instanceof ZabbixOutput) this.discovered = prev.discovered;
  }

  override stats(w: PrometheusWriter): void {
    super.stats(w);
    w.sample('zabbix_items_failed_total', 'items the Zabbix server answered as failed (no such host or trapper item)', 'counter', {}, this.refusedCount());
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

export const zabbixOutput: OutputKind = {
  name: 'zabbix',
  settings: (c) => (c.outputs.zabbix.enabled ? c.outputs.zabbix : undefined),
  needs: { metrics: true },
  create: (c, ctx) => {
    const z = c.outputs.zabbix;
    return new ZabbixOutput(
      {
        server: z.server,
        timeoutMs: durationMs(z.timeout),
        compress: z.compress,
        bufferLimit: z.buffer_limit,
        host: () => z.host || ctx.hostTag(),
        bufferDirectory: z.buffer_strategy === 'disk' ? z.buffer_directory : undefined,
      },
      ctx.log,
    );
  },
};
