/**
 * One base error with a stable `code` (after undici's lib/core/errors.js): users match on `code`,
 * the message says what failed and what was expected, and the domain facts ride along.
 */
export type SockscopeErrorCode =
  | 'ESOCKSCOPE_USAGE'
  | 'ESOCKSCOPE_CONFIG'
  | 'ESOCKSCOPE_FILTER_SYNTAX'
  | 'ESOCKSCOPE_NETLINK'
  | 'ESOCKSCOPE_NETLINK_UNAVAILABLE'
  | 'ESOCKSCOPE_ZABBIX'
  | 'ESOCKSCOPE_WORKER';

export interface SockscopeErrorFacts {
  errno?: number;
  syscall?: string;
  key?: string;
  value?: unknown;
  position?: number;
  offset?: number;
  [fact: string]: unknown;
}

export class SockscopeError extends Error {
  readonly code: SockscopeErrorCode;
  readonly facts: SockscopeErrorFacts;

  constructor(code: SockscopeErrorCode, message: string, facts: SockscopeErrorFacts = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SockscopeError';
    this.code = code;
    this.facts = facts;
  }

  /** Exit status for the CLI: 2 for what the user typed or configured, 1 for what the system did. */
  get exitCode(): number {
    return this.code === 'ESOCKSCOPE_USAGE' || this.code === 'ESOCKSCOPE_CONFIG' || this.code === 'ESOCKSCOPE_FILTER_SYNTAX' ? 2 : 1;
  }
}

export class UsageError extends SockscopeError {
  constructor(message: string, facts: SockscopeErrorFacts = {}) {
    super('ESOCKSCOPE_USAGE', message, facts);
    this.name = 'UsageError';
  }
}

export class NetlinkError extends SockscopeError {
  constructor(message: string, facts: SockscopeErrorFacts = {}, options?: { cause?: unknown }) {
    super('ESOCKSCOPE_NETLINK', message, facts, options);
    this.name = 'NetlinkError';
  }
}

/**
 * The facts of a failed Node.js system call (a socket, a file): `errno` as the kernel's positive number (Node
 * reports it negated, libuv style) and the `syscall`, for a SockscopeError that wraps it.
 */
export function systemErrorFacts(e: unknown): SockscopeErrorFacts {
  const x = e as NodeJS.ErrnoException;
  const facts: SockscopeErrorFacts = {};
  if (typeof x?.errno === 'number') facts.errno = Math.abs(x.errno);
  if (typeof x?.syscall === 'string') facts.syscall = x.syscall;
  return facts;
}

export const isSockscopeError = (e: unknown): e is SockscopeError => e instanceof SockscopeError;
