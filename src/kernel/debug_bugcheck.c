/*
 * debug_bugcheck.c - KeBugCheckEx, RtlAssert and breakpoints.
 *
 * A bug check stops the "machine": we print the stop code the way a kernel
 * debugger shows it and abort(), so gdb, ASan and core dumps catch it.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void openwsk_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("openwsk: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    fprintf(stderr,
            "openwsk: *** STOP: 0x%08X (0x%016lX, 0x%016lX, 0x%016lX, 0x%016lX)\n",
            BugCheckCode, P1, P2, P3, P4);
    fflush(stderr);
    abort();
}

void KeBugCheck(ULONG BugCheckCode)
{
    KeBugCheckEx(BugCheckCode, 0, 0, 0, 0);
}

void RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber, PSTR MutableMessage)
{
    fprintf(stderr, "openwsk: *** Assertion failed: %s%s%s\n***   Source File: %s, line %u\n",
            MutableMessage ? MutableMessage : "", MutableMessage ? " " : "", (const char *)VoidFailedAssertion,
            (const char *)VoidFileName, LineNumber);
    fflush(stderr);
    abort();
}

/* What a checked build does for PAGED_CODE() above APC_LEVEL: an assertion
 * failure (which here stops the process), saying where and at what IRQL. */
void openwsk_paged_code_violation(PCSTR File, ULONG Line, PCSTR Function)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL)) {
        char b[8];
        openwsk_verify_fail(&openwsk_rule_paged_code, Function, KeGetCurrentIrql(), 0, Line, "PAGED_CODE() at %s (%s:%u)",
                            openwsk_irql_name(KeGetCurrentIrql(), b), File, (unsigned)Line);
    }
    char message[192];
    snprintf(message, sizeof(message), "PAGED_CODE() in %s at IRQL %u:", Function, (unsigned)KeGetCurrentIrql());
    RtlAssert((PVOID) "KeGetCurrentIrql() <= APC_LEVEL", (PVOID)File, Line, message);
}

/* Under a debugger the trap stops there; without one SIGTRAP ends the
 * process, which is what an unhandled kernel breakpoint does too. */
void DbgBreakPoint(void)
{
    raise(SIGTRAP);
}

void DbgBreakPointWithStatus(ULONG Status)
{
    (void)Status;
    raise(SIGTRAP);
}
