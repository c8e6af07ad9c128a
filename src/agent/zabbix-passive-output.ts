/**
 * [zabbix_agent]: answers Zabbix passive checks (src/zabbix/passive.ts) from the latest gather, as an agent output:
 * it listens (open, announce) and counts what it answered and refused (stats).
 */
import { durationMs } from '../config/load.js';
import type { PrometheusWriter } from '../outputs/metrics/prometheus.js';
import { answerer } from '../zabbix/answer.js';
import { PassiveAgent } from '../zabbix/passive.js';
import type { AgentOutput, OutputContext, OutputKind } from './output.js';

class ZabbixPassiveOutput implements AgentOutput {
  readonly name = 'zabbix_agent';
  readonly passive: PassiveAgent;
  /** counts of the outputs this one replaced (a reload) */
  private carried = { answered: 0, refused: 0 };

  constructor(
    private readonly za: { listen: string[]; allow: string[]; timeout: string },
    private readonly ctx: OutputContext,
  ) {
    this.passive = new PassiveAgent(
      { listen: za.listen, allow: za.allow, timeoutMs: durationMs(za.timeout) },
      answerer({
        version: ctx.version,
        hostname: ctx.hostTag(),
        latest: () => {
          const l = ctx.latest();
          return l ? { metrics: l.hostMetrics ?? l.metrics ?? [], report: l.report, time: l.at } : undefined;
        },
        snapshot: (o) => ctx.snapshot(o),
      }),
    );
  }

  async open(): Promise<void> {
    try {
      await this.passive.start();
    } catch (e) {
      await this.passive.close(); // the addresses it did open
      throw e;
    }
  }

  announce(): void {
    this.ctx.log('info', 'answering Zabbix passive checks', {
      listen: this.passive.addresses(),
      allow: this.za.allow.length ? this.za.allow : ['127.0.0.1', '::1'],
    });
  }

  accept(): void {}
  async flush(): Promise<void> {}

  stats(w: PrometheusWriter): void {
    w.sample('zabbix_passive_answered_total', 'Zabbix passive checks answered', 'counter', {}, this.carried.answered + this.passive.answered);
    w.sample(
      'zabbix_passive_refused_total',
      'Zabbix connections closed without an answer (not allowed, unframed, oversized, timed out)',
      'counter',
      {},
      this.carried.refused + this.passive.refused,
    );
  }

  async adopt(prev: AgentOutput): Promise<void> {
    const p = prev as ZabbixPassiveOutput;
    this.carried = { answered: p.carried.answered + p.passive.answered, refused: p.carried.refused + p.passive.refused };
  }

  close(): Promise<void> {
    return this.passive.close();
  }
}

export const zabbixPassiveOutput: OutputKind = {
  name: 'zabbix_agent',
  settings: (c) => (c.zabbix_agent.enabled ? { ...c.zabbix_agent, host: c.agent.hostname } : undefined),
  needs: { metrics: true },
  create: (c, ctx) => new ZabbixPassiveOutput(c.zabbix_agent, ctx),
};
