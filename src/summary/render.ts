/** The summary as text a person reads at a glance. */
import { formatColumns, thousands } from '../outputs/text-table.js';
import { STATE_KEYS, SS_STATE_NAMES, TCP_STATE_NUMBERS } from '../diag/constants.js';
import type { Summary, TcpStateCounts } from './summary.js';

const MAX_LISTENERS = 15;

export function renderSummary(s: Summary, version: string): string {
  const out: string[] = [];
  out.push(`sockscope ${version}: ${thousands(s.total)} sockets, read in ${s.duration_ms.toFixed(1)} ms at ${s.taken_at}\n`);

  const sockRows: string[][] = [['Sockets', 'total', 'IPv4', 'IPv6']];
  for (const [proto, c] of Object.entries(s.sockets)) {
    sockRows.push([proto, thousands(c.total), proto === 'unix' ? '' : thousands(c.ipv4 ?? 0), proto === 'unix' ? '' : thousands(c.ipv6 ?? 0)]);
  }
  out.push(formatColumns(sockRows, ['l', 'r', 'r', 'r']));
  const u = s.sockets.unix;
  if (u) out.push(`unix by type: stream ${thousands(u.stream ?? 0)}, dgram ${thousands(u.dgram ?? 0)}, seqpacket ${thousands(u.seqpacket ?? 0)}\n`);

  const stateRows: string[][] = [['TCP state', 'total', 'IPv4', 'IPv6']];
  for (const n of TCP_STATE_NUMBERS) {
    const key = STATE_KEYS[n] as keyof TcpStateCounts;
    stateRows.push([SS_STATE_NAMES[n], thousands(s.tcp.states[key]), thousands(s.tcp.ipv4[key]), thousands(s.tcp.ipv6[key])]);
  }
  out.push(formatColumns(stateRows, ['l', 'r', 'r', 'r']));
  out.push(`UDP: ${thousands(s.udp.unconnected)} unconnected, ${thousands(s.udp.connected)} connected\n`);

  if (s.listeners.length > 0) {
    const rows: string[][] = [['Listening (TCP)', 'accept queue', 'backlog', 'used']];
    for (const l of s.listeners.slice(0, MAX_LISTENERS)) {
      const addr = l.family === 'ipv6' ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
      rows.push([
        addr,
        thousands(l.accept_queue),
        l.backlog === null ? '-' : thousands(l.backlog),
        l.backlog_used_pct === null ? '-' : `${l.backlog_used_pct.toFixed(1)}%`,
      ]);
    }
    out.push(formatColumns(rows, ['l', 'r', 'r', 'r']));
    if (s.listeners.length > MAX_LISTENERS) out.push(`  ... and ${s.listeners.length - MAX_LISTENERS} more (sockscope --json lists all)\n`);
  }

  if (s.top_local_ports.length > 0 || s.top_remote_peers.length > 0) {
    const rows: string[][] = [['Top local ports', 'conns', '  Top remote peers', 'conns']];
    const k = Math.max(s.top_local_ports.length, s.top_remote_peers.length);
    for (let i = 0; i < k; i++) {
      const p = s.top_local_ports[i];
      const q = s.top_remote_peers[i];
      rows.push([p ? String(p.port) : '', p ? thousands(p.connections) : '', q ? `  ${q.address}` : '', q ? thousands(q.connections) : '']);
    }
    out.push(formatColumns(rows, ['l', 'r', 'l', 'r']));
  }

  const src = s.sources.map((x) => {
    const where = x.source === 'proc' ? '/proc/net' : x.source;
    return x.note ? `  ${x.protocol}: ${where} (${x.note})` : `  ${x.protocol}: ${where}`;
  });
  out.push(`Sources:\n${src.join('\n')}\n`);
  for (const note of s.notes) out.push(`Note: ${note}\n`);
  return out.join('\n');
}
