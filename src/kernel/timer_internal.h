/*
 * timer_internal.h - what timer.c and dpc.c share.  Not installed.
 */
#ifndef OPENWSK_TIMER_INTERNAL_H
#define OPENWSK_TIMER_INTERNAL_H

#include "ke_internal.h"

#include <pthread.h>

/* Starts a runtime thread (the timer thread, the DPC thread) with every
 * signal blocked: SIGINT/SIGTERM belong to the host's main thread. */
int openwsk_runtime_thread_spawn(void *(*fn)(void *), void *arg);

/* DPCs queued and not yet started, plus the one running (dpc.c). */
LONG openwsk_dpc_pending_count(void);
/* Unqueues every queued DPC, reporting each, and waits for a running one
 * to return; returns how many were queued. */
LONG openwsk_dpc_cancel_all_for_unload(void);

#endif /* OPENWSK_TIMER_INTERNAL_H */
