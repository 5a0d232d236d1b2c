/* bench_util.c - see bench_util.h. */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_parse_long(const char *opt, const char *val, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bad value for %s: '%s' (expected %ld..%ld)\n", opt, val, min, max);
        exit(1);
    }
    return v;
}

double bench_parse_seconds(const char *opt, const char *val)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno != 0 || end == val || *end != '\0' || !(v > 0) || v > 86400) {
        fprintf(stderr, "bad value for %s: '%s' (expected seconds > 0)\n", opt, val);
        exit(1);
    }
    return v;
}

void bench_die_errno(int status, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(status);
}
