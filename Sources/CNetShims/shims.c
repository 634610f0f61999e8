#define _GNU_SOURCE
#include "cnetshims.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int cnet_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
ssize_t cnet_splice(int fd_in, int fd_out, size_t len, unsigned int flags) { return splice(fd_in, NULL, fd_out, NULL, len, flags); }
int cnet_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int cnet_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int cnet_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
long cnet_gettid(void) { return (long)syscall(SYS_gettid); }
int cnet_sock_nonblock(void) { return SOCK_NONBLOCK; }
int cnet_sock_cloexec(void) { return SOCK_CLOEXEC; }
unsigned int cnet_splice_f_move(void) { return SPLICE_F_MOVE; }
unsigned int cnet_splice_f_nonblock(void) { return SPLICE_F_NONBLOCK; }

int cnet_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cnet_epoll_arm_once(int epfd, int fd, unsigned long long token, int add) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = token };
    return epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event);
}

int cnet_epoll_forget(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int cnet_epoll_wait_one(int epfd, unsigned long long *token, int timeout_ms) {
    struct epoll_event event;
    int n = epoll_wait(epfd, &event, 1, timeout_ms);
    if (n == 1) *token = event.data.u64;
    return n;
}

int cnet_eventfd_semaphore(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE); }

int cnet_bind_all_threads(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return -1;
    int result = 0, saved = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks))) {
        if (entry->d_name[0] == '.') continue;
        pid_t tid = (pid_t)atol(entry->d_name);
        /* ESRCH: the thread ended since the directory was read. */
        if (sched_setaffinity(tid, sizeof set, &set) != 0 && errno != ESRCH && result == 0) {
            result = -1;
            saved = errno;
        }
    }
    closedir(tasks);
    if (result != 0) errno = saved;
    return result;
}

int cnet_allowed_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < capacity; cpu++)
        if (CPU_ISSET(cpu, &set)) cpus[n++] = cpu;
    return n;
}
