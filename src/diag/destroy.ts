/**
 * SOCK_DESTROY (ss -K): close one socket by its inet_diag_sockid, as the kernel identifies it (addresses, ports,
 * interface, cookie). Needs CAP_NET_ADMIN and a kernel with CONFIG_INET_DIAG_DESTROY; TCP, UDP and UDP-Lite.
 */
import { encodeRequest, NLM_F_REQUEST } from '../netlink/message.js';
import type { SocketTable } from '../snapshot/table.js';
import { INET_DIAG_REQ_V2_SIZE, IPPROTO_OF, PROTO_NAMES, type ProtoName } from './constants.js';

export const SOCK_DESTROY = 21;
const NLM_F_ACK = 0x4;

/** the protocols the kernel can destroy a socket of */
export const DESTROYABLE: readonly ProtoName[] = ['tcp', 'udp', 'udplite'];

/** The SOCK_DESTROY request for row i of t (an inet socket). */
export function destroyRequest(t: SocketTable, i: number, seq: number): Uint8Array {
  const body = new Uint8Array(INET_DIAG_REQ_V2_SIZE);
  const v = new DataView(body.buffer);
  v.setUint8(0, t.family[i]);
  v.setUint8(1, IPPROTO_OF[PROTO_NAMES[t.proto[i]] as Exclude<ProtoName, 'unix'>] & 0xff);
  v.setUint32(4, 0xffffffff, true); // every state
  v.setUint16(8, t.sport[i], false); // __be16
  v.setUint16(10, t.dport[i], false);
  body.set(t.src.subarray(i * 16, i * 16 + 16), 12);
  body.set(t.dst.subarray(i * 16, i * 16 + 16), 28);
  v.setUint32(44, t.ifindex[i], true);
  v.setUint32(48, t.cookieLo[i], true);
  v.setUint32(52, t.cookieHi[i], true);
  return encodeRequest(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, seq, body);
}

/** The errno of an NLMSG_ERROR answer (0: done), or undefined when the datagram holds none. */
export function ackErrno(buf: Uint8Array, n: number): number | undefined {
  if (n < 20) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset, n);
  if (v.getUint16(4, true) !== 2) return undefined;
  return -v.getInt32(16, true);
}
