/*
 * seh.c - the runtime half of the __try/__except shim (openwsk_seh.h):
 * a per-thread stack of setjmp frames that ExRaiseStatus unwinds to.
 */
#include "ke_internal.h"

static __thread openwsk_seh_frame *seh_top;
static __thread NTSTATUS seh_code;

openwsk_seh_frame *openwsk_seh_push(openwsk_seh_frame *frame)
{
    frame->prev = seh_top;
    frame->code = STATUS_SUCCESS;
    frame->active = 1;
    seh_top = frame;
    return frame;
}

void openwsk_seh_pop(openwsk_seh_frame *frame)
{
    if (frame->active) {
        frame->active = 0;
        seh_top = frame->prev;
    }
}

int openwsk_seh_filter(openwsk_seh_frame *frame, int disposition)
{
    openwsk_seh_pop(frame);
    if (disposition == EXCEPTION_EXECUTE_HANDLER)
        return 1;
    /* CONTINUE_SEARCH (and CONTINUE_EXECUTION, which cannot resume here). */
    ExRaiseStatus(frame->code);
}

void openwsk_seh_continue_unwind(openwsk_seh_frame *frame)
{
    openwsk_seh_pop(frame);
    ExRaiseStatus(frame->code);
}

NTSTATUS openwsk_seh_current_code(void)
{
    return seh_code;
}

void ExRaiseStatus(NTSTATUS Status)
{
    openwsk_seh_frame *frame = seh_top;
    seh_code = Status;
    if (frame == NULL)
        KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status, 0, 0, 0);
    frame->code = Status;
    longjmp(frame->jb, 1);
}
