/*
 * test_wsk_receive_end.c - receives at the end of a connection's stream:
 * several WskReceive IRPs queued when the peer's FIN or reset arrives, and
 * receives posted after it (wsk-part-b.md §5.3, §10; PFN_WSK_RECEIVE,
 * Remarks: queued receives are filled in the order they were queued).
 *
 * Windows' behaviour, which the provider must keep: after the peer's
 * graceful close every receive completes with STATUS_SUCCESS and 0 bytes;
 * after its reset every receive fails with STATUS_CONNECTION_RESET; the
 * receives complete in the order they were posted, each exactly once; a
 * receive cancelled while the end arrives completes once, cancelled or
 * with the end; receives posted after the end complete in post order and
 * without waiting for the close.  (The provider answers receives behind a known end without
 * a Linux call: wsk_req.c, hold_at_end_locked.)
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>

#include "linux_peer.h"
#include "wt_pattern.h"

#define TAG_END TAG_FROM_CHARS('T', 'e', 'n', 'd')
#define MAX_RECEIVES 8

/* One posted receive: its buffer, its IRP, and when it completed. */
typedef struct end_receive {
    PIRP irp;
    PMDL mdl;
    PUCHAR buffer;
    KEVENT done;
    volatile LONG completions;
    volatile LONG order; /* 1-based place among the completions */
} end_receive;

static volatile LONG completed_so_far;

static NTSTATUS end_receive_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    end_receive *e = context;
    (void)device;
    (void)irp;
    InterlockedExchange(&e->order, InterlockedIncrement(&completed_so_far));
    InterlockedIncrement(&e->completions);
    KeSetEvent(&e->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void end_receive_init(end_receive *e, SIZE_T length)
{
    memset(e, 0, sizeof(*e));
    e->buffer = ExAllocatePoolWithTag(NonPagedPoolNx, length, TAG_END);
    e->mdl = wp_mdl(e->buffer, length);
    e->irp = IoAllocateIrp(1, FALSE);
    KeInitializeEvent(&e->done, NotificationEvent, FALSE);
    IoSetCompletionRoutine(e->irp, end_receive_done, e, TRUE, TRUE, TRUE);
}

static void end_receive_free(end_receive *e)
{
    IoFreeIrp(e->irp);
    IoFreeMdl(e->mdl);
    ExFreePoolWithTag(e->buffer, TAG_END);
}

static NTSTATUS post_receive(PWSK_SOCKET s, end_receive *e, SIZE_T length, ULONG flags)
{
    WSK_BUF b = {e->mdl, 0, length};
    return ((const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch)->WskReceive(s, &b, flags, e->irp);
}

/* Waits for e's completion; returns its status (STATUS_PENDING: never). */
static NTSTATUS wait_receive(end_receive *e)
{
    return wp_wait(&e->done, 5000) ? e->irp->IoStatus.Status : STATUS_PENDING;
}

/* Six receives wait (two with WSK_FLAG_WAITALL); the peer sends 10 bytes
 * and closes gracefully.  The first gets the bytes, the other five the
 * end, in post order; receives posted afterwards get the end at once. */
static void fin_ends_queued_and_later_receives(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    enum { N = 6 };
    end_receive rx[MAX_RECEIVES];
    completed_so_far = 0;
    for (int i = 0; i < N; i++) {
        end_receive_init(&rx[i], 64);
        CHECK_EQ(post_receive(s, &rx[i], 64, (i == 2 || i == 4) ? WSK_FLAG_WAITALL : 0), STATUS_PENDING);
    }
    static const char data[10] = "0123456789";
    CHECK_EQ(peer_send_all(peer, data, sizeof(data)), sizeof(data));
    CHECK_EQ(peer_shutdown_write(peer), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(wait_receive(&rx[i]), STATUS_SUCCESS);
        CHECK_EQ(rx[i].irp->IoStatus.Information, i == 0 ? sizeof(data) : 0);
        CHECK_EQ(rx[i].order, i + 1); /* completed in post order */
    }
    CHECK_MEM(rx[0].buffer, data, sizeof(data));

    /* After the end: at once, plain and WAITALL alike. */
    for (int i = N; i < N + 2; i++) {
        end_receive_init(&rx[i], 64);
        NTSTATUS r = post_receive(s, &rx[i], 64, i == N ? 0 : WSK_FLAG_WAITALL);
        CHECK(r == STATUS_PENDING || r == STATUS_SUCCESS);
        CHECK_EQ(wait_receive(&rx[i]), STATUS_SUCCESS);
        CHECK_EQ(rx[i].irp->IoStatus.Information, 0);
        CHECK_EQ(rx[i].order, i + 1);
    }
    for (int i = 0; i < N + 2; i++) {
        CHECK_EQ(rx[i].completions, 1);
        end_receive_free(&rx[i]);
    }
    wt_close(&t, s);
    peer_close(peer);
    wt_wsk_close(&t);
}

/* Four receives wait when the peer resets: all four fail with
 * STATUS_CONNECTION_RESET in post order, and so does a later one. */
static void reset_fails_queued_and_later_receives(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    enum { N = 4 };
    end_receive rx[N + 1];
    completed_so_far = 0;
    for (int i = 0; i < N; i++) {
        end_receive_init(&rx[i], 64);
        CHECK_EQ(post_receive(s, &rx[i], 64, i == 1 ? WSK_FLAG_WAITALL : 0), STATUS_PENDING);
    }
    peer_reset_on_close(peer);
    peer_close(peer);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(wait_receive(&rx[i]), STATUS_CONNECTION_RESET);
        CHECK_EQ(rx[i].irp->IoStatus.Information, 0);
        CHECK_EQ(rx[i].order, i + 1);
    }
    end_receive_init(&rx[N], 64);
    NTSTATUS r = post_receive(s, &rx[N], 64, 0);
    CHECK(r == STATUS_PENDING || r == STATUS_CONNECTION_RESET);
    CHECK_EQ(wait_receive(&rx[N]), STATUS_CONNECTION_RESET);
    CHECK_EQ(rx[N].irp->IoStatus.Information, 0);
    for (int i = 0; i <= N; i++) {
        CHECK_EQ(rx[i].completions, 1);
        end_receive_free(&rx[i]);
    }
    wt_close(&t, s);
    wt_wsk_close(&t);
}

/* After the end is known, a receive whose IRP was cancelled before the
 * call, then another: both complete while the socket is open, the second
 * with the end and after the first (the first may still be on its way to
 * its completion routine when the second is posted). */
static void receive_behind_a_cancelled_one_after_the_end(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    for (int round = 0; round < 5; round++) {
        int peer;
        PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
        end_receive rx[3];
        completed_so_far = 0;
        end_receive_init(&rx[0], 64);
        CHECK_EQ(post_receive(s, &rx[0], 64, 0), STATUS_PENDING);
        CHECK_EQ(peer_shutdown_write(peer), 0);
        CHECK_EQ(wait_receive(&rx[0]), STATUS_SUCCESS); /* found the end */
        end_receive_init(&rx[1], 64);
        end_receive_init(&rx[2], 64);
        IoCancelIrp(rx[1].irp); /* cancelled before the call */
        (void)post_receive(s, &rx[1], 64, 0);
        (void)post_receive(s, &rx[2], 64, 0);
        NTSTATUS second = wait_receive(&rx[1]);
        CHECK(second == STATUS_CANCELLED || second == STATUS_SUCCESS);
        CHECK_EQ(wait_receive(&rx[2]), STATUS_SUCCESS); /* before the close */
        CHECK_EQ(rx[2].irp->IoStatus.Information, 0);
        CHECK_EQ(rx[2].order, 3);
        wt_close(&t, s);
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(rx[i].completions, 1);
            end_receive_free(&rx[i]);
        }
        peer_close(peer);
    }
    wt_wsk_close(&t);
}

