/*
 * irql.c - simulated IRQL.
 *
 * Each thread carries its own IRQL.  Raising and lowering follow the
 * kernel's rules (raise never lowers, lower never raises) and a violation is
 * the bug check Windows gives.  Engine threads run completion routines and
 * event callbacks at DISPATCH_LEVEL; waits with a non-zero timeout above
 * APC_LEVEL are caught by the dispatcher.
 */
#define OPENWSK_IRQL_EXPORTS /* the functions below, not wdm.h's macros */
#include "ke_internal.h"

/* initial-exec: the library is position-independent code, whose default
 * model reaches a thread variable through a __tls_get_addr call (relaxed
 * away only when linked into an executable, after the compiler already
 * saved registers around it); this model reads it at a fixed offset from
 * the thread pointer, in the shared library too (loaded at program start;
 * drivers are the modules that are dlopened).  wdm.h's inline
 * KeGetCurrentIrql, KeRaiseIrql and KeLowerIrql read it directly. */
OPENWSK_API __thread KIRQL openwsk_thread_irql __attribute__((tls_model("initial-exec"))) = PASSIVE_LEVEL;

KIRQL KeGetCurrentIrql(void)
{
    return openwsk_get_irql_inline();
}

void KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    openwsk_raise_irql_inline(NewIrql, OldIrql);
}

KIRQL openwsk_raise_irql_returning(KIRQL NewIrql)
{
    KIRQL old;
    openwsk_raise_irql_inline(NewIrql, &old);
    return old;
}

void KeLowerIrql(KIRQL NewIrql)
{
    openwsk_lower_irql_inline(NewIrql);
}

KIRQL KeRaiseIrqlToDpcLevel(void)
{
    KIRQL old;
    openwsk_raise_irql_inline(DISPATCH_LEVEL, &old);
    return old;
}
