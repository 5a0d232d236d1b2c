/*
 * callback_watch.c - what the timeline and the driver verifier see around
 * each event callback the provider calls (OPENWSK_TRACE_CALLBACK in
 * timeline.h): the trace slice, and the verifier's rules for a callback's
 * return: the status its page allows (wsk group), the IRQL it was called
 * at and no spin lock it took still held (irql group).
 */
#include "timeline.h"
#include "verifier.h"

#include <wsk.h>

#include "ke_internal.h"

#include <string.h>

const openwsk_verify_rule openwsk_rule_callback_irql = {
    0xA0006, "EventCallbackIrql", OPENWSK_VERIFY_IRQL, "an event callback returns at the IRQL it was called at"};
const openwsk_verify_rule openwsk_rule_callback_spin_lock = {
    0xA0007, "EventCallbackSpinLock", OPENWSK_VERIFY_IRQL,
    "an event callback returns holding no spin lock it acquired"};
const openwsk_verify_rule openwsk_rule_callback_status = {
    0xA0308, "WskEventCallbackStatus", OPENWSK_VERIFY_WSK,
    "an event callback returns a value its page allows (PFN_WSK_RECEIVE_EVENT, PFN_WSK_ACCEPT_EVENT, ...)"};

void openwsk_callback_enter(openwsk_callback_watch *w)
{
    w->t0 = openwsk_trace_enabled() ? openwsk_trace_now() + 1 : 0;
    w->verify = openwsk_verify_groups_now();
    w->irql = KeGetCurrentIrql();
    w->spins = (w->verify & OPENWSK_VERIFY_IRQL) ? openwsk_verify_spin_locks_held() : 0;
}

/* The values each callback's page allows. */
static int status_allowed(const char *name, int64_t r, const char **allowed)
{
    NTSTATUS st = (NTSTATUS)r;
    if (strcmp(name, "WskReceiveEvent") == 0 || strcmp(name, "WskReceiveFromEvent") == 0) {
        *allowed = "STATUS_SUCCESS, STATUS_DATA_NOT_ACCEPTED or STATUS_PENDING";
        return st == STATUS_SUCCESS || st == STATUS_DATA_NOT_ACCEPTED || st == STATUS_PENDING;
    }
    if (strcmp(name, "WskAcceptEvent") == 0) {
        *allowed = "STATUS_SUCCESS or STATUS_REQUEST_NOT_ACCEPTED";
        return st == STATUS_SUCCESS || st == STATUS_REQUEST_NOT_ACCEPTED;
    }
    if (strcmp(name, "WskInspectEvent") == 0) {
        *allowed = "WskInspectReject, WskInspectAccept or WskInspectPend";
        return r == WskInspectReject || r == WskInspectAccept || r == WskInspectPend;
    }
    /* WskDisconnectEvent, WskSendBacklogEvent, WskAbortEvent: "must return STATUS_SUCCESS". */
    *allowed = "STATUS_SUCCESS";
    return st == STATUS_SUCCESS;
}

void openwsk_callback_leave(const openwsk_callback_watch *w, const char *name, const void *socket, int64_t returned)
{
    if (w->t0 != 0)
        openwsk_trace_callback_done(name, socket, w->t0 - 1, returned);
    if (w->verify & OPENWSK_VERIFY_IRQL) {
        KIRQL now = KeGetCurrentIrql();
        char a[8], b[8];
        if (now != w->irql)
            openwsk_verify_fail(&openwsk_rule_callback_irql, name, (ULONG_PTR)socket, w->irql, now,
                                "%s of socket %p was called at %s and returned at %s", name, socket,
                                openwsk_irql_name(w->irql, a), openwsk_irql_name(now, b));
        if (openwsk_verify_spin_locks_held() > w->spins)
            openwsk_verify_fail(&openwsk_rule_callback_spin_lock, name, (ULONG_PTR)socket, w->spins,
                                openwsk_verify_spin_locks_held(),
                                "%s of socket %p returned holding %u spin lock(s) it acquired", name, socket,
                                openwsk_verify_spin_locks_held() - w->spins);
    }
    const char *allowed;
    if ((w->verify & OPENWSK_VERIFY_WSK) && !status_allowed(name, returned, &allowed))
        openwsk_verify_fail(&openwsk_rule_callback_status, name, (ULONG_PTR)socket, (ULONG_PTR)returned, 0,
                            "%s of socket %p returned 0x%08X; allowed: %s", name, socket, (unsigned)returned,
                            allowed);
}
