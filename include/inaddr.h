/*
 * inaddr.h - the IPv4 address type of the Windows SDK (shared/inaddr.h).
 *
 * IN_ADDR is 4 bytes, stored in network byte order; S_addr is a 32-bit
 * ULONG as on Windows, never a Linux unsigned long.  The struct tag is
 * in_addr as on Windows, so this header must not meet glibc's
 * <netinet/in.h> in the same translation unit (hazard H6).
 */
#ifndef OPENWSK_INADDR_H
#define OPENWSK_INADDR_H

#include <ntdef.h>

typedef struct in_addr {
    union {
        struct {
            UCHAR s_b1, s_b2, s_b3, s_b4;
        } S_un_b;
        struct {
            USHORT s_w1, s_w2;
        } S_un_w;
        ULONG S_addr;
    } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;

/* Classic BSD spellings of the union members. */
#define s_addr S_un.S_addr        /* the whole address */
#define s_host S_un.S_un_b.s_b2   /* host on imp */
#define s_net S_un.S_un_b.s_b1    /* network */
#define s_imp S_un.S_un_w.s_w2    /* imp */
#define s_impno S_un.S_un_b.s_b4  /* imp number */
#define s_lh S_un.S_un_b.s_b3     /* logical host */

#endif /* OPENWSK_INADDR_H */
