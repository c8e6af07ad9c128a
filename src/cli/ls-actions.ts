/**
 * What `ls` asks of the kernel beside a listing: -K closes the listed sockets (SOCK_DESTROY), -D writes the
 * kernel's raw answer to a file.
 */
import type { ProtoName } from '../diag/constants.js';
import { UsageError } from '../errors.js';
import type { SocketTable } from '../snapshot/table.js';
import type { LsPlan } from './ls-plan.js';

/**
 * -K, as ss -K: SOCK_DESTROY each listed TCP, UDP and UDP-Lite socket; the listing then shows those the kernel
 * closed. Without CAP_NET_ADMIN the kernel refuses the first one (EPERM) and ls says so, closing nothing.
 */
export async function killSockets(plan: LsPlan, t: SocketTable, rows: number[]): Promise<number[]> {
  const { DiagSession } = await import('../snapshot/snapshot.js');
  const { ackErrno, destroyRequest, DESTROYABLE } = await import('../diag/destroy.js');
  const { PROTO_NAMES } = await import('../diag/constants.js');
  const { SockscopeError } = await import('../errors.js');
  const session = await DiagSession.open(plan.snapshot.netns);
  const buf = new Uint8Array(8192);
  const closed: number[] = [];
  let seq = 1 << 20;
  let unsupported = 0;
  try {
    for (const i of rows) {
      if (!DESTROYABLE.includes(PROTO_NAMES[t.proto[i]] as ProtoName)) {
        unsupported++;
        continue;
      }
      session.transport.send(destroyRequest(t, i, ++seq));
      let errno: number | undefined;
      while (errno === undefined) errno = ackErrno(buf, session.transport.recv(buf));
      if (errno === 0) closed.push(i);
      else if (errno === 1) {
        throw new SockscopeError('ESOCKSCOPE_NETLINK', '-K: the kernel refused SOCK_DESTROY (EPERM): closing sockets needs CAP_NET_ADMIN (run as root)', {
          syscall: 'SOCK_DESTROY',
        });
      } else if (errno === 95) {
        throw new SockscopeError('ESOCKSCOPE_NETLINK', '-K: the kernel cannot close sockets (EOPNOTSUPP): it was built without CONFIG_INET_DIAG_DESTROY', {
          syscall: 'sendmsg',
          errno: 95,
        });
      }
      // ENOENT: closed meanwhile; left out of the listing
    }
  } finally {
    session.close();
  }
  if (unsupported) process.stderr.write(`sockscope: -K: ${unsupported} sockets left open: the kernel closes TCP, UDP and UDP-Lite sockets only\n`);
  return closed;
}

/**
 * -D FILE, as ss -D: the kernel's netlink answers to the listing's requests (filters included), every datagram
 * as received, written to FILE ('-': stdout) instead of the listing. test/replay reads such files.
 */
export async function dumpRaw(plan: LsPlan): Promise<void> {
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const { takeSnapshot, DiagSession } = await import('../snapshot/snapshot.js');
  let fd: number;
  try {
    fd = plan.diag === '-' ? 1 : openSync(plan.diag!, 'w', 0o600);
  } catch (e) {
    throw new UsageError(`-D ${plan.diag}: cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      key: 'diag',
      value: plan.diag,
    });
  }
  const inner = await DiagSession.open(plan.snapshot.netns);
  const tap = new DiagSession({
    send: (m) => inner.transport.send(m),
    recv: (buf) => {
      const n = inner.transport.recv(buf);
      if (n > 0) writeSync(fd, buf, 0, n);
      return n;
    },
    close: () => inner.close(),
  });
  try {
    await takeSnapshot({ ...plan.snapshot, keepAttributes: false }, tap);
  } finally {
    tap.close();
    if (fd !== 1) closeSync(fd);
  }
}
