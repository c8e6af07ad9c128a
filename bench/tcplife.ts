/**
 * bcc's tcplife (Debian bpfcc-tools) as a reader beside sockscope in bench/lifecycle.ts: what it takes to make
 * it run on a kernel without headers, run it, and read what it captured. Nothing here is part of sockscope.
 *
 * tcplife compiles its eBPF program at start with BCC (clang) against kernel headers: /lib/modules/$(uname
 * -r)/build, or the kernel's own /sys/kernel/kheaders.tar.xz (CONFIG_IKHEADERS), or $BCC_KERNEL_SOURCE. A
 * kernel with neither (as here: 6.18, no CONFIG_IKHEADERS) gets Debian's linux-headers unpacked (apt-get
 * download, dpkg -x) under /opt/sockscope-ci/kheaders-<abi> and named by BCC_KERNEL_SOURCE: no file is put
 * under /lib/modules. bookworm's BCC 0.26 compiles against the 6.1 headers (linux-headers-amd64's), not against
 * 6.12's (its own copy of linux/bpf.h lacks struct bpf_wq, which 6.12's include/linux/bpf.h sizes).
 *
 * Its probe is the sock:inet_sock_set_state tracepoint, whose fields BCC reads from tracefs at run time, so
 * ports, addresses and the connection count are right whatever the headers. The byte columns (TX_KB, RX_KB) are
 * read from struct tcp_sock at the offsets of the headers' kernel: with another kernel's headers they are
 * wrong, and the bench says how many rows have the byte counts the churn really sent.
 *
 * CPU: tcplife's process (Python: reading the perf buffers and printing) and, with kernel.bpf_stats_enabled=1
 * during the run, its eBPF programs' own run time (run_time_ns in /proc/PID/fdinfo of each bpf-prog fd),
 * which the kernel spends in the threads whose sockets change state (the churn's, softirq), not in tcplife's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, cpSync, chmodSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export const TCPLIFE_TOOLS = ['/usr/sbin/tcplife-bpfcc', '/usr/share/bcc/tools/tcplife'];
const TRACEFS = '/sys/kernel/tracing';
const TRACEPOINT = `${TRACEFS}/events/sock/inet_sock_set_state`;
const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

export interface TcplifeRun {
  child: ChildProcess;
  /** how it was made to run (headers, modprobe, tracefs) */
  setup: string[];
  /** wait until its programs are attached and its perf buffers open; rejects with its error output if it exits */
  ready(): Promise<void>;
  /** eBPF run time so far (ns) and runs, from its bpf-prog fds (0 without kernel.bpf_stats_enabled) */
  bpfStats(): { ns: number; runs: number };
  /** SIGINT, wait, and read: rows for `port`, rows with the expected byte counts, lost samples, the undo steps done */
  stop(port: number, bytes: number): Promise<{ rows: number; bytesRight: number; lost: number; note: string }>;
}

