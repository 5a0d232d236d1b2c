/*
 * verifier.c - the driver verifier's switch, rule table and report.
 *
 * A report goes to stderr in one piece before the bug check, so that it is
 * the last thing a test log or a terminal shows:
 *
 *   ==1234== openwsk verifier: IrqlExAllocatePool (rule 0x20004)
 *     rule:     ExAllocatePoolWithTag ... PagedPool only at IRQL <= APC_LEVEL
 *     found:    called at DISPATCH_LEVEL with PagedPool, 64 bytes, tag 'Tst1'
 *     call:     ExAllocatePoolWithTag
 *     stack:    (frames, innermost first)
 *
 * Rule ids: Windows' own for the rules Driver Verifier checks at run time
 * (DDI compliance checking: "IrqlExAllocatePool rule (wdm)" and the other
 * rule pages give "Bug Check 0xC4 (0x000200xx)"); 0xA00xx for openwsk's
 * own and for rules Windows checks only statically.
 */
#include "verifier.h"

#include "ke_internal.h"

#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned openwsk_verify_groups;

const openwsk_verify_rule openwsk_rule_irql_ex_allocate_pool = {
    0x20004, "IrqlExAllocatePool", OPENWSK_VERIFY_IRQL,
    "ExAllocatePool* only at IRQL <= DISPATCH_LEVEL, and paged pool only at IRQL <= APC_LEVEL"};
const openwsk_verify_rule openwsk_rule_irql_ke_release_spin_lock = {
    0x20015, "IrqlKeReleaseSpinLock", OPENWSK_VERIFY_IRQL,
    "KeReleaseSpinLock only at DISPATCH_LEVEL, with NewIrql = the OldIrql its KeAcquireSpinLock returned"};
const openwsk_verify_rule openwsk_rule_irql_ke_wait = {
    0xA0001, "IrqlKeWaitForMutexObject", OPENWSK_VERIFY_IRQL,
    "KeWaitFor*Object(s) at DISPATCH_LEVEL only with a zero timeout; otherwise IRQL <= APC_LEVEL"};
const openwsk_verify_rule openwsk_rule_irql_zw_passive = {
    0xA0002, "IrqlZwPassive", OPENWSK_VERIFY_IRQL, "Zw* routines only at PASSIVE_LEVEL"};
const openwsk_verify_rule openwsk_rule_irql_ps_passive = {
    0x2001C, "IrqlPsPassive", OPENWSK_VERIFY_IRQL, "PsCreateSystemThread only at PASSIVE_LEVEL"};
const openwsk_verify_rule openwsk_rule_paged_code = {
    0xA0003, "PagedCode", OPENWSK_VERIFY_IRQL, "code marked PAGED_CODE() runs only at IRQL <= APC_LEVEL"};
const openwsk_verify_rule openwsk_rule_completion_irql = {
    0xA0004, "CompletionRoutineIrql", OPENWSK_VERIFY_IRQL,
    "an IRP completion routine returns at the IRQL it was called at"};
const openwsk_verify_rule openwsk_rule_completion_spin_lock = {
    0xA0005, "CompletionRoutineSpinLock", OPENWSK_VERIFY_IRQL,
    "an IRP completion routine returns holding no spin lock it acquired"};

/* ---- switch ---- */

static const struct {
    const char *name;
    unsigned groups;
} verify_group_names[] = {
    {"irql", OPENWSK_VERIFY_IRQL},
    {"irp", OPENWSK_VERIFY_IRP},
    {"pool", OPENWSK_VERIFY_POOL},
    {"wsk", OPENWSK_VERIFY_WSK},
    {"all", OPENWSK_VERIFY_IRQL | OPENWSK_VERIFY_IRP | OPENWSK_VERIFY_POOL | OPENWSK_VERIFY_WSK},
};

