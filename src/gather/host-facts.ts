/**
 * The host facts collectors read (src/collectors/collector.ts HostFacts), read here beside the snapshot so the
 * collectors stay pure: interface names (rtnetlink in the reading thread's namespace, on first use), the ephemeral port range
 * (/proc/sys/net/ipv4/ip_local_port_range), the processes holding sockets (/proc/*\/fd), the doctor's namespace counters and sysctls, and the hostname.
 */
import { readFileSync } from 'node:fs';
import type { HostFactName, HostFacts } from '../collectors/collector.js';
import { currentDoctorHistory } from '../doctor/history.js';
import { readHostFacts as readDoctorNamespace } from '../doctor/host.js';
import { currentLifecycleTracker } from '../lifecycle/host.js';
import { indexSocketHolders } from '../procfs/processes.js';
import { interfaceNames } from '../netlink/links.js';

/** Telegraf's execd/exec hosts name themselves; sockscope's host tag defaults to the kernel's hostname. */
export function hostname(procRoot = '/proc'): string {
  try {
    return readFileSync(`${procRoot}/sys/kernel/hostname`, 'utf8').trim();
  } catch {
    return 'localhost';
  }
}

/** net.ipv4.ip_local_port_range, or undefined when there is no procfs sysctl to read. */
export function localPortRange(procRoot = '/proc'): HostFacts['localPortRange'] {
  try {
    const [low, high] = readFileSync(`${procRoot}/sys/net/ipv4/ip_local_port_range`, 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? { low, high } : undefined;
  } catch {
    return undefined;
  }
}

/** The facts the collectors asked for; interface names are read lazily (only bound sockets need them). */
export function readHostFacts(wanted: readonly HostFactName[], procRoot = '/proc'): HostFacts {
  return {
    interfaceName: interfaceNames(),
    localPortRange: wanted.includes('localPortRange') ? localPortRange(procRoot) : undefined,
    holders: wanted.includes('holders') ? indexSocketHolders(procRoot) : undefined,
    lifecycle: wanted.includes('lifecycle') ? currentLifecycleTracker() : undefined,
    doctorNamespace: wanted.includes('doctorNamespace') ? readDoctorNamespace(procRoot) : undefined,
    doctorHistory: wanted.includes('doctorHistory') ? currentDoctorHistory() : undefined,
  };
}
