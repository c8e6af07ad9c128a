/**
 * How the agent keeps dead buffers from piling up between gathers (src/util/external-garbage.ts):
 *   - releaseBuffers frees buffers without waiting for a garbage collection (the worker's table after a gather);
 *   - collectExternalGarbage collects when more than its budget of external memory is held, and only then.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { collectExternalGarbage, releaseBuffers } from '../../src/util/external-garbage.js';
import { until } from '../helpers/wait.js';

const MB = 1 << 20;

describe('dead buffers between gathers', () => {
  test('releaseBuffers: the memory goes without a collection, the buffers are detached', async () => {
    const buffers = Array.from({ length: 8 }, () => new Uint8Array(4 * MB).fill(7).buffer);
    const before = process.memoryUsage().arrayBuffers;
    releaseBuffers(buffers);
    assert.ok(
      buffers.every((b) => b.byteLength === 0),
      'detached',
    );
    // `buffers` stays referenced: only the release can have freed the 32 MB
    await until('the 32 MB to be freed', () => (process.memoryUsage().arrayBuffers <= before - 30 * MB ? true : undefined), 5000, 5);
    assert.equal(buffers.length, 8);
  });

  test('collectExternalGarbage: a collection past the budget frees unreferenced buffers; none under it', async () => {
    assert.equal(collectExternalGarbage(Number.MAX_SAFE_INTEGER), false, 'under the budget: nothing runs');
    const base = getHeapStatistics().external_memory;
    // 32 MB that nothing references once made() returns; the registry says when they are collected (registering
    // does not keep them alive, as a WeakRef would until the task ends)
    let finalized = false;
    const registry = new FinalizationRegistry(() => {
      finalized = true;
    });
    const made = () => {
      const buffers = Array.from({ length: 8 }, () => new Uint8Array(4 * MB).fill(1));
      assert.ok(getHeapStatistics().external_memory >= base + 30 * MB);
      registry.register(buffers, 'dead');
    };
    made();
    assert.equal(collectExternalGarbage(base + 8 * MB), true, 'over the budget: collected');
    // the backing stores are freed by V8's array buffer sweeper, which may finish on another thread: soon, well
    // before V8 would collect by itself
    const t0 = performance.now();
    await until('the 32 MB to be freed', () => (getHeapStatistics().external_memory < base + 8 * MB ? true : undefined), 5000, 5);
    assert.ok(performance.now() - t0 < 1000, `freed after ${Math.round(performance.now() - t0)} ms`);
    await until('the buffers to be finalized', () => (finalized ? true : undefined), 5000, 5);
  });
});
