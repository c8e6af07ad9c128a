/**
 * What a filter needs from the running system, read when it is compiled (never per socket): device indexes,
 * cgroup ids, the ephemeral port range, whether we hold CAP_NET_ADMIN. Each has a default reading /sys or
 * /proc, and FilterContext lets callers and tests put their own in its place.
 */
import { readFileSync, statSync } from 'node:fs';

/**
 * A device name → its ifindex, from /sys/class/net/NAME/ifindex. Caveat: sysfs lists the devices of the
 * network namespace it was mounted in, so after setns() without a remount only `lo` (ifindex 1 everywhere)
 * is sure to be right; callers that enter a namespace can pass their own resolver.
 */
export function sysfsIfindex(name: string, sysClassNet = '/sys/class/net'): number | undefined {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) return undefined;
  try {
    const n = Number(readFileSync(`${sysClassNet}/${name}/ifindex`, 'latin1').trim());
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Where the cgroup v2 hierarchy is mounted: the first cgroup2 line of /proc/self/mountinfo, else /sys/fs/cgroup. */
export function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): string {
  try {
    for (const line of readFileSync(mountinfo, 'latin1').split('\n')) {
      // "36 25 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,..."
      const sep = line.indexOf(' - ');
      if (sep < 0 || !line.slice(sep + 3).startsWith('cgroup2 ')) continue;
      const mountPoint = line.split(' ')[4];
      if (mountPoint) return mountPoint.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    }
  } catch {
    /* no /proc: the usual place */
  }
  return '/sys/fs/cgroup';
}

/**
 * A cgroup path as `ss --cgroup` prints it (`/`, `/system.slice/sshd.service`, relative to the cgroup2 mount;
 * a path already under the mount is taken as it is) → its cgroup v2 id, the inode number of its directory.
 */
export function cgroupId(path: string, mount = cgroup2Mount()): { id: bigint; file: string } | { file: string } {
  const root = mount.replace(/\/+$/, '');
  const file = path === root || path.startsWith(`${root}/`) ? path : `${root}${path.startsWith('/') ? '' : '/'}${path}`;
  try {
    const st = statSync(file, { bigint: true });
    if (st.isDirectory()) return { id: st.ino, file };
  } catch {
    /* below */
  }
  return { file };
}

/**
 * net.ipv4.ip_local_port_range of the current network namespace: the ports `autobound` means in user space, and
 * the ports ss leaves unnamed (ss is_ephemeral()). Falls back to `fallback` (the kernel default 32768-60999
 * unless given) when it cannot be read.
 */
export function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range', fallback = { low: 32768, high: 60999 }): { low: number; high: number } {
  try {
    const [low, high] = readFileSync(file, 'latin1').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low <= high) return { low, high };
  } catch {
    /* default below */
  }
  return fallback;
}

/** CAP_NET_ADMIN (bit 12) in this process's effective set, from /proc/self/status. */
export function hasNetAdmin(status = '/proc/self/status'): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(readFileSync(status, 'latin1'));
    return m ? (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n : false;
  } catch {
    return false;
  }
}
