/**
 * A Transport that answers requests with recorded datagrams (the seam mdlayher/netlink's nltest showed lasts:
 * replay real dumps, do not mock sockets). Each request is matched by a responder; the answer's datagrams get
 * the request's sequence number written into every message, as the kernel would.
 */
import { NLMSG_HDRLEN } from '../netlink/message.js';
import type { Transport } from './snapshot.js';

/** Decoded view of one request, for responders to choose an answer. */
export interface ReplayRequest {
  type: number;
  seq: number;
  /** the request body after the 16-byte header (e.g. inet_diag_req_v2: family at 0, protocol at 1) */
  body: Uint8Array;
  /** how many requests came before this one */
  index: number;
}

/** Returns the datagrams to answer with (in order), or undefined to end the stream (reads return 0). */
export type Responder = (request: ReplayRequest) => Uint8Array[] | undefined;

export function replayTransport(responder: Responder): Transport & { requests: ReplayRequest[] } {
  const requests: ReplayRequest[] = [];
  let queue: Uint8Array[] = [];
  return {
    requests,
    send(message) {
      const v = new DataView(message.buffer, message.byteOffset, message.byteLength);
      const req: ReplayRequest = {
        type: v.getUint16(4, true),
        seq: v.getUint32(8, true),
        body: message.slice(NLMSG_HDRLEN),
        index: requests.length,
      };
      requests.push(req);
      queue = (responder(req) ?? []).map((d) => withSequence(d, req.seq));
    },
    recv(buf) {
      const next = queue.shift();
      if (!next) return 0;
      if (next.byteLength > buf.byteLength) throw new RangeError(`replayed datagram of ${next.byteLength} bytes exceeds the ${buf.byteLength}-byte buffer`);
      buf.set(next);
      return next.byteLength;
    },
    close() {
      queue = [];
    },
  };
}

/** A copy of a datagram with every well-formed message's nlmsg_seq set to seq. */
export function withSequence(datagram: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(datagram); // a real copy at offset 0 (Buffer#slice would share the fixture's memory)
  const v = new DataView(out.buffer);
  let at = 0;
  while (out.byteLength - at >= NLMSG_HDRLEN) {
    const len = v.getUint32(at, true);
    if (len < NLMSG_HDRLEN || len > out.byteLength - at) break;
    v.setUint32(at + 8, seq, true);
    at += (len + 3) & ~3;
  }
  return out;
}

/** Parse the fixtures' container: repeated (u32 LE length, bytes). */
export function splitDatagrams(file: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = 0;
  while (at + 4 <= file.byteLength) {
    const len = v.getUint32(at, true);
    if (at + 4 + len > file.byteLength) break;
    out.push(file.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}
