/*
 * in6addr.h - the IPv6 address type of the Windows SDK (shared/in6addr.h).
 *
 * IN6_ADDR is 16 bytes in network byte order, alignment 2 (the widest
 * member is USHORT), exactly as on Windows.  The struct tag is in6_addr,
 * so keep glibc's <netinet/in.h> out of translation units that include it.
 */
#ifndef OPENWSK_IN6ADDR_H
#define OPENWSK_IN6ADDR_H

#include <ntdef.h>

typedef struct in6_addr {
    union {
        UCHAR Byte[16];
        USHORT Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;

/* Windows also accepts the older tag name. */
#define in_addr6 in6_addr

/* RFC 2553 names and the Windows-specific byte/word views. */
#define _S6_un u
#define _S6_u8 Byte
#define s6_addr _S6_un._S6_u8
#define s6_bytes u.Byte
#define s6_words u.Word

#endif /* OPENWSK_IN6ADDR_H */
