/*
 * thread.c - system threads (PsCreateSystemThread) on pthreads, and the
 * thread objects drivers wait on.
 *
 * A thread object is signalled when its thread ends, so the classic unload
 * sequence works: ObReferenceObjectByHandle(h, ..., PsThreadType, ...),
 * ZwClose(h), signal the thread to stop, KeWaitForSingleObject(thread, ...),
 * ObDereferenceObject(thread).  Threads the runtime did not create (main,
 * test threads) get an object on first use.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <unistd.h>

static __thread struct _ETHREAD *thread_current;
/* PsTerminateSystemThread jumps back to thread_main through this. */
static __thread jmp_buf *thread_exit_jump;
static __thread NTSTATUS thread_exit_status;
static pthread_key_t thread_adopted_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static volatile LONG thread_next_id;

static HANDLE thread_new_id(void)
{
    return (HANDLE)(ULONG_PTR)(4 * (ULONG_PTR)__atomic_add_fetch(&thread_next_id, 1, __ATOMIC_RELAXED) + 0x1000);
}

static void thread_init_object(struct _ETHREAD *t, BOOLEAN system)
{
    t->Header.Type = ThreadObject;
    t->Header.Size = sizeof(struct _ETHREAD) / sizeof(LONG);
    t->Header.SignalState = 0;
    t->SystemThread = system;
    t->Priority = system ? 8 : 8;
    t->ThreadId = thread_new_id();
}

/* Marks the thread terminated, wakes its waiters, drops the thread's own
 * reference. */
static void thread_finish(struct _ETHREAD *t, NTSTATUS status)
{
    /* Drop the thread's own reference first, then signal, all under the
     * dispatcher lock: a waiter that wakes up and drops the last reference
     * then frees the object at once (the leak report is right as soon as
     * the wait returns), and thread_destroy cannot free it mid-signal. */
    thread_current = NULL;
    t->ExitStatus = status;
    openwsk_dispatcher_lock();
    if (ObfDereferenceObject(t) > 0) {
        __atomic_store_n(&t->Header.SignalState, 1, __ATOMIC_SEQ_CST);
        openwsk_dispatcher_wake(&t->Header, INT_MAX);
    }
    openwsk_dispatcher_unlock();
}

/* Runs before a thread object's memory goes: waits out a signal in progress. */
static void thread_destroy(void *body)
{
    (void)body;
    openwsk_dispatcher_lock();
    openwsk_dispatcher_unlock();
}

static void thread_adopted_exit(void *arg)
{
    thread_finish(arg, STATUS_SUCCESS);
}

static void thread_make_key(void)
{
    pthread_key_create(&thread_adopted_key, thread_adopted_exit);
}

PETHREAD PsGetCurrentThread(void)
{
    if (thread_current == NULL) {
        pthread_once(&thread_key_once, thread_make_key);
        struct _ETHREAD *t = openwsk_object_create_untracked(sizeof(*t), *PsThreadType, thread_destroy);
        if (t == NULL)
            KeBugCheckEx(0x7D /* INSTALL_MORE_MEMORY */, 0, 0, 0, 0);
        thread_init_object(t, FALSE);
        thread_current = t;
        pthread_setspecific(thread_adopted_key, t);
    }
    return thread_current;
}

/* The thread object is signalled only once no frame of the driver's is left
 * on this stack: the waiter (DriverUnload) may unmap the driver's image as
 * soon as its wait returns, and pthread_exit would still unwind through the
 * driver's frames, reading its unwind tables.  So PsTerminateSystemThread
 * longjmps back here first. */
static void *thread_main(void *arg)
{
    struct _ETHREAD *t = arg;
    jmp_buf exit_jump;
    pthread_setname_np(pthread_self(), "driver-thread"); /* the timeline's track name */
    thread_current = t;
    thread_exit_status = STATUS_SUCCESS;
    if (setjmp(exit_jump) == 0) {
        thread_exit_jump = &exit_jump;
        t->StartRoutine(t->StartContext);
    }
    thread_exit_jump = NULL;
    thread_finish(t, thread_exit_status);
    return NULL;
}

NTSTATUS PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                              HANDLE ProcessHandle, PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine,
                              PVOID StartContext)
{
    (void)DesiredAccess;
    (void)ObjectAttributes;
    (void)ProcessHandle;
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_ps_passive, "PsCreateSystemThread");
    if (ThreadHandle == NULL || StartRoutine == NULL)
        return STATUS_INVALID_PARAMETER;
    struct _ETHREAD *t = openwsk_object_create(sizeof(*t), *PsThreadType, thread_destroy);
    if (t == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    thread_init_object(t, TRUE);
    t->StartRoutine = StartRoutine;
    t->StartContext = StartContext;

    HANDLE handle;
    NTSTATUS status = openwsk_handle_create(t, &handle);
    if (!NT_SUCCESS(status)) {
        ObfDereferenceObject(t);
        return status;
    }
    ObfReferenceObject(t); /* the thread's own reference, dropped when it ends */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, thread_main, t);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        ObfDereferenceObject(t);
        ZwClose(handle);
        ObfDereferenceObject(t);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (ClientId != NULL) {
        ClientId->UniqueProcess = PsGetCurrentProcessId();
        ClientId->UniqueThread = t->ThreadId;
    }
    *ThreadHandle = handle;
    ObfDereferenceObject(t); /* the creation reference; the handle keeps one */
    return STATUS_SUCCESS;
}

NTSTATUS PsTerminateSystemThread(NTSTATUS ExitStatus)
{
    struct _ETHREAD *t = (struct _ETHREAD *)PsGetCurrentThread();
    if (!t->SystemThread)
        return STATUS_INVALID_PARAMETER;
    KIRQL irql = KeGetCurrentIrql();
    if (irql != PASSIVE_LEVEL)
        KeLowerIrql(PASSIVE_LEVEL);
    if (thread_exit_jump != NULL) {
        thread_exit_status = ExitStatus;
        longjmp(*thread_exit_jump, 1);
    }
    thread_finish(t, ExitStatus);
    pthread_exit(NULL);
}

PEPROCESS PsGetCurrentProcess(void)
{
    return openwsk_system_process();
}

HANDLE PsGetCurrentThreadId(void)
{
    return ((struct _ETHREAD *)PsGetCurrentThread())->ThreadId;
}

HANDLE PsGetThreadId(PETHREAD Thread)
{
    return ((struct _ETHREAD *)Thread)->ThreadId;
}

HANDLE PsGetCurrentProcessId(void)
{
    return (HANDLE)(ULONG_PTR)4; /* the System process */
}

HANDLE PsGetProcessId(PEPROCESS Process)
{
    (void)Process;
    return PsGetCurrentProcessId();
}

BOOLEAN PsIsSystemThread(PETHREAD Thread)
{
    return ((struct _ETHREAD *)Thread)->SystemThread;
}

KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority)
{
    struct _ETHREAD *t = (struct _ETHREAD *)Thread;
    KPRIORITY old = t->Priority;
    t->Priority = Priority;
    return old;
}

KPRIORITY KeQueryPriorityThread(PKTHREAD Thread)
{
    return ((struct _ETHREAD *)Thread)->Priority;
}
