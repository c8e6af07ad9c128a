/**
 * The holder of a known socket population, run inside a throwaway network namespace (see netns.ts):
 *
 *   unshare -n node dist/test/helpers/population-holder.js [--lifetime-ms N]
 *
 * It brings `lo` up, makes the sockets below on 127.0.0.1 / ::1 with ports the kernel picks, waits for the
 * loopback traffic to settle, prints ONE JSON line (a Population) on stdout and then holds every socket open,
 * idle, until it is killed, its parent (the test process) dies, or --lifetime-ms passes (when given: none by
 * default, since a loaded machine can make any fixed lifetime too short).
 *
 * Node makes what it can (listeners that accept, established pairs with data both ways, TIME-WAIT, CLOSE-WAIT,
 * UDP bound and connected, a unix stream listener on a path). A python3 child, in the same namespace, makes
 * what Node cannot: connections left in a listener's accept queue (TCP and unix), a SYN-SENT socket, a
 * socketpair, unix datagram sockets, UDP sockets with unread datagrams, and the abstract-namespace listener
 * (Node pads abstract names with NULs).
 *
 * Nothing sends after the ready line: no keepalives, no timers other than TIME-WAIT's and the SYN-SENT
 * socket's SYN retransmissions (which reach only a listener whose accept queue is full, so they are dropped).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './wait.js';

export interface Endpoint {
  address: string;
  port: number;
}

export interface TcpListenerInfo extends Endpoint {
  name: string;
  family: 4 | 6;
  /** listen(2) backlog, when the maker chose it (ss -l Send-Q) */
  backlog?: number;
  /** connections left in the accept queue (ss -l Recv-Q) */
  pending?: number;
  /** an AF_INET6 socket bound to :: that also takes IPv4 (v4-mapped peers) */
  dualStack?: boolean;
}

/** One connected socket as it sees itself: a v4-mapped server side sees ::ffff:127.0.0.1 at both ends. */
export interface Connected {
  local: Endpoint;
  remote: Endpoint;
}

export interface TcpPairInfo {
  name: string;
  client: Connected;
  server: Connected;
  /** family of each end: a v4-mapped pair has an AF_INET client and an AF_INET6 server side */
  clientFamily: 4 | 6;
  serverFamily: 4 | 6;
  /** payload bytes written by each side */
  clientSent: number;
  serverSent: number;
  /** the server side never reads: clientSent bytes stay in its receive queue */
  serverUnread?: boolean;
}

export interface Population {
  /** the holder's pid (its /proc/<pid>/ns/net is the namespace) */
  pid: number;
  pythonPid: number;
  /** where the path-bound unix sockets live; removed by the holder on exit (and by netns.ts) */
  tmpDir: string;
  tcp: {
    listeners: TcpListenerInfo[];
    /** ESTABLISHED pairs, both ends in this namespace */
    established: TcpPairInfo[];
    /** client ends in TIME-WAIT (the client closed first) */
    timeWait: { client: Endpoint; server: Endpoint; family: 4 | 6 }[];
    /** server end in CLOSE-WAIT, client end in FIN-WAIT-2 (the client shut down its side only) */
    closeWait: { client: Endpoint; server: Endpoint; family: 4 | 6 }[];
    /** connect() to a listener whose accept queue is full: the SYN is dropped, the socket stays SYN-SENT */
    synSent: { client: Endpoint; server: Endpoint; family: 4 | 6 }[];
  };
  udp: {
    bound: (Endpoint & { family: 4 | 6; unreadDatagrams?: number; unreadBytes?: number })[];
    connected: { local: Endpoint; remote: Endpoint; family: 4 | 6 }[];
  };
  unix: {
    /** names as ss prints them: abstract names start with '@' */
    streamListeners: { name: string; backlog?: number; pending?: number; accepted: number }[];
    dgramBound: { name: string; connectedClients: number; unconnectedSenders: number; unreadDatagrams: number }[];
    socketpairs: number;
    /** unnamed u_str ESTAB pairs that carry the holder <-> python3 stdio pipes */
    stdioPairs: number;
  };
}

const args = process.argv.slice(2);
const lifetimeArg = args.indexOf('--lifetime-ms');
// no fixed lifetime by default: a slow suite must not outlive its namespace; the ppid watch below ends it
const lifetimeMs = lifetimeArg >= 0 ? Number(args[lifetimeArg + 1]) : 0;
const SETTLE_MS = 300;

