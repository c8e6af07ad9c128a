/**
 * The kernel boundary: the only module that imports koffi. It is loaded lazily (see loadLibc) so that
 * --help, --version, `config sample` and fixture replays never touch the native module.
 *
 * Everything here is a thin wrapper over one libc call that turns -1 into a NetlinkError carrying errno.
 */
import { NetlinkError, SockscopeError } from '../errors.js';
import { EAGAIN, EINTR, errnoName } from './errno.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20; // SO_RCVTIMEO_OLD: struct timeval {long tv_sec; long tv_usec}
const SO_RCVBUFFORCE = 33; // CAP_NET_ADMIN: past net.core.rmem_max
const SO_MEMINFO = 55; // u32[SK_MEMINFO_VARS]; SK_MEMINFO_DROPS is index 8
const NETLINK_ADD_MEMBERSHIP = 1;
const MSG_DONTWAIT = 0x40;
const SOL_NETLINK = 270;
const MSG_TRUNC = 0x20;
const NETLINK_GET_STRICT_CHK = 12;
export const CLONE_NEWNET = 0x40000000;

export interface Libc {
  /** socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol), bound, with a receive buffer and timeout. */
  openNetlink(protocol: number, opts?: NetlinkOpenOptions): number;
  /**
   * recv() one datagram without throwing: its length, or -errno (EAGAIN: nothing within the timeout or, with
   * dontWait, nothing queued; ENOBUFS: the kernel dropped multicast messages for this socket). EINTR is retried;
   * a datagram larger than buf throws as recv does.
   */
  tryRecv(fd: number, buf: Uint8Array, dontWait: boolean): number;
  /** The socket's receive buffer (SO_RCVBUF, what the kernel allows, doubled) and drops (SO_MEMINFO's SK_MEMINFO_DROPS). */
  receiveStats(fd: number): { rcvbufBytes: number; drops: number };
  /** sendto() the kernel (nl_pid 0). */
  sendToKernel(fd: number, message: Uint8Array): void;
  /**
   * recv() one datagram into buf; returns its length. Retries EINTR, throws on timeout or error, and on a
   * datagram larger than buf (MSG_TRUNC reports the real length) rather than decoding half of it.
   */
  recv(fd: number, buf: Uint8Array): number;
  close(fd: number): void;
  /** open(path, O_RDONLY|O_CLOEXEC), for a namespace file. */
  openReadOnly(path: string): number;
  /** setns(fd, nstype) for the calling thread. */
  setns(fd: number, nstype: number): void;
  /**
   * The /proc walk of `-p` (src/procfs/processes.ts), one call per process and per descriptor. These return
   * -errno instead of throwing: a process that exits mid-walk (ENOENT) or is not ours to read (EACCES) is an
   * expected answer there, counted, not a failure.
   */
  /** open(path, O_RDONLY|O_CLOEXEC) of a directory: the fd, or -errno. */
  openDirectory(path: string): number;
  /** getdents64(fd, buf): bytes of `struct linux_dirent64` records in buf, 0 at the end, or -errno. */
  getdents(fd: number, buf: Uint8Array): number;
  /** readlinkat(dirfd, name, out): the link's length (at most out's), or -errno; name is NUL-terminated bytes. */
  readlinkAt(dirfd: number, name: Uint8Array, out: Uint8Array): number;
  /** getxattr(path, name, out): the value's length (at most out's), or -errno (ENODATA: no such attribute). */
  getXattr(path: string, name: string, out: Uint8Array): number;
}

export interface NetlinkOpenOptions {
  rcvbufBytes?: number;
  /** try SO_RCVBUFFORCE first (needs CAP_NET_ADMIN), then SO_RCVBUF (capped at net.core.rmem_max) */
  forceRcvbuf?: boolean;
  timeoutMs?: number;
  /** multicast groups to join (NETLINK_ADD_MEMBERSHIP), after bind; a refusal throws */
  groups?: readonly number[];
}

let loaded: Promise<Libc> | undefined;
let ready: Libc | undefined;

/** The bindings if loadLibc() has already resolved in this thread (for a synchronous caller), else undefined. */
export const loadedLibc = (): Libc | undefined => ready;

export function loadLibc(): Promise<Libc> {
  loaded ??= bind()
    .then((l) => (ready = l))
    .catch((cause: unknown) => {
      loaded = undefined;
      throw new SockscopeError(
        'ESOCKSCOPE_NETLINK_UNAVAILABLE',
        `cannot load the koffi FFI module (${(cause as Error)?.message ?? cause}); netlink is unavailable, falling back to /proc/net where possible`,
        {},
        { cause },
      );
    });
  return loaded;
}

