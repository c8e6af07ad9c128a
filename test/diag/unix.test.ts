/** unix_diag_msg → SocketTable rows and every UNIX_DIAG_* attribute, from byte literals (kernel-abi.md §6). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendUnixMessage, decodeUnixAttributes } from '../../src/diag/unix.js';
import { SocketTable, UID_UNKNOWN } from '../../src/snapshot/table.js';
import { ascii, concat, hex, le32, nlattr, toHex, u8, unixDiagMsg, viewOf } from '../helpers/bytes.js';

const UNIX = 7; // Proto.unix

function received(msg: Uint8Array, off = 16) {
  const bytes = new Uint8Array((off + msg.byteLength + 7) & ~3);
  bytes.set(msg, off);
  return { bytes, view: viewOf(bytes), off, len: msg.byteLength };
}

describe('appendUnixMessage', () => {
  const header = unixDiagMsg({ type: 5, state: 10, inode: 0x00bc614e, cookie: [0xa1b2c3d4, 7] });

  it('header fields land in the columns; RQLEN and UID are folded into rqueue/wqueue/uid', () => {
    assert.equal(toHex(header), toHex(hex('01 05 0a 00  4e 61 bc 00  d4 c3 b2 a1 07 00 00 00')));
    const attrs = concat(
      nlattr(0, [...ascii('/run/a.sock'), 0]), // NAME
      nlattr(4, [...le32(3), ...le32(128)]), // RQLEN: pending connections, backlog
      nlattr(6, u8(0)), // SHUTDOWN
      nlattr(7, le32(1000)), // UID
    );
    const r = received(concat(header, attrs));
    const t = new SocketTable();
    assert.equal(appendUnixMessage(t, r.view, r.bytes, r.off, r.len, true), true);
    assert.deepEqual([t.proto[0], t.family[0], t.sockType[0], t.state[0], t.inode[0], t.cookieLo[0], t.cookieHi[0]], [UNIX, 1, 5, 10, 12345678, 0xa1b2c3d4, 7]);
    assert.deepEqual([t.rqueue[0], t.wqueue[0], t.uid[0]], [3, 128, 1000]);
    assert.deepEqual([t.sport[0], t.dport[0], t.timer[0], t.retrans[0], t.ifindex[0], t.expires[0]], [0, 0, 0, 0, 0, 0]);
    // the attributes are kept in the arena, byte for byte
    r.bytes.fill(0);
    assert.equal(t.attrLength[0], attrs.byteLength);
    assert.equal(toHex(t.arena.subarray(t.attrStart[0], t.attrStart[0] + t.attrLength[0])), toHex(attrs));
    const a = decodeUnixAttributes(t.arenaView(), t.attrStart[0], t.attrStart[0] + t.attrLength[0]);
    assert.equal(a.name, '/run/a.sock');
    assert.equal(a.uid, 1000);
  });

  it('without UID the uid column is UID_UNKNOWN, without RQLEN the queues are 0', () => {
    const r = received(header);
    const t = new SocketTable();
    appendUnixMessage(t, r.view, r.bytes, r.off, r.len, true);
    assert.equal(t.uid[0], UID_UNKNOWN);
    assert.deepEqual([t.rqueue[0], t.wqueue[0], t.attrLength[0]], [0, 0, 0]);
  });

  it('RQLEN/UID with short payloads are ignored; a malformed attribute ends the fold, the row is kept', () => {
    const attrs = concat(nlattr(4, le32(9)), nlattr(7, [1, 2]), hex('ff 00 07 00'), nlattr(7, le32(5)));
    const r = received(concat(header, attrs));
    const t = new SocketTable();
    assert.equal(appendUnixMessage(t, r.view, r.bytes, r.off, r.len, false), true);
    assert.deepEqual([t.rqueue[0], t.wqueue[0], t.uid[0], t.attrLength[0]], [0, 0, UID_UNKNOWN, 0]);
  });

  it('a message shorter than unix_diag_msg adds no row', () => {
    const r = received(header.subarray(0, 15));
    const t = new SocketTable();
    assert.equal(appendUnixMessage(t, r.view, r.bytes, r.off, r.len, true), false);
    assert.equal(t.length, 0);
  });
});

describe('decodeUnixAttributes', () => {
  const decode = (attrs: Uint8Array) => decodeUnixAttributes(viewOf(attrs), 0, attrs.byteLength);

  it('every attribute type', () => {
    const a = decode(
      concat(
        nlattr(0, [0, ...ascii('foo')]), // NAME, abstract
        nlattr(1, [...le32(2147073), ...le32(254 << 20)]), // VFS { ino, dev = kernel MKDEV(254, 0) }
        nlattr(2, le32(10208)), // PEER
        nlattr(3, [...le32(10209), ...le32(10211)]), // ICONS
        nlattr(4, [...le32(3), ...le32(4)]), // RQLEN
        nlattr(
          5,
          [1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((x) => le32(x)),
        ), // MEMINFO
        nlattr(6, u8(2)), // SHUTDOWN
        nlattr(7, le32(0)), // UID root
      ),
    );
    assert.equal(a.error, undefined);
    assert.equal(a.unknown, undefined);
    assert.equal(a.name, '@foo');
    // The kernel's internal dev_t (MAJOR << 20 | MINOR): ss -xe prints it as dev:0/65024 (glibc major()/minor()
    // of the raw value; see shared/reference/ss/ss__xane_.txt); sockscope reports the real 254:0.
    assert.deepEqual(a.vfs, { inode: 2147073, dev: 254 << 20, major: 254, minor: 0 });
    assert.equal(a.peer, 10208);
    assert.deepEqual(a.pending, [10209, 10211]);
    assert.equal(a.rqueue, 3);
    assert.equal(a.wqueue, 4);
    assert.deepEqual(a.skmeminfo, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(a.shutdown, 2);
    assert.equal(a.uid, 0);
  });

  const names: [string, number[], string][] = [
    ['abstract: leading NUL shown as @', [0, ...ascii('foo')], '@foo'],
    ['abstract: every NUL shown as @ (as ss does)', [0, ...ascii('a'), 0, ...ascii('b'), 0], '@a@b@'],
    ['abstract: autobind name (5 hex digits)', [0, ...ascii('0001f')], '@0001f'],
    // The kernel sends sun_path with its terminating NUL for a path name (addr->len counts it; /proc drops it
    // with len--), and ss stops at that NUL.
    ['path name with its terminating NUL', [...ascii('/run/example/test.sock'), 0], '/run/example/test.sock'],
    ['path name without a NUL', ascii('/tmp/x'), '/tmp/x'],
    ['path name with spaces', [...ascii('/tmp/a b'), 0], '/tmp/a b'],
    ['UTF-8 path name', [...new TextEncoder().encode('/tmp/é.sock'), 0], '/tmp/é.sock'],
    ['invalid UTF-8 falls back to one char per byte', [...ascii('/tmp/'), 0xff, 0xfe, 0], '/tmp/\u00ff\u00fe'],
  ];
  for (const [name, payload, want] of names) {
    it(`NAME: ${name}`, () => assert.equal(decode(nlattr(0, payload)).name, want));
  }

  it('unknown types are listed and skipped', () => {
    const a = decode(concat(nlattr(8, le32(1)), nlattr(42), nlattr(2, le32(5))));
    assert.deepEqual(a.unknown, [8, 42]);
    assert.equal(a.peer, 5);
  });

  it('short VFS / RQLEN payloads are left out; a bad nla_len keeps what came before', () => {
    const a = decode(concat(nlattr(1, le32(1)), nlattr(4, le32(1)), nlattr(2, le32(77)), hex('08 00 02 00 01 00')));
    assert.equal(a.vfs, undefined);
    assert.equal(a.rqueue, undefined);
    assert.equal(a.peer, 77);
    assert.match(a.error ?? '', /bad nla_len 8/);
  });
});
