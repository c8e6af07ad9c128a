/**
 * The sockets the netns.ts population lacks, made by python3 in the namespace (root: a veth pair, raw sockets,
 * ports below 1024, a cgroup): a BBR connection with a mark and keepalive, well-known ports, device-bound
 * sockets, UDP on v6 connected, raw ICMP and ICMPv6, unix seqpacket and dgram pairs, a forked child holding
 * every one of them, and a TCP and a unix listener of another user (nobody). Its first argument is JSON {cgroup, bbr, tmp}; it prints one JSON line ({pid, child}) when
 * ready and holds everything until its stdin closes. Used by test/integration/ls-flags-vs-ss.test.ts.
 */
export const WIDE_MAKER = String.raw`
import ctypes, json, os, socket, subprocess, sys, time
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG = SIGKILL
cfg = json.loads(sys.argv[1])
keep = []
SO_MARK, SO_BINDTODEVICE, TCP_CONGESTION = 36, 25, 13
if cfg['cgroup']:
    try:
        os.makedirs(cfg['cgroup'], exist_ok=True)
        with open(os.path.join(cfg['cgroup'], 'cgroup.procs'), 'w') as f: f.write(str(os.getpid()))
    except OSError:
        pass
subprocess.run(['ip', 'link', 'add', 'sswide0', 'type', 'veth', 'peer', 'name', 'sswide1'], check=True)
subprocess.run(['ip', 'link', 'set', 'sswide1', 'up'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.21.0.1/24', 'dev', 'sswide0'], check=True)
subprocess.run(['ip', 'addr', 'add', 'fe80::21/64', 'dev', 'sswide0', 'nodad'], check=True)
subprocess.run(['ip', 'link', 'set', 'sswide0', 'up'], check=True)
def sock(*a):
    s = socket.socket(*a); keep.append(s); return s
# a BBR connection with a mark and keepalive, unread bytes both ways
L = sock(); L.bind(('127.0.0.1', 0)); L.listen(8)
c = sock()
if cfg['bbr']: c.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b'bbr')
c.setsockopt(socket.SOL_SOCKET, SO_MARK, 0x2a); c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
c.connect(L.getsockname()); a, _ = L.accept(); keep.append(a)
c.sendall(b'x' * 5000); a.sendall(b'y' * 7000)
# well-known ports (service names with -r): http on v4, https on a v6only wildcard, ssh on a dual-stack one
h = sock(); h.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); h.bind(('127.0.0.1', 80)); h.listen(5)
s6 = sock(socket.AF_INET6); s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s6.bind(('::', 443)); s6.listen(5)
d6 = sock(socket.AF_INET6); d6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); d6.bind(('::', 22)); d6.listen(5)
w4 = sock(); w4.bind(('0.0.0.0', 8080)); w4.listen(5)
hc = sock(); hc.connect(('127.0.0.1', 80)); ha, _ = h.accept(); keep.append(ha)
# device-bound: a listener on lo, UDP on the veth device (v4 wildcard and v6 link-local)
dl = sock(); dl.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'lo'); dl.bind(('127.0.0.1', 0)); dl.listen(3)
du = sock(socket.AF_INET, socket.SOCK_DGRAM); du.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'sswide0'); du.bind(('0.0.0.0', 67))
ll = sock(socket.AF_INET6, socket.SOCK_DGRAM); ll.bind(('fe80::21', 5353, 0, socket.if_nametoindex('sswide0')))
tl = sock(); tl.bind(('10.21.0.1', 0)); tl.listen(2)
# UDP: dns on v4 and v6, a connected v6 pair, a connected v4 socket to the veth address
u53 = sock(socket.AF_INET, socket.SOCK_DGRAM); u53.bind(('127.0.0.1', 53))
u6a = sock(socket.AF_INET6, socket.SOCK_DGRAM); u6a.bind(('::1', 0))
u6b = sock(socket.AF_INET6, socket.SOCK_DGRAM); u6b.bind(('::1', 0)); u6b.connect(u6a.getsockname()); u6a.connect(u6b.getsockname())
u6b.send(b'q' * 33)
uc = sock(socket.AF_INET, socket.SOCK_DGRAM); uc.connect(('10.21.0.1', 9))
# raw ICMP and ICMPv6
sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
# unix seqpacket: a named listener with one connection, an abstract one, a socketpair; a dgram socketpair
p = os.path.join(cfg['tmp'], 'sswide-seq.sock')
q = sock(socket.AF_UNIX, socket.SOCK_SEQPACKET); q.bind(p); q.listen(4)
qc = sock(socket.AF_UNIX, socket.SOCK_SEQPACKET); qc.connect(p); qa, _ = q.accept(); keep.append(qa); qc.send(b'z' * 17)
qn = sock(socket.AF_UNIX, socket.SOCK_SEQPACKET); qn.bind('\0sswide-seq-%d' % os.getpid()); qn.listen(1)
keep += socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); keep += [x, y]; x.send(b'w' * 9)
# another user's sockets (uid: with -e): a TCP listener and a unix stream one, made by a child as nobody
ur, uw = os.pipe()
if os.fork() == 0:
    os.setgid(65534); os.setuid(65534)
    ul = socket.socket(); ul.bind(('127.0.0.1', 0)); ul.listen(1)
    ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ux.bind('\0sswide-nobody'); ux.listen(1)
    os.close(uw); os.read(ur, 1); os._exit(0)
os.close(ur)
# a child that holds every one of these too (two processes per socket with -p)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w); os.read(r, 1); os._exit(0)
os.close(r)
time.sleep(0.3)
print(json.dumps({'pid': os.getpid(), 'child': pid}), flush=True)
sys.stdin.buffer.read()
os.write(w, b'x')
os.write(uw, b'x')
`;
