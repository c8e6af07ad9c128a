/**
 * The JSON record of a packet, netlink, vsock or XDP socket (`ls --format json|ndjson`), declared once as a member
 * table, as socket-members.ts declares the inet and unix records: familyRecord() builds records from it and
 * socket-schema.ts adds its members to schema/socket.schema.json (`npm run schema`).
 */
import { SOCK_TYPE_NAMES, STATE_KEYS } from '../../diag/constants.js';
import { FAMILY_NAMES, type FamilyName, type FamilySocket, type PacketRing } from '../../diag/family-socket.js';
import { NETLINK_PROTOCOL_NAMES } from '../../diag/netlink-diag.js';
import { LL_PROTOCOL_NAMES, PDI_FLAGS } from '../../diag/packet.js';
import type { SocketHolders } from '../../procfs/processes.js';
import { familyCookieHex } from './family-table.js';
import { MEM_NAMES } from './socket-members.js';

export type FamilySection = 'always' | 'extended' | 'memory' | 'processes' | 'bpf';

export interface FamilyRecordOptions {
  extended?: boolean;
  memory?: boolean;
  bpf?: boolean;
  processes?: SocketHolders;
  interfaceName?: (ifindex: number) => string | undefined;
}

export interface FamilyMember {
  key: string;
  /** the families whose records have it */
  on: readonly FamilyName[];
  when: FamilySection;
  /** the value, or undefined when the kernel did not send it */
  value: (s: FamilySocket, o: FamilyRecordOptions) => unknown;
  schema: Record<string, unknown>;
  doc?: string;
}

const uint = { type: 'integer', minimum: 0 } as const;
const int = { type: 'integer' } as const;
const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, required, properties });
const ALL = FAMILY_NAMES;
const ifname = (o: FamilyRecordOptions, ifindex: number) => (ifindex === 0 ? undefined : (o.interfaceName?.(ifindex) ?? `if${ifindex}`));
const ring = (r: PacketRing | undefined) =>
  r && {
    block_size: r.blockSize,
    block_count: r.blockCount,
    frame_size: r.frameSize,
    frame_count: r.frameCount,
    retire_timeout_ms: r.retireTimeoutMs,
    private_size: r.privateSize,
    features: r.features,
  };
const RING_SCHEMA = object(
  Object.fromEntries(['block_size', 'block_count', 'frame_size', 'frame_count', 'retire_timeout_ms', 'private_size', 'features'].map((k) => [k, uint])),
);
const FANOUT_TYPES = ['hash', 'lb', 'cpu', 'roll', 'random', 'qm', 'cbpf', 'ebpf'];

