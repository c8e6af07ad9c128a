/*
 * netns-floor: the floor for `--all-netns`. The least a program can do to count TCP sockets by state in every
 * network namespace over NETLINK_SOCK_DIAG, timed by the CPU it uses (getrusage: user + system).
 *
 *   netns-floor [--reps N] [--keep] [--tw] [--legacy] [--established all|count|listening-ports] PID...
 *
 * For each PID, /proc/PID/ns/net. Per round, in each namespace: one inet_diag_req_v2 dump per family (AF_INET,
 * then AF_INET6; --legacy: one TCPDIAG_GETSOCK walk for both, as sockscope asks), headers only (idiag_ext = 0), every state but TIME_WAIT (sockscope takes TIME_WAIT from the
 * namespace's /proc/net/sockstat counter) unless --tw; every datagram read, the state byte counted.
 *   default  each round: open the namespace file, setns() into it, socket(), the dumps, close(), setns() home
 *            (what a walk does that keeps nothing between gathers)
 *   --keep   the sockets are made once (one setns per namespace, before the rounds): each round is the dumps
 *            alone (what a walk does that keeps one socket per namespace open between gathers); the
 *            sockstat files too (--established)
 * --established (sockscope's SnapshotOptions.established, src/snapshot/established.ts), for the same counts:
 *   all              ESTABLISHED dumped with the other states (the default)
 *   count            ESTABLISHED not dumped: per family, sockstat "TCP: inuse" / sockstat6 "TCP6: inuse" less
 *                    the full sockets (those whose message carries INET_DIAG_SHUTDOWN) of the other states
 *   listening-ports  that, and ESTABLISHED dumped with a filter program (a balanced search, as sockscope's) over
 *                    the namespace's listening ports (the rows netstat_port and listen read)
 * Prints one JSON line: sockets per round (dumped), counted per round (dumped + counted), and each round's user
 * and system CPU in ms. Built by bench/netns.ts with `cc -O2` into bench/build/.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[64 * 1024];

static double ms(struct timeval t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; }

enum { EST_ALL, EST_COUNT, EST_PORTS };

/* what one namespace's dumps saw: full sockets per family, listening ports */
struct seen {
    long full[2];
    int nports;
    unsigned short ports[4096];
};

/* --legacy: one TCPDIAG_GETSOCK walk for both families (as sockscope asks), else one v2 dump per family */
static int legacy = 0;

static long dump(int fd, unsigned states, long *counts, const unsigned char *bc, int bclen, struct seen *seen) {
    static const int fams[2] = {AF_INET, AF_INET6};
    static unsigned seq = 1;
    long total = 0;
    for (int f = 0; f < (legacy ? 1 : 2); f++) {
        struct {
            struct nlmsghdr nh;
            struct inet_diag_req_v2 r;
            struct nlattr a;
            unsigned char bc[65536];
        } req;
        struct {
            struct nlmsghdr nh;
            struct inet_diag_req r;
        } *old = (void *)&req;
        size_t body = legacy ? sizeof old->r : sizeof req.r;
        memset(&req, 0, sizeof req.nh + sizeof req.r + sizeof req.a);
        req.nh.nlmsg_len = (unsigned)(sizeof req.nh + body);
        if (bclen) {
            struct nlattr *a = (struct nlattr *)((char *)&req + req.nh.nlmsg_len);
            a->nla_type = INET_DIAG_REQ_BYTECODE;
            a->nla_len = (unsigned short)(sizeof *a + bclen);
            memcpy(a + 1, bc, (size_t)bclen);
            req.nh.nlmsg_len += NLA_ALIGN(a->nla_len);
        }
        req.nh.nlmsg_type = legacy ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nh.nlmsg_seq = ++seq;
        if (legacy) {
            old->r.idiag_states = states;
            old->r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
            old->r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        } else {
            req.r.sdiag_family = (unsigned char)fams[f];
            req.r.sdiag_protocol = IPPROTO_TCP;
            req.r.idiag_states = states;
            req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
            req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        }
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
            perror("netns-floor: sendto");
            exit(1);
        }
        for (int done = 0; !done;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n < 0) {
                perror("netns-floor: recv");
                exit(1);
            }
            if (n == 0) break;
            for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_seq != seq) continue;
                if (h->nlmsg_type == NLMSG_DONE) {
                    done = 1;
                    break;
                }
                if (h->nlmsg_type == NLMSG_ERROR) {
                    fprintf(stderr, "netns-floor: netlink error %d\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
                    exit(1);
                }
                if (h->nlmsg_type != (legacy ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY)) continue;
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                counts[m->idiag_state & 15]++;
                total++;
                if (!seen) continue;
                /* a full socket: INET_DIAG_SHUTDOWN among its attributes */
                int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
                for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
                    if ((a->rta_type & 0x3fff) == INET_DIAG_SHUTDOWN) {
                        seen->full[m->idiag_family == AF_INET6]++;
                        break;
                    }
                if (m->idiag_state == 10 && seen->nports < 4096) seen->ports[seen->nports++] = ntohs(m->id.idiag_sport);
            }
        }
    }
    return total;
}

