/* servers.c - see servers.h. */
#define _GNU_SOURCE
#include "servers.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

#define INFLUXD "/usr/bin/influxd"
#define CARBON_CACHE "/usr/bin/carbon-cache"
/* Debian's python3, where python3-whisper is (not a PATH's other one) */
#define PYTHON3 "/usr/bin/python3"

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

int free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = loopback(0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

bool tcp_port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = loopback(port);
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

bool udp_port_bound(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = loopback(port);
  bool taken = bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
               errno == EADDRINUSE;
  close(fd);
  return taken;
}

pid_t spawn_daemon(char *const argv[], const char *log) {
  pid_t parent = getpid();
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(126);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

void wait_listening(const char *what, pid_t pid, int port, const char *log) {
  double deadline = now_s() + 30;
  while (!tcp_port_open(port)) {
    if (waitpid(pid, NULL, WNOHANG) != 0)
      ck_abort_msg("%s exited before listening on 127.0.0.1:%d:\n%s", what,
                   port, slurp(log));
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      ck_abort_msg("%s not listening on 127.0.0.1:%d after 30 s:\n%s", what,
                   port, slurp(log));
    }
    usleep(50000);
  }
}

static void put(const char *dir, const char *file, const char *content) {
  char *path = path_join(dir, file);
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  fputs(content, f);
  fclose(f);
  free(path);
}

/* ---- InfluxDB 1.x ------------------------------------------------------ */

pid_t start_influxd(const char *dir, int http, int rpc, int udp, char **logp) {
  const char *bin = getenv("INFLUXD") ? getenv("INFLUXD") : INFLUXD;
  ck_assert_msg(access(bin, X_OK) == 0, "%s is missing (influxdb): %s", bin,
                strerror(errno));
  char conf[4096];
  snprintf(conf, sizeof(conf),
           "reporting-disabled = true\n"
           "bind-address = \"127.0.0.1:%d\"\n"
           "[meta]\n  dir = \"%s/influxdb/meta\"\n"
           "[data]\n  dir = \"%s/influxdb/data\"\n"
           "  wal-dir = \"%s/influxdb/wal\"\n  query-log-enabled = false\n"
           "[monitor]\n  store-enabled = false\n"
           "[http]\n  enabled = true\n  bind-address = \"127.0.0.1:%d\"\n"
           "  log-enabled = false\n"
           "[[collectd]]\n  enabled = true\n  bind-address = \"127.0.0.1:%d\"\n"
           "  database = \"collectd\"\n"
           "  typesdb = \"/usr/share/collectd/types.db\"\n"
           "  batch-size = 100\n  batch-timeout = \"100ms\"\n",
           rpc, dir, dir, dir, http, udp);
  put(dir, "influxdb.conf", conf);
  char *cfg = path_join(dir, "influxdb.conf");
  *logp = path_join(dir, "influxd.log");
  char *argv[] = {(char *)bin, "-config", cfg, NULL};
  pid_t pid = spawn_daemon(argv, *logp);
  free(cfg);
  return pid;
}

/* GET /ping answers 204 once influxd is up */
static bool influx_ping(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  struct sockaddr_in a = loopback(port);
  bool ok = false;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
    const char *req = "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
      char buf[512];
      ssize_t n = read(fd, buf, sizeof(buf) - 1);
      if (n > 0) {
        buf[n] = 0;
        ok = strstr(buf, " 204 ") != NULL;
      }
    }
  }
  close(fd);
  return ok;
}

void wait_influxd(pid_t pid, int http, const char *log) {
  double deadline = now_s() + 15;
  while (!influx_ping(http)) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      ck_abort_msg("influxd exited before answering /ping:\n%s", slurp(log));
    if (now_s() > deadline)
      ck_abort_msg("influxd did not answer /ping on 127.0.0.1:%d in 15 s:\n%s",
                   http, slurp(log));
    usleep(50000);
  }
}

