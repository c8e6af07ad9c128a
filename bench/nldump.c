/*
 * nldump: the floor for sockscope's TCP numbers. The least a program can do to count TCP sockets by state over
 * NETLINK_SOCK_DIAG: one inet_diag_req_v2 dump per family (AF_INET, then AF_INET6), states 0xfff, read every
 * datagram, look at the state byte, print one JSON line.
 *
 *   nldump          census: headers only (idiag_ext = 0)
 *   nldump info     also asks for struct tcp_info (INET_DIAG_INFO) and reads one field of it per socket,
 *                   as any per-connection collector must
 *
 * States 0xfff, not ~0: with bit 13 (TCPF_BOUND_INACTIVE) set, kernels >= 6.7 also walk the bind table.
 * Built by bench/run.ts with `cc -O2` into bench/build/.
 */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[64 * 1024]; /* the kernel sends dump datagrams of at most ~32 KiB */

static const char *const names[16] = {
    "UNKNOWN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN",
    "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV", "BOUND-INACTIVE", "S14", "S15",
};

int main(int argc, char **argv) {
    int info = argc > 1 && strcmp(argv[1], "info") == 0;
    if (argc > 1 && !info) {
        fprintf(stderr, "usage: nldump [info]\n");
        return 2;
    }
    long counts[16] = {0}, total = 0, with_info = 0;
    unsigned long long rtt_sum = 0;
    const int fams[2] = {AF_INET, AF_INET6};
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        perror("nldump: socket(AF_NETLINK)");
        return 1;
    }
    for (int f = 0; f < 2; f++) {
        struct {
            struct nlmsghdr nh;
            struct inet_diag_req_v2 r;
        } req;
        memset(&req, 0, sizeof req);
        req.nh.nlmsg_len = sizeof req;
        req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nh.nlmsg_seq = (unsigned)f + 1;
        req.r.sdiag_family = (unsigned char)fams[f];
        req.r.sdiag_protocol = IPPROTO_TCP;
        req.r.idiag_states = 0xfff;
        req.r.idiag_ext = info ? 1 << (INET_DIAG_INFO - 1) : 0;
        req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
            perror("nldump: sendto");
            return 1;
        }
        for (int done = 0; !done;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n < 0) {
                perror("nldump: recv");
                return 1;
            }
            if (n == 0) break;
            for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_seq != (unsigned)f + 1) continue;
                if (h->nlmsg_type == NLMSG_DONE) {
                    done = 1;
                    break;
                }
                if (h->nlmsg_type == NLMSG_ERROR) {
                    struct nlmsgerr *e = NLMSG_DATA(h);
                    fprintf(stderr, "nldump: netlink error %d\n", e->error);
                    return 1;
                }
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                counts[m->idiag_state & 15]++;
                total++;
                if (!info) continue;
                int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
                for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                    if (a->rta_type != INET_DIAG_INFO) continue;
                    const struct tcp_info *ti = RTA_DATA(a);
                    if ((size_t)RTA_PAYLOAD(a) >= offsetof(struct tcp_info, tcpi_rtt) + sizeof ti->tcpi_rtt) rtt_sum += ti->tcpi_rtt;
                    with_info++;
                    break;
                }
            }
        }
    }
    close(fd);
    printf("{\"total\":%ld,\"states\":{", total);
    for (int i = 0, first = 1; i < 16; i++) {
        if (!counts[i]) continue;
        printf("%s\"%s\":%ld", first ? "" : ",", names[i], counts[i]);
        first = 0;
    }
    printf("}");
    if (info) printf(",\"with_info\":%ld,\"rtt_sum_us\":%llu", with_info, rtt_sum);
    printf("}\n");
    return 0;
}
