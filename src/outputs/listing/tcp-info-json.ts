/**
 * The record's tcp_info member as JSON, from TCP_INFO_MEMBERS (socket-members.ts): a table of output fields
 * (OUT_FIELDS: fragment, offset, kind, scale) interpreted per socket by one small loop over typed-array columns. Also the members one by one
 * (tcpInfoMember), for the table's detail words.
 */
import { readTcpInfoAt, TCP_INFO_FIELDS, TCP_INFO_KIND_CODE as KIND, TCP_INFO_KIND_SIZE as SIZE, TCP_INFO_UNSET } from '../../diag/tcp-info.js';
import { fragment as A, FragmentTable, putU32 } from '../text/bytes.js';
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
  key: string;
  offset: number;
  /** offset + size: the field is present when the kernel sent at least this many bytes */
  end: number;
  kind: number;
  scale: number;
  special: number;
}

const OUT_FIELDS: readonly OutField[] = TCP_INFO_MEMBERS.map(({ field, name, scale, special }) => ({
  key: `,"${name}":`,
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

/**
 * The members of tcp_info as JSON at buf[p..], OUT_FIELDS laid out as typed-array columns for one small loop:
 * V8 optimizes it within the first few hundred sockets. (The fields unrolled into one straight-line function,
 * made with new Function, wrote the same text as fast warm, but in a whole ls run TurboFan took ~100 ms to
 * compile it and it ran unoptimized meanwhile: docs/benchmarks.md, "Cold ndjson".) Every key is written with
 * its leading comma; the first one's comma becomes `{` afterwards. Returns the end, as ~end when no member was
 * written.
 *
 * Each key `,"name":` is stored 8 bytes at a time, as float64 words (half the stores of 32-bit words; a key's
 * bytes are ASCII, so no word is a NaN, the one bit pattern a float64 store might not keep), padded with zeros
 * to a multiple of 8 and to at least 16 bytes: the first two words are stored unconditionally, the bytes past
 * the key overwritten by its value. A plain u32 or u8 (most members) is read without the general reader, and a
 * one-digit value (most of an idle socket's) written as its digit. (docs/benchmarks.md, "ndjson2": ~25 % less
 * time in this function than 32-bit words and one path for every kind.)
 */
const N_FIELDS = OUT_FIELDS.length;
const F_END = Int32Array.from(OUT_FIELDS, (f) => f.end);
const F_OFFSET = Int32Array.from(OUT_FIELDS, (f) => f.offset);
const F_KIND = Int32Array.from(OUT_FIELDS, (f) => f.kind);
const F_SCALE = Float64Array.from(OUT_FIELDS, (f) => f.scale);
/** 0: none; 1: a u64 (~0 left out); 2: min_rtt; 3: wscale */
const F_CHECK = Int32Array.from(OUT_FIELDS, (f) => (f.kind === KIND.u64 ? 1 : f.special === SPECIAL_MIN_RTT ? 2 : f.special === SPECIAL_WSCALE ? 3 : 0));
/** 1: a u32 read as it is (scale 1, no check); 2: the same for a u8; 0: the general path (memberValue) */
const F_PLAIN = Int32Array.from(OUT_FIELDS, (f, k) => (F_CHECK[k] !== 0 || f.scale !== 1 ? 0 : f.kind === KIND.u32 ? 1 : f.kind === KIND.u8 ? 2 : 0));
const KEY_MIN = 16;
/** each key as a fragment's float64 words (bytes.ts: the one encoding of constant text), at least KEY_MIN bytes */
const keyWords = OUT_FIELDS.map(({ key }) => {
  const { wide } = A(key);
  return wide.length * 8 >= KEY_MIN ? Array.from(wide) : [...wide, ...new Array<number>(KEY_MIN / 8 - wide.length).fill(0)];
});
/** each key's float64 words, one after the other: field k's from F_KEY8[k] to F_KEY8[k + 1] */
const F_KEY8 = Int32Array.from({ length: N_FIELDS + 1 }, (_, k) => keyWords.slice(0, k).reduce((n, w) => n + w.length, 0));
const KEY_F64 = Float64Array.from(keyWords.flat());
const F_KEY_LENGTH = Int32Array.from(OUT_FIELDS, (f) => f.key.length);
/** Bytes enough for any tcp_info member list: every member's key words at their longest, its value, the options, info_bytes. */
const TCP_INFO_ROOM = keyWords.reduce((n, w) => n + 8 * w.length + 24, 0) + 256;

/** Member k's value as written (scaled), or -1 when the record leaves it out: the path of all but the plain u32s and u8s. */
function memberValue(view: DataView, off: number, k: number): number {
  let v = readTcpInfoAt(view, off + F_OFFSET[k], F_KIND[k]);
  const check = F_CHECK[k];
  if (check !== 0 && (check === 1 ? v === Infinity : check === 2 ? v === MIN_RTT_UNSET : !(view.getUint8(off + OPTIONS_OFFSET) & 4))) return -1;
  const scale = F_SCALE[k];
  if (scale !== 1) v *= scale;
  return v;
}

function members(b: JsonBytes, buf: Uint8Array, dv: DataView, view: DataView, off: number, len: number, p: number): number {
  const from = p;
  for (let k = 0; k < N_FIELDS; k++) {
    if (len < F_END[k]) break;
    const plain = F_PLAIN[k];
    let v: number;
    if (plain !== 0) v = plain === 1 ? view.getUint32(off + F_OFFSET[k], true) : view.getUint8(off + F_OFFSET[k]);
    else {
      v = memberValue(view, off, k);
      if (v < 0) continue;
    }
    const w = F_KEY8[k];
    dv.setFloat64(p, KEY_F64[w], true);
    dv.setFloat64(p + 8, KEY_F64[w + 1], true);
    for (let x = w + 2, q = p + KEY_MIN, e = F_KEY8[k + 1]; x < e; x++, q += 8) dv.setFloat64(q, KEY_F64[x], true);
    p += F_KEY_LENGTH[k];
    // values are integers >= 0 (the scales are integers)
    if (v < 10) buf[p++] = 48 + v;
    else if (v >>> 0 === v) p = putU32(buf, p, v);
    else {
      b.pos = p;
      b.num(v);
      p = b.pos;
      buf = b.buf;
      dv = b.view();
    }
  }
  if (p === from) return ~p;
  buf[from] = 123; // {
  return p;
}

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
