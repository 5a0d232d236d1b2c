/*
 * verifier_pool.c - the verifier's pool rule group (OPENWSK_VERIFY=pool):
 * special pool for the driver's allocations, as Driver Verifier's Special
 * Pool option gives it ("Special Pool" in the Driver Verifier docs).
 *
 * Each ExAllocatePool* block of the driver gets pages of its own, placed
 * so that it ends where a no-access guard page begins: a write (or read)
 * past the end faults at once.  The few bytes between the end of the
 * block and the guard page (alignment) are filled with a pattern checked
 * at free.  A freed block's pages become no-access and stay so for a
 * while (a FIFO of the last 1,024 frees), so a use after free faults too,
 * and a second free is recognised by address.  A fault in such pages is
 * reported with the block's allocation and free stacks, then stops with
 * Windows' own code: 0xD6 beyond the end, 0xCC in freed pool.  Every
 * block remembers its allocation stack, which the leak report prints.
 *
 * The runtime's own objects (openwsk_pool_alloc: IRPs, sockets) stay in
 * the ordinary pool, as Windows' special pool covers the verified driver's
 * allocations; ASan covers the runtime.
 */
#include "verifier.h"

#include "ke_internal.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const openwsk_verify_rule openwsk_rule_pool_overrun = {
    0xA0201, "SpecialPoolOverrun", OPENWSK_VERIFY_POOL, "no access past the end of a pool block"};
const openwsk_verify_rule openwsk_rule_pool_use_after_free = {
    0xA0202, "PoolUseAfterFree", OPENWSK_VERIFY_POOL, "no access to a pool block after ExFreePool*"};
const openwsk_verify_rule openwsk_rule_pool_double_free = {
    0xA0203, "PoolDoubleFree", OPENWSK_VERIFY_POOL, "ExFreePool* once per block"};
const openwsk_verify_rule openwsk_rule_pool_wrong_tag = {
    0xA0204, "PoolFreeWrongTag", OPENWSK_VERIFY_POOL, "ExFreePoolWithTag with the tag the block was allocated with"};
const openwsk_verify_rule openwsk_rule_pool_slack = {
    0xA0205, "SpecialPoolSlackCorrupted", OPENWSK_VERIFY_POOL,
    "no write to the bytes between the end of a block and its page end"};

#define PAGE 4096u
#define SLACK_BYTE 0xB5u
#define QUARANTINE 1024u

typedef struct special_block {
    struct special_block *next; /* hash chain by user pointer */
    unsigned char *base;        /* the mapping: data pages, then one guard page */
    size_t map_len;
    unsigned char *user;
    size_t size;
    ULONG tag;
    BOOLEAN freed;
    openwsk_verify_stack allocated_at, freed_at;
} special_block;

#define BUCKETS 8192u
static pthread_mutex_t special_lock = PTHREAD_MUTEX_INITIALIZER;
static special_block *blocks[BUCKETS];
static special_block *quarantine[QUARANTINE];
static unsigned quarantine_next;
static int fault_handler_installed;
static struct sigaction previous_segv;

static unsigned bucket_of(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    return (unsigned)((v >> 4) ^ (v >> 20)) % BUCKETS;
}

static special_block *find_locked(const void *user)
{
    for (special_block *b = blocks[bucket_of(user)]; b != NULL; b = b->next)
        if (b->user == user)
            return b;
    return NULL;
}

static void unlink_locked(special_block *gone)
{
    for (special_block **link = &blocks[bucket_of(gone->user)]; *link != NULL; link = &(*link)->next)
        if (*link == gone) {
            *link = gone->next;
            return;
        }
}

static void print_history(const special_block *b)
{
    char t[5];
    openwsk_format_tag(b->tag, t);
    fprintf(stderr, "  the block: %p, %zu bytes, tag '%s' (stacks innermost first):\n", (void *)b->user, b->size, t);
    openwsk_verify_print_stack("allocated at", &b->allocated_at);
    if (b->freed)
        openwsk_verify_print_stack("freed at", &b->freed_at);
}

static _Noreturn void stop_with(ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4)
{
    fprintf(stderr, "==%d== stopping as Windows' special pool does, with Bug Check 0x%X\n", (int)getpid(),
            (unsigned)code);
    fflush(stderr);
    KeBugCheckEx(code, p1, p2, p3, p4);
    abort();
}

/* ---- faults in special pool pages ---- */

static special_block *block_containing_locked(const unsigned char *addr)
{
    for (unsigned i = 0; i < BUCKETS; i++)
        for (special_block *b = blocks[i]; b != NULL; b = b->next)
            if (addr >= b->base && addr < b->base + b->map_len)
                return b;
    return NULL;
}

static void special_pool_fault(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    const unsigned char *addr = info->si_addr;
    /* No lock: the faulting thread may hold it (a fault inside our own
     * code is not expected); the process stops either way. */
    special_block *b = block_containing_locked(addr);
    if (b != NULL) {
        if (b->freed) {
            openwsk_verify_report(&openwsk_rule_pool_use_after_free, "an access to freed pool",
                   "address %p is %td bytes into a block freed earlier", (const void *)addr, addr - b->user);
            print_history(b);
            stop_with(0xCC /* PAGE_FAULT_IN_FREED_SPECIAL_POOL */, (ULONG_PTR)addr, 0, 0, 0);
        }
        openwsk_verify_report(&openwsk_rule_pool_overrun, "an access past a pool block",
               "address %p is %td bytes past the end of the block", (const void *)addr, addr - (b->user + b->size));
        print_history(b);
        stop_with(0xD6 /* DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION */, (ULONG_PTR)addr, 0, 0, 0);
    }
    /* Not ours: what would have happened without us. */
    sigaction(SIGSEGV, &previous_segv, NULL);
    if (previous_segv.sa_flags & SA_SIGINFO && previous_segv.sa_sigaction != NULL)
        previous_segv.sa_sigaction(sig, info, uctx);
    else
        raise(sig);
}

