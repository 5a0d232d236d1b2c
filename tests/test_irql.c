/*
 * test_irql.c - the simulated IRQL: per thread, raise/lower rules with the
 * bug checks Windows gives for misuse, and PAGED_CODE().
 */
#include <ntddk.h>

#include <pthread.h>

#include "wt.h"
#include "wt_bugcheck.h"

static void raise_and_lower(void)
{
    KIRQL old;
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeRaiseIrql(APC_LEVEL, &old);
    CHECK_EQ(old, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(KeRaiseIrqlToDpcLevel(), APC_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(APC_LEVEL);
    KeLowerIrql(old);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* wdm.h makes these inline, as Windows' x64 header does; a name in
 * parentheses calls the exported function, which must share the state and
 * the rules with the inline forms. */
static void exported_functions_share_the_state(void)
{
    KIRQL old;
    (KeRaiseIrql)(APC_LEVEL, &old);
    CHECK_EQ(old, PASSIVE_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    CHECK_EQ(old, APC_LEVEL);
    CHECK_EQ((KeGetCurrentIrql)(), DISPATCH_LEVEL);
    (KeLowerIrql)(APC_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), APC_LEVEL);
    CHECK_EQ(KfRaiseIrql(DISPATCH_LEVEL), APC_LEVEL);
    (KeLowerIrql)(PASSIVE_LEVEL);
    CHECK_EQ((KeGetCurrentIrql)(), PASSIVE_LEVEL);
}

static void exported_raise_below_current(void *arg)
{
    (void)arg;
    KIRQL old;
    (KeRaiseIrql)(DISPATCH_LEVEL, &old);
    (KeRaiseIrql)(PASSIVE_LEVEL, &old);
}

static void exported_lower_above_current(void *arg)
{
    (void)arg;
    (KeLowerIrql)(DISPATCH_LEVEL);
}

static void exported_misuse_bugchecks(void)
{
    CHECK(wt_bugchecks(exported_raise_below_current, NULL, IRQL_NOT_GREATER_OR_EQUAL));
    CHECK(wt_bugchecks(exported_lower_above_current, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

static void *other_thread_irql(void *p)
{
    *(KIRQL *)p = KeGetCurrentIrql();
    return NULL;
}

static void irql_is_per_thread(void)
{
    KIRQL old, seen = 0xFF;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    pthread_t t;
    pthread_create(&t, NULL, other_thread_irql, &seen);
    pthread_join(t, NULL);
    CHECK_EQ(seen, PASSIVE_LEVEL);
    KeLowerIrql(old);
}

static void raise_below_current(void *arg)
{
    (void)arg;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeRaiseIrql(PASSIVE_LEVEL, &old);
}

static void lower_above_current(void *arg)
{
    (void)arg;
    KeLowerIrql(DISPATCH_LEVEL);
}

static void misuse_bugchecks(void)
{
    CHECK(wt_bugchecks(raise_below_current, NULL, IRQL_NOT_GREATER_OR_EQUAL));
    CHECK(wt_bugchecks(lower_above_current, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

/* Pageable code as drivers write it: declarations, then PAGED_CODE(). */
static int pageable_routine(int x)
{
    int doubled = x * 2;
    PAGED_CODE();
    return doubled;
}

static void pageable_at_dispatch(void *arg)
{
    (void)arg;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    pageable_routine(1);
}

static void paged_code_checks_irql(void)
{
    KIRQL old;
    CHECK_EQ(pageable_routine(2), 4);
    KeRaiseIrql(APC_LEVEL, &old);
    CHECK_EQ(pageable_routine(3), 6);
    KeLowerIrql(old);
    /* Above APC_LEVEL: the assertion failure a checked build gives. */
    CHECK(wt_aborts_with(pageable_at_dispatch, NULL, "PAGED_CODE() in pageable_routine at IRQL 2"));
    CHECK(wt_aborts_with(pageable_at_dispatch, NULL, "KeGetCurrentIrql() <= APC_LEVEL"));
    /* Locked pageable code may run at any IRQL. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PAGED_CODE_LOCKED();
    KeLowerIrql(old);
}

int main(void)
{
    WT_RUN(raise_and_lower);
    WT_RUN(irql_is_per_thread);
    WT_RUN(misuse_bugchecks);
    WT_RUN(exported_functions_share_the_state);
    WT_RUN(exported_misuse_bugchecks);
    WT_RUN(paged_code_checks_irql);
    return wt_finish();
}
