/*
 * test_event.c - dispatcher objects and waits: notification and
 * synchronization events, semaphores, KeWaitForSingleObject and
 * KeWaitForMultipleObjects with NULL, zero, relative and absolute timeouts
 * (wsk-part-b.md §11.3).
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wt.h"
#include "wt_bugcheck.h"

#define MS(n) (-(LONGLONG)(n) * 10000) /* relative timeout in 100 ns units */

static LONGLONG now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (LONGLONG)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void event_state_calls(void)
{
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, TRUE);
    CHECK_EQ(KeReadStateEvent(&e), 1);
    CHECK_EQ(e.Header.Type, EventNotificationObject);
    CHECK_EQ(KeResetEvent(&e), 1);
    CHECK_EQ(KeReadStateEvent(&e), 0);
    CHECK_EQ(KeSetEvent(&e, IO_NO_INCREMENT, FALSE), 0);
    CHECK_EQ(KeSetEvent(&e, IO_NO_INCREMENT, FALSE), 1);
    KeClearEvent(&e);
    CHECK_EQ(KeReadStateEvent(&e), 0);
    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
    CHECK_EQ(e.Header.Type, EventSynchronizationObject);
    CHECK_EQ(KeReadStateEvent(&e), 0);
}

static void zero_timeout_polls(void)
{
    LARGE_INTEGER zero = {.QuadPart = 0};
    KEVENT n, s;
    KeInitializeEvent(&n, NotificationEvent, FALSE);
    KeInitializeEvent(&s, SynchronizationEvent, FALSE);
    CHECK_EQ(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    KeSetEvent(&n, 0, FALSE);
    CHECK_EQ(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    CHECK_EQ(KeReadStateEvent(&n), 1); /* notification events stay signalled */
    KeSetEvent(&s, 0, FALSE);
    CHECK_EQ(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    CHECK_EQ(KeReadStateEvent(&s), 0); /* a satisfied wait resets a synchronization event */
    CHECK_EQ(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
}

static void relative_timeout_expires_in_time(void)
{
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    LARGE_INTEGER t = {.QuadPart = MS(60)};
    LONGLONG start = now_ms();
    CHECK_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &t), STATUS_TIMEOUT);
    LONGLONG took = now_ms() - start;
    CHECK(took >= 59);
    CHECK(took < 1000);
}

static void absolute_timeout_uses_system_time(void)
{
    KEVENT e;
    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
    LARGE_INTEGER at;
    KeQuerySystemTimePrecise(&at);
    at.QuadPart += 60 * 10000; /* 60 ms from now, absolute */
    LONGLONG start = now_ms();
    CHECK_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &at), STATUS_TIMEOUT);
    LONGLONG took = now_ms() - start;
    CHECK(took >= 55);
    CHECK(took < 1000);
    KeQuerySystemTimePrecise(&at);
    at.QuadPart -= 10000000; /* one second ago */
    start = now_ms();
    CHECK_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &at), STATUS_TIMEOUT);
    CHECK(now_ms() - start < 100);
}

typedef struct setter_arg {
    PVOID object;
    int delay_ms;
    int times;
} setter_arg;

static void *setter_thread(void *p)
{
    setter_arg *a = p;
    for (int i = 0; i < a->times; i++) {
        usleep((useconds_t)a->delay_ms * 1000);
        KeSetEvent(a->object, IO_NO_INCREMENT, FALSE);
    }
    return NULL;
}

static void infinite_wait_wakes_on_set(void)
{
    KEVENT e;
    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
    setter_arg a = {&e, 20, 1};
    pthread_t t;
    pthread_create(&t, NULL, setter_thread, &a);
    CHECK_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    pthread_join(t, NULL);
    CHECK_EQ(KeReadStateEvent(&e), 0);
}

typedef struct waiter_arg {
    PKEVENT event;
    volatile LONG *released;
    LONGLONG timeout;
} waiter_arg;

static void *waiter_thread(void *p)
{
    waiter_arg *w = p;
    LARGE_INTEGER t = {.QuadPart = w->timeout};
    if (KeWaitForSingleObject(w->event, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS)
        InterlockedIncrement(w->released);
    return NULL;
}

static int count_released(EVENT_TYPE type)
{
    KEVENT e;
    volatile LONG released = 0;
    KeInitializeEvent(&e, type, FALSE);
    waiter_arg w = {&e, &released, MS(300)};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, waiter_thread, &w);
    usleep(50 * 1000);
    KeSetEvent(&e, IO_NO_INCREMENT, FALSE);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return released;
}

static void synchronization_event_releases_one_waiter(void)
{
    CHECK_EQ(count_released(SynchronizationEvent), 1);
}

static void notification_event_releases_all_waiters(void)
{
    CHECK_EQ(count_released(NotificationEvent), 3);
}

