/**
 * The table lines of packet, netlink, vsock and XDP sockets as ss 6.1 prints them (misc/ss.c packet_stats_print,
 * packet_show_sock, netlink_show_one, vsock_stats_print, xdp_show_sock): Netid (p_raw, p_dgr, nl, v_str, v_dgr,
 * xdp), State, the queues, "protocol:interface" / "protocol:port-id" / "cid:port" / "device:qN" addresses, the
 * Process column, then -e's, -b's and -m's words. Numbers by default; ss's names (ip, rtnl, comm/pid) with -r.
 */
import { readFileSync } from 'node:fs';
import type { FamilySocket } from '../../diag/family-socket.js';
import { NETLINK_PROTOCOL_NAMES } from '../../diag/netlink-diag.js';
import { ETH_P_ALL, LL_PROTOCOL_NAMES, PDI_FLAGS } from '../../diag/packet.js';
import { SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, SS_STATE_NAMES } from '../../diag/constants.js';
import { VMADDR_ANY } from '../../diag/vsock.js';
import type { SocketHolders } from '../../procfs/processes.js';
import { socketContext } from '../../procfs/security-context.js';
import { processContext } from './ss-words.js';

export interface FamilyTableOptions {
  /** -e */
  extended?: boolean;
  /** -m */
  memory?: boolean;
  /** -b: the classic BPF program of each packet socket */
  bpf?: boolean;
  /** -r: ss's names (ethernet protocols, netlink protocols, the process behind a netlink port id) */
  names?: boolean;
  /** -O: ss's further lines on the socket's own line */
  oneline?: boolean;
  /** -p */
  processes?: SocketHolders;
  /** -Z/-z: proc_ctx= in the Process column */
  securityContext?: boolean;
  /** -z: sock_ctx= after each holder's fd */
  socketContext?: boolean;
  interfaceName?: (ifindex: number) => string | undefined;
  /** -r: "comm/pid" for a netlink port id that is a process id (ss reads /proc/PID/stat) */
  processName?: (pid: number) => string | undefined;
}

export interface FamilyLayout {
  header: boolean;
  netid: boolean;
  state: boolean;
}

/** The cells and the words after them of one socket. */
export interface FamilyLine {
  netid: string;
  state: string;
  recvQ: string;
  sendQ: string;
  local: string;
  peer: string;
  /** every word after the peer, each with its leading space or "\n\t" (a space under -O) */
  words: string;
}

/** ss's sock_state_print netid per family and socket type */
function netid(s: FamilySocket): string {
  switch (s.family) {
    case 'packet':
      return s.type === SOCK_RAW ? 'p_raw' : 'p_dgr';
    case 'netlink':
      return 'nl';
    case 'vsock':
      return s.type === SOCK_STREAM ? 'v_str' : s.type === SOCK_DGRAM ? 'v_dgr' : '???';
    case 'xdp':
      return 'xdp';
  }
}

const interfaceText = (o: FamilyTableOptions, ifindex: number): string => o.interfaceName?.(ifindex) ?? `if${ifindex}`;

/** the cookie as ss's sk: (hex, no leading zeros) */
export const familyCookieHex = (s: FamilySocket): string =>
  s.cookieHi ? s.cookieHi.toString(16) + s.cookieLo.toString(16).padStart(8, '0') : s.cookieLo.toString(16);

