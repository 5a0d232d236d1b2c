/*
 * kv_client.c - the Linux companion of kv_driver: puts, gets, deletes and
 * lists records from several threads at once (lookups share the driver's
 * ERESOURCE, updates take it exclusively), waits for expiry passes and
 * checks that the records whose time was up are gone and the others stay,
 * then that a WAIT_EXPIRY pended by a process killed without CloseHandle
 * is cancelled, and that two handles' requests are inside the driver's
 * DEVICE_CONTROL routine at once (as each caller's thread is on Windows).
 * It waits for the driver's events (pass numbers and times it reports),
 * never for a length of time.
 *
 *   kv_client                 every check; exit status 0 if all pass
 *   kv_client --wait-forever  pends a WAIT_EXPIRY that no pass satisfies
 *                             and expects the driver's unload to cancel it
 *
 * KV_CLIENT_ROUNDS=N repeats each thread's work N times (default 1).
 */
#include <openwsk_user.h>

#include "kv_ioctl.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 3
#define PERMANENT 12 /* records per thread that never expire */
#define SHORT 8      /* records per thread that expire after SHORT_TTL_MS */
#define SHORT_TTL_MS 60

static int failures;
static pthread_mutex_t failures_lock = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond)                                                                                 \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "kv_client: %s:%d: CHECK(%s) failed (GetLastError %u)\n", __FILE__,   \
                    __LINE__, #cond, (unsigned)GetLastError());                                     \
            pthread_mutex_lock(&failures_lock);                                                     \
            failures++;                                                                             \
            pthread_mutex_unlock(&failures_lock);                                                   \
        }                                                                                           \
    } while (0)

