/**
 * PrometheusWriter's label contexts (context(), reset()): what the agent's namespace walk writes through one
 * writer kept across gathers, each namespace's labels rendered once per (inode, labels). The exposition must be
 * the bytes a fresh writer without contexts gives for the same metrics, gather after gather, as namespaces
 * appear, change identity (a pod appears) and vanish. The metrics are the recorded fixture's (test/fixtures),
 * replayed through `sockscope gather`'s plan, labeled per namespace as the walk labels them.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Metric } from '../../../src/model/metric.js';
import { PrometheusWriter } from '../../../src/outputs/metrics/prometheus.js';
import { GOLDEN_CASES, renderGolden } from '../../golden/metrics-fixture.js';
import { parseExposition } from '../../helpers/metrics.js';

/** A namespace of a gather: its key (inode) and its labels, as src/netns/walk-thread.ts makes them. */
interface Ns {
  inode: number;
  tags: Record<string, string>;
}

/** What tagged() (src/gather/gather.ts) hands the writer: the gather's tags first, the collector's win. */
const labeled = (m: Metric, tags: Record<string, string>): Metric => ({ ...m, tags: { ...tags, ...m.tags } });

/** Each kept writer's twin, kept as long: the same gathers with the namespace's tags implied (context's `implied`). */
const impliedTwin = new WeakMap<PrometheusWriter, PrometheusWriter>();

/**
 * One gather through the kept writer, with contexts; and through a fresh one without: both texts. The kept writer's
 * twin writes the metrics untagged, the namespace's tags implied, as the walk does: its text must be the fresh one's.
 */
function both(kept: PrometheusWriter, namespaces: readonly Ns[], metrics: readonly Metric[], extra: (ns: Ns) => Metric[] = () => []) {
  const fresh = new PrometheusWriter();
  let implied = impliedTwin.get(kept);
  if (!implied) impliedTwin.set(kept, (implied = new PrometheusWriter()));
  kept.reset();
  implied.reset();
  for (const ns of namespaces) {
    kept.context(ns.inode, ns.tags);
    implied.context(ns.inode, ns.tags, true);
    for (const m of [...metrics, ...extra(ns)]) {
      const x = labeled(m, ns.tags);
      kept.write(x);
      fresh.write(x);
      implied.write(m);
    }
    kept.context(undefined);
    implied.context(undefined);
  }
  const r = { kept: kept.text('text'), fresh: fresh.text('text'), keptOm: kept.text('openmetrics'), freshOm: fresh.text('openmetrics') };
  assert.equal(implied.text('text'), r.fresh, 'the tags implied: the exposition of the tagged metrics');
  assert.equal(implied.text('openmetrics'), r.freshOm, 'the tags implied (OpenMetrics)');
  return r;
}

const contexts = (w: PrometheusWriter) => (w as unknown as { contexts: Map<unknown, unknown> }).contexts;

describe('PrometheusWriter label contexts: the same exposition as without, gather after gather', () => {
  let metrics: Metric[];
  before(async () => {
    const all = GOLDEN_CASES.find((c) => c.file === 'all.prom')!;
    ({ metrics } = await renderGolden(all.args));
    assert.ok(metrics.length > 10, 'the fixture gives metrics');
  });

  it('namespaces appear, one gets a pod (new labels), one vanishes (its context is dropped)', () => {
    const w = new PrometheusWriter();
    const host = { host: 'node-1' };
    const g1: Ns[] = [
      { inode: 4026531001, tags: { ...host, netns: 'cni-1' } },
      { inode: 4026531002, tags: { ...host, netns: '4026531002', pod: 'web-0', namespace: 'shop', container: 'nginx' } },
    ];
    let r = both(w, g1, metrics);
    assert.equal(r.kept, r.fresh);
    assert.equal(r.keptOm, r.freshOm);
    assert.equal(contexts(w).size, 2);

    // the same namespaces again: rendered from what was kept
    r = both(w, g1, metrics);
    assert.equal(r.kept, r.fresh);

    // the first one's pod appears; the second vanishes; a third comes
    const g3: Ns[] = [
      { inode: 4026531001, tags: { ...host, netns: 'cni-1', pod: 'api-7', namespace: 'shop', container: 'api' } },
      { inode: 4026531003, tags: { ...host, netns: 'cni-3' } },
    ];
    r = both(w, g3, metrics);
    assert.equal(r.kept, r.fresh);
    assert.equal(r.keptOm, r.freshOm);
    const samples = [...parseExposition(r.kept).families.values()].flatMap((f) => f.samples);
    const ofNs = (netns: string) => samples.filter((s) => s.labels.includes(`netns="${netns}"`));
    assert.ok(ofNs('cni-1').length > 0 && ofNs('cni-1').every((s) => s.labels.includes('pod="api-7",namespace="shop",container="api"')), 'the new pod labels');
    assert.equal(ofNs('4026531002').length, 0, 'the vanished namespace is gone');
    assert.equal(contexts(w).size, 3, "the vanished namespace's context is dropped at the next reset");
    r = both(w, g3, metrics);
    assert.equal(r.kept, r.fresh);
    assert.equal(contexts(w).size, 2);
    assert.ok(!contexts(w).has(4026531002));
  });

  it('a metric that overrides a context label, a field label named as a context label, duplicates: as without contexts', () => {
    const w = new PrometheusWriter();
    const namespaces: Ns[] = [
      // `state` is also the netstat families' own label (state="established"): the field's label wins, comes last
      { inode: 1, tags: { host: 'h', netns: 'a', state: 'x' } },
      // `family` is what ip_version becomes
      { inode: 2, tags: { host: 'h', netns: 'b', family: 'y' } },
      // two tag keys with one label name
      { inode: 3, tags: { host: 'h', 'net.ns': 'c', net_ns: 'd' } },
      { inode: 4, tags: { host: 'h', netns: 'e' } },
    ];
    const extra = (ns: Ns): Metric[] => [
      // the collector's own host tag wins over the gather's
      { ...metrics[0], tags: { ...metrics[0].tags, host: `other-${ns.inode}` } },
      // the same label set twice: the second is dropped
      metrics[0],
      metrics[1],
    ];
    for (let g = 0; g < 3; g++) {
      const r = both(w, namespaces, metrics, extra);
      assert.equal(r.kept, r.fresh, `gather ${g}`);
      assert.equal(r.keptOm, r.freshOm, `gather ${g}`);
    }
  });

  it('a family written in one gather and not the next is left out of the next exposition', () => {
    const w = new PrometheusWriter();
    const ns: Ns[] = [{ inode: 9, tags: { netns: 'z' } }];
    let r = both(w, ns, metrics);
    assert.equal(r.kept, r.fresh);
    const fewer = metrics.filter((m) => m.schema.name === 'netstat');
    assert.ok(fewer.length > 0 && fewer.length < metrics.length);
    r = both(w, ns, fewer);
    assert.equal(r.kept, r.fresh);
    assert.ok(!r.kept.includes('sockscope_port_'), 'no empty netstat_port family');
  });
});