static void wait_any_returns_the_index(void)
{
    KEVENT e[3];
    PVOID objs[3];
    for (int i = 0; i < 3; i++) {
        KeInitializeEvent(&e[i], SynchronizationEvent, FALSE);
        objs[i] = &e[i];
    }
    LARGE_INTEGER t = {.QuadPart = MS(30)};
    CHECK_EQ(KeWaitForMultipleObjects(3, objs, WaitAny, Executive, KernelMode, FALSE, &t, NULL), STATUS_TIMEOUT);
    KeSetEvent(&e[2], 0, FALSE);
    CHECK_EQ(KeWaitForMultipleObjects(3, objs, WaitAny, Executive, KernelMode, FALSE, &t, NULL), STATUS_WAIT_0 + 2);
    CHECK_EQ(KeReadStateEvent(&e[2]), 0);
    setter_arg a = {&e[1], 20, 1};
    pthread_t th;
    pthread_create(&th, NULL, setter_thread, &a);
    CHECK_EQ(KeWaitForMultipleObjects(3, objs, WaitAny, Executive, KernelMode, FALSE, NULL, NULL), STATUS_WAIT_1);
    pthread_join(th, NULL);
}

static void wait_all_needs_every_object(void)
{
    KEVENT n, s;
    KeInitializeEvent(&n, NotificationEvent, FALSE);
    KeInitializeEvent(&s, SynchronizationEvent, TRUE);
    PVOID objs[2] = {&n, &s};
    LARGE_INTEGER t = {.QuadPart = MS(30)};
    CHECK_EQ(KeWaitForMultipleObjects(2, objs, WaitAll, Executive, KernelMode, FALSE, &t, NULL), STATUS_TIMEOUT);
    CHECK_EQ(KeReadStateEvent(&s), 1); /* a failed WaitAll consumes nothing */
    setter_arg a = {&n, 20, 1};
    pthread_t th;
    pthread_create(&th, NULL, setter_thread, &a);
    CHECK_EQ(KeWaitForMultipleObjects(2, objs, WaitAll, Executive, KernelMode, FALSE, NULL, NULL), STATUS_SUCCESS);
    pthread_join(th, NULL);
    CHECK_EQ(KeReadStateEvent(&s), 0);
    CHECK_EQ(KeReadStateEvent(&n), 1);
}

static void wait_blocks_needed_beyond_three(void *arg)
{
    (void)arg;
    KEVENT e[4];
    PVOID objs[4];
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&e[i], NotificationEvent, TRUE);
        objs[i] = &e[i];
    }
    KeWaitForMultipleObjects(4, objs, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
}

static void more_than_three_objects_need_wait_blocks(void)
{
    CHECK(wt_bugchecks(wait_blocks_needed_beyond_three, NULL, 0x0C));
    KEVENT e[4];
    PVOID objs[4];
    KWAIT_BLOCK blocks[4];
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&e[i], NotificationEvent, i == 3);
        objs[i] = &e[i];
    }
    CHECK_EQ(KeWaitForMultipleObjects(4, objs, WaitAny, Executive, KernelMode, FALSE, NULL, blocks), STATUS_WAIT_0 + 3);
}

