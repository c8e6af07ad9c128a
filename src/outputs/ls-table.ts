/**
 * `ls --format table`: aligned columns for people, ss's column set and state names, human units in the
 * details (-e -o -i -m -p), built from the same records as JSON so both always agree.
 */
import { formatColumns } from '../cli/text-table.js';
import type { SocketRecord } from './socket-record.js';

const SS_STATE: Record<string, string> = {
  established: 'ESTAB', syn_sent: 'SYN-SENT', syn_recv: 'SYN-RECV', fin_wait1: 'FIN-WAIT-1', fin_wait2: 'FIN-WAIT-2',
  time_wait: 'TIME-WAIT', close: 'UNCONN', close_wait: 'CLOSE-WAIT', last_ack: 'LAST-ACK', listen: 'LISTEN', closing: 'CLOSING',
  bound_inactive: 'UNDEF',
};
const UNIX_NETID: Record<string, string> = { stream: 'u_str', dgram: 'u_dgr', seqpacket: 'u_seq' };

export function netid(r: SocketRecord): string {
  return r.protocol === 'unix' ? UNIX_NETID[r.socket_type as string] ?? 'u_???' : String(r.protocol);
}

function endpoint(address: string, port: number | string, host?: unknown): string {
  const a = typeof host === 'string' ? host : address === '0.0.0.0' || address === '::' ? '*' : address;
  const shown = a.includes(':') && typeof host !== 'string' ? `[${a}]` : a;
  return `${shown}:${port === 0 ? '*' : port}`;
}

/** 1234567 → "1.2M" style, for rates and sizes */
export function human(n: number, unit: string): string {
  const steps: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
  for (const [k, p] of steps) if (n >= k) return `${(n / k).toFixed(n / k >= 100 ? 0 : 1)}${p}${unit}`;
  return `${n}${unit}`;
}

const ms = (us: number) => (us / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';

function details(r: SocketRecord): string {
  const out: string[] = [];
  if (r.timer) {
    const t = r.timer as { name: string; expires_ms: number; retransmits: number };
    if (t.name !== 'off') out.push(`timer:(${t.name},${(t.expires_ms / 1000).toFixed(t.expires_ms < 1000 ? 3 : 0)}sec,${t.retransmits})`);
  }
  if (r.uid !== undefined) out.push(`uid:${r.uid}`);
  if (r.inode !== undefined && r.protocol !== 'unix') out.push(`ino:${r.inode}`);
  if (r.cookie !== undefined) out.push(`sk:${r.cookie}`);
  if (r.cgroup_id !== undefined) out.push(`cgroup_id:${r.cgroup_id}`);
  if (r.v6only) out.push('v6only:1');
  if (r.vfs) {
    const v = r.vfs as { inode: number; device: string };
    out.push(`ino:${v.inode} dev:${v.device}`);
  }
  if (r.pending_connections) out.push(`pending:${(r.pending_connections as number[]).length}`);
  if (r.memory) {
    const m = r.memory as Record<string, number>;
    out.push(`skmem:(r${m.rmem_alloc},rb${m.rcvbuf},t${m.wmem_alloc},tb${m.sndbuf},f${m.fwd_alloc},w${m.wmem_queued},o${m.optmem},bl${m.backlog},d${m.drops})`);
  }
  if (r.congestion) out.push(String(r.congestion));
  const ti = r.tcp_info as Record<string, number | string[]> | undefined;
  if (ti) {
    const n = (k: string) => ti[k] as number | undefined;
    if (Array.isArray(ti.options)) out.push(...(ti.options as string[]).filter((o) => o !== 'wscale').map((o) => (o === 'timestamps' ? 'ts' : o)));
    if (n('snd_wscale') !== undefined) out.push(`wscale:${n('snd_wscale')},${n('rcv_wscale')}`);
    if (n('rto_us')) out.push(`rto:${ms(n('rto_us')!)}`);
    if (n('rtt_us')) out.push(`rtt:${ms(n('rtt_us')!)}/${ms(n('rttvar_us') ?? 0)}`);
    if (n('snd_mss')) out.push(`mss:${n('snd_mss')}`);
    if (n('snd_cwnd')) out.push(`cwnd:${n('snd_cwnd')}`);
    for (const k of ['bytes_sent', 'bytes_retrans', 'bytes_acked', 'bytes_received']) if (n(k)) out.push(`${k}:${human(n(k)!, 'B')}`);
    for (const k of ['segs_out', 'segs_in', 'data_segs_out', 'data_segs_in']) if (n(k)) out.push(`${k}:${n(k)}`);
    if (n('pacing_rate_bps')) out.push(`pacing_rate ${human(n('pacing_rate_bps')!, 'bps')}`);
    if (n('delivery_rate_bps')) out.push(`delivery_rate ${human(n('delivery_rate_bps')!, 'bps')}`);
    if (n('retrans') || n('total_retrans')) out.push(`retrans:${n('retrans') ?? 0}/${n('total_retrans') ?? 0}`);
    if (n('lost')) out.push(`lost:${n('lost')}`);
    if (n('unacked')) out.push(`unacked:${n('unacked')}`);
    if (n('min_rtt_us')) out.push(`minrtt:${ms(n('min_rtt_us')!)}`);
    if (n('notsent_bytes')) out.push(`notsent:${human(n('notsent_bytes')!, 'B')}`);
  }
  if (r.processes) {
    const ps = r.processes as { pid: number; comm: string; fd: number }[];
    if (ps.length) out.push(`users:(${ps.map((p) => `("${p.comm}",pid=${p.pid},fd=${p.fd})`).join(',')})`);
  }
  return out.join(' ');
}

/** Render records as ss-style aligned text. */
export function renderLsTable(records: readonly SocketRecord[], o: { header: boolean; netid: boolean }): string {
  const rows: string[][] = [];
  const extra: string[] = [];
  if (o.header) rows.push([...(o.netid ? ['Netid'] : []), 'State', 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port']);
  for (const r of records) {
    const unix = r.protocol === 'unix';
    const local = unix ? `${(r.path as string | null) ?? '*'} ${r.inode}` : endpoint(r.local_address as string, r.local_port as number, r.local_host);
    const peer = unix ? `* ${(r.peer_inode as number | null) ?? 0}` : endpoint(r.remote_address as string, r.remote_port as number, r.remote_host);
    rows.push([...(o.netid ? [netid(r)] : []), SS_STATE[r.state as string] ?? String(r.state), String(r.recv_q), String(r.send_q), local, peer]);
    extra.push(details(r));
  }
  const align = [...(o.netid ? ['l'] : []), 'l', 'r', 'r', 'l', 'l'] as ('l' | 'r')[];
  const lines = formatColumns(rows, align).split('\n');
  const out: string[] = [];
  const offset = o.header ? 1 : 0;
  if (o.header) out.push(lines[0]);
  for (let i = 0; i < records.length; i++) {
    out.push(lines[i + offset]);
    if (extra[i]) out.push(`\t ${extra[i]}`);
  }
  return out.join('\n') + (out.length ? '\n' : '');
}
