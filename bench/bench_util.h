/* bench_util.h - small helpers shared by the native benchmark programs. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>

/* Monotonic clock in nanoseconds (vDSO, cheap enough to call per request). */
uint64_t bench_now_ns(void);

/* Parse a decimal integer option value in [min, max]; exits 1 on bad input
 * (a usage error, not a benchmark failure). */
long bench_parse_long(const char *opt, const char *val, long min, long max);

/* Parse a non-negative decimal number of seconds; exits 1 on bad input. */
double bench_parse_seconds(const char *opt, const char *val);

/* Print "prog: message: strerror(errno)" and exit with the given status. */
_Noreturn void bench_die_errno(int status, const char *what);

#endif
