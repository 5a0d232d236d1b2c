/*
 * verifier_irp.c - the verifier's IRP rule group (OPENWSK_VERIFY=irp).
 *
 * While the group is on, every IRP from IoAllocateIrp and every IRP handed
 * to the WSK provider has a record: where it was allocated, handed over
 * and completed, and its state.  Records live outside the pool (they are
 * not the driver's allocations) and stay after IoFreeIrp, so a later use
 * of the freed address is recognised without touching the freed memory.
 * One lock guards the table: this is a debugging mode.
 */
#include "verifier.h"

#include "ke_internal.h"

#include <execinfo.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const openwsk_verify_rule openwsk_rule_irp_freed_in_flight = {
    0xA0101, "IrpFreedInFlight", OPENWSK_VERIFY_IRP,
    "IoFreeIrp only after the IRP's completion routine ran: the provider owns an IRP from the call until then"};
const openwsk_verify_rule openwsk_rule_irp_reused_in_flight = {
    0xA0102, "IrpReusedInFlight", OPENWSK_VERIFY_IRP,
    "an IRP is handed to the provider, or IoReuseIrp'd, only once its previous request completed"};
const openwsk_verify_rule openwsk_rule_irp_use_after_free = {
    0xA0103, "IrpUseAfterFree", OPENWSK_VERIFY_IRP,
    "no IRP routine (IoFreeIrp, IoReuseIrp, IoCancelIrp, a WSK call) gets an IRP after IoFreeIrp freed it"};
const openwsk_verify_rule openwsk_rule_irp_completed_twice = {
    0xA0104, "IrpCompletedTwice", OPENWSK_VERIFY_IRP, "IoCompleteRequest runs once per request"};
const openwsk_verify_rule openwsk_rule_irp_no_stack_location = {
    0xA0106, "IrpNoStackLocation", OPENWSK_VERIFY_IRP,
    "an IRP handed to the provider has a stack location left for it: IoAllocateIrp with StackSize >= 1, "
    "and IoSetCompletionRoutine (which fills the next location) not called twice without IoReuseIrp"};
const openwsk_verify_rule openwsk_rule_irp_allocated_not_reclaimed = {
    0xA0105, "AllocatedIrpNotReclaimed", OPENWSK_VERIFY_IRP,
    "the completion routine of an IRP the driver allocated with IoAllocateIrp returns "
    "STATUS_MORE_PROCESSING_REQUIRED (Using IRPs with Winsock Kernel Functions)"};

enum irp_state { IRP_IDLE, IRP_IN_FLIGHT, IRP_FREED };

typedef struct irp_record {
    struct irp_record *next;
    PIRP irp;
    enum irp_state state;
    BOOLEAN allocated;        /* from IoAllocateIrp */
    BOOLEAN completed;        /* the current request reached IoCompleteRequest */
    BOOLEAN via_provider;     /* the current request went through the WSK provider */
    openwsk_verify_stack allocated_at, handed_at, completed_at, freed_at;
} irp_record;

#define BUCKETS 4096u

static pthread_mutex_t irp_table_lock = PTHREAD_MUTEX_INITIALIZER;
static irp_record *irp_table[BUCKETS];

static unsigned bucket_of(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    return (unsigned)((v >> 4) ^ (v >> 16)) % BUCKETS;
}

static irp_record *find_locked(PIRP irp, int create)
{
    irp_record **head = &irp_table[bucket_of(irp)];
    for (irp_record *r = *head; r != NULL; r = r->next)
        if (r->irp == irp)
            return r;
    if (!create)
        return NULL;
    irp_record *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL; /* out of memory: this IRP goes unchecked */
    r->irp = irp;
    r->next = *head;
    *head = r;
    return r;
}

/* The report, the IRP's history, the stop. */
static _Noreturn void fail(const openwsk_verify_rule *rule, const char *call, irp_record *r, const char *what)
{
    irp_record copy = *r;
    pthread_mutex_unlock(&irp_table_lock);
    openwsk_verify_report(rule, call, "IRP %p %s", (void *)copy.irp, what);
    fprintf(stderr, "  the history of IRP %p (stacks innermost first):\n", (void *)copy.irp);
    openwsk_verify_print_stack("allocated by IoAllocateIrp at", &copy.allocated_at);
    openwsk_verify_print_stack("last handed to the WSK provider at", &copy.handed_at);
    openwsk_verify_print_stack("last completed (IoCompleteRequest) at", &copy.completed_at);
    openwsk_verify_print_stack("freed (IoFreeIrp) at", &copy.freed_at);
    openwsk_verify_stop(rule, (ULONG_PTR)copy.irp, copy.state, 0);
}

void openwsk_verify_irp_allocated(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 1);
    if (r != NULL) {
        memset(&r->state, 0, sizeof(*r) - offsetof(irp_record, state));
        r->allocated = TRUE;
        OPENWSK_VERIFY_CAPTURE(&r->allocated_at);
    }
    pthread_mutex_unlock(&irp_table_lock);
}

