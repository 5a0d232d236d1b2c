/*
 * test_verifier_pool.c - the driver verifier's pool rules
 * (OPENWSK_VERIFY=pool, docs/verifier.md): special pool catches a write past
 * the end at once (Bug Check 0xD6), a write into the alignment slack at
 * free (0xC1), a use after free (0xCC), a double free and a free with the
 * wrong tag (0xC2), each with the block's allocation (and free) stack;
 * the leak report names each leaked block's allocation stack.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"
#include "wt_verifier.h"

#define TAG_POOL TAG_FROM_CHARS('V', 'r', 'f', '3')

/* The report of `rule` with the block's allocation stack, and special
 * pool's own stop code. */
static int caught(void (*fn)(void *), const char *rule, unsigned stop_code)
{
    return wt_verifier_caught(fn, rule, 0, stop_code, "allocated at:");
}

static int runs_clean(void (*fn)(void *))
{
    return wt_runs_clean(fn, NULL);
}

/* Kept in a volatile pointer so the compiler cannot see the bug. */
static unsigned char *volatile block;

static void write_past_end(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_POOL);
    for (int i = 0; i <= 64; i++) /* BUG: one byte too many */
        block[i] = (unsigned char)i;
    ExFreePoolWithTag(block, TAG_POOL);
}

static void write_into_slack(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 100, TAG_POOL); /* 12 bytes of slack up to the guard page */
    block[100] = 1;                                               /* BUG */
    ExFreePoolWithTag(block, TAG_POOL);
}

static void write_within(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 100, TAG_POOL);
    memset(block, 0x5A, 100);
    ExFreePoolWithTag(block, TAG_POOL);
    block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 3 * PAGE_SIZE, TAG_POOL);
    memset(block, 0x5A, 3 * PAGE_SIZE);
    ExFreePoolWithTag(block, TAG_POOL);
}

static void read_after_free(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG_POOL);
    ExFreePoolWithTag(block, TAG_POOL);
    printf("%d\n", block[3]); /* BUG */
}

static void free_twice(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG_POOL);
    ExFreePoolWithTag(block, TAG_POOL);
    ExFreePoolWithTag(block, TAG_POOL); /* BUG */
}

static void free_with_wrong_tag(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG_POOL);
    ExFreePoolWithTag(block, TAG_FROM_CHARS('W', 'r', 'n', 'g')); /* BUG */
}

static void leak_one(void *unused)
{
    (void)unused;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, 48, TAG_POOL);
    if (openwsk_leak_report() == 1)
        _exit(0);
    _exit(1);
}

static void overrun_caught(void)
{
    CHECK(caught(write_past_end, "SpecialPoolOverrun", 0xD6));
    CHECK(caught(write_into_slack, "SpecialPoolSlackCorrupted", 0xC1));
    CHECK(runs_clean(write_within));
}

static void use_after_free_caught(void)
{
    CHECK(caught(read_after_free, "PoolUseAfterFree", 0xCC));
    CHECK(wt_aborts_with(read_after_free, NULL, "freed at:"));
}

static void double_free_and_wrong_tag_caught(void)
{
    CHECK(caught(free_twice, "PoolDoubleFree", 0xC2));
    CHECK(caught(free_with_wrong_tag, "PoolFreeWrongTag", 0xC2));
}

static void leaks_name_their_allocation(void)
{
    static char out[8192];
    int status = wt_child_output(leak_one, NULL, out, sizeof(out));
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const char *at = strstr(out, "48 bytes, tag 'Vrf3', allocated at:\n");
    CHECK(at != NULL);
    /* Frames follow (named where the symbols are dynamic: the test links
     * the runtime statically, so they are module+offset here). */
    CHECK(at != NULL && strstr(at, ")[0x") != NULL);
}

/* The runtime's own objects stay in the ordinary pool: an IRP is not in
 * special pool, and the accounting of both kinds adds up. */
static void accounting_covers_special_pool(void)
{
    SIZE_T before = openwsk_pool_outstanding_bytes(TAG_POOL);
    void *p = ExAllocatePoolWithTag(NonPagedPoolNx, 200, TAG_POOL);
    CHECK(p != NULL);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_POOL), before + 200);
    ExFreePoolWithTag(p, TAG_POOL);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_POOL), before);
    PIRP irp = IoAllocateIrp(2, FALSE);
    CHECK(irp != NULL);
    IoFreeIrp(irp);
}

int main(void)
{
    if (openwsk_verify_configure("pool") != 0)
        return 1;
    WT_RUN(overrun_caught);
    WT_RUN(use_after_free_caught);
    WT_RUN(double_free_and_wrong_tag_caught);
    WT_RUN(leaks_name_their_allocation);
    WT_RUN(accounting_covers_special_pool);
    openwsk_verify_configure("");
    return wt_finish();
}
