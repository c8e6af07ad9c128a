/** The one tag syntax (src/util/tags.ts), as --tag, --port-group and the config's environment take it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTags } from '../../src/util/tags.js';
import { planGather } from '../../src/cli/gather.js';
import { loadConfig } from '../../src/config/load.js';

const bad = (item: string) => new Error(`bad ${item}`);

describe('parseTags', () => {
  it('a list of KEY=VALUE items, or one comma-separated text of them; trimmed', () => {
    assert.deepEqual(parseTags(['a=1', ' b = two '], bad), { a: '1', b: 'two' });
    assert.deepEqual(parseTags('a=1, b=2,,', bad), { a: '1', b: '2' });
    assert.deepEqual(parseTags(['url=http://x/?q=1'], bad), { url: 'http://x/?q=1' }, 'the first = splits');
    assert.deepEqual(parseTags([], bad), {});
  });

  it('an item without a key, a value or an = is refused, by name', () => {
    for (const item of ['a', '=1', 'a=', ' = ']) assert.throws(() => parseTags([item], bad), { message: `bad ${item}` });
  });

  it('--tag, --port-group tags and ENV_INPUT_NETSTAT_TAGS agree', () => {
    const cli = planGather(['--tag', 'env=prod', '--measurement', 'netstat_port', '--port-group', '80@service=web,tier=edge'], 'gather');
    assert.ok(cli !== 'help');
    assert.deepEqual(cli.config.tags, { env: 'prod' });
    assert.deepEqual(cli.config.netstatPort?.groups[0].tags, { service: 'web', tier: 'edge' });
    assert.throws(() => planGather(['--tag', 'env='], 'gather'), /--tag: 'env=' is not KEY=VALUE/);
    const l = loadConfig({ env: { ENV_INPUT_NETSTAT_TAGS: 'a=1,b=2' } });
    assert.equal(l.config.agent.tags.a, '1');
    assert.throws(() => loadConfig({ env: { ENV_INPUT_NETSTAT_TAGS: 'a=1,b' } }), /ENV_INPUT_NETSTAT_TAGS/);
  });
});
