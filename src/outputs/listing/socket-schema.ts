/**
 * schema/socket.schema.json, made from the member table (socket-members.ts): `npm run schema` writes it, and
 * test/outputs/socket-schema.test.ts fails when the committed file differs from what the table says.
 */
import { INET_MEMBERS as INET, memberSchema, SECTION_FLAG, UNIX_MEMBERS as UNIX, type SocketMember } from './socket-members.js';
import { FAMILY_MEMBERS } from './family-record.js';
import { FAMILY_NAMES } from '../../diag/family-socket.js';

const UNIT_TEXT: Record<string, string> = { bytes: 'bytes', us: 'microseconds', ms: 'milliseconds', bps: 'bits per second', connections: 'connections' };

function describeMember(m: SocketMember): Record<string, unknown> {
  const schema = memberSchema(m);
  return m.doc ? { ...schema, description: m.doc } : schema;
}

/** The JSON schema of a socket record, as an object (socketSchemaText() is the file's text); a test passes a copy of the table. */
export function socketSchema(INET_MEMBERS: readonly SocketMember[] = INET, UNIX_MEMBERS: readonly SocketMember[] = UNIX): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  // one property per key: a key both families have (uid, inode, cookie, shutdown, memory, ...) has one shape
  for (const m of [...INET_MEMBERS, ...UNIX_MEMBERS]) {
    const s = describeMember(m);
    const seen = properties[m.key];
    if (seen === undefined) properties[m.key] = s;
    else if (JSON.stringify(seen) !== JSON.stringify(s)) throw new Error(`socket member ${m.key} has two shapes (inet and unix)`);
  }
  // packet, netlink, vsock and XDP records (family-record.ts): their own members; a key shared with inet or unix
  // keeps that shape, an enum (protocol, family, state, socket_type) takes the union of the values
  for (const m of FAMILY_MEMBERS) {
    const s = m.doc ? { ...m.schema, description: m.doc } : m.schema;
    const seen = properties[m.key] as { enum?: string[] } | undefined;
    if (seen === undefined) properties[m.key] = s;
    else if (seen.enum && Array.isArray(m.schema.enum)) properties[m.key] = { ...seen, enum: [...new Set([...seen.enum, ...(m.schema.enum as string[])])] };
    else if ((seen as { type?: unknown }).type !== m.schema.type) throw new Error(`socket member ${m.key} has two shapes (inet/unix and ${m.on.join('/')})`);
  }
  const always = (members: readonly { when: string; key: string }[]) => members.filter((m) => m.when === 'always').map((m) => m.key);
  const common = always(INET_MEMBERS).filter((k) => always(UNIX_MEMBERS).includes(k));
  const sections = Object.entries(SECTION_FLAG)
    .filter(([s]) => s !== 'always' && s !== 'bound')
    .map(([s, flag]) => `${flag} ${[...new Set([...INET_MEMBERS, ...UNIX_MEMBERS].filter((m) => m.when === s).map((m) => m.key))].join(', ')}`);
  const units = [...new Set([...INET_MEMBERS, ...UNIX_MEMBERS].flatMap((m) => (m.unit ? [m.unit] : [])))].map((u) => UNIT_TEXT[u]);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://sockscope.dev/schema/socket.schema.json',
    title: 'sockscope socket record',
    description:
      'One socket as printed by `sockscope ls --format json` (each element of `sockets`) and `--format ndjson` (each line). ' +
      `Sections appear with the ss-style flags that ask for them: ${sections.join('; ')}. ` +
      `Times carry their unit in the name (_us, _ms); rates are bits per second (_bps); sizes are ${units.includes('bytes') ? 'bytes' : ''}. ` +
      'Generated from src/outputs/listing/socket-members.ts by `npm run schema`.',
    type: 'object',
    required: common,
    additionalProperties: false,
    properties,
    allOf: [
      {
        if: { properties: { protocol: { const: 'unix' } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else
        then: { required: always(UNIX_MEMBERS).filter((k) => !common.includes(k)), properties: { family: { const: 'unix' } } },
        else: {
          if: { properties: { protocol: { enum: [...FAMILY_NAMES] } } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else
          then: { required: always(FAMILY_MEMBERS).filter((k) => !common.includes(k) && !['packet', 'netlink', 'vsock', 'xdp'].includes(k)) },
          else: { required: always(INET_MEMBERS).filter((k) => !common.includes(k)), properties: { family: { enum: ['ipv4', 'ipv6'] } } },
        },
      },
      // a packet record has its packet member, a netlink record its netlink member, ...
      ...FAMILY_NAMES.map((f) => ({
        if: { properties: { protocol: { const: f } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else
        then: { required: [f], properties: { family: { const: f } } },
      })),
    ],
  };
}

/** The schema file's text. */
export const socketSchemaText = (): string => `${JSON.stringify(socketSchema(), null, 2)}\n`;
