/**
 * What the agent logs and `zabbix send` prints when a Zabbix server refuses items. The server's answer only
 * counts them ("processed: 45; failed: 40; total: 85"), so the message says which group of keys that count
 * matches and why such keys fail, and does not pretend to know more. The pushes here are what a real gather of
 * this machine sends (with a listener of our own), the counts what Zabbix 6.0 answered in the situations named
 * (test/zabbix-server/ produces them against a real server).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { senderItems, type SenderItem } from '../../src/zabbix/items.js';
import { explainRefusal } from '../../src/zabbix/refusal.js';
import { gatherHere } from '../helpers/zabbix.js';

describe('explainRefusal', () => {
  let items: SenderItem[];
  let here: Awaited<ReturnType<typeof gatherHere>>;
  const answer = (failed: number) => ({
    response: 'success',
    info: `processed: ${items.length - failed}; failed: ${failed}; total: ${items.length}`,
    failed,
    total: items.length,
  });

  before(async () => {
    here = await gatherHere();
    items = senderItems(here, 'web-01');
  });
  after(() => here?.close());

  test('every item refused: the host is unknown to the server or lacks the template', () => {
    assert.match(
      explainRefusal(items, answer(items.length)),
      /refused all \d+ items: host "web-01" is unknown to it .* template "sockscope by Zabbix trapper"/,
    );
  });

  test('the first push before discovery: the discovered items are named, with the reason (not "check the template")', () => {
    const discovered = items.filter((i) => /^sockscope\.(port|listen)\[/.test(i.key)).length;
    const msg = explainRefusal(items, answer(discovered));
    assert.match(msg, new RegExp(`refused ${discovered} of ${items.length} items of host "web-01" \\(its answer does not say which\\); that is as many as`));
    assert.match(msg, /items of discovered port groups \(sockscope\.port\[/);
    assert.match(msg, /items of discovered listening TCP ports \(sockscope\.listen\[/);
    assert.equal(msg.match(/Zabbix has not created them yet from the discovery rows/g)?.length, 1, 'the reason once');
    assert.doesNotMatch(msg, /template items/);
  });

  test('a count no group adds up to: said so, with what was sent', () => {
    assert.match(
      explainRefusal(items, answer(1)),
      /no group of sockscope's keys adds up to that: .*\(sent: \d+ template items, 2 discovery rules, \d+ items of discovered port groups/,
    );
  });

  test('an answer other than success is quoted', () => {
    assert.equal(
      explainRefusal(items, { response: 'failed', info: 'cannot process', failed: NaN, total: NaN }),
      'the Zabbix server answered "failed" (cannot process)',
    );
  });
});