int openwsk_verify_configure(const char *spec)
{
    unsigned groups = 0;
    if (spec == NULL || *spec == '\0' || strcmp(spec, "0") == 0 || strcmp(spec, "off") == 0) {
        __atomic_store_n(&openwsk_verify_groups, 0, __ATOMIC_RELAXED);
        openwsk_verify_irp_reset();
        return 0;
    }
    if (strcmp(spec, "1") == 0)
        spec = "all";
    const char *p = spec;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        unsigned found = 0;
        for (size_t i = 0; i < sizeof(verify_group_names) / sizeof(verify_group_names[0]); i++)
            if (strlen(verify_group_names[i].name) == n && strncmp(p, verify_group_names[i].name, n) == 0)
                found = verify_group_names[i].groups;
        if (found == 0) {
            openwsk_log("OPENWSK_VERIFY: unknown rule group \"%.*s\" (known: irql, irp, pool, wsk, all)", (int)n, p);
            return -1;
        }
        groups |= found;
        p += n;
        if (*p == ',')
            p++;
    }
    /* Records of an earlier IRP-group run describe IRPs long gone. */
    if (!(groups & OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_reset();
    __atomic_store_n(&openwsk_verify_groups, groups, __ATOMIC_RELAXED);
    return 0;
}

unsigned openwsk_verify_enabled_groups(void)
{
    return __atomic_load_n(&openwsk_verify_groups, __ATOMIC_RELAXED);
}

/* Read before main, so that a driver's DriverEntry is already checked. */
__attribute__((constructor)) static void verify_from_environment(void)
{
    const char *spec = getenv("OPENWSK_VERIFY");
    if (spec != NULL && openwsk_verify_configure(spec) != 0)
        _exit(2);
}

/* ---- report ---- */

const char *openwsk_irql_name(KIRQL irql, char buf[8])
{
    switch (irql) {
    case PASSIVE_LEVEL:
        return "PASSIVE_LEVEL";
    case APC_LEVEL:
        return "APC_LEVEL";
    case DISPATCH_LEVEL:
        return "DISPATCH_LEVEL";
    default:
        snprintf(buf, 8, "%u", (unsigned)irql);
        return buf;
    }
}

void openwsk_verify_vreport(const openwsk_verify_rule *rule, const char *call, const char *what_fmt, va_list ap)
{
    char what[320];
    vsnprintf(what, sizeof(what), what_fmt, ap);
    int pid = (int)getpid();
    fprintf(stderr,
            "==%d== openwsk verifier: %s (rule 0x%05lX)\n"
            "  rule:  %s\n"
            "  found: %s\n"
            "  call:  %s\n"
            "  stack (innermost first; addr2line -e <module> <offset> or gdb names the lines):\n",
            pid, rule->name, (unsigned long)rule->id, rule->condition, what, call);
    fflush(stderr);
    void *frames[32];
    int n = backtrace(frames, 32);
    /* Frames 0-1 are the verifier's own: the stack starts at the check. */
    if (n > 2)
        backtrace_symbols_fd(frames + 2, n - 2, 2);
}

void openwsk_verify_report(const openwsk_verify_rule *rule, const char *call, const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    openwsk_verify_vreport(rule, call, what_fmt, ap);
    va_end(ap);
}

void openwsk_verify_print_stack(const char *what, const openwsk_verify_stack *s)
{
    if (s->count <= 1)
        return;
    fprintf(stderr, "   %s:\n", what);
    fflush(stderr);
    backtrace_symbols_fd(s->frames + 1, s->count - 1, 2); /* frame 0 recorded it */
}

void openwsk_verify_stop(const openwsk_verify_rule *rule, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4)
{
    fprintf(stderr, "==%d== stopping as Windows does with Bug Check 0xC4, parameter 1 = the rule id\n", (int)getpid());
    fflush(stderr);
    KeBugCheckEx(0xC4 /* DRIVER_VERIFIER_DETECTED_VIOLATION */, rule->id, p2, p3, p4);
    abort(); /* not reached */
}

void openwsk_verify_fail(const openwsk_verify_rule *rule, const char *call, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4,
                         const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    openwsk_verify_vreport(rule, call, what_fmt, ap);
    va_end(ap);
    openwsk_verify_stop(rule, p2, p3, p4);
}

void openwsk_verify_passive(const openwsk_verify_rule *rule, const char *call)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql != PASSIVE_LEVEL) {
        char b[8];
        openwsk_verify_fail(rule, call, irql, 0, 0, "called at %s", openwsk_irql_name(irql, b));
    }
}

/* ---- spin locks held by this thread ---- */

#define VERIFY_SPIN_DEPTH 32

static __thread struct {
    PKSPIN_LOCK lock;
    KIRQL old_irql;
} verify_spins[VERIFY_SPIN_DEPTH];
static __thread unsigned verify_spin_count;
static __thread unsigned verify_spin_overflow; /* acquisitions past the table: counted only */

void openwsk_verify_spin_acquired(PKSPIN_LOCK lock, KIRQL old_irql)
{
    if (verify_spin_count < VERIFY_SPIN_DEPTH) {
        verify_spins[verify_spin_count].lock = lock;
        verify_spins[verify_spin_count].old_irql = old_irql;
        verify_spin_count++;
    } else {
        verify_spin_overflow++;
    }
}

KIRQL openwsk_verify_spin_released(PKSPIN_LOCK lock)
{
    for (unsigned i = verify_spin_count; i-- > 0;) {
        if (verify_spins[i].lock == lock) {
            KIRQL old = verify_spins[i].old_irql;
            memmove(&verify_spins[i], &verify_spins[i + 1], (verify_spin_count - i - 1) * sizeof(verify_spins[0]));
            verify_spin_count--;
            return old;
        }
    }
    if (verify_spin_overflow > 0)
        verify_spin_overflow--;
    return 0xFF;
}

unsigned openwsk_verify_spin_locks_held(void)
{
    return verify_spin_count + verify_spin_overflow;
}
