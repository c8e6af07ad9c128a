/** sock_diag request builders: struct inet_diag_req_v2, the legacy inet_diag_req, struct unix_diag_req. */
import { encodeAttribute } from '../netlink/attributes.js';
import { encodeRequest, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/message.js';
import {
  AF_UNIX,
  INET_DIAG_REQ_LEGACY_SIZE,
  INET_DIAG_REQ_V2_SIZE,
  InetReqAttr,
  SOCK_DIAG_BY_FAMILY,
  TCPDIAG_GETSOCK,
  UNIX_DIAG_REQ_SIZE,
} from './constants.js';

export interface InetDumpRequest {
  family: number;
  /** IPPROTO_* (MPTCP's 262 travels in INET_DIAG_REQ_PROTOCOL) */
  protocol: number;
  states: number;
  ext: number;
  /** exact-match filters the kernel applies cheaply; 0 = any */
  sport?: number;
  dport?: number;
  /** INET_DIAG_REQ_BYTECODE program */
  bytecode?: Uint8Array;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

export function inetDumpRequest(r: InetDumpRequest, seq: number): Uint8Array {
  const body = new Uint8Array(INET_DIAG_REQ_V2_SIZE);
  const v = new DataView(body.buffer);
  v.setUint8(0, r.family);
  v.setUint8(1, r.protocol & 0xff);
  v.setUint8(2, r.ext & 0xff);
  v.setUint32(4, r.states >>> 0, true);
  v.setUint16(8, r.sport ?? 0, false); // __be16
  v.setUint16(10, r.dport ?? 0, false);
  v.setUint32(48, 0xffffffff, true); // INET_DIAG_NOCOOKIE
  v.setUint32(52, 0xffffffff, true);
  const parts: Uint8Array[] = [body];
  if (r.bytecode) parts.push(encodeAttribute(InetReqAttr.BYTECODE, r.bytecode));
  if (r.protocol > 0xff) {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, r.protocol, true);
    parts.push(encodeAttribute(InetReqAttr.PROTOCOL, p));
  }
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, concat(parts));
}

/**
 * TCPDIAG_GETSOCK with struct inet_diag_req: the kernel dumps it with sdiag_family = AF_UNSPEC
 * (inet_diag_dump_compat), so IPv4 and IPv6 TCP sockets come back from a single walk of the hash tables.
 */
export function legacyTcpDumpRequest(r: { states: number; ext: number; bytecode?: Uint8Array }, seq: number): Uint8Array {
  const body = new Uint8Array(INET_DIAG_REQ_LEGACY_SIZE);
  const v = new DataView(body.buffer);
  v.setUint8(3, r.ext & 0xff);
  v.setUint32(4 + 40, 0xffffffff, true); // id.idiag_cookie = INET_DIAG_NOCOOKIE
  v.setUint32(4 + 44, 0xffffffff, true);
  v.setUint32(52, r.states >>> 0, true);
  const parts: Uint8Array[] = [body];
  if (r.bytecode) parts.push(encodeAttribute(InetReqAttr.BYTECODE, r.bytecode));
  return encodeRequest(TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP, seq, concat(parts));
}

export function unixDumpRequest(r: { states: number; show: number }, seq: number): Uint8Array {
  const body = new Uint8Array(UNIX_DIAG_REQ_SIZE);
  const v = new DataView(body.buffer);
  v.setUint8(0, AF_UNIX);
  v.setUint32(4, r.states >>> 0, true);
  v.setUint32(12, r.show >>> 0, true);
  v.setUint32(16, 0xffffffff, true);
  v.setUint32(20, 0xffffffff, true);
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, body);
}
