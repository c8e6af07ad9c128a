/*
 * netns-floor: the floor for `--all-netns`. The least a program can do to count TCP sockets by state in every
 * network namespace over NETLINK_SOCK_DIAG, timed by the CPU it uses (getrusage: user + system).
 *
 *   netns-floor [--reps N] [--keep] [--tw] PID...
 *
 * For each PID, /proc/PID/ns/net. Per round, in each namespace: one inet_diag_req_v2 dump per family (AF_INET,
 * then AF_INET6), headers only (idiag_ext = 0), every state but TIME_WAIT (sockscope takes TIME_WAIT from the
 * namespace's /proc/net/sockstat counter) unless --tw; every datagram read, the state byte counted.
 *   default  each round: open the namespace file, setns() into it, socket(), the dumps, close(), setns() home
 *            (what a walk does that keeps nothing between gathers)
 *   --keep   the sockets are made once (one setns per namespace, before the rounds): each round is the dumps
 *            alone (what a walk does that keeps one socket per namespace open between gathers)
 * Prints one JSON line: sockets per round, and each round's user and system CPU in ms. Built by bench/netns.ts
 * with `cc -O2` into bench/build/.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
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

static long dump(int fd, unsigned states, long *counts) {
    static const int fams[2] = {AF_INET, AF_INET6};
    static unsigned seq = 1;
    long total = 0;
    for (int f = 0; f < 2; f++) {
        struct {
            struct nlmsghdr nh;
            struct inet_diag_req_v2 r;
        } req;
        memset(&req, 0, sizeof req);
        req.nh.nlmsg_len = sizeof req;
        req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nh.nlmsg_seq = ++seq;
        req.r.sdiag_family = (unsigned char)fams[f];
        req.r.sdiag_protocol = IPPROTO_TCP;
        req.r.idiag_states = states;
        req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
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
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
                counts[((const struct inet_diag_msg *)NLMSG_DATA(h))->idiag_state & 15]++;
                total++;
            }
        }
    }
    return total;
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

int main(int argc, char **argv) {
    int reps = 5, keep = 0, first = 1;
    unsigned states = 0xfff & ~(1u << 6); /* TCP_TIME_WAIT = 6 */
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--keep") == 0) keep = 1;
        else if (strcmp(argv[first], "--tw") == 0) states = 0xfff;
        else if (strcmp(argv[first], "--reps") == 0 && first + 1 < argc) reps = atoi(argv[++first]);
        else {
            fprintf(stderr, "usage: netns-floor [--reps N] [--keep] [--tw] PID...\n");
            return 2;
        }
        first++;
    }
    int n = argc - first;
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int *fds = calloc((size_t)n + 1, sizeof *fds);
    if (keep) {
        for (int i = 0; i < n; i++) fds[i] = enter(argv[first + i]);
        setns(home, CLONE_NEWNET);
    }
    long counts[16] = {0}, total = 0;
    printf("{\"namespaces\":%d,\"keep\":%s,\"rounds\":[", n, keep ? "true" : "false");
    for (int r = 0; r < reps; r++) {
        struct rusage a, b;
        getrusage(RUSAGE_SELF, &a);
        total = 0;
        for (int i = 0; i < n; i++) {
            int fd = keep ? fds[i] : enter(argv[first + i]);
            total += dump(fd, states, counts);
            if (!keep) {
                close(fd);
                if (setns(home, CLONE_NEWNET) != 0) {
                    perror("netns-floor: setns home");
                    return 1;
                }
            }
        }
        getrusage(RUSAGE_SELF, &b);
        printf("%s{\"sockets\":%ld,\"user_ms\":%.2f,\"sys_ms\":%.2f}", r ? "," : "", total, ms(b.ru_utime) - ms(a.ru_utime),
               ms(b.ru_stime) - ms(a.ru_stime));
    }
    printf("]}\n");
    return 0;
}
