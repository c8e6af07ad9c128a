/**
 * ss 6.1's text primitives for the ls table's words (ss-details.ts writes the words themselves, from the member
 * table): numbers with `%g` as C prints them, sprint_bw's rates, print_ms_timer's timers, unix `dev:`, cgroup
 * paths; and what ls reads beside the kernel for ss's text (service and protocol names, process contexts, `ss -s`).
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { ephemeralPortRange } from '../../filter/resolve.js';

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
let protocols: Map<number, string> | undefined;
let ephemeral: { low: number; high: number } | undefined;

/** `name number` (/etc/protocols) or `name port/proto` (/etc/services) lines: the first name of each key. */
function nameFile(path: string, line: RegExp, into: (m: RegExpExecArray) => void): void {
  try {
    for (const l of readFileSync(path, 'utf8').split('\n')) {
      const m = line.exec(l);
      if (m) into(m);
    }
  } catch {
    /* no file: numbers */
  }
}

/**
 * ss's resolve_service (without -n): a RAW socket's "port" is its IP protocol, named from /etc/protocols
 * (`icmp`, `ipv6-icmp`, `ipproto-N` when unknown); a port in the ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range) stays a number; else the first name /etc/services gives the
 * port for TCP (SCTP, MPTCP too) or UDP (UDP-Lite too), or the number.
 */
export function serviceName(port: number, proto: string): string {
  if (proto === 'raw') {
    if (!protocols) {
      const p = (protocols = new Map());
      nameFile('/etc/protocols', /^([^#\s]+)\s+(\d+)/, (m) => p.has(Number(m[2])) || p.set(Number(m[2]), m[1]));
    }
    return protocols.get(port) ?? `ipproto-${port}`;
  }
  // ss's is_ephemeral() falls back to 1024-4999 when the sysctl cannot be read
  ephemeral ??= ephemeralPortRange(undefined, { low: 1024, high: 4999 });
  if (port >= ephemeral.low && port <= ephemeral.high) return String(port);
  if (!services) {
    const m = (services = new Map());
    nameFile('/etc/services', /^([^#\s]+)\s+(\d+)\/(\w+)/, (x) => m.has(`${x[2]}/${x[3]}`) || m.set(`${x[2]}/${x[3]}`, x[1]));
  }
  return services.get(`${port}/${proto === 'udp' || proto === 'udplite' ? 'udp' : 'tcp'}`) ?? String(port);
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
