#!/usr/bin/env python3
"""sockscope bench: build and hold a known TCP socket population in a private network namespace.

    population.py --estab PAIRS --timewait N --closewait PAIRS --listen N

Started by bench/run.ts (as root, or under `unshare -r`). What it does, in order:

1. unshare(CLONE_NEWNET) -> an "outer" namespace whose only job is to set
   net.ipv4.tcp_child_ehash_entries=262144, then unshare(CLONE_NEWNET) again -> the "inner" namespace,
   which gets its own TCP hash table (kernel >= 6.1): dumps in it walk our sockets only, not the machine's.
   The process keeps its pid throughout, so /proc/<pid>/ns/net is the inner namespace (for nsenter).
2. In the inner namespace: lo up; tcp_tw_reuse=0 (else loopback connects may recycle our TIME_WAIT entries,
   the default 2 allows it on loopback); tcp_max_tw_buckets=262144 (the per-netns default is half the hash).
3. Builds, all on 127.0.0.1:
   - LISTEN: `listen` listeners in total (ports 10000+, and one per holder below, ports 20000+);
   - ESTABLISHED: `estab` pairs, both ends held open (2 sockets per pair);
   - CLOSE_WAIT: `closewait` pairs whose client did shutdown(SHUT_WR): the server end is CLOSE_WAIT and the
     client end FIN_WAIT2; both stay held, so neither times out (2 sockets per pair);
   - TIME_WAIT: `timewait` connections closed by the client first (active close), spread over dst ports
     31000+ (<= 3000 each) so 4-tuples stay unique; they last 60 s (TCP_TIMEWAIT_LEN, not tunable).
   Established/close-wait pairs are held by forked holder processes of <= HOLDER_PAIRS pairs, i.e. at most
   2*HOLDER_PAIRS+1 descriptors each: below the usual 20000 RLIMIT_NOFILE hard limit, so nothing needs root to
   raise limits (an `unshare -r` user cannot raise the hard limit anyway); fewer pairs per holder when the hard
   limit is lower. Holders die with this process
   (PR_SET_PDEATHSIG) and with its process group.
4. Protocol: one JSON line per event on stdout ({"event": "ready", ...}); commands on stdin, one per line:
   `refresh-tw` destroys every TIME_WAIT socket (SOCK_DESTROY over NETLINK_SOCK_DIAG) and builds them again,
   which starts a new 60 s window; `quit` or end of stdin tears everything down.
"""
import argparse
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
HOLDER_PAIRS = 8000          # 16001 fds per holder
TW_PER_PORT = 3000
LISTEN_BASE, HOLDER_BASE, TW_BASE = 10000, 20000, 31000
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, SOCK_DESTROY = 4, 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_TIME_WAIT = 6

libc = ctypes.CDLL(None, use_errno=True)


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def sysctl(name, value):
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(str(value))


def lo_up():
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, siocgifflags, struct.pack("16sh22x", b"lo", 0)))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


def listener(port, backlog=4096):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def pairs(ls, port, n, half_close):
    """n connections to ls; on loopback connect() completes the handshake, so accept() never waits."""
    held = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(("127.0.0.1", port))
        s, _ = ls.accept()
        if half_close:
            c.shutdown(socket.SHUT_WR)
        held.append(c)
        held.append(s)
    return held


def fork(fn, hold):
    """Run fn() in a child; report 'ok'/'error' through a pipe; if hold, keep the child (and its fds) alive."""
    parent = os.getpid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)
            kept = fn()
            os.write(w, b"ok")
            os.close(w)
            if hold:
                while True:
                    signal.pause()
            del kept
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            try:
                os.write(w, f"error {type(e).__name__}: {e}".encode())
            finally:
                os._exit(1)
    os.close(w)
    return pid, r


def collect(children):
    """Wait for every child's report; raise on the first failure."""
    for pid, r in children:
        with os.fdopen(r, "rb") as f:
            msg = f.read().decode()
        if msg != "ok":
            raise RuntimeError(f"builder {pid} failed: {msg or 'died without a word'}")


