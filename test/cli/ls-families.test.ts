/**
 * ls's reading of ss's family rules (src/cli/ls-families.ts): the preferred family is the last family option
 * (misc/ss.c filter_af_set), and a condition read in a family binds the listing to it (parse_hostcond). The
 * listings themselves are compared with ss in test/integration/families-vs-ss.test.ts and ls-vs-ss.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindFamily, DEFAULT_FAMILIES, lastLinkFamily } from '../../src/cli/ls-families.js';
import { parseCommand } from '../../src/cli/options.js';
import { commandSpec } from '../../src/cli/spec.js';
import type { ProtoName } from '../../src/diag/constants.js';
import type { FamilyRequest } from '../../src/snapshot/families.js';

const preferred = (...args: string[]) => lastLinkFamily(parseCommand(commandSpec('ls'), args).given);

describe('ls: the families of ss', () => {
  it('the preferred family is the last of -4 -6 -0 -x --vsock --xdp -f, in command-line order (clusters too); -A and -t set none', () => {
    assert.equal(preferred('-0'), 'packet');
    assert.equal(preferred('-ta0'), 'packet');
    assert.equal(preferred('-f', 'link'), 'packet');
    assert.equal(preferred('--family=netlink', '-a'), 'netlink');
    assert.equal(preferred('-x'), 'unix');
    assert.equal(preferred('-f', 'unix'), 'unix');
    assert.equal(preferred('-0', '-4'), undefined);
    assert.equal(preferred('-4', '-0'), 'packet');
    assert.equal(preferred('-0', '-f', 'inet'), undefined);
    assert.equal(preferred('-x', '-t', '-A', 'netlink'), 'unix');
    assert.equal(preferred('-A', 'packet', '-a'), undefined);
    assert.equal(preferred('-tan'), undefined);
  });

  it('a bound family keeps only its own dump: unix keeps the unix protocol, packet or netlink their family request', () => {
    const plan = (protocols: ProtoName[], families: Omit<FamilyRequest, 'states'>[]) => ({ snapshot: { protocols }, families });
    const all = plan(['tcp', 'udp', 'unix'], [...DEFAULT_FAMILIES]);
    bindFamily(all, 'unix');
    assert.deepEqual([all.snapshot.protocols, all.families], [['unix'], []]);
    const packet = plan(['tcp', 'unix'], [...DEFAULT_FAMILIES]);
    bindFamily(packet, 'packet');
    assert.deepEqual(packet.snapshot.protocols, []);
    assert.deepEqual(
      packet.families.map((f) => f.family),
      ['packet'],
    );
    const none = plan(['tcp'], []);
    bindFamily(none, 'packet');
    assert.deepEqual([none.snapshot.protocols, none.families], [[], []]);
    const unbound = plan(['tcp'], []);
    bindFamily(unbound, undefined);
    assert.deepEqual(unbound.snapshot.protocols, ['tcp']);
  });

  it('the default tables are netlink, packet, vsock and XDP, none required, each unsaid when missing', () => {
    assert.deepEqual(
      DEFAULT_FAMILIES.map((f) => [f.family, f.required, f.quiet]),
      [
        ['netlink', false, true],
        ['packet', false, true],
        ['vsock', false, true],
        ['xdp', false, true],
      ],
    );
  });
});
