/**
 * LifecycleTracker: closed connections and live ones joined by cookie. Rows are real destroy messages
 * (test/fixtures/lifecycle) with the numbers under test written into them: the header's ports, state and
 * cookie, tcp_info's bytes_acked, bytes_received, total_retrans and rtt.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Proto, TCP_ESTABLISHED, TCP_TIME_WAIT } from '../../src/diag/constants.js';
import { parsePortGroups } from '../../src/collectors/netstat-port.js';
import type { Metric } from '../../src/model/metric.js';
import { LifecycleTracker } from '../../src/lifecycle/tracker.js';
import { connTable as table, listener } from '../helpers/lifecycle-rows.js';

function point(ms: Metric[], addrPort: string): Metric['fields'] {
  const m = ms.find((x) => x.schema.name === 'lifecycle' && x.tags.addr_port === addrPort);
  assert.ok(m, `no point ${addrPort} in ${ms.map((x) => x.tags.addr_port).join(', ')}`);
  return m.fields;
}
const events = (ms: Metric[]) => ms.find((x) => x.schema.name === 'lifecycle_events')!.fields;

describe('LifecycleTracker', () => {
  it("bytes are counted once whatever the connection's length: gathers add growth, the close adds the rest", () => {
    const tr = new LifecycleTracker();
    const T = 1_000_000;
    tr.observe(table(listener(80), { cookie: 3, sport: 80, dport: 40000, state: TCP_ESTABLISHED, acked: 1000, received: 70 }), T); // at start
    tr.observe(
      table(
        listener(80),
        { cookie: 1, sport: 80, dport: 40001, state: TCP_ESTABLISHED, acked: 100, received: 10 },
        { cookie: 3, sport: 80, dport: 40000, state: TCP_ESTABLISHED, acked: 1200, received: 80 },
      ),
      T + 10_000,
    );
    tr.observe(
      table(
        listener(80),
        { cookie: 1, sport: 80, dport: 40001, state: TCP_ESTABLISHED, acked: 250, received: 20 },
        { cookie: 3, sport: 80, dport: 40000, state: TCP_ESTABLISHED, acked: 1300, received: 90 },
      ),
      T + 20_000,
    );
    tr.closed(
      table(
        { cookie: 1, sport: 80, dport: 40001, acked: 400, received: 31, retrans: 2, rttUs: 300 }, // seen twice
        { cookie: 2, sport: 80, dport: 40002, acked: 5000, received: 700, rttUs: 20_000 }, // between gathers
        { cookie: 3, sport: 80, dport: 40000, acked: 1500, received: 95 }, // there at start
      ),
      T + 25_000,
    );
    const ms = tr.collect(T + 30_000);
    const p = point(ms, '80');
    assert.equal(p.closed, 3);
    assert.equal(p.closed_bytes_acked, 400 + 5000 + 1500);
    assert.equal(p.closed_bytes_received, 31 + 700 + 95);
    assert.equal(p.closed_retrans_segs, 2);
    // since start: cookie 3 only from 1000 / 70
    assert.equal(p.bytes_sent, 400 + 5000 + (1500 - 1000));
    assert.equal(p.bytes_received, 31 + 700 + (95 - 70));
    assert.equal(p.duration_known, 2); // cookies 1 and 3 were seen by a gather
    assert.equal(p.duration_seconds_sum, (25_000 - 10_000) / 1000 + 25_000 / 1000);
    assert.equal(p.rtt_count, 3);
    assert.equal(p.rtt_le_0_0001, 1); // 50 µs
    assert.equal(p.rtt_le_0_0005, 2); // and 300 µs
    assert.equal(p.rtt_le_0_025, 3); // and 20 ms
    assert.equal(p.rtt_le_inf, 3);
    assert.equal(p.direction, undefined); // a tag, not a field
    assert.equal(ms.find((m) => m.tags.addr_port === '80')!.tags.direction, 'inbound');
    assert.equal(events(ms).tracked, 0);
  });

  it('a connection that vanishes without an event is dropped after a gather of grace and counted untracked', () => {
    const tr = new LifecycleTracker();
    tr.observe(table(), 0);
    tr.observe(table({ cookie: 7, sport: 50000, dport: 443, state: TCP_ESTABLISHED, acked: 10, received: 10 }), 1);
    tr.observe(table(), 2); // its event may still be on its way
    assert.equal(events(tr.collect(2)).tracked, 1);
    tr.observe(table(), 3);
    const e = events(tr.collect(3));
    assert.equal(e.tracked, 0);
    assert.equal(e.untracked, 1);
    assert.equal(point(tr.collect(3), 'remote:443').bytes_sent, 10);
    // the late event, if it ever comes, counts the connection as closed without its bytes counted twice
  });

  it('an event before a snapshot that still lists the socket does not bring it back', () => {
    const tr = new LifecycleTracker();
    tr.observe(table(), 0);
    tr.closed(table({ cookie: 9, sport: 50001, dport: 443, acked: 600, received: 60 }));
    tr.observe(table({ cookie: 9, sport: 50001, dport: 443, state: TCP_ESTABLISHED, acked: 500, received: 50 }), 1);
    const ms = tr.collect(1);
    assert.equal(point(ms, 'remote:443').bytes_sent, 600);
    assert.equal(events(ms).tracked, 0);
  });

  it('rows without tcp_info (TIME_WAIT), listeners and events before the first gather', () => {
    const tr = new LifecycleTracker();
    tr.closed(table({ cookie: 11, sport: 8080, dport: 40100, acked: 10, received: 5 })); // before any gather: held
    tr.observe(table(listener(8080), { cookie: 12, sport: 8080, dport: 40101, state: TCP_TIME_WAIT, info: false }), 0);
    tr.closed(table(listener(8080))); // a listener closing is no connection
    const ms = tr.collect(0);
    const p = point(ms, '8080'); // held until the gather saw the listener: inbound
    assert.equal(p.closed, 1);
    assert.equal(p.bytes_sent, 10);
    assert.equal(events(ms).tracked, 0);
  });

  it('inbound or outbound: a listener seen by a gather, else the ephemeral range, else configured groups first', () => {
    const groups = parsePortGroups([{ remote_ports: ['5432'], tags: { service: 'db' } }, { ports: ['9000'] }]);
    const tr = new LifecycleTracker({ groups, ephemeralPorts: [32768, 60999] });
    tr.observe(table(), 0);
    tr.closed(
      table(
        { cookie: 21, sport: 41000, dport: 5432, acked: 1, received: 1 }, // configured remote group
        { cookie: 22, sport: 9000, dport: 50000, acked: 1, received: 1 }, // configured local group
        { cookie: 23, sport: 7000, dport: 45000, acked: 1, received: 1 }, // no listener seen: 7000 is the service
        { cookie: 24, sport: 45001, dport: 6379, acked: 1, received: 1 }, // ephemeral local port: outbound
      ),
    );
    const ms = tr.collect(0);
    const tags = (ap: string) => ms.find((m) => m.tags.addr_port === ap)!.tags;
    assert.deepEqual(tags('remote:5432'), { service: 'db', direction: 'outbound', addr_port: 'remote:5432' });
    assert.deepEqual(tags('9000'), { direction: 'inbound', addr_port: '9000' });
    assert.deepEqual(tags('7000'), { direction: 'inbound', addr_port: '7000' });
    assert.deepEqual(tags('remote:6379'), { direction: 'outbound', addr_port: 'remote:6379' });
  });

  it('points past max_groups are not made: their connections are counted in groups_overflowed', () => {
    const tr = new LifecycleTracker({ maxGroups: 2 });
    tr.observe(table(), 0);
    tr.closed(table(...[1, 2, 3, 4].map((k) => ({ cookie: 30 + k, sport: 40000 + k, dport: 1000 + k, acked: 1, received: 1 }))));
    const ms = tr.collect(0);
    assert.equal(ms.filter((m) => m.schema.name === 'lifecycle').length, 2);
    assert.equal(events(ms).groups_overflowed, 2);
  });

  it('a failed subscription: the collector says why until one runs again; the event counts go on from where they were', () => {
    const tr = new LifecycleTracker();
    tr.observe(table(), 0);
    tr.setSubscriptionStats({ events: 10, malformed: 1, overruns: 2, lost: 30, rcvbufBytes: 4096, batches: 3 });
    tr.subscriptionEnded('the destroy-event subscription failed: recv() failed: EBADF');
    assert.throws(() => tr.collect(0), /the destroy-event subscription failed: recv\(\) failed: EBADF/);
    tr.unavailable = undefined; // subscribed again
    tr.setSubscriptionStats({ events: 5, malformed: 0, overruns: 0, lost: 0, rcvbufBytes: 4096, batches: 1 });
    const e = events(tr.collect(0));
    assert.deepEqual([e.events, e.lost, e.overruns, e.malformed, e.subscription_failures], [15, 30, 2, 1, 1]);
  });

  it('only TCP connections count', () => {
    const tr = new LifecycleTracker();
    tr.observe(table(), 0);
    const t = table({ cookie: 41, sport: 40000, dport: 53, acked: 1, received: 1 });
    t.proto[0] = Proto.udp;
    tr.closed(t);
    assert.equal(tr.collect(0).filter((m) => m.schema.name === 'lifecycle').length, 0);
  });
});
