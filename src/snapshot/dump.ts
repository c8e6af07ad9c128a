/**
 * One netlink dump: send a request, read datagrams until NLMSG_DONE, hand each socket message to a visitor.
 * Pure over a `read` function so recorded datagrams replay through exactly this loop (test/replay); the real
 * reader is libc.recv on a NETLINK_SOCK_DIAG socket.
 */
import { NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, messageErrno } from '../netlink/message.js';

/**
 * Where datagrams land. `base` is the offset the next datagram is written at (0 for a reusable buffer); a
 * reader that receives straight into a growing arena moves base and may swap the buffers between reads.
 */
export interface ReceiveBuffer {
  bytes: Uint8Array;
  view: DataView;
  words: Uint32Array;
  base?: number;
}

/**
 * Reads one datagram into `buf` (= rb.bytes) at rb.base (default 0) and returns its length; 0 means the stream
 * ended (replays).
 */
export type DatagramReader = (buf: Uint8Array, rb: ReceiveBuffer) => number;

/** Called for each socket message: payload at [off, off+len) of the current datagram. */
export type MessageVisitor = (view: DataView, words: Uint32Array, bytes: Uint8Array, off: number, len: number) => void;

export interface DumpOutcome {
  /** socket messages handed to the visitor */
  messages: number;
  /** NLM_F_DUMP_INTR was set on some message: the table changed during the dump */
  interrupted: boolean;
  /** errno from NLMSG_ERROR, or carried in NLMSG_DONE (a protocol without its diag module answers ENOENT) */
  errno: number;
  /** framing problems: the rest of a bad datagram is skipped, the dump goes on */
  malformed: number;
  /** what went wrong, if anything: every framing problem and an early end, joined with "; " */
  problem?: string;
  datagrams: number;
}

/** A receive buffer large enough for any dump datagram (the kernel caps them near 32 KiB). */
export const newReceiveBuffer = (): ReceiveBuffer => {
  const bytes = new Uint8Array(256 * 1024);
  return { bytes, view: new DataView(bytes.buffer), words: new Uint32Array(bytes.buffer) };
};

export function runDump(read: DatagramReader, rb: ReceiveBuffer, seq: number, messageType: number, visit: MessageVisitor): DumpOutcome {
  const out: DumpOutcome = { messages: 0, interrupted: false, errno: 0, malformed: 0, datagrams: 0 };
  for (;;) {
    const n = read(rb.bytes, rb);
    if (n <= 0) {
      addProblem(out, 'the dump ended without NLMSG_DONE');
      return out;
    }
    out.datagrams++;
    const { bytes, view, words } = rb; // the reader may have moved to a larger arena
    const base = rb.base ?? 0;
    const end = base + n;
    let at = base;
    while (at < end) {
      if (end - at < NLMSG_HDRLEN) {
        out.malformed++;
        addProblem(out, `truncated netlink header (${end - at} bytes) at offset ${at - base}`);
        break;
      }
      const len = view.getUint32(at, true);
      if (len < NLMSG_HDRLEN || len > end - at) {
        out.malformed++;
        addProblem(out, `bad nlmsg_len ${len} at offset ${at - base} of a ${n}-byte datagram`);
        break;
      }
      const type = view.getUint16(at + 4, true);
      const flags = view.getUint16(at + 6, true);
      const mseq = view.getUint32(at + 8, true);
      if (mseq === seq) {
        if (flags & NLM_F_DUMP_INTR) out.interrupted = true;
        if (type === messageType) {
          visit(view, words, bytes, at + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
          out.messages++;
        } else if (type === NLMSG_DONE) {
          out.errno = messageErrno(view, at + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
          return out;
        } else if (type === NLMSG_ERROR) {
          out.errno = messageErrno(view, at + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
          if (out.errno !== 0) return out; // errno 0 is an ACK: keep reading
        } else if (type !== NLMSG_NOOP && type !== NLMSG_OVERRUN) {
          out.malformed++; // an unexpected message type: skip it
        }
      } // a message of another sequence is a leftover from an abandoned dump: skip it
      at += (len + 3) & ~3;
    }
  }
}

/**
 * Whether the datagram at [base, base+n) ends a dump, by runDump's rules for its own sequence (NLMSG_DONE,
 * NLMSG_ERROR with an errno, an empty read): a reader that receives ahead of runDump (read-ahead.ts) stops
 * there and waits for the next request. A malformed datagram does not end the dump (runDump goes on reading).
 */
export function endsDump(view: DataView, base: number, n: number): boolean {
  if (n <= 0) return true;
  const end = base + n;
  for (let at = base; end - at >= NLMSG_HDRLEN; ) {
    const len = view.getUint32(at, true);
    if (len < NLMSG_HDRLEN || len > end - at) return false;
    const type = view.getUint16(at + 4, true);
    if (type === NLMSG_DONE) return true;
    if (type === NLMSG_ERROR && messageErrno(view, at + NLMSG_HDRLEN, len - NLMSG_HDRLEN) !== 0) return true;
    at += (len + 3) & ~3;
  }
  return false;
}

/** Keep every problem (bounded: a stream of garbage must not grow the text without limit). */
function addProblem(out: DumpOutcome, problem: string): void {
  if (out.problem === undefined) out.problem = problem;
  else if (out.problem.length < 1000) out.problem += `; ${problem}`;
}