const run = (cmd: string, args: string[], cwd?: string) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-2).join(' / ')}`);
  return r.stdout;
};

/**
 * An unpacked header tree BCC can use, made once: Debian's linux-headers-<abi>-common with -amd64's generated
 * files over it (the layout /lib/modules/X/build and .../source give together).
 */
export function debianHeaders(): { dir: string; made: boolean } {
  const meta = run('apt-cache', ['depends', 'linux-headers-amd64']);
  const pkg = /Depends: (linux-headers-[\w.+-]+-amd64)\b/.exec(meta)?.[1];
  if (!pkg) throw new Error(`apt-cache depends linux-headers-amd64 names no linux-headers-*-amd64 (run apt-get update): ${meta.trim()}`);
  const abi = pkg.slice('linux-headers-'.length, -'-amd64'.length);
  const dir = `/opt/sockscope-ci/kheaders-${abi}`;
  if (existsSync(join(dir, 'tree', 'include', 'generated', 'autoconf.h'))) return { dir, made: false };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'debs'), { recursive: true });
  run('apt-get', ['download', pkg, `linux-headers-${abi}-common`], join(dir, 'debs'));
  for (const deb of readdirSync(join(dir, 'debs'))) run('dpkg', ['-x', join(dir, 'debs', deb), join(dir, 'root')]);
  const src = join(dir, 'root', 'usr', 'src');
  run('cp', ['-a', join(src, `linux-headers-${abi}-common`), join(dir, 'tree')]);
  run('cp', ['-a', '--remove-destination', `${join(src, pkg)}/.`, join(dir, 'tree')]);
  // -amd64's Makefile only includes the -common one by its /usr/src path
  cpSync(join(src, `linux-headers-${abi}-common`, 'Makefile'), join(dir, 'tree', 'Makefile'));
  return { dir, made: true };
}

const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));

/** Why tcplife cannot run here before anything is tried (not installed, not root), or undefined. */
export function tcplifeMissing(): string | undefined {
  if (!TCPLIFE_TOOLS.some((p) => existsSync(p))) return 'not installed (Debian: apt-get install bpfcc-tools)';
  if (process.getuid?.() !== 0) return 'needs root (it loads eBPF programs); the destroy groups need no privilege';
  return undefined;
}

/** Kernel headers BCC finds by itself, or undefined: run before entering the bench's namespace (apt-get needs the network). */
export function headersFound(): string | undefined {
  const release = os.release();
  if (existsSync(`/lib/modules/${release}/build`)) return `/lib/modules/${release}/build`;
  if (existsSync('/sys/kernel/kheaders.tar.xz')) return '/sys/kernel/kheaders.tar.xz';
  if (process.env.BCC_KERNEL_SOURCE) return `BCC_KERNEL_SOURCE=${process.env.BCC_KERNEL_SOURCE}`;
  return undefined;
}

/**
 * Start tcplife (CSV output to `out`) with what it needs; throws why it cannot be started. `headers`: the
 * debianHeaders() directory when the kernel's own headers are missing.
 */
export function startTcplife(out: string, headers?: { dir: string; made: boolean }): TcplifeRun {
  const why = tcplifeMissing();
  if (why) throw new Error(why);
  const tool = TCPLIFE_TOOLS.find((p) => existsSync(p))!;
  const setup: string[] = [];
  const undo: (() => void)[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  const found = headersFound();
  if (found) setup.push(`headers: ${found}`);
  else if (!headers) throw new Error(`no kernel headers: no /lib/modules/${os.release()}/build, no /sys/kernel/kheaders.tar.xz, no BCC_KERNEL_SOURCE`);
  else {
    const h = headers;
    env.BCC_KERNEL_SOURCE = join(h.dir, 'tree');
    setup.push(
      `no /lib/modules/${os.release()}/build nor /sys/kernel/kheaders.tar.xz: BCC_KERNEL_SOURCE=${env.BCC_KERNEL_SOURCE} (Debian's ${h.dir.split('kheaders-')[1]} headers, ${h.made ? 'unpacked now' : 'unpacked before'}; tcplife's byte columns are read at those headers' struct tcp_sock offsets)`,
    );
    if (!onPath('modprobe')) {
      // BCC runs `modprobe kheaders` first (sh: modprobe: not found otherwise); there is no such module here
      mkdirSync(join(h.dir, 'bin'), { recursive: true });
      writeFileSync(join(h.dir, 'bin', 'modprobe'), '#!/bin/sh\n# BCC asks for the kheaders module; this kernel has none\nexit 1\n');
      chmodSync(join(h.dir, 'bin', 'modprobe'), 0o755);
      env.PATH = `${join(h.dir, 'bin')}:${env.PATH}`;
      setup.push(`modprobe: not installed, a no-op one on PATH (${join(h.dir, 'bin')})`);
    }
  }
  if (!existsSync(TRACEPOINT)) {
    run('mount', ['-t', 'tracefs', 'nodev', TRACEFS]);
    setup.push(`mounted tracefs on ${TRACEFS}`);
    undo.push(() => spawnSync('umount', [TRACEFS]));
  }
  const undoAll = () => {
    for (const u of undo.reverse()) u();
    undo.length = 0;
  };
  try {
    if (readFileSync(BPF_STATS, 'utf8').trim() === '0') {
      writeFileSync(BPF_STATS, '1');
      setup.push('kernel.bpf_stats_enabled=1 for the run (eBPF run time)');
      undo.push(() => writeFileSync(BPF_STATS, '0'));
    }
  } catch {
    /* no eBPF run time then */
  }
  let child: ChildProcess;
  try {
    child = spawn('sh', ['-c', `exec "$0" -s > "$1" 2> "$1.err"`, tool, out], { env, stdio: 'ignore' });
  } catch (e) {
    undoAll();
    throw e;
  }
  const err = () => (existsSync(`${out}.err`) ? readFileSync(`${out}.err`, 'utf8') : '');
  const fds = () => {
    const pid = child.pid!;
    const kinds: string[] = [];
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          kinds.push(`${fd}:${readlinkSync(`/proc/${pid}/fd/${fd}`)}`);
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* gone */
    }
    return kinds;
  };
  const progFds = () =>
    fds()
      .filter((k) => k.endsWith('anon_inode:bpf-prog'))
      .map((k) => k.split(':')[0]);
  let exitedEarly = false;
  child.once('exit', () => (exitedEarly = true));
  return {
    child,
    setup,
    ready: async () => {
      // compiled, loaded and attached (a bpf-prog fd), and both perf buffers open on every CPU (2 per CPU + the tracepoint's)
      const want = 2 * os.availableParallelism() + 1;
      for (let i = 0; ; i++) {
        if (exitedEarly) throw new Error(errorSummary(err()));
        const f = fds();
        if (f.some((k) => k.endsWith('anon_inode:bpf-prog')) && f.filter((k) => k.endsWith('anon_inode:[perf_event]')).length >= want) break;
        if (i > 2400) throw new Error(`not attached after 240 s: ${errorSummary(err())}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1000));
    },
    bpfStats: () => {
      let ns = 0;
      let runs = 0;
      for (const fd of progFds()) {
        try {
          const info = readFileSync(`/proc/${child.pid}/fdinfo/${fd}`, 'utf8');
          ns += Number(/run_time_ns:\s+(\d+)/.exec(info)?.[1] ?? 0);
          runs += Number(/run_cnt:\s+(\d+)/.exec(info)?.[1] ?? 0);
        } catch {
          /* gone */
        }
      }
      return { ns, runs };
    },
    stop: async (port, bytes) => {
      if (!exitedEarly) {
        child.kill('SIGINT');
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
      }
      undoAll();
      // PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS
      let rows = 0;
      let bytesRight = 0;
      const kb = Math.floor(bytes / 1024);
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        const f = line.split(',');
        if (f.length < 10 || !(f[4] === String(port) || f[6] === String(port))) continue;
        rows++;
        // the client sent `bytes` and received nothing; the server the other way round
        const [tx, rx] = [Number(f[7]), Number(f[8])];
        if ((tx === kb && rx === 0) || (tx === 0 && rx === kb)) bytesRight++;
      }
      const lost = [...err().matchAll(/Possibly lost (\d+) samples/g)].reduce((s, m) => s + Number(m[1]), 0);
      return { rows, bytesRight, lost, note: `${setup.join('; ')}; undone after the run` };
    },
  };
}

/** The lines of tcplife's error output that say why (BCC's clang errors, the Python exception), not the warnings. */
export function errorSummary(text: string): string {
  const lines = text.split('\n');
  const keep = lines.filter((l) => /error:|^Exception|^Unable|^chdir|not found|Permission|Operation not permitted|No such/.test(l) && !/warning:/.test(l));
  const picked = keep.length ? keep : lines.filter((l) => l.trim()).slice(-3);
  return [...new Set(picked.map((l) => l.trim()))].slice(0, 6).join(' / ') || '(no output)';
}
