/*
 * What one sleep-and-wake costs on this machine: two threads pass a byte back
 * and forth over a socket pair, each waiting in poll(2) for the other, as a
 * session thread waits for its client, the auth service or the backend.
 *
 *   cc -O2 -pthread -o wakeup bench/wakeup.c && ./wakeup [ROUND_TRIPS]
 *
 * Prints wall time and CPU time (both threads, getrusage) per round trip,
 * first with the threads free to run on any CPU, then both pinned to CPU 0.
 * A round trip is two wake-ups. On the 2-core VM of bench/RESULTS.md a
 * wake-up of a thread on the other, idle CPU cost about 40 us of CPU, one on
 * the same CPU about 3 us: the price a design pays for every step that
 * sleeps, and why one event loop that serves many sessions per wake-up is
 * cheaper than a thread per session at 16 and 64 concurrent logins.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int round_trips = 20000;

static void wait_and_read(int fd) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char byte;
    if (poll(&p, 1, 60000) != 1 || read(fd, &byte, 1) != 1) {
        perror("wakeup: poll/read");
        exit(1);
    }
}

static void send_byte(int fd) {
    if (write(fd, "x", 1) != 1) {
        perror("wakeup: write");
        exit(1);
    }
}

static void pin_to_cpu0(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct peer { int fd; int pinned; };

static void *echo(void *arg) {
    struct peer *p = arg;
    if (p->pinned) pin_to_cpu0();
    for (int i = 0; i < round_trips; i++) {
        wait_and_read(p->fd);
        send_byte(p->fd);
    }
    return NULL;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(int pinned) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        perror("wakeup: socketpair");
        exit(1);
    }
    if (pinned) pin_to_cpu0();
    struct peer p = { fds[1], pinned };
    pthread_t thread;
    double cpu0 = cpu_seconds(), t0 = now_seconds();
    pthread_create(&thread, NULL, echo, &p);
    for (int i = 0; i < round_trips; i++) {
        send_byte(fds[0]);
        wait_and_read(fds[0]);
    }
    pthread_join(thread, NULL);
    double wall = now_seconds() - t0, cpu = cpu_seconds() - cpu0;
    printf("%-22s %8.2f us wall, %8.2f us CPU per round trip (two wake-ups)\n",
           pinned ? "both threads on CPU 0:" : "threads on any CPU:", wall / round_trips * 1e6,
           cpu / round_trips * 1e6);
    close(fds[0]);
    close(fds[1]);
}

int main(int argc, char **argv) {
    if (argc > 1) round_trips = atoi(argv[1]);
    if (round_trips <= 0 || round_trips > 10000000) {
        fprintf(stderr, "usage: wakeup [ROUND_TRIPS (1..10000000)]\n");
        return 2;
    }
    run(0);
    run(1);
    return 0;
}
