/*
 * sockscope bench: the floor of `-p` (process attribution): one walk of /proc/<pid>/fd for every process,
 * readlinkat() on every fd, counting the links that are sockets ("socket:[<inode>]"). No index is built and
 * nothing is printed but the counts, so what is left is what the kernel charges for the walk:
 * getdents on /proc and on each fd directory, one readlink per fd.
 *
 *   procwalk        -> {"processes": N, "fds": N, "sockets": N}
 *
 * Built by bench/run.ts with `cc -O2` (like nldump); used as an informational row beside `ss -tanp`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  long processes = 0, fds = 0, sockets = 0;
  DIR *proc = opendir("/proc");
  if (!proc) {
    perror("/proc");
    return 1;
  }
  struct dirent *p;
  while ((p = readdir(proc))) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) continue; /* exited, or not ours to read */
    DIR *d = fdopendir(dfd);
    if (!d) {
      close(dfd);
      continue;
    }
    processes++;
    struct dirent *f;
    while ((f = readdir(d))) {
      if (f->d_name[0] == '.') continue;
      fds++;
      char link[64];
      ssize_t n = readlinkat(dfd, f->d_name, link, sizeof link);
      if (n > 8 && memcmp(link, "socket:[", 8) == 0) sockets++;
    }
    closedir(d);
  }
  closedir(proc);
  printf("{\"processes\": %ld, \"fds\": %ld, \"sockets\": %ld}\n", processes, fds, sockets);
  return 0;
}
