/**
 * /proc/net standing in for a protocol the kernel cannot dump over sock_diag (no diag module, a refused dump, no
 * netlink at all). The reason is worded once (fallbackReason) for the table, the stream and the census.
 */
import { readFileSync } from 'node:fs';
import { AF_UNIX, Proto, type ProtoName } from '../diag/constants.js';
import { parseProcNetInet, parseProcNetUnix, procNetFile } from '../procfs/net.js';
import { ENOENT, errnoName } from '../sys/errno.js';
import { NUMBER_COLUMNS, type SocketTable } from './table.js';
import type { ProtocolSource } from './types.js';

/**
 * Why a protocol is read from /proc after the kernel answered its dump with `errno`: ENOENT is the kernel's
 * answer for a protocol without its diag module; anything else is a refusal (EPERM, EINVAL, ...), said as such.
 */
export function fallbackReason(protocol: ProtoName, errno: number): string {
  const name = errnoName(errno);
  return errno === ENOENT
    ? `the kernel cannot dump ${protocol} over sock_diag (${name}: no diag module)`
    : `the kernel refused to dump ${protocol} over sock_diag (${name})`;
}

const SCTP_NOTE = 'SCTP has no sock_diag module here and /proc/net/sctp is not read by sockscope';

export function readFromProc(
  table: SocketTable,
  protocol: ProtoName,
  families: readonly number[],
  states: number,
  procRoot: string,
  src: ProtocolSource,
  why?: string,
): void {
  src.source = 'proc';
  if (why) src.note = why;
  const from = table.length;
  const files: { file: string; family: number }[] =
    protocol === 'unix'
      ? [{ file: 'unix', family: AF_UNIX }]
      : families.flatMap((family) => {
          const file = procNetFile(Proto[protocol], family);
          return file ? [{ file, family }] : [];
        });
  if (files.length === 0) {
    src.source = 'unavailable';
    src.note = protocol === 'sctp' ? SCTP_NOTE : `${why ? `${why}; ` : ''}/proc/net has no table for ${protocol}`;
    return;
  }
  const missing: string[] = [];
  for (const { file, family } of files) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/net/${file}`, 'latin1');
    } catch {
      missing.push(file);
      continue;
    }
    const r = protocol === 'unix' ? parseProcNetUnix(text, table) : parseProcNetInet(text, table, Proto[protocol], family);
    src.malformed += r.malformed;
  }
  if (missing.length === files.length) {
    src.source = 'unavailable';
    src.note = `${why ? `${why}; ` : ''}${missing.map((f) => `/proc/net/${f}`).join(', ')} not present (${protocol} not in this kernel)`;
  } else if (missing.length > 0) {
    src.note = `${src.note ? `${src.note}; ` : ''}missing ${missing.map((f) => `/proc/net/${f}`).join(', ')}`;
  }
  // /proc lists every state; apply the requested mask the kernel would have applied.
  if ((states & 0xfff) !== 0xfff) {
    let w = from;
    for (let r = from; r < table.length; r++) {
      if (states & (1 << table.state[r])) {
        if (w !== r) copyRow(table, r, w);
        w++;
      }
    }
    table.length = w;
  }
}

function copyRow(t: SocketTable, from: number, to: number): void {
  for (const k of NUMBER_COLUMNS) (t[k] as Uint32Array)[to] = (t[k] as Uint32Array)[from];
  t.src.copyWithin(to * 16, from * 16, from * 16 + 16);
  t.dst.copyWithin(to * 16, from * 16, from * 16 + 16);
}
