/*
 * mswsockdef.h - Microsoft-specific Winsock definitions shared by user and
 * kernel mode, as in the Windows SDK's shared/mswsockdef.h.
 *
 * The ancillary-data (cmsg) macros, which older SDKs kept in mswsock.h,
 * are in ws2def.h.  What remains here is small: the compatibility-mode
 * ioctl and the scope / sockaddr-size helpers.
 */
#ifndef OPENWSK_MSWSOCKDEF_H
#define OPENWSK_MSWSOCKDEF_H

#include <ntdef.h>
#include <ws2def.h>
#include <ws2ipdef.h>

EXTERN_C_START

#define SIO_SET_COMPATIBILITY_MODE _WSAIOW(IOC_VENDOR, 300)

typedef enum _WSA_COMPATIBILITY_BEHAVIOR_ID {
    WsaBehaviorAll = 0,
    WsaBehaviorReceiveBuffering,
    WsaBehaviorAutoTuning
} WSA_COMPATIBILITY_BEHAVIOR_ID, *PWSA_COMPATIBILITY_BEHAVIOR_ID;

typedef struct _WSA_COMPATIBILITY_MODE {
    WSA_COMPATIBILITY_BEHAVIOR_ID BehaviorId;
    ULONG TargetOsVersion;
} WSA_COMPATIBILITY_MODE, *PWSA_COMPATIBILITY_MODE;

/*
 * Size of the socket address of a family.  Windows looks it up in an
 * exported table (sockaddr_size); a switch keeps clients free of that
 * link-time dependency and gives the same answers for the IP families.
 */
static inline UCHAR SOCKADDR_SIZE(ADDRESS_FAMILY af)
{
    switch (af) {
    case AF_INET:
        return (UCHAR)sizeof(SOCKADDR_IN);
    case AF_INET6:
        return (UCHAR)sizeof(SOCKADDR_IN6);
    default:
        return 0;
    }
}

/* Level is a 4-bit field; read it back as the enum without sign surprises. */
static inline SCOPE_LEVEL ScopeLevel(SCOPE_ID ScopeId)
{
    return (SCOPE_LEVEL)ScopeId.Level;
}

EXTERN_C_END

#endif /* OPENWSK_MSWSOCKDEF_H */