/** ss -p's users:(("comm",pid=N,fd=N),...) for an inode, or '' */
function usersText(o: FamilyTableOptions, inode: number): string {
  const ps = o.processes?.holders(inode) ?? [];
  if (ps.length === 0) return '';
  return ` users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},${o.securityContext ? `proc_ctx=${processContext(p.pid)},` : ''}fd=${p.fd}${o.socketContext ? `,sock_ctx=${socketContext(p.pid, p.fd)}` : ''})`).join(',')})`;
}

/** SELinux's initial context of the kernel (security_get_initial_context("kernel")), or `unavailable` */
function kernelContext(): string {
  try {
    return readFileSync('/sys/fs/selinux/initial_contexts/kernel', 'utf8').replace(/\0/g, '').trim() || 'unavailable';
  } catch {
    return 'unavailable';
  }
}

/** ss's sock_details_print: uid (when not 0), ino, sk */
const details = (s: FamilySocket): string => `${s.uid ? ` uid:${s.uid}` : ''} ino:${s.inode} sk:${familyCookieHex(s)}`;

/** ss's print_skmeminfo */
function skmemText(m: readonly number[]): string {
  let t = ` skmem:(r${m[0] ?? 0},rb${m[1] ?? 0},t${m[2] ?? 0},tb${m[3] ?? 0},f${m[4] ?? 0},w${m[5] ?? 0},o${m[6] ?? 0}`;
  if (m.length >= 8) t += `,bl${m[7]}`;
  if (m.length >= 9) t += `,d${m[8]}`;
  return `${t})`;
}

/** ss -b: "bpf filter (N):  0x28 0 0 12, 0x15 0 1 2048, ..." (each instruction with its leading space and a comma) */
export function bpfFilterText(program: readonly { code: number; jt: number; jf: number; k: number }[]): string {
  return `bpf filter (${program.length}): ${program.map((i) => ` 0x${i.code.toString(16).padStart(2, '0')} ${i.jt} ${i.jf} ${i.k >>> 0},`).join('')}`;
}

const FANOUT_TYPES = ['hash', 'lb', 'cpu', 'roll', 'random', 'qm'];

/** One socket's cells and words, as ss prints them. */
export function familyLine(s: FamilySocket, o: FamilyTableOptions): FamilyLine {
  const br = o.oneline ? ' ' : '\n\t';
  let local = '*';
  let peer = '*';
  let words = '';
  switch (s.family) {
    case 'packet': {
      const p = s.packet!;
      const proto = p.protocol === ETH_P_ALL ? '*' : ((o.names ? LL_PROTOCOL_NAMES.get(p.protocol) : undefined) ?? `[${p.protocol}]`);
      local = `${proto}:${p.ifindex === 0 ? '*' : interfaceText(o, p.ifindex)}`;
      words += usersText(o, s.inode);
      if (o.extended) {
        words += details(s);
        if (p.info) {
          const flags = PDI_FLAGS.map(([bit, name], k) => (p.info!.flags & bit ? (k === 0 ? name : ` ${name}`) : '')).join('');
          words += `${br}ver:${p.info.version} cpy_thresh:${p.info.copyThreshold} flags( ${p.info.flags ? flags : '0'} )`;
        }
        for (const [name, r] of [
          ['ring_rx', p.rxRing],
          ['ring_tx', p.txRing],
        ] as const)
          if (r)
            words += `${br}${name}(blk_size:${r.blockSize},blk_nr:${r.blockCount},frm_size:${r.frameSize},frm_nr:${r.frameCount},tmo:${r.retireTimeoutMs},features:0x${r.features.toString(16)})`;
        if (p.fanout !== undefined) {
          const type = (p.fanout >>> 16) & 0xffff;
          words += `${br}fanout(id:${p.fanout & 0xffff},type:${FANOUT_TYPES[type] ?? `0x${type.toString(16)}`})`;
        }
      }
      if (o.bpf && s.filter) words += `${br}${bpfFilterText(s.filter)}`;
      if (o.memory && s.skmem) words += skmemText(s.skmem);
      break;
    }
    case 'netlink': {
      const n = s.netlink!;
      const proto = o.names ? (NETLINK_PROTOCOL_NAMES[n.protocol] ?? String(n.protocol)) : String(n.protocol);
      let port: string;
      if (n.portid === -1) port = '*';
      else if (!o.names) port = String(n.portid);
      else if (n.portid === 0) port = 'kernel';
      else port = (n.portid > 0 ? o.processName?.(n.portid) : undefined) ?? String(n.portid);
      local = `${proto}:${port}`;
      peer = n.connected ? `${n.dstGroup}:${n.dstPortid}` : '*';
      // ss -Z: the context of the port id's holder (netlink_show_one): the kernel's initial context for port 0, the
      // process's for a pid, else unavailable
      if (o.securityContext) words += ` proc_ctx=${n.portid === 0 ? kernelContext() : n.portid > 0 ? processContext(n.portid) : 'unavailable'}`;
      // ss gives netlink sockets no Process column: the process is in the address (with -r)
      // (ss's netlink_diag path passes sk and cb as 0; its /proc/net/netlink path prints the file's columns)
      if (o.extended) words += ` sk=${n.procSk ?? 0} cb=${n.procCb ?? 0} groups=0x${((n.groups?.[0] ?? 0) >>> 0).toString(16).padStart(8, '0')}`;
      if (o.memory && s.skmem) words += `\t${skmemText(s.skmem)}`;
      break;
    }
    case 'vsock': {
      const v = s.vsock!;
      const end = (cid: number, port: number) => `${cid === VMADDR_ANY ? '*' : cid}:${port === VMADDR_ANY ? '*' : port}`;
      local = end(v.localCid, v.localPort);
      peer = end(v.remoteCid, v.remotePort);
      words += usersText(o, s.inode);
      break;
    }
    case 'xdp': {
      const x = s.xdp!;
      if (x.ifindex) local = `${interfaceText(o, x.ifindex)}:q${x.queueId}`;
      words += usersText(o, s.inode);
      if (o.extended) {
        words += details(s);
        if (x.rxEntries !== undefined) words += `${br}rx(entries:${x.rxEntries})`;
        if (x.txEntries !== undefined) words += `${br}tx(entries:${x.txEntries})`;
        const u = x.umem;
        if (u) {
          words += `${o.oneline ? ' tumem(' : '\n\tumem('}id:${u.id},size:${u.size},num_pages:${u.pages},chunk_size:${u.chunkSize},headroom:${u.headroom},ifindex:${u.ifindex},qid:${u.queueId},zc:${u.flags & 1},refs:${u.refs})`;
          if (x.fillEntries !== undefined) words += `${br}fr(entries:${x.fillEntries})`;
          if (x.completionEntries !== undefined) words += `${br}cr(entries:${x.completionEntries})`;
        }
        const st = x.stats;
        if (st)
          words += `${br}stats(rx dropped:${st.rxDropped},rx invalid:${st.rxInvalid},rx queue full:${st.rxFull},rx fill ring empty:${st.fillRingEmpty},tx invalid:${st.txInvalid},tx ring empty:${st.txRingEmpty})`;
      }
      if (o.memory && s.skmem) words += skmemText(s.skmem);
      break;
    }
  }
  return { netid: netid(s), state: SS_STATE_NAMES[s.state] ?? 'UNKNOWN', recvQ: String(s.rqueue), sendQ: String(s.wqueue), local, peer, words };
}

const HEADER = ['Netid', 'State', 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port'];
/** which columns are right-aligned (the queues) */
const RIGHT = [false, false, true, true, false, false];

/**
 * The lines of these sockets (and the header, when asked): ss's columns, aligned over these lines, two spaces
 * between them, then " Process" in the header and each socket's words. Lines of inet and unix sockets
 * (ls-table.ts) are aligned on their own.
 */
export function familyTableText(sockets: readonly FamilySocket[], o: FamilyTableOptions, layout: FamilyLayout): string {
  const shown = (c: number) => (c !== 0 || layout.netid) && (c !== 1 || layout.state);
  const lines = sockets.map((s) => familyLine(s, o));
  const rows = [...(layout.header ? [HEADER] : []), ...lines.map((l) => [l.netid, l.state, l.recvQ, l.sendQ, l.local, l.peer])];
  if (rows.length === 0) return '';
  const widths = HEADER.map((_, c) => (shown(c) ? Math.max(...rows.map((r) => r[c].length)) : 0));
  const cells = (r: readonly string[]) =>
    r
      .map((cell, c) => (shown(c) ? (RIGHT[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])) : undefined))
      .filter((cell) => cell !== undefined)
      .join('  ');
  const out: string[] = [];
  if (layout.header) out.push(`${cells(HEADER)} Process`);
  // trailing blanks trimmed, as on inet and unix lines
  for (const l of lines) out.push(`${cells([l.netid, l.state, l.recvQ, l.sendQ, l.local, l.peer])}${l.words}`.replace(/[ \t]+$/gm, ''));
  return `${out.join('\n')}\n`;
}
