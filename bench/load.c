/* load.c - bench_load: the load generator of the echo benchmarks.
 *
 *   bench_load --port N --workload tcp_echo|tcp_stream|udp_echo|tcp_connect
 *              --seconds S [--conns C] [--window BYTES] [--warmup-ms M]
 *              [--client-threads K]
 *   bench_load --free-port     print a port free for both TCP and UDP
 *
 * --conns: connections (tcp_echo, default 16; tcp_stream, default 4),
 * sockets (udp_echo, 16) or cycles at a time (tcp_connect, 16). --window:
 * tcp_stream bytes in flight per connection, in 64 KiB messages (default
 * 262144 = 4 messages).
 *
 * The connections are spread over K (default 2) client threads, each running
 * its own epoll loop over its share, so the client is a few cheap threads
 * rather than one thread per connection. Output: one RESULT line on stdout;
 * on stderr an INFO line with the operations of the whole run (warmup
 * included), which the benchmark script divides the server's CPU time by.
 * Exit status: 0 ok, 1 usage, 2 benchmark failure (bad echo, lost > 1%, ...).
 */
#include "bench_util.h"
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct workload {
    const char *name;
    const char *unit;
    void *(*body)(void *);
    bool latency; /* p50/p99 are meaningful */
};

static const struct workload WORKLOADS[] = {
    {"tcp_echo", "req/s", load_tcp_echo, true},
    {"tcp_stream", "MB/s", load_tcp_stream, true}, /* latency: per 64 KiB message */
    {"udp_echo", "dgram/s", load_udp_echo, true},
    {"tcp_connect", "conn/s", load_tcp_connect_loop, true},
};

static pthread_barrier_t g_barrier;
static uint64_t g_t0;
static uint64_t g_warmup_ns, g_run_ns;

