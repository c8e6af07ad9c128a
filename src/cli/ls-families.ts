/**
 * How `ls` lists the families beside inet and unix (packet, netlink, vsock, XDP) where ss 6.1 does without being
 * asked by name: in its default tables, and as the family a filter condition binds the listing to.
 */
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
 * (link-values.ts in src/filter). `given`: the options in command-line order (ParsedOptions.given).
 */
export function lastLinkFamily(given: readonly { name: string; value?: string }[]): 'packet' | 'netlink' | undefined {
  let last: 'packet' | 'netlink' | undefined;
  for (const { name, value } of given) {
    if (name === 'packet') last = 'packet';
    else if (name === 'family') last = value === 'link' ? 'packet' : value === 'netlink' ? 'netlink' : undefined;
    else if (['ipv4', 'ipv6', 'unix', 'vsock', 'xdp', 'tipc'].includes(name)) last = undefined;
  }
  return last;
}

/**
 * A condition read as a packet or netlink one binds the listing to that family alone (ss's parse_hostcond sets
 * the filter's families to it): no inet or unix dump, no other family; nothing at all when the family was not
 * among the tables listed (`ss -t 'src link:ip'` prints the header alone).
 */
export function bindFamily(
  plan: { snapshot: { protocols?: readonly string[] }; families: Omit<FamilyRequest, 'states'>[] },
  family: FamilyName | undefined,
): void {
  if (family === undefined) return;
  plan.snapshot.protocols = [];
  const kept = plan.families.filter((r) => r.family === family);
  // a request that keeps no socket type: the header is written, as ss writes it, and no line
  plan.families = kept.length > 0 ? kept : [{ family, required: false, quiet: true, types: [] }];
}