typedef struct cancel_job {
    PIRP irp;
    volatile LONG go;
    unsigned spins; /* after the go: the cancel lands before, during or after the end */
} cancel_job;

static void *cancel_when_told(void *arg)
{
    cancel_job *j = arg;
    while (!__atomic_load_n(&j->go, __ATOMIC_ACQUIRE))
        ;
    for (volatile unsigned k = 0; k < j->spins; k++)
        ;
    IoCancelIrp(j->irp);
    return NULL;
}

/* The second of two receives is cancelled by another thread while the
 * peer's FIN arrives, many times over: each completes exactly once (the
 * second cancelled, or with the end and after the first), and the close
 * completes after both. */
static void cancel_races_the_end(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int cancelled = 0, ended = 0;
    for (int round = 0; round < 40; round++) {
        int peer;
        PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
        end_receive rx[2];
        completed_so_far = 0;
        for (int i = 0; i < 2; i++) {
            end_receive_init(&rx[i], 64);
            CHECK_EQ(post_receive(s, &rx[i], 64, 0), STATUS_PENDING);
        }
        cancel_job job = {rx[1].irp, 0, (unsigned)round * 2500u};
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, cancel_when_told, &job), 0);
        CHECK_EQ(peer_shutdown_write(peer), 0);
        __atomic_store_n(&job.go, 1, __ATOMIC_RELEASE);
        CHECK_EQ(wait_receive(&rx[0]), STATUS_SUCCESS);
        CHECK_EQ(rx[0].irp->IoStatus.Information, 0);
        NTSTATUS second = wait_receive(&rx[1]);
        CHECK(second == STATUS_SUCCESS || second == STATUS_CANCELLED);
        CHECK_EQ(rx[1].irp->IoStatus.Information, 0);
        if (second == STATUS_SUCCESS) { /* a cancelled receive may complete before (IoCancelIrp) */
            CHECK_EQ(rx[0].order, 1);
            CHECK_EQ(rx[1].order, 2);
        }
        pthread_join(th, NULL);
        cancelled += second == STATUS_CANCELLED;
        ended += second == STATUS_SUCCESS;
        wt_close(&t, s);
        for (int i = 0; i < 2; i++) {
            CHECK_EQ(rx[i].completions, 1);
            end_receive_free(&rx[i]);
        }
        peer_close(peer);
    }
    printf("  cancel_races_the_end: %d cancelled, %d ended\n", cancelled, ended);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(fin_ends_queued_and_later_receives);
    WT_RUN(reset_fails_queued_and_later_receives);
    WT_RUN(receive_behind_a_cancelled_one_after_the_end);
    WT_RUN(cancel_races_the_end);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