void load_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_load: ERROR: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void load_start_barrier(struct load_thread *t)
{
    /* Two rounds: the serial thread of the first publishes the start time. */
    if (pthread_barrier_wait(&g_barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
        __atomic_store_n(&g_t0, bench_now_ns(), __ATOMIC_RELEASE);
    pthread_barrier_wait(&g_barrier);
    uint64_t t0 = __atomic_load_n(&g_t0, __ATOMIC_ACQUIRE);
    t->t_measure = t0 + g_warmup_ns;
    t->t_end = t->t_measure + g_run_ns;
}

void load_check_stall(uint64_t t_start, uint64_t now, const char *what, uint32_t id)
{
    if (now > t_start && now - t_start > LOAD_STALL_NS)
        load_fail("%s on connection %u: no answer for %.1f s (lost by the server?)", what, id,
                  (double)(now - t_start) / 1e9);
}

void load_op_done(struct load_thread *t, uint64_t t_start, uint64_t now)
{
    struct load_stats *st = &t->st;
    st->total_ops++;
    if (now < t->t_measure || now >= t->t_end)
        return;
    st->ops++;
    if (st->nlat == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 65536;
        uint32_t *p = realloc(st->lat_ns, cap * sizeof *p);
        if (!p)
            load_fail("out of memory for latency samples");
        st->lat_ns = p;
        st->cap = cap;
    }
    uint64_t d = now - t_start;
    st->lat_ns[st->nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void load_pattern(uint8_t *p, size_t n, uint32_t stream, uint64_t seq)
{
    uint64_t s = ((uint64_t)stream << 40) ^ seq;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = splitmix64(&s);
        memcpy(p + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = splitmix64(&s);
        memcpy(p + i, &v, n - i);
    }
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

int load_tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        load_fail("socket: %s", strerror(errno));
    struct sockaddr_in sin = loopback(port);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        load_fail("connect to port %d: %s", port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        load_fail("fcntl: %s", strerror(errno));
    return fd;
}

int load_wait_ms(const struct load_thread *t, uint64_t now)
{
    if (now >= t->t_end)
        return 0;
    uint64_t ms = (t->t_end - now) / 1000000u + 1;
    return ms > 10 ? 10 : (int)ms;
}

/* Poll the server's TCP port for up to 10 s (the server may still start). */
static void wait_for_server(int port)
{
    struct sockaddr_in sin = loopback(port);
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            load_fail("socket: %s", strerror(errno));
        int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        close(fd);
        if (rc == 0)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    load_fail("nothing accepts connections on 127.0.0.1:%d", port);
}

/* A port the kernel just handed out for TCP that is also free for UDP. */
static int free_port(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = loopback(0);
        socklen_t len = sizeof sin;
        int port = -1;
        if (t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&sin, sizeof sin) == 0 &&
            getsockname(t, (struct sockaddr *)&sin, &len) == 0 &&
            bind(u, (struct sockaddr *)&sin, sizeof sin) == 0)
            port = ntohs(sin.sin_port);
        close(t);
        close(u);
        if (port > 0)
            return port;
    }
    load_fail("no free port found");
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double percentile_us(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[rank - 1] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_load --port N --workload tcp_echo|tcp_stream|udp_echo|tcp_connect\n"
                    "                  --seconds S [--conns C] [--window BYTES] [--warmup-ms M]\n"
                    "                  [--client-threads K]\n"
                    "       bench_load --free-port\n");
    exit(1);
}

int main(int argc, char **argv)
{
    int port = -1, conns = 0, warmup_ms = 300, nthreads = 2;
    long window = 4L * LOAD_STREAM_MSG;
    double seconds = 0;
    const struct workload *w = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--free-port") == 0) {
            printf("%d\n", free_port());
            return 0;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            port = (int)bench_parse_long(a, v, 1, 65535);
        else if (strcmp(a, "--seconds") == 0)
            seconds = bench_parse_seconds(a, v);
        else if (strcmp(a, "--conns") == 0)
            conns = (int)bench_parse_long(a, v, 1, 10000);
        else if (strcmp(a, "--window") == 0)
            window = bench_parse_long(a, v, LOAD_STREAM_MSG, 1024L * LOAD_STREAM_MSG);
        else if (strcmp(a, "--warmup-ms") == 0)
            warmup_ms = (int)bench_parse_long(a, v, 0, 600000);
        else if (strcmp(a, "--client-threads") == 0)
            nthreads = (int)bench_parse_long(a, v, 1, 64);
        else if (strcmp(a, "--workload") == 0) {
            for (size_t k = 0; k < sizeof WORKLOADS / sizeof WORKLOADS[0]; k++)
                if (strcmp(v, WORKLOADS[k].name) == 0)
                    w = &WORKLOADS[k];
            if (!w)
                usage();
        } else
            usage();
    }
    if (port < 0 || !w || seconds <= 0)
        usage();
    if (conns == 0)
        conns = w->body == load_tcp_stream ? 4 : 16;
    if (nthreads > conns)
        nthreads = conns;
    signal(SIGPIPE, SIG_IGN);
    g_warmup_ns = (uint64_t)warmup_ms * 1000000u;
    g_run_ns = (uint64_t)(seconds * 1e9);

    wait_for_server(port);
    pthread_barrier_init(&g_barrier, NULL, (unsigned)nthreads);
    struct load_thread *ts = calloc((size_t)nthreads, sizeof *ts);
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    if (!ts || !tids)
        load_fail("out of memory");
    for (int i = 0; i < nthreads; i++) {
        ts[i].port = port;
        ts[i].window_msgs = (int)(window / LOAD_STREAM_MSG);
        ts[i].first_conn = conns * i / nthreads;
        ts[i].nconns = conns * (i + 1) / nthreads - ts[i].first_conn;
        if (pthread_create(&tids[i], NULL, w->body, &ts[i]) != 0)
            load_fail("pthread_create failed");
    }

    struct load_stats sum = {0};
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tids[i], NULL);
        struct load_stats *st = &ts[i].st;
        sum.ops += st->ops;
        sum.total_ops += st->total_ops;
        sum.bytes += st->bytes;
        sum.lost += st->lost;
        sum.nlat += st->nlat;
    }
    uint32_t *lat = malloc((sum.nlat ? sum.nlat : 1) * sizeof *lat);
    if (!lat)
        load_fail("out of memory");
    size_t off = 0;
    for (int i = 0; i < nthreads; i++) {
        memcpy(lat + off, ts[i].st.lat_ns, ts[i].st.nlat * sizeof *lat);
        off += ts[i].st.nlat;
        free(ts[i].st.lat_ns);
    }
    qsort(lat, sum.nlat, sizeof *lat, cmp_u32);

    if (sum.ops == 0)
        load_fail("no operation completed in the measured window");
    if (sum.lost * 100 > sum.ops)
        load_fail("%llu datagrams lost for %llu echoed (more than 1%%)", (unsigned long long)sum.lost,
                  (unsigned long long)sum.ops);
    double rate = w->body == load_tcp_stream ? (double)sum.bytes / 1e6 / seconds : (double)sum.ops / seconds;
    double p50 = w->latency ? percentile_us(lat, sum.nlat, 0.50) : 0;
    double p99 = w->latency ? percentile_us(lat, sum.nlat, 0.99) : 0;
    printf("RESULT workload=%s rate=%.1f unit=%s ops=%llu seconds=%.3f p50_us=%.1f p99_us=%.1f lost=%llu "
           "conns=%d errors=0\n",
           w->name, rate, w->unit, (unsigned long long)sum.ops, seconds, p50, p99, (unsigned long long)sum.lost,
           conns);
    fprintf(stderr, "INFO total_ops=%llu\n", (unsigned long long)sum.total_ops);
    free(lat);
    free(ts);
    free(tids);
    pthread_barrier_destroy(&g_barrier);
    return 0;
}
