/*
 * ke_internal.h - what the kernel runtime's modules share with each other
 * and with the WSK provider.  Not installed.
 */
#ifndef OPENWSK_KE_INTERNAL_H
#define OPENWSK_KE_INTERNAL_H

#include <ntddk.h>
#include <openwsk_runtime.h>

/* Pool allocation shared by every runtime object; counts for leaks and for
 * failure injection exactly like a driver's own allocations. */
void *openwsk_pool_alloc(SIZE_T bytes, ULONG tag, BOOLEAN zero);
void openwsk_pool_free(void *p);

/* Prints "openwsk: <message>" to stderr unconditionally. */
void openwsk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 100 ns units since 1601-01-01 (Windows system time) and a monotonic
 * 100 ns clock (interrupt time). */
LONGLONG openwsk_system_time_now(void);
LONGLONG openwsk_interrupt_time_now(void);

#endif /* OPENWSK_KE_INTERNAL_H */