/* "TCP: inuse N" of sockstat, "TCP6: inuse N" of sockstat6 (fd read from offset 0) */
static long inuse(int fd, const char *key) {
    char text[2048];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0) return -1;
    text[n] = 0;
    char *at = strstr(text, key);
    return at ? atol(at + strlen(key)) : -1;
}

/* the filter program src/snapshot/established.ts localPortsBytecode makes of the sorted ports: a balanced search
 * (an S_GE node falls through to the upper half and jumps to the lower one; a leaf S_GE unless a node above tested
 * it, S_LE, then a JMP to the end: accept; a failed leaf test jumps 4 past the end: reject) */
static int bc_size(int lo, int hi, int low) {
    if (lo == hi) return (low ? 0 : 8) + 12;
    int m = (lo + hi + 1) >> 1;
    return 8 + bc_size(m, hi, 1) + bc_size(lo, m - 1, low);
}

static void bc_put(unsigned char *bc, int *at, int code, int yes, int no, int port) {
    struct inet_diag_bc_op op = {code, yes, no};
    memcpy(bc + *at, &op, 4);
    *at += 4;
    if (port >= 0) {
        struct inet_diag_bc_op operand = {0, 0, port};
        memcpy(bc + *at, &operand, 4);
        *at += 4;
    }
}

static void bc_emit(const int *p, int lo, int hi, int low, int total, unsigned char *bc, int *at) {
    if (lo == hi) {
        if (!low) bc_put(bc, at, INET_DIAG_BC_S_GE, 8, total - *at + 4, p[lo]);
        bc_put(bc, at, INET_DIAG_BC_S_LE, 8, total - *at + 4, p[lo]);
        bc_put(bc, at, INET_DIAG_BC_JMP, 4, total - *at, -1);
        return;
    }
    int m = (lo + hi + 1) >> 1;
    bc_put(bc, at, INET_DIAG_BC_S_GE, 8, 8 + bc_size(m, hi, 1), p[m]);
    bc_emit(p, m, hi, 1, total, bc, at);
    bc_emit(p, lo, m - 1, low, total, bc, at);
}

static int by_port(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static int program(const struct seen *seen, unsigned char *bc) {
    int p[4096], n = 0;
    for (int i = 0; i < seen->nports; i++) p[n++] = seen->ports[i];
    qsort(p, n, sizeof p[0], by_port);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || p[k - 1] != p[i]) p[k++] = p[i];
    if (k == 0) return 0;
    int total = bc_size(0, k - 1, 0), at = 0;
    if (total > 65000) return 0;
    bc_emit(p, 0, k - 1, 0, total, bc, &at);
    return at;
}

static int enter(const char *pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/net", pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
        perror(path);
        exit(1);
    }
    close(ns);
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        perror("netns-floor: socket(AF_NETLINK)");
        exit(1);
    }
    return fd;
}

