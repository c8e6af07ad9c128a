/** sock_diag constants (linux/sock_diag.h, inet_diag.h, unix_diag.h, netinet/in.h, net/tcp_states.h). */
export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
export const TCPDIAG_GETSOCK = 18;

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_RAW = 255;
export const IPPROTO_MPTCP = 262;

/** sockscope's own protocol codes, small enough for a Uint8Array column. */
export const Proto = { tcp: 1, udp: 2, udplite: 3, raw: 4, sctp: 5, mptcp: 6, unix: 7 } as const;
export type ProtoName = keyof typeof Proto;
export const PROTO_NAMES: readonly (ProtoName | '')[] = ['', 'tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp', 'unix'];
export const INET_PROTOS: readonly ProtoName[] = ['tcp', 'udp', 'udplite', 'raw', 'sctp', 'mptcp'];
export const ALL_PROTOS: readonly ProtoName[] = [...INET_PROTOS, 'unix'];
export const IPPROTO_OF: Record<Exclude<ProtoName, 'unix'>, number> = {
  tcp: IPPROTO_TCP,
  udp: IPPROTO_UDP,
  udplite: IPPROTO_UDPLITE,
  raw: IPPROTO_RAW,
  sctp: IPPROTO_SCTP,
  mptcp: IPPROTO_MPTCP,
};

/** net/tcp_states.h */
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_SYN_RECV = 3;
export const TCP_FIN_WAIT1 = 4;
export const TCP_FIN_WAIT2 = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LAST_ACK = 9;
export const TCP_LISTEN = 10;
export const TCP_CLOSING = 11;
export const TCP_NEW_SYN_RECV = 12;
export const TCP_BOUND_INACTIVE = 13;

/** Kernel state number → the key sockscope uses (node_exporter's label values). */
export const STATE_KEYS: readonly string[] = [
  'unknown',
  'established',
  'syn_sent',
  'syn_recv',
  'fin_wait1',
  'fin_wait2',
  'time_wait',
  'close',
  'close_wait',
  'last_ack',
  'listen',
  'closing',
  'new_syn_recv',
  'bound_inactive',
  'unknown14',
  'unknown15',
];
/** The eleven TCP states every census reports, in kernel order. */
export const TCP_STATE_NUMBERS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** What ss prints. */
export const SS_STATE_NAMES: readonly string[] = [
  'UNKNOWN',
  'ESTAB',
  'SYN-SENT',
  'SYN-RECV',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'TIME-WAIT',
  'UNCONN',
  'CLOSE-WAIT',
  'LAST-ACK',
  'LISTEN',
  'CLOSING',
  'NEW-SYN-RECV',
  'UNDEF',
  'UNKNOWN',
  'UNKNOWN',
];

/**
 * Every state bit 0..11. Not ~0: on kernels >= 6.7 a mask with TCPF_BOUND_INACTIVE (bit 13) makes the dump also
 * walk the bind table (see kernel-abi.md); sockets in that state are reported on request only.
 */
export const ALL_STATES = 0xfff;

/** inet_diag request extension bits: bit (ATTR - 1). */
export const Ext = {
  meminfo: 1 << 0,
  info: 1 << 1,
  vegasinfo: 1 << 2, // also yields DCTCPINFO / BBRINFO: the CC module's get_info
  cong: 1 << 3,
  tos: 1 << 4,
  tclass: 1 << 5, // also CLASS_ID
  skmeminfo: 1 << 6,
  shutdown: 1 << 7,
} as const;
export const EXT_ALL = 0xff;

/** inet_diag response attribute types. */
export const InetAttr = {
  MEMINFO: 1,
  INFO: 2,
  VEGASINFO: 3,
  CONG: 4,
  TOS: 5,
  TCLASS: 6,
  SKMEMINFO: 7,
  SHUTDOWN: 8,
  DCTCPINFO: 9,
  PROTOCOL: 10,
  SKV6ONLY: 11,
  LOCALS: 12,
  PEERS: 13,
  PAD: 14,
  MARK: 15,
  BBRINFO: 16,
  CLASS_ID: 17,
  MD5SIG: 18,
  ULP_INFO: 19,
  SK_BPF_STORAGES: 20,
  CGROUP_ID: 21,
  SOCKOPT: 22,
} as const;

/** inet_diag request attribute types. */
export const InetReqAttr = { BYTECODE: 1, SK_BPF_STORAGES: 2, PROTOCOL: 3 } as const;

/** unix_diag show flags and attributes. */
export const UnixShow = { NAME: 0x01, VFS: 0x02, PEER: 0x04, ICONS: 0x08, RQLEN: 0x10, MEMINFO: 0x20, UID: 0x40 } as const;
export const UNIX_SHOW_ALL = 0x7f;
export const UnixAttr = { NAME: 0, VFS: 1, PEER: 2, ICONS: 3, RQLEN: 4, MEMINFO: 5, SHUTDOWN: 6, UID: 7 } as const;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
export const SOCK_TYPE_NAMES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };

/** Sizes of the fixed message bodies. */
export const INET_DIAG_MSG_SIZE = 72;
export const INET_DIAG_REQ_V2_SIZE = 56;
export const INET_DIAG_REQ_LEGACY_SIZE = 60;
export const UNIX_DIAG_MSG_SIZE = 16;
export const UNIX_DIAG_REQ_SIZE = 24;

/** inet_diag filter program ops (INET_DIAG_REQ_BYTECODE): enum in linux/inet_diag.h */
export const BcOp = {
  NOP: 0,
  JMP: 1,
  S_GE: 2,
  S_LE: 3,
  D_GE: 4,
  D_LE: 5,
  AUTO: 6,
  S_COND: 7,
  D_COND: 8,
  DEV_COND: 9,
  MARK_COND: 10,
  S_EQ: 11,
  D_EQ: 12,
  CGROUP_COND: 13,
} as const;

/** The largest program sent: `no` is a u16 and the request attribute's nla_len too. */
export const MAX_BYTECODE = 65000;
