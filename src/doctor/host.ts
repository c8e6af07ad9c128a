/**
 * The namespace-wide facts the doctor reads next to the socket dump: the kernel's counters
 * (/proc/net/netstat TcpExt, /proc/net/snmp Udp, /proc/net/snmp6 Udp6, /proc/net/sockstat) and the sysctls the
 * checks compare against. Read through /proc/thread-self so they are the namespace the calling thread is in
 * (after -N's setns), parsed by pure functions.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { parseSockstat } from '../procfs/net.js';

/** The counters a check turns into a rate over the window (absent when the kernel has no such counter). */
export interface NamespaceCounters {
  listenOverflows?: number;
  listenDrops?: number;
  reqQFullDrop?: number;
  reqQFullDoCookies?: number;
  syncookiesSent?: number;
  udpRcvbufErrors?: number;
}

export interface HostFacts {
  counters: NamespaceCounters;
  /** sockstat: TCP orphans and TIME_WAIT of this namespace, TCP memory in pages (host-wide) */
  tcpOrphans?: number;
  tcpTimeWait?: number;
  tcpMemPages?: number;
  sysctl: {
    localPortRange?: { low: number; high: number };
    tcpTwReuse?: number;
    tcpMaxTwBuckets?: number;
    tcpMaxOrphans?: number;
    /** net.ipv4.tcp_mem: min, pressure, high (pages) */
    tcpMem?: [number, number, number];
    tcpMaxSynBacklog?: number;
    somaxconn?: number;
    tcpSyncookies?: number;
  };
  /** "net:[4026531840]": the namespace these facts are from */
  netns: string;
}

/**
 * /proc/net/netstat and /proc/net/snmp: pairs of lines "Prefix: Name1 Name2 ..." / "Prefix: v1 v2 ...".
 * → { TcpExt: { ListenOverflows: 3, ... }, Udp: {...} }. A line pair whose lengths differ is skipped.
 */
export function parseNetstatPairs(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].split(/\s+/).filter(Boolean);
    const values = lines[i + 1].split(/\s+/).filter(Boolean);
    if (names.length < 2 || names[0] !== values[0] || names.length !== values.length) continue;
    const rec: Record<string, number> = (out[names[0].slice(0, -1)] ??= {});
    for (let k = 1; k < names.length; k++) {
      const v = Number(values[k]);
      if (Number.isFinite(v)) rec[names[k]] = v;
    }
  }
  return out;
}

/** /proc/net/snmp6: "Name   value" per line. */
export function parseSnmp6(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** The counters out of the three files' text (any may be missing: undefined). */
export function parseCounters(netstat?: string, snmp?: string, snmp6?: string): NamespaceCounters {
  const ext = netstat ? (parseNetstatPairs(netstat).TcpExt ?? {}) : {};
  const udp = snmp ? parseNetstatPairs(snmp).Udp : undefined;
  const udp6 = snmp6 ? parseSnmp6(snmp6) : undefined;
  const rcvbuf = udp?.RcvbufErrors === undefined && udp6?.Udp6RcvbufErrors === undefined ? undefined : (udp?.RcvbufErrors ?? 0) + (udp6?.Udp6RcvbufErrors ?? 0);
  return {
    listenOverflows: ext.ListenOverflows,
    listenDrops: ext.ListenDrops,
    reqQFullDrop: ext.TCPReqQFullDrop,
    reqQFullDoCookies: ext.TCPReqQFullDoCookies,
    syncookiesSent: ext.SyncookiesSent,
    udpRcvbufErrors: rcvbuf,
  };
}

const tryRead = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
};

const numbers = (text: string | undefined): number[] | undefined => {
  if (text === undefined) return undefined;
  const n = text.trim().split(/\s+/).map(Number);
  return n.length > 0 && n.every(Number.isFinite) ? n : undefined;
};

/** The calling thread's namespace's facts (procRoot: tests replay recorded files). */
export function readHostFacts(procRoot = '/proc'): HostFacts {
  const net = procRoot === '/proc' ? '/proc/thread-self/net' : `${procRoot}/net`;
  const sys = `${procRoot}/sys/net`;
  const sockstat = tryRead(`${net}/sockstat`);
  const tcp = sockstat ? parseSockstat(sockstat).TCP : undefined;
  const sysctl = (path: string) => numbers(tryRead(`${sys}/${path}`));
  const range = sysctl('ipv4/ip_local_port_range');
  const tcpMem = sysctl('ipv4/tcp_mem');
  let netns = 'unknown';
  try {
    netns = readlinkSync(procRoot === '/proc' ? '/proc/thread-self/ns/net' : `${procRoot}/self/ns/net`);
  } catch {
    /* no ns files (old kernel, replay) */
  }
  return {
    counters: parseCounters(tryRead(`${net}/netstat`), tryRead(`${net}/snmp`), tryRead(`${net}/snmp6`)),
    tcpOrphans: tcp?.orphan,
    tcpTimeWait: tcp?.tw,
    tcpMemPages: tcp?.mem,
    sysctl: {
      localPortRange: range && range.length >= 2 ? { low: range[0], high: range[1] } : undefined,
      tcpTwReuse: sysctl('ipv4/tcp_tw_reuse')?.[0],
      tcpMaxTwBuckets: sysctl('ipv4/tcp_max_tw_buckets')?.[0],
      tcpMaxOrphans: sysctl('ipv4/tcp_max_orphans')?.[0],
      tcpMem: tcpMem && tcpMem.length >= 3 ? [tcpMem[0], tcpMem[1], tcpMem[2]] : undefined,
      tcpMaxSynBacklog: sysctl('ipv4/tcp_max_syn_backlog')?.[0],
      somaxconn: sysctl('core/somaxconn')?.[0],
      tcpSyncookies: sysctl('ipv4/tcp_syncookies')?.[0],
    },
    netns,
  };
}
