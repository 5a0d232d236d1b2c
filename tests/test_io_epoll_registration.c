/*
 * test_io_epoll_registration.c - the epoll backend leaves a forgotten fd's
 * registration to the fd's close (one epoll_ctl fewer per connection), and
 * must stay quiet and correct when that close does not end the socket:
 * the close comes late, a dup'ed or forked copy keeps the socket open,
 * or the number is reused while the old registration lives on.  "Quiet":
 * a level-triggered registration nobody can name would wake the engine
 * thread without end; the process's CPU time over an idle stretch shows it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ntddk.h>

#include "io/io_engine.h"
#include "io/io_epoll_internal.h"
#include "wt.h"

enum { IDLE_MS = 400, BUSY_MS = 100 }; /* a spinning engine thread burns ~IDLE_MS */

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond = PTHREAD_COND_INITIALIZER;

/* One receive: its buffer, completion count and result. */
typedef struct trecv {
    io_op op;
    struct msghdr msg;
    struct iovec iov;
    unsigned char buf[64];
    int count;
    long result;
} trecv;

static void trecv_complete(io_op *op, long result)
{
    trecv *r = op->context;
    pthread_mutex_lock(&t_lock);
    r->count++;
    r->result = result;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

static void trecv_submit(trecv *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->iov.iov_base = r->buf;
    r->iov.iov_len = sizeof r->buf;
    r->msg.msg_iov = &r->iov;
    r->msg.msg_iovlen = 1;
    r->op.kind = IO_OP_RECVMSG;
    r->op.fd = fd;
    r->op.msg = &r->msg;
    r->op.complete = trecv_complete;
    r->op.context = r;
    io_submit(&r->op);
}

/* Waits up to 5 s for the receive; returns its completion count. */
static int trecv_wait(trecv *r)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&t_lock);
    while (r->count == 0 && pthread_cond_timedwait(&t_cond, &t_lock, &dl) != ETIMEDOUT) {
    }
    int n = r->count;
    pthread_mutex_unlock(&t_lock);
    return n;
}

static int trecv_count(trecv *r)
{
    pthread_mutex_lock(&t_lock);
    int n = r->count;
    pthread_mutex_unlock(&t_lock);
    return n;
}

/* A connected TCP pair on 127.0.0.1: *a non-blocking (the engine's side,
 * created first: it gets the lowest free number). */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 4) < 0 ||
        getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
        perror("listener");
        exit(2);
    }
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        exit(2);
    }
    *b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    *a = c;
}

/* An fd the engine has registered for EPOLLIN and has no op on: one
 * receive waited for data (a new fd's first read waits for readiness). */
static void registered_idle(int a, int b)
{
    trecv r;
    trecv_submit(&r, a);
    CHECK_EQ(send(b, "x", 1, 0), 1);
    CHECK_EQ(trecv_wait(&r), 1);
    CHECK_EQ(r.result, 1);
}

/* CPU milliseconds the process spends while the test thread sleeps. */
static long cpu_ms_while_idle(void)
{
    struct timespec c0, c1, pause = {IDLE_MS / 1000, (IDLE_MS % 1000) * 1000000L};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    return (c1.tv_sec - c0.tv_sec) * 1000 + (c1.tv_nsec - c0.tv_nsec) / 1000000;
}

/* The engine stays idle: the process spends under BUSY_MS of CPU while
 * the test thread sleeps IDLE_MS. */
static void expect_idle(const char *situation)
{
    long busy = cpu_ms_while_idle();
    if (busy >= BUSY_MS)
        WT_FAIL("engine busy %ld ms of %d ms %s", busy, IDLE_MS, situation);
}

/* A receive parked on the engine's side gets nothing until the peer
 * sends, then exactly the peer's bytes. */
static void expect_parked_gets(trecv *parked, int peer, const char *bytes)
{
    long len = (long)strlen(bytes);
    CHECK_EQ(trecv_count(parked), 0);
    CHECK_EQ(send(peer, bytes, (size_t)len, 0), len);
    CHECK_EQ(trecv_wait(parked), 1);
    CHECK_EQ(parked->result, len);
    CHECK_MEM(parked->buf, bytes, (size_t)len);
}

