/*
 * Connection churn for the lifecycle benchmark (bench/lifecycle.ts): opens and closes TCP connections on
 * loopback as fast as it can for a given time, and says how many.
 *
 *   churn PORT SECONDS CLIENT_THREADS BYTES
 *
 * A listener on 0.0.0.0:PORT served by two threads (accept, read to EOF, close); CLIENT_THREADS threads each
 * connecting to 127.0.0.{1..8}:PORT in turn (8 destinations: 8 times the ephemeral ports), writing BYTES and
 * closing. Every connection ends gracefully on both sides, so the kernel destroys two full sockets per
 * connection (the client's as it enters TIME_WAIT, the server's after LAST_ACK) and announces both. Prints
 * {"connections":N,"failed":F,"seconds":S} on stdout when done; the listener is closed last (one more event).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, bytes;
static double seconds;
static int listener;
static atomic_long made, failed;
static atomic_int stop;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *serve(void *arg) {
  (void)arg;
  char buf[65536];
  for (;;) {
    int c = accept(listener, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return NULL; /* the listener was shut down */
    }
    while (read(c, buf, sizeof buf) > 0) {}
    close(c);
  }
}

static void *client(void *arg) {
  long id = (long)arg;
  char *payload = calloc(1, bytes > 0 ? bytes : 1);
  unsigned dst = (unsigned)id;
  while (!atomic_load(&stop)) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    to.sin_addr.s_addr = htonl(0x7f000001 + (dst++ % 8));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof to) < 0) {
      atomic_fetch_add(&failed, 1);
      if (s >= 0) close(s);
      continue;
    }
    if (bytes > 0 && write(s, payload, bytes) != bytes) atomic_fetch_add(&failed, 1);
    close(s);
    atomic_fetch_add(&made, 1);
  }
  free(payload);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: churn PORT SECONDS CLIENT_THREADS BYTES\n");
    return 2;
  }
  port = atoi(argv[1]);
  seconds = atof(argv[2]);
  int clients = atoi(argv[3]);
  bytes = atoi(argv[4]);
  listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(listener, (struct sockaddr *)&any, sizeof any) < 0 || listen(listener, 4096) < 0) {
    perror("listen");
    return 1;
  }
  pthread_t servers[2], *cs = calloc(clients, sizeof(pthread_t));
  for (int i = 0; i < 2; i++) pthread_create(&servers[i], NULL, serve, NULL);
  double t0 = now();
  for (long i = 0; i < clients; i++) pthread_create(&cs[i], NULL, client, (void *)i);
  while (now() - t0 < seconds) usleep(10000);
  atomic_store(&stop, 1);
  for (int i = 0; i < clients; i++) pthread_join(cs[i], NULL);
  double took = now() - t0;
  usleep(200000); /* the servers read the last EOFs */
  shutdown(listener, SHUT_RDWR);
  for (int i = 0; i < 2; i++) pthread_join(servers[i], NULL);
  close(listener);
  printf("{\"connections\":%ld,\"failed\":%ld,\"seconds\":%.3f}\n", atomic_load(&made), atomic_load(&failed), took);
  return 0;
}
