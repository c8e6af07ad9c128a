/**
 * The filter over the other families' sockets. Packet and netlink ones are compared with ss itself in a
 * namespace (test/integration/families-vs-ss.test.ts); vsock and XDP ones, which this kernel cannot dump, are
 * checked here against ss 6.1's struct sockstat for them (misc/ss.c vsock_show_sock: lport/rport the ports,
 * the CIDs as address words; xdp_show_sock: lport the queue id, iface the device) and run_ssfilter's rules. Then
 * what the packet and netlink conditions parse to (parse_hostcond's AF_PACKET and AF_NETLINK branches).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseSocket, type FamilySocket } from '../../src/diag/family-socket.js';
import { compileFilter, parseFilter } from '../../src/filter/index.js';
import { cInteger } from '../../src/filter/link-values.js';

const CLOSE = 1 << 7;
const vsock = (localCid: number, localPort: number, remoteCid: number, remotePort: number, state = 1): FamilySocket => ({
  ...baseSocket('vsock', 1, state, 10, 0, 0),
  vsock: { localCid, localPort, remoteCid, remotePort, shutdown: 0 },
});
const xdp = (ifindex: number, queueId: number): FamilySocket => ({ ...baseSocket('xdp', 3, 7, 11, 0, 0), xdp: { ifindex, queueId } });
const packet = (protocol: number, ifindex: number): FamilySocket => ({ ...baseSocket('packet', 3, 7, 12, 0, 0), packet: { protocol, ifindex } });
const netlink = (protocol: number, portid: number): FamilySocket => ({
  ...baseSocket('netlink', 3, 7, 13, 0, 0),
  netlink: { protocol, portid, dstPortid: 0, dstGroup: 0, connected: false },
});

const select = (expr: string, sockets: FamilySocket[], o: { linkFamily?: 'packet' | 'netlink'; states?: number } = {}) => {
  const f = compileFilter(expr, {
    defaultStates: o.states ?? 0xfff,
    linkFamily: o.linkFamily,
    resolveDevice: (n) => (n === 'eth0' ? 2 : n === 'lo' ? 1 : undefined),
    ephemeralPorts: { low: 32768, high: 60999 },
  });
  return sockets.filter((s) => f.matchesFamily(s));
};

describe('vsock and XDP sockets through the filter (ss 6.1 run_ssfilter)', () => {
  const vs = [vsock(3, 1234, 2, 5555), vsock(0xffffffff, 1024, 0xffffffff, 0xffffffff, 10), vsock(3, 40000, 2, 22)];
  it('sport/dport are the vsock ports; an unbound port (VMADDR_PORT_ANY) reads as -1, as ss keeps it in an int', () => {
    assert.deepEqual(
      select('sport = :1234', vs).map((s) => s.vsock!.localPort),
      [1234],
    );
    assert.deepEqual(
      select('dport < :100', vs).map((s) => s.vsock!.remotePort),
      [0xffffffff, 22],
    );
    assert.deepEqual(
      select('dport >= :0', vs).map((s) => s.vsock!.remotePort),
      [5555, 22],
    );
  });
  it('autobound: a local port above 1023; the state words apply', () => {
    assert.deepEqual(
      select('autobound', vs).map((s) => s.vsock!.localPort),
      [1234, 1024, 40000],
    );
    assert.deepEqual(
      select('', vs, { states: 1 << 10 }).map((s) => s.vsock!.localPort),
      [1024],
    );
  });
  it('an IPv4 prefix compares with the CID as ss lays it in memory (inet_addr_match has no family check)', () => {
    // CID 3 as a host-order u32 is the bytes 03 00 00 00: the prefix 3.0.0.0/8
    assert.deepEqual(
      select('src 3.0.0.0/8', vs).map((s) => s.vsock!.localCid),
      [3, 3],
    );
    assert.deepEqual(select('src 3.0.0.0/8', [packet(3, 1), netlink(3, 5)]).length, 2);
  });
  it('xdp: the queue id is the port, the device the iface; no mark, no cgroup', () => {
    const xs = [xdp(2, 5), xdp(1, 0), xdp(0, 0)];
    assert.deepEqual(
      select('dev eth0', xs).map((s) => s.xdp!.queueId),
      [5],
    );
    assert.deepEqual(select('sport = :0', xs).length, 2);
    assert.deepEqual(select('fwmark 0/0xff', xs).length, 3);
    assert.deepEqual(select('fwmark 1', xs).length, 0);
    assert.deepEqual(select('not fwmark 1', xs, { states: CLOSE }).length, 3);
  });
});

describe('packet and netlink conditions (parse_hostcond)', () => {
  it('link: PROTOCOL:INTERFACE, netlink: PROTOCOL:PORT-ID; names as ss prints them, numbers in C notation', () => {
    const host = (expr: string, linkFamily?: 'packet' | 'netlink') => {
      const root = parseFilter(expr, { linkFamily, ifindex: (n) => (n === 'eth0' ? 2 : undefined) }).root!;
      assert.equal(root.kind, 'host');
      return root.kind === 'host' ? [root.family, root.prefixLength, new DataView(root.address.buffer).getUint32(0, true), root.port] : [];
    };
    assert.deepEqual(host('src link:ip:eth0'), [17, 32, 0x800, 2]);
    assert.deepEqual(host('src link:IPv6'), [17, 32, 0x86dd, -1]);
    assert.deepEqual(host('src *:0x10', 'packet'), [17, 0, 0, 16]);
    assert.deepEqual(host('src netlink:uevent:kernel'), [16, 32, 15, 0]);
    assert.deepEqual(host('src :-4123', 'netlink'), [16, 0, 0, -4123]);
    assert.deepEqual(host('src 017:010', 'netlink'), [16, 32, 15, 8]);
    assert.equal(parseFilter('src :3', { linkFamily: 'netlink' }).family, 'netlink');
    assert.equal(parseFilter('sport = :3', { linkFamily: 'packet' }).family, 'packet');
    assert.equal(parseFilter('src link:*').family, 'packet');
    assert.equal(parseFilter('src :3').family, undefined);
  });
  it('what ss refuses is a syntax error naming the word', () => {
    for (const [expr, linkFamily, why] of [
      ['src link:ipx6', undefined, /'ipx6' is not an ethernet protocol/],
      ['src link:0x10000', undefined, /'0x10000' is not an ethernet protocol/],
      ['src 256', 'netlink', /'256' is not a netlink protocol/],
      ['src :eth9', 'packet', /'eth9' is neither an interface index nor a device/],
      ['sport = :me', 'netlink', /'me' is not a netlink port id/],
    ] as const) {
      assert.throws(
        () => parseFilter(expr, { linkFamily, ifindex: () => undefined }),
        (e: Error & { code?: string }) => e.code === 'ESOCKSCOPE_FILTER_SYNTAX' && why.test(e.message),
        expr,
      );
    }
  });
  it('cInteger is strtol(…, 0) into an int: decimal, 0x, 0-led octal, signed; else undefined', () => {
    assert.deepEqual(
      ['12', '0x1F', '010', '-7', '+3', '0', '08', '1e3', '', '2147483648'].map((t) => cInteger(t)),
      [12, 31, 8, -7, 3, 0, undefined, undefined, undefined, undefined],
    );
  });
});
