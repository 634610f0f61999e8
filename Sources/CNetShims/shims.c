#define _GNU_SOURCE
#include "cnetshims.h"
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>

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