static void semaphore_counts(void)
{
    KSEMAPHORE s;
    LARGE_INTEGER zero = {.QuadPart = 0};
    KeInitializeSemaphore(&s, 2, 3);
    CHECK_EQ(KeReadStateSemaphore(&s), 2);
    CHECK_EQ(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    CHECK_EQ(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    CHECK_EQ(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    CHECK_EQ(KeReleaseSemaphore(&s, 0, 3, FALSE), 0);
    CHECK_EQ(KeReadStateSemaphore(&s), 3);
    volatile NTSTATUS raised = STATUS_SUCCESS;
    __try {
        KeReleaseSemaphore(&s, 0, 1, FALSE);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        raised = GetExceptionCode();
    }
    CHECK_EQ(raised, STATUS_SEMAPHORE_LIMIT_EXCEEDED);
    CHECK_EQ(KeReadStateSemaphore(&s), 3);
}

static void delay_execution_sleeps(void)
{
    LARGE_INTEGER t = {.QuadPart = MS(30)};
    LONGLONG start = now_ms();
    CHECK_EQ(KeDelayExecutionThread(KernelMode, FALSE, &t), STATUS_SUCCESS);
    CHECK(now_ms() - start >= 29);
}

static void wait_at_dispatch(void *arg)
{
    (void)arg;
    KEVENT e;
    KIRQL old;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    LARGE_INTEGER t = {.QuadPart = MS(10)};
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &t);
}

static void blocking_wait_at_dispatch_level_bugchecks(void)
{
    CHECK(wt_bugchecks(wait_at_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
    /* A zero timeout is allowed at DISPATCH_LEVEL. */
    KEVENT e;
    KIRQL old;
    KeInitializeEvent(&e, NotificationEvent, TRUE);
    LARGE_INTEGER zero = {.QuadPart = 0};
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    CHECK_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    KeLowerIrql(old);
}

/* Many threads ping-pong through two synchronization events: no wakeup is
 * ever lost (a lost one would hang and hit the ctest timeout). */
typedef struct pingpong {
    KEVENT ping, pong;
    int rounds;
} pingpong;

static void *ponger(void *p)
{
    pingpong *pp = p;
    for (int i = 0; i < pp->rounds; i++) {
        KeWaitForSingleObject(&pp->ping, Executive, KernelMode, FALSE, NULL);
        KeSetEvent(&pp->pong, 0, FALSE);
    }
    return NULL;
}

static void no_lost_wakeups(void)
{
    pingpong pp = {.rounds = 20000};
    KeInitializeEvent(&pp.ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&pp.pong, SynchronizationEvent, FALSE);
    pthread_t t;
    pthread_create(&t, NULL, ponger, &pp);
    int done = 0;
    for (int i = 0; i < pp.rounds; i++) {
        KeSetEvent(&pp.ping, 0, FALSE);
        if (KeWaitForSingleObject(&pp.pong, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS)
            done++;
    }
    pthread_join(t, NULL);
    CHECK_EQ(done, pp.rounds);
}

/* The waiter frees its event the moment the wait returns, while the setter
 * may still be inside KeSetEvent (KeSetEvent, Remarks: the caller must not
 * touch the event after a waiter could free it; the dispatcher must not
 * either).  Under ASan a touch after the free is a use-after-free report. */
typedef struct handoff {
    PKEVENT volatile event;
    volatile LONG stop;
} handoff;

static void *late_setter(void *p)
{
    handoff *h = p;
    for (;;) {
        PKEVENT e;
        while ((e = __atomic_load_n(&h->event, __ATOMIC_ACQUIRE)) == NULL)
            if (__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
                return NULL;
        __atomic_store_n(&h->event, NULL, __ATOMIC_RELAXED);
        KeSetEvent(e, 0, FALSE);
    }
}

static void event_freed_as_soon_as_the_wait_returns(void)
{
    handoff h = {NULL, 0};
    pthread_t t;
    pthread_create(&t, NULL, late_setter, &h);
    int done = 0;
    for (int i = 0; i < 20000; i++) {
        PKEVENT e = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*e), 'tvEF');
        KeInitializeEvent(e, (i & 1) ? SynchronizationEvent : NotificationEvent, FALSE);
        __atomic_store_n(&h.event, e, __ATOMIC_RELEASE);
        if ((i & 3) == 0) { /* sometimes the waiter goes to sleep first */
            for (volatile int k = 0; k < 2000; k++)
                ;
        }
        if (KeWaitForSingleObject(e, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS)
            done++;
        ExFreePoolWithTag(e, 'tvEF');
    }
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    CHECK_EQ(done, 20000);
}

/* What a driver leaves when it re-initialises an event while another
 * thread is inside KeSetEvent on it: the event's signaller count (its
 * second WaitListHead word) one below zero.  The next satisfied wait stops
 * the system instead of spinning for good or letting the waiter free the
 * event under a later signaller. */
static void wait_on_a_corrupted_event(void *arg)
{
    (void)arg;
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KeSetEvent(&e, 0, FALSE);
    LONG minus_one = -1;
    memcpy((void *)&e.Header.WaitListHead.Blink, &minus_one, sizeof(minus_one));
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL);
}

static void event_reinitialised_while_signalled_bugchecks(void)
{
    CHECK(wt_bugchecks(wait_on_a_corrupted_event, NULL, IRQL_NOT_LESS_OR_EQUAL));
}

int main(void)
{
    WT_RUN(event_state_calls);
    WT_RUN(zero_timeout_polls);
    WT_RUN(relative_timeout_expires_in_time);
    WT_RUN(absolute_timeout_uses_system_time);
    WT_RUN(infinite_wait_wakes_on_set);
    WT_RUN(synchronization_event_releases_one_waiter);
    WT_RUN(notification_event_releases_all_waiters);
    WT_RUN(wait_any_returns_the_index);
    WT_RUN(wait_all_needs_every_object);
    WT_RUN(more_than_three_objects_need_wait_blocks);
    WT_RUN(semaphore_counts);
    WT_RUN(delay_execution_sleeps);
    WT_RUN(blocking_wait_at_dispatch_level_bugchecks);
    WT_RUN(no_lost_wakeups);
    WT_RUN(event_freed_as_soon_as_the_wait_returns);
    WT_RUN(event_reinitialised_while_signalled_bugchecks);
    return wt_finish();
}
