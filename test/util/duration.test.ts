/** The one duration syntax (src/util/duration.ts), as every command and the config take it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/util/duration.js';
import { planGather } from '../../src/cli/gather.js';
import { loadConfig } from '../../src/config/load.js';

describe('parseDuration', () => {
  it('single and compound durations, Go style', () => {
    for (const [text, ms] of [
      ['500ms', 500],
      ['10s', 10_000],
      ['1m', 60_000],
      ['2h', 7_200_000],
      ['1m30s', 90_000],
      ['1h1m1s1ms', 3_661_001],
      ['1.5s', 1500],
      [' 10s ', 10_000],
    ] as const) {
      assert.equal(parseDuration(text), ms, text);
    }
  });

  it('anything else is not a duration', () => {
    for (const text of ['', '10', 's', '10 s', '-1s', '1d', '1m30', 'ms10', '1,5s', '1e3ms', '10sec'])
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  });

  it('execd --interval and the agent config take the same syntax (1m30s)', () => {
    const cli = planGather(['--signal', 'none', '--interval', '1m30s'], 'execd');
    assert.ok(cli !== 'help');
    assert.equal(cli.intervalMs, 90_000);
    assert.throws(() => planGather(['--signal', 'none', '--interval', '90'], 'execd'), /--interval must be a duration .* 1m30s; got '90'/);
    const l = loadConfig({ env: { SOCKSCOPE_AGENT_INTERVAL: '1m30s' } });
    assert.equal(l.config.agent.interval, '1m30s');
    assert.throws(() => loadConfig({ env: { SOCKSCOPE_AGENT_INTERVAL: '90' } }), /agent\.interval/);
  });
});
