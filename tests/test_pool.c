/*
 * test_pool.c - executive pool: alignment, zeroing, ExAllocatePool2 flag
 * validation, per-tag accounting, the leak report, failure injection and
 * the wrong-tag bug check.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wt.h"

#define TAG_TEST TAG_FROM_CHARS('P', 'l', 'T', '1')

static int all_bytes_are(const void *p, size_t n, unsigned char value)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != value)
            return 0;
    return 1;
}

/* Runs fn in a child process with stderr captured; returns 1 if the child
 * died of SIGABRT and its stderr contains every string of expect[]. */
static int child_dies_with(void (*fn)(void), const char *const *expect, size_t nexpect)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    char buf[8192];
    size_t used = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + used, sizeof(buf) - 1 - used)) > 0)
        used += (size_t)r;
    buf[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        return 0;
    for (size_t i = 0; i < nexpect; i++)
        if (strstr(buf, expect[i]) == NULL)
            return 0;
    return 1;
}

/* 0 if the child exited normally with status 0. */
static int child_exit_status(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void with_tag_is_usable_and_aligned(void)
{
    for (SIZE_T size = 1; size <= 300; size += 7) {
        unsigned char *p = ExAllocatePoolWithTag(NonPagedPoolNx, size, TAG_TEST);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK_EQ((ULONG_PTR)p % MEMORY_ALLOCATION_ALIGNMENT, 0);
        memset(p, 0x5A, size); /* ASan would flag a short block */
        CHECK(all_bytes_are(p, size, 0x5A));
        ExFreePoolWithTag(p, TAG_TEST);
    }
    PVOID paged = ExAllocatePoolWithTag(PagedPool, 24, TAG_TEST);
    CHECK(paged != NULL);
    ExFreePool(paged);
}

static void large_blocks_are_page_aligned(void)
{
    SIZE_T sizes[] = {PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 5, 64 * 1024};
    for (size_t i = 0; i < ARRAYSIZE(sizes); i++) {
        unsigned char *p = ExAllocatePoolWithTag(NonPagedPool, sizes[i], TAG_TEST);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK_EQ((ULONG_PTR)p % PAGE_SIZE, 0);
        p[0] = 1;
        p[sizes[i] - 1] = 2;
        ExFreePoolWithTag(p, TAG_TEST);
    }
    PVOID q = ExAllocatePool2(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE, TAG_TEST);
    CHECK(q != NULL);
    CHECK_EQ((ULONG_PTR)q % PAGE_SIZE, 0);
    ExFreePoolWithTag(q, TAG_TEST);
}

static void cache_aligned_types_are_64_byte_aligned(void)
{
    POOL_TYPE types[] = {NonPagedPoolCacheAligned, PagedPoolCacheAligned, NonPagedPoolNxCacheAligned};
    for (size_t i = 0; i < ARRAYSIZE(types); i++) {
        for (SIZE_T size = 8; size < 512; size += 40) {
            PVOID p = ExAllocatePoolWithTag(types[i], size, TAG_TEST);
            CHECK(p != NULL);
            CHECK_EQ((ULONG_PTR)p % SYSTEM_CACHE_ALIGNMENT_SIZE, 0);
            ExFreePoolWithTag(p, TAG_TEST);
        }
    }
    PVOID q = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, 40, TAG_TEST);
    CHECK(q != NULL);
    CHECK_EQ((ULONG_PTR)q % SYSTEM_CACHE_ALIGNMENT_SIZE, 0);
    ExFreePoolWithTag(q, TAG_TEST);
}

static void pool2_zeroes_unless_uninitialized(void)
{
    /* Dirty a block of the same size first so that a reused, non-zeroed
     * block would be caught even without ASan's malloc fill. */
    unsigned char *dirty = ExAllocatePoolWithTag(NonPagedPoolNx, 200, TAG_TEST);
    CHECK(dirty != NULL);
    memset(dirty, 0xA5, 200);
    ExFreePoolWithTag(dirty, TAG_TEST);

    unsigned char *p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 200, TAG_TEST);
    CHECK(p != NULL);
    CHECK(all_bytes_are(p, 200, 0));
    ExFreePoolWithTag(p, TAG_TEST);

    unsigned char *big = ExAllocatePool2(POOL_FLAG_PAGED, 3 * PAGE_SIZE, TAG_TEST);
    CHECK(big != NULL);
    CHECK(all_bytes_are(big, 3 * PAGE_SIZE, 0));
    ExFreePoolWithTag(big, TAG_TEST);

    unsigned char *u = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 200, TAG_TEST);
    CHECK(u != NULL);
    CHECK_EQ((ULONG_PTR)u % MEMORY_ALLOCATION_ALIGNMENT, 0);
    memset(u, 0x11, 200);
    ExFreePool2(u, TAG_TEST, NULL, 0);
}

