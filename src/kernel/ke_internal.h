/*
 * ke_internal.h - what the kernel runtime's modules share with each other
 * and with the WSK provider.  Not installed.
 */
#ifndef OPENWSK_KE_INTERNAL_H
#define OPENWSK_KE_INTERNAL_H

#include <ntddk.h>
#include <openwsk_runtime.h>

#include <stdarg.h>

/* Pool allocation shared by every runtime object; counts for leaks and for
 * failure injection exactly like a driver's own allocations. */
void *openwsk_pool_alloc(SIZE_T bytes, ULONG tag, BOOLEAN zero);
void openwsk_pool_free(void *p);

/* Prints "openwsk: <message>" to stderr unconditionally. */
void openwsk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* vDbgPrintExWithPrefix, except that the message always ends with one line
 * ending, added unless the text ends with its own (WPP messages, which are
 * records rather than text on Windows). */
ULONG openwsk_dbg_vprint_line(PCCH Prefix, ULONG Level, PCCH Format, va_list Arguments);

/* 100 ns units since 1601-01-01 (Windows system time) and a monotonic
 * 100 ns clock (interrupt time). */
LONGLONG openwsk_system_time_now(void);
LONGLONG openwsk_interrupt_time_now(void);

/* ---- dispatcher (dispatcher.c) ---- */

/* After changing a dispatcher object's state, with the dispatcher lock
 * held: wakes up to `count` single-object waiters and every multi-object
 * waiter.  Waiters pass through the lock before returning, so an object is
 * never touched by its signaller after its waiter let go of it. */
void openwsk_dispatcher_lock(void);
void openwsk_dispatcher_unlock(void);
void openwsk_dispatcher_wake(PDISPATCHER_HEADER header, int count);

/* ---- objects and handles (object.c) ---- */

struct _OBJECT_TYPE {
    const char *name;
};

/* Creates a reference-counted object (one reference) whose body is zeroed;
 * destroy runs when the last reference goes, then the memory is freed. */
void *openwsk_object_create(SIZE_T body_size, POBJECT_TYPE type, void (*destroy)(void *body));
POBJECT_TYPE openwsk_object_type(const void *body);
/* Makes a handle that holds one reference of its own. */
NTSTATUS openwsk_handle_create(void *body, PHANDLE handle);
/* Like openwsk_object_create, but outside the pool accounting: for objects
 * the runtime creates implicitly (threads it adopts), which a driver cannot
 * free and must not see as leaks. */
void *openwsk_object_create_untracked(SIZE_T body_size, POBJECT_TYPE type, void (*destroy)(void *body));

/* ---- threads and processes (thread.c) ---- */

struct _ETHREAD {
    DISPATCHER_HEADER Header; /* ThreadObject; signalled when the thread ends */
    NTSTATUS ExitStatus;
    BOOLEAN SystemThread;
    KPRIORITY Priority;
    HANDLE ThreadId;
    PKSTART_ROUTINE StartRoutine;
    PVOID StartContext;
};

struct _EPROCESS {
    DISPATCHER_HEADER Header; /* ProcessObject; never signalled while we run */
};

PEPROCESS openwsk_system_process(void);

#endif /* OPENWSK_KE_INTERNAL_H */
