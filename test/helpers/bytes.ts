/**
 * Byte-literal builders for the netlink tests. Written from linux/netlink.h and the struct layouts in
 * shared/reference/kernel-abi.md, independently of src/, so a test never checks the codec against itself.
 */
import type { DatagramReader } from '../../src/snapshot/dump.js';

export type Bytes = Uint8Array | readonly number[];

/** "10 00 00 00  14 00" (whitespace, '|' and newlines ignored) → bytes. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex literal: ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

export const u8 = (n: number): number[] => [n & 0xff];
export const le16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];
export const be16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
export const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
export const le64 = (n: bigint): number[] => {
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((n >> (8n * i)) & 0xffn));
  return out;
};
export const zeros = (n: number): number[] => new Array<number>(n).fill(0);
export const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

export function concat(...parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** struct nlmsghdr + payload; nlmsg_len is the unpadded length, the result is padded to 4 like the kernel's. */
export function nlmsg(type: number, flags: number, seq: number, payload: Bytes = [], pid = 0): Uint8Array {
  const len = 16 + payload.length;
  const out = new Uint8Array(pad4(len));
  out.set([...le32(len), ...le16(type), ...le16(flags), ...le32(seq), ...le32(pid)], 0);
  out.set(payload, 16);
  return out;
}

/** struct nlattr + payload, padded to 4 (nla_len is the unpadded length). */
export function nlattr(type: number, payload: Bytes = []): Uint8Array {
  const len = 4 + payload.length;
  const out = new Uint8Array(pad4(len));
  out.set([...le16(len), ...le16(type)], 0);
  out.set(payload, 4);
  return out;
}

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP_INTR = 0x10;

/** NLMSG_DONE with its int payload (0 or -errno). */
export const done = (seq: number, errno = 0, flags = NLM_F_MULTI): Uint8Array => nlmsg(NLMSG_DONE, flags, seq, le32(-errno >>> 0));

/** NLMSG_ERROR: struct nlmsgerr { int error; struct nlmsghdr msg; } echoing a request header. */
export const nlerror = (seq: number, errno: number): Uint8Array =>
  nlmsg(NLMSG_ERROR, 0, seq, [...le32(-errno >>> 0), ...le32(16 + 56), ...le16(20), ...le16(0x301), ...le32(seq), ...le32(0)]);

export const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * A DatagramReader over recorded datagrams: each read copies the next one into the receive buffer, then 0 once
 * the list is used up (the replay seam, after mdlayher/netlink nltest). `reads` counts calls, so a test can tell
 * that the dump stopped at NLMSG_DONE and did not read past it.
 */
export function replayReader(datagrams: readonly Uint8Array[]): DatagramReader & { reads: number } {
  let i = 0;
  const state = { reads: 0 };
  const read = (buf: Uint8Array, rb?: { base?: number }): number => {
    state.reads++;
    if (i >= datagrams.length) return 0;
    const d = datagrams[i++];
    buf.set(d, rb?.base ?? 0);
    return d.byteLength;
  };
  return Object.defineProperty(read, 'reads', { get: () => state.reads }) as unknown as DatagramReader & { reads: number };
}

/** An inet_diag_msg (72 bytes) from its fields; addresses are network-order bytes (4 for IPv4, 16 for IPv6). */
export interface InetMsgFields {
  family: number;
  state: number;
  timer?: number;
  retrans?: number;
  sport: number;
  dport: number;
  src: Bytes;
  dst: Bytes;
  ifindex?: number;
  cookie?: [number, number];
  expires?: number;
  rqueue?: number;
  wqueue?: number;
  uid?: number;
  inode?: number;
}

export function inetDiagMsg(m: InetMsgFields): Uint8Array {
  const addr = (a: Bytes) => concat(a, zeros(16 - a.length));
  return concat(
    [m.family, m.state, m.timer ?? 0, m.retrans ?? 0],
    be16(m.sport),
    be16(m.dport),
    addr(m.src),
    addr(m.dst),
    le32(m.ifindex ?? 0),
    le32(m.cookie?.[0] ?? 0),
    le32(m.cookie?.[1] ?? 0),
    le32(m.expires ?? 0),
    le32(m.rqueue ?? 0),
    le32(m.wqueue ?? 0),
    le32(m.uid ?? 0),
    le32(m.inode ?? 0),
  );
}

/** A unix_diag_msg (16 bytes). */
export const unixDiagMsg = (m: { type: number; state: number; inode: number; cookie?: [number, number] }): Uint8Array =>
  concat([1, m.type, m.state, 0], le32(m.inode), le32(m.cookie?.[0] ?? 0), le32(m.cookie?.[1] ?? 0));
