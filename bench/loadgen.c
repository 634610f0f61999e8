/*
 * Load generator for Postern's side-by-side benchmark (bench/run.sh).
 *
 *   loadgen imap-login  PORT CONC SESSIONS USER PASS [PROXYPID [AUTHPID]]
 *   loadgen pop3-login  PORT CONC SESSIONS USER PASS [PROXYPID [AUTHPID]]
 *   loadgen smtp        PORT CONC SESSIONS USER PASS [PROXYPID [AUTHPID]]
 *   loadgen imap-fetch  PORT STREAMS FOLDER USER PASS [PROXYPID]
 *   loadgen imap-idle   PORT COUNT USER PASS [PROXYPID]
 *   loadgen smtp-sink   (prints "port N", then serves until killed)
 *
 * Each workload prints one line of key=value pairs on stdout (run.sh parses
 * it), ending with "errors=N". Session workloads use one blocking thread per
 * concurrent client: the threads spend their time in the kernel waiting, so
 * even at 64 the generator stays far below one core (it reports its own CPU
 * share from getrusage as gen_cpu). With PROXYPID, the proxy's CPU seconds
 * over the workload are reported too (the sum of its threads' schedstat, in
 * nanoseconds; see proc_cpu), and for
 * imap-idle its RSS and thread count (from /proc/PID/status). With AUTHPID (a
 * single-threaded auth service), its CPU per session too, from
 * /proc/AUTHPID/schedstat in nanoseconds: it spends only tens of microseconds a
 * login, which clock ticks cannot show.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Every read waits at most this long: a stuck proxy fails the run, it never hangs it. */
