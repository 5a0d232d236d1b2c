/*
 * wt.h - the tiny test harness of openwsk's test suite.
 *
 * One executable per feature file; each file lists its cases in main() with
 * WT_RUN.  A failed check records the location and value, the case goes on,
 * and the process exits non-zero if any check failed.  The last line printed
 * is "N passed, N failed" (cases).
 */
#ifndef OPENWSK_TEST_WT_H
#define OPENWSK_TEST_WT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wt_case_failed;
static int wt_cases_passed;
static int wt_cases_failed;

#define WT_FAIL(...)                                                  \
    do {                                                              \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);        \
        fprintf(stderr, __VA_ARGS__);                                 \
        fputc('\n', stderr);                                          \
        wt_case_failed = 1;                                           \
    } while (0)

#define CHECK(cond)                                 \
    do {                                            \
        if (!(cond))                                \
            WT_FAIL("CHECK(%s)", #cond);            \
    } while (0)

/* Integer equality, printed in hex: statuses read best that way. */
#define CHECK_EQ(actual, expected)                                                      \
    do {                                                                                \
        unsigned long long wt_a_ = (unsigned long long)(actual);                        \
        unsigned long long wt_e_ = (unsigned long long)(expected);                      \
        if (wt_a_ != wt_e_)                                                             \
            WT_FAIL("%s == 0x%llx, expected %s == 0x%llx", #actual, wt_a_, #expected, wt_e_); \
    } while (0)

#define CHECK_STR(actual, expected)                                                     \
    do {                                                                                \
        const char *wt_a_ = (actual);                                                   \
        const char *wt_e_ = (expected);                                                 \
        if (wt_a_ == NULL || strcmp(wt_a_, wt_e_) != 0)                                 \
            WT_FAIL("%s == \"%s\", expected \"%s\"", #actual, wt_a_ ? wt_a_ : "(null)", wt_e_); \
    } while (0)

#define CHECK_MEM(actual, expected, len)                                  \
    do {                                                                  \
        if (memcmp((actual), (expected), (len)) != 0)                     \
            WT_FAIL("memory %s differs from %s over %zu bytes", #actual,  \
                    #expected, (size_t)(len));                            \
    } while (0)

/* A case is a plain void function; WT_RUN runs it and counts the outcome. */
#define WT_RUN(fn)                                          \
    do {                                                    \
        wt_case_failed = 0;                                 \
        fprintf(stderr, "case %s\n", #fn);                  \
        fn();                                               \
        if (wt_case_failed) {                               \
            wt_cases_failed++;                              \
            fprintf(stderr, "  -> FAILED\n");               \
        } else {                                            \
            wt_cases_passed++;                              \
        }                                                   \
    } while (0)

static inline int wt_finish(void)
{
    printf("%d passed, %d failed\n", wt_cases_passed, wt_cases_failed);
    return wt_cases_failed ? 1 : 0;
}

#endif /* OPENWSK_TEST_WT_H */
