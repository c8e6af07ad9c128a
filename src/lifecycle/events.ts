/**
 * Destroy events: the sock_diag multicast groups on which the kernel announces every TCP and UDP socket it
 * frees (include/uapi/linux/sock_diag.h `enum sknetlink_groups`), decoded into the same SocketTable rows a dump
 * makes. Pure over bytes: recorded datagrams replay through exactly this code.
 *
 * What the kernel sends (net/core/sock_diag.c sock_diag_broadcast_destroy_work → inet_diag_handler_get_info):
 * one datagram per freed socket, one SOCK_DIAG_BY_FAMILY message with nlmsg_seq 0: an inet_diag_msg (family,
 * state — TCP_CLOSE for a closed TCP socket —, ports, addresses, interface, cookie; uid, inode, timer and
 * expires are 0), INET_DIAG_PROTOCOL, and for TCP INET_DIAG_INFO (struct tcp_info, whose length the decoder
 * records); UDP has no INET_DIAG_INFO, its queues are in rqueue/wqueue (wqueue as -1: see below). See
 * docs/lifecycle.md.
 */
import { AttributeDecoder } from '../netlink/attributes.js';
import { MessageIterator, NLMSG_HDRLEN } from '../netlink/message.js';
import {
  AF_INET,
  AF_INET6,
  INET_DIAG_MSG_SIZE,
  InetAttr,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  Proto,
  SOCK_DGRAM,
  SOCK_DIAG_BY_FAMILY,
  SOCK_STREAM,
} from '../diag/constants.js';
import { appendInetMessage } from '../diag/inet.js';
import type { SocketTable } from '../snapshot/table.js';

/** enum sknetlink_groups (include/uapi/linux/sock_diag.h) */
export const SKNLGRP_INET_TCP_DESTROY = 1;
export const SKNLGRP_INET_UDP_DESTROY = 2;
export const SKNLGRP_INET6_TCP_DESTROY = 3;
export const SKNLGRP_INET6_UDP_DESTROY = 4;

export type EventProtocol = 'tcp' | 'udp';

/** The groups for these protocols and families (UDP-Lite sockets are announced on the UDP groups). */
export function destroyGroups(protocols: readonly EventProtocol[], families: readonly number[]): number[] {
  const groups: number[] = [];
  if (protocols.includes('tcp') && families.includes(AF_INET)) groups.push(SKNLGRP_INET_TCP_DESTROY);
  if (protocols.includes('udp') && families.includes(AF_INET)) groups.push(SKNLGRP_INET_UDP_DESTROY);
  if (protocols.includes('tcp') && families.includes(AF_INET6)) groups.push(SKNLGRP_INET6_TCP_DESTROY);
  if (protocols.includes('udp') && families.includes(AF_INET6)) groups.push(SKNLGRP_INET6_UDP_DESTROY);
  return groups;
}

export interface EventCounts {
  /** destroyed sockets decoded into rows */
  events: number;
  /** messages or datagrams that could not be decoded (skipped) */
  malformed: number;
}

const iterator = new MessageIterator(new DataView(new ArrayBuffer(0)), 0, 0);
const attrs = new AttributeDecoder(new DataView(new ArrayBuffer(0)), 0, 0);

/** INET_DIAG_PROTOCOL of the message at [off, off+len): the IPPROTO number, or -1. */
function protocolOf(view: DataView, off: number, len: number): number {
  attrs.reset(view, off + INET_DIAG_MSG_SIZE, off + len);
  while (attrs.next()) if (attrs.type === InetAttr.PROTOCOL && attrs.length >= 1) return view.getUint8(attrs.offset);
  return -1;
}

/**
 * Append every destroy event of one datagram ([0, n) of bytes) to `table`, attributes kept. Returns how many
 * rows were added; framing problems and messages that are not destroy events are counted in `counts.malformed`.
 */
export function appendDestroyDatagram(table: SocketTable, view: DataView, words: Uint32Array, bytes: Uint8Array, n: number, counts: EventCounts): number {
  const before = table.length;
  iterator.reset(view, 0, n);
  while (iterator.next()) {
    if (iterator.type !== SOCK_DIAG_BY_FAMILY) {
      counts.malformed++;
      continue;
    }
    const off = iterator.offset + NLMSG_HDRLEN;
    const len = iterator.length - NLMSG_HDRLEN;
    const family = len >= 1 ? bytes[off] : 0;
    if (len < INET_DIAG_MSG_SIZE || (family !== AF_INET && family !== AF_INET6)) {
      counts.malformed++;
      continue;
    }
    const ipproto = protocolOf(view, off, len);
    // inet_diag_handler_get_info always puts INET_DIAG_PROTOCOL: without it the message is not a destroy event
    const proto = ipproto === IPPROTO_TCP ? Proto.tcp : ipproto === IPPROTO_UDP ? Proto.udp : ipproto === IPPROTO_UDPLITE ? Proto.udplite : -1;
    if (proto < 0) {
      counts.malformed++;
      continue;
    }
    const row = table.length;
    appendInetMessage(table, view, words, bytes, off, len, proto, proto === Proto.tcp ? SOCK_STREAM : SOCK_DGRAM, true);
    // udp_diag_get_info's idiag_wqueue is sk_wmem_alloc_get() = sk_wmem_alloc - 1, and a socket being freed has
    // released all its memory (sk_wmem_alloc 0): -1, for every UDP socket. Its send queue is empty: 0.
    if (proto !== Proto.tcp && table.wqueue[row] === 0xffffffff) table.wqueue[row] = 0;
    counts.events++;
  }
  if (iterator.error !== undefined) counts.malformed++;
  return table.length - before;
}
