/**
 * schema/socket.schema.json is generated from the member table (`npm run schema`): the committed file must be
 * what the table says, and every record the writer makes must validate against it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { socketSchema, socketSchemaText } from '../../../src/outputs/listing/socket-schema.js';
import { INET_MEMBERS, UNIX_MEMBERS } from '../../../src/outputs/listing/socket-members.js';
import { FAMILY_MEMBERS } from '../../../src/outputs/listing/family-record.js';

const FILE = fileURLToPath(new URL('../../../../schema/socket.schema.json', import.meta.url));

describe('schema/socket.schema.json', () => {
  it('is what the member table says (run `npm run schema` after changing src/outputs/listing/socket-members.ts)', () => {
    assert.equal(readFileSync(FILE, 'utf8'), socketSchemaText());
  });

  it('is a valid 2020-12 schema naming every member of inet, unix and the other families (packet, netlink, vsock, xdp), and nothing else', () => {
    const schema = socketSchema();
    new Ajv2020({ strict: true, strictRequired: false }).compile(schema);
    const keys = Object.keys(schema.properties as object).sort();
    assert.deepEqual(keys, [...new Set([...INET_MEMBERS, ...UNIX_MEMBERS, ...FAMILY_MEMBERS].map((m) => m.key))].sort());
  });
});
