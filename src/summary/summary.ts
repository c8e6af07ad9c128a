/**
 * The at-a-glance summary (`sockscope`, `sockscope --json`): a pure function of one snapshot. Counting runs over
 * the columns with typed-array tallies (ports) and numeric map keys (IPv4 peers); strings are made only for
 * what is printed.
 */
import { formatAddress } from '../diag/address.js';
import {
  AF_INET,
  AF_INET6,
  PROTO_NAMES,
  Proto,
  SOCK_TYPE_NAMES,
  STATE_KEYS,
  TCP_CLOSE,
  TCP_LISTEN,
  TCP_STATE_NUMBERS,
  TCP_TIME_WAIT,
  type ProtoName,
} from '../diag/constants.js';
import type { ProtocolSource, Snapshot } from '../snapshot/snapshot.js';
import { TopK } from '../util/top-k.js';
import { U32Counter } from '../util/u32-counter.js';

export type TcpStateCounts = Record<
  'established' | 'syn_sent' | 'syn_recv' | 'fin_wait1' | 'fin_wait2' | 'time_wait' | 'close' | 'close_wait' | 'last_ack' | 'listen' | 'closing',
  number
>;

export interface Listener {
  protocol: ProtoName;
  family: 'ipv4' | 'ipv6';
  address: string;
  port: number;
  /** connections completed and waiting for accept() */
  accept_queue: number;
  /** the listen() backlog (sk_max_ack_backlog); null when the source (/proc) does not report it */
  backlog: number | null;
  /** accept_queue / backlog, percent */
  backlog_used_pct: number | null;
  inode: number;
}

export interface Summary {
  taken_at: string;
  duration_ms: number;
  total: number;
  /** sockets per protocol and family (unix: per socket type) */
  sockets: Record<string, { total: number; ipv4?: number; ipv6?: number; stream?: number; dgram?: number; seqpacket?: number }>;
  tcp: { states: TcpStateCounts; ipv4: TcpStateCounts; ipv6: TcpStateCounts };
  udp: { unconnected: number; connected: number };
  listeners: Listener[];
  /** local ports with the most TCP connections (listeners and TIME_WAIT excluded) */
  top_local_ports: { port: number; connections: number }[];
  /** remote addresses with the most TCP connections (TIME_WAIT excluded) */
  top_remote_peers: { address: string; connections: number }[];
  sources: ProtocolSource[];
  notes: string[];
}

export interface SummaryOptions {
  /** how many ports and peers to list */
  top?: number;
}

const emptyStates = (): TcpStateCounts => {
  const o = {} as TcpStateCounts;
  for (const s of TCP_STATE_NUMBERS) o[STATE_KEYS[s] as keyof TcpStateCounts] = 0;
  return o;
};

export function summarize(snapshot: Snapshot, options: SummaryOptions = {}): Summary {
  const top = options.top ?? 10;
  const t = snapshot.table;
  const n = t.length;
  const byProtoFamily = new Float64Array(PROTO_NAMES.length * 2);
  const unixTypes = new Float64Array(8);
  const tcpStates = [new Float64Array(16), new Float64Array(16)];
  const portCounts = new Uint32Array(65536);
  const peers4 = new U32Counter();
  const peers6 = new Map<string, number>();
  const listeners: Listener[] = [];
  let udpConnected = 0;
  let udpUnconnected = 0;
  const { proto, family, state, sport, dst32 } = t;
  for (let i = 0; i < n; i++) {
    const p = proto[i];
    const v6 = family[i] === AF_INET6 ? 1 : 0;
    byProtoFamily[p * 2 + v6]++;
    if (p === Proto.unix) {
      unixTypes[t.sockType[i] & 7]++;
      continue;
    }
    const st = state[i];
    if (p === Proto.udp) {
      if (st === TCP_CLOSE) udpUnconnected++;
      else udpConnected++;
      continue;
    }
    if (p !== Proto.tcp) continue;
    tcpStates[v6][st & 15]++;
    if (st === TCP_LISTEN) {
      listeners.push(listener(snapshot, i));
      continue;
    }
    if (st === TCP_TIME_WAIT || st === TCP_CLOSE) continue;
    portCounts[sport[i]]++;
    if (v6) {
      const key = formatAddress(AF_INET6, t.dst, i * 16);
      peers6.set(key, (peers6.get(key) ?? 0) + 1);
    } else {
      peers4.add(dst32[i << 2]);
    }
  }

  const sockets: Summary['sockets'] = {};
  for (const name of snapshot.sources.map((s) => s.protocol)) {
    const p = Proto[name];
    if (name === 'unix') {
      sockets.unix = { total: byProtoFamily[p * 2], stream: unixTypes[1], dgram: unixTypes[2], seqpacket: unixTypes[5] };
    } else {
      sockets[name] = { total: byProtoFamily[p * 2] + byProtoFamily[p * 2 + 1], ipv4: byProtoFamily[p * 2], ipv6: byProtoFamily[p * 2 + 1] };
    }
  }
  const states = (counts: Float64Array[]): TcpStateCounts => {
    const o = emptyStates();
    for (const s of TCP_STATE_NUMBERS) o[STATE_KEYS[s] as keyof TcpStateCounts] = counts.reduce((sum, c) => sum + c[s], 0);
    return o;
  };

  const ports = new TopK<number>(top, (a, b) => a - b);
  for (let port = 0; port < 65536; port++) if (portCounts[port] > 0) ports.offer(port, portCounts[port]);
  const peers = new TopK<string>(top, (a, b) => a.localeCompare(b));
  const v4 = new Uint8Array(4);
  const v4words = new Uint32Array(v4.buffer);
  peers4.forEach((word, connections) => {
    if (!peers.admits(connections)) return;
    v4words[0] = word;
    peers.offer(formatAddress(AF_INET, v4, 0), connections);
  });
  for (const [address, connections] of peers6) peers.offer(address, connections);
  listeners.sort((a, b) => (b.backlog_used_pct ?? -1) - (a.backlog_used_pct ?? -1) || a.port - b.port || a.address.localeCompare(b.address));

  return {
    taken_at: new Date(snapshot.takenAt).toISOString(),
    duration_ms: Math.round(snapshot.durationMs * 100) / 100,
    total: n,
    sockets,
    tcp: { states: states(tcpStates), ipv4: states([tcpStates[0]]), ipv6: states([tcpStates[1]]) },
    udp: { unconnected: udpUnconnected, connected: udpConnected },
    listeners,
    top_local_ports: ports.items.map(({ key, count }) => ({ port: key, connections: count })),
    top_remote_peers: peers.items.map(({ key, count }) => ({ address: key, connections: count })),
    sources: snapshot.sources,
    notes: snapshot.notes,
  };
}

function listener(snapshot: Snapshot, i: number): Listener {
  const t = snapshot.table;
  const fromProc = snapshot.sources.find((s) => s.protocol === 'tcp')?.source === 'proc';
  // inet_diag_msg for a listener: rqueue = sk_ack_backlog (accept queue), wqueue = sk_max_ack_backlog.
  const backlog = fromProc ? null : t.wqueue[i];
  return {
    protocol: 'tcp',
    family: t.family[i] === AF_INET6 ? 'ipv6' : 'ipv4',
    address: formatAddress(t.family[i], t.src, i * 16),
    port: t.sport[i],
    accept_queue: t.rqueue[i],
    backlog,
    backlog_used_pct: backlog ? Math.round((t.rqueue[i] / backlog) * 1000) / 10 : null,
    inode: t.inode[i],
  };
}

export { SOCK_TYPE_NAMES };