#define IO_TIMEOUT_MS 20000
#define LINE_MAX_BYTES 8192

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* utime+stime of a process in seconds, or -1 (fields 14 and 15 of /proc/PID/stat). */
static double proc_ticks_cpu_s(int pid) {
    if (pid <= 0) return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Time on CPU of a process's main thread in seconds (/proc/PID/schedstat), or -1. */
static double proc_thread_cpu_s(int pid) {
    if (pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long ns = 0;
    int got = fscanf(f, "%llu", &ns);
    fclose(f);
    return got == 1 ? ns / 1e9 : -1;
}

/* Time on CPU of all of a process's threads in seconds, summed from
 * /proc/PID/task/TID/schedstat in nanoseconds, or -1. */
static double proc_threads_cpu_s(int pid) {
    if (pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char stat[320];
        snprintf(stat, sizeof stat, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(stat, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) sum += ns / 1e9;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* A proxy's CPU seconds at one moment, two ways: clock ticks from
 * /proc/PID/stat count every thread that ever ran but move in 10 ms steps
 * (50 us a login over 200 logins); the per-thread schedstat sum is exact to
 * the nanosecond but forgets a thread that exits. */
struct proc_cpu { double ticks, threads; };

static struct proc_cpu proc_cpu(int pid) {
    struct proc_cpu c = { proc_ticks_cpu_s(pid), proc_threads_cpu_s(pid) };
    return c;
}

/* CPU seconds between two readings, or -1: the exact sum unless a thread
 * exited in between (the ticks then ran ahead of it by more than the two
 * ticks that rounding at both ends may add, and 5%). */
static double proc_cpu_delta(struct proc_cpu a, struct proc_cpu b) {
    if (a.ticks < 0 || b.ticks < 0) return -1;
    double ticks = b.ticks - a.ticks;
    if (a.threads < 0 || b.threads < 0) return ticks;
    double threads = b.threads - a.threads;
    return ticks > threads * 1.05 + 2.0 / sysconf(_SC_CLK_TCK) ? ticks : threads;
}

/* A "Key:   value kB" number from /proc/PID/status, or -1. */
static long proc_status(int pid, const char *key) {
    if (pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') { v = atol(line + kl + 1); break; }
    }
    fclose(f);
    return v;
}

/* ---- a connection with a read buffer ---- */

typedef struct {
    int fd;
    char buf[65536];
    size_t start, end;
} conn;

static int conn_open(conn *c, int port) {
    c->start = c->end = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) { close(c->fd); c->fd = -1; return -1; }
    return 0;
}

static void conn_close(conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static int wait_readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do { r = poll(&p, 1, IO_TIMEOUT_MS); } while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

static int fill(conn *c) {
    if (c->start > 0 && c->start == c->end) c->start = c->end = 0;
    if (c->end == sizeof c->buf) {
        if (c->start == 0) return -1;
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (wait_readable(c->fd) < 0) return -1;
    ssize_t n = read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
    if (n <= 0) return -1;
    c->end += n;
    return 0;
}

/* Reads one CRLF line into out (NUL-terminated, without CRLF). */
static int read_line(conn *c, char *out, size_t cap) {
    for (int rounds = 0; rounds < 100000; rounds++) {
        char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
        if (nl) {
            size_t len = nl - (c->buf + c->start);
            size_t copy = len < cap - 1 ? len : cap - 1;
            memcpy(out, c->buf + c->start, copy);
            if (copy > 0 && out[copy - 1] == '\r') copy--;
            out[copy] = 0;
            c->start += len + 1;
            return 0;
        }
        if (fill(c) < 0) return -1;
    }
    return -1;
}

static int send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= n;
    }
    return 0;
}

static int send_str(conn *c, const char *s) { return send_all(c->fd, s, strlen(s)); }

/* Reads lines until one starts with prefix (an IMAP tagged reply); 0 if its status is OK. */
static int imap_wait_tag(conn *c, const char *tag) {
    char line[LINE_MAX_BYTES];
    size_t tl = strlen(tag);
    for (int i = 0; i < 10000; i++) {
        if (read_line(c, line, sizeof line) < 0) return -1;
        if (strncmp(line, tag, tl) == 0 && line[tl] == ' ') return strncmp(line + tl + 1, "OK", 2) == 0 ? 0 : -1;
    }
    return -1;
}

/* POP3: one line, "+OK" expected. */
static int pop3_ok(conn *c) {
    char line[LINE_MAX_BYTES];
    if (read_line(c, line, sizeof line) < 0) return -1;
    return strncmp(line, "+OK", 3) == 0 ? 0 : -1;
}

/* SMTP: a reply (possibly multi-line "250-..."), with the given first digit expected. */
static int smtp_reply(conn *c, char digit) {
    char line[LINE_MAX_BYTES];
    for (int i = 0; i < 1000; i++) {
        if (read_line(c, line, sizeof line) < 0) return -1;
        if (strlen(line) < 3) return -1;
        if (line[3] != '-') return line[0] == digit ? 0 : -1;
    }
    return -1;
}

/* ---- session workloads ---- */

static const char *g_user, *g_pass;
static int g_port;
static char g_smtp_data[10 * 1024 + 64];

static int imap_login_session(conn *c) {
    char cmd[512];
    char line[LINE_MAX_BYTES];
    if (conn_open(c, g_port) < 0) return -1;
    int rc = -1;
    if (read_line(c, line, sizeof line) < 0 || strncmp(line, "* OK", 4) != 0) goto out;
    snprintf(cmd, sizeof cmd, "a1 LOGIN %s %s\r\n", g_user, g_pass);
    if (send_str(c, cmd) < 0 || imap_wait_tag(c, "a1") < 0) goto out;
    if (send_str(c, "a2 LOGOUT\r\n") < 0 || imap_wait_tag(c, "a2") < 0) goto out;
    rc = 0;
out:
    conn_close(c);
    return rc;
}

static int pop3_login_session(conn *c) {
    char cmd[512];
    if (conn_open(c, g_port) < 0) return -1;
    int rc = -1;
    if (pop3_ok(c) < 0) goto out;
    snprintf(cmd, sizeof cmd, "USER %s\r\n", g_user);
    if (send_str(c, cmd) < 0 || pop3_ok(c) < 0) goto out;
    snprintf(cmd, sizeof cmd, "PASS %s\r\n", g_pass);
    if (send_str(c, cmd) < 0 || pop3_ok(c) < 0) goto out;
    if (send_str(c, "QUIT\r\n") < 0 || pop3_ok(c) < 0) goto out;
    rc = 0;
out:
    conn_close(c);
    return rc;
}

/* One command per round trip (no pipelining): the pattern where a missing TCP_NODELAY shows. */
static int smtp_session(conn *c) {
    if (conn_open(c, g_port) < 0) return -1;
    int rc = -1;
    if (smtp_reply(c, '2') < 0) goto out;
    if (send_str(c, "EHLO loadgen.test\r\n") < 0 || smtp_reply(c, '2') < 0) goto out;
    if (send_str(c, "MAIL FROM:<bench@example.test>\r\n") < 0 || smtp_reply(c, '2') < 0) goto out;
    if (send_str(c, "RCPT TO:<alice@example.test>\r\n") < 0 || smtp_reply(c, '2') < 0) goto out;
    if (send_str(c, "DATA\r\n") < 0 || smtp_reply(c, '3') < 0) goto out;
    if (send_str(c, g_smtp_data) < 0 || smtp_reply(c, '2') < 0) goto out;
    if (send_str(c, "QUIT\r\n") < 0 || smtp_reply(c, '2') < 0) goto out;
    rc = 0;
out:
    conn_close(c);
    return rc;
}

typedef int (*session_fn)(conn *);

static session_fn g_session;
static int g_total;
static atomic_int g_next, g_errors;
static double *g_latency;

static void *session_thread(void *arg) {
    (void)arg;
    conn *c = malloc(sizeof *c);
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (i >= g_total) break;
        double t0 = now_s();
        if (g_session(c) < 0) { atomic_fetch_add(&g_errors, 1); g_latency[i] = -1; continue; }
        g_latency[i] = now_s() - t0;
    }
    free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_sessions(session_fn fn, int conc, int total, int pid, int auth_pid) {
    g_session = fn;
    g_total = total;
    g_latency = calloc(total, sizeof(double));
    pthread_t *th = calloc(conc, sizeof(pthread_t));
    struct proc_cpu pcpu0 = proc_cpu(pid);
    double cpu0 = self_cpu_s(), acpu0 = proc_thread_cpu_s(auth_pid), t0 = now_s();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < conc; i++) pthread_create(&th[i], &attr, session_thread, NULL);
    for (int i = 0; i < conc; i++) pthread_join(th[i], NULL);
    double wall = now_s() - t0, cpu = self_cpu_s() - cpu0, acpu = proc_thread_cpu_s(auth_pid);
    double pcpu = pid > 0 ? proc_cpu_delta(pcpu0, proc_cpu(pid)) : -1;
    int ok = 0;
    for (int i = 0; i < total; i++)
        if (g_latency[i] >= 0) g_latency[ok++] = g_latency[i];
    qsort(g_latency, ok, sizeof(double), cmp_double);
    double p50 = ok ? g_latency[(ok - 1) / 2] : 0, p99 = ok ? g_latency[(int)((ok - 1) * 0.99)] : 0;
    printf("rate=%.1f p50_ms=%.3f p99_ms=%.3f sessions=%d wall_s=%.3f gen_cpu=%.3f", ok / wall, p50 * 1e3, p99 * 1e3,
           ok, wall, cpu / wall);
    if (pcpu >= 0)
        printf(" proxy_cpu_s=%.3f proxy_cpu_per_login_us=%.1f", pcpu, ok ? pcpu / ok * 1e6 : 0);
    if (auth_pid > 0 && acpu0 >= 0 && acpu >= 0)
        printf(" auth_cpu_per_login_us=%.1f", ok ? (acpu - acpu0) / ok * 1e6 : 0);
    printf(" errors=%d\n", atomic_load(&g_errors));
    return atomic_load(&g_errors) == 0 ? 0 : 1;
}

/* ---- 64 MB FETCH ---- */

static const char *g_folder;
static atomic_llong g_fetched;

static void *fetch_thread(void *arg) {
    (void)arg;
    conn *c = malloc(sizeof *c);
    char cmd[512], line[LINE_MAX_BYTES];
    int ok = 0;
    if (conn_open(c, g_port) < 0) goto out;
    if (read_line(c, line, sizeof line) < 0) goto out;
    snprintf(cmd, sizeof cmd, "a1 LOGIN %s %s\r\na2 EXAMINE %s\r\n", g_user, g_pass, g_folder);
    if (send_str(c, cmd) < 0 || imap_wait_tag(c, "a1") < 0 || imap_wait_tag(c, "a2") < 0) goto out;
    if (send_str(c, "a3 FETCH 1 BODY.PEEK[]\r\n") < 0) goto out;
    if (read_line(c, line, sizeof line) < 0) goto out; /* * 1 FETCH (BODY[] {N} */
    char *brace = strrchr(line, '{');
    if (!brace) goto out;
    long long want = atoll(brace + 1), got = 0;
    while (got < want) {
        if (c->start == c->end && fill(c) < 0) goto out;
        long long take = (long long)(c->end - c->start);
        if (take > want - got) take = want - got;
        c->start += take;
        got += take;
    }
    atomic_fetch_add(&g_fetched, got);
    if (imap_wait_tag(c, "a3") < 0) goto out;
    if (send_str(c, "a4 LOGOUT\r\n") < 0 || imap_wait_tag(c, "a4") < 0) goto out;
    ok = 1;
out:
    if (!ok) atomic_fetch_add(&g_errors, 1);
    conn_close(c);
    free(c);
    return NULL;
}

static int run_fetch(int streams, int pid) {
    pthread_t th[256];
    if (streams > 256) streams = 256;
    struct proc_cpu pcpu0 = proc_cpu(pid);
    double cpu0 = self_cpu_s(), t0 = now_s();
    for (int i = 0; i < streams; i++) pthread_create(&th[i], NULL, fetch_thread, NULL);
    for (int i = 0; i < streams; i++) pthread_join(th[i], NULL);
    double wall = now_s() - t0, cpu = self_cpu_s() - cpu0;
    double pcpu = pid > 0 ? proc_cpu_delta(pcpu0, proc_cpu(pid)) : -1;
    double mb = atomic_load(&g_fetched) / 1e6;
    printf("mbps=%.1f bytes=%lld wall_s=%.3f gen_cpu=%.3f", mb / wall, (long long)atomic_load(&g_fetched), wall,
           cpu / wall);
    if (pcpu >= 0)
        printf(" proxy_cpu_s=%.3f proxy_cpu_per_gb=%.3f", pcpu, mb > 0 ? pcpu / (mb / 1e3) : 0);
    printf(" errors=%d\n", atomic_load(&g_errors));
    return atomic_load(&g_errors) == 0 ? 0 : 1;
}

/* ---- idle sessions ---- */

static conn **g_idle;
static int g_idle_count;
static atomic_int g_idle_next;

static void *idle_login_thread(void *arg) {
    (void)arg;
    char cmd[512], line[LINE_MAX_BYTES];
    for (;;) {
        int i = atomic_fetch_add(&g_idle_next, 1);
        if (i >= g_idle_count) break;
        conn *c = g_idle[i];
        int ok = 0;
        if (conn_open(c, g_port) == 0 && read_line(c, line, sizeof line) == 0) {
            snprintf(cmd, sizeof cmd, "a1 LOGIN %s %s\r\n", g_user, g_pass);
            ok = send_str(c, cmd) == 0 && imap_wait_tag(c, "a1") == 0;
        }
        if (!ok) { atomic_fetch_add(&g_errors, 1); conn_close(c); }
    }
    return NULL;
}

static void *idle_noop_thread(void *arg) {
    long part = (long)arg, parts = 16;
    for (int i = part; i < g_idle_count; i += parts) {
        conn *c = g_idle[i];
        if (c->fd < 0) continue;
        if (send_str(c, "n1 NOOP\r\n") < 0 || imap_wait_tag(c, "n1") < 0) { atomic_fetch_add(&g_errors, 1); conn_close(c); }
    }
    return NULL;
}

static int run_idle(int count, int pid) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    g_idle_count = count;
    g_idle = calloc(count, sizeof(conn *));
    /* Idle connections need no 64 KB buffer each, but a shared layout keeps the code simple; 8,000 x 64 KB is 512 MB
     * of virtual memory touched only as far as replies reach. */
    for (int i = 0; i < count; i++) { g_idle[i] = malloc(sizeof(conn)); g_idle[i]->fd = -1; }
    long rss0 = proc_status(pid, "VmRSS"), threads0 = proc_status(pid, "Threads");
    double t0 = now_s();
    pthread_t th[16];
    for (long i = 0; i < 16; i++) pthread_create(&th[i], NULL, idle_login_thread, NULL);
    for (int i = 0; i < 16; i++) pthread_join(th[i], NULL);
    double login_wall = now_s() - t0;
    int held = 0;
    for (int i = 0; i < count; i++) held += g_idle[i]->fd >= 0;
    usleep(500 * 1000); /* let the proxy settle: sessions handed to its relay, pool threads parked */
    long rss1 = proc_status(pid, "VmRSS"), threads = proc_status(pid, "Threads");
    int login_errors = atomic_load(&g_errors);
    for (long i = 0; i < 16; i++) pthread_create(&th[i], NULL, idle_noop_thread, (void *)i);
    for (int i = 0; i < 16; i++) pthread_join(th[i], NULL);
    int answered = 0;
    for (int i = 0; i < count; i++) answered += g_idle[i]->fd >= 0;
    printf("held=%d answered=%d login_wall_s=%.3f", held, answered, login_wall);
    if (pid > 0 && rss0 >= 0 && rss1 >= 0)
        printf(" rss_kb=%ld rss_per_session_kb=%.2f rss_total_kb=%ld threads_before=%ld threads=%ld", rss1 - rss0,
               held ? (double)(rss1 - rss0) / held : 0, rss1, threads0, threads);
    printf(" errors=%d\n", atomic_load(&g_errors));
    (void)login_errors;
    for (int i = 0; i < count; i++) {
        if (g_idle[i]->fd >= 0) send_str(g_idle[i], "z LOGOUT\r\n");
        conn_close(g_idle[i]);
    }
    return atomic_load(&g_errors) == 0 && answered == count ? 0 : 1;
}

/* ---- SMTP sink: a minimal backend that accepts any mail (the proxy is what is measured) ---- */

typedef struct {
    int fd;
    int in_data;
    size_t len;
    char line[LINE_MAX_BYTES];
} sink_client;

static void sink_reply(sink_client *s, const char *text) { send_all(s->fd, text, strlen(text)); }

/* Handles one complete line; returns -1 when the client is to be closed. */
static int sink_line(sink_client *s, const char *l, size_t n) {
    if (s->in_data) {
        if (n == 1 && l[0] == '.') { s->in_data = 0; sink_reply(s, "250 2.0.0 Ok: queued\r\n"); }
        return 0;
    }
    if (n >= 4 && strncasecmp(l, "EHLO", 4) == 0)
        sink_reply(s, "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250 8BITMIME\r\n");
    else if (n >= 4 && strncasecmp(l, "DATA", 4) == 0) { s->in_data = 1; sink_reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n"); }
    else if (n >= 4 && strncasecmp(l, "QUIT", 4) == 0) { sink_reply(s, "221 2.0.0 Bye\r\n"); return -1; }
    else if (n >= 4 && strncasecmp(l, "XCLI", 4) == 0) sink_reply(s, "220 sink.test ESMTP\r\n");
    else sink_reply(s, "250 2.0.0 Ok\r\n");
    return 0;
}

static int run_sink(void) {
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0) { perror("sink"); return 1; }
    getsockname(lfd, (struct sockaddr *)&a, &al);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            sink_client *s = evs[i].data.ptr;
            if (!s) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                s = calloc(1, sizeof *s);
                s->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = s};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                sink_reply(s, "220 sink.test ESMTP\r\n");
                continue;
            }
            char buf[16384];
            ssize_t r = read(s->fd, buf, sizeof buf);
            int closing = r <= 0;
            for (ssize_t k = 0; k < r && !closing; k++) {
                if (buf[k] == '\n') {
                    size_t len = s->len;
                    if (len > 0 && s->line[len - 1] == '\r') len--;
                    closing = sink_line(s, s->line, len) < 0;
                    s->len = 0;
                } else if (s->len < sizeof s->line) {
                    s->line[s->len++] = buf[k];
                }
            }
            if (closing) { epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL); close(s->fd); free(s); }
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen imap-login|pop3-login|smtp PORT CONC SESSIONS USER PASS [PID [AUTHPID]]\n"
                    "       loadgen imap-fetch PORT STREAMS FOLDER USER PASS [PID]\n"
                    "       loadgen imap-idle PORT COUNT USER PASS [PID]\n"
                    "       loadgen smtp-sink\n");
    exit(2);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) usage();
    const char *mode = argv[1];
    if (strcmp(mode, "smtp-sink") == 0) return run_sink();
    if (strcmp(mode, "imap-idle") == 0) {
        if (argc < 6) usage();
        g_port = atoi(argv[2]);
        g_user = argv[4];
        g_pass = argv[5];
        return run_idle(atoi(argv[3]), argc > 6 ? atoi(argv[6]) : 0);
    }
    if (argc < 7) usage();
    g_port = atoi(argv[2]);
    g_user = argv[5];
    g_pass = argv[6];
    int pid = argc > 7 ? atoi(argv[7]) : 0, auth_pid = argc > 8 ? atoi(argv[8]) : 0;
    if (strcmp(mode, "imap-fetch") == 0) {
        g_folder = argv[4];
        return run_fetch(atoi(argv[3]), pid);
    }
    int conc = atoi(argv[3]), total = atoi(argv[4]);
    if (conc < 1 || total < 1) usage();
    if (strcmp(mode, "smtp") == 0) {
        /* 10 KB body: 128 lines of 78 characters + CRLF, then the end marker. */
        size_t o = 0;
        o += sprintf(g_smtp_data + o, "Subject: bench\r\n\r\n");
        for (int i = 0; o + 80 + 5 < 10 * 1024; i++) {
            memset(g_smtp_data + o, 'a' + i % 26, 78);
            o += 78;
            g_smtp_data[o++] = '\r';
            g_smtp_data[o++] = '\n';
        }
        strcpy(g_smtp_data + o, ".\r\n");
        return run_sessions(smtp_session, conc, total, pid, auth_pid);
    }
    if (strcmp(mode, "imap-login") == 0) return run_sessions(imap_login_session, conc, total, pid, auth_pid);
    if (strcmp(mode, "pop3-login") == 0) return run_sessions(pop3_login_session, conc, total, pid, auth_pid);
    usage();
    return 2;
}
