/**
 * The record's tcp_info member as JSON, from TCP_INFO_MEMBERS (socket-members.ts): a table of output fields
 * (OUT_FIELDS: fragment, offset, kind, scale) interpreted per socket. Also the members one by one
 * (tcpInfoMember), for the table's detail words.
 */
import { readTcpInfoAt, TCP_INFO_FIELDS, TCP_INFO_KIND_CODE as KIND, TCP_INFO_KIND_SIZE as SIZE, TCP_INFO_UNSET } from '../../diag/tcp-info.js';
import { fragment as A, FragmentTable, putU32, type Fragment } from '../text/bytes.js';
import { JsonBytes } from '../text/json-bytes.js';
import { TCP_INFO_MEMBERS, TCPI_OPTIONS } from './socket-members.js';

const CLOSE = 125; // }
/** tcpi_options bits → the `,"options":[...]` member, for every byte value */
const OPTIONS_JSON = (v: number) => JSON.stringify(TCPI_OPTIONS.filter(([bit]) => v & bit).map(([, n]) => n));
const OPTIONS_FRAG = new FragmentTable((v) => `,"options":${OPTIONS_JSON(v)}`);
const F = { infoBytes: A(',"info_bytes":'), infoBytesFirst: A('{"info_bytes":') };

const SPECIAL_NONE = 0;
const SPECIAL_MIN_RTT = 1;
const SPECIAL_WSCALE = 2;

interface OutField {
  /** `,"name":` */
  rest: Fragment;
  /** `{"name":` (when it is the first member) */
  first: Fragment;
  offset: number;
  /** offset + size: the field is present when the kernel sent at least this many bytes */
  end: number;
  kind: number;
  scale: number;
  special: number;
}

const OUT_FIELDS: readonly OutField[] = TCP_INFO_MEMBERS.map(({ field, name, scale, special }) => ({
  rest: A(`,"${name}":`),
  first: A(`{"${name}":`),
  offset: field.offset,
  end: field.offset + SIZE[field.kind],
  kind: KIND[field.kind],
  scale,
  special: special === 'minRtt' ? SPECIAL_MIN_RTT : special === 'wscale' ? SPECIAL_WSCALE : SPECIAL_NONE,
}));
const OPTIONS_OFFSET = TCP_INFO_FIELDS.find((x) => x.name === 'options')!.offset;
const MIN_RTT_UNSET = TCP_INFO_UNSET.min_rtt;
const OUT_BY_NAME = new Map(TCP_INFO_MEMBERS.map(({ name }, k) => [name, OUT_FIELDS[k]]));

/** A tcp_info member by output name (rtt_us, pacing_rate_bps), for tcpInfoMember(). */
export type TcpInfoMember = OutField;
export function tcpInfoMemberOf(name: string): TcpInfoMember {
  const f = OUT_BY_NAME.get(name);
  if (!f) throw new Error(`no tcp_info member '${name}'`);
  return f;
}

/**
 * One tcp_info member as tcpInfoRecord has it (scaled), or undefined when the record leaves it out: past the
 * length the kernel sent, ~0 for a u64 ("unlimited"), min_rtt unset, wscale without the wscale option.
 */
export function tcpInfoMember(view: DataView, off: number, len: number, f: TcpInfoMember): number | undefined {
  if (f.end > len) return undefined;
  const at = off + f.offset;
  const v = readTcpInfoAt(view, at, f.kind);
  if (v === Infinity) return undefined; // a u64's ~0
  if (f.special === SPECIAL_MIN_RTT && v === MIN_RTT_UNSET) return undefined;
  // wscale lies at offset 6, so the options byte (5) is there
  if (f.special === SPECIAL_WSCALE && !(view.getUint8(off + OPTIONS_OFFSET) & 4)) return undefined;
  return f.scale === 1 ? v : v * f.scale;
}

