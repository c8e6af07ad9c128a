/**
 * The sockets of the other families ss lists (packet, netlink, vsock, XDP): one dump per family over the same
 * NETLINK_SOCK_DIAG session, each message decoded into a FamilySocket (src/diag/family-socket.ts). A family whose
 * diag module the kernel lacks answers ENOENT: asked for by name, that is an error naming the kernel option;
 * asked for through a list (-A all), a note.
 */
import type { FamilyName, FamilySocket } from '../diag/family-socket.js';
import { decodeNetlinkMessage, NETLINK_SHOW_ALL, netlinkDumpRequest } from '../diag/netlink-diag.js';
import { decodePacketMessage, PACKET_SHOW_ALL, packetDumpRequest } from '../diag/packet.js';
import { SOCK_DIAG_BY_FAMILY } from '../diag/constants.js';
import { decodeVsockMessage, vsockDumpRequest } from '../diag/vsock.js';
import { decodeXdpMessage, XDP_SHOW_ALL, xdpDumpRequest } from '../diag/xdp.js';
import { NetlinkError } from '../errors.js';
import { ENOENT, errnoName } from '../sys/errno.js';
import { DiagSession } from './session.js';

export interface FamilyRequest {
  family: FamilyName;
  /** the socket types to keep (ss's tables: packet_raw is SOCK_RAW, vsock_dgram SOCK_DGRAM, ...); all when absent */
  types?: readonly number[];
  /** the TCP_* state bitmap to list (vsock has states; the others are all "close") */
  states: number;
  /** named by the user (-0, --vsock, --xdp, -f netlink, -A xdp): a kernel without the diag module is an error */
  required: boolean;
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

export async function takeFamilySockets(requests: readonly FamilyRequest[], options: { netns?: string } = {}, session?: DiagSession): Promise<FamilySnapshot> {
  const s = session ?? (await DiagSession.open(options.netns));
  const sockets: FamilySocket[] = [];
  const notes: string[] = [];
  try {
    for (const family of FAMILY_ORDER) {
      const asked = requests.filter((r) => r.family === family);
      if (asked.length === 0) continue;
      const states = asked.reduce((m, r) => m | r.states, 0);
      if (states === 0) continue;
      const types = asked.some((r) => r.types === undefined) ? undefined : new Set(asked.flatMap((r) => r.types ?? []));
      const dump = DUMPS[family];
      let malformed = 0;
      const outcome = s.dump(
        (seq) => dump.request(states, seq),
        SOCK_DIAG_BY_FAMILY,
        (view, _w, _b, off, len) => {
          const sock = dump.decode(view, off, len);
          if (!sock) malformed++;
          else if ((types === undefined || types.has(sock.type)) && ((states >>> sock.state) & 1) === 1) sockets.push(sock);
        },
      );
      if (outcome.errno === ENOENT) {
        if (asked.some((r) => r.required)) throw new NetlinkError(missingSupport(family), { errno: ENOENT, syscall: 'sock_diag', family, config: dump.config });
        notes.push(missingSupport(family));
      } else if (outcome.errno !== 0) {
        throw new NetlinkError(`the kernel refused the ${dump.module} dump (${errnoName(outcome.errno)})`, {
          errno: outcome.errno,
          syscall: 'sock_diag',
          family,
        });
      }
      if (malformed) notes.push(`${malformed} ${family} messages were too short to decode and were skipped`);
      if (outcome.problem) notes.push(`${family} dump: ${outcome.problem}`);
      if (outcome.interrupted) notes.push(`the ${family} socket table changed during the dump (NLM_F_DUMP_INTR): the list may mix two moments`);
    }
  } finally {
    if (!session) s.close();
  }
  return { sockets, notes };
}
