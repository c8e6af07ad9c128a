/** `--stdout` / [outputs.stdout]: each gather's line protocol on stdout (nanosecond timestamps), one batch per gather. */
import { influxLine } from '../outputs/metrics/influx.js';
import type { AgentOutput, Gather, OutputContext, OutputKind } from './output.js';

class StdoutOutput implements AgentOutput {
  readonly name = 'stdout';
  constructor(private readonly ctx: OutputContext) {}

  accept(g: Gather): void {
    if (!g.lineMetrics) return;
    const text = g.lineMetrics
      .map((m) => influxLine(m))
      .filter(Boolean)
      .join('\n');
    (this.ctx.stdout ?? ((t) => process.stdout.write(t)))(text ? `${text}\n` : '');
  }

  async flush(): Promise<void> {}
  stats(): void {}
  async close(): Promise<void> {}
}

export const stdoutOutput: OutputKind = {
  name: 'stdout',
  settings: (c) => (c.outputs.stdout.enabled ? c.outputs.stdout : undefined),
  needs: { metrics: true },
  create: (_c, ctx) => new StdoutOutput(ctx),
};
