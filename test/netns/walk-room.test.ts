/**
 * The walker's exposition written into a buffer handed back (NetnsWalker.recycle, WalkRequest.room): the agent
 * gives the previous gather's dead part back, and the next walk renders into it instead of allocating (and
 * faulting in) a buffer of the exposition's size every gather. PrometheusWriter.exposition(room) writes into a
 * room that is large enough and makes a buffer with some to spare otherwise.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { MeasurementSchema } from '../../src/model/metric.js';
import { NetnsWalker } from '../../src/netns/walk.js';
import { PrometheusWriter } from '../../src/outputs/metrics/prometheus.js';

const SCHEMA: MeasurementSchema = {
  name: 'room',
  help: 'a test measurement',
  fields: { n: { type: 'int', help: 'a count', prom: { name: 'room_n', help: 'a count' } } },
};

describe('exposition rooms', () => {
  test('the writer writes into a room large enough, and makes a buffer with room to spare otherwise', () => {
    const w = new PrometheusWriter();
    for (let i = 0; i < 100; i++) w.write({ schema: SCHEMA, tags: { port: String(i) }, fields: { n: i }, time: 0 });
    const fresh = w.exposition();
    const size = fresh.bytes.length;
    assert.ok(fresh.bytes.buffer.byteLength > size, 'a new buffer has room to spare');
    const big = new ArrayBuffer(size + 10);
    const into = w.exposition(big);
    assert.equal(into.bytes.buffer, big, 'written into the room');
    assert.deepEqual(Buffer.from(into.bytes), Buffer.from(fresh.bytes));
    const small = w.exposition(new ArrayBuffer(size - 1));
    assert.notEqual(small.bytes.buffer.byteLength, size - 1, 'a room too small is not used');
    assert.deepEqual(Buffer.from(small.bytes), Buffer.from(fresh.bytes));
  });

  test('a buffer handed back to the walker carries its next exposition; one per thread is taken', async () => {
    const walker = new NetnsWalker({ threads: 1, keepSockets: true });
    const target = { inode: statSync('/proc/self/ns/net').ino, path: '/proc/self/ns/net', own: true };
    const job = { kind: 'gather' as const, config: { measurements: ['netstat'] }, exposition: true, metrics: false };
    try {
      const first = await walker.walk([target], job);
      assert.equal(first.parts.length, 1);
      const text = Buffer.from(first.parts[0].bytes).toString();
      assert.match(text, /^sockscope_tcp_connections\{/m);
      const room = new ArrayBuffer(1 << 20);
      assert.equal(walker.recycle(room), true);
      assert.equal(walker.recycle(new ArrayBuffer(1 << 20)), false, 'one room per thread');
      const second = await walker.walk([target], job);
      assert.equal(second.parts[0].bytes.buffer.byteLength, 1 << 20, 'the exposition came back in the room handed over');
      assert.equal(room.byteLength, 0, 'the room was transferred to the walker');
      assert.match(Buffer.from(second.parts[0].bytes).toString(), /^sockscope_tcp_connections\{/m);
      const third = await walker.walk([target], job);
      assert.notEqual(third.parts[0].bytes.buffer.byteLength, 1 << 20, 'no room handed back: a new buffer');
    } finally {
      await walker.close();
    }
  });
});
