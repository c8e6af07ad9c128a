/**
 * `ls` without a filter expression skips the filter modules (statesOnly): it must select exactly the rows
 * compileFilter([]) selects, for every default state set ls uses and any table.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ALL_STATES, TCP_CLOSE, TCP_LISTEN } from '../../src/diag/constants.js';
import { compileFilter } from '../../src/filter/index.js';
import { SS_CONN, statesOnly } from '../../src/cli/ls.js';
import { budget } from '../helpers/fuzz-budget.js';
import { row, tableOf } from '../helpers/outputs.js';

describe('ls statesOnly', () => {
  it('selects what compileFilter([]) selects, with the same states and no bytecode', () => {
    for (const states of [ALL_STATES, SS_CONN, (1 << TCP_LISTEN) | (1 << TCP_CLOSE)]) {
      const slow = compileFilter([], { defaultStates: states, netAdmin: false });
      const fast = statesOnly(states);
      assert.equal(fast.states, slow.states);
      assert.equal(fast.bytecode, slow.bytecode);
      fc.assert(
        fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
          const t = tableOf(rows);
          for (let i = 0; i < t.length; i++) assert.equal(fast.matches(t, i), slow.matches(t, i));
        }),
        budget(300, 2000),
      );
    }
  });
});
