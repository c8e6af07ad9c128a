/** The errno values sockscope reasons about (asm-generic/errno-base.h, errno.h on x86_64/arm64). */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EINVAL = 22;
export const EMFILE = 24;
export const ENOBUFS = 105;
export const EAFNOSUPPORT = 97;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;

const NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  4: 'EINTR',
  9: 'EBADF',
  11: 'EAGAIN',
  13: 'EACCES',
  22: 'EINVAL',
  24: 'EMFILE',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  105: 'ENOBUFS',
};

export const errnoName = (errno: number): string => NAMES[errno] ?? `errno ${errno}`;
