#ifndef POSTERN_CNETSHIMS_H
#define POSTERN_CNETSHIMS_H
#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

/* GNU extensions that the Glibc module hides; plain-typed so Swift can call them. */
int cnet_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
ssize_t cnet_splice(int fd_in, int fd_out, size_t len, unsigned int flags);
int cnet_pipe2(int fds[2], int flags);
int cnet_set_pipe_size(int fd, int size);
int cnet_set_thread_name(const char *name);
long cnet_gettid(void);
int cnet_sock_nonblock(void);
int cnet_sock_cloexec(void);
unsigned int cnet_splice_f_move(void);
unsigned int cnet_splice_f_nonblock(void);
/* sched_setaffinity for every thread of the process (cpu_set_t and its
 * macros do not import): 0, or -1 with errno from the first thread refused. */
int cnet_bind_all_threads(const int *cpus, int count);
/* The CPUs the calling thread may run on, at most `capacity`: their count, or -1. */
int cnet_allowed_cpus(int *cpus, int capacity);
/* epoll with a 64-bit token per descriptor (struct epoll_event is packed on
 * x86-64 and its union does not import well). */
int cnet_epoll_create(void);
/* EPOLLIN | EPOLLONESHOT: added when `add`, else re-armed. */
int cnet_epoll_arm_once(int epfd, int fd, unsigned long long token, int add);
int cnet_epoll_forget(int epfd, int fd);
/* Waits for one event: 1 with its token, 0 on timeout, or -1. */
int cnet_epoll_wait_one(int epfd, unsigned long long *token, int timeout_ms);
/* A non-blocking, close-on-exec eventfd in semaphore mode. */
int cnet_eventfd_semaphore(void);
#endif
