/*
 * test_verifier.c - the driver verifier's IRQL rules (docs/verifier.md).
 *
 * Each rule has a small buggy "driver" function the rule catches and the
 * same function with the bug fixed, which runs clean under the verifier.
 * A caught violation must print the report (rule name, rule id, what was
 * found, a stack) and stop with Bug Check 0xC4 whose parameter 1 is the
 * rule id, as Driver Verifier does.  With the verifier off, the bugs that
 * Windows itself would not stop on without Driver Verifier run through.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"
#include "wt_verifier.h"

#define TAG_TEST TAG_FROM_CHARS('V', 'r', 'f', '1')

/* The report of `rule` (id `id`) with its stack, and the stop 0xC4. */
static int caught(void (*fn)(void *), const char *rule, unsigned id)
{
    return wt_verifier_caught(fn, rule, id, 0xC4, "  stack (innermost first");
}

static int runs_clean(void (*fn)(void *))
{
    return wt_runs_clean(fn, NULL);
}

/* ---- the buggy drivers and their fixes ---- */

static KSPIN_LOCK lock;

static void paged_alloc_under_spin_lock(void *unused)
{
    (void)unused;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    PVOID p = ExAllocatePoolWithTag(PagedPool, 64, TAG_TEST);
    KeReleaseSpinLock(&lock, old);
    if (p != NULL)
        ExFreePoolWithTag(p, TAG_TEST);
}

static void nonpaged_alloc_under_spin_lock(void *unused)
{
    (void)unused;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_TEST);
    KeReleaseSpinLock(&lock, old);
    if (p != NULL)
        ExFreePoolWithTag(p, TAG_TEST);
}

static void pool2_paged_at_dispatch(void *unused)
{
    (void)unused;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PVOID p = ExAllocatePool2(POOL_FLAG_PAGED, 32, TAG_TEST);
    KeLowerIrql(old);
    if (p != NULL)
        ExFreePoolWithTag(p, TAG_TEST);
}

static void release_to_wrong_irql(void *unused)
{
    (void)unused;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeReleaseSpinLock(&lock, APC_LEVEL); /* old was PASSIVE_LEVEL */
    KeLowerIrql(PASSIVE_LEVEL);
}

static void release_in_order(void *unused)
{
    (void)unused;
    KSPIN_LOCK second;
    KeInitializeSpinLock(&second);
    KIRQL old1, old2;
    KeAcquireSpinLock(&lock, &old1);
    KeAcquireSpinLock(&second, &old2);
    KeReleaseSpinLock(&second, old2);
    KeReleaseSpinLock(&lock, old1);
}

static void release_at_passive(void *unused)
{
    (void)unused;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeLowerIrql(PASSIVE_LEVEL); /* the driver dropped the IRQL itself */
    KeReleaseSpinLock(&lock, old);
}

static void wait_with_timeout_at_dispatch(void *unused)
{
    (void)unused;
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    LARGE_INTEGER timeout;
    timeout.QuadPart = -10000; /* 1 ms */
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    (void)KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &timeout);
    KeReleaseSpinLock(&lock, old);
}

static void poll_at_dispatch(void *unused)
{
    (void)unused;
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, TRUE);
    LARGE_INTEGER zero;
    zero.QuadPart = 0;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    (void)KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero);
    KeReleaseSpinLock(&lock, old);
}

/* ZwCreateKey (and ZwClose at PASSIVE_LEVEL) with the IRQL raised to irql. */
static void create_key_at(KIRQL irql)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\VerifierTest");
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    HANDLE key = NULL;
    KIRQL old;
    KeRaiseIrql(irql, &old);
    NTSTATUS st = ZwCreateKey(&key, KEY_ALL_ACCESS, &oa, 0, NULL, REG_OPTION_VOLATILE, NULL);
    KeLowerIrql(old);
    if (NT_SUCCESS(st))
        ZwClose(key);
}

static void zw_at_dispatch(void *unused)
{
    (void)unused;
    create_key_at(DISPATCH_LEVEL);
}

static void zw_at_passive(void *unused)
{
    (void)unused;
    create_key_at(PASSIVE_LEVEL);
}

static VOID thread_body(PVOID context)
{
    (void)context;
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void create_thread_at(KIRQL irql)
{
    HANDLE h = NULL;
    KIRQL old;
    KeRaiseIrql(irql, &old);
    NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_body, NULL);
    KeLowerIrql(old);
    if (NT_SUCCESS(st)) {
        PVOID thread = NULL;
        if (NT_SUCCESS(ObReferenceObjectByHandle(h, SYNCHRONIZE, NULL, KernelMode, &thread, NULL))) {
            KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
            ObDereferenceObject(thread);
        }
        ZwClose(h);
    }
}

static void thread_from_apc_level(void *unused)
{
    (void)unused;
    create_thread_at(APC_LEVEL);
}

static void thread_from_passive(void *unused)
{
    (void)unused;
    create_thread_at(PASSIVE_LEVEL);
}

static void pageable_routine(void)
{
    PAGED_CODE();
}

