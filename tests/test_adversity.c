/*
 * test_adversity.c - legal-adversity mode (OPENWSK_ADVERSITY,
 * docs/adversity.md): its specification, its seeded decisions, short
 * stream receives that stay legal (every byte arrives, in order; WAITALL
 * still fills its buffer), low-resources failures of the driver's
 * allocations, and the event log.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>
#include <wsk.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/adversity.h"
#include "linux_peer.h"
#include "wt.h"
#include "wt_wsk.h"

#define TAG_ADV TAG_FROM_CHARS('A', 'd', 'v', '1')

static void specification(void)
{
    CHECK_EQ(openwsk_adversity_configure("7"), 0);
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_SHORT_RECEIVE));
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_SHORT_INDICATION));
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES));
    CHECK_EQ(openwsk_adversity_configure("7,short"), 0);
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_SHORT_RECEIVE));
    CHECK(!openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES));
    CHECK_EQ(openwsk_adversity_configure("x"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,nonsense"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,reset=0"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,reset="), -1);
    CHECK_EQ(openwsk_adversity_configure("7,resets"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,short=3"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,deadlisten=x"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,reset=+5"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,reset= 5"), -1);
    CHECK_EQ(openwsk_adversity_configure("7,reset=5"), 0);
    CHECK_EQ(openwsk_adversity_configure("7"), 0);
    CHECK(!openwsk_adverse(OPENWSK_ADVERSE_RESET)); /* only when named */
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_PENDING));
    CHECK(!openwsk_adverse(OPENWSK_ADVERSE_DEAD_LISTENER));
    CHECK_EQ(openwsk_adversity_configure("7,lowres"), 0);
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES));
    CHECK_EQ(openwsk_adversity_configure("7,reset"), 0);
    CHECK(openwsk_adverse(OPENWSK_ADVERSE_RESET));
    CHECK(!openwsk_adverse(OPENWSK_ADVERSE_SHORT_RECEIVE));
    CHECK_EQ(openwsk_adversity_configure("7,lowres=0"), -1);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
    CHECK(!openwsk_adverse(OPENWSK_ADVERSE_SHORT_RECEIVE));
}

/* A socket's decisions depend on the seed and its ordinal only. */
static void draw(const char *spec, unsigned ordinal, uint32_t out[16])
{
    CHECK_EQ(openwsk_adversity_configure(spec), 0);
    openwsk_adversity_stream st = {0};
    st.ordinal = ordinal;
    for (int i = 0; i < 16; i++) {
        out[i] = openwsk_adversity_stream_pick(&st, 1000000);
        CHECK(out[i] >= 1 && out[i] <= 1000000);
    }
}

static void streams_replay(void)
{
    uint32_t a[16], b[16], c[16], d[16];
    draw("42,short", 5, a);
    draw("42,short", 5, b);
    draw("42,short", 6, c);
    draw("43,short", 5, d);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);
    CHECK(memcmp(a, d, sizeof(a)) != 0);
    /* Unset ordinals are handed out in turn. */
    openwsk_adversity_stream s1 = {0}, s2 = {0};
    (void)openwsk_adversity_stream_one_in(&s1, 2);
    (void)openwsk_adversity_stream_one_in(&s2, 2);
    CHECK(s1.ordinal != 0 && s2.ordinal == s1.ordinal + 1);
    openwsk_adversity_configure("");
}

/* lowres=2: about half of the driver's allocations fail, each logged; a
 * raise-on-failure request raises; the runtime's own objects are not
 * failed (only the driver's calls are). */
