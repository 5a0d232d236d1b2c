/*
 * test_slist.c - interlocked singly linked lists (hazard H9): the header
 * layout and encoding, push/pop/flush semantics, depth tracking, alignment
 * checks, and a multi-threaded push/pop stress that loses nothing.
 */
#include <ntddk.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wt.h"

typedef struct item {
    SLIST_ENTRY entry; /* first, as Microsoft's samples do */
    int id;
    int owner;
} item;

static void header_layout(void)
{
    CHECK_EQ(sizeof(SLIST_HEADER), 16);
    CHECK_EQ(_Alignof(SLIST_HEADER), 16);
    CHECK_EQ(sizeof(SLIST_ENTRY), 16);
    CHECK_EQ(_Alignof(SLIST_ENTRY), 16);
    CHECK_EQ(sizeof(item) % 16, 0);
    struct {
        char c;
        SLIST_HEADER h;
    } s;
    CHECK_EQ((ULONG_PTR)&s.h % 16, 0);
    CHECK_EQ(offsetof(SLIST_HEADER, Region), 8);
}

static void empty_list(void)
{
    SLIST_HEADER h;
    memset(&h, 0xAB, sizeof(h));
    InitializeSListHead(&h);
    CHECK_EQ(ExQueryDepthSList(&h), 0);
    CHECK_EQ(QueryDepthSList(&h), 0);
    CHECK(FirstEntrySList(&h) == NULL);
    CHECK(InterlockedPopEntrySList(&h) == NULL);
    CHECK(InterlockedFlushSList(&h) == NULL);
    CHECK_EQ(ExQueryDepthSList(&h), 0);
}

static void push_returns_previous_first_entry(void)
{
    SLIST_HEADER h;
    item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    InitializeSListHead(&h);
    /* NULL means "the list was empty": Microsoft's echo sample relies on it. */
    CHECK(InterlockedPushEntrySList(&h, &a.entry) == NULL);
    CHECK(InterlockedPushEntrySList(&h, &b.entry) == &a.entry);
    CHECK(ExInterlockedPushEntrySList(&h, &c.entry, NULL) == &b.entry);
    CHECK(FirstEntrySList(&h) == &c.entry);
    CHECK_EQ(h.HeaderX64.Depth, 3);
    CHECK(c.entry.Next == &b.entry);
    CHECK(b.entry.Next == &a.entry);
    CHECK(a.entry.Next == NULL);
    while (InterlockedPopEntrySList(&h) != NULL)
        ;
    CHECK(InterlockedPushEntrySList(&h, &a.entry) == NULL); /* empty again */
}

static void pop_is_lifo(void)
{
    SLIST_HEADER h;
    item items[5];
    InitializeSListHead(&h);
    for (int i = 0; i < 5; i++) {
        items[i].id = i;
        InterlockedPushEntrySList(&h, &items[i].entry);
        CHECK_EQ(ExQueryDepthSList(&h), i + 1);
    }
    for (int i = 4; i >= 0; i--) {
        PSLIST_ENTRY e = InterlockedPopEntrySList(&h);
        CHECK(e != NULL);
        if (e == NULL)
            break;
        CHECK_EQ(CONTAINING_RECORD(e, item, entry)->id, i);
        CHECK_EQ(ExQueryDepthSList(&h), i);
        CHECK(FirstEntrySList(&h) == (i > 0 ? &items[i - 1].entry : NULL));
    }
    CHECK(InterlockedPopEntrySList(&h) == NULL);
    CHECK_EQ(ExQueryDepthSList(&h), 0);
}

static void flush_returns_whole_chain(void)
{
    SLIST_HEADER h;
    item items[4];
    InitializeSListHead(&h);
    for (int i = 0; i < 4; i++) {
        items[i].id = i;
        InterlockedPushEntrySList(&h, &items[i].entry);
    }
    PSLIST_ENTRY chain = InterlockedFlushSList(&h);
    CHECK_EQ(ExQueryDepthSList(&h), 0);
    CHECK(FirstEntrySList(&h) == NULL);
    CHECK(InterlockedPopEntrySList(&h) == NULL);
    int expect = 3, n = 0;
    for (PSLIST_ENTRY e = chain; e != NULL; e = e->Next, expect--, n++)
        CHECK_EQ(CONTAINING_RECORD(e, item, entry)->id, expect);
    CHECK_EQ(n, 4);
}

