/**
 * How `ls` lists the families beside inet and unix (packet, netlink, vsock, XDP) where ss 6.1 does without being
 * asked by name: in its default tables, and as the family a filter condition binds the listing to.
 */
import { readFileSync } from 'node:fs';
import { ALL_STATES, type ProtoName } from '../diag/constants.js';
import type { FamilyName } from '../diag/family-socket.js';
import type { FamilyRequest } from '../snapshot/families.js';
import type { Format, LsPlan } from './ls-plan.js';

type CompiledFilter = import('../filter/index.js').CompiledFilter;

/**
 * No table named (`ls -a`, `ls -l`): ss's "all" tables include netlink, packet, vsock and XDP; a kernel without
 * one of their diag modules is said nowhere, as ss says nothing.
 */
export const DEFAULT_FAMILIES: readonly Omit<FamilyRequest, 'states'>[] = (['netlink', 'packet', 'vsock', 'xdp'] as const).map((family) => ({
  family,
  required: false,
  quiet: true,
}));

/**
 * ss's preferred_family is set by the last of -4, -6, -0, -x, --vsock, --xdp, --tipc and -f (filter_af_set); when it
 * is AF_PACKET (-0, -f link) or AF_NETLINK (-f netlink), the filter reads every address and port as that family's
 * (link-values.ts in src/filter); when it is AF_UNIX (-x, -f unix), every address as a pattern of unix names. `given`: the options in command-line order (ParsedOptions.given).
 */
export function lastLinkFamily(given: readonly { name: string; value?: string }[]): 'packet' | 'netlink' | 'unix' | undefined {
  let last: 'packet' | 'netlink' | 'unix' | undefined;
  for (const { name, value } of given) {
    if (name === 'packet') last = 'packet';
    else if (name === 'unix') last = 'unix';
    else if (name === 'family') last = value === 'link' ? 'packet' : value === 'netlink' ? 'netlink' : value === 'unix' ? 'unix' : undefined;
    else if (['ipv4', 'ipv6', 'vsock', 'xdp', 'tipc'].includes(name)) last = undefined;
  }
  return last;
}

/**
 * A condition read as a unix, packet or netlink one binds the listing to that family alone (ss's parse_hostcond
 * sets the filter's families to it): no other dump; nothing at all when the family was not among the tables
 * listed (`ss -t 'src link:ip'` prints the header alone).
 */
export function bindFamily(
  plan: { snapshot: { protocols?: readonly ProtoName[] }; families: Omit<FamilyRequest, 'states'>[] },
  family: FamilyName | 'unix' | undefined,
): void {
  if (family === undefined) return;
  plan.snapshot.protocols = family === 'unix' ? (plan.snapshot.protocols ?? []).filter((p) => p === 'unix') : [];
  if (family === 'unix') {
    plan.families = [];
    return;
  }
  plan.families = plan.families.filter((r) => r.family === family);
}

/**
 * The packet, netlink, vsock and XDP sockets of a listing (none asked: undefined), taken before the inet and unix
 * dumps, and how to write them: the table's lines and the records, split where ss's order puts the inet and
 * unix sockets (netlink and packet before them, vsock and XDP after).
 */
export async function otherFamilies(
  plan: LsPlan,
  recordOptions: import('../outputs/listing/socket-record.js').RecordOptions,
  select: CompiledFilter['matchesFamily'] | undefined,
) {
  if (plan.families.length === 0) return undefined;
  const [{ takeFamilySockets }, { familyTableText }, { familyRecord }] = await Promise.all([
    import('../snapshot/families.js'),
    import('../outputs/listing/family-table.js'),
    import('../outputs/listing/family-record.js'),
  ]);
  const states = plan.snapshot.states ?? ALL_STATES;
  const { sockets, notes } = await takeFamilySockets(
    plan.families.map((r) => ({ ...r, states })),
    { netns: plan.snapshot.netns, select },
  );
  const part = (which: 'before' | 'after') => sockets.filter((s) => (s.family === 'netlink' || s.family === 'packet') === (which === 'before'));
  const options = {
    extended: plan.extended,
    memory: plan.memory,
    bpf: plan.bpf,
    names: plan.services,
    oneline: plan.oneline,
    processes: recordOptions.processes,
    securityContext: plan.securityContext,
    socketContext: plan.socketContext,
    interfaceName: recordOptions.interfaceName,
    processName: netlinkProcessName,
  };
  return {
    notes,
    // no line before the inet and unix ones: no header either (theirs is written with their widths)
    table: (which: 'before' | 'after' | 'header', layout: { header: boolean; netid: boolean; state: boolean }) =>
      which !== 'header' && part(which).length === 0
        ? ''
        : familyTableText(which === 'header' ? [] : part(which), { ...options, processes: recordOptions.processes }, layout),
    records: (which: 'before' | 'after') => part(which).map((s) => familyRecord(s, { ...options, processes: recordOptions.processes })),
    /** ndjson lines or json array elements; returns `first` for what follows */
    writeRecords(which: 'before' | 'after', format: Format, first: boolean, write: (text: string) => void): boolean {
      for (const s of part(which)) {
        const text = JSON.stringify(familyRecord(s, { ...options, processes: recordOptions.processes }));
        write(format === 'ndjson' ? `${text}\n` : `${first ? '' : ','}\n${text}`);
        first = false;
      }
      return first;
    },
  };
}

/** -r on a netlink port id: "comm/pid" as ss reads it from /proc/PID/stat (the name up to its first ')') */
function netlinkProcessName(pid: number): string | undefined {
  try {
    const m = /^\d+ \(([^)]*)/.exec(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    return m ? `${m[1]}/${pid}` : undefined;
  } catch {
    return undefined;
  }
}