/** The python3 part: everything Node's net/dgram modules cannot leave in place. */
const PYTHON = String.raw`
import ctypes, json, os, socket, sys
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG = SIGKILL: never outlive the holder
cfg = json.loads(sys.argv[1])
tmp = cfg['tmpDir']
keep = []
def ep(s):
    a = s.getsockname()
    return {'address': a[0], 'port': a[1]}
out = {'pid': os.getpid(), 'tcpListeners': [], 'synSent': [], 'udp': [], 'unixListeners': [], 'unixDgram': []}

# TCP v4 listener, backlog 4, two connections never accepted; each client sends a different amount.
l4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM); l4.bind(('127.0.0.1', 0)); l4.listen(4); keep.append(l4)
for i in range(2):
    c = socket.create_connection(('127.0.0.1', ep(l4)['port'])); keep.append(c)
    c.sendall(b'p' * (100 * (i + 1)))
out['tcpListeners'].append(dict(ep(l4), name='py-v4-backlog4', family=4, backlog=4, pending=2))

# TCP v6 listener, backlog 1, accept queue full (2 queued): a third connect() stays SYN-SENT.
l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); l6.bind(('::1', 0)); l6.listen(1); keep.append(l6)
for i in range(2):
    keep.append(socket.create_connection(('::1', ep(l6)['port'])))
out['tcpListeners'].append(dict(ep(l6), name='py-v6-full', family=6, backlog=1, pending=2))
syn = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); syn.setblocking(False); keep.append(syn)
# 20 SYN retries (~28 min with the RTO capped at 120 s) instead of the default 6 (~127 s): the socket outlives
# a long suite on a loaded machine
syn.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 20)
syn.connect_ex(('::1', ep(l6)['port']))
out['synSent'].append({'client': ep(syn), 'server': ep(l6), 'family': 6})

# UDP sockets that sent themselves datagrams and never read them.
for fam, host, n in ((socket.AF_INET, '127.0.0.1', 3), (socket.AF_INET6, '::1', 2)):
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((host, 0)); keep.append(u)
    for i in range(n):
        u.sendto(b'u' * (10 * (i + 1)), u.getsockname())
    out['udp'].append(dict(ep(u), family=4 if fam == socket.AF_INET else 6, unreadDatagrams=n, unreadBytes=sum(10 * (i + 1) for i in range(n))))

# unix stream listener on a path, backlog 3, two connections never accepted.
path = os.path.join(tmp, 'pending.sock')
ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ul.bind(path); ul.listen(3); keep.append(ul)
for i in range(2):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(path); keep.append(c)
out['unixListeners'].append({'name': path, 'backlog': 3, 'pending': 2, 'accepted': 0})

# unix stream listener in the abstract namespace, one accepted connection with unread bytes.
an = '\0sockscope-stream-%d' % os.getpid()
al = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); al.bind(an); al.listen(5); keep.append(al)
ac = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ac.connect(an); keep.append(ac)
aa, _ = al.accept(); keep.append(aa); ac.sendall(b'a' * 50)
out['unixListeners'].append({'name': '@' + an[1:], 'backlog': 5, 'pending': 0, 'accepted': 1})

# a socketpair with unread bytes one way
a, b = socket.socketpair(); keep += [a, b]; a.sendall(b's' * 300)

# unix datagrams: an abstract bound socket, a connected client and an unbound sender, nothing read.
name = '\0sockscope-dgram-%d' % os.getpid()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(name); keep.append(d)
dc = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); dc.connect(name); keep.append(dc)
dc.send(b'abc'); dc.send(b'defgh')
du = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); keep.append(du); du.sendto(b'xy', name)
out['unixDgram'].append({'name': '@' + name[1:], 'connectedClients': 1, 'unconnectedSenders': 1, 'unreadDatagrams': 3})

sys.stdout.write(json.dumps(out) + '\n'); sys.stdout.flush()
sys.stdin.buffer.read()  # hold until the holder goes away
`;

interface PythonPart {
  pid: number;
  tcpListeners: TcpListenerInfo[];
  synSent: Population['tcp']['synSent'];
  udp: Population['udp']['bound'];
  unixListeners: Population['unix']['streamListeners'];
  unixDgram: Population['unix']['dgramBound'];
}

const held: unknown[] = [];
let python: ChildProcess | undefined;
let tmpDir = '';

function cleanup(): void {
  if (python?.pid && python.exitCode === null) python.kill('SIGKILL');
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
}

function fail(e: unknown): never {
  process.stdout.write(`${JSON.stringify({ error: String((e as Error)?.stack ?? e) })}\n`);
  cleanup();
  process.exit(1);
}

async function listen(server: net.Server, options: net.ListenOptions): Promise<void> {
  server.listen(options);
  await once(server, 'listening');
  held.push(server);
}

const tcpPort = (server: net.Server): number => (server.address() as net.AddressInfo).port;

