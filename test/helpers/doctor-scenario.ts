/**
 * Pathologies built for real: a python3 program run under `unshare -n` (its own network namespace, lo up)
 * makes the sockets and processes of one scenario, prints one JSON line when it is ready and keeps going
 * (floods, leaks) until its stdin closes. `sockscope doctor -N <pid>` (the installed command's entry point)
 * then diagnoses that namespace. Root only: the scenarios set sysctls and qdiscs in their namespace.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { firstLine } from './netns.js';

export const BIN = fileURLToPath(new URL('../../../bin/sockscope.js', import.meta.url));

/** Why the scenarios cannot run here, or undefined. */
export function scenarioSkip(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'the doctor scenarios set sysctls and qdiscs inside their namespace: they need root';
  for (const tool of ['unshare', 'ip', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `missing tool: ${tool}`;
  }
  if (spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status !== 0) return 'unshare -n does not work here';
  return undefined;
}

/** Helpers every scenario script starts with. */
export const PRELUDE = String.raw`
import ctypes, json, os, signal, socket, sys, threading, time
libc = ctypes.CDLL(None)
def setname(n):
    libc.prctl(15, n.encode(), 0, 0, 0)  # PR_SET_NAME: /proc/PID/comm
children = []
def child(fn):
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG SIGKILL: never outlive the scenario
        try:
            fn()
        finally:
            os._exit(0)
    children.append(pid)
    return pid
def ready(**info):
    info['pid'] = os.getpid()
    info['children'] = children
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    for c in children:
        try:
            os.kill(c, 9)
        except Exception:
            pass
    os._exit(0)
def forever():
    while True:
        time.sleep(3600)
def listener(port, backlog=128, host='127.0.0.1'):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s
`;

export interface Scenario {
  /** what the script printed when ready (pid: the scenario's main process, the namespace's owner) */
  info: { pid: number; children: number[]; [k: string]: unknown };
  stop(): Promise<void>;
}

/** Run `script` (after PRELUDE) with python3 in a new network namespace (or inside `netns`, an `ip netns` name). */
export async function startScenario(script: string, options: { netns?: string; timeoutMs?: number } = {}): Promise<Scenario> {
  const code = `${PRELUDE}\n${script}`;
  const child: ChildProcess = options.netns
    ? spawn('ip', ['netns', 'exec', options.netns, 'python3', '-c', code], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec python3 -c "$0"', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const line = await firstLine(child, options.timeoutMs ?? 20_000, 'the scenario');
    return { info: JSON.parse(line), stop };
  } catch (e) {
    child.kill('SIGKILL');
    await stop();
    throw new Error(`${(e as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: e });
  }
}

export interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report?: {
    findings: { check: string; severity: string; subject: Record<string, any>; evidence: Record<string, any>; explanation: string; advice: string }[];
    window_ms: number;
    sockets: number;
    notes: string[];
  };
}

/** `sockscope doctor ARGS` as a user runs it; the JSON report when --format json was asked. */
export function doctor(args: readonly string[], timeoutMs = 60_000): Promise<DoctorRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'doctor', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? (error as unknown as { code: number }).code : null) : 0;
      let report: DoctorRun['report'];
      if (args.includes('json')) {
        try {
          report = JSON.parse(stdout);
        } catch {
          /* left undefined: the test shows stdout */
        }
      }
      resolve({ code, stdout, stderr, report });
    });
  });
}

export const atLeastWarning = (f: { severity: string }) => f.severity === 'warning' || f.severity === 'critical';

/** Start `script`, run `sockscope doctor -N <its pid> ARGS` on it, hand both to `check`, stop it whatever happens. */
export async function diagnoseScenario(script: string, args: readonly string[], check: (s: Scenario, r: DoctorRun) => void | Promise<void>): Promise<void> {
  const s = await startScenario(script);
  try {
    await check(s, await doctor(['-N', String(s.info.pid), ...args]));
  } finally {
    await s.stop();
  }
}

/** A scenario's prelude: 'leakysrv' listens on 7001 and keeps every accepted connection without closing it, so
 * each client that closes leaves a CLOSE_WAIT socket held by it (the close_wait pathology). */
export const LEAKY_SERVER = String.raw`setname('leakysrv')
srv = listener(7001)
kept = []
def acceptor():
    while True:
        c, _ = srv.accept()
        kept.append(c)      # never closed: CLOSE_WAIT once the client closes
threading.Thread(target=acceptor, daemon=True).start()
`;

/** A busy but healthy namespace: TCP echo connections opened, used and closed by the client, a UDP echo
 * (echosrv, busyclient). No check may warn about it: a false alarm is a bug. */
export const BUSY_HEALTHY = String.raw`
setname('echosrv')
srv = listener(7007, backlog=256)
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return            # the client closed: close too (no CLOSE_WAIT left behind)
            c.sendall(d)
def acceptor():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=acceptor, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', 7008))
def udp_echo():
    while True:
        d, a = u.recvfrom(65536)
        u.sendto(d, a)
threading.Thread(target=udp_echo, daemon=True).start()
def clients():
    setname('busyclient')
    def tcp_client():
        while True:
            c = socket.create_connection(('127.0.0.1', 7007))
            for _ in range(50):
                c.sendall(b'q' * 2000)
                got = 0
                while got < 2000:
                    got += len(c.recv(65536))
            c.close()             # the client closes first: TIME_WAIT here, as it should be
    def udp_client():
        o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        o.settimeout(1)
        while True:
            o.sendto(b'p' * 200, ('127.0.0.1', 7008))
            try:
                o.recvfrom(65536)
            except socket.timeout:
                pass
    for _ in range(6):
        threading.Thread(target=tcp_client, daemon=True).start()
    for _ in range(2):
        threading.Thread(target=udp_client, daemon=True).start()
    forever()
child(clients)
time.sleep(1.0)
ready()
`;