static HANDLE open_kv(DWORD access)
{
    return CreateFileA("\\\\.\\KvStore", access, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
}

static BOOL put(HANDLE h, const char *key, const char *value, unsigned ttl_ms, KV_RECORD *stored)
{
    KV_RECORD r;
    memset(&r, 0, sizeof(r));
    snprintf(r.Key, sizeof(r.Key), "%s", key);
    r.ValueLength = (unsigned)strlen(value);
    memcpy(r.Value, value, r.ValueLength);
    r.TtlMs = ttl_ms;
    DWORD n = 0;
    KV_RECORD out;
    BOOL ok = DeviceIoControl(h, IOCTL_KV_PUT, &r, sizeof(r), &out, sizeof(out), &n, NULL);
    if (ok) {
        CHECK(n == sizeof(out));
        CHECK(strcmp(out.Key, key) == 0 && out.ValueLength == r.ValueLength);
        CHECK((ttl_ms == 0) == (out.ExpiresAt == 0));
        if (stored != NULL)
            *stored = out;
    }
    return ok;
}

/* 1 found with the value, 0 ERROR_NOT_FOUND, -1 anything else. */
static int get(HANDLE h, const char *key, const char *value)
{
    KV_RECORD r;
    memset(&r, 0xEE, sizeof(r));
    DWORD n = 99;
    if (!DeviceIoControl(h, IOCTL_KV_GET, (void *)key, (DWORD)strlen(key) + 1, &r, sizeof(r), &n, NULL))
        return GetLastError() == ERROR_NOT_FOUND && n == 0 ? 0 : -1;
    if (n != sizeof(r) || strcmp(r.Key, key) != 0 || r.ValueLength != strlen(value) ||
        memcmp(r.Value, value, r.ValueLength) != 0)
        return -1;
    return 1;
}

static BOOL del(HANDLE h, const char *key)
{
    DWORD n;
    return DeviceIoControl(h, IOCTL_KV_DELETE, (void *)key, (DWORD)strlen(key) + 1, NULL, 0, &n, NULL);
}

static KV_STATS stats(HANDLE h)
{
    KV_STATS s;
    memset(&s, 0xAB, sizeof(s));
    DWORD n = 0;
    CHECK(DeviceIoControl(h, IOCTL_KV_STATS, NULL, 0, &s, sizeof(s), &n, NULL));
    CHECK(n == sizeof(s));
    return s;
}

/* Waits for the expiry pass after `min_pass - 1` (0: the next one). */
static KV_EXPIRY_PASS wait_pass(HANDLE h, unsigned long long min_pass)
{
    KV_EXPIRY_PASS p;
    memset(&p, 0, sizeof(p));
    DWORD n = 0;
    CHECK(DeviceIoControl(h, IOCTL_KV_WAIT_EXPIRY, &min_pass, sizeof(min_pass), &p, sizeof(p), &n, NULL));
    CHECK(n == sizeof(p) && p.Pass >= 1 && (min_pass == 0 || p.Pass >= min_pass));
    return p;
}

/* Waits until a completed pass has looked at the time `when` or later. */
static void wait_until_expired(HANDLE h, unsigned long long when)
{
    KV_EXPIRY_PASS p = wait_pass(h, 0);
    unsigned long long last = p.Pass;
    while (p.Now < when) {
        p = wait_pass(h, 0);
        CHECK(p.Pass > last);
        last = p.Pass;
    }
}

static void key_of(char *buf, size_t size, int thread, const char *kind, int i)
{
    snprintf(buf, size, "t%d-%s-%03d", thread, kind, i);
}

static void value_of(char *buf, size_t size, int thread, int round, int i)
{
    snprintf(buf, size, "value of %d/%d/%d", thread, round, i);
}

static int client_rounds(void)
{
    const char *env = getenv("KV_CLIENT_ROUNDS");
    int n = env != NULL ? atoi(env) : 1;
    return n > 0 ? n : 1;
}

/* One thread's records: its own keys, its own handle. */
static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    int rounds = client_rounds();
    HANDLE h = open_kv(GENERIC_READ | GENERIC_WRITE);
    CHECK(h != INVALID_HANDLE_VALUE);
    char key[KV_KEY_MAX], value[KV_VALUE_MAX];
    for (int round = 0; round < rounds; round++) {
        unsigned long long latest_expiry = 0;
        for (int i = 0; i < PERMANENT; i++) {
            key_of(key, sizeof(key), t, "keep", i);
            value_of(value, sizeof(value), t, round, i);
            CHECK(put(h, key, value, 0, NULL));
        }
        for (int i = 0; i < SHORT; i++) {
            KV_RECORD stored = {0}; /* -O3 cannot see that put() fills it when it succeeds */
            key_of(key, sizeof(key), t, "short", i);
            value_of(value, sizeof(value), t, round, i);
            CHECK(put(h, key, value, SHORT_TTL_MS, &stored));
            if (stored.ExpiresAt > latest_expiry)
                latest_expiry = stored.ExpiresAt;
        }
        /* Lookups (shared) while other threads update (exclusive). */
        for (int pass = 0; pass < 4; pass++)
            for (int i = 0; i < PERMANENT; i++) {
                key_of(key, sizeof(key), t, "keep", i);
                value_of(value, sizeof(value), t, round, i);
                CHECK(get(h, key, value) == 1);
            }
        /* Replace one, delete two. */
        key_of(key, sizeof(key), t, "keep", 0);
        CHECK(put(h, key, "replaced", 0, NULL));
        CHECK(get(h, key, "replaced") == 1);
        for (int i = PERMANENT - 2; i < PERMANENT; i++) {
            key_of(key, sizeof(key), t, "keep", i);
            CHECK(del(h, key));
            CHECK(get(h, key, "") == 0);
            CHECK(!del(h, key) && GetLastError() == ERROR_NOT_FOUND);
        }

        /* The short records go at the first pass that sees their time. */
        wait_until_expired(h, latest_expiry);
        for (int i = 0; i < SHORT; i++) {
            key_of(key, sizeof(key), t, "short", i);
            CHECK(get(h, key, "") == 0);
        }
        key_of(key, sizeof(key), t, "keep", 0);
        CHECK(get(h, key, "replaced") == 1);
        for (int i = 1; i < PERMANENT - 2; i++) {
            key_of(key, sizeof(key), t, "keep", i);
            value_of(value, sizeof(value), t, round, i);
            CHECK(get(h, key, value) == 1);
        }
    }
    CHECK(CloseHandle(h));
    return NULL;
}

static void concurrent_records(void)
{
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    printf("kv_client: %d threads put, got, deleted and saw their records expire\n", THREADS);
}

