/**
 * How `ls` lists the families beside inet and unix (packet, netlink, vsock, XDP) where ss 6.1 does without being
 * asked by name: in its default tables, and as the family a filter condition binds the listing to.
 */
import type { ProtoName } from '../diag/constants.js';
import type { FamilyName } from '../diag/family-socket.js';
import type { FamilyRequest } from '../snapshot/families.js';

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
