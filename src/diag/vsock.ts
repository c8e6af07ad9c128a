/**
 * vsock_diag (linux/vm_sockets_diag.h): the request and the decoder of AF_VSOCK sockets. The kernel answers
 * ENOENT when it was built without CONFIG_VSOCKETS_DIAG (or the vsock_diag module is not loaded).
 *
 *   struct vsock_diag_req { u8 sdiag_family, sdiag_protocol; u16 pad; u32 vdiag_states, vdiag_ino, vdiag_show, vdiag_cookie[2]; }
 *   struct vsock_diag_msg { u8 vdiag_family, vdiag_type, vdiag_state, vdiag_shutdown;
 *                           u32 vdiag_src_cid, vdiag_src_port, vdiag_dst_cid, vdiag_dst_port, vdiag_ino, vdiag_cookie[2]; }
 */
import { encodeRequest, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/message.js';
import { SOCK_DIAG_BY_FAMILY } from './constants.js';
import { baseSocket, diagRequestBody, type FamilySocket } from './family-socket.js';

export const AF_VSOCK = 40;
export const VSOCK_DIAG_MSG_SIZE = 32;
/** VMADDR_CID_ANY / VMADDR_PORT_ANY: ss prints them as * */
export const VMADDR_ANY = 0xffffffff;

/** states: the TCP_* bitmap (vsock uses TCP_ESTABLISHED, TCP_LISTEN, TCP_CLOSE, ...) */
export function vsockDumpRequest(states: number, seq: number): Uint8Array {
  return encodeRequest(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, diagRequestBody(AF_VSOCK, 0, [states, 0, 0, 0, 0]));
}

/** One vsock_diag_msg (it has no attributes); undefined when shorter than the header. */
export function decodeVsockMessage(view: DataView, off: number, len: number): FamilySocket | undefined {
  if (len < VSOCK_DIAG_MSG_SIZE) return undefined;
  const u = (at: number) => view.getUint32(off + at, true);
  const s = baseSocket('vsock', view.getUint8(off + 1), view.getUint8(off + 2), u(20), u(24), u(28));
  s.vsock = { shutdown: view.getUint8(off + 3), localCid: u(4), localPort: u(8), remoteCid: u(12), remotePort: u(16) };
  return s;
}