static void list_and_errors(void)
{
    HANDLE h = open_kv(GENERIC_READ | GENERIC_WRITE);
    CHECK(h != INVALID_HANDLE_VALUE);
    int expected = THREADS * (PERMANENT - 2);

    /* Every key, in key order. */
    size_t size = sizeof(KV_LIST) + (size_t)(expected + 4) * KV_KEY_MAX;
    KV_LIST *list = calloc(1, size);
    DWORD n = 0;
    CHECK(DeviceIoControl(h, IOCTL_KV_LIST, NULL, 0, list, (DWORD)size, &n, NULL));
    CHECK(list->Count == (unsigned)expected && list->Total == (unsigned)expected);
    CHECK(n == sizeof(KV_LIST) + (size_t)expected * KV_KEY_MAX);
    for (unsigned i = 1; i < list->Count; i++)
        CHECK(strcmp(list->Keys[i - 1], list->Keys[i]) < 0);
    for (unsigned i = 0; i < list->Count; i++)
        CHECK(strstr(list->Keys[i], "-keep-") != NULL);
    /* Room for three: ERROR_MORE_DATA with the first three. */
    KV_LIST *small = calloc(1, sizeof(KV_LIST) + 3 * KV_KEY_MAX);
    CHECK(!DeviceIoControl(h, IOCTL_KV_LIST, NULL, 0, small, sizeof(KV_LIST) + 3 * KV_KEY_MAX, &n, NULL));
    CHECK(GetLastError() == ERROR_MORE_DATA);
    CHECK(n == sizeof(KV_LIST) + 3 * KV_KEY_MAX && small->Count == 3 && small->Total == (unsigned)expected);
    CHECK(memcmp(small->Keys, list->Keys, 3 * KV_KEY_MAX) == 0);
    CHECK(!DeviceIoControl(h, IOCTL_KV_LIST, NULL, 0, small, 4, &n, NULL));
    CHECK(GetLastError() == ERROR_INSUFFICIENT_BUFFER && n == 0);
    free(small);
    free(list);

    /* The driver's refusals, as Win32 errors. */
    KV_RECORD r;
    memset(&r, 'x', sizeof(r)); /* a key without its NUL */
    r.ValueLength = 1;
    CHECK(!DeviceIoControl(h, IOCTL_KV_PUT, &r, sizeof(r), NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    memset(&r, 0, sizeof(r));
    strcpy(r.Key, "big");
    r.ValueLength = KV_VALUE_MAX + 1;
    CHECK(!DeviceIoControl(h, IOCTL_KV_PUT, &r, sizeof(r), NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    CHECK(!DeviceIoControl(h, IOCTL_KV_PUT, &r, 8, NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    CHECK(!DeviceIoControl(h, IOCTL_KV_GET, "", 1, &r, sizeof(r), &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    CHECK(!DeviceIoControl(h, IOCTL_KV_GET, "t0-keep-001", 12, &r, 8, &n, NULL));
    CHECK(GetLastError() == ERROR_INSUFFICIENT_BUFFER);
    CHECK(get(h, "no such key", "") == 0);
    CHECK(!DeviceIoControl(h, CTL_CODE(FILE_DEVICE_UNKNOWN, 0x9FF, METHOD_BUFFERED, FILE_ANY_ACCESS), NULL, 0,
                           NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_FUNCTION);
    KV_EXPIRY_PASS p;
    CHECK(!DeviceIoControl(h, IOCTL_KV_WAIT_EXPIRY, NULL, 0, &p, 4, &n, NULL));
    CHECK(GetLastError() == ERROR_INSUFFICIENT_BUFFER);
    CHECK(CloseHandle(h));

    /* PUT and DELETE need write access: the I/O manager refuses them. */
    HANDLE ro = open_kv(GENERIC_READ);
    CHECK(ro != INVALID_HANDLE_VALUE);
    CHECK(!put(ro, "ro", "ro", 0, NULL) && GetLastError() == ERROR_ACCESS_DENIED);
    CHECK(!del(ro, "t0-keep-001") && GetLastError() == ERROR_ACCESS_DENIED);
    char value[KV_VALUE_MAX];
    value_of(value, sizeof(value), 0, client_rounds() - 1, 1);
    CHECK(get(ro, "t0-keep-001", value) == 1);
    CHECK(CloseHandle(ro));
    printf("kv_client: LIST in key order, ERROR_MORE_DATA, refusals ok\n");
}

static int until_stats(HANDLE h, int (*pred)(const KV_STATS *, long long), long long arg)
{
    for (int i = 0; i < 2000; i++) {
        KV_STATS s = stats(h);
        if (pred(&s, arg))
            return 1;
        struct timespec t = {0, 10 * 1000000L};
        nanosleep(&t, NULL);
    }
    return 0;
}

static int waiting_is(const KV_STATS *s, long long n)
{
    return s->Waiting == n;
}

static int cancelled_is(const KV_STATS *s, long long n)
{
    return s->WaitsCancelled == n;
}

/* A WAIT_EXPIRY for a pass that never comes, in a process killed without
 * CloseHandle: the driver's cancel routine completes it. */
static void killed_waiter(void)
{
    HANDLE h = open_kv(GENERIC_READ);
    CHECK(h != INVALID_HANDLE_VALUE);
    KV_STATS s0 = stats(h);
    CHECK(s0.Waiting == 0);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        HANDLE c = open_kv(GENERIC_READ);
        unsigned long long never = ~0ULL;
        KV_EXPIRY_PASS p;
        DWORD n;
        DeviceIoControl(c, IOCTL_KV_WAIT_EXPIRY, &never, sizeof(never), &p, sizeof(p), &n, NULL);
        _exit(3); /* never reached: the parent kills us first */
    }
    CHECK(until_stats(h, waiting_is, 1));
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(until_stats(h, cancelled_is, s0.WaitsCancelled + 1));
    CHECK(until_stats(h, waiting_is, 0));

    /* The timer, its DPC and the work item ran where they should. */
    KV_STATS s = stats(h);
    CHECK(s.DpcIrql == 2 /* DISPATCH_LEVEL */ && s.WorkerIrql == 0 /* PASSIVE_LEVEL */);
    CHECK(s.Passes >= 1 && s.WorkItemsQueued >= s.Passes && s.TimerDpcs >= s.WorkItemsQueued);
    CHECK(s.Expired >= THREADS * SHORT && s.WaitsCompleted >= THREADS);
    CHECK(s.Records == THREADS * (PERMANENT - 2));
    CHECK(CloseHandle(h));
    printf("kv_client: a killed process's WAIT_EXPIRY was cancelled; %lld DPCs, %lld passes, %lld expired, "
           "up to %lld lookups sharing the resource\n",
           s.TimerDpcs, s.Passes, s.Expired, s.MaxSharedHolders);
}

static void *rendezvous_thread(void *arg)
{
    DWORD n;
    return DeviceIoControl(arg, IOCTL_KV_RENDEZVOUS, NULL, 0, NULL, 0, &n, NULL) ? (void *)1 : NULL;
}

/* Two handles in two threads are inside the driver's DEVICE_CONTROL
 * routine at the same time, as on Windows: the first RENDEZVOUS waits in
 * it until the second arrives (up to 5 s, then STATUS_IO_TIMEOUT). */
static void concurrent_dispatch(void)
{
    HANDLE a = open_kv(GENERIC_READ), b = open_kv(GENERIC_READ);
    CHECK(a != INVALID_HANDLE_VALUE && b != INVALID_HANDLE_VALUE);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, rendezvous_thread, a) == 0);
    void *first_ok = NULL;
    CHECK(rendezvous_thread(b) != NULL);
    pthread_join(t, &first_ok);
    CHECK(first_ok != NULL);
    KV_STATS s = stats(a);
    CHECK(s.MaxDispatching >= 2);
    CHECK(CloseHandle(a) && CloseHandle(b));
    printf("kv_client: up to %lld callers were inside the driver's dispatch routine at once\n", s.MaxDispatching);
}

static int wait_forever(void)
{
    HANDLE h = open_kv(GENERIC_READ | GENERIC_WRITE);
    if (h == INVALID_HANDLE_VALUE)
        return 1;
    CHECK(put(h, "left-behind", "freed by DriverUnload", 0, NULL));
    unsigned long long never = ~0ULL;
    KV_EXPIRY_PASS p;
    DWORD n;
    BOOL ok = DeviceIoControl(h, IOCTL_KV_WAIT_EXPIRY, &never, sizeof(never), &p, sizeof(p), &n, NULL);
    CHECK(!ok && GetLastError() == ERROR_OPERATION_ABORTED);
    CHECK(CloseHandle(h));
    printf("kv_client: the pended WAIT_EXPIRY was cancelled by the unload\n");
    return failures != 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "--wait-forever") == 0)
        return wait_forever();
    concurrent_records();
    list_and_errors();
    concurrent_dispatch();
    killed_waiter();
    if (failures != 0) {
        fprintf(stderr, "kv_client: %d checks failed\n", failures);
        return 1;
    }
    printf("kv_client: all checks passed\n");
    return 0;
}
