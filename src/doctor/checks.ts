/**
 * What each check measures over a window (two samples and the holders of the second one's sockets): pure
 * functions into observations, one number per subject. Grading them against the thresholds, and the words,
 * come from the one table in definitions.ts (doctor.ts).
 */
import { formatAddress } from '../diag/address.js';
import { Proto, TCP_CLOSE_WAIT, TCP_LISTEN, TCP_SYN_RECV, TCP_SYN_SENT, TCP_TIME_WAIT } from '../diag/constants.js';
import type { CheckId, Subject } from './definitions.js';
import { ABSENT } from './sample.js';
import {
  byProcess,
  counterRate,
  DATA_STATES,
  type Evaluate,
  groupByEndpoints,
  groupRows,
  holderOf,
  listenerIndex,
  local,
  type Observation,
  peerAddr,
  perMinute,
  processOfGroup,
  processText,
  remote,
  round,
  TIMER_PROBE0,
  unread,
  v4,
} from './window.js';

export type { DoctorWindow, Observation } from './window.js';

export const EVALUATE: Record<CheckId, Evaluate> = {
  close_wait(w) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && a.state[i] === TCP_CLOSE_WAIT);
    const out: Observation[] = [];
    for (const rows of byProcess(w, (i) => b.proto[i] === Proto.tcp && b.state[i] === TCP_CLOSE_WAIT).values()) {
      const process = processOfGroup(w, rows);
      const fresh = rows.filter((i) => !before.has(b.cookie[i])).length;
      const unreadBytes = rows.reduce((n, i) => n + unread(b, i), 0);
      const peers = [...new Set(rows.slice(0, 5).map((i) => remote(b, i)))];
      out.push({
        measure: 'sockets',
        subject: { process, netns: w.netns },
        value: rows.length,
        facts: { close_wait_sockets: rows.length, new_in_window: fresh, unread_bytes: unreadBytes, example_peers: peers, growing: fresh > 0 },
        text:
          `${processText(process)} holds ${rows.length} CLOSE_WAIT socket${rows.length === 1 ? '' : 's'}` +
          (fresh > 0 ? `, ${fresh} new in the window: still leaking` : ', none new in the window'),
      });
    }
    return out;
  },

  accept_queue(w) {
    const { a, b } = w;
    const out: Observation[] = [];
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && a.state[i] === TCP_LISTEN);
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== Proto.tcp || b.state[i] !== TCP_LISTEN) continue;
      const listener = local(b, i);
      const queued = b.rqueue[i];
      const backlog = b.wqueue[i];
      const fill = backlog > 0 ? (queued / backlog) * 100 : queued > 0 ? 100 : 0;
      let process: Subject['process'];
      const proc = () => (process ??= holderOf(w, b.inode[i]));
      if (queued > 0) {
        out.push({
          measure: 'fill',
          subject: { listener, process: proc(), netns: w.netns },
          value: round(fill),
          facts: { accept_queue: queued, backlog },
          text: `${listener} (${processText(proc())}) has ${queued} connections waiting for accept() with a backlog of ${backlog}`,
        });
      }
      const j = before.get(b.cookie[i]);
      if (j !== undefined && a.drops[j] !== ABSENT && b.drops[i] !== ABSENT) {
        const delta = Math.max(0, b.drops[i] - a.drops[j]);
        if (delta > 0) {
          const rate = perMinute(delta, w.elapsedMs);
          out.push({
            measure: 'drops',
            subject: { listener, process: proc(), netns: w.netns },
            value: round(rate),
            facts: { drops_in_window: delta, drops_total: b.drops[i], window_ms: Math.round(w.elapsedMs), accept_queue: queued, backlog },
            text: `${listener} (${processText(proc())}) dropped ${delta} connection attempts in ${(w.elapsedMs / 1000).toFixed(1)} s (${round(rate)}/min); accept queue ${queued}/${backlog}`,
          });
        }
      }
    }
    out.push(...counterRate(w, 'overflows', 'listenOverflows', 'TcpExt ListenOverflows'));
    out.push(...counterRate(w, 'listen_drops', 'listenDrops', 'TcpExt ListenDrops'));
    return out;
  },

  syn_queue(w) {
    const { b } = w;
    const out: Observation[] = [];
    const listenerOf = listenerIndex(b);
    const half = new Map<number, number>();
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== Proto.tcp || b.state[i] !== TCP_SYN_RECV) continue;
      const l = listenerOf(i);
      half.set(l, (half.get(l) ?? 0) + 1);
    }
    for (const [l, n] of half) {
      if (l < 0) continue;
      const backlog = b.wqueue[l];
      const listener = local(b, l);
      const process = holderOf(w, b.inode[l]);
      out.push({
        measure: 'syn_recv',
        subject: { listener, process, netns: w.netns },
        value: round(backlog > 0 ? (n / backlog) * 100 : 100),
        facts: { syn_recv: n, backlog, tcp_max_syn_backlog: b.host.sysctl.tcpMaxSynBacklog, tcp_syncookies: b.host.sysctl.tcpSyncookies },
        text: `${listener} (${processText(process)}) has ${n} half-open (SYN_RECV) connections against a backlog of ${backlog}`,
      });
    }
    out.push(...counterRate(w, 'req_qfull_drops', 'reqQFullDrop', 'TcpExt TCPReqQFullDrop'));
    out.push(...counterRate(w, 'syncookies', 'syncookiesSent', 'TcpExt SyncookiesSent'));
    return out;
  },

  ephemeral_ports(w) {
    const { b } = w;
    const range = b.host.sysctl.localPortRange;
    if (!range || range.high < range.low) return [];
    const size = range.high - range.low + 1;
    const listening = new Set<number>();
    for (let i = 0; i < b.length; i++) if (b.proto[i] === Proto.tcp && b.state[i] === TCP_LISTEN) listening.add(b.sport[i]);
    const pick = (i: number) =>
      b.proto[i] === Proto.tcp &&
      b.state[i] !== TCP_LISTEN &&
      b.state[i] !== TCP_SYN_RECV &&
      b.sport[i] >= range.low &&
      b.sport[i] <= range.high &&
      !listening.has(b.sport[i]) &&
      b.dport[i] !== 0;
    const out: Observation[] = [];
    for (const rows of groupByEndpoints(b, pick)) {
      const usage = (rows.length / size) * 100;
      if (usage < 1) break; // sorted by size: the rest are smaller
      const source = formatAddress(b.family[rows[0]], b.src, rows[0] * 16);
      const destination = remote(b, rows[0]);
      const timeWait = rows.filter((i) => b.state[i] === TCP_TIME_WAIT).length;
      const tw = b.host.sysctl.tcpTwReuse;
      const advice = [
        timeWait > 0 && tw !== 1 ? `${timeWait} of them are in TIME_WAIT and net.ipv4.tcp_tw_reuse is ${tw ?? 'unknown'}: set it to 1.` : '',
        `The range is ${range.low}-${range.high} (${size} ports).`,
      ]
        .filter(Boolean)
        .join(' ');
      out.push({
        measure: 'usage',
        subject: { source, destination, netns: w.netns },
        value: round(usage),
        facts: { connections: rows.length, time_wait: timeWait, port_range: `${range.low}-${range.high}`, port_range_size: size, tcp_tw_reuse: tw },
        text: `${rows.length} connections from ${source} to ${destination} use ${round(usage)}% of the ${size} ephemeral ports`,
        advice,
      });
    }
    return out;
  },

  time_wait(w) {
    const { b } = w;
    const tw = b.host.tcpTimeWait;
    const max = b.host.sysctl.tcpMaxTwBuckets;
    if (tw === undefined || !max) return [];
    return [
      {
        measure: 'usage',
        subject: { netns: w.netns },
        value: round((tw / max) * 100),
        facts: { time_wait: tw, tcp_max_tw_buckets: max },
        text: `${tw} TIME_WAIT sockets against net.ipv4.tcp_max_tw_buckets = ${max}`,
      },
    ];
  },

  orphans(w) {
    const { b } = w;
    const n = b.host.tcpOrphans;
    const max = b.host.sysctl.tcpMaxOrphans;
    if (n === undefined || !max) return [];
    return [
      {
        measure: 'usage',
        subject: { netns: w.netns },
        value: round((n / max) * 100, 2),
        facts: { orphans: n, tcp_max_orphans: max, scope: 'host' },
        text: `${n} orphaned TCP sockets against net.ipv4.tcp_max_orphans = ${max}`,
      },
    ];
  },

  tcp_memory(w) {
    const { b } = w;
    const mem = b.host.tcpMemPages;
    const limits = b.host.sysctl.tcpMem;
    if (mem === undefined || !limits) return [];
    const [min, pressure, high] = limits;
    const facts = { pages: mem, tcp_mem_min: min, tcp_mem_pressure: pressure, tcp_mem_high: high, scope: 'host' };
    const text = `TCP uses ${mem} pages; net.ipv4.tcp_mem = ${min} ${pressure} ${high}`;
    return [
      { measure: 'pressure', subject: { netns: w.netns }, value: round((mem / Math.max(1, pressure)) * 100), facts, text },
      { measure: 'high', subject: { netns: w.netns }, value: round((mem / Math.max(1, high)) * 100), facts, text },
    ];
  },

  retransmits(w, t) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && a.segsOut[i] !== ABSENT);
    // per peer address: a number for IPv4, text for IPv6 (no string per connection); `row` names the peer
    const sums = new Map<number | string, { segs: number; retrans: number; sockets: number; row: number }>();
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== Proto.tcp || b.segsOut[i] === ABSENT || b.totalRetrans[i] === ABSENT) continue;
      const st = b.state[i];
      if (st === TCP_LISTEN || st === TCP_SYN_RECV || st === TCP_TIME_WAIT) continue;
      const j = before.get(b.cookie[i]);
      const segs = j === undefined ? b.segsOut[i] : b.segsOut[i] - a.segsOut[j];
      const retrans = j === undefined ? b.totalRetrans[i] : b.totalRetrans[i] - (a.totalRetrans[j] === ABSENT ? 0 : a.totalRetrans[j]);
      if (segs <= 0) continue;
      const addr = v4(b, b.dst, i);
      const key = addr >= 0 ? addr : peerAddr(b, i);
      let s = sums.get(key);
      if (!s) sums.set(key, (s = { segs: 0, retrans: 0, sockets: 0, row: i }));
      s.segs += segs;
      s.retrans += Math.max(0, retrans);
      s.sockets++;
    }
    const out: Observation[] = [];
    const min = t.min_segments ?? 200;
    for (const s of sums.values()) {
      if (s.segs < min || s.retrans === 0) continue;
      const peer = peerAddr(b, s.row);
      const ratio = (s.retrans / s.segs) * 100;
      out.push({
        measure: 'ratio',
        subject: { peer, netns: w.netns },
        value: round(ratio, 2),
        facts: { segments_sent: s.segs, segments_retransmitted: s.retrans, connections: s.sockets, min_segments: min, window_ms: Math.round(w.elapsedMs) },
        text: `${s.retrans} of ${s.segs} segments sent to ${peer} over ${(w.elapsedMs / 1000).toFixed(1)} s were retransmissions (${round(ratio, 2)}%)`,
      });
    }
    return out;
  },

  stuck_receive_queue(w) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && unread(a, i) > 0 && a.bytesReceived[i] !== ABSENT);
    const stuck = (i: number) => {
      if (b.proto[i] !== Proto.tcp || unread(b, i) === 0 || b.bytesReceived[i] === ABSENT) return false;
      const st = b.state[i];
      if (st === TCP_LISTEN || st === TCP_SYN_RECV || st === TCP_SYN_SENT) return false;
      const j = before.get(b.cookie[i]);
      // bytes the application has read = bytes received - still queued: unchanged over the window
      return j !== undefined && b.bytesReceived[i] - b.rqueue[i] === a.bytesReceived[j] - a.rqueue[j];
    };
    const out: Observation[] = [];
    for (const rows of byProcess(w, stuck).values()) {
      const process = processOfGroup(w, rows);
      const unreadBytes = rows.reduce((n, i) => n + unread(b, i), 0);
      out.push({
        measure: 'sockets',
        subject: { process, netns: w.netns },
        value: rows.length,
        facts: {
          sockets: rows.length,
          unread_bytes: unreadBytes,
          window_ms: Math.round(w.elapsedMs),
          examples: rows.slice(0, 5).map((i) => `${local(b, i)} <- ${remote(b, i)}`),
        },
        text: `${processText(process)} read nothing in ${(w.elapsedMs / 1000).toFixed(1)} s from ${rows.length} connection${rows.length === 1 ? '' : 's'} holding ${unreadBytes} unread bytes`,
      });
    }
    return out;
  },

  zero_window(w) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && a.wqueue[i] > 0 && a.bytesAcked[i] !== ABSENT);
    const stuck = (i: number) => {
      // data states only: a SYN_SENT socket's SYN is a byte in its send queue, and its window is 0 until the SYN-ACK
      if (b.proto[i] !== Proto.tcp || b.wqueue[i] === 0 || b.bytesAcked[i] === ABSENT || !DATA_STATES.has(b.state[i])) return false;
      const zero = b.sndWnd[i] === 0 || (b.sndWnd[i] === ABSENT && b.timer[i] === TIMER_PROBE0);
      const j = before.get(b.cookie[i]);
      return zero && j !== undefined && b.bytesAcked[i] === a.bytesAcked[j];
    };
    const groups = groupRows(b, stuck, (i) => `${remote(b, i)}\u0000${holderOf(w, b.inode[i])?.pid ?? -1}`);
    const out: Observation[] = [];
    for (const rows of groups.values()) {
      const process = processOfGroup(w, rows);
      const peer = remote(b, rows[0]);
      const queued = rows.reduce((n, i) => n + b.wqueue[i], 0);
      out.push({
        measure: 'sockets',
        subject: { peer, process, netns: w.netns },
        value: rows.length,
        facts: { sockets: rows.length, unsent_bytes: queued, window_ms: Math.round(w.elapsedMs) },
        text: `${peer} advertises a zero window to ${rows.length} connection${rows.length === 1 ? '' : 's'} of ${processText(process)} holding ${queued} unsent bytes; nothing acknowledged in ${(w.elapsedMs / 1000).toFixed(1)} s`,
      });
    }
    return out;
  },

  syn_sent(w) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.tcp && a.state[i] === TCP_SYN_SENT);
    const now = groupRows(
      b,
      (i) => b.proto[i] === Proto.tcp && b.state[i] === TCP_SYN_SENT,
      (i) => remote(b, i),
    );
    const out: Observation[] = [];
    for (const [destination, attempts] of now) {
      const rows = attempts.filter((i) => before.has(b.cookie[i]));
      if (rows.length === 0) continue;
      const all = attempts.length;
      out.push({
        measure: 'sockets',
        subject: { destination: String(destination), netns: w.netns },
        value: rows.length,
        facts: { syn_sent_whole_window: rows.length, syn_sent_now: all, window_ms: Math.round(w.elapsedMs) },
        text: `${rows.length} connection attempt${rows.length === 1 ? '' : 's'} to ${destination} got no answer in ${(w.elapsedMs / 1000).toFixed(1)} s (${all} in SYN_SENT now)`,
      });
    }
    return out;
  },

  udp_drops(w) {
    const { a, b } = w;
    const before = a.cookieIndex((i) => a.proto[i] === Proto.udp && a.drops[i] !== ABSENT);
    const out: Observation[] = [];
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== Proto.udp || b.drops[i] === ABSENT) continue;
      const j = before.get(b.cookie[i]);
      if (j === undefined) continue;
      const delta = b.drops[i] - a.drops[j];
      if (delta <= 0) continue;
      const rate = perMinute(delta, w.elapsedMs);
      const process = holderOf(w, b.inode[i]);
      const at = local(b, i);
      out.push({
        measure: 'drops',
        subject: { local: at, process, netns: w.netns },
        value: round(rate),
        facts: { drops_in_window: delta, drops_total: b.drops[i], receive_queue_bytes: b.rqueue[i], window_ms: Math.round(w.elapsedMs) },
        text: `${at} (${processText(process)}) dropped ${delta} datagrams in ${(w.elapsedMs / 1000).toFixed(1)} s (${round(rate)}/min); ${b.rqueue[i]} bytes queued`,
      });
    }
    out.push(...counterRate(w, 'rcvbuf_errors', 'udpRcvbufErrors', 'Udp RcvbufErrors'));
    return out;
  },
};