static void pool2_rejects_invalid_requests(void)
{
    SIZE_T before = openwsk_pool_outstanding_count(TAG_TEST);
    CHECK(ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 0) == NULL);                          /* tag 0 */
    CHECK(ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x800, 64, TAG_TEST) == NULL);           /* unknown required flag */
    CHECK(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RESERVED1, 64, TAG_TEST) == NULL);
    CHECK(ExAllocatePool2(POOL_FLAG_UNINITIALIZED, 64, TAG_TEST) == NULL);               /* no pool type */
    CHECK(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 64, TAG_TEST) == NULL); /* two pool types */
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_TEST), before);

    /* Unknown optional flags (high 32 bits) are ignored. */
    PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x400000000ULL, 64, TAG_TEST);
    CHECK(p != NULL);
    ExFreePoolWithTag(p, TAG_TEST);
}

static void pool2_raises_on_injected_failure(void)
{
    volatile NTSTATUS code = STATUS_SUCCESS;
    volatile int reached = 0;
    PVOID volatile p = NULL;
    openwsk_fault_fail_allocation(1);
    __try {
        p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 64, TAG_TEST);
        reached = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(reached, 0);
    CHECK(p == NULL);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);

    /* Without the flag the same failure is a NULL return. */
    openwsk_fault_fail_allocation(1);
    CHECK(ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TAG_TEST) == NULL);
    openwsk_fault_fail_allocation(0);

    /* The old API raises when the pool type asks for it. */
    code = STATUS_SUCCESS;
    openwsk_fault_fail_allocation(1);
    __try {
        p = ExAllocatePoolWithTag(NonPagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE, 64, TAG_TEST);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
}

static void pool_zero_zeroes(void)
{
    unsigned char *dirty = ExAllocatePoolWithTag(NonPagedPoolNx, 96, TAG_TEST);
    CHECK(dirty != NULL);
    memset(dirty, 0xEE, 96);
    ExFreePoolWithTag(dirty, TAG_TEST);
    unsigned char *p = ExAllocatePoolZero(NonPagedPoolNx, 96, TAG_TEST);
    CHECK(p != NULL);
    CHECK(all_bytes_are(p, 96, 0));
    ExFreePoolWithTag(p, TAG_TEST);
}

static void per_tag_accounting(void)
{
    const ULONG tag = TAG_FROM_CHARS('A', 'c', 'c', 't');
    const ULONG other = TAG_FROM_CHARS('O', 't', 'h', 'r');
    CHECK_EQ(openwsk_pool_outstanding_count(tag), 0);
    CHECK_EQ(openwsk_pool_outstanding_bytes(tag), 0);
    PVOID a = ExAllocatePoolWithTag(NonPagedPool, 100, tag);
    PVOID b = ExAllocatePool2(POOL_FLAG_PAGED, 28, tag);
    PVOID c = ExAllocatePoolWithTag(NonPagedPool, 50, other);
    CHECK_EQ(openwsk_pool_outstanding_count(tag), 2);
    CHECK_EQ(openwsk_pool_outstanding_bytes(tag), 128);
    CHECK_EQ(openwsk_pool_outstanding_count(other), 1);
    CHECK_EQ(openwsk_pool_outstanding_bytes(other), 50);
    ExFreePoolWithTag(a, tag);
    CHECK_EQ(openwsk_pool_outstanding_count(tag), 1);
    CHECK_EQ(openwsk_pool_outstanding_bytes(tag), 28);
    ExFreePool(b);
    ExFreePoolWithTag(c, other);
    CHECK_EQ(openwsk_pool_outstanding_count(tag), 0);
    CHECK_EQ(openwsk_pool_outstanding_bytes(tag), 0);
    CHECK_EQ(openwsk_pool_outstanding_count(other), 0);
}

