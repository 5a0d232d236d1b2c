/* native_socket_cycles.c - bench_native_socket_cycles --seconds S
 *
 * The native twin of wsk_socket_cycles: one thread looping over
 * socket(AF_INET, SOCK_DGRAM) + bind(127.0.0.1:0) + close for S seconds,
 * measuring the per-socket setup/teardown cost without any traffic.
 * Exit status: 0 ok, 1 usage, 2 a call failed.
 */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    double seconds = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") != 0)
            break;
        seconds = bench_parse_seconds(argv[i], argv[i + 1]);
    }
    if (seconds <= 0 || argc != 3) {
        fprintf(stderr, "usage: %s --seconds S\n", argv[0]);
        return 1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    uint64_t ops = 0, start = bench_now_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
    while (now < end) {
        /* Read the clock every 64 cycles: cheap, but not free next to a
         * cycle of about a microsecond. */
        for (int i = 0; i < 64; i++) {
            int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
                bench_die_errno(2, "socket");
            if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
                bench_die_errno(2, "bind");
            close(fd);
        }
        ops += 64;
        now = bench_now_ns();
    }
    double secs = (double)(now - start) / 1e9;
    printf("RESULT workload=socket_cycles rate=%.1f unit=ops/s ops=%llu seconds=%.3f p50_us=0 p99_us=0 lost=0 "
           "errors=0\n",
           (double)ops / secs, (unsigned long long)ops, secs);
    return 0;
}
