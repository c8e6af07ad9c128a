/**
 * The sockets of the other families ss lists (packet, netlink, vsock, XDP): one dump per family over the same
 * NETLINK_SOCK_DIAG session, each message decoded into a FamilySocket (src/diag/family-socket.ts). A family whose
 * diag module the kernel lacks answers ENOENT: packet and netlink sockets are then read from /proc/net/packet and
 * /proc/net/netlink, as ss does; vsock and XDP have no such file: asked for by name, that is an error naming the
 * kernel option; asked for through a list (-A all), a note; in the default listing (ls -a), nothing, as ss.
 */
import type { FamilyName, FamilySocket } from '../diag/family-socket.js';
import { decodeNetlinkMessage, NETLINK_SHOW_ALL, netlinkDumpRequest } from '../diag/netlink-diag.js';
import { decodePacketMessage, PACKET_SHOW_ALL, packetDumpRequest } from '../diag/packet.js';
import { SOCK_DIAG_BY_FAMILY, TCP_CLOSE } from '../diag/constants.js';
import { decodeVsockMessage, vsockDumpRequest } from '../diag/vsock.js';
import { decodeXdpMessage, XDP_SHOW_ALL, xdpDumpRequest } from '../diag/xdp.js';
import { NetlinkError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { ENOENT, errnoName } from '../sys/errno.js';
import { FAMILY_PROC_FILES } from './proc-fallback.js';
import { DiagSession } from './session.js';

export interface FamilyRequest {
  family: FamilyName;
  /** the socket types to keep (ss's tables: packet_raw is SOCK_RAW, vsock_dgram SOCK_DGRAM, ...); all when absent */
  types?: readonly number[];
  /** the TCP_* state bitmap to list (vsock has states; the others are all "close") */
  states: number;
  /** named by the user (-0, --vsock, --xdp, -f netlink, -A xdp): a kernel without the diag module is an error */
  required: boolean;
  /** part of the default listing (ls -a, ss's "all" tables): a family the kernel lacks goes unsaid */
  quiet?: boolean;
}

export interface FamilyOptions {
  netns?: string;
  /** the filter (CompiledFilter.matchesFamily): the sockets it lets through; default all */
  select?: (s: FamilySocket) => boolean;
  /** where /proc is (tests read another namespace's files through /proc/PID); default the calling thread's */
  procRoot?: string;
}

export interface FamilySnapshot {
  /** in ss's order of families: netlink, packet, vsock, xdp; each in the kernel's dump order */
  sockets: FamilySocket[];
  notes: string[];
}

/** What each family's dump is: its request, its decoder, and the kernel support it needs. */
const DUMPS: Record<FamilyName, { request: (states: number, seq: number) => Uint8Array; decode: typeof decodePacketMessage; module: string; config: string }> =
  {
    netlink: {
      request: (_s, seq) => netlinkDumpRequest(NETLINK_SHOW_ALL, seq),
      decode: decodeNetlinkMessage,
      module: 'netlink_diag',
      config: 'CONFIG_NETLINK_DIAG',
    },
    packet: { request: (_s, seq) => packetDumpRequest(PACKET_SHOW_ALL, seq), decode: decodePacketMessage, module: 'packet_diag', config: 'CONFIG_PACKET_DIAG' },
    vsock: { request: (states, seq) => vsockDumpRequest(states, seq), decode: decodeVsockMessage, module: 'vsock_diag', config: 'CONFIG_VSOCKETS_DIAG' },
    xdp: { request: (_s, seq) => xdpDumpRequest(XDP_SHOW_ALL, seq), decode: decodeXdpMessage, module: 'xsk_diag', config: 'CONFIG_XDP_SOCKETS_DIAG' },
  };

/** ss's order of the families in a listing */
export const FAMILY_ORDER: readonly FamilyName[] = ['netlink', 'packet', 'vsock', 'xdp'];

/** The words for a kernel without a family's diag support. */
export const missingSupport = (family: FamilyName): string =>
  `the kernel has no ${DUMPS[family].module} (${DUMPS[family].config}): ${family === 'xdp' ? 'XDP' : family} sockets cannot be listed here`;

export async function takeFamilySockets(requests: readonly FamilyRequest[], options: FamilyOptions = {}, session?: DiagSession): Promise<FamilySnapshot> {
  const sockets: FamilySocket[] = [];
  const notes: string[] = [];
  const select = options.select ?? (() => true);
  // packet, netlink and XDP sockets are all UNCONN (TCP_CLOSE): without that state there is nothing to dump (ss's
  // packet_show and netlink_show return at once too), so the default listing pays nothing for them
  const asked = (family: FamilyName) => {
    const rs = requests.filter((r) => r.family === family);
    const states = rs.reduce((m, r) => m | r.states, 0) & (family === 'vsock' ? ~0 : 1 << TCP_CLOSE);
    return { rs, states };
  };
  if (FAMILY_ORDER.every((f) => asked(f).states === 0)) return { sockets, notes };
  const s = session ?? (await DiagSession.open(options.netns));
  try {
    for (const family of FAMILY_ORDER) {
      const { rs, states } = asked(family);
      if (states === 0) continue;
      const required = rs.some((r) => r.required);
      const quiet = !required && rs.every((r) => r.quiet);
      const types = rs.some((r) => r.types === undefined) ? undefined : new Set(rs.flatMap((r) => r.types ?? []));
      const keep = (sock: FamilySocket) => (types === undefined || types.has(sock.type)) && ((states >>> sock.state) & 1) === 1 && select(sock);
      const dump = DUMPS[family];
      let malformed = 0;
      const outcome = s.dump(
        (seq) => dump.request(states, seq),
        SOCK_DIAG_BY_FAMILY,
        (view, _w, _b, off, len) => {
          const sock = dump.decode(view, off, len);
          if (!sock) malformed++;
          else if (keep(sock)) sockets.push(sock);
        },
      );
      if (outcome.errno === ENOENT) {
        const proc = FAMILY_PROC_FILES[family];
        const path = proc && `${options.procRoot ?? '/proc/thread-self'}/net/${proc.file}`;
        let text: string | undefined;
        try {
          text = path ? readFileSync(path, 'latin1') : undefined;
        } catch {
          text = undefined;
        }
        if (proc && text !== undefined) {
          const read = proc.parse(text);
          for (const sock of read.sockets) if (keep(sock)) sockets.push(sock);
          malformed += read.malformed;
          if (!quiet) notes.push(`${missingSupport(family).replace(/: .*$/, '')}: ${family} sockets read from /proc/net/${proc.file} (no details)`);
        } else if (required) {
          throw new NetlinkError(missingSupport(family), { errno: ENOENT, syscall: 'sock_diag', family, config: dump.config });
        } else if (!quiet) notes.push(missingSupport(family));
      } else if (outcome.errno !== 0) {
        throw new NetlinkError(`the kernel refused the ${dump.module} dump (${errnoName(outcome.errno)})`, {
          errno: outcome.errno,
          syscall: 'sock_diag',
          family,
        });
      }
      if (malformed) notes.push(`${malformed} ${family} sockets could not be decoded and were skipped`);
      if (outcome.problem) notes.push(`${family} dump: ${outcome.problem}`);
      if (outcome.interrupted) notes.push(`the ${family} socket table changed during the dump (NLM_F_DUMP_INTR): the list may mix two moments`);
    }
  } finally {
    if (!session) s.close();
  }
  return { sockets, notes };
}
