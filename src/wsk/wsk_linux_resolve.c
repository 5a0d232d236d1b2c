/*
 * wsk_linux_resolve.c - getaddrinfo / getnameinfo for WskGetAddressInfo and
 * WskGetNameInfo (wsk_resolve.c), with Windows' flag values translated at
 * the boundary.  Linux side: glibc headers only.
 */
#include "wsk_linux.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Windows values (ws2def.h). */
#define WIN_AF_UNSPEC 0
#define WIN_AF_INET 2
#define WIN_AF_INET6 23
#define WIN_AI_PASSIVE 0x1
#define WIN_AI_CANONNAME 0x2
#define WIN_AI_NUMERICHOST 0x4
#define WIN_AI_NUMERICSERV 0x8
#define WIN_AI_ALL 0x100
#define WIN_AI_ADDRCONFIG 0x400
#define WIN_AI_V4MAPPED 0x800
#define WIN_NI_NOFQDN 0x01
#define WIN_NI_NUMERICHOST 0x02
#define WIN_NI_NAMEREQD 0x04
#define WIN_NI_NUMERICSERV 0x08
#define WIN_NI_DGRAM 0x10

static int ai_flags_from_windows(int win)
{
    int f = 0;
    if (win & WIN_AI_PASSIVE) f |= AI_PASSIVE;
    if (win & WIN_AI_CANONNAME) f |= AI_CANONNAME;
    if (win & WIN_AI_NUMERICHOST) f |= AI_NUMERICHOST;
    if (win & WIN_AI_NUMERICSERV) f |= AI_NUMERICSERV;
    if (win & WIN_AI_ALL) f |= AI_ALL;
    if (win & WIN_AI_ADDRCONFIG) f |= AI_ADDRCONFIG;
    if (win & WIN_AI_V4MAPPED) f |= AI_V4MAPPED;
    return f;
}

static int error_from_eai(int eai)
{
    switch (eai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT;
    case EAI_AGAIN: return -EAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
    case EAI_FAMILY: return -EINVAL;
    case EAI_SYSTEM: return -errno;
    default: return -EIO;
    }
}

int lx_resolve(const char *node, const char *service, int win_flags, int win_family, int socktype, int protocol,
               lx_resolved **out, size_t *count, char **canonical)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = ai_flags_from_windows(win_flags);
    hints.ai_family = win_family == WIN_AF_INET ? AF_INET : win_family == WIN_AF_INET6 ? AF_INET6 : AF_UNSPEC;
    if (win_family != WIN_AF_UNSPEC && win_family != WIN_AF_INET && win_family != WIN_AF_INET6)
        return -EAFNOSUPPORT;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    int eai = getaddrinfo(node, service, &hints, &res);
    if (eai != 0)
        return error_from_eai(eai);
    size_t n = 0;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
            n++;
    lx_resolved *list = calloc(n ? n : 1, sizeof(*list));
    char *canon = NULL;
    if (list != NULL && res->ai_canonname != NULL)
        canon = strdup(res->ai_canonname);
    if (list == NULL || (res->ai_canonname != NULL && canon == NULL)) {
        free(list);
        free(canon);
        freeaddrinfo(res);
        return -ENOMEM;
    }
    size_t i = 0;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        lx_resolved *e = &list[i++];
        unsigned short fam = a->ai_family == AF_INET ? WIN_AF_INET : WIN_AF_INET6;
        e->win_family = fam;
        e->socktype = a->ai_socktype;
        e->protocol = a->ai_protocol;
        e->addr_len = a->ai_addrlen;
        memcpy(e->addr, a->ai_addr, a->ai_addrlen);
        memcpy(e->addr, &fam, sizeof(fam)); /* Windows layout */
    }
    freeaddrinfo(res);
    *out = list;
    *count = n;
    *canonical = canon;
    return n > 0 ? 0 : -ENOENT;
}

void lx_resolve_free(lx_resolved *list, char *canonical)
{
    free(list);
    free(canonical);
}

int lx_name_of(const void *win_addr, size_t len, int win_flags, char *host, size_t host_len, char *serv,
               size_t serv_len)
{
    struct sockaddr_storage ss;
    unsigned short fam;
    if (len < sizeof(fam) || len > sizeof(ss))
        return -EINVAL;
    memcpy(&fam, win_addr, sizeof(fam));
    size_t need = fam == WIN_AF_INET ? sizeof(struct sockaddr_in) : fam == WIN_AF_INET6 ? sizeof(struct sockaddr_in6) : 0;
    if (need == 0)
        return -EAFNOSUPPORT;
    if (len < need)
        return -EINVAL;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, win_addr, need);
    ss.ss_family = fam == WIN_AF_INET ? AF_INET : AF_INET6;
    int f = 0;
    if (win_flags & WIN_NI_NOFQDN) f |= NI_NOFQDN;
    if (win_flags & WIN_NI_NUMERICHOST) f |= NI_NUMERICHOST;
    if (win_flags & WIN_NI_NAMEREQD) f |= NI_NAMEREQD;
    if (win_flags & WIN_NI_NUMERICSERV) f |= NI_NUMERICSERV;
    if (win_flags & WIN_NI_DGRAM) f |= NI_DGRAM;
    int eai = getnameinfo((struct sockaddr *)&ss, (socklen_t)need, host, (socklen_t)host_len, serv,
                          (socklen_t)serv_len, f);
    if (eai == EAI_OVERFLOW)
        return -ENOSPC;
    return eai == 0 ? 0 : error_from_eai(eai);
}
