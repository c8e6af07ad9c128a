/**
 * The lifecycle measurement through the Prometheus writer: the final-RTT histogram is a real histogram family
 * (TYPE histogram, cumulative _bucket with le, _sum, _count per label set), and promtool accepts both formats.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_LISTEN } from '../../src/diag/constants.js';
import { LifecycleTracker } from '../../src/lifecycle/tracker.js';
import { assembleExposition, PrometheusWriter } from '../../src/outputs/metrics/prometheus.js';
import { promtoolCheckMetrics, promtoolParseOpenMetrics } from '../helpers/metrics.js';
import { findPromtool } from '../helpers/tools.js';
import { connTable } from '../helpers/lifecycle-rows.js';

function exposition(): { text: string; om: string } {
  const tr = new LifecycleTracker();
  tr.observe(connTable({ cookie: 1, sport: 443, dport: 0, state: TCP_LISTEN }), 0);
  tr.closed(
    connTable(
      { cookie: 2, sport: 443, dport: 40000, acked: 10, received: 20, rttUs: 80 },
      { cookie: 3, sport: 443, dport: 40001, acked: 10, received: 20, rttUs: 3000 },
      { cookie: 4, sport: 40002, dport: 5432, acked: 10, received: 20, rttUs: 700_000 },
    ),
  );
  const w = new PrometheusWriter();
  tr.collect(1_000).forEach(w.write);
  const e = w.exposition();
  return { text: assembleExposition([e], 'text').toString(), om: assembleExposition([e], 'openmetrics').toString() };
}

describe('lifecycle in Prometheus', () => {
  const { text, om } = exposition();

  it('the final RTT is a histogram family: buckets in increasing le up to +Inf, then _sum and _count', () => {
    assert.match(text, /^# TYPE sockscope_lifecycle_close_rtt_seconds histogram$/m);
    const inbound = text.split('\n').filter((l) => l.startsWith('sockscope_lifecycle_close_rtt_seconds') && l.includes('addr_port="443"'));
    const buckets = inbound.filter((l) => l.includes('_bucket{'));
    assert.equal(buckets.length, 13);
    assert.match(buckets[0], /le="0.0001"\} 1$/); // 80 µs
    assert.match(buckets[3], /le="0.005"\} 2$/); // and 3 ms
    assert.match(buckets[12], /le="\+Inf"\} 2$/);
    assert.match(inbound[13], /^sockscope_lifecycle_close_rtt_seconds_sum\{.*\} 0.00308$/);
    assert.match(inbound[14], /^sockscope_lifecycle_close_rtt_seconds_count\{.*\} 2$/);
    assert.match(text, /^sockscope_lifecycle_closed_total\{direction="outbound",addr_port="remote:5432"\} 1$/m);
  });

  const promtool = findPromtool();
  it('promtool: check metrics is clean, and the OpenMetrics text parses', { skip: promtool.skip ?? false }, () => {
    const lint = promtoolCheckMetrics(promtool.path!, text);
    assert.equal(lint.status, 0, lint.output);
    const parsed = promtoolParseOpenMetrics(promtool.path!, om, 1_800_000_000);
    assert.equal(parsed.status, 0, parsed.output);
  });
});
