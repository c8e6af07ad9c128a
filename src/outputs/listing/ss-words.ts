/**
 * The words ss 6.1 prints after a socket's addresses, as it prints them: the timer (`timer:(keepalive,1min,0)`),
 * -e's `uid:` (when not 0) `ino:` `sk:` `fwmark:` `cgroup:/path` `v6only:` and the shutdown marker `<->`, unix's
 * `ino: dev:` and `peers:`, -m's `skmem:(...)`, and -i's tcp_info words in ss's order, names and raw units
 * (`bytes_acked:5001`, `send 163840000000bps`, `lastsnd:2272`, `pacing_rate 468230400000bps`). Numbers with
 * `%g` as C prints them. test/integration/ls-vs-ss.test.ts compares these with ss in a namespace.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { TCPI_OPTIONS } from './socket-members.js';

const OPT = Object.fromEntries(TCPI_OPTIONS.map(([bit, n]) => [n, bit])) as Record<string, number>;

/** C's printf("%g", x): 6 significant digits, trailing zeros dropped, exponent below 1e-4 and from 1e6. */
export function fmtG(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return x === 0 ? '0' : String(x);
  const p = Number(x.toPrecision(6));
  const a = Math.abs(p);
  if (a >= 1e-4 && a < 1e6) return String(p);
  const [m, e] = p.toExponential(5).split('e');
  const mant = m.includes('.') ? m.replace(/\.?0+$/, '') : m;
  const n = Number(e);
  return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}

