/**
 * The table's detail words are generated from the member table (ss-details.ts): every word a member declares
 * is printed by a flag set test/integration/ls-vs-ss.test.ts compares with ss; and a member added to a copy of
 * the table shows up in the table's words and the schema with no other change (one entry, plus its test).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InetAttr, Proto } from '../../../src/diag/constants.js';
import { decodeInetAttributes } from '../../../src/diag/inet.js';
import { INET_MEMBERS, TCP_INFO_SS, UNIX_MEMBERS, type SocketMember, type SsWord } from '../../../src/outputs/listing/socket-members.js';
import type { RecordOptions } from '../../../src/outputs/listing/socket-record.js';
import { socketSchema } from '../../../src/outputs/listing/socket-schema.js';
import { compileDetails, DetailsWriter } from '../../../src/outputs/listing/ss-details.js';
import { JsonBytes } from '../../../src/outputs/text/json-bytes.js';
import type { SocketHolders } from '../../../src/procfs/processes.js';
import { LS_VS_SS_FLAG_SETS } from '../../helpers/ss.js';
import { DiagSession, replayTransport, takeSnapshot } from '../../helpers/library.js';
import { SNAPSHOT } from '../../helpers/outputs.js';
import { recordedAnswer } from '../../helpers/recorded.js';

const words = (x: SsWord | readonly SsWord[] | undefined): readonly SsWord[] => (x === undefined ? [] : Array.isArray(x) ? x : [x as SsWord]);

/** ls's options for an ss flag set (`-tanem --cgroup`), and which families it lists. */
function optionsOf(flags: string): { o: RecordOptions; inet: boolean; unix: boolean } {
  const [short, ...long] = flags.split(' ');
  const has = (c: string) => short.includes(c);
  const o: RecordOptions = {
    extended: has('e'),
    timers: has('o'),
    info: has('i'),
    memory: has('m'),
    cgroup: long.includes('--cgroup'),
    tos: long.includes('--tos'),
  };
  if (has('p')) o.processes = {} as SocketHolders;
  return { o, inet: has('t') || has('u'), unix: has('x') };
}

describe('the ls table words from the member table', () => {
  it('every declared ss word is printed by a flag set compared with ss (ls-vs-ss)', () => {
    const printed = new Set<SsWord>();
    for (const flags of LS_VS_SS_FLAG_SETS) {
      const { o, inet, unix } = optionsOf(flags);
      if (inet) for (const w of compileDetails(INET_MEMBERS, o).shown) printed.add(w);
      if (unix) for (const w of compileDetails(UNIX_MEMBERS, o).shown) printed.add(w);
    }
    const declared: [string, SsWord][] = [
      ...[...INET_MEMBERS, ...UNIX_MEMBERS].flatMap((m) => words(m.ss).map((w): [string, SsWord] => [`${m.on} ${m.key}`, w])),
      ...Object.entries(TCP_INFO_SS).flatMap(([name, ws]) => words(ws).map((w): [string, SsWord] => [`tcp_info ${name}`, w])),
    ];
    assert.ok(declared.length > 60, `${declared.length} words declared`);
    const missing = declared.filter(([, w]) => !printed.has(w)).map(([what, w]) => `${what}: ${w.name || w.format}`);
    assert.deepEqual(missing, [], 'words no compared flag set prints');
  });

  it('compiles every flag combination (names, units and formats checked once, at compile time)', () => {
    for (let m = 0; m < 64; m++) {
      const o: RecordOptions = { extended: !!(m & 1), timers: !!(m & 2), info: !!(m & 4), memory: !!(m & 8), cgroup: !!(m & 16) };
      if (m & 32) o.processes = {} as SocketHolders;
      compileDetails(INET_MEMBERS, o);
      compileDetails(UNIX_MEMBERS, o);
    }
    assert.throws(
      () => compileDetails(INET_MEMBERS, { info: true }, { no_such_field: { name: 'x', format: 'int', rank: 1 } }),
      /no tcp_info field 'no_such_field'/,
    );
    assert.throws(
      () => compileDetails(INET_MEMBERS, { info: true }, { rtt: { name: 'rtt', format: 'timer', rank: 1 } } as Record<string, SsWord>),
      /not a number's/,
    );
  });

  it('a member added to a copy of the table appears in the table words and the schema', async () => {
    // a hypothetical member: the net_cls class id, shown by -e as ss would print a mark (classid:0x...)
    const added: SocketMember = {
      key: 'class_id_hex',
      on: 'inet',
      when: 'extended',
      from: { kind: 'scalar', attr: InetAttr.CLASS_ID, read: 'u32' },
      schema: { type: 'integer', minimum: 0 },
      doc: 'a test member',
      ss: { name: 'classid', format: 'hex', rank: 75 },
    };
    const inet = [...INET_MEMBERS, added];

    const t = (await takeSnapshot({ ...SNAPSHOT, tcpStrategy: 'v2' }, new DiagSession(replayTransport(recordedAnswer)))).table;
    const view = t.arenaView();
    const line = (members: readonly SocketMember[], i: number, o: RecordOptions): string => {
      const b = new JsonBytes(1 << 12);
      new DetailsWriter(b, o, { inet: members, unix: UNIX_MEMBERS }).sameLine(t, i, view);
      return Buffer.from(b.buf.subarray(0, b.pos)).toString('utf8');
    };
    let seen = 0;
    for (let i = 0; i < t.length; i++) {
      if (t.proto[i] === Proto.unix) continue;
      const start = t.attrStart[i];
      const classId = decodeInetAttributes(view, start, start + t.attrLength[i], t.proto[i]).classId;
      const o: RecordOptions = { extended: true, timers: true };
      const before = line(INET_MEMBERS, i, o);
      const after = line(inet, i, o);
      if (classId === undefined) {
        assert.equal(after, before, `row ${i}: no class id attribute, no word`);
        continue;
      }
      seen++;
      const word = ` classid:0x${classId.toString(16)}`;
      // ranked after fwmark (70), before cgroup (80)
      const at = before.search(/ cgroup:| v6only:| [<-][-][->]|$/);
      assert.equal(after, before.slice(0, at) + word + before.slice(at), `row ${i}`);
      assert.equal(line(inet, i, { timers: true }), line(INET_MEMBERS, i, { timers: true }), 'not without -e');
    }
    assert.ok(seen > 0, 'the recording has class ids');

    const schema = socketSchema(inet, UNIX_MEMBERS) as { properties: Record<string, unknown>; description: string };
    assert.deepEqual(schema.properties.class_id_hex, { type: 'integer', minimum: 0, description: 'a test member' });
    assert.match(schema.description, /-e [^;]*class_id_hex/);
    assert.equal((socketSchema() as { properties: Record<string, unknown> }).properties.class_id_hex, undefined);
  });
});