static void install_fault_handler_locked(void)
{
    if (fault_handler_installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = special_pool_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    fault_handler_installed = 1;
}

/* ---- allocation and free ---- */

void *openwsk_verify_pool_map(size_t bytes, size_t align, ULONG tag)
{
    if (align < 16)
        align = 16;
    size_t data = (bytes + align + 16 + PAGE - 1) / PAGE * PAGE;
    size_t len = data + PAGE;
    unsigned char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base + data, PAGE, PROT_NONE) != 0) {
        munmap(base, len);
        return NULL;
    }
    special_block *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        munmap(base, len);
        return NULL;
    }
    unsigned char *end = base + data;
    unsigned char *user = (unsigned char *)((uintptr_t)(end - bytes) & ~(uintptr_t)(align - 1));
    memset(user + bytes, SLACK_BYTE, (size_t)(end - (user + bytes)));
    b->base = base;
    b->map_len = len;
    b->user = user;
    b->size = bytes;
    b->tag = tag;
    OPENWSK_VERIFY_CAPTURE(&b->allocated_at);
    pthread_mutex_lock(&special_lock);
    install_fault_handler_locked();
    b->next = blocks[bucket_of(user)];
    blocks[bucket_of(user)] = b;
    pthread_mutex_unlock(&special_lock);
    return user;
}

/* Before the header is read: a block already freed is reported here. */
void openwsk_verify_pool_check_free(const void *user, const char *call)
{
    pthread_mutex_lock(&special_lock);
    special_block *b = find_locked(user);
    if (b != NULL && b->freed) {
        special_block copy = *b;
        pthread_mutex_unlock(&special_lock);
        openwsk_verify_report(&openwsk_rule_pool_double_free, call, "block %p was already freed", user);
        print_history(&copy);
        stop_with(BAD_POOL_CALLER, 0x07, 0, 0, (ULONG_PTR)user);
    }
    pthread_mutex_unlock(&special_lock);
}

void openwsk_verify_pool_wrong_tag(const void *user, ULONG allocated, ULONG given, const char *call)
{
    pthread_mutex_lock(&special_lock);
    special_block *b = find_locked(user);
    special_block copy;
    if (b != NULL)
        copy = *b;
    pthread_mutex_unlock(&special_lock);
    char a[5], g[5];
    openwsk_format_tag(allocated, a);
    openwsk_format_tag(given, g);
    openwsk_verify_report(&openwsk_rule_pool_wrong_tag, call, "block %p has tag '%s', freed with tag '%s'", user, a, g);
    if (b != NULL)
        print_history(&copy);
    stop_with(BAD_POOL_CALLER, 0x0A, (ULONG_PTR)user, allocated, given);
}

/* The block is freed: check its slack, make its pages no-access and
 * quarantine it (the oldest quarantined block is unmapped). */
void openwsk_verify_pool_unmap(void *user, const char *call)
{
    pthread_mutex_lock(&special_lock);
    special_block *b = find_locked(user);
    if (b == NULL) {
        pthread_mutex_unlock(&special_lock);
        return;
    }
    unsigned char *end = b->base + b->map_len - PAGE;
    for (unsigned char *q = b->user + b->size; q < end; q++) {
        if (*q != SLACK_BYTE) {
            special_block copy = *b;
            pthread_mutex_unlock(&special_lock);
            openwsk_verify_report(&openwsk_rule_pool_slack, call, "byte %td past the end of block %p was overwritten",
                   q - (copy.user + copy.size), user);
            print_history(&copy);
            stop_with(0xC1 /* SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION */, (ULONG_PTR)user, copy.size, 0, 0x24);
        }
    }
    b->freed = TRUE;
    OPENWSK_VERIFY_CAPTURE(&b->freed_at);
    mprotect(b->base, b->map_len, PROT_NONE);
    special_block *old = quarantine[quarantine_next];
    quarantine[quarantine_next] = b;
    quarantine_next = (quarantine_next + 1) % QUARANTINE;
    if (old != NULL) {
        unlink_locked(old);
        munmap(old->base, old->map_len);
        free(old);
    }
    pthread_mutex_unlock(&special_lock);
}

/* The leak report's detail: the allocation stack of every block still
 * live (the first `limit`). */
void openwsk_verify_pool_report_leaks(unsigned limit)
{
    pthread_mutex_lock(&special_lock);
    unsigned shown = 0;
    for (unsigned i = 0; i < BUCKETS && shown < limit; i++)
        for (special_block *b = blocks[i]; b != NULL && shown < limit; b = b->next)
            if (!b->freed) {
                char t[5];
                openwsk_format_tag(b->tag, t);
                fprintf(stderr, "openwsk: leak: %p, %zu bytes, tag '%s', allocated at:\n", (void *)b->user, b->size,
                        t);
                fflush(stderr);
                if (b->allocated_at.count > 1)
                    backtrace_symbols_fd(b->allocated_at.frames + 1, b->allocated_at.count - 1, 2);
                shown++;
            }
    pthread_mutex_unlock(&special_lock);
}