static void close_engine_fd(int fd)
{
    io_engine_forget_fd(fd);
    close(fd);
}

/* stderr goes to a temporary file until stderr_end, which returns what
 * was written (the engine's log lines). */
static int stderr_begin(FILE **file)
{
    fflush(stderr);
    *file = tmpfile();
    int saved = dup(2);
    if (*file == NULL || saved < 0 || dup2(fileno(*file), 2) < 0) {
        perror("stderr capture");
        exit(2);
    }
    return saved;
}

static void stderr_end(int saved, FILE *file, char *text, size_t size)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(file);
    size_t n = fread(text, 1, size - 1, file);
    text[n] = '\0';
    fclose(file);
    fputs(text, stderr);
}

/* Forgets and closes fd on its engine thread, as a completion routine
 * closing its socket does; returns when that is done. */
typedef struct engine_close {
    io_op op;
    int done;
} engine_close;

static void engine_close_run(io_op *op, long result)
{
    (void)result;
    engine_close *c = op->context;
    close_engine_fd(op->fd);
    pthread_mutex_lock(&t_lock);
    c->done = 1;
    pthread_cond_broadcast(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

static void close_on_engine_thread(int fd)
{
    engine_close c;
    memset(&c, 0, sizeof c);
    c.op.kind = IO_OP_CALL;
    c.op.fd = fd;
    c.op.complete = engine_close_run;
    c.op.context = &c;
    io_engine_post(&c.op);
    pthread_mutex_lock(&t_lock);
    while (!c.done)
        pthread_cond_wait(&t_cond, &t_lock);
    pthread_mutex_unlock(&t_lock);
}

static int rebuilt(const char *log)
{
    return strstr(log, "epoll set rebuilt") != NULL;
}

/* The common case: a completion routine closes its socket.  The close
 * takes the registration out; nothing is reported for it afterwards. */
static void t_close_on_engine_thread(void)
{
    int a, b;
    FILE *log;
    char text[1024];
    tcp_pair(&a, &b);
    registered_idle(a, b);
    int saved = stderr_begin(&log);
    close_on_engine_thread(a);
    CHECK_EQ(send(b, "after", 5, 0), 5); /* to a closed socket: a reset back, and no event */
    expect_idle("after its own close");
    stderr_end(saved, log, text, sizeof text);
    CHECK(!rebuilt(text));
    close(b);
}

/* Forget on another thread, then a late close while the socket is
 * readable: forget took the registration out (the engine thread must not
 * see readiness for an fd without a record until the close). */
static void t_late_close_after_forget_elsewhere(void)
{
    int a, b;
    FILE *log;
    char text[1024];
    tcp_pair(&a, &b);
    registered_idle(a, b);
    int saved = stderr_begin(&log);
    io_engine_forget_fd(a);
    CHECK_EQ(send(b, "late", 4, 0), 4);
    expect_idle("after forget, before close");
    close(a);
    stderr_end(saved, log, text, sizeof text);
    CHECK(!rebuilt(text));
    close(b);
}

/* A dup keeps the socket open past forget + close: its registration can
 * no longer be named by fd; the backend rebuilds its set, and the fds it
 * still serves (a receive parked on another socket) keep working. */
static void t_dup_outlives_close(void)
{
    int a, b, c, d;
    tcp_pair(&a, &b);
    tcp_pair(&c, &d);
    registered_idle(a, b);
    trecv parked;
    trecv_submit(&parked, c);
    int copy = dup(a);
    CHECK(copy >= 0);
    close_on_engine_thread(a);
    CHECK_EQ(send(b, "still open", 10, 0), 10); /* readable through the copy */
    expect_idle("with a dup'ed socket's registration left");
    expect_parked_gets(&parked, d, "served");
    close_engine_fd(c);
    close(d);
    close(copy);
    close(b);
}

/* As above, and the closed socket's number is taken by a new socket with a
 * receive parked: the old registration's events carry that number but
 * not the new registration's tag.  They must neither spin the engine nor
 * disturb the new socket's receive, which gets its own bytes. */
static void t_reused_number_keeps_its_receive(void)
{
    int a, b, e, f;
    tcp_pair(&a, &b);
    registered_idle(a, b);
    int copy = dup(a);
    CHECK(copy >= 0);
    close_on_engine_thread(a);
    tcp_pair(&e, &f);
    CHECK_EQ(e, a); /* the lowest free number: the closed socket's */
    trecv parked;
    trecv_submit(&parked, e);
    CHECK_EQ(send(b, "old socket", 10, 0), 10);
    expect_idle("with a stale registration under a reused number");
    expect_parked_gets(&parked, f, "new");
    close_engine_fd(e);
    close(f);
    close(copy);
    close(b);
}

/* A forked child holds every socket: after the fork, forget takes the
 * registration out at once (no rebuild needed), so a socket the parent
 * closes stays quiet. */
static void t_forked_child_holds_socket(void)
{
    int a, b, gate[2];
    FILE *log;
    char text[1024];
    tcp_pair(&a, &b);
    registered_idle(a, b);
    int saved = stderr_begin(&log);
    CHECK_EQ(pipe(gate), 0);
    pid_t child = fork();
    if (child == 0) {
        char x;
        ssize_t n = read(gate[0], &x, 1); /* holds a and b until the parent is done */
        _exit(n == 1 ? 0 : 1);
    }
    CHECK(child > 0);
    close_on_engine_thread(a);
    CHECK_EQ(send(b, "child's", 7, 0), 7);
    expect_idle("with a forked child holding a closed socket");
    CHECK_EQ(write(gate[1], "x", 1), 1);
    int status = -1;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stderr_end(saved, log, text, sizeof text);
    CHECK(!rebuilt(text));
    close(gate[0]);
    close(gate[1]);
    close(b);
}

/* One wait's stale events; returns whether the set would be rebuilt. */
static int stale_wait(epoll_stale *t, const uint64_t *data, int n)
{
    for (int i = 0; i < n; i++)
        epoll_stale_note(t, data[i]);
    return epoll_stale_wait_end(t) != 0;
}

/* The rebuild decision: one-off stale events (each reported once, just
 * before its socket was forgotten and closed on another thread) never add
 * up to a rebuild, however many waits in a row have one; a registration
 * reported in EP_STALE_REBUILD waits in a row does, among one-offs too. */
static void t_stale_accounting(void)
{
    epoll_stale t;
    memset(&t, 0, sizeof t);
    int rebuilds = 0;
    for (unsigned i = 1; i <= 100; i++) {
        uint64_t once[2] = {epoll_data(100 + (int)i, i), epoll_data(300 + (int)i, 1000 + i)};
        rebuilds += stale_wait(&t, once, 1 + (int)(i % 2));
    }
    CHECK_EQ(rebuilds, 0);

    uint64_t kept = epoll_data(7, 42);
    for (unsigned i = 1; i < EP_STALE_REBUILD; i++) {
        uint64_t both[2] = {epoll_data(500 + (int)i, 2000 + i), kept};
        CHECK_EQ(stale_wait(&t, both, 2), 0);
    }
    uint64_t last[1] = {kept};
    CHECK_EQ(stale_wait(&t, last, 1), 1);

    /* Missing from one wait starts the count again. */
    for (unsigned i = 1; i < EP_STALE_REBUILD; i++)
        CHECK_EQ(stale_wait(&t, last, 1), 0);
    CHECK_EQ(stale_wait(&t, NULL, 0), 0);
    for (unsigned i = 1; i < EP_STALE_REBUILD; i++)
        CHECK_EQ(stale_wait(&t, last, 1), 0);
    CHECK_EQ(stale_wait(&t, last, 1), 1);
}

int main(void)
{
    WT_RUN(t_stale_accounting);
    setenv("OPENWSK_IO_BACKEND", "epoll", 1);
    if (io_engine_start(1) != 0) {
        fprintf(stderr, "epoll backend did not start\n");
        return 1;
    }
    WT_RUN(t_close_on_engine_thread);
    WT_RUN(t_late_close_after_forget_elsewhere);
    WT_RUN(t_dup_outlives_close);
    WT_RUN(t_reused_number_keeps_its_receive);
    WT_RUN(t_forked_child_holds_socket); /* last: every forget after it takes the registration out */
    io_engine_stop();
    return wt_finish();
}