async function bind(): Promise<Libc> {
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)');
  const bindFn = lib.func('int bind(int, const void *, uint32_t)');
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)');
  const getsockopt = lib.func('int getsockopt(int, int, int, _Out_ void *, _Inout_ uint32_t *)');
  const sendto = lib.func('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)');
  const recv = lib.func('intptr_t recv(int, _Out_ void *, size_t, int)');
  const close = lib.func('int close(int)');
  const open = lib.func('int open(const char *, int)');
  const setns = lib.func('int setns(int, int)');
  const getdents64 = lib.func('intptr_t getdents64(int, _Out_ void *, size_t)'); // glibc 2.30+
  const readlinkat = lib.func('intptr_t readlinkat(int, const void *, _Out_ void *, size_t)');
  const getxattr = lib.func('intptr_t getxattr(const char *, const char *, _Out_ void *, size_t)');

  const fail = (syscall: string, extra = ''): never => {
    const errno = koffi.errno() as number;
    throw new NetlinkError(`${syscall}() failed: ${errnoName(errno)}${extra}`, { errno, syscall });
  };

  const kernel = new Uint8Array(12); // struct sockaddr_nl {u16 family; u16 pad; u32 pid; u32 groups}
  new DataView(kernel.buffer).setUint16(0, AF_NETLINK, true);

  return {
    openNetlink(protocol, opts = {}) {
      const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
      if (fd < 0) fail('socket', ` (AF_NETLINK, protocol ${protocol})`);
      const int = new Uint8Array(4);
      new DataView(int.buffer).setInt32(0, opts.rcvbufBytes ?? 1 << 20, true);
      // best effort: the default also works, just slower (a dump) or with drops sooner (multicast)
      if (!opts.forceRcvbuf || (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int, 4) as number) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int, 4);
      const tv = new Uint8Array(16);
      const ms = opts.timeoutMs ?? 10_000;
      const tvView = new DataView(tv.buffer);
      tvView.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
      tvView.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
      // Strict checking makes the kernel reject malformed requests instead of guessing (4.20+); ignore failure.
      new DataView(int.buffer).setInt32(0, 1, true);
      setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, int, 4);
      const local = new Uint8Array(12);
      new DataView(local.buffer).setUint16(0, AF_NETLINK, true); // nl_pid 0: the kernel assigns one
      if ((bindFn(fd, local, 12) as number) < 0) {
        close(fd);
        fail('bind');
      }
      for (const group of opts.groups ?? []) {
        new DataView(int.buffer).setInt32(0, group, true);
        if ((setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int, 4) as number) < 0) {
          const errno = koffi.errno() as number;
          close(fd);
          throw new NetlinkError(`setsockopt(NETLINK_ADD_MEMBERSHIP, group ${group}) failed: ${errnoName(errno)}`, { errno, syscall: 'setsockopt', group });
        }
      }
      return fd;
    },
    sendToKernel(fd, message) {
      for (;;) {
        const n = sendto(fd, message, message.byteLength, 0, kernel, 12) as number;
        if (n >= 0) return;
        if (koffi.errno() !== EINTR) fail('sendto');
      }
    },
    recv(fd, buf) {
      for (;;) {
        const n = recv(fd, buf, buf.byteLength, MSG_TRUNC) as number;
        if (n > buf.byteLength) {
          throw new NetlinkError(`recv(): a ${n}-byte datagram did not fit the ${buf.byteLength}-byte buffer`, { syscall: 'recv', length: n });
        }
        if (n >= 0) return n;
        const errno = koffi.errno() as number;
        if (errno === EINTR) continue;
        if (errno === EAGAIN) fail('recv', ' (the kernel did not answer within the receive timeout)');
        fail('recv');
      }
    },
    tryRecv(fd, buf, dontWait) {
      for (;;) {
        const n = recv(fd, buf, buf.byteLength, MSG_TRUNC | (dontWait ? MSG_DONTWAIT : 0)) as number;
        if (n > buf.byteLength) {
          throw new NetlinkError(`recv(): a ${n}-byte datagram did not fit the ${buf.byteLength}-byte buffer`, { syscall: 'recv', length: n });
        }
        if (n >= 0) return n;
        const errno = koffi.errno() as number;
        if (errno !== EINTR) return -errno;
      }
    },
    receiveStats(fd) {
      const mem = new Uint8Array(9 * 4);
      const len = [mem.byteLength];
      const drops = (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, len) as number) === 0 && len[0] >= 36 ? new DataView(mem.buffer).getUint32(32, true) : 0;
      const int = new Uint8Array(4);
      const ilen = [4];
      const rcvbufBytes = (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, int, ilen) as number) === 0 ? new DataView(int.buffer).getInt32(0, true) : 0;
      return { rcvbufBytes, drops };
    },
    close(fd) {
      close(fd);
    },
    openReadOnly(path) {
      const fd = open(path, 0o2000000 /* O_RDONLY|O_CLOEXEC */) as number;
      if (fd < 0) fail('open', ` (${path})`);
      return fd;
    },
    setns(fd, nstype) {
      if ((setns(fd, nstype) as number) < 0) fail('setns');
    },
    openDirectory(path) {
      const fd = open(path, 0o2000000 /* O_RDONLY|O_CLOEXEC; O_DIRECTORY's value differs per arch, getdents says ENOTDIR */) as number;
      return fd < 0 ? -(koffi.errno() as number) : fd;
    },
    getdents(fd, buf) {
      const n = getdents64(fd, buf, buf.byteLength) as number;
      return n < 0 ? -(koffi.errno() as number) : n;
    },
    readlinkAt(dirfd, name, out) {
      const n = readlinkat(dirfd, name, out, out.byteLength) as number;
      return n < 0 ? -(koffi.errno() as number) : n;
    },
    getXattr(path, name, out) {
      const n = getxattr(path, name, out, out.byteLength) as number;
      return n < 0 ? -(koffi.errno() as number) : n;
    },
  };
}
