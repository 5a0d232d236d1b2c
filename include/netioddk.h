/*
 * netioddk.h - the Network Module Registrar (NMR) types a WSK client meets,
 * from the WDK's netioddk.h / netiodef.h: NPI identifiers, module IDs and
 * the registration instance.  The NMR functions themselves
 * (NmrRegisterClient & co.) are not provided: WSK clients attach through
 * WskRegister, which wsk.h declares.
 */
#ifndef OPENWSK_NETIODDK_H
#define OPENWSK_NETIODDK_H

#include <ntdef.h>

EXTERN_C_START

/* An NPI is named by a GUID.  The pointer type points to const. */
typedef GUID NPIID;
typedef const NPIID *PNPIID;

typedef enum _NPI_MODULEID_TYPE {
    MIT_GUID = 1,
    MIT_IF_LUID
} NPI_MODULEID_TYPE;

typedef struct _NPI_MODULEID {
    USHORT Length; /* sizeof(NPI_MODULEID) */
    NPI_MODULEID_TYPE Type;
    union {
        GUID Guid;    /* Type == MIT_GUID */
        LUID IfLuid;  /* Type == MIT_IF_LUID */
    };
} NPI_MODULEID;
typedef const NPI_MODULEID *PNPI_MODULEID;

static inline BOOLEAN NmrIsEqualNpiModuleId(PNPI_MODULEID ModuleId1, PNPI_MODULEID ModuleId2)
{
    if (ModuleId1->Type != ModuleId2->Type)
        return FALSE;
    if (ModuleId1->Type == MIT_GUID)
        return (BOOLEAN)(__builtin_memcmp(&ModuleId1->Guid, &ModuleId2->Guid, sizeof(GUID)) == 0);
    if (ModuleId1->Type == MIT_IF_LUID)
        return (BOOLEAN)(__builtin_memcmp(&ModuleId1->IfLuid, &ModuleId2->IfLuid, sizeof(LUID)) == 0);
    return FALSE;
}

typedef struct _NPI_REGISTRATION_INSTANCE {
    USHORT Version; /* 0 */
    USHORT Size;    /* sizeof(NPI_REGISTRATION_INSTANCE) */
    PNPIID NpiId;
    PNPI_MODULEID ModuleId;
    ULONG Number;
    const VOID *NpiSpecificCharacteristics;
} NPI_REGISTRATION_INSTANCE, *PNPI_REGISTRATION_INSTANCE;

/*
 * {2227E803-8D8B-11D4-ABAD-009027719E09}: the WSK NPI, passed as NpiId in
 * WSK_EVENT_CALLBACK_CONTROL.  Defined by libopenwsk (on Windows: netio).
 */
extern OPENWSK_API const NPIID NPI_WSK_INTERFACE_ID;

EXTERN_C_END

#endif /* OPENWSK_NETIODDK_H */