static void paged_code_at_dispatch(void *unused)
{
    (void)unused;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    pageable_routine();
    KeLowerIrql(old);
}

static void paged_code_at_passive(void *unused)
{
    (void)unused;
    pageable_routine();
}

/* Completion routines: one forgets to release its lock, one leaves the
 * IRQL raised, one does it right. */
static IO_COMPLETION_ROUTINE completion_keeps_lock, completion_raises, completion_right;

static NTSTATUS completion_keeps_lock(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeLowerIrql(old); /* BUG: the lock is never released */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS completion_raises(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeReleaseSpinLockFromDpcLevel(&lock); /* BUG: the IRQL stays at DISPATCH_LEVEL */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS completion_right(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeReleaseSpinLock(&lock, old);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void complete_with(PIO_COMPLETION_ROUTINE routine)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    if (irp == NULL)
        return;
    IoSetCompletionRoutine(irp, routine, NULL, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT); /* at PASSIVE_LEVEL, as a worker thread may */
    IoFreeIrp(irp);
}

static void completion_holding_lock(void *unused)
{
    (void)unused;
    complete_with(completion_keeps_lock);
}

static void completion_leaving_irql_raised(void *unused)
{
    (void)unused;
    complete_with(completion_raises);
}

static void completion_done_right(void *unused)
{
    (void)unused;
    complete_with(completion_right);
}

/* ---- cases ---- */

#define VERIFY_ON() CHECK(openwsk_verify_configure("irql") == 0)

static void irql_ex_allocate_pool(void)
{
    VERIFY_ON();
    CHECK(caught(paged_alloc_under_spin_lock, "IrqlExAllocatePool", 0x20004));
    CHECK(caught(pool2_paged_at_dispatch, "IrqlExAllocatePool", 0x20004));
    CHECK(runs_clean(nonpaged_alloc_under_spin_lock));
}

static void irql_ke_release_spin_lock(void)
{
    VERIFY_ON();
    CHECK(caught(release_to_wrong_irql, "IrqlKeReleaseSpinLock", 0x20015));
    CHECK(caught(release_at_passive, "IrqlKeReleaseSpinLock", 0x20015));
    CHECK(runs_clean(release_in_order));
}

static void irql_ke_wait(void)
{
    VERIFY_ON();
    CHECK(caught(wait_with_timeout_at_dispatch, "IrqlKeWaitForMutexObject", 0xA0001));
    CHECK(runs_clean(poll_at_dispatch));
}

static void irql_zw_passive(void)
{
    VERIFY_ON();
    CHECK(caught(zw_at_dispatch, "IrqlZwPassive", 0xA0002));
    CHECK(runs_clean(zw_at_passive));
}

static void irql_ps_passive(void)
{
    VERIFY_ON();
    CHECK(caught(thread_from_apc_level, "IrqlPsPassive", 0x2001C));
    CHECK(runs_clean(thread_from_passive));
}

static void paged_code(void)
{
    VERIFY_ON();
    CHECK(caught(paged_code_at_dispatch, "PagedCode", 0xA0003));
    CHECK(runs_clean(paged_code_at_passive));
}

static void completion_routine_rules(void)
{
    VERIFY_ON();
    CHECK(caught(completion_holding_lock, "CompletionRoutineSpinLock", 0xA0005));
    CHECK(caught(completion_leaving_irql_raised, "CompletionRoutineIrql", 0xA0004));
    CHECK(runs_clean(completion_done_right));
}

/* Off: the bugs Windows runs through without Driver Verifier run through
 * here too (the always-on checks, e.g. a wait at DISPATCH_LEVEL, stay). */
static void off_changes_nothing(void)
{
    CHECK(openwsk_verify_configure("") == 0);
    CHECK(openwsk_verify_enabled_groups() == 0);
    CHECK(runs_clean(paged_alloc_under_spin_lock));
    CHECK(runs_clean(zw_at_dispatch));
    CHECK(runs_clean(release_to_wrong_irql));
    CHECK(runs_clean(completion_leaving_irql_raised));
    CHECK(wt_bugchecks(wait_with_timeout_at_dispatch, NULL, 0x0A));
}

static void configuration(void)
{
    CHECK(openwsk_verify_configure("irql") == 0);
    CHECK(openwsk_verify_enabled_groups() != 0);
    CHECK(openwsk_verify_configure("all") == 0);
    CHECK(openwsk_verify_enabled_groups() != 0);
    CHECK(openwsk_verify_configure("nonsense") == -1);
    CHECK(openwsk_verify_configure("off") == 0);
    CHECK(openwsk_verify_enabled_groups() == 0);
}

int main(void)
{
    KeInitializeSpinLock(&lock);
    WT_RUN(configuration);
    WT_RUN(irql_ex_allocate_pool);
    WT_RUN(irql_ke_release_spin_lock);
    WT_RUN(irql_ke_wait);
    WT_RUN(irql_zw_passive);
    WT_RUN(irql_ps_passive);
    WT_RUN(paged_code);
    WT_RUN(completion_routine_rules);
    WT_RUN(off_changes_nothing);
    openwsk_verify_configure("");
    return wt_finish();
}