/* Calls openwsk_leak_report() with stderr redirected into out[]. */
static SIZE_T capture_leak_report(char *out, size_t outsize)
{
    FILE *tmp = tmpfile();
    out[0] = '\0';
    if (tmp == NULL)
        return (SIZE_T)-1;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    SIZE_T n = openwsk_leak_report();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t got = fread(out, 1, outsize - 1, tmp);
    out[got] = '\0';
    fclose(tmp);
    return n;
}

static void leak_report_names_tag_in_memory_order(void)
{
    CHECK_EQ(TAG_FROM_CHARS('L', 'e', 'a', 'k'), 'kaeL');
    char name[5];
    openwsk_format_tag('kaeL', name);
    CHECK_STR(name, "Leak");
    openwsk_format_tag(TAG_FROM_CHARS('a', 'b', 1, 0x7f), name);
    CHECK_STR(name, "ab..");

    char report[4096];
    CHECK_EQ(capture_leak_report(report, sizeof(report)), 0);
    CHECK(strstr(report, "Leak") == NULL);

    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 48, 'kaeL');
    PVOID q = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_FROM_CHARS('L', 'e', 'a', 'k'));
    CHECK_EQ(capture_leak_report(report, sizeof(report)), 2);
    CHECK(strstr(report, "'Leak': 2 allocations, 64 bytes") != NULL);
    CHECK(strstr(report, "kaeL") == NULL);
    ExFreePoolWithTag(p, 'kaeL');
    ExFreePoolWithTag(q, 'kaeL');
    CHECK_EQ(capture_leak_report(report, sizeof(report)), 0);
    CHECK(strstr(report, "Leak") == NULL);
}

static void failure_injection_fails_exactly_the_nth(void)
{
    ULONGLONG attempts = openwsk_allocation_count();
    openwsk_fault_fail_allocation(3);
    PVOID p1 = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    PVOID p2 = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32, TAG_TEST);
    PVOID p3 = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    PVOID p4 = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    PVOID p5 = ExAllocatePoolZero(NonPagedPool, 32, TAG_TEST);
    CHECK(p1 != NULL);
    CHECK(p2 != NULL);
    CHECK(p3 == NULL);
    CHECK(p4 != NULL);
    CHECK(p5 != NULL);
    CHECK_EQ(openwsk_allocation_count() - attempts, 5);
    ExFreePoolWithTag(p1, TAG_TEST);
    ExFreePoolWithTag(p2, TAG_TEST);
    ExFreePoolWithTag(p4, TAG_TEST);
    ExFreePoolWithTag(p5, TAG_TEST);

    /* 0 turns injection off again. */
    openwsk_fault_fail_allocation(2);
    openwsk_fault_fail_allocation(0);
    PVOID a = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    PVOID b = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    CHECK(a != NULL && b != NULL);
    ExFreePoolWithTag(a, TAG_TEST);
    ExFreePoolWithTag(b, TAG_TEST);
}

static void free_with_wrong_tag_child(void)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_FROM_CHARS('R', 'i', 'g', 'h'));
    ExFreePoolWithTag(p, TAG_FROM_CHARS('W', 'r', 'o', 'n'));
}

static void free_with_right_tag_child(void)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_FROM_CHARS('R', 'i', 'g', 'h'));
    ExFreePoolWithTag(p, TAG_FROM_CHARS('R', 'i', 'g', 'h'));
}

static void free_with_wrong_tag_bug_checks(void)
{
    static const char *const expect[] = {"STOP: 0x000000C2"};
    CHECK(child_dies_with(free_with_wrong_tag_child, expect, 1));
    CHECK_EQ(child_exit_status(free_with_right_tag_child), 0);
}

static void nothing_left_outstanding(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

int main(void)
{
    WT_RUN(with_tag_is_usable_and_aligned);
    WT_RUN(large_blocks_are_page_aligned);
    WT_RUN(cache_aligned_types_are_64_byte_aligned);
    WT_RUN(pool2_zeroes_unless_uninitialized);
    WT_RUN(pool2_rejects_invalid_requests);
    WT_RUN(pool2_raises_on_injected_failure);
    WT_RUN(pool_zero_zeroes);
    WT_RUN(per_tag_accounting);
    WT_RUN(leak_report_names_tag_in_memory_order);
    WT_RUN(failure_injection_fails_exactly_the_nth);
    WT_RUN(free_with_wrong_tag_bug_checks);
    WT_RUN(nothing_left_outstanding);
    return wt_finish();
}