/** Receive exactly n bytes on a flowing socket. */
function receive(socket: net.Socket, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    if (n === 0) return resolve();
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got >= n) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function write(socket: net.Socket, bytes: number, fill: number): Promise<void> {
  if (bytes === 0) return;
  await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(bytes, fill), (e) => (e ? reject(e) : resolve())));
}

/** Connect to `server` and return both ends (the next 'connection' is ours: pairs are made one at a time). */
async function connectPair(server: net.Server, host: string, port: number): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host, port });
  await once(client, 'connect');
  const [socket] = await accepted;
  held.push(client, socket);
  return { client, accepted: socket };
}

const endpoint = (address: string | undefined, port: number | undefined): Endpoint => ({ address: address ?? '', port: port ?? 0 });
const ends = (s: net.Socket): Connected => ({ local: endpoint(s.localAddress, s.localPort), remote: endpoint(s.remoteAddress, s.remotePort) });

async function main(): Promise<void> {
  if (!Number.isFinite(lifetimeMs) || lifetimeMs < 0) throw new Error(`bad --lifetime-ms ${lifetimeMs}`);
  // Die with the test: when the process that spawned us exits we are re-parented (ppid changes). Watching the
  // ppid (not draining stdin, which spins on an endless stdin) costs one check a second; an optional timer bounds the rest.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      cleanup();
      process.exit(0);
    }
  }, 1000).unref();
  if (lifetimeMs > 0) {
    setTimeout(() => {
      cleanup();
      process.exit(0);
    }, lifetimeMs);
  }
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(0);
    });
  }

  execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 5000 });
  tmpDir = mkdtempSync(join(tmpdir(), 'sockscope-netns-'));

  const pop: Population = {
    pid: process.pid,
    pythonPid: 0,
    tmpDir,
    tcp: { listeners: [], established: [], timeWait: [], closeWait: [], synSent: [] },
    udp: { bound: [], connected: [] },
    unix: { streamListeners: [], dgramBound: [], socketpairs: 1, stdioPairs: 2 },
  };

  // python3 first: its sockets are made while nothing else is moving.
  python = spawn('python3', ['-c', PYTHON, JSON.stringify({ tmpDir })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pyLine = new Promise<PythonPart>((resolve, reject) => {
    let buf = '';
    python!.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as PythonPart);
    });
    python!.once('exit', (code) => reject(new Error(`python3 part exited (${code}) before it was ready`)));
    python!.once('error', reject);
  });
  const py = await pyLine;
  pop.pythonPid = py.pid;
  pop.tcp.listeners.push(...py.tcpListeners);
  pop.tcp.synSent.push(...py.synSent);
  pop.udp.bound.push(...py.udp);
  pop.unix.streamListeners.push(...py.unixListeners);
  pop.unix.dgramBound.push(...py.unixDgram);

  // TCP listeners that accept.
  const l4 = net.createServer();
  await listen(l4, { host: '127.0.0.1', port: 0, backlog: 16 });
  pop.tcp.listeners.push({ name: 'node-v4', family: 4, address: '127.0.0.1', port: tcpPort(l4), backlog: 16 });
  const l6 = net.createServer();
  await listen(l6, { host: '::1', port: 0, backlog: 8, ipv6Only: true });
  pop.tcp.listeners.push({ name: 'node-v6', family: 6, address: '::1', port: tcpPort(l6), backlog: 8 });
  const dual = net.createServer();
  await listen(dual, { host: '::', port: 0, backlog: 4, ipv6Only: false });
  pop.tcp.listeners.push({ name: 'node-dual', family: 6, address: '::', port: tcpPort(dual), backlog: 4, dualStack: true });
  // A listener that never reads what its connections receive.
  const lazy = net.createServer({ pauseOnConnect: true });
  await listen(lazy, { host: '127.0.0.1', port: 0, backlog: 2 });
  pop.tcp.listeners.push({ name: 'node-v4-unread', family: 4, address: '127.0.0.1', port: tcpPort(lazy), backlog: 2 });
  // A listener whose connections keep their side open after the peer's FIN.
  const halfOpen = net.createServer({ allowHalfOpen: true });
  await listen(halfOpen, { host: '127.0.0.1', port: 0, backlog: 3 });
  pop.tcp.listeners.push({ name: 'node-v4-halfopen', family: 4, address: '127.0.0.1', port: tcpPort(halfOpen), backlog: 3 });

  // ESTABLISHED pairs with different amounts each way, so every socket's counters differ.
  const plans: { name: string; server: net.Server; host: string; connectTo: string; sf: 4 | 6; cf: 4 | 6 }[] = [
    { name: 'v4-a', server: l4, host: '127.0.0.1', connectTo: '127.0.0.1', cf: 4, sf: 4 },
    { name: 'v4-b', server: l4, host: '127.0.0.1', connectTo: '127.0.0.1', cf: 4, sf: 4 },
    { name: 'v6-a', server: l6, host: '::1', connectTo: '::1', cf: 6, sf: 6 },
    { name: 'v6-b', server: l6, host: '::1', connectTo: '::1', cf: 6, sf: 6 },
    { name: 'v4-mapped', server: dual, host: '::', connectTo: '127.0.0.1', cf: 4, sf: 6 },
  ];
  for (const [i, p] of plans.entries()) {
    const { client, accepted } = await connectPair(p.server, p.connectTo, tcpPort(p.server));
    const clientSent = 1000 * (i + 1) + 17 * i + 5;
    const serverSent = 700 * (i + 1) + 31 * i + 3;
    await Promise.all([write(client, clientSent, 0x63), write(accepted, serverSent, 0x73), receive(accepted, clientSent), receive(client, serverSent)]);
    pop.tcp.established.push({
      name: p.name,
      clientFamily: p.cf,
      serverFamily: p.sf,
      clientSent,
      serverSent,
      client: ends(client),
      server: ends(accepted),
    });
  }
  {
    const { client, accepted } = await connectPair(lazy, '127.0.0.1', tcpPort(lazy));
    const clientSent = 4321;
    await write(client, clientSent, 0x75);
    pop.tcp.established.push({
      name: 'v4-unread',
      clientFamily: 4,
      serverFamily: 4,
      clientSent,
      serverSent: 0,
      serverUnread: true,
      client: ends(client),
      server: ends(accepted),
    });
  }

  // TIME-WAIT: the client closes first (the server, not half-open, answers with its own FIN).
  for (const [server, host, family] of [
    [l4, '127.0.0.1', 4],
    [l4, '127.0.0.1', 4],
    [l6, '::1', 6],
  ] as const) {
    const { client, accepted } = await connectPair(server, host, tcpPort(server));
    const c = endpoint(client.localAddress, client.localPort);
    const s = endpoint(accepted.localAddress, accepted.localPort);
    await write(client, 64, 0x74);
    await receive(accepted, 64);
    const closed = Promise.all([once(client, 'close'), once(accepted, 'close')]);
    client.resume();
    client.end();
    await closed;
    pop.tcp.timeWait.push({ client: c, server: s, family });
  }

  // CLOSE-WAIT / FIN-WAIT-2: the client shuts down its sending side; the half-open server keeps its side.
  {
    const { client, accepted } = await connectPair(halfOpen, '127.0.0.1', tcpPort(halfOpen));
    const ended = once(accepted, 'end');
    accepted.resume();
    client.end();
    await ended;
    pop.tcp.closeWait.push({ family: 4, client: endpoint(client.localAddress, client.localPort), server: endpoint(accepted.localAddress, accepted.localPort) });
  }

  // UDP: bound and idle, and connected.
  for (const [type, host] of [
    ['udp4', '127.0.0.1'],
    ['udp6', '::1'],
  ] as const) {
    const family = type === 'udp4' ? 4 : 6;
    const bound = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    bound.bind(0, host);
    await once(bound, 'listening');
    const b = bound.address();
    pop.udp.bound.push({ family, address: b.address, port: b.port });
    const client = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    client.bind(0, host);
    await once(client, 'listening');
    client.connect(b.port, host);
    await once(client, 'connect');
    const l = client.address();
    const r = client.remoteAddress();
    pop.udp.connected.push({ family, local: { address: l.address, port: l.port }, remote: { address: r.address, port: r.port } });
    held.push(bound, client);
  }

  // unix stream on a path, one accepted connection carrying data both ways. (The abstract listener is
  // python's: Node pads abstract names with NULs to the whole sun_path, which ss shows as 90-odd '@'.)
  {
    const path = join(tmpDir, 'stream.sock');
    const server = net.createServer();
    await listen(server, { path, backlog: 6 });
    const { client, accepted } = await connectUnix(server, path);
    await Promise.all([write(client, 222, 0x61), receive(accepted, 222), write(accepted, 111, 0x62), receive(client, 111)]);
    pop.unix.streamListeners.push({ name: path, backlog: 6, pending: 0, accepted: 1 });
  }

  // Let delayed ACKs and the last state transitions land before anyone looks.
  await sleep(SETTLE_MS);
  process.stdout.write(`${JSON.stringify(pop)}\n`);
}

async function connectUnix(server: net.Server, path: string): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ path });
  await once(client, 'connect');
  const [socket] = await accepted;
  held.push(client, socket);
  return { client, accepted: socket };
}

main().catch(fail);