static void open_sockstat(int *fds) {
    fds[0] = open("/proc/thread-self/net/sockstat", O_RDONLY | O_CLOEXEC);
    fds[1] = open("/proc/thread-self/net/sockstat6", O_RDONLY | O_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0) {
        perror("netns-floor: sockstat");
        exit(1);
    }
}

int main(int argc, char **argv) {
    int reps = 5, keep = 0, first = 1, est = EST_ALL;
    unsigned states = 0xfff & ~(1u << 6); /* TCP_TIME_WAIT = 6 */
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--keep") == 0) keep = 1;
        else if (strcmp(argv[first], "--tw") == 0) states = 0xfff;
        else if (strcmp(argv[first], "--legacy") == 0) legacy = 1;
        else if (strcmp(argv[first], "--reps") == 0 && first + 1 < argc) reps = atoi(argv[++first]);
        else if (strcmp(argv[first], "--established") == 0 && first + 1 < argc) {
            const char *m = argv[++first];
            est = strcmp(m, "count") == 0 ? EST_COUNT : strcmp(m, "listening-ports") == 0 ? EST_PORTS : EST_ALL;
        } else {
            fprintf(stderr, "usage: netns-floor [--reps N] [--keep] [--tw] [--legacy] [--established all|count|listening-ports] PID...\n");
            return 2;
        }
        first++;
    }
    int n = argc - first;
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int *fds = calloc((size_t)n + 1, sizeof *fds);
    int *stat = calloc((size_t)n * 2 + 2, sizeof *stat);
    if (keep) {
        for (int i = 0; i < n; i++) {
            fds[i] = enter(argv[first + i]);
            if (est != EST_ALL) open_sockstat(stat + 2 * i);
        }
        setns(home, CLONE_NEWNET);
    }
    static struct seen seen;
    static unsigned char bc[65536];
    long counts[16] = {0}, total = 0, counted = 0;
    printf("{\"namespaces\":%d,\"keep\":%s,\"established\":\"%s\",\"rounds\":[", n, keep ? "true" : "false",
           est == EST_ALL ? "all" : est == EST_COUNT ? "count" : "listening-ports");
    for (int r = 0; r < reps; r++) {
        struct rusage a, b;
        getrusage(RUSAGE_SELF, &a);
        total = 0;
        counted = 0;
        for (int i = 0; i < n; i++) {
            int fd = keep ? fds[i] : enter(argv[first + i]);
            if (est == EST_ALL) {
                total += dump(fd, states, counts, NULL, 0, NULL);
            } else {
                memset(&seen, 0, sizeof seen);
                long got = dump(fd, states & ~(1u << 1), counts, NULL, 0, &seen); /* TCP_ESTABLISHED = 1 */
                int *sf = stat + 2 * i;
                if (!keep) open_sockstat(sf);
                long e4 = inuse(sf[0], "TCP: inuse ") - seen.full[0], e6 = inuse(sf[1], "TCP6: inuse ") - seen.full[1];
                if (!keep) {
                    close(sf[0]);
                    close(sf[1]);
                }
                total += got;
                counted += got + e4 + e6;
                if (est == EST_PORTS && seen.nports) {
                    int len = program(&seen, bc);
                    total += dump(fd, 1u << 1, counts, bc, len, NULL);
                }
            }
            if (!keep) {
                close(fd);
                if (setns(home, CLONE_NEWNET) != 0) {
                    perror("netns-floor: setns home");
                    return 1;
                }
            }
        }
        getrusage(RUSAGE_SELF, &b);
        printf("%s{\"sockets\":%ld,\"counted\":%ld,\"user_ms\":%.2f,\"sys_ms\":%.2f}", r ? "," : "", total,
               est == EST_ALL ? total : counted, ms(b.ru_utime) - ms(a.ru_utime),
               ms(b.ru_stime) - ms(a.ru_stime));
    }
    printf("]}\n");
    return 0;
}
