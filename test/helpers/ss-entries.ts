/** ss's (and ls's) listings of packet and netlink sockets as fields to compare, one entry per socket. */

/** A listing as entries of whitespace-separated fields: a socket's line and its tab-indented lines after it. */
export function entries(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').replace('PortProcess', 'Port Process').split(/\s+/).filter(Boolean);
  const rows: string[][] = [];
  for (const l of lines) {
    const fields = l.trim().split(/\s+/);
    if (l.startsWith('\t') && rows.length) rows[rows.length - 1].push(...fields);
    else rows.push(fields);
  }
  return { header, rows };
}
export const sorted = (rows: string[][]) => rows.map((r) => r.join(' ')).sort();

/** The listing process's own sock_diag socket differs (ss's or node's): protocol 4 rows other than the kernel's. */
export const notTheDumper = (r: string[]) => !r.some((f) => /^(4|tcpdiag):(?!0$|kernel$)/.test(f));
