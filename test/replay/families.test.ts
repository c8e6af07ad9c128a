/**
 * Real packet_diag and netlink_diag answers (test/fixtures/families, recorded by
 * scripts/record-family-fixtures.mjs from the sockets of test/helpers/family-maker.ts) replayed through
 * takeFamilySockets and the table writer: the lines must be the ss lines recorded at the same moment, field by
 * field (ss -0 -a -n -e -b -m, ss -A netlink -a -n -e -m), and the requests the library sends must be the
 * recorded ones.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FamilyName } from '../../src/diag/family-socket.js';
import { familyTableText } from '../../src/outputs/listing/family-table.js';
import { takeFamilySockets } from '../../src/snapshot/families.js';
import { replayTransport, splitDatagrams } from '../../src/snapshot/replay.js';
import { DiagSession } from '../../src/snapshot/session.js';
import { entries, notTheDumper, sorted } from '../helpers/ss-entries.js';

const DIR = fileURLToPath(new URL('../../../test/fixtures/families/', import.meta.url));
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as {
  dumps: { file: string; family: FamilyName; requestHex: string; sockets: number }[];
};
const AF: Record<string, number> = { netlink: 16, packet: 17 };

async function replay(family: FamilyName) {
  const dump = manifest.dumps.find((d) => d.family === family)!;
  const datagrams = splitDatagrams(readFileSync(`${DIR}${dump.file}`));
  const transport = replayTransport((r) => (r.body[0] === AF[family] ? datagrams : undefined));
  const { sockets, notes } = await takeFamilySockets([{ family, states: 1 << 7, required: true }], {}, new DiagSession(transport));
  // the request, past the header's length, type, flags and sequence, is the recorded one
  assert.equal(Buffer.from(transport.requests[0].body).toString('hex'), dump.requestHex.slice(32));
  assert.deepEqual(notes, []);
  assert.equal(sockets.length, dump.sockets);
  return sockets;
}

// a fresh namespace's lo is ifindex 1
const options = { extended: true, memory: true, bpf: true, interfaceName: (i: number) => (i === 1 ? 'lo' : undefined) };

describe('recorded packet_diag and netlink_diag answers, replayed', () => {
  it('packet sockets: the lines of ss -0 -a -n -e -b -m (filters, fanout, ring, flags, skmem)', async () => {
    const sockets = await replay('packet');
    const ours = entries(familyTableText(sockets, options, { header: true, netid: true, state: true }));
    const theirs = entries(readFileSync(`${DIR}ss-0anebm.txt`, 'utf8'));
    assert.deepEqual(ours.header, theirs.header);
    assert.deepEqual(sorted(ours.rows), sorted(theirs.rows));
    assert.equal(theirs.rows.length, 4);
  });

  it('netlink sockets: the lines of ss -A netlink -a -n -e -m (the connected peer, groups, skmem)', async () => {
    const sockets = await replay('netlink');
    const ours = entries(familyTableText(sockets, options, { header: true, netid: false, state: true }));
    const theirs = entries(readFileSync(`${DIR}ss-Anetlink-anem.txt`, 'utf8'));
    assert.deepEqual(ours.header, theirs.header);
    assert.deepEqual(sorted(ours.rows.filter(notTheDumper)), sorted(theirs.rows.filter(notTheDumper)));
    assert.ok(theirs.rows.filter(notTheDumper).length >= 10);
  });

  it('every datagram cut short still decodes what it holds, and says what it skipped', async () => {
    const dump = manifest.dumps.find((d) => d.family === 'packet')!;
    const [first, ...rest] = splitDatagrams(readFileSync(`${DIR}${dump.file}`));
    for (let cut = 17; cut < first.byteLength; cut += 23) {
      const transport = replayTransport(() => [first.slice(0, cut), ...rest]);
      const r = await takeFamilySockets([{ family: 'packet', states: 1 << 7, required: true }], {}, new DiagSession(transport));
      assert.ok(r.sockets.length <= dump.sockets);
    }
  });
});
