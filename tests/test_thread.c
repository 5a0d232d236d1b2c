/*
 * test_thread.c - PsCreateSystemThread, thread objects through handles
 * (ObReferenceObjectByHandle/ZwClose), waiting for a thread to end,
 * PsTerminateSystemThread, and the statuses for bad handles and types.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <unistd.h>

#include "wt.h"

typedef struct worker_ctx {
    KEVENT go;
    volatile LONG finished;
    HANDLE seen_id;
    KIRQL seen_irql;
    BOOLEAN terminate_early;
    volatile LONG after_terminate;
} worker_ctx;

static void worker(PVOID context)
{
    worker_ctx *w = context;
    w->seen_id = PsGetCurrentThreadId();
    w->seen_irql = KeGetCurrentIrql();
    KeWaitForSingleObject(&w->go, Executive, KernelMode, FALSE, NULL);
    usleep(20 * 1000);
    InterlockedExchange(&w->finished, 1);
    if (w->terminate_early) {
        PsTerminateSystemThread(STATUS_SUCCESS);
        InterlockedExchange(&w->after_terminate, 1); /* never reached */
    }
}

static PETHREAD start_worker(worker_ctx *w, CLIENT_ID *cid)
{
    HANDLE h = NULL;
    KeInitializeEvent(&w->go, NotificationEvent, FALSE);
    CHECK_EQ(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, cid, worker, w), STATUS_SUCCESS);
    CHECK(h != NULL);
    CHECK_EQ((ULONG_PTR)h & 3, 0);
    PETHREAD thread = NULL;
    CHECK_EQ(ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL),
             STATUS_SUCCESS);
    CHECK(thread != NULL);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    CHECK_EQ(ZwClose(h), STATUS_INVALID_HANDLE); /* closed handles are gone */
    return thread;
}

static void wait_on_thread_object_until_it_ends(void)
{
    worker_ctx w = {0};
    CLIENT_ID cid = {0};
    PETHREAD thread = start_worker(&w, &cid);
    LARGE_INTEGER zero = {.QuadPart = 0};
    CHECK_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    KeSetEvent(&w.go, IO_NO_INCREMENT, FALSE);
    CHECK_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    CHECK_EQ(w.finished, 1);
    CHECK(cid.UniqueThread == w.seen_id);
    CHECK(cid.UniqueProcess == PsGetCurrentProcessId());
    CHECK_EQ(w.seen_irql, PASSIVE_LEVEL);
    CHECK(PsGetThreadId(thread) == w.seen_id);
    CHECK_EQ(PsIsSystemThread(thread), TRUE);
    ObDereferenceObject(thread);
}

static void terminate_system_thread_does_not_return(void)
{
    worker_ctx w = {.terminate_early = TRUE};
    PETHREAD thread = start_worker(&w, NULL);
    KeSetEvent(&w.go, IO_NO_INCREMENT, FALSE);
    CHECK_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    CHECK_EQ(w.finished, 1);
    CHECK_EQ(w.after_terminate, 0);
    ObDereferenceObject(thread);
}

static void wait_all_on_two_threads(void)
{
    worker_ctx a = {0}, b = {0};
    PETHREAD ta = start_worker(&a, NULL);
    PETHREAD tb = start_worker(&b, NULL);
    PVOID both[2] = {ta, tb};
    KeSetEvent(&a.go, 0, FALSE);
    KeSetEvent(&b.go, 0, FALSE);
    CHECK_EQ(KeWaitForMultipleObjects(2, both, WaitAll, Executive, KernelMode, FALSE, NULL, NULL), STATUS_SUCCESS);
    CHECK_EQ(a.finished + b.finished, 2);
    ObDereferenceObject(ta);
    ObDereferenceObjectWithTag(tb, TAG_FROM_CHARS('T', 'e', 's', 't'));
}

static void bad_handles_and_types(void)
{
    PVOID obj = NULL;
    CHECK_EQ(ObReferenceObjectByHandle((HANDLE)(ULONG_PTR)0x1234, 0, NULL, KernelMode, &obj, NULL),
             STATUS_INVALID_HANDLE);
    CHECK_EQ(ZwClose(NULL), STATUS_INVALID_HANDLE);
    worker_ctx w = {0};
    HANDLE h;
    KeInitializeEvent(&w.go, NotificationEvent, TRUE);
    CHECK_EQ(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, worker, &w), STATUS_SUCCESS);
    CHECK_EQ(ObReferenceObjectByHandle(h, SYNCHRONIZE, *ExEventObjectType, KernelMode, &obj, NULL),
             STATUS_OBJECT_TYPE_MISMATCH);
    OBJECT_HANDLE_INFORMATION info;
    CHECK_EQ(ObReferenceObjectByHandleWithTag(h, SYNCHRONIZE, NULL, KernelMode, TAG_FROM_CHARS('T', 'a', 'g', '1'),
                                              &obj, &info),
             STATUS_SUCCESS);
    CHECK_EQ(info.GrantedAccess, SYNCHRONIZE);
    ZwClose(h);
    KeWaitForSingleObject(obj, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObjectWithTag(obj, TAG_FROM_CHARS('T', 'a', 'g', '1'));
}

static void create_rejects_bad_arguments(void)
{
    HANDLE h;
    CHECK_EQ(PsCreateSystemThread(NULL, THREAD_ALL_ACCESS, NULL, NULL, NULL, worker, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    openwsk_fault_fail_allocation(1);
    CHECK_EQ(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, worker, NULL),
             STATUS_INSUFFICIENT_RESOURCES);
}

static void terminate_on_a_non_system_thread_fails(void)
{
    CHECK_EQ(PsTerminateSystemThread(STATUS_SUCCESS), STATUS_INVALID_PARAMETER);
    CHECK_EQ(PsIsSystemThread(PsGetCurrentThread()), FALSE);
    CHECK(PsGetCurrentThread() == PsGetCurrentThread());
    CHECK(KeGetCurrentThread() == (PKTHREAD)PsGetCurrentThread());
    PETHREAD self = NULL;
    CHECK_EQ(ObReferenceObjectByHandle(NtCurrentThread(), 0, *PsThreadType, KernelMode, &self, NULL),
             STATUS_SUCCESS);
    CHECK(self == PsGetCurrentThread());
    ObDereferenceObject(self);
}

int main(void)
{
    WT_RUN(wait_on_thread_object_until_it_ends);
    WT_RUN(terminate_system_thread_does_not_return);
    WT_RUN(wait_all_on_two_threads);
    WT_RUN(bad_handles_and_types);
    WT_RUN(create_rejects_bad_arguments);
    WT_RUN(terminate_on_a_non_system_thread_fails);
    /* Thread objects are freed when the last reference goes; a detached
     * thread may still be unwinding for a moment after it signalled. */
    for (int i = 0; i < 100 && openwsk_pool_outstanding_count(0) != 0; i++)
        usleep(10 * 1000);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