static void low_resources(void)
{
    char path[] = "/tmp/openwsk-adversity-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char spec[96];
    snprintf(spec, sizeof(spec), "9,lowres=2,log=%s", path);
    CHECK_EQ(openwsk_adversity_configure(spec), 0);
    int failed = 0, irps_failed = 0, mdls_failed = 0;
    for (int i = 0; i < 200; i++) {
        void *p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG_ADV);
        if (p == NULL)
            failed++;
        else
            ExFreePoolWithTag(p, TAG_ADV);
        PIRP irp = IoAllocateIrp(1, FALSE);
        if (irp == NULL)
            irps_failed++;
        else
            IoFreeIrp(irp);
        static char buffer[64];
        PMDL m = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, NULL);
        if (m == NULL)
            mdls_failed++;
        else
            IoFreeMdl(m);
    }
    CHECK(failed > 50 && failed < 150);
    CHECK(irps_failed > 50 && irps_failed < 150);
    CHECK(mdls_failed > 50 && mdls_failed < 150);
    volatile NTSTATUS code = STATUS_SUCCESS;
    for (volatile int i = 0; i < 50 && code == STATUS_SUCCESS; i++) {
        __try {
            void *p = ExAllocatePoolWithTag((POOL_TYPE)(NonPagedPoolNx | POOL_RAISE_IF_ALLOCATION_FAILURE), 16,
                                            TAG_ADV);
            ExFreePoolWithTag(p, TAG_ADV);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            code = GetExceptionCode();
        }
    }
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int lines = 0;
    char line[256];
    BOOLEAN named = FALSE;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        lines++;
        if (strstr(line, "IoAllocateMdl(64 bytes) fails (low resources)") != NULL)
            named = TRUE;
    }
    if (f != NULL)
        fclose(f);
    CHECK(lines >= failed + irps_failed + mdls_failed);
    CHECK(named);
    unlink(path);
}

/* Short receives stay legal: a peer's 64 KiB arrive whole and in order
 * through receives that often return less than was there, and a WAITALL
 * receive still fills its buffer. */
static void short_receives_lose_nothing(void)
{
    CHECK_EQ(openwsk_adversity_configure("5,short"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    static unsigned char sent[65536], got[65536];
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = (unsigned char)(i * 13 + (i >> 8));
    CHECK_EQ(peer_send_all(peer, sent, sizeof(sent)), (long)sizeof(sent));
    size_t have = 0;
    int receives = 0, short_ones = 0;
    PMDL m = IoAllocateMdl(got, sizeof(got), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    while (have < sizeof(got) - 1000 && receives < 100000) {
        WSK_BUF b = {m, have, 1000};
        CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &b, 0, wt_irp_arm(&t.irp))), STATUS_SUCCESS);
        ULONG_PTR n = t.irp.irp->IoStatus.Information;
        CHECK(n >= 1 && n <= 1000);
        if (n < 1000)
            short_ones++;
        have += n;
        receives++;
    }
    WSK_BUF rest = {m, have, sizeof(got) - have};
    CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &rest, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp))), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(got) - have);
    CHECK(memcmp(sent, got, sizeof(got)) == 0);
    CHECK(short_ones > 10); /* the adversity really happened */
    IoFreeMdl(m);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* Short indications: WskReceiveEvent sees at most 64 bytes at a time
 * now and then, and every byte still arrives once, in order. */
typedef struct indications {
    pthread_mutex_t mu;
    KEVENT all;
    unsigned char got[8192];
    size_t have, want;
    unsigned calls, small;
} indications;

static NTSTATUS WSKAPI take_indication(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                       SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesAccepted;
    indications *x = SocketContext;
    if (DataIndication == NULL)
        return STATUS_SUCCESS; /* the peer closed */
    pthread_mutex_lock(&x->mu);
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority);
        size_t len = i->Buffer.Length;
        if (x->have + len <= sizeof(x->got))
            memcpy(x->got + x->have, va + i->Buffer.Offset, len);
        x->have += len;
    }
    x->calls++;
    if (BytesIndicated <= 64)
        x->small++;
    if (x->have >= x->want)
        KeSetEvent(&x->all, IO_NO_INCREMENT, FALSE);
    pthread_mutex_unlock(&x->mu);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH indication_events = {take_indication, NULL, NULL};

