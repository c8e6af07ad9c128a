/** sockscope as a library: kernel socket snapshots, decoders, and what is built on them. */
export * from './diag/constants.js';
export { formatAddress, formatIPv4, formatIPv6, parseAddress } from './diag/address.js';
export { appendInetMessage, decodeInetAttributes, type InetAttributes, type InetSockopt } from './diag/inet.js';
export { appendUnixMessage, decodeUnixAttributes, type UnixAttributes } from './diag/unix.js';
export { decodeTcpInfo, readTcpInfoField, tcpInfoField, TCP_INFO_FIELDS, TCP_INFO_UNITS, type TcpInfo, type TcpInfoField } from './diag/tcp-info.js';
export { inetDumpRequest, legacyTcpDumpRequest, unixDumpRequest, type InetDumpRequest } from './diag/requests.js';
export { AttributeDecoder, encodeAttribute, findAttribute } from './netlink/attributes.js';
export { encodeRequest, MessageIterator } from './netlink/message.js';
export { parseProcNetInet, parseProcNetUnix, parseSockstat } from './procfs/net.js';
export { CensusCounts } from './snapshot/census.js';
export { runDump, newReceiveBuffer, type DatagramReader, type DumpOutcome, type MessageVisitor } from './snapshot/dump.js';
export {
  DiagSession,
  FULL_EXT,
  takeCensus,
  takeSnapshot,
  type Census,
  type ProtocolSource,
  type Snapshot,
  type SnapshotOptions,
  type Source,
  type Transport,
} from './snapshot/snapshot.js';
export { SocketTable, UID_UNKNOWN, type SocketTableBuffers } from './snapshot/table.js';
export { SnapshotWorker } from './agent/worker.js';
export { replayTransport, splitDatagrams, withSequence, type ReplayRequest, type Responder } from './snapshot/replay.js';
export { summarize, type Summary, type Listener, type TcpStateCounts } from './summary/summary.js';
export { isSockscopeError, NetlinkError, SockscopeError, UsageError, type SockscopeErrorCode } from './errors.js';
export { compileFilter, parseFilter, hasNetAdmin, type CompiledFilter, type FilterContext } from './filter/index.js';
export { streamSnapshot } from './snapshot/snapshot.js';
