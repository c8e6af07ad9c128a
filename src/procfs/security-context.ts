/**
 * ss -z's sock_ctx=: the security label of a holder's socket as libselinux's getfilecon(3) reads it for ss (the
 * `security.selinux` attribute of /proc/PID/fd/FD, the link followed to the socket's inode), or `unavailable`, as
 * ss prints when there is none: no SELinux (the attribute does not exist), a process gone, no FFI.
 */
import { loadedLibc } from '../sys/libc.js';

const value = new Uint8Array(4096);

export function socketContext(pid: number, fd: number): string {
  const libc = loadedLibc();
  if (!libc) return 'unavailable';
  const n = libc.getXattr(`/proc/${pid}/fd/${fd}`, 'security.selinux', value);
  if (n <= 0) return 'unavailable';
  // the label as stored, up to its terminating NUL
  const end = value.subarray(0, Math.min(n, value.length)).indexOf(0);
  return Buffer.from(value.buffer, 0, end < 0 ? Math.min(n, value.length) : end).toString('utf8') || 'unavailable';
}
