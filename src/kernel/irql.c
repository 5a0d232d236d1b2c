/*
 * irql.c - simulated IRQL.
 *
 * Each thread carries its own IRQL.  Raising and lowering follow the
 * kernel's rules (raise never lowers, lower never raises) and a violation is
 * the bug check Windows gives.  Engine threads run completion routines and
 * event callbacks at DISPATCH_LEVEL; waits with a non-zero timeout above
 * APC_LEVEL are caught by the dispatcher.
 */
#include "ke_internal.h"

/* initial-exec: the library is position-independent code, whose default
 * model reaches a thread variable through a __tls_get_addr call (relaxed
 * away only when linked into an executable, after the compiler already
 * saved registers around it); this model reads it at a fixed offset from
 * the thread pointer, in the shared library too. */
static __thread KIRQL current_irql __attribute__((tls_model("initial-exec"))) = PASSIVE_LEVEL;

KIRQL KeGetCurrentIrql(void)
{
    return current_irql;
}

void KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    KIRQL old = current_irql;
    if (NewIrql < old)
        KeBugCheckEx(IRQL_NOT_GREATER_OR_EQUAL, old, NewIrql, 0, 0);
    current_irql = NewIrql;
    *OldIrql = old;
}

KIRQL openwsk_raise_irql_returning(KIRQL NewIrql)
{
    KIRQL old;
    KeRaiseIrql(NewIrql, &old);
    return old;
}

void KeLowerIrql(KIRQL NewIrql)
{
    if (NewIrql > current_irql)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, current_irql, NewIrql, 0, 0);
    current_irql = NewIrql;
}

KIRQL KeRaiseIrqlToDpcLevel(void)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}