static void push_list_ex(void)
{
    SLIST_HEADER h;
    item x = {.id = 100}, a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    InitializeSListHead(&h);
    CHECK(InterlockedPushListSListEx(&h, &a.entry, &a.entry, 1) == NULL);
    CHECK(InterlockedPopEntrySList(&h) == &a.entry);
    InterlockedPushEntrySList(&h, &x.entry);
    a.entry.Next = &b.entry;
    b.entry.Next = &c.entry;
    c.entry.Next = (PSLIST_ENTRY)(ULONG_PTR)0x10; /* overwritten with the old first entry */
    CHECK(InterlockedPushListSListEx(&h, &a.entry, &c.entry, 3) == &x.entry);
    CHECK_EQ(ExQueryDepthSList(&h), 4);
    CHECK(c.entry.Next == &x.entry);
    int expect[] = {1, 2, 3, 100};
    for (int i = 0; i < 4; i++) {
        PSLIST_ENTRY e = InterlockedPopEntrySList(&h);
        CHECK(e != NULL);
        if (e != NULL)
            CHECK_EQ(CONTAINING_RECORD(e, item, entry)->id, expect[i]);
    }
    CHECK_EQ(ExQueryDepthSList(&h), 0);
}

static void header_encoding(void)
{
    SLIST_HEADER h;
    item a, b;
    InitializeSListHead(&h);
    ULONGLONG seq0 = h.HeaderX64.Sequence;
    InterlockedPushEntrySList(&h, &a.entry);
    CHECK_EQ((ULONG_PTR)h.HeaderX64.NextEntry << 4, (ULONG_PTR)&a.entry);
    CHECK_EQ(h.Region, (ULONG_PTR)&a.entry);
    CHECK_EQ(h.HeaderX64.Depth, 1);
    CHECK(h.HeaderX64.Sequence != seq0);
    InterlockedPushEntrySList(&h, &b.entry);
    CHECK_EQ(h.Alignment & 0xFFFF, 2);
    InterlockedFlushSList(&h);
    CHECK_EQ(h.HeaderX64.Depth, 0);
    CHECK_EQ(h.HeaderX64.NextEntry, 0);
}

static void depth_over_many_entries(void)
{
    enum { N = 3000 };
    SLIST_HEADER h;
    item *items = ExAllocatePoolWithTag(NonPagedPool, sizeof(item) * N, 'tsLS');
    CHECK(items != NULL);
    if (items == NULL)
        return;
    InitializeSListHead(&h);
    for (int i = 0; i < N; i++)
        InterlockedPushEntrySList(&h, &items[i].entry);
    CHECK_EQ(ExQueryDepthSList(&h), N);
    for (int i = 0; i < N / 2; i++)
        InterlockedPopEntrySList(&h);
    CHECK_EQ(ExQueryDepthSList(&h), N - N / 2);
    InterlockedFlushSList(&h);
    CHECK_EQ(ExQueryDepthSList(&h), 0);
    ExFreePoolWithTag(items, 'tsLS');
}