/** ss's sprint_bw: the number with -n (ls's default), K/M/G/T with one decimal otherwise. */
export function ssBandwidth(bps: number, numeric: boolean): string {
  if (numeric) return bps.toFixed(0);
  if (bps >= 1e12) return `${(bps / 1e12).toFixed(1)}T`;
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(1)}G`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)}M`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)}K`;
  return fmtG(bps);
}

/** ss's print_ms_timer: `1min`, `12sec`, `1.234ms` style (an expired timer prints as nothing). */
export function ssTimerText(ms: number): string {
  let secs = Math.trunc(ms / 1000);
  const minutes = Math.trunc(secs / 60);
  secs %= 60;
  let msecs = ms % 1000;
  let out = '';
  if (minutes) {
    msecs = 0;
    out += `${minutes}min`;
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    out += `${secs}${msecs ? '.' : 'sec'}`;
  }
  if (msecs) out += `${String(msecs).padStart(3, '0')}ms`;
  return out;
}

const u8 = (v: DataView, off: number, len: number, at: number) => (at < len ? v.getUint8(off + at) : 0);
const u16 = (v: DataView, off: number, len: number, at: number) => (at + 2 <= len ? v.getUint16(off + at, true) : 0);
const u32 = (v: DataView, off: number, len: number, at: number) => (at + 4 <= len ? v.getUint32(off + at, true) : 0);
const u64 = (v: DataView, off: number, len: number, at: number) =>
  at + 8 <= len ? v.getUint32(off + at + 4, true) * 0x100000000 + v.getUint32(off + at, true) : 0;

export interface TcpInfoAttrs {
  info: [number, number];
  cong?: string;
  bbr?: [number, number];
  dctcp?: [number, number];
  vegas?: [number, number];
  listen: boolean;
  /** -o or -e: ss prints the negotiated options (ts sack ecn ecnseen fastopen) only then */
  options: boolean;
  numeric: boolean;
}

/** ss 6.1's tcp_stats_print: the words, each with its leading space. */
export function ssTcpInfoWords(view: DataView, a: TcpInfoAttrs): string {
  const [off, len] = a.info;
  const U8 = (at: number) => u8(view, off, len, at);
  const U32 = (at: number) => u32(view, off, len, at);
  const U64 = (at: number) => u64(view, off, len, at);
  let s = '';
  const options = U8(5);
  if (a.options) {
    if (options & OPT.timestamps) s += ' ts';
    if (options & OPT.sack) s += ' sack';
    if (options & OPT.ecn) s += ' ecn';
    if (options & OPT.ecn_seen) s += ' ecnseen';
    if (options & OPT.syn_data) s += ' fastopen';
  }
  if (a.cong) s += ` ${a.cong}`;
  if (options & OPT.wscale) s += ` wscale:${U8(6) & 0xf},${U8(6) >> 4}`;
  const rto = U32(8);
  if (rto && rto !== 3000000) s += ` rto:${fmtG(rto / 1000)}`;
  const backoff = U8(4);
  if (backoff) s += ` backoff:${backoff}`;
  const rttUs = U32(68);
  if (rttUs) s += ` rtt:${fmtG(rttUs / 1000)}/${fmtG(U32(72) / 1000)}`;
  const ato = U32(12);
  if (ato) s += ` ato:${fmtG(ato / 1000)}`;
  const mss = U32(16);
  const cwnd = U32(80);
  const ssthresh = U32(76);
  const pairs: [string, number][] = [
    ['mss', mss],
    ['pmtu', U32(60)],
    ['rcvmss', U32(20)],
    ['advmss', U32(84)],
    ['cwnd', cwnd],
    ['ssthresh', ssthresh < 0xffff ? ssthresh : 0],
    ['bytes_sent', U64(200)],
    ['bytes_retrans', U64(208)],
    ['bytes_acked', U64(120)],
    ['bytes_received', U64(128)],
    ['segs_out', U32(136)],
    ['segs_in', U32(140)],
    ['data_segs_out', U32(156)],
    ['data_segs_in', U32(152)],
  ];
  for (const [k, v] of pairs) if (v) s += ` ${k}:${v}`;
  if (a.dctcp) {
    const [o, l] = a.dctcp;
    s += u16(view, o, l, 0)
      ? ` dctcp:(ce_state:${u16(view, o, l, 2)},alpha:${u32(view, o, l, 4)},ab_ecn:${u32(view, o, l, 8)},ab_tot:${u32(view, o, l, 12)})`
      : ' dctcp:fallback_mode';
  }
  if (a.bbr) {
    const [o, l] = a.bbr;
    s += ` bbr:(bw:${ssBandwidth(u64(view, o, l, 0) * 8, a.numeric)}bps,mrtt:${fmtG(u32(view, o, l, 8) / 1000)}`;
    const pg = u32(view, o, l, 12);
    const cg = u32(view, o, l, 16);
    if (pg) s += `,pacing_gain:${fmtG(pg / 256)}`;
    if (cg) s += `,cwnd_gain:${fmtG(cg / 256)}`;
    s += ')';
  }
  let rtt = rttUs;
  if (a.vegas) {
    const [o, l] = a.vegas;
    const vr = u32(view, o, l, 8);
    if (u32(view, o, l, 0) && vr && vr !== 0x7fffffff) rtt = vr;
  }
  if (rtt > 0 && mss && cwnd) s += ` send ${ssBandwidth((cwnd * mss * 8000000) / rtt, a.numeric)}bps`;
  const last: [string, number][] = [
    ['lastsnd', U32(44)],
    ['lastrcv', U32(52)],
    ['lastack', U32(56)],
  ];
  for (const [k, v] of last) if (v) s += ` ${k}:${v}`;
  const pacing = len >= 112 ? U64(104) : 0;
  if (pacing && pacing !== 2 ** 64 - 1 && U32(108) !== 0xffffffff) {
    s += ` pacing_rate ${ssBandwidth(pacing * 8, a.numeric)}bps`;
    const max = U64(112);
    if (max && U32(116) !== 0xffffffff) s += `/${ssBandwidth(max * 8, a.numeric)}bps`;
  }
  const delivery = U64(160);
  if (delivery) s += ` delivery_rate ${ssBandwidth(delivery * 8, a.numeric)}bps`;
  const delivered = U32(192);
  if (delivered) s += ` delivered:${delivered}`;
  const deliveredCe = U32(196);
  if (deliveredCe) s += ` delivered_ce:${deliveredCe}`;
  if (U8(7) & 1) s += ' app_limited';
  const busy = U64(168);
  if (busy) {
    s += ` busy:${Math.trunc(busy / 1000)}ms`;
    const rwnd = U64(176);
    const sndbuf = U64(184);
    if (rwnd) s += ` rwnd_limited:${Math.trunc(rwnd / 1000)}ms(${((100 * rwnd) / busy).toFixed(1)}%)`;
    if (sndbuf) s += ` sndbuf_limited:${Math.trunc(sndbuf / 1000)}ms(${((100 * sndbuf) / busy).toFixed(1)}%)`;
  }
  const unacked = U32(24);
  if (unacked) s += ` unacked:${unacked}`;
  const r = U32(36);
  const total = U32(100);
  if (r || total) s += ` retrans:${r}/${total}`;
  const lost = U32(32);
  if (lost) s += ` lost:${lost}`;
  const sacked = U32(28);
  if (sacked && !a.listen) s += ` sacked:${sacked}`;
  const dsack = U32(216);
  if (dsack) s += ` dsack_dups:${dsack}`;
  const fackets = U32(40);
  if (fackets) s += ` fackets:${fackets}`;
  const reordering = U32(88);
  if (reordering !== 3) s += ` reordering:${reordering}`;
  const reordSeen = U32(220);
  if (reordSeen) s += ` reord_seen:${reordSeen}`;
  const rcvRtt = U32(92);
  if (rcvRtt) s += ` rcv_rtt:${fmtG(rcvRtt / 1000)}`;
  const tail: [string, number][] = [
    ['rcv_space', U32(96)],
    ['rcv_ssthresh', U32(64)],
    ['notsent', U32(144)],
  ];
  for (const [k, v] of tail) if (v) s += ` ${k}:${v}`;
  const minRtt = U32(148);
  if (minRtt && minRtt !== 0xffffffff) s += ` minrtt:${fmtG(minRtt / 1000)}`;
  const ooo = U32(224);
  if (ooo) s += ` rcv_ooopack:${ooo}`;
  const sndWnd = U32(228);
  if (sndWnd) s += ` snd_wnd:${sndWnd}`;
  return s;
}

/** glibc's major()/minor() over the kernel's dev_t encoding, as ss prints unix `dev:` (254:0 prints 0/65024). */
export function ssDev(kernelDev: number): string {
  const major = (kernelDev >>> 8) & 0xfff;
  const minor = (kernelDev & 0xff) | ((kernelDev >>> 12) & 0xfff00);
  return `${major}/${minor}`;
}

let cgroupPaths: Map<number, string> | null | undefined;

/** The cgroup v2 mount point, from /proc/self/mountinfo. */
function cgroup2Mount(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (post?.startsWith('cgroup2 ')) return pre.split(' ')[4];
    }
  } catch {
    /* no /proc */
  }
  return undefined;
}

/** ss's cg_id_to_path: the cgroup's path below the cgroup2 mount (`/`, `/system.slice/x.service`), or `unreachable:<hex id>`. */
export function cgroupPath(id: number): string {
  if (cgroupPaths === undefined) {
    const root = cgroup2Mount();
    cgroupPaths = root ? new Map() : null;
    if (root && cgroupPaths) {
      const walk = (dir: string, rel: string) => {
        try {
          cgroupPaths!.set(lstatSync(dir).ino, rel || '/');
          for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(`${dir}/${e.name}`, `${rel}/${e.name}`);
        } catch {
          /* a cgroup removed during the walk */
        }
      };
      walk(root, '');
    }
  }
  return cgroupPaths?.get(id) ?? `unreachable:${id.toString(16)}`;
}

let services: Map<string, string> | undefined;

/** -r: a port's name in /etc/services for the protocol (`http`), or the number. */
export function serviceName(port: number, proto: string): string {
  if (!services) {
    services = new Map();
    try {
      for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
        const m = /^([^#\s]+)\s+(\d+)\/(\w+)/.exec(line);
        if (m && !services.has(`${m[2]}/${m[3]}`)) services.set(`${m[2]}/${m[3]}`, m[1]);
      }
    } catch {
      /* numbers */
    }
  }
  return services.get(`${port}/${proto}`) ?? String(port);
}

const contexts = new Map<number, string>();

/** ss -Z's proc_ctx: /proc/PID/attr/current (SELinux, AppArmor), or `unavailable` as ss prints without one. */
export function processContext(pid: number): string {
  let c = contexts.get(pid);
  if (c === undefined) {
    try {
      c = readFileSync(`/proc/${pid}/attr/current`, 'utf8').replace(/\0/g, '').trim() || 'unavailable';
    } catch {
      c = 'unavailable';
    }
    contexts.set(pid, c);
  }
  return c;
}

/** `KEY: name value name value` lines of /proc/net/sockstat-style files */
function procCounters(path: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [key, rest] = line.split(': ');
    if (!rest) continue;
    const words = rest.trim().split(/\s+/);
    const m = new Map<string, number>();
    for (let k = 0; k + 1 < words.length; k += 2) m.set(words[k], Number(words[k + 1]));
    out.set(key, m);
  }
  return out;
}

/** Tcp CurrEstab of /proc/net/snmp */
function currEstab(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'));
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf('CurrEstab')]) || 0;
  } catch {
    return 0;
  }
}

/** ss -s, from the same kernel counters ss reads, in ss 6.1's layout. */
export function ssSummary(): string {
  const v4 = procCounters('/proc/net/sockstat');
  const v6 = procCounters('/proc/net/sockstat6');
  const get = (m: Map<string, Map<string, number>>, k: string, f: string) => m.get(k)?.get(f) ?? 0;
  const tcp4 = get(v4, 'TCP', 'inuse');
  const tcp6 = get(v6, 'TCP6', 'inuse');
  const tw = get(v4, 'TCP', 'tw');
  const total = get(v4, 'TCP', 'alloc');
  const udp4 = get(v4, 'UDP', 'inuse');
  const udp6 = get(v6, 'UDP6', 'inuse');
  const raw4 = get(v4, 'RAW', 'inuse');
  const raw6 = get(v6, 'RAW6', 'inuse');
  const frag4 = get(v4, 'FRAG', 'inuse');
  const frag6 = get(v6, 'FRAG6', 'inuse');
  const row = (name: string, a: number, b: number) => `${name}\t  ${String(a + b).padEnd(9)} ${String(a).padEnd(9)} ${String(b).padEnd(9)}\n`;
  return (
    `Total: ${get(v4, 'sockets', 'used')}\n` +
    `TCP:   ${total} (estab ${currEstab()}, closed ${total - (tcp4 + tcp6 - tw)}, orphaned ${get(v4, 'TCP', 'orphan')}, timewait ${tw})\n\n` +
    'Transport Total     IP        IPv6\n' +
    row('RAW', raw4, raw6) +
    row('UDP', udp4, udp6) +
    row('TCP', tcp4, tcp6) +
    row('INET', raw4 + udp4 + tcp4, raw6 + udp6 + tcp6) +
    row('FRAG', frag4, frag6) +
    '\n'
  );
}
