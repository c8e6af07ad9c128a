/**
 * The items of real gathers of this machine, across gathers: a listening port that goes away keeps its items
 * at 0 for the rules' lifetime (DiscoveryMemory), then is forgotten; its discovery row goes at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscoveryMemory, itemValues } from '../../src/zabbix/items.js';
import { gatherHere } from '../helpers/zabbix.js';

const listenPorts = (v: Map<string, string>) => new Set((JSON.parse(v.get('sockscope.ports.discovery')!) as Record<string, string>[]).map((r) => r['{#PORT}']));

test('a port that stops listening: no discovery row, its items 0 while remembered, gone after the lifetime', async () => {
  const first = await gatherHere();
  first.close();
  const second = await gatherHere();
  second.close();
  const gone = [...listenPorts(itemValues(first))].find((p) => !listenPorts(itemValues(second)).has(p));
  assert.ok(gone, "the first gather's own listener is not in the second");
  const memory = new DiscoveryMemory(60_000);
  const before = itemValues(first, memory);
  assert.notEqual(before.get(`sockscope.listen[${gone},backlog]`), '0');
  const after = itemValues({ ...second, time: first.time + 1000 }, memory);
  assert.ok(!listenPorts(after).has(gone), 'no longer discovered');
  for (const f of ['accept_queue', 'backlog', 'queue_pct']) assert.equal(after.get(`sockscope.listen[${gone},${f}]`), '0', f);
  assert.equal(after.get(`sockscope.port[${gone},tcp_listen]`), '0');
  const later = itemValues({ ...second, time: first.time + 61_000 }, memory);
  assert.equal(later.get(`sockscope.listen[${gone},backlog]`), undefined, 'forgotten after the lifetime');
  // and what is kept between runs (zabbix send --state) comes back the same
  const copy = DiscoveryMemory.fromJSON(JSON.parse(JSON.stringify(memory)), 'test');
  assert.deepEqual(copy.toJSON(), memory.toJSON());
  assert.throws(
    () => DiscoveryMemory.fromJSON({ 'sockscope.ports.discovery': { 22: 'yesterday' } }, 'state.json'),
    /state\.json: expected sockscope's discovery state/,
  );
});