static void misaligned_header_init_raises(void)
{
    static unsigned char storage[64] __attribute__((aligned(16)));
    volatile NTSTATUS code = STATUS_SUCCESS;
    __try {
        InitializeSListHead((PSLIST_HEADER)(void *)(storage + 8));
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    CHECK_EQ(code, STATUS_DATATYPE_MISALIGNMENT);
}

/* ---- misaligned entry: bug check in a child ----------------------- */

static void push_misaligned_entry_child(void)
{
    static unsigned char storage[64] __attribute__((aligned(16)));
    SLIST_HEADER h;
    InitializeSListHead(&h);
    InterlockedPushEntrySList(&h, (PSLIST_ENTRY)(void *)(storage + 8));
}

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

static void misaligned_entry_bug_checks(void)
{
    static const char *const expect[] = {"STOP: 0x0000001E", "0x0000000080000002"};
    CHECK(child_dies_with(push_misaligned_entry_child, expect, 2));
}

/* ---- stress ------------------------------------------------------- */

#define STRESS_THREADS 4
#define STRESS_ITEMS 4096
#define STRESS_ROUNDS 200000
#define STRESS_STASH 8

static SLIST_HEADER stress_head;
static item stress_items[STRESS_ITEMS];
static int stress_bad_owner;

static void *stress_thread(void *arg)
{
    int me = (int)(long)arg;
    PSLIST_ENTRY stash[STRESS_STASH];
    int held = 0;
    unsigned rnd = 2463534242u + (unsigned)me;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 17;
        rnd ^= rnd << 5;
        if (held < STRESS_STASH && (held == 0 || (rnd & 1))) {
            PSLIST_ENTRY e = InterlockedPopEntrySList(&stress_head);
            if (e != NULL) {
                item *it = CONTAINING_RECORD(e, item, entry);
                /* Plain accesses: ThreadSanitizer checks that the list
                 * hands items over with a happens-before edge. */
                if (it->owner != -1)
                    __atomic_add_fetch(&stress_bad_owner, 1, __ATOMIC_RELAXED);
                it->owner = me;
                stash[held++] = e;
            }
        } else {
            PSLIST_ENTRY e = stash[--held];
            CONTAINING_RECORD(e, item, entry)->owner = -1;
            InterlockedPushEntrySList(&stress_head, e);
        }
        if ((rnd & 0x3FF) == 0 && held == 0) {
            /* Occasionally take everything and put it back as one chain. */
            PSLIST_ENTRY chain = InterlockedFlushSList(&stress_head);
            if (chain != NULL) {
                PSLIST_ENTRY last = chain;
                ULONG count = 1;
                while (last->Next != NULL && count <= STRESS_ITEMS) {
                    last = last->Next;
                    count++;
                }
                if (count > STRESS_ITEMS) { /* a cycle: the list is corrupt */
                    __atomic_add_fetch(&stress_bad_owner, 1, __ATOMIC_RELAXED);
                    break;
                }
                InterlockedPushListSListEx(&stress_head, chain, last, count);
            }
        }
    }
    while (held > 0) {
        PSLIST_ENTRY e = stash[--held];
        CONTAINING_RECORD(e, item, entry)->owner = -1;
        InterlockedPushEntrySList(&stress_head, e);
    }
    return NULL;
}

static void concurrent_push_pop_loses_nothing(void)
{
    pthread_t t[STRESS_THREADS];
    InitializeSListHead(&stress_head);
    long long expected_sum = 0;
    for (int i = 0; i < STRESS_ITEMS; i++) {
        stress_items[i].id = i;
        stress_items[i].owner = -1;
        expected_sum += (long long)i * i + 7;
        InterlockedPushEntrySList(&stress_head, &stress_items[i].entry);
    }
    stress_bad_owner = 0;
    for (long i = 0; i < STRESS_THREADS; i++)
        pthread_create(&t[i], NULL, stress_thread, (void *)i);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);

    CHECK_EQ(ExQueryDepthSList(&stress_head), STRESS_ITEMS);
    CHECK_EQ(stress_bad_owner, 0);
    static unsigned char seen[STRESS_ITEMS];
    memset(seen, 0, sizeof(seen));
    long long sum = 0;
    int count = 0, duplicates = 0, foreign = 0;
    for (PSLIST_ENTRY e = InterlockedFlushSList(&stress_head); e != NULL; e = e->Next) {
        item *it = CONTAINING_RECORD(e, item, entry);
        if (it < stress_items || it >= stress_items + STRESS_ITEMS) {
            foreign++;
            break;
        }
        if (seen[it->id]++)
            duplicates++;
        sum += (long long)it->id * it->id + 7;
        if (++count > STRESS_ITEMS)
            break;
    }
    CHECK_EQ(foreign, 0);
    CHECK_EQ(duplicates, 0);
    CHECK_EQ(count, STRESS_ITEMS);
    CHECK_EQ(sum, expected_sum);
    CHECK_EQ(ExQueryDepthSList(&stress_head), 0);
}

int main(void)
{
    /* Forks first, while the process is still single-threaded. */
    WT_RUN(misaligned_entry_bug_checks);
    WT_RUN(header_layout);
    WT_RUN(empty_list);
    WT_RUN(push_returns_previous_first_entry);
    WT_RUN(pop_is_lifo);
    WT_RUN(flush_returns_whole_chain);
    WT_RUN(push_list_ex);
    WT_RUN(header_encoding);
    WT_RUN(depth_over_many_entries);
    WT_RUN(misaligned_header_init_raises);
    WT_RUN(concurrent_push_pop_loses_nothing);
    return wt_finish();
}
