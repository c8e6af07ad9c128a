/**
 * The netlink session: a transport (a NETLINK_SOCK_DIAG socket, or recorded datagrams replayed by replay.ts),
 * one receive buffer, increasing sequence numbers, and the one call that sends a dump request and runs its
 * answer through runDump (dump.ts).
 */
import { NETLINK_SOCK_DIAG } from '../diag/constants.js';
import { isSockscopeError } from '../errors.js';
import { CLONE_NEWNET, loadLibc } from '../sys/libc.js';
import { newReceiveBuffer, runDump, type DatagramReader, type DumpOutcome, type ReceiveBuffer } from './dump.js';
import type { EstablishedMemo } from './established.js';
import type { SocketTable } from './table.js';
import type { SnapshotOptions } from './types.js';

/** Room left for one datagram when receiving into an arena; the kernel caps dump datagrams near 32 KiB. */
const MAX_DATAGRAM = 64 * 1024;

/**
 * Where requests go and datagrams come from: a NETLINK_SOCK_DIAG socket (openNetlinkTransport), or recorded
 * datagrams replayed by src/snapshot/replay.ts.
 */
export interface Transport {
  send(message: Uint8Array): void;
  /** one datagram into buf; its length */
  recv(buf: Uint8Array): number;
  close(): void;
  /**
   * the kernel's own NETLINK_SOCK_DIAG socket, answering for the namespace of the thread that made it (not a
   * replay, nor a wrapper): its dumps and that namespace's /proc counters describe the same sockets
   */
  readonly live?: boolean;
}

/** The calling thread into a network namespace (its file: /run/netns/NAME, /proc/PID/ns/net) for good. */
export async function enterNetns(netns: string): Promise<void> {
  const libc = await loadLibc();
  const nsfd = libc.openReadOnly(netns);
  try {
    libc.setns(nsfd, CLONE_NEWNET);
  } finally {
    libc.close(nsfd);
  }
}

/** readAhead: receive in a worker thread once it is ready (read-ahead.ts), for a big dump */
async function openNetlinkTransport(netns?: string, readAhead = false): Promise<Transport> {
  const libc = await loadLibc();
  if (netns) await enterNetns(netns);
  const fd = libc.openNetlink(NETLINK_SOCK_DIAG);
  if (readAhead) return { ...(await import('./read-ahead.js')).readAheadTransport(libc, fd), live: true };
  return { send: (m) => libc.sendToKernel(fd, m), recv: (b) => libc.recv(fd, b), close: () => libc.close(fd), live: true };
}

/** A netlink session: one transport, one receive buffer, increasing sequence numbers. */
export class DiagSession {
  private seq = 1;
  private readonly read: DatagramReader;
  /**
   * A session kept from gather to gather in one namespace (the agent's walk) keeps its last ESTABLISHED
   * 'listening-ports' dump here, handed out again while the counters prove it unchanged (established.ts).
   */
  memo?: EstablishedMemo;

  /** rb: a receive buffer to reuse (a walk over many namespaces opens a session in each) */
  constructor(
    readonly transport: Transport,
    readonly rb: ReceiveBuffer = newReceiveBuffer(),
  ) {
    this.read = (buf) => transport.recv(buf);
  }

  static async open(netns?: string, rb?: ReceiveBuffer, readAhead = false): Promise<DiagSession> {
    return new DiagSession(await openNetlinkTransport(netns, readAhead), rb);
  }

  /**
   * Send one dump request and run it through `visit`. With `arena`, datagrams are received straight into the
   * table's arena (so kept attributes are never copied); otherwise into one reusable buffer. `beforeRead` runs
   * before each datagram is received, when every message of the previous one has been visited (a stream hands
   * out its batch there, and its arena starts over).
   */
  dump(
    request: (seq: number) => Uint8Array,
    messageType: number,
    visit: Parameters<typeof runDump>[4],
    arena?: SocketTable,
    beforeRead?: () => void,
  ): DumpOutcome {
    const seq = this.seq++;
    this.transport.send(request(seq));
    if (!arena) return runDump(beforeRead ? (buf, rb) => (beforeRead(), this.read(buf, rb)) : this.read, this.rb, seq, messageType, visit);
    const rb: ReceiveBuffer = { bytes: arena.arena, view: new DataView(arena.arena.buffer), words: new Uint32Array(arena.arena.buffer), base: 0 };
    const read: DatagramReader = () => {
      beforeRead?.();
      arena.reserveArena(MAX_DATAGRAM);
      if (rb.bytes !== arena.arena) {
        rb.bytes = arena.arena;
        rb.view = new DataView(arena.arena.buffer);
        rb.words = new Uint32Array(arena.arena.buffer);
      }
      rb.base = arena.arenaUsed;
      const n = this.transport.recv(new Uint8Array(arena.arena.buffer, arena.arenaUsed, MAX_DATAGRAM));
      arena.arenaUsed += (n + 3) & ~3;
      return n;
    };
    return runDump(read, rb, seq, messageType, visit);
  }

  close(): void {
    this.transport.close();
  }
}

/** Open a session, or explain in one line why netlink cannot be used. */
export async function openSession(options: SnapshotOptions, readAhead = false): Promise<DiagSession | string> {
  if (options.source === 'proc') return 'the /proc source was requested';
  try {
    return await DiagSession.open(options.netns, undefined, readAhead);
  } catch (e) {
    if (isSockscopeError(e) && e.facts.syscall === 'setns') throw e;
    if (isSockscopeError(e) && e.facts.syscall === 'open') throw e;
    return `netlink is unavailable (${(e as Error).message})`;
  }
}
