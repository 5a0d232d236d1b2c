/*
 * outsider.c - another Linux process binding ports (outsider.h).
 */
#define _GNU_SOURCE
#include "outsider.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct request {
    int op; /* 1 bind, 2 release */
    int udp, family, flags;
    unsigned short port;
    char ip[64];
} request;

typedef struct reply {
    int result;
    unsigned short port;
} reply;

static int set_flag(int fd, int level, int name)
{
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof(one)) == 0 ? 0 : -errno;
}

static int do_bind(const request *q, int *held, unsigned short *port_out)
{
    int fd = socket(q->family == 6 ? AF_INET6 : AF_INET, q->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    int r = 0;
    if (q->flags & OUTSIDER_REUSEADDR)
        r = set_flag(fd, SOL_SOCKET, SO_REUSEADDR);
    if (r == 0 && (q->flags & OUTSIDER_REUSEPORT))
        r = set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
    if (r == 0 && q->family == 6) {
        int v6only = (q->flags & OUTSIDER_V6ONLY) != 0;
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0 ? 0 : -errno;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (q->family == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(q->port);
        inet_pton(AF_INET6, q->ip, &a->sin6_addr);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(q->port);
        inet_pton(AF_INET, q->ip, &a->sin_addr);
        len = sizeof(*a);
    }
    if (r == 0 && bind(fd, (struct sockaddr *)&ss, len) != 0)
        r = -errno;
    if (r == 0 && !q->udp && (q->flags & OUTSIDER_LISTEN) && listen(fd, 16) != 0)
        r = -errno;
    if (r == 0) {
        len = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *port_out = ntohs(q->family == 6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                         : ((struct sockaddr_in *)&ss)->sin_port);
        *held = fd;
    } else {
        close(fd);
    }
    return r;
}

static void serve(int fd)
{
    int held = -1;
    request q;
    while (read(fd, &q, sizeof(q)) == (ssize_t)sizeof(q)) {
        if (held >= 0)
            close(held);
        held = -1;
        reply a = {0, 0};
        if (q.op == 1)
            a.result = do_bind(&q, &held, &a.port);
        if (write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
            break;
    }
    _exit(0);
}

int outsider_start(outsider *o, int uid)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return -errno;
    /* The child must have changed uid before its first request; it says so. */
    int gate[2];
    if (pipe(gate) != 0) {
        close(pair[0]);
        close(pair[1]);
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(pair[0]);
        close(gate[0]);
        int r = 0;
        /* Raw system calls: the child of a threaded process calls nothing
         * that takes a lock (glibc's setuid signals every thread). */
        if (uid >= 0 && (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, uid) != 0 ||
                         syscall(SYS_setuid, uid) != 0))
            r = -errno;
        if (write(gate[1], &r, sizeof(r)) != (ssize_t)sizeof(r) || r != 0)
            _exit(1);
        close(gate[1]);
        serve(pair[1]);
    }
    close(pair[1]);
    close(gate[1]);
    int r = -EIO;
    if (read(gate[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
        r = -EIO;
    close(gate[0]);
    o->pid = pid;
    o->fd = pair[0];
    if (r != 0)
        outsider_stop(o);
    return r;
}

int outsider_bind(outsider *o, int udp, int family, const char *ip, unsigned short port, int flags,
                  unsigned short *port_out)
{
    request q;
    memset(&q, 0, sizeof(q));
    q.op = 1;
    q.udp = udp;
    q.family = family;
    q.flags = flags;
    q.port = port;
    strncpy(q.ip, ip, sizeof(q.ip) - 1);
    reply a = {-EIO, 0};
    if (write(o->fd, &q, sizeof(q)) != (ssize_t)sizeof(q) || read(o->fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
        return -EIO;
    if (port_out != NULL)
        *port_out = a.port;
    return a.result;
}

void outsider_release(outsider *o)
{
    request q;
    memset(&q, 0, sizeof(q));
    q.op = 2;
    reply a;
    if (write(o->fd, &q, sizeof(q)) == (ssize_t)sizeof(q))
        (void)read(o->fd, &a, sizeof(a));
}

void outsider_stop(outsider *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    int status;
    waitpid(o->pid, &status, 0);
}
