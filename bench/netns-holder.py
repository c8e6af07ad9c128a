#!/usr/bin/env python3
"""sockscope bench (--all-netns): one network namespace holding a known TCP population.

    netns-holder.py --listen N --estab PAIRS --closewait PAIRS --timewait N [--private-ehash ENTRIES] [--churn SECONDS]

Started by bench/netns.ts, one per namespace. unshare(CLONE_NEWNET) gives the process a namespace of its own
(its /proc/<pid>/ns/net is what the peer's nsenter and sockscope enter). With --private-ehash, it first enters
an "outer" namespace whose only job is to set net.ipv4.tcp_child_ehash_entries, then the inner one, which gets
its own TCP hash table: a dump in it walks its sockets, not every other namespace's (the machine is shared
with other benchmarks and tests whose sockets would otherwise be walked by every dump, ours and the peer's).
lo up (ioctl), then, all on 127.0.0.1: N listeners; PAIRS established pairs (2 sockets each); PAIRS
CLOSE_WAIT/FIN_WAIT2 pairs. Prints {"ready": true, "pid": PID, "sockets": n} and holds everything until stdin
closes; each "tw" line read makes the N TIME_WAIT sockets (they last 60 s) and prints {"tw": N}. With --churn,
every SECONDS one more connection is opened to the first listener and both ends reset (SO_LINGER 0: no
TIME_WAIT left), as a health check or a short request would: the namespace's counts stay the same, but
connections came and went between any two gathers.
"""
import argparse
import ctypes
import fcntl
import json
import os
import resource
import socket
import struct
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def unshare_net():
    if libc.unshare(CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def lo_up():
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = struct.pack('16sH14s', b'lo', 0, b'')
    flags = struct.unpack('16sH14s', fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack('16sH14s', b'lo', flags | IFF_UP, b''))
    s.close()


def main():
    p = argparse.ArgumentParser()
    for k in ('listen', 'estab', 'closewait', 'timewait', 'private-ehash'):
        p.add_argument(f'--{k}', type=int, default=0)
    p.add_argument('--churn', type=float, default=0)
    a = p.parse_args()
    need = a.listen + 2 * a.estab + 2 * a.closewait + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    if a.private_ehash:
        unshare_net()
        with open('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'w') as f:
            f.write(str(a.private_ehash))
    unshare_net()
    lo_up()
    keep = []
    listeners = []
    for _ in range(max(1, a.listen)):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        s.listen(4096)
        listeners.append(s)
        keep.append(s)
    port = listeners[0].getsockname()[1]

    lock = threading.Lock()

    def pair():
        with lock:
            c = socket.create_connection(('127.0.0.1', port))
            srv, _ = listeners[0].accept()
        return c, srv

    for _ in range(a.estab):
        keep.extend(pair())
    for _ in range(a.closewait):
        c, srv = pair()
        c.shutdown(socket.SHUT_WR)
        keep.extend((c, srv))
    def timewait():
        for _ in range(a.timewait):
            c, srv = pair()
            c.close()  # the client closes first: TIME_WAIT on its side
            srv.close()

    def churn():
        linger = struct.pack('ii', 1, 0)
        while True:
            time.sleep(a.churn)
            c, srv = pair()
            for x in (c, srv):
                x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            c.close()
            srv.close()

    if a.churn > 0:
        threading.Thread(target=churn, daemon=True).start()
    sys.stdout.write(json.dumps({'ready': True, 'pid': os.getpid(), 'sockets': len(keep)}) + '\n')
    sys.stdout.flush()
    # "tw": make the TIME_WAIT sockets now (they last 60 s: the caller says when it is about to measure)
    for line in sys.stdin:
        if line.strip() == 'tw':
            timewait()
            sys.stdout.write(json.dumps({'tw': a.timewait}) + '\n')
            sys.stdout.flush()


main()
