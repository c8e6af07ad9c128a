/** Small pieces shared by the servers and the collectors: listen addresses, bound addresses, interface names. */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { SockscopeError, systemErrorFacts } from '../errors.js';

/** "127.0.0.1:11979" / "[::1]:11979" → host and port. */
export function splitListen(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(addr.slice(i + 1)) };
}

/** listen() on ADDR:PORT; a failure is a configuration error naming the setting. */
export function listenOn(server: Server, addr: string, key: string): Promise<void> {
  const { host, port } = splitListen(addr);
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SockscopeError('ESOCKSCOPE_CONFIG', `cannot listen on ${addr} (${key}): ${e.code ?? e.message}`, {
          key,
          value: addr,
          ...systemErrorFacts(e),
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

/** What the servers are bound to, as ADDR:PORT (the real port when 0 was asked for). */
export function boundAddresses(servers: readonly Server[]): string[] {
  return servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') return String(a);
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  });
}

/**
 * ifindex → interface name from /sys/class/net, read on first use (only sockets bound to a device need it).
 * The names are those of the sysfs this process sees (the caller's namespace under -N).
 */
export function sysfsInterfaceNames(): (ifindex: number) => string | undefined {
  let names: Map<number, string> | undefined;
  return (ifindex) => {
    if (!names) {
      names = new Map();
      try {
        for (const name of readdirSync('/sys/class/net')) {
          try {
            names.set(Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')), name);
          } catch {
            /* removed meanwhile */
          }
        }
      } catch {
        /* no sysfs */
      }
    }
    return names.get(ifindex);
  };
}