void openwsk_verify_irp_freeing(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 0);
    if (r != NULL && r->state == IRP_FREED)
        fail(&openwsk_rule_irp_use_after_free, "IoFreeIrp", r, "was already freed");
    if (r != NULL && r->state == IRP_IN_FLIGHT)
        fail(&openwsk_rule_irp_freed_in_flight, "IoFreeIrp", r,
             "is freed while the provider still holds it (its completion routine has not run)");
    if (r != NULL) {
        r->state = IRP_FREED;
        OPENWSK_VERIFY_CAPTURE(&r->freed_at);
    }
    pthread_mutex_unlock(&irp_table_lock);
}

/* IoReuseIrp and IoCancelIrp: only a freed packet is caught here (a
 * cancelled or reused in-flight IRP is legal for IoCancelIrp). */
void openwsk_verify_irp_touched(PIRP irp, const char *call, BOOLEAN reuse)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 0);
    if (r != NULL && r->state == IRP_FREED)
        fail(&openwsk_rule_irp_use_after_free, call, r, "was freed by IoFreeIrp");
    if (reuse && r != NULL && r->state == IRP_IN_FLIGHT)
        fail(&openwsk_rule_irp_reused_in_flight, call, r,
             "is reinitialized while the provider still holds it (its completion routine has not run)");
    if (reuse && r != NULL) {
        r->completed = FALSE;
        r->via_provider = FALSE;
    }
    pthread_mutex_unlock(&irp_table_lock);
}

void openwsk_verify_irp_handed(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 1);
    if (r != NULL) {
        if (r->state == IRP_FREED)
            fail(&openwsk_rule_irp_use_after_free, "a WSK call", r, "was freed by IoFreeIrp");
        if (r->state == IRP_IN_FLIGHT)
            fail(&openwsk_rule_irp_reused_in_flight, "a WSK call", r,
                 "is handed to the provider again before its previous request completed");
        if (irp->CurrentLocation <= 1)
            fail(&openwsk_rule_irp_no_stack_location, "a WSK call", r,
                 "has no stack location left for the provider (Windows: bug check 0x35 NO_MORE_IRP_STACK_LOCATIONS)");
        r->state = IRP_IN_FLIGHT;
        r->completed = FALSE;
        r->via_provider = TRUE;
        OPENWSK_VERIFY_CAPTURE(&r->handed_at);
    }
    pthread_mutex_unlock(&irp_table_lock);
}

void openwsk_verify_irp_completing(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 0);
    if (r != NULL && r->state == IRP_FREED)
        fail(&openwsk_rule_irp_use_after_free, "IoCompleteRequest", r, "was freed by IoFreeIrp");
    if (r != NULL && r->completed)
        fail(&openwsk_rule_irp_completed_twice, "IoCompleteRequest", r,
             "is completed a second time (no IoReuseIrp, IoCallDriver or WSK call in between)");
    if (r != NULL) {
        /* From here the completion routines own it: one may free it. */
        r->state = IRP_IDLE;
        r->completed = TRUE;
        OPENWSK_VERIFY_CAPTURE(&r->completed_at);
    }
    pthread_mutex_unlock(&irp_table_lock);
}

/* IofCallDriver: a new request on the packet. */
void openwsk_verify_irp_sent(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 0);
    if (r != NULL && r->state == IRP_FREED)
        fail(&openwsk_rule_irp_use_after_free, "IoCallDriver", r, "was freed by IoFreeIrp");
    if (r != NULL)
        r->completed = FALSE;
    pthread_mutex_unlock(&irp_table_lock);
}

/* IoCompleteRequest went past every completion routine: none returned
 * STATUS_MORE_PROCESSING_REQUIRED, the packet goes to the I/O manager. */
void openwsk_verify_irp_reached_io_manager(PIRP irp)
{
    pthread_mutex_lock(&irp_table_lock);
    irp_record *r = find_locked(irp, 0);
    if (r != NULL) {
        if (r->allocated && r->via_provider)
            fail(&openwsk_rule_irp_allocated_not_reclaimed, "IoCompleteRequest -> completion routine", r,
                 "came from IoAllocateIrp and went through the WSK provider, but its completion routine did not "
                 "return STATUS_MORE_PROCESSING_REQUIRED: Windows would hand it to the I/O manager, which frees it");
    }
    pthread_mutex_unlock(&irp_table_lock);
}

/* Forgets every record (for tests that switch the group off and on). */
void openwsk_verify_irp_reset(void)
{
    pthread_mutex_lock(&irp_table_lock);
    for (unsigned i = 0; i < BUCKETS; i++) {
        irp_record *r = irp_table[i];
        while (r != NULL) {
            irp_record *next = r->next;
            free(r);
            r = next;
        }
        irp_table[i] = NULL;
    }
    pthread_mutex_unlock(&irp_table_lock);
}
