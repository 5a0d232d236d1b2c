/*
 * ntddk.h - the driver development kit header: wdm.h plus the few
 * non-WDM definitions WSK clients use.
 */
#ifndef OPENWSK_NTDDK_H
#define OPENWSK_NTDDK_H

#include <wdm.h>

EXTERN_C_START

/* Process and thread ids as Windows hands them out: multiples of four. */
NTKERNELAPI HANDLE PsGetProcessId(PEPROCESS Process);

EXTERN_C_END

#endif /* OPENWSK_NTDDK_H */
