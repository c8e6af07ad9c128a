/** SocketTable, the columns the sock_diag decoders write into: growth, attribute arena, merge, transfer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SocketTable } from '../../src/snapshot/table.js';
import { toHex } from '../helpers/bytes.js';

/** Fill row i with values derived from i (every column, both addresses). */
function fill(t: SocketTable, i: number): number {
  const row = t.addRow();
  t.proto[row] = 1 + (i % 7);
  t.family[row] = i % 2 ? 10 : 2;
  t.state[row] = 1 + (i % 12);
  t.timer[row] = i % 5;
  t.retrans[row] = i % 256;
  t.sockType[row] = 1;
  t.sport[row] = 1000 + i;
  t.dport[row] = 60000 - i;
  t.ifindex[row] = i % 3;
  t.expires[row] = i * 10;
  t.rqueue[row] = i * 2;
  t.wqueue[row] = i * 3;
  t.uid[row] = 1000 + i;
  t.inode[row] = 500000 + i;
  t.cookieLo[row] = 0x10000 + i;
  t.cookieHi[row] = i;
  for (let k = 0; k < 16; k++) {
    t.src[row * 16 + k] = (i + k) & 0xff;
    t.dst[row * 16 + k] = (i * 7 + k) & 0xff;
  }
  return row;
}

function assertRow(t: SocketTable, row: number, i: number): void {
  assert.deepEqual(
    [
      t.proto[row],
      t.family[row],
      t.state[row],
      t.timer[row],
      t.retrans[row],
      t.sport[row],
      t.dport[row],
      t.ifindex[row],
      t.expires[row],
      t.rqueue[row],
      t.wqueue[row],
      t.uid[row],
      t.inode[row],
      t.cookieLo[row],
      t.cookieHi[row],
    ],
    [1 + (i % 7), i % 2 ? 10 : 2, 1 + (i % 12), i % 5, i % 256, 1000 + i, 60000 - i, i % 3, i * 10, i * 2, i * 3, 1000 + i, 500000 + i, 0x10000 + i, i],
    `row ${row}`,
  );
  for (let k = 0; k < 16; k++) {
    assert.equal(t.src[row * 16 + k], (i + k) & 0xff);
    assert.equal(t.dst[row * 16 + k], (i * 7 + k) & 0xff);
  }
}

describe('SocketTable', () => {
  it('addRow past capacity keeps every earlier row, addresses included', () => {
    const t = new SocketTable(16);
    assert.equal(t.capacity, 16);
    for (let i = 0; i < 100; i++) fill(t, i);
    assert.equal(t.length, 100);
    assert.ok(t.capacity >= 100);
    for (let i = 0; i < 100; i++) assertRow(t, i, i);
    // src32/dst32 follow the grown buffers
    assert.equal(t.src32.buffer, t.src.buffer);
    assert.equal(t.dst32.buffer, t.dst.buffer);
  });

  it('setAttributes copies the bytes into the arena, which grows as needed', () => {
    const t = new SocketTable(16, 8);
    const attrs = [new Uint8Array([5, 0, 8, 0, 1]), new Uint8Array(70000).fill(0xab), new Uint8Array([8, 0, 15, 0, 1, 2, 3, 4])];
    const rows = attrs.map((a) => {
      const row = t.addRow();
      t.setAttributes(row, a, 0, a.byteLength);
      return row;
    });
    attrs.forEach((a, i) => {
      assert.equal(t.attrLength[rows[i]], a.byteLength);
      assert.equal(toHex(t.arena.subarray(t.attrStart[rows[i]], t.attrStart[rows[i]] + a.byteLength)), toHex(a));
    });
    assert.ok(t.arenaUsed >= 5 + 70000 + 8);
  });

  it('setAttributes takes a range out of a larger buffer', () => {
    const t = new SocketTable();
    const buf = new Uint8Array([9, 9, 9, 9, 4, 0, 14, 0, 9, 9, 9, 9]);
    const row = t.addRow();
    t.setAttributes(row, buf, 4, 8);
    assert.equal(t.attrLength[row], 4);
    assert.equal(toHex(t.arena.subarray(t.attrStart[row], t.attrStart[row] + 4)), '04 00 0e 00');
  });

  it("append() merges rows and rebases the second table's attribute offsets", () => {
    const a = new SocketTable(16);
    const b = new SocketTable(16);
    for (let i = 0; i < 20; i++) fill(a, i);
    for (let i = 20; i < 50; i++) fill(b, i);
    a.setAttributes(3, new Uint8Array([1, 2, 3, 4]), 0, 4);
    b.setAttributes(0, new Uint8Array([5, 6, 7, 8, 9, 10, 11, 12]), 0, 8);
    b.setAttributes(29, new Uint8Array([13, 14, 15, 16]), 0, 4);
    a.append(b);
    assert.equal(a.length, 50);
    for (let i = 0; i < 50; i++) assertRow(a, i, i);
    const attr = (row: number) => Array.from(a.arena.subarray(a.attrStart[row], a.attrStart[row] + a.attrLength[row]));
    assert.deepEqual(attr(3), [1, 2, 3, 4]);
    assert.deepEqual(attr(20), [5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(attr(49), [13, 14, 15, 16]);
    assert.equal(a.attrLength[21], 0);
  });

  it('pick() copies the chosen rows, in the order asked, with their own attributes', () => {
    const t = new SocketTable(16);
    for (let i = 0; i < 40; i++) {
      const row = fill(t, i);
      if (i % 3 === 0)
        t.setAttributes(
          row,
          Uint8Array.from({ length: 5 + (i % 4) }, (_, k) => i + k),
          0,
          5 + (i % 4),
        );
    }
    const rows = [39, 0, 7, 21, 3];
    const p = t.pick(rows);
    assert.equal(p.length, rows.length);
    rows.forEach((i, j) => {
      assertRow(p, j, i);
      if (i % 3 === 0) {
        assert.equal(p.attrLength[j], 5 + (i % 4));
        assert.deepEqual(
          [...p.arena.subarray(p.attrStart[j], p.attrStart[j] + p.attrLength[j])],
          [...Array(5 + (i % 4)).keys()].map((k) => i + k),
        );
      } else assert.equal(p.attrLength[j], 0);
    });
    assert.equal(t.pick([]).length, 0);
  });

  it('toBuffers() → structured clone with transfer (a worker post) → fromBuffers() gives the same rows', () => {
    const t = new SocketTable(16, 0);
    for (let i = 0; i < 37; i++) fill(t, i);
    t.setAttributes(36, new Uint8Array([8, 0, 15, 0, 0xde, 0xad, 0xbe, 0xef]), 0, 8);
    const { buffers, transfer } = t.toBuffers();
    const posted = structuredClone(buffers, { transfer });
    assert.equal(t.proto.byteLength, 0, "the sender's buffers were transferred (detached)");
    const r = SocketTable.fromBuffers(posted);
    assert.equal(r.length, 37);
    for (let i = 0; i < 37; i++) assertRow(r, i, i);
    assert.equal(toHex(r.arena.subarray(r.attrStart[36], r.attrStart[36] + r.attrLength[36])), '08 00 0f 00 de ad be ef');
    assert.equal(new DataView(r.src32.buffer).getUint8(16 * 5 + 1), (5 + 1) & 0xff, 'src32 views the same bytes');
    // the received table keeps working: it can grow
    for (let i = 37; i < 80; i++) fill(r, i);
    for (let i = 0; i < 80; i++) assertRow(r, i, i);
  });
});
