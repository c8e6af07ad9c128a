/** countsAt: the netstat families' fields, as the serializers and the JSON/Influx outputs see them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countsAt, NETSTAT_FIELD_COUNT, NETSTAT_FIELDS } from '../../src/collectors/netstat.js';

describe('countsAt', () => {
  const counts = Float64Array.from({ length: 3 * NETSTAT_FIELD_COUNT }, (_, k) => k);
  it("gives a plain object of NETSTAT_FIELDS in order, the row's counts", () => {
    const f = countsAt(counts, NETSTAT_FIELD_COUNT);
    assert.equal(Object.getPrototypeOf(f), Object.prototype);
    assert.deepEqual(Object.keys(f), [...NETSTAT_FIELDS]);
    assert.deepEqual(
      Object.values(f),
      NETSTAT_FIELDS.map((_, k) => NETSTAT_FIELD_COUNT + k),
    );
    assert.deepEqual(f, Object.fromEntries(NETSTAT_FIELDS.map((n, k) => [n, NETSTAT_FIELD_COUNT + k])));
  });
  it('with a pid: the same fields, then pid', () => {
    const f = countsAt(counts, 2 * NETSTAT_FIELD_COUNT, 4242);
    assert.equal(Object.getPrototypeOf(f), Object.prototype);
    assert.deepEqual(Object.keys(f), [...NETSTAT_FIELDS, 'pid']);
    assert.equal(f.pid, 4242);
    assert.equal(f.udp_socket, 3 * NETSTAT_FIELD_COUNT - 1);
  });
});
