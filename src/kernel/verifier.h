/*
 * verifier.h - openwsk's driver verifier (OPENWSK_VERIFY, wskhost --verify).
 *
 * Driver Verifier finds a driver's IRQL and IRP mistakes on a Windows test
 * machine, after the blue screen.  Here the driver is an ordinary process,
 * so a violation is reported the way AddressSanitizer reports a bug: the
 * rule, what was expected, the offending call and the stack, printed at
 * the moment it happens; then the process stops with Bug Check 0xC4
 * (DRIVER_VERIFIER_DETECTED_VIOLATION) and the rule's id as parameter 1,
 * as Windows does, so gdb or a core dump stops right there.
 *
 * Rules come in groups (docs/verifier.md lists them):
 *   irql   calls at an IRQL the function does not allow;
 *   irp    IRPs freed, reused or completed against the IRP contract
 *          (verifier_irp.c);
 *   pool   special pool for the driver's allocations (verifier_pool.c);
 *   wsk    sockets, indications and NPIs (src/wsk/wsk_verify.c).
 * When OPENWSK_VERIFY is unset every check is one load and a not-taken
 * branch (openwsk_verifying).
 */
#ifndef OPENWSK_VERIFIER_H
#define OPENWSK_VERIFIER_H

#include <ntddk.h>

#include <execinfo.h>
#include <stdarg.h>

#define OPENWSK_VERIFY_IRQL 0x01u
#define OPENWSK_VERIFY_IRP 0x02u
#define OPENWSK_VERIFY_POOL 0x04u
#define OPENWSK_VERIFY_WSK 0x08u

/* Rule groups switched on (OPENWSK_VERIFY, read before main, or
 * openwsk_verify_configure). */
extern unsigned openwsk_verify_groups;

static inline unsigned openwsk_verify_groups_now(void)
{
    return __atomic_load_n(&openwsk_verify_groups, __ATOMIC_RELAXED);
}

static inline int openwsk_verifying(unsigned group)
{
    return __builtin_expect((__atomic_load_n(&openwsk_verify_groups, __ATOMIC_RELAXED) & group) != 0, 0);
}

typedef struct openwsk_verify_rule {
    ULONG id;              /* Bug Check 0xC4 parameter 1: Windows' rule id, or ours (0xA00xx) */
    const char *name;      /* Windows' rule name where one exists */
    unsigned group;        /* OPENWSK_VERIFY_* */
    const char *condition; /* what the rule requires */
} openwsk_verify_rule;

/* The rules (verifier.c). */
extern const openwsk_verify_rule openwsk_rule_irql_ex_allocate_pool;
extern const openwsk_verify_rule openwsk_rule_irql_ke_release_spin_lock;
extern const openwsk_verify_rule openwsk_rule_irql_ke_wait;
extern const openwsk_verify_rule openwsk_rule_irql_zw_passive;
extern const openwsk_verify_rule openwsk_rule_irql_ps_passive;
extern const openwsk_verify_rule openwsk_rule_paged_code;
extern const openwsk_verify_rule openwsk_rule_completion_irql;
extern const openwsk_verify_rule openwsk_rule_completion_spin_lock;

/* Prints the report (rule, condition, what happened, the call, the stack)
 * and bug-checks 0xC4 with (rule id, p2, p3, p4).  `what` says what was
 * found, e.g. "called at DISPATCH_LEVEL". */
_Noreturn void openwsk_verify_fail(const openwsk_verify_rule *rule, const char *call, ULONG_PTR p2, ULONG_PTR p3,
                                   ULONG_PTR p4, const char *what_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The two halves of openwsk_verify_fail, for reports that add a history
 * between them. */
void openwsk_verify_vreport(const openwsk_verify_rule *rule, const char *call, const char *what_fmt, va_list ap);
void openwsk_verify_report(const openwsk_verify_rule *rule, const char *call, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void openwsk_verify_stop(const openwsk_verify_rule *rule, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4);

/* A stack kept with an object for its history (where it was allocated,
 * handed over, freed...).  OPENWSK_VERIFY_CAPTURE is a macro so that the
 * stack's frame 0 is the function recording it, which printing skips. */
#define OPENWSK_VERIFY_FRAMES 12
typedef struct openwsk_verify_stack {
    void *frames[OPENWSK_VERIFY_FRAMES];
    int count;
} openwsk_verify_stack;
#define OPENWSK_VERIFY_CAPTURE(s) ((s)->count = backtrace((s)->frames, OPENWSK_VERIFY_FRAMES))
/* "   <what>:" and the frames, innermost first; nothing for an empty stack. */
void openwsk_verify_print_stack(const char *what, const openwsk_verify_stack *s);

/* "PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL" or the number. */
const char *openwsk_irql_name(KIRQL irql, char buf[8]);

/* ---- what the IRQL rules need to know (only tracked while verifying) ---- */

/* KSPIN_LOCKs the calling thread holds, and the IRQL its most recent
 * KeAcquireSpinLock of `lock` raised from. */
void openwsk_verify_spin_acquired(PKSPIN_LOCK lock, KIRQL old_irql);
/* Returns the IRQL recorded for `lock` (or 0xFF if unknown) and forgets it. */
KIRQL openwsk_verify_spin_released(PKSPIN_LOCK lock);
unsigned openwsk_verify_spin_locks_held(void);

/* ---- IRP group (verifier_irp.c) ---- */
extern const openwsk_verify_rule openwsk_rule_irp_freed_in_flight;
extern const openwsk_verify_rule openwsk_rule_irp_reused_in_flight;
extern const openwsk_verify_rule openwsk_rule_irp_use_after_free;
extern const openwsk_verify_rule openwsk_rule_irp_completed_twice;
extern const openwsk_verify_rule openwsk_rule_irp_allocated_not_reclaimed;
extern const openwsk_verify_rule openwsk_rule_irp_no_stack_location;
void openwsk_verify_irp_allocated(PIRP irp);
void openwsk_verify_irp_freeing(PIRP irp);
void openwsk_verify_irp_touched(PIRP irp, const char *call, BOOLEAN reuse);
void openwsk_verify_irp_handed(PIRP irp); /* the WSK provider took it */
void openwsk_verify_irp_completing(PIRP irp);
void openwsk_verify_irp_sent(PIRP irp);
void openwsk_verify_irp_reached_io_manager(PIRP irp);
void openwsk_verify_irp_reset(void);

/* ---- pool group (verifier_pool.c) ---- */
void *openwsk_verify_pool_map(size_t bytes, size_t align, ULONG tag);
void openwsk_verify_pool_check_free(const void *user, const char *call);
_Noreturn void openwsk_verify_pool_wrong_tag(const void *user, ULONG allocated, ULONG given, const char *call);
void openwsk_verify_pool_unmap(void *user, const char *call);
void openwsk_verify_pool_report_leaks(unsigned limit);

/* Common checks. */
void openwsk_verify_passive(const openwsk_verify_rule *rule, const char *call);

#endif /* OPENWSK_VERIFIER_H */