/** Bytes enough for any tcp_info member list: every member at its longest, the options, info_bytes. */
const TCP_INFO_ROOM = OUT_FIELDS.reduce((n, f) => n + f.first.words.length * 4 + 24, 0) + 256;

/**
 * The members of tcp_info as JSON at buf[p..]: OUT_FIELDS compiled once, at load, into straight-line code (the
 * interpreter's loop unrolled): per field its length check, its read with the kind known, tcpInfoMember's rules,
 * its key's words as constants. The output is the interpreter's; the per-socket, per-field lookups are gone
 * (~80 fields a socket). Returns the end, as ~end when no member was written.
 */
type MembersJson = (b: JsonBytes, buf: Uint8Array, dv: DataView, view: DataView, off: number, len: number, p: number) => number;

function compileMembers(): MembersJson {
  const code: string[] = ['let v = 0;', 'let started = false;', 'out: {'];
  OUT_FIELDS.forEach((f, k) => {
    if (f.first.length !== f.rest.length) throw new Error(`tcp_info member keys of different lengths at ${k}`);
    const at = `off + ${f.offset}`;
    code.push(`if (len < ${f.end}) break out;`);
    code.push(
      f.kind === KIND.u32 ? `v = view.getUint32(${at}, true);` : f.kind === KIND.u8 ? `v = view.getUint8(${at});` : `v = read(view, ${at}, ${f.kind});`,
    );
    code.push(`f${k}: {`);
    if (f.kind === KIND.u64) code.push(`if (v === Infinity) break f${k};`); // a u64's ~0
    if (f.special === SPECIAL_MIN_RTT) code.push(`if (v === ${MIN_RTT_UNSET}) break f${k};`);
    // wscale lies at offset 6, so the options byte (5) is there
    if (f.special === SPECIAL_WSCALE) code.push(`if (!(view.getUint8(off + ${OPTIONS_OFFSET}) & 4)) break f${k};`);
    if (f.scale !== 1) code.push(`v *= ${f.scale};`);
    const store = (words: Int32Array) => Array.from(words, (w, j) => `dv.setInt32(p + ${4 * j}, ${w}, true);`).join(' ');
    code.push(`if (started) { ${store(f.rest.words)} } else { ${store(f.first.words)} started = true; }`);
    code.push(`p += ${f.rest.length};`);
    code.push('if (v >>> 0 === v) p = putU32(buf, p, v); else { b.pos = p; b.num(v); p = b.pos; buf = b.buf; dv = b.view(); }');
    code.push('}');
  });
  code.push('}', 'return started ? p : ~p;');
  const make = new Function('read', 'putU32', `return function tcpInfoMembers(b, buf, dv, view, off, len, p) {\n${code.join('\n')}\n};`);
  return make(readTcpInfoAt, putU32) as MembersJson;
}

const members = compileMembers();

/** The tcp_info member's object as JSON, into b. */
export function tcpInfo(b: JsonBytes, view: DataView, off: number, len: number): void {
  b.ensure(TCP_INFO_ROOM);
  let p = members(b, b.buf, b.view(), view, off, len, b.pos);
  let started = true;
  if (p < 0) {
    p = ~p;
    started = false;
  }
  b.pos = p;
  if (len > OPTIONS_OFFSET) {
    const frag = OPTIONS_FRAG.at(view.getUint8(off + OPTIONS_OFFSET));
    if (started) b.raw(frag);
    else b.utf8(`{"options":${OPTIONS_JSON(view.getUint8(off + OPTIONS_OFFSET))}`); // (unreachable: ca_state comes first)
    started = true;
  }
  b.raw(started ? F.infoBytes : F.infoBytesFirst);
  b.num(len);
  b.byte(CLOSE);
}

const scratch = new JsonBytes(4096);

/** The tcp_info member's JSON (tcpInfoRecord parses it). */
export function tcpInfoJson(view: DataView, off: number, len: number): string {
  scratch.pos = 0;
  tcpInfo(scratch, view, off, len);
  return scratch.text();
}
