/** The namespace counters and sysctls, parsed from files recorded on this kernel (test/fixtures/proc) or live. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseCounters, parseNetstatPairs, parseSnmp6, readHostFacts } from '../../src/doctor/host.js';

describe('doctor host facts', () => {
  test('netstat pairs: names and values line up; a mismatched pair is skipped', () => {
    const text = 'TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPReqQFullDrop\nTcpExt: 3 17 19 2\nIpExt: A B\nIpExt: 1\n';
    assert.deepEqual(parseNetstatPairs(text), { TcpExt: { SyncookiesSent: 3, ListenOverflows: 17, ListenDrops: 19, TCPReqQFullDrop: 2 } });
    const c = parseCounters(text, 'Udp: InDatagrams RcvbufErrors\nUdp: 10 4\n', 'Udp6InDatagrams 3\nUdp6RcvbufErrors 5\n');
    assert.deepEqual(c, { listenOverflows: 17, listenDrops: 19, reqQFullDrop: 2, reqQFullDoCookies: undefined, syncookiesSent: 3, udpRcvbufErrors: 9 });
    assert.deepEqual(parseCounters(undefined, undefined, undefined).udpRcvbufErrors, undefined);
    assert.deepEqual(parseSnmp6('Ip6InReceives  \t 12\n\n'), { Ip6InReceives: 12 });
  });

  test('the live namespace: every counter and sysctl the checks need is read and matches /proc', () => {
    const h = readHostFacts();
    const netstat = parseNetstatPairs(readFileSync('/proc/thread-self/net/netstat', 'latin1')).TcpExt;
    assert.ok(h.counters.listenOverflows !== undefined && h.counters.listenOverflows <= netstat.ListenOverflows);
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.deepEqual(h.sysctl.localPortRange, { low, high });
    assert.equal(h.sysctl.tcpMaxTwBuckets, Number(readFileSync('/proc/sys/net/ipv4/tcp_max_tw_buckets', 'utf8')));
    assert.equal(h.sysctl.tcpMem?.length, 3);
    assert.match(h.netns, /^net:\[\d+\]$/);
    assert.ok(h.tcpTimeWait !== undefined && h.tcpMemPages !== undefined && h.tcpOrphans !== undefined);
  });
});