/** The members of the four families' records, in output order. */
export const FAMILY_MEMBERS: readonly FamilyMember[] = [
  { key: 'protocol', on: ALL, when: 'always', value: (s) => s.family, schema: { enum: [...ALL] } },
  { key: 'family', on: ALL, when: 'always', value: (s) => s.family, schema: { enum: [...ALL] } },
  { key: 'socket_type', on: ALL, when: 'always', value: (s) => SOCK_TYPE_NAMES[s.type] ?? String(s.type), schema: { enum: Object.values(SOCK_TYPE_NAMES) } },
  { key: 'state', on: ALL, when: 'always', value: (s) => STATE_KEYS[s.state], schema: { enum: [...new Set(STATE_KEYS)] } },
  { key: 'recv_q', on: ALL, when: 'always', value: (s) => s.rqueue, schema: uint },
  { key: 'send_q', on: ALL, when: 'always', value: (s) => s.wqueue, schema: uint },
  {
    key: 'packet',
    on: ['packet'],
    when: 'always',
    value: (s, o) => {
      const p = s.packet!;
      return { protocol: p.protocol, protocol_name: LL_PROTOCOL_NAMES.get(p.protocol), ifindex: p.ifindex, interface: ifname(o, p.ifindex) };
    },
    schema: object({ protocol: uint, protocol_name: { type: 'string' }, ifindex: uint, interface: { type: 'string' } }, ['protocol', 'ifindex']),
    doc: 'packet sockets: the ethernet protocol received (3: every protocol, ETH_P_ALL) and the bound interface (ifindex 0: every interface)',
  },
  {
    key: 'netlink',
    on: ['netlink'],
    when: 'always',
    value: (s) => {
      const n = s.netlink!;
      return {
        protocol: n.protocol,
        protocol_name: NETLINK_PROTOCOL_NAMES[n.protocol],
        port_id: n.portid,
        connected: n.connected,
        ...(n.connected ? { peer_port_id: n.dstPortid, peer_group: n.dstGroup } : {}),
      };
    },
    schema: object({ protocol: uint, protocol_name: { type: 'string' }, port_id: int, connected: { type: 'boolean' }, peer_port_id: int, peer_group: uint }, [
      'protocol',
      'port_id',
      'connected',
    ]),
    doc: 'netlink sockets: the protocol (0: NETLINK_ROUTE, ...), the port id (a process id, 0: the kernel, negative: autobound) and, connected, the peer',
  },
  {
    key: 'vsock',
    on: ['vsock'],
    when: 'always',
    value: (s) => {
      const v = s.vsock!;
      return { local_cid: v.localCid, local_port: v.localPort, remote_cid: v.remoteCid, remote_port: v.remotePort };
    },
    schema: object({ local_cid: uint, local_port: uint, remote_cid: uint, remote_port: uint }, ['local_cid', 'local_port', 'remote_cid', 'remote_port']),
    doc: 'vsock sockets: context ids and ports (4294967295: any)',
  },
  {
    key: 'xdp',
    on: ['xdp'],
    when: 'always',
    value: (s, o) => ({ ifindex: s.xdp!.ifindex, interface: ifname(o, s.xdp!.ifindex), queue_id: s.xdp!.queueId }),
    schema: object({ ifindex: uint, interface: { type: 'string' }, queue_id: uint }, ['ifindex', 'queue_id']),
    doc: 'XDP sockets: the bound device and queue (ifindex 0: not bound)',
  },
  { key: 'uid', on: ALL, when: 'extended', value: (s) => s.uid, schema: uint },
  { key: 'inode', on: ALL, when: 'extended', value: (s) => s.inode, schema: uint },
  { key: 'cookie', on: ALL, when: 'extended', value: (s) => familyCookieHex(s), schema: { type: 'string', pattern: '^[0-9a-f]+$' } },
  {
    key: 'packet_details',
    on: ['packet'],
    when: 'extended',
    value: (s) => {
      const p = s.packet!;
      if (!p.info && !p.rxRing && !p.txRing && p.fanout === undefined && !p.multicast) return undefined;
      return {
        ...(p.info
          ? {
              version: p.info.version,
              copy_threshold: p.info.copyThreshold,
              timestamp: p.info.timestamp,
              flags: PDI_FLAGS.filter(([bit]) => p.info!.flags & bit).map(([, name]) => name),
            }
          : {}),
        ...(p.rxRing ? { rx_ring: ring(p.rxRing) } : {}),
        ...(p.txRing ? { tx_ring: ring(p.txRing) } : {}),
        ...(p.fanout === undefined
          ? {}
          : { fanout: { id: p.fanout & 0xffff, type: FANOUT_TYPES[(p.fanout >>> 16) & 0xff] ?? String((p.fanout >>> 16) & 0xff) } }),
        ...(p.multicast ? { multicast: p.multicast } : {}),
      };
    },
    schema: object({
      version: uint,
      copy_threshold: uint,
      timestamp: uint,
      flags: { type: 'array', items: { enum: PDI_FLAGS.map(([, n]) => n) } },
      rx_ring: RING_SCHEMA,
      tx_ring: RING_SCHEMA,
      fanout: object({ id: uint, type: { type: 'string' } }, ['id', 'type']),
      multicast: { type: 'array', items: object({ ifindex: uint, count: uint, type: uint, address: { type: 'string' } }) },
    }),
    doc: 'packet_diag_info (TPACKET version, copy threshold, PDI_* flags), the mmap rings, the fanout group and the multicast memberships',
  },
  {
    key: 'netlink_details',
    on: ['netlink'],
    when: 'extended',
    value: (s) => ({ groups: s.netlink!.groups ?? [], ...(s.netlink!.flags === undefined ? {} : { flags: s.netlink!.flags }) }),
    schema: object({ groups: { type: 'array', items: uint }, flags: uint }),
    doc: 'the multicast group bitmap (u32 words, group N is bit N-1) and NDIAG_FLAG_* flags',
  },
  {
    key: 'xdp_details',
    on: ['xdp'],
    when: 'extended',
    value: (s) => {
      const x = s.xdp!;
      const n = (b: bigint) => Number(b);
      return {
        ...(x.rxEntries === undefined ? {} : { rx_entries: x.rxEntries }),
        ...(x.txEntries === undefined ? {} : { tx_entries: x.txEntries }),
        ...(x.fillEntries === undefined ? {} : { fill_entries: x.fillEntries }),
        ...(x.completionEntries === undefined ? {} : { completion_entries: x.completionEntries }),
        ...(x.umem
          ? {
              umem: {
                id: x.umem.id,
                size: n(x.umem.size),
                pages: x.umem.pages,
                chunk_size: x.umem.chunkSize,
                headroom: x.umem.headroom,
                ifindex: x.umem.ifindex,
                queue_id: x.umem.queueId,
                zero_copy: (x.umem.flags & 1) === 1,
                refs: x.umem.refs,
              },
            }
          : {}),
        ...(x.stats
          ? {
              stats: {
                rx_dropped: n(x.stats.rxDropped),
                rx_invalid: n(x.stats.rxInvalid),
                rx_full: n(x.stats.rxFull),
                fill_ring_empty: n(x.stats.fillRingEmpty),
                tx_invalid: n(x.stats.txInvalid),
                tx_ring_empty: n(x.stats.txRingEmpty),
              },
            }
          : {}),
      };
    },
    schema: object({
      rx_entries: uint,
      tx_entries: uint,
      fill_entries: uint,
      completion_entries: uint,
      umem: object({
        id: uint,
        size: uint,
        pages: uint,
        chunk_size: uint,
        headroom: uint,
        ifindex: uint,
        queue_id: uint,
        zero_copy: { type: 'boolean' },
        refs: uint,
      }),
      stats: object(Object.fromEntries(['rx_dropped', 'rx_invalid', 'rx_full', 'fill_ring_empty', 'tx_invalid', 'tx_ring_empty'].map((k) => [k, uint]))),
    }),
    doc: 'XDP rings (entries), the UMEM and the drop counters',
  },
  {
    key: 'bpf_filter',
    on: ['packet'],
    when: 'bpf',
    value: (s) => s.filter?.map((i) => ({ code: i.code, jt: i.jt, jf: i.jf, k: i.k })),
    schema: { type: 'array', items: object({ code: uint, jt: uint, jf: uint, k: uint }, ['code', 'jt', 'jf', 'k']) },
    doc: 'ls -b: the classic BPF program attached with SO_ATTACH_FILTER (struct sock_filter; the kernel shows it to CAP_NET_ADMIN only)',
  },
  {
    key: 'memory',
    on: ALL,
    when: 'memory',
    value: (s) => s.skmem && Object.fromEntries(s.skmem.map((v, i) => [MEM_NAMES[i] ?? `skmem_${i}`, v])),
    schema: { type: 'object', additionalProperties: uint, properties: Object.fromEntries(MEM_NAMES.map((n) => [n, uint])) },
  },
  {
    key: 'processes',
    on: ALL,
    when: 'processes',
    value: (s, o) => o.processes?.holders(s.inode).map((p) => ({ pid: p.pid, comm: p.comm, fd: p.fd })),
    schema: {
      type: 'array',
      items: object({ pid: { type: 'integer', minimum: 1 }, comm: { type: 'string' }, fd: uint }, ['pid', 'comm', 'fd']),
    },
  },
];

const shown = (when: FamilySection, o: FamilyRecordOptions): boolean =>
  when === 'always' ||
  (when === 'extended' && !!o.extended) ||
  (when === 'memory' && !!o.memory) ||
  (when === 'bpf' && !!o.bpf) ||
  (when === 'processes' && !!o.processes);

/** One socket's record: its family's members, in table order, those the options ask for and the kernel sent. */
export function familyRecord(s: FamilySocket, o: FamilyRecordOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of FAMILY_MEMBERS) {
    if (!m.on.includes(s.family) || !shown(m.when, o)) continue;
    const v = m.value(s, o);
    if (v !== undefined) out[m.key] = v;
  }
  return out;
}
