/**
 * What to ask the kernel: the options with their defaults, one dump request per protocol and family (the legacy
 * TCP walk covers both families), the request without the filter program (for a kernel that refuses it), and
 * how many sockets to expect.
 */
import { readFileSync } from 'node:fs';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  ALL_PROTOS,
  ALL_STATES,
  IPPROTO_OF,
  SOCK_DGRAM,
  SOCK_DIAG_BY_FAMILY,
  SOCK_RAW,
  SOCK_STREAM,
  TCPDIAG_GETSOCK,
  UnixShow,
  type ProtoName,
} from '../diag/constants.js';
import { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest } from '../diag/requests.js';
import { parseSockstat } from '../procfs/net.js';
import type { SnapshotOptions } from './types.js';

export const SOCK_TYPE_OF: Record<Exclude<ProtoName, 'unix'>, number> = {
  tcp: SOCK_STREAM,
  udp: SOCK_DGRAM,
  udplite: SOCK_DGRAM,
  raw: SOCK_RAW,
  sctp: SOCK_STREAM,
  mptcp: SOCK_STREAM,
};

export interface DumpPlan {
  protocol: ProtoName;
  family: number; // AF_UNSPEC for the legacy both-families TCP walk
  request: (seq: number) => Uint8Array;
  /** the same request without the filter program (when it has one): for a kernel that refuses the program */
  unfiltered?: (seq: number) => Uint8Array;
  messageType: number;
}

type PlanOptions = Required<Pick<SnapshotOptions, 'families' | 'states' | 'ext' | 'unixShow' | 'tcpStrategy'>> & Pick<SnapshotOptions, 'bytecode'>;

/** One dump request per protocol and family (the legacy TCP walk: both families), with its unfiltered twin. */
export function plans(o: PlanOptions, protocol: ProtoName): DumpPlan[] {
  const planned = requests(o, protocol);
  if (!o.bytecode || protocol === 'unix') return planned;
  const unfiltered = requests({ ...o, bytecode: undefined }, protocol);
  return planned.map((p, k) => ({ ...p, unfiltered: unfiltered[k].request }));
}

function requests(o: PlanOptions, protocol: ProtoName): DumpPlan[] {
  if (protocol === 'unix') {
    return [{ protocol, family: AF_UNIX, messageType: SOCK_DIAG_BY_FAMILY, request: (seq) => unixDumpRequest({ states: o.states, show: o.unixShow }, seq) }];
  }
  const both = o.families.includes(AF_INET) && o.families.includes(AF_INET6);
  if (protocol === 'tcp' && both && o.tcpStrategy === 'legacy') {
    return [
      {
        protocol,
        family: 0,
        messageType: SOCK_DIAG_BY_FAMILY,
        request: (seq) => legacyTcpDumpRequest({ states: o.states, ext: o.ext, bytecode: o.bytecode }, seq),
      },
    ];
  }
  return o.families.map((family) => ({
    protocol,
    family,
    messageType: SOCK_DIAG_BY_FAMILY,
    request: (seq: number) => inetDumpRequest({ family, protocol: IPPROTO_OF[protocol], states: o.states, ext: o.ext, bytecode: o.bytecode }, seq),
  }));
}

/** The legacy dump answers with messages of its request type. */
export const replyType = (p: DumpPlan): number => (p.family === 0 ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY);

export function normalize(options: SnapshotOptions) {
  return {
    protocols: options.protocols ?? ALL_PROTOS,
    families: options.families ?? [AF_INET, AF_INET6],
    states: options.states ?? ALL_STATES,
    ext: options.ext ?? 0,
    unixShow: options.unixShow ?? UnixShow.RQLEN,
    tcpStrategy: options.tcpStrategy ?? 'legacy',
    bytecode: options.bytecode,
    maxRetries: options.maxRetries ?? 3,
    procRoot: options.procRoot ?? '/proc',
  } as const;
}

export type Normalized = ReturnType<typeof normalize>;

export const keepsAttributes = (options: SnapshotOptions, o: ReturnType<typeof normalize>): boolean | 'ipv6-wildcard' =>
  options.keepAttributes ?? (o.ext !== 0 || (o.unixShow & ~UnixShow.RQLEN & ~UnixShow.UID) !== 0);

/**
 * Sockets (estimateSockets) from which ls receives in a worker thread (SnapshotOptions.readAheadFrom): a dump of
 * fewer is over before the worker (~30 ms to start) could take it.
 */
export const READ_AHEAD_FROM = 30_000;

/**
 * How many sockets to expect, from /proc/net/sockstat{,6} ("TCP: inuse N ... tw N", "TCP6: inuse N", ...):
 * a sizing hint only, 0 when unreadable.
 */
export function estimateSockets(protocols: readonly ProtoName[], procRoot: string): number {
  let n = 0;
  try {
    const v4 = parseSockstat(readFileSync(`${procRoot}/net/sockstat`, 'latin1'));
    let v6: ReturnType<typeof parseSockstat> = {};
    try {
      v6 = parseSockstat(readFileSync(`${procRoot}/net/sockstat6`, 'latin1'));
    } catch {
      /* no IPv6 */
    }
    const key: Partial<Record<ProtoName, string>> = { tcp: 'TCP', udp: 'UDP', udplite: 'UDPLITE', raw: 'RAW' };
    for (const p of protocols) {
      const k = key[p];
      if (!k) continue;
      n += (v4[k]?.inuse ?? 0) + (v6[`${k}6`]?.inuse ?? 0) + (p === 'tcp' ? (v4.TCP?.tw ?? 0) : 0);
    }
  } catch {
    return 0;
  }
  return n;
}