def build_timewait(n, workers):
    """n TIME_WAIT entries: client closes first, then the server; the client keeps TIME_WAIT for 60 s."""
    if n <= 0:
        return
    ports = [TW_BASE + i for i in range((n + TW_PER_PORT - 1) // TW_PER_PORT)]
    per_port = [n // len(ports) + (1 if i < n % len(ports) else 0) for i in range(len(ports))]
    groups = [list(range(i, len(ports), workers)) for i in range(min(workers, len(ports)))]

    def work(idx):
        def run():
            for i in idx:
                ls = listener(ports[i])
                for _ in range(per_port[i]):
                    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    c.connect(("127.0.0.1", ports[i]))
                    s, _ = ls.accept()
                    c.close()
                    s.close()
                ls.close()
        return run

    kids = [fork(work(g), hold=False) for g in groups]
    collect(kids)
    for pid, _ in kids:
        os.waitpid(pid, 0)


def nl_request(msg_type, flags, seq, payload):
    return struct.pack("=IHHII", 16 + len(payload), msg_type, flags, seq, 0) + payload


def inet_req(family, states, sockid=b"\0" * 40 + b"\xff" * 8):
    return struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, states) + sockid


def destroy_timewait():
    """SOCK_DESTROY every TIME_WAIT socket of this namespace (tcp_abort handles TIME_WAIT); returns the count."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    nl.bind((0, 0))
    seq = 100
    ids = []
    for family in (socket.AF_INET, socket.AF_INET6):
        seq += 1
        nl.send(nl_request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, inet_req(family, 1 << TCP_TIME_WAIT)))
        done = False
        while not done:
            data = nl.recv(1 << 20)
            at = 0
            while at + 16 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, at)
                if typ == NLMSG_DONE:
                    done = True
                    break
                if typ == NLMSG_ERROR:
                    raise OSError(-struct.unpack_from("=i", data, at + 16)[0], "TIME_WAIT dump failed")
                ids.append((data[at + 16], bytes(data[at + 20:at + 68])))  # family, inet_diag_sockid
                at += (ln + 3) & ~3
    batch = 256
    failed = 0
    for i in range(0, len(ids), batch):
        chunk = ids[i:i + batch]
        buf = b"".join(nl_request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, seq + 1 + j, inet_req(fam, 0xfff, sid))
                       for j, (fam, sid) in enumerate(chunk))
        seq += len(chunk)
        nl.send(buf)
        acks = 0
        while acks < len(chunk):
            data = nl.recv(1 << 20)
            at = 0
            while at + 16 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, at)
                if typ == NLMSG_ERROR:
                    acks += 1
                    err = struct.unpack_from("=i", data, at + 16)[0]
                    if err not in (0, -2):  # ENOENT: expired meanwhile
                        failed += 1
                at += (ln + 3) & ~3
    nl.close()
    if failed:
        raise RuntimeError(f"SOCK_DESTROY failed for {failed} of {len(ids)} TIME_WAIT sockets")
    return len(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--estab", type=int, default=0, help="ESTABLISHED pairs (2 sockets each)")
    ap.add_argument("--timewait", type=int, default=0, help="TIME_WAIT sockets")
    ap.add_argument("--closewait", type=int, default=0, help="CLOSE_WAIT pairs (CLOSE_WAIT + FIN_WAIT2)")
    ap.add_argument("--listen", type=int, default=0, help="LISTEN sockets in total (>= one per holder)")
    ap.add_argument("--ehash", type=int, default=262144, help="tcp_child_ehash_entries of the inner namespace")
    ap.add_argument("--no-unshare", action="store_true", help="use the current namespace (testing only)")
    a = ap.parse_args()

    t0 = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not a.no_unshare:
        check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET) [outer]")
        sysctl("net.ipv4.tcp_child_ehash_entries", a.ehash)
        check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET) [inner]")
        lo_up()
        sysctl("net.ipv4.tcp_tw_reuse", 0)
        sysctl("net.ipv4.tcp_max_tw_buckets", 262144)
    # Pairs per holder: HOLDER_PAIRS, or fewer when the hard fd limit is lower; the soft limit is raised to fit
    # (no privilege needed below the hard limit).
    per = HOLDER_PAIRS if hard == resource.RLIM_INFINITY else max(100, min(HOLDER_PAIRS, (hard - 64) // 2))
    if soft != resource.RLIM_INFINITY and soft < 2 * per + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2 * per + 64 if hard == resource.RLIM_INFINITY else min(hard, 2 * per + 64), hard))
    holders = []
    for kind, total in (("estab", a.estab), ("closewait", a.closewait)):
        left = total
        while left > 0:
            k = min(left, per)
            left -= k
            holders.append((kind, k))
    if a.listen < len(holders):
        raise SystemExit(f"--listen {a.listen} is below the {len(holders)} listeners the holders need")
    if a.listen - len(holders) > HOLDER_BASE - LISTEN_BASE:
        raise SystemExit(f"--listen {a.listen} is more than the {HOLDER_BASE - LISTEN_BASE} plain listener ports")

    # Holders (in parallel), then the plain listeners held here (after the forks: holders need not inherit them).
    kids = []
    for i, (kind, k) in enumerate(holders):
        port = HOLDER_BASE + i
        ls = listener(port)  # bound before fork: the port is taken before any connect() runs
        kids.append(fork(lambda ls=ls, port=port, k=k, kind=kind: [ls] + pairs(ls, port, k, kind == "closewait"), hold=True))
        ls.close()
    collect(kids)
    plain = [listener(LISTEN_BASE + i, 16) for i in range(a.listen - len(holders))]
    t_pairs = time.monotonic()
    workers = max(1, os.cpu_count() or 1)
    tw_started = time.time()
    build_timewait(a.timewait, workers)
    t_tw = time.monotonic()
    expected = {"ESTAB": 2 * a.estab, "TIME-WAIT": a.timewait, "CLOSE-WAIT": a.closewait, "FIN-WAIT-2": a.closewait,
                "LISTEN": a.listen}
    emit(event="ready", pid=os.getpid(), holders=[pid for pid, _ in kids], expected=expected,
         total=sum(expected.values()), pairs_s=round(t_pairs - t0, 3), timewait_s=round(t_tw - t_pairs, 3),
         tw_started=tw_started, nofile=[soft, hard])

    def stop(*_):
        for pid, _ in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "refresh-tw":
            try:
                t = time.monotonic()
                killed = destroy_timewait()
                t1 = time.monotonic()
                started = time.time()
                build_timewait(a.timewait, workers)
                emit(event="refreshed", killed=killed, built=a.timewait, destroy_s=round(t1 - t, 3),
                     build_s=round(time.monotonic() - t1, 3), tw_started=started)
            except Exception as e:  # noqa: BLE001 - report and keep holding
                emit(event="error", message=f"refresh-tw: {type(e).__name__}: {e}")
        elif cmd == "quit":
            break
        elif cmd:
            emit(event="error", message=f"unknown command {cmd!r}")
    del plain
    stop()


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - one line for the harness
        emit(event="error", message=f"{type(e).__name__}: {e}")
        sys.exit(1)  # holders follow through PR_SET_PDEATHSIG