char *influx_query(int http, const char *q) {
  char url[128], *qarg = NULL;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/query", http);
  ck_assert_int_ge(asprintf(&qarg, "q=%s", q), 0);
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execlp("curl", "curl", "-sS", "--max-time", "10", "-G", url,
           "--data-urlencode", "db=collectd", "--data-urlencode", "epoch=u",
           "--data-urlencode", qarg, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  free(qarg);
  size_t cap = 1 << 16, n = 0;
  char *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  for (;;) {
    if (n + 4096 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      ck_assert_ptr_nonnull(out);
    }
    ssize_t r = read(p[0], out + n, cap - n - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  out[n] = 0;
  close(p[0]);
  int st;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl failed: %s\n%s", q,
                out);
  return out;
}

size_t influx_points(const char *json, double *t, double *v, size_t max) {
  const char *s = strstr(json, "\"values\":[");
  if (s == NULL)
    return 0;
  s += strlen("\"values\":[");
  size_t n = 0;
  while (*s == '[' && n < max) {
    char *end;
    t[n] = strtod(s + 1, &end);
    ck_assert_msg(*end == ',', "bad point in %s", json);
    v[n] = strtod(end + 1, &end);
    ck_assert_msg(*end == ']', "bad point in %s", json);
    n++;
    s = end + 1;
    if (*s == ',')
      s++;
  }
  return n;
}

void influx_settle(int http, const char *q, double timeout_s) {
  char *prev = NULL;
  for (double deadline = now_s() + timeout_s;;) {
    char *cur = influx_query(http, q);
    bool stable = prev && strstr(cur, "\"values\":[") && strcmp(prev, cur) == 0;
    free(prev);
    prev = cur;
    if (stable || now_s() > deadline)
      break;
    usleep(300000);
  }
  free(prev);
}

/* ---- carbon-cache and whisper ------------------------------------------ */

pid_t start_carbon(const char *dir, int port, char **logp) {
  ck_assert_msg(access(CARBON_CACHE, X_OK) == 0,
                "%s is missing (graphite-carbon): %s", CARBON_CACHE,
                strerror(errno));
  char conf[8192];
  snprintf(conf, sizeof(conf),
           "[cache]\n"
           "STORAGE_DIR = %s/carbon\n"
           "LOCAL_DATA_DIR = %s/carbon/whisper\n"
           "WHITELISTS_DIR = %s/carbon/lists\n"
           "LOG_DIR = %s/carbon/log\n"
           "PID_DIR = %s/carbon\n"
           "USER =\n"
           "DATABASE = whisper\n"
           "ENABLE_LOGROTATION = False\n"
           "ENABLE_TAGS = False\n"
           "MAX_CACHE_SIZE = inf\n"
           "MAX_UPDATES_PER_SECOND = 100000\n"
           "MAX_CREATES_PER_MINUTE = inf\n"
           "LINE_RECEIVER_INTERFACE = 127.0.0.1\n"
           "LINE_RECEIVER_PORT = %d\n"
           "ENABLE_UDP_LISTENER = False\n"
           "PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n"
           "PICKLE_RECEIVER_PORT = 0\n"
           "CACHE_QUERY_INTERFACE = 127.0.0.1\n"
           "CACHE_QUERY_PORT = 0\n"
           "WHISPER_AUTOFLUSH = True\n"
           "WHISPER_FALLOCATE_CREATE = False\n"
           "LOG_LISTENER_CONN_SUCCESS = False\n",
           dir, dir, dir, dir, dir, port);
  put(dir, "carbon.conf", conf);
  put(dir, "storage-schemas.conf",
      "[everything]\npattern = .*\nretentions = 1s:1h\n");
  char *cfg = path_join(dir, "carbon.conf");
  char *opt = NULL;
  ck_assert_int_ge(asprintf(&opt, "--config=%s", cfg), 0);
  *logp = path_join(dir, "carbon.log");
  char *argv[] = {CARBON_CACHE, opt, "--nodaemon", "start", NULL};
  pid_t pid = spawn_daemon(argv, *logp);
  free(opt);
  free(cfg);
  return pid;
}

void wait_carbon(pid_t pid, int port, const char *log) {
  wait_listening("carbon-cache", pid, port, log);
}

char *whisper_dump(const char *dir, char *const files[], size_t n) {
  static const char script[] =
      "import os, sys, whisper\n"
      "os.chdir(sys.argv[1])\n"
      "for f in sys.argv[2:]:\n"
      "    (start, end, step), values = whisper.fetch(f, 0)\n"
      "    for i, v in enumerate(values):\n"
      "        if v is not None:\n"
      "            print(f, start + i * step, repr(v))\n";
  char **argv = calloc(n + 5, sizeof(char *));
  ck_assert_ptr_nonnull(argv);
  char *data = path_join(dir, "carbon/whisper");
  argv[0] = PYTHON3;
  argv[1] = "-c";
  argv[2] = (char *)script;
  argv[3] = data;
  for (size_t i = 0; i < n; i++)
    argv[4 + i] = files[i];
  char *out = path_join(dir, "whisper.out");
  char *err = path_join(dir, "whisper.err");
  unlink(out);
  /* stdout only: the points; stderr apart, for the failure message */
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0)
      _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  ck_assert_msg(wait_exit(pid, 60) == 0, "whisper.fetch failed:\n%s",
                slurp(err));
  char *text = slurp(out);
  free(argv);
  free(data);
  free(out);
  free(err);
  return text;
}