static void short_indications_lose_nothing(void)
{
    CHECK_EQ(openwsk_adversity_configure("11,events"), 0);
    static indications x;
    memset(&x, 0, sizeof(x));
    pthread_mutex_init(&x.mu, NULL);
    KeInitializeEvent(&x.all, NotificationEvent, FALSE);
    x.want = sizeof(x.got);
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, &x, &indication_events, WSK_EVENT_RECEIVE, &peer);
    static unsigned char sent[8192];
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = (unsigned char)(i * 7 + 3);
    CHECK_EQ(peer_send_all(peer, sent, sizeof(sent)), (long)sizeof(sent));
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&x.all, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    pthread_mutex_lock(&x.mu);
    CHECK_EQ(x.have, sizeof(sent));
    CHECK(memcmp(x.got, sent, sizeof(sent)) == 0);
    CHECK(x.calls >= 8 && x.small >= 1); /* the adversity really happened */
    pthread_mutex_unlock(&x.mu);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* Slow sends: a 256 KiB send to a peer that does not read stays pending
 * (without the option it fits in the socket buffers at once), then
 * completes whole once the peer reads. */
static void slow_sends_wait_for_the_peer(void)
{
    CHECK_EQ(openwsk_adversity_configure("3,slowsend"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    static unsigned char data[256 * 1024], got[256 * 1024];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 5 + 1);
    PMDL m = IoAllocateMdl(data, sizeof(data), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    WSK_BUF b = {m, 0, sizeof(data)};
    NTSTATUS r = d->WskSend(s, &b, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    LARGE_INTEGER brief = {.QuadPart = -200LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&t.irp.done, Executive, KernelMode, FALSE, &brief), STATUS_TIMEOUT);
    size_t have = 0;
    while (have < sizeof(got)) {
        long n = peer_recv(peer, got + have, sizeof(got) - have, 2000);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    CHECK_EQ(have, sizeof(got));
    CHECK(memcmp(data, got, sizeof(got)) == 0);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(data));
    IoFreeMdl(m);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* ---- pending: completions moved (PFN_WSK_BIND, Return value: the call
 * may complete at once or return STATUS_PENDING and complete later) ---- */

typedef struct moved_call {
    KEVENT done;
    volatile LONG completions;
    volatile LONG sequence; /* the order in which completions ran */
    pthread_t thread;
    BOOLEAN pending_returned;
} moved_call;

static volatile LONG moved_sequence;

static NTSTATUS moved_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    moved_call *m = context;
    m->pending_returned = irp->PendingReturned;
    m->thread = pthread_self();
    m->sequence = InterlockedIncrement(&moved_sequence);
    InterlockedIncrement(&m->completions);
    KeSetEvent(&m->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP moved_arm(PIRP irp, moved_call *m)
{
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    KeInitializeEvent(&m->done, NotificationEvent, FALSE);
    m->completions = 0;
    m->sequence = 0;
    m->pending_returned = 0xFF;
    IoSetCompletionRoutine(irp, moved_routine, m, TRUE, TRUE, TRUE);
    return irp;
}

static void moved_wait(moved_call *m)
{
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&m->done, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK_EQ(m->completions, 1);
}

/* Every call still completes exactly once with the right result; seen
 * over many calls: completed before returning STATUS_PENDING (openwsk's
 * habit), the status returned without pending, and STATUS_PENDING
 * returned first with the routine run later on another thread. */
static void pending_moves_completions(void)
{
    CHECK_EQ(openwsk_adversity_configure("21,pending"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(&t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    PIRP irp = IoAllocateIrp(1, FALSE);
    moved_call m;
    int inline_pending = 0, synchronous = 0, later = 0;
    for (int i = 0; i < 60; i++) {
        SOCKADDR_IN local;
        memset(&local, 0, sizeof(local));
        NTSTATUS r = d->WskGetLocalAddress(s, (PSOCKADDR)&local, moved_arm(irp, &m));
        LONG done_at_return = __atomic_load_n(&m.completions, __ATOMIC_ACQUIRE);
        moved_wait(&m);
        CHECK_EQ(irp->IoStatus.Status, STATUS_SUCCESS);
        CHECK_EQ(RtlUshortByteSwap(local.sin_port), port);
        if (r == STATUS_PENDING) {
            CHECK_EQ(m.pending_returned, TRUE);
            if (done_at_return)
                inline_pending++;
            else
                later++;
            if (!done_at_return)
                CHECK(!pthread_equal(m.thread, pthread_self()));
        } else {
            CHECK_EQ(r, STATUS_SUCCESS);
            CHECK_EQ(m.pending_returned, FALSE);
            CHECK(done_at_return);
            synchronous++;
        }
    }
    CHECK(inline_pending > 5 && synchronous > 5 && later > 5);
    IoFreeIrp(irp);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* On a new datagram socket: WskGetLocalAddress, not waited for, then
 * WskCloseSocket; the close must complete after the call did
 * (PFN_WSK_CLOSE_SOCKET: nothing of the socket completes after its
 * close).  `between` (if not NULL) is configured between the two calls.
 * TRUE if the call's completion had been moved to later. */
static BOOLEAN close_after_an_unwaited_call(wt_wsk *t, PIRP irp, PIRP close_irp, const char *between)
{
    USHORT port;
    PWSK_SOCKET s = wt_datagram_socket(t, AF_INET, "127.0.0.1", &port);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    for (int k = 0; k < 64; k++)
        if (t->made[k].socket == s)
            t->made[k].socket = NULL;
    moved_call call, close;
    SOCKADDR_IN local;
    NTSTATUS r = d->WskGetLocalAddress(s, (PSOCKADDR)&local, moved_arm(irp, &call));
    if (between != NULL)
        CHECK_EQ(openwsk_adversity_configure(between), 0);
    BOOLEAN moved = r == STATUS_PENDING && __atomic_load_n(&call.completions, __ATOMIC_ACQUIRE) == 0;
    (void)d->WskCloseSocket(s, moved_arm(close_irp, &close));
    moved_wait(&call);
    moved_wait(&close);
    CHECK_EQ(close_irp->IoStatus.Status, STATUS_SUCCESS);
    CHECK(close.sequence > call.sequence);
    return moved;
}

/* The close comes last, also when the call's completion was moved, and
 * also when adversity was switched off while it was still queued. */
static void pending_close_comes_last(void)
{
    CHECK_EQ(openwsk_adversity_configure("22,pending"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    PIRP irp = IoAllocateIrp(1, FALSE), close_irp = IoAllocateIrp(1, FALSE);
    int moved = 0;
    for (int i = 0; i < 30; i++)
        moved += close_after_an_unwaited_call(&t, irp, close_irp, NULL);
    CHECK(moved > 3);
    int queued_at_switch = 0;
    for (int i = 0; i < 30 && queued_at_switch < 3; i++) {
        char spec[32];
        snprintf(spec, sizeof(spec), "%d,pending", 100 + i); /* each seed draws anew */
        CHECK_EQ(openwsk_adversity_configure(spec), 0);
        queued_at_switch += close_after_an_unwaited_call(&t, irp, close_irp, "");
    }
    CHECK(queued_at_switch > 0);
    IoFreeIrp(irp);
    IoFreeIrp(close_irp);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* The driver bug the option exists for: a fragment that takes WskBind's
 * result from its completion routine right after the call returned,
 * without waiting on STATUS_PENDING.  Without adversity openwsk always
 * completed the bind first and the bug never shows; with "pending" it
 * does, and the fixed fragment (wait when STATUS_PENDING) never fails. */
typedef struct bind_context {
    volatile LONG bound;
    KEVENT done;
} bind_context;

static NTSTATUS bind_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    bind_context *b = context;
    __atomic_store_n(&b->bound, NT_SUCCESS(irp->IoStatus.Status), __ATOMIC_RELEASE);
    KeSetEvent(&b->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static int bind_without_waiting(wt_wsk *t, BOOLEAN fixed)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
    bind_context b = {0};
    KeInitializeEvent(&b.done, NotificationEvent, FALSE);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, bind_routine, &b, TRUE, TRUE, TRUE);
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
    NTSTATUS r = d->WskBind(s, (PSOCKADDR)&a, 0, irp);
    if (fixed && r == STATUS_PENDING)
        KeWaitForSingleObject(&b.done, Executive, KernelMode, FALSE, NULL);
    /* The buggy fragment's conclusion ("bind failed"); atomic only so that
     * TSan reports nothing of the test itself. */
    int wrong = !__atomic_load_n(&b.bound, __ATOMIC_ACQUIRE);
    KeWaitForSingleObject(&b.done, Executive, KernelMode, FALSE, NULL); /* the test's own cleanup */
    IoFreeIrp(irp);
    CHECK_EQ(wt_close(t, s), STATUS_SUCCESS);
    return wrong;
}

static void pending_finds_a_driver_that_does_not_wait(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int plain = 0, adverse = 0, fixed = 0;
    for (int i = 0; i < 20; i++)
        plain += bind_without_waiting(&t, FALSE);
    CHECK_EQ(openwsk_adversity_configure("23,pending"), 0);
    for (int i = 0; i < 20; i++)
        adverse += bind_without_waiting(&t, FALSE);
    for (int i = 0; i < 20; i++)
        fixed += bind_without_waiting(&t, TRUE);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
    wt_wsk_close(&t);
    CHECK_EQ(plain, 0);
    CHECK(adverse > 0);
    CHECK_EQ(fixed, 0);
}

/* ---- reset: connections reset in the middle of a transfer ---- */

/* IRP path: a stream of receives sees a prefix of the peer's bytes, in
 * order, then STATUS_CONNECTION_RESET, and every later receive and send
 * fails the same way; the peer sees the reset too. */
static void reset_fails_pending_and_later_calls(void)
{
    CHECK_EQ(openwsk_adversity_configure("31,reset=20"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    int peer;
    PWSK_SOCKET s = wt_connect_to_linux(&t, NULL, NULL, 0, &peer);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    static unsigned char sent[256 * 1024], got[256 * 1024];
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = peer_pattern(i);
    (void)peer_send_all(peer, sent, 64 * 1024); /* all of it fits in the socket buffers */
    PMDL m = IoAllocateMdl(got, sizeof(got), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    size_t have = 0;
    NTSTATUS st = STATUS_SUCCESS;
    for (int i = 0; i < 1000 && st == STATUS_SUCCESS; i++) {
        WSK_BUF b = {m, have, 512};
        st = wt_irp_result(&t.irp, d->WskReceive(s, &b, 0, wt_irp_arm(&t.irp)));
        if (st == STATUS_SUCCESS) {
            CHECK(t.irp.irp->IoStatus.Information > 0);
            have += t.irp.irp->IoStatus.Information;
        }
    }
    CHECK_EQ(st, STATUS_CONNECTION_RESET);
    CHECK(have < 64 * 1024); /* reset in the middle: about one receive in 20 */
    CHECK(memcmp(sent, got, have) == 0);
    WSK_BUF more = {m, 0, 100};
    CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &more, 0, wt_irp_arm(&t.irp))), STATUS_CONNECTION_RESET);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskSend(s, &more, 0, wt_irp_arm(&t.irp))), STATUS_CONNECTION_RESET);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskSend(s, &more, 0, wt_irp_arm(&t.irp))), STATUS_CONNECTION_RESET);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskDisconnect(s, NULL, 0, wt_irp_arm(&t.irp))), STATUS_CONNECTION_RESET);
    WSK_BUF nothing = {m, 0, 0}; /* a zero-byte receive moves nothing: still no error */
    CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &nothing, 0, wt_irp_arm(&t.irp))), STATUS_SUCCESS);
    unsigned char c;
    long n;
    while ((n = peer_recv(peer, &c, 1, 2000)) > 0)
        ;
    CHECK_EQ(n, -ECONNRESET);
    IoFreeMdl(m);
    peer_close(peer);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* Event path: each reset connection is reported once, by
 * WskDisconnectEvent with WSK_FLAG_ABORTIVE or by a NULL WskReceiveEvent
 * indication (the socket no longer works), never both; the bytes
 * indicated before are a prefix of the peer's, in order. */
typedef struct reset_events {
    pthread_mutex_t mu;
    KEVENT told;
    unsigned char got[65536];
    size_t have;
    int null_indications, abortive, graceful;
} reset_events;

static NTSTATUS WSKAPI reset_receive_event(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                           SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    reset_events *x = SocketContext;
    pthread_mutex_lock(&x->mu);
    if (DataIndication == NULL) {
        x->null_indications++;
        KeSetEvent(&x->told, IO_NO_INCREMENT, FALSE);
    }
    for (PWSK_DATA_INDICATION i = DataIndication; i != NULL; i = i->Next) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(i->Buffer.Mdl, NormalPagePriority);
        size_t len = i->Buffer.Length;
        if (x->have + len <= sizeof(x->got))
            memcpy(x->got + x->have, va + i->Buffer.Offset, len);
        x->have += len;
    }
    pthread_mutex_unlock(&x->mu);
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI reset_disconnect_event(PVOID SocketContext, ULONG Flags)
{
    reset_events *x = SocketContext;
    pthread_mutex_lock(&x->mu);
    if (Flags & WSK_FLAG_ABORTIVE)
        x->abortive++;
    else
        x->graceful++;
    KeSetEvent(&x->told, IO_NO_INCREMENT, FALSE);
    pthread_mutex_unlock(&x->mu);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH reset_dispatch = {reset_receive_event, reset_disconnect_event, NULL};

static void reset_reported_once_to_events(void)
{
    CHECK_EQ(openwsk_adversity_configure("32,reset=4"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    int nulls = 0, aborts = 0;
    for (int k = 0; k < 8; k++) {
        static reset_events x;
        memset(&x, 0, sizeof(x));
        pthread_mutex_init(&x.mu, NULL);
        KeInitializeEvent(&x.told, NotificationEvent, FALSE);
        int peer;
        PWSK_SOCKET s =
            wt_connect_to_linux(&t, &x, &reset_dispatch, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, &peer);
        static unsigned char sent[65536];
        for (size_t i = 0; i < sizeof(sent); i++)
            sent[i] = peer_pattern(i + (size_t)k);
        /* Piece by piece, each indicated before the next is sent, so that
         * the reader arms (and draws) once a piece, until the notice
         * comes; the peer's sends may fail once the reset reached it. */
        LARGE_INTEGER now = {.QuadPart = 0};
        size_t off = 0;
        while (off < sizeof(sent) && KeWaitForSingleObject(&x.told, Executive, KernelMode, FALSE, &now) != STATUS_SUCCESS) {
            if (peer_send_all(peer, sent + off, 256) < 0)
                break;
            off += 256;
            for (int w = 0; w < 1000; w++) {
                pthread_mutex_lock(&x.mu);
                BOOLEAN done = x.have >= off || x.null_indications + x.abortive > 0;
                pthread_mutex_unlock(&x.mu);
                if (done)
                    break;
                usleep(1000);
            }
        }
        LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
        CHECK_EQ(KeWaitForSingleObject(&x.told, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
        usleep(20000); /* a second notice would come now */
        pthread_mutex_lock(&x.mu);
        CHECK_EQ(x.null_indications + x.abortive, 1);
        CHECK_EQ(x.graceful, 0);
        CHECK(off < sizeof(sent)); /* the reset came in the middle */
        CHECK(x.have <= off && memcmp(x.got, sent, x.have) == 0);
        nulls += x.null_indications;
        aborts += x.abortive;
        pthread_mutex_unlock(&x.mu);
        peer_close(peer);
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
        pthread_mutex_destroy(&x.mu);
    }
    CHECK(nulls > 0 && aborts > 0);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* ---- deadlisten: a listener stops working (PFN_WSK_ACCEPT_EVENT,
 * AcceptSocket NULL) ---- */

typedef struct dead_listener {
    pthread_mutex_t mu;
    KEVENT died;
    int nulls, accepted;
} dead_listener;

static NTSTATUS WSKAPI dead_accept_event(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                         PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                         PVOID *AcceptSocketContext,
                                         const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    (void)Flags;
    (void)LocalAddress;
    (void)RemoteAddress;
    dead_listener *x = SocketContext;
    pthread_mutex_lock(&x->mu);
    if (AcceptSocket == NULL) {
        x->nulls++;
        KeSetEvent(&x->died, IO_NO_INCREMENT, FALSE);
    } else {
        x->accepted++;
    }
    pthread_mutex_unlock(&x->mu);
    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = NULL;
    /* Declined: the provider resets and frees the connection. */
    return AcceptSocket == NULL ? STATUS_SUCCESS : STATUS_REQUEST_NOT_ACCEPTED;
}

static const WSK_CLIENT_LISTEN_DISPATCH dead_listen_dispatch = {dead_accept_event, NULL, NULL};

static PWSK_SOCKET listener_on_loopback(wt_wsk *t, PVOID context, const VOID *dispatch, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket_with(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, context, dispatch, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(t, l, &a), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(t, l, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(local.sin_port);
    return l;
}

/* Accept events: connections are offered until the listener dies, which
 * WskAcceptEvent hears once (NULL AcceptSocket); then WskAccept fails with
 * STATUS_FILE_FORCED_CLOSED and Linux peers can no longer connect. */
static void dead_listener_told_once(void)
{
    CHECK_EQ(openwsk_adversity_configure("41,deadlisten=4"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    static dead_listener x;
    memset(&x, 0, sizeof(x));
    pthread_mutex_init(&x.mu, NULL);
    KeInitializeEvent(&x.died, NotificationEvent, FALSE);
    USHORT port;
    PWSK_SOCKET l = listener_on_loopback(&t, &x, &dead_listen_dispatch, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    WSK_EVENT_CALLBACK_CONTROL control = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    CHECK_EQ(d->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_SUCCESS);
    int connects = 0;
    LARGE_INTEGER none = {.QuadPart = 0};
    while (connects < 200 && KeWaitForSingleObject(&x.died, Executive, KernelMode, FALSE, &none) != STATUS_SUCCESS) {
        int c = peer_tcp_connect(4, "127.0.0.1", port);
        if (c >= 0)
            peer_close(c);
        connects++;
        usleep(2000);
    }
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&x.died, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK(connects < 200);
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port), -ECONNREFUSED); /* nobody listens any more */
    usleep(20000);
    pthread_mutex_lock(&x.mu);
    CHECK_EQ(x.nulls, 1);
    pthread_mutex_unlock(&x.mu);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp))),
             STATUS_FILE_FORCED_CLOSED);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    wt_wsk_close(&t);
    pthread_mutex_destroy(&x.mu);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

/* WskAccept IRPs: they accept until one finds the listener dead and
 * fails with STATUS_FILE_FORCED_CLOSED, as every later one does. */
static void dead_listener_fails_accepts(void)
{
    CHECK_EQ(openwsk_adversity_configure("42,deadlisten=3"), 0);
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = listener_on_loopback(&t, NULL, NULL, &port);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS st = STATUS_SUCCESS;
    int accepted = 0;
    for (int i = 0; i < 100 && st == STATUS_SUCCESS; i++) {
        NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp));
        int c = peer_tcp_connect(4, "127.0.0.1", port);
        st = wt_irp_result(&t.irp, r);
        if (st == STATUS_SUCCESS) {
            accepted++;
            PWSK_SOCKET a = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
            CHECK(a != NULL);
            const WSK_PROVIDER_CONNECTION_DISPATCH *ad = a->Dispatch;
            CHECK_EQ(wt_irp_result(&t.irp, ad->WskCloseSocket(a, wt_irp_arm(&t.irp))), STATUS_SUCCESS);
        }
        if (c >= 0)
            peer_close(c);
    }
    CHECK_EQ(st, STATUS_FILE_FORCED_CLOSED);
    CHECK(accepted < 100);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&t.irp))),
             STATUS_FILE_FORCED_CLOSED);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    wt_wsk_close(&t);
    CHECK_EQ(openwsk_adversity_configure(""), 0);
}

int main(void)
{
    WT_RUN(specification);
    WT_RUN(streams_replay);
    WT_RUN(low_resources);
    WT_RUN(short_receives_lose_nothing);
    WT_RUN(short_indications_lose_nothing);
    WT_RUN(slow_sends_wait_for_the_peer);
    WT_RUN(pending_moves_completions);
    WT_RUN(pending_close_comes_last);
    WT_RUN(pending_finds_a_driver_that_does_not_wait);
    WT_RUN(reset_fails_pending_and_later_calls);
    WT_RUN(reset_reported_once_to_events);
    WT_RUN(dead_listener_told_once);
    WT_RUN(dead_listener_fails_accepts);
    return wt_finish();
}
