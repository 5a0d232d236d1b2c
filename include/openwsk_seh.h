/*
 * openwsk_seh.h - structured exception handling shim (hazard H3).
 *
 * gcc and clang have no SEH on Linux targets.  Driver code uses
 *     __try { MmProbeAndLockPages(...); } __except (EXCEPTION_EXECUTE_HANDLER) { ... }
 * so the runtime gives __try a setjmp frame (plain C setjmp: no signal mask is saved) on a per-thread stack and
 * ExRaiseStatus (used by MmProbeAndLockPages, ProbeForRead/Write) longjmps to
 * the innermost frame, whose filter decides.  A cleanup attribute pops the
 * frame however the block is left (return, goto, break).
 *
 * Limits, documented in docs/decisions.md: only exceptions raised by the
 * runtime are caught (not hardware faults); locals changed inside __try are
 * indeterminate after an exception unless volatile (as with setjmp);
 * EXCEPTION_CONTINUE_EXECUTION is treated as EXCEPTION_CONTINUE_SEARCH; a
 * __finally block runs on normal exit and __leave, not while unwinding.
 */
#ifndef OPENWSK_SEH_H
#define OPENWSK_SEH_H

#include <setjmp.h>
#include <ntdef.h>

EXTERN_C_START

#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

typedef struct openwsk_seh_frame {
    struct openwsk_seh_frame *prev;
    NTSTATUS code;
    int active;
    jmp_buf jb;
} openwsk_seh_frame;

OPENWSK_API openwsk_seh_frame *openwsk_seh_push(openwsk_seh_frame *frame);
OPENWSK_API void openwsk_seh_pop(openwsk_seh_frame *frame);
OPENWSK_API int openwsk_seh_filter(openwsk_seh_frame *frame, int disposition);
OPENWSK_API void openwsk_seh_continue_unwind(openwsk_seh_frame *frame);
OPENWSK_API NTSTATUS openwsk_seh_current_code(void);
OPENWSK_API DECLSPEC_NORETURN void ExRaiseStatus(NTSTATUS Status);

#define __try                                                                                      \
    for (openwsk_seh_frame openwsk_seh_fr_ __attribute__((cleanup(openwsk_seh_pop))),              \
         *openwsk_seh_once_ = openwsk_seh_push(&openwsk_seh_fr_);                                  \
         openwsk_seh_once_; openwsk_seh_once_ = NULL)                                              \
        if (setjmp(openwsk_seh_fr_.jb) == 0)

/* Variadic: a filter may contain commas, e.g. __except(Log(), EXCEPTION_EXECUTE_HANDLER). */
#define __except(...) else if (openwsk_seh_filter(&openwsk_seh_fr_, (__VA_ARGS__)))
#define __finally else openwsk_seh_continue_unwind(&openwsk_seh_fr_); if (1)
#define __leave break

#ifndef __cplusplus
#ifndef OPENWSK_NO_TRY_EXCEPT_KEYWORDS
/* Some driver code spells SEH as try/except (wsk-clients.md, NT). */
#define try __try
#define except __except
#endif
#endif

#define GetExceptionCode() openwsk_seh_current_code()
#define _exception_code() openwsk_seh_current_code()
#define GetExceptionInformation() ((void *)0)
#define AbnormalTermination() 0

EXTERN_C_END

#endif /* OPENWSK_SEH_H */
