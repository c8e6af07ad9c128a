/**
 * /proc/net parsers on literal text in the kernel's formats (net/ipv4/tcp_ipv4.c get_tcp4_sock,
 * net/ipv6/tcp_ipv6.c get_tcp6_sock, net/ipv4/udp.c udp4_format_sock, net/unix/af_unix.c unix_seq_show,
 * net/ipv4/proc.c sockstat_seq_show). Malformed lines are counted and skipped, never thrown on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUnixAttributes } from '../../src/diag/unix.js';
import { parseProcNetInet, parseProcNetUnix, parseSockstat } from '../../src/procfs/net.js';
import { SocketTable } from '../../src/snapshot/table.js';
import { toHex } from '../helpers/bytes.js';

const TCP = 1;
const UDP = 2;
const addr = (t: SocketTable, which: 'src' | 'dst', row: number) => toHex(t[which].subarray(row * 16, row * 16 + 16));
const V4_LOOPBACK = '7f 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00';
const ZERO = '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00';

// Lines are padded to a fixed width by the kernel (seq_setwidth), hence the trailing blanks.
const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 24567 1 0000000000000000 100 0 0 10 0                     
   1: 0100007F:1F90 0100007F:C350 01 00000010:00000020 01:00000014 00000002  1000        0 24601 3 0000000000000000 20 4 30 10 -1                    
   2: 0100007F:C352 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000                                      
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 02:000AFC80 00000000  1000        0 23456 1 0000000000000000 20 4 30 10 -1
   2: B80D0120000000000000000001000000:01BB B80D0120000000000000000002000000:E1F2 08 00000005:00000000 04:0000012C 00000003    33        0 34567 1 0000000000000000 20 4 30 10 -1
`;

const UDP4 = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 19876 2 0000000000000000 0          
  456: 0100007F:A1B2 0100007F:0035 01 00000000:00000340 00:00000000 00000000  1000        0 19877 2 0000000000000000 5          
`;

describe('parseProcNetInet', () => {
  it('/proc/net/tcp: ports, addresses in network order, state, queues, timers, uid, inode', () => {
    const t = new SocketTable();
    assert.deepEqual(parseProcNetInet(TCP4, t, TCP, 2), { rows: 3, malformed: 0 });
    assert.equal(t.length, 3);
    // LISTEN 127.0.0.1:8080, accept queue 3
    assert.deepEqual([t.proto[0], t.family[0], t.sockType[0], t.state[0], t.sport[0], t.dport[0]], [TCP, 2, 1, 10, 8080, 0]);
    assert.equal(addr(t, 'src', 0), V4_LOOPBACK);
    assert.equal(addr(t, 'dst', 0), ZERO);
    assert.deepEqual([t.rqueue[0], t.wqueue[0], t.uid[0], t.inode[0], t.timer[0], t.expires[0]], [3, 0, 1000, 24567, 0, 0]);
    // ESTABLISHED 127.0.0.1:8080 → 127.0.0.1:50000, retransmit timer in 20 ticks (USER_HZ 100) = 200 ms
    assert.deepEqual(
      [t.state[1], t.sport[1], t.dport[1], t.wqueue[1], t.rqueue[1], t.timer[1], t.expires[1], t.retrans[1], t.inode[1]],
      [1, 8080, 50000, 16, 32, 1, 200, 2, 24601],
    );
    assert.equal(addr(t, 'dst', 1), V4_LOOPBACK);
    // TIME_WAIT: timer 3, 6000 ticks = 60 s, no uid, no inode
    assert.deepEqual([t.state[2], t.sport[2], t.dport[2], t.timer[2], t.expires[2], t.uid[2], t.inode[2]], [6, 50002, 8080, 3, 60000, 0, 0]);
    // what /proc does not carry
    assert.deepEqual([t.cookieLo[1], t.cookieHi[1], t.ifindex[1], t.attrLength[1]], [0, 0, 0, 0]);
  });

  it('/proc/net/tcp6: four host-order words per address become the 16 network-order bytes', () => {
    const t = new SocketTable();
    assert.deepEqual(parseProcNetInet(TCP6, t, TCP, 10), { rows: 3, malformed: 0 });
    assert.deepEqual([t.family[0], t.state[0], t.sport[0]], [10, 10, 22]);
    assert.equal(addr(t, 'src', 0), ZERO);
    // ::ffff:127.0.0.1
    assert.equal(addr(t, 'src', 1), '00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01');
    assert.deepEqual([t.sport[1], t.dport[1], t.timer[1], t.expires[1]], [8080, 54321, 2, 7200000]);
    // 2001:db8::1 → 2001:db8::2, CLOSE_WAIT, zero-window probe timer
    assert.equal(addr(t, 'src', 2), '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01');
    assert.equal(addr(t, 'dst', 2), '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02');
    assert.deepEqual([t.state[2], t.sport[2], t.dport[2], t.wqueue[2], t.timer[2], t.expires[2], t.retrans[2], t.uid[2]], [8, 443, 57842, 5, 4, 3000, 3, 33]);
  });

  it('/proc/net/udp (more columns, 5-wide sl): unconnected and connected sockets', () => {
    const t = new SocketTable();
    assert.deepEqual(parseProcNetInet(UDP4, t, UDP, 2), { rows: 2, malformed: 0 });
    assert.deepEqual([t.proto[0], t.sockType[0], t.state[0], t.sport[0], t.uid[0], t.inode[0]], [UDP, 2, 7, 53, 101, 19876]);
    assert.equal(addr(t, 'src', 0), '7f 00 00 35 00 00 00 00 00 00 00 00 00 00 00 00');
    assert.deepEqual([t.state[1], t.sport[1], t.dport[1], t.rqueue[1]], [1, 0xa1b2, 53, 0x340]);
  });

  it('raw sockets are SOCK_RAW', () => {
    const t = new SocketTable();
    const text = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0
`;
    assert.deepEqual(parseProcNetInet(text, t, 4, 2), { rows: 1, malformed: 0 });
    assert.deepEqual([t.sockType[0], t.sport[0], t.state[0]], [3, 1, 7]);
  });

  const malformed: [string, string][] = [
    ['too few fields', '   5: 0100007F:1F90 00000000:0000 0A'],
    ['address not hex', '   5: ZZZZZZZZ:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0'],
    ['address of the wrong length', '   5: 100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0'],
    ['port missing', '   5: 0100007F: 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0'],
    ['port not hex', '   5: 0100007F:XYZW 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0'],
    ['tx:rx without a colon', '   5: 0100007F:1F90 00000000:0000 0A 00000000 00:00000000 00000000     0        0 1 1 0'],
    ['state not hex', '   5: 0100007F:1F90 00000000:0000 QQ 00000000:00000000 00:00000000 00000000     0        0 1 1 0'],
    ['uid not a number', '   5: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     x        0 1 1 0'],
    ['inode not a number', '   5: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 abc 1 0'],
  ];
  for (const [name, line] of malformed) {
    it(`a malformed line is counted and skipped: ${name}`, () => {
      const lines = TCP4.split('\n');
      const text = [lines[0], lines[1], line, lines[2], ''].join('\n');
      const t = new SocketTable();
      assert.deepEqual(parseProcNetInet(text, t, TCP, 2), { rows: 2, malformed: 1 });
      assert.equal(t.length, 2, 'no half-written row is left behind');
      assert.deepEqual([t.inode[0], t.inode[1]], [24567, 24601]);
      assert.deepEqual([t.state[1], t.dport[1]], [1, 50000]);
    });
  }

  it('empty text, a header alone, no trailing newline, blank lines', () => {
    const t = new SocketTable();
    assert.deepEqual(parseProcNetInet('', t, TCP, 2), { rows: 0, malformed: 0 });
    assert.deepEqual(parseProcNetInet(TCP4.split('\n')[0], t, TCP, 2), { rows: 0, malformed: 0 });
    assert.deepEqual(parseProcNetInet(`${TCP4.trimEnd()}\n\n\n`, t, TCP, 2), { rows: 3, malformed: 0 });
    assert.equal(t.length, 3);
  });

  it('rows are appended after those already in the table', () => {
    const t = new SocketTable();
    parseProcNetInet(TCP4, t, TCP, 2);
    parseProcNetInet(TCP6, t, TCP, 10);
    assert.equal(t.length, 6);
    assert.deepEqual(Array.from(t.inode.subarray(0, 6)), [24567, 24601, 0, 12345, 23456, 34567]);
  });
});

const UNIXTEXT = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 21374 /run/dbus/system_bus_socket
0000000000000000: 00000003 00000000 00000000 0001 03 21399 /run/dbus/system_bus_socket
0000000000000000: 00000002 00000000 00000000 0002 01 15300 @/org/kernel/udev/udevd
0000000000000000: 00000003 00000000 00000000 0001 03  1061
0000000000000000: 00000002 00000000 00000000 0005 01 31000 /tmp/with space/s ock
0000000000000000: 00000002 00000000 00000000 0001 02     0 /run/dbus/system_bus_socket
0000000000000000: 00000002 00000000 00000000 0002 04 31002 @foo@bar
0000000000000000: 00000002 00000000 00000000 0001 01 31003  lead and trail 
`;

describe('parseProcNetUnix', () => {
  it('types, states (SS_* → TCP_*), inodes and names; inode-0 embryos skipped, as unix_diag skips them', () => {
    const t = new SocketTable();
    assert.deepEqual(parseProcNetUnix(UNIXTEXT, t), { rows: 7, malformed: 0 });
    const name = (row: number) => decodeUnixAttributes(t.arenaView(), t.attrStart[row], t.attrStart[row] + t.attrLength[row]).name;
    const rows = Array.from({ length: t.length }, (_, r) => [t.sockType[r], t.state[r], t.inode[r], name(r)]);
    assert.deepEqual(rows, [
      [1, 10, 21374, '/run/dbus/system_bus_socket'], // __SO_ACCEPTCON → LISTEN
      [1, 1, 21399, '/run/dbus/system_bus_socket'], // SS_CONNECTED → ESTABLISHED
      [2, 7, 15300, '@/org/kernel/udev/udevd'], // SS_UNCONNECTED → CLOSE; abstract
      [1, 1, 1061, undefined], // %5lu inode, no path
      [5, 7, 31000, '/tmp/with space/s ock'], // seqpacket, a path with spaces
      [2, 7, 31002, '@foo@bar'], // SS_DISCONNECTING → CLOSE
      [1, 7, 31003, ' lead and trail '], // only the one separating space is dropped
    ]);
    for (let r = 0; r < t.length; r++) {
      assert.deepEqual([t.proto[r], t.family[r], t.uid[r], t.rqueue[r], t.sport[r]], [7, 1, 0xffffffff, 0, 0]);
    }
  });

  it('an abstract name is stored as unix_diag sends it: a leading NUL', () => {
    const t = new SocketTable();
    parseProcNetUnix(UNIXTEXT, t);
    const start = t.attrStart[2];
    // struct nlattr { nla_len 4+23, UNIX_DIAG_NAME 0 } "\0/org/kernel/udev/udevd"
    assert.equal(toHex(t.arena.subarray(start, start + 6)), '1b 00 00 00 00 2f');
  });

  it('text read as latin1 (one char per byte) keeps a UTF-8 path', () => {
    const utf8 = Buffer.from('/tmp/é.sock', 'utf8').toString('latin1');
    const t = new SocketTable();
    parseProcNetUnix(`Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00000000 0001 01 5 ${utf8}\n`, t);
    assert.equal(decodeUnixAttributes(t.arenaView(), t.attrStart[0], t.attrStart[0] + t.attrLength[0]).name, '/tmp/é.sock');
  });

  const malformed: [string, string][] = [
    ['too few fields', '0000000000000000: 00000002 00000000 00010000 0001'],
    ['no slot colon', '0000000000000000 00000002 00000000 00010000 0001 01 21374 /x'],
    ['flags not hex', '0000000000000000: 00000002 00000000 zzzzzzzz 0001 01 21374 /x'],
    ['inode not a number', '0000000000000000: 00000002 00000000 00000000 0001 01 inode /x'],
  ];
  for (const [name, line] of malformed) {
    it(`a malformed line is counted and skipped: ${name}`, () => {
      const lines = UNIXTEXT.split('\n');
      const t = new SocketTable();
      assert.deepEqual(parseProcNetUnix([lines[0], lines[1], line, lines[2], ''].join('\n'), t), { rows: 2, malformed: 1 });
      assert.deepEqual([t.length, t.inode[0], t.inode[1]], [2, 21374, 21399]);
    });
  }
});

describe('parseSockstat', () => {
  it('/proc/net/sockstat and sockstat6', () => {
    const text = `sockets: used 291
TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1
UDP: inuse 3 mem 2
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
`;
    assert.deepEqual(parseSockstat(text), {
      sockets: { used: 291 },
      TCP: { inuse: 5, orphan: 0, tw: 2, alloc: 7, mem: 1 },
      UDP: { inuse: 3, mem: 2 },
      UDPLITE: { inuse: 0 },
      RAW: { inuse: 0 },
      FRAG: { inuse: 0, memory: 0 },
    });
    assert.deepEqual(parseSockstat('TCP6: inuse 4\nUDP6: inuse 1\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n'), {
      TCP6: { inuse: 4 },
      UDP6: { inuse: 1 },
      UDPLITE6: { inuse: 0 },
      RAW6: { inuse: 0 },
      FRAG6: { inuse: 0, memory: 0 },
    });
  });

  it('lines without a colon are ignored, non-numeric values and a dangling key are dropped', () => {
    assert.deepEqual(parseSockstat('garbage\nTCP: inuse x orphan 1 tw\n\n'), { TCP: { orphan: 1 } });
    assert.deepEqual(parseSockstat(''), {});
  });
});
