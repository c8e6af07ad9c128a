/**
 * Netlink framing (linux/netlink.h), pure code over bytes. Kept apart from socket I/O (src/sys) the way
 * mdlayher/netlink keeps message.go apart from conn.go, so recorded datagrams replay through it.
 */
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;

export const nlmsgAlign = (len: number): number => (len + 3) & ~3;

/** Encode one request: nlmsghdr + body (+ attributes already appended to body). */
export function encodeRequest(type: number, flags: number, seq: number, body: Uint8Array): Uint8Array {
  const len = NLMSG_HDRLEN + body.byteLength;
  const out = new Uint8Array(nlmsgAlign(len));
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, 0, true);
  out.set(body, NLMSG_HDRLEN);
  return out;
}

/**
 * Walks the messages of one datagram without allocating per message: read the public fields after each
 * successful next(). A malformed header stops the walk and sets `error` (sticky), never throws.
 */
export class MessageIterator {
  view: DataView;
  end: number;
  /** offset of the current message's header */
  offset = 0;
  length = 0;
  type = 0;
  flags = 0;
  seq = 0;
  pid = 0;
  error: string | undefined;
  private nextOffset: number;

  constructor(view: DataView, start: number, end: number) {
    this.view = view;
    this.nextOffset = start;
    this.end = end;
  }

  reset(view: DataView, start: number, end: number): this {
    this.view = view;
    this.nextOffset = start;
    this.end = end;
    this.error = undefined;
    return this;
  }

  /** payload offset of the current message */
  get payload(): number {
    return this.offset + NLMSG_HDRLEN;
  }

  /** payload length of the current message */
  get payloadLength(): number {
    return this.length - NLMSG_HDRLEN;
  }

  next(): boolean {
    const at = this.nextOffset;
    if (this.error !== undefined || at >= this.end) return false;
    if (this.end - at < NLMSG_HDRLEN) {
      this.error = `truncated netlink header: ${this.end - at} bytes left at offset ${at}, expected at least ${NLMSG_HDRLEN}`;
      return false;
    }
    const v = this.view;
    const len = v.getUint32(at, true);
    if (len < NLMSG_HDRLEN || len > this.end - at) {
      this.error = `bad nlmsg_len ${len} at offset ${at} (datagram has ${this.end - at} bytes left)`;
      return false;
    }
    this.offset = at;
    this.length = len;
    this.type = v.getUint16(at + 4, true);
    this.flags = v.getUint16(at + 6, true);
    this.seq = v.getUint32(at + 8, true);
    this.pid = v.getUint32(at + 12, true);
    this.nextOffset = at + nlmsgAlign(len);
    return true;
  }
}

/**
 * The int payload of NLMSG_ERROR (struct nlmsgerr) or NLMSG_DONE: 0 or a negative errno. A dump that fails
 * in the kernel (no diag module for the protocol) reports its errno inside NLMSG_DONE.
 */
export function messageErrno(view: DataView, payload: number, payloadLength: number): number {
  if (payloadLength < 4) return 0;
  const v = view.getInt32(payload, true);
  return v < 0 ? -v : 0;
}
