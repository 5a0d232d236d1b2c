/*
 * wsk_resolve.c - WskGetAddressInfo, WskFreeAddressInfo, WskGetNameInfo
 * (wsk-part-b.md §9).  Resolution can take seconds, so each call runs on a
 * thread of its own and completes its IRP from there: engine threads never
 * wait for DNS.  WskDeregister waits for resolutions in progress.
 */
#include "wsk_internal.h"

#include <errno.h>

#include "wsk_linux.h"

#define WSK_TAG_ADDRINFO TAG_FROM_CHARS('W', 's', 'k', 'A')
#define WSK_ADDRINFO_MAGIC 0x4F464E49u /* "INFO" */
#define WSK_NAME_MAX (NI_MAXHOST * 3) /* UTF-8 of a host name */

/* One ADDRINFOEXW with its address, as WskFreeAddressInfo expects them. */
typedef struct wsk_addrinfo {
    ULONG magic;
    ADDRINFOEXW info;
    SOCKADDR_STORAGE address;
} wsk_addrinfo;

typedef struct resolve_job {
    wsk_client *client;
    PIRP irp;
    BOOLEAN name_info; /* WskGetNameInfo, else WskGetAddressInfo */
    /* WskGetAddressInfo */
    char node[WSK_NAME_MAX], service[WSK_NAME_MAX];
    BOOLEAN has_node, has_service;
    int flags, family, socktype, protocol;
    PADDRINFOEXW *result;
    /* WskGetNameInfo */
    SOCKADDR_STORAGE address;
    ULONG address_length;
    PUNICODE_STRING node_out, service_out;
} resolve_job;

static NTSTATUS status_from_resolve(int e, BOOLEAN name_info)
{
    switch (e) {
    case 0: return STATUS_SUCCESS;
    case -ENOENT: return name_info ? STATUS_NO_MATCH : STATUS_NOT_FOUND; /* what Windows reports */
    case -ENOMEM: return STATUS_INSUFFICIENT_RESOURCES;
    case -ENOSPC: return STATUS_BUFFER_TOO_SMALL;
    case -EAGAIN: return STATUS_RETRY;
    case -EINVAL:
    case -EAFNOSUPPORT: return STATUS_INVALID_PARAMETER;
    default: return STATUS_UNSUCCESSFUL;
    }
}

/* A UNICODE_STRING's characters (by Length, not the terminator) in UTF-8. */
static BOOLEAN utf8_of(PCUNICODE_STRING s, char *out, ULONG size, BOOLEAN *present)
{
    *present = s != NULL && s->Buffer != NULL && s->Length > 0;
    if (!*present)
        return TRUE;
    ULONG n = 0;
    if (!NT_SUCCESS(RtlUnicodeToUTF8N(out, size - 1, &n, s->Buffer, s->Length)))
        return FALSE;
    out[n] = '\0';
    return TRUE;
}

/* UTF-8 into a caller's UNICODE_STRING, NUL-terminated; Length excludes the NUL. */
static NTSTATUS utf8_into(PUNICODE_STRING out, const char *text)
{
    ULONG bytes = 0;
    SIZE_T len = __builtin_strlen(text);
    NTSTATUS st = RtlUTF8ToUnicodeN(NULL, 0, &bytes, text, (ULONG)len);
    if (!NT_SUCCESS(st))
        return st;
    if (out->Buffer == NULL || (SIZE_T)bytes + sizeof(WCHAR) > out->MaximumLength)
        return STATUS_BUFFER_TOO_SMALL;
    RtlUTF8ToUnicodeN(out->Buffer, bytes, &bytes, text, (ULONG)len);
    out->Buffer[bytes / sizeof(WCHAR)] = 0;
    out->Length = (USHORT)bytes;
    return STATUS_SUCCESS;
}

static VOID WSKAPI free_list(PADDRINFOEXW list)
{
    /* Checked whole before anything is freed: an element WskGetAddressInfo
     * did not make, or a list that loops back (freeing it would free its
     * elements twice), is logged and left alone. */
    wsk_list_guard guard;
    wsk_list_guard_init(&guard, list, offsetof(ADDRINFOEXW, ai_next));
    for (PADDRINFOEXW e = list; e != NULL; e = e->ai_next) {
        if (CONTAINING_RECORD(e, wsk_addrinfo, info)->magic != WSK_ADDRINFO_MAGIC) {
            openwsk_log("WskFreeAddressInfo: not a list WskGetAddressInfo returned");
            return;
        }
        if (wsk_list_guard_revisits(&guard, e)) {
            openwsk_log("WskFreeAddressInfo: the list loops back on itself");
            return;
        }
    }
    while (list != NULL) {
        wsk_addrinfo *a = CONTAINING_RECORD(list, wsk_addrinfo, info);
        list = list->ai_next;
        if (a->info.ai_canonname != NULL)
            openwsk_pool_free(a->info.ai_canonname);
        a->magic = 0;
        openwsk_pool_free(a);
    }
}

/* Builds the ADDRINFOEXW list from what Linux found. */
static NTSTATUS build_list(const lx_resolved *found, size_t count, const char *canonical, PADDRINFOEXW *out)
{
    PADDRINFOEXW head = NULL, *tail = &head;
    for (size_t i = 0; i < count; i++) {
        wsk_addrinfo *a = openwsk_pool_alloc(sizeof(*a), WSK_TAG_ADDRINFO, TRUE);
        if (a == NULL) {
            free_list(head);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        a->magic = WSK_ADDRINFO_MAGIC;
        a->info.ai_family = found[i].win_family;
        a->info.ai_socktype = found[i].socktype;
        a->info.ai_protocol = found[i].protocol;
        a->info.ai_addrlen = found[i].addr_len;
        __builtin_memcpy(&a->address, found[i].addr, found[i].addr_len);
        a->info.ai_addr = (struct sockaddr *)&a->address;
        *tail = &a->info;
        tail = &a->info.ai_next;
    }
    if (canonical != NULL && head != NULL) {
        /* The canonical name rides on the first entry, as in Winsock. */
        ULONG bytes = 0;
        SIZE_T len = __builtin_strlen(canonical);
        RtlUTF8ToUnicodeN(NULL, 0, &bytes, canonical, (ULONG)len);
        PWSTR name = openwsk_pool_alloc(bytes + sizeof(WCHAR), WSK_TAG_ADDRINFO, TRUE);
        if (name == NULL) {
            free_list(head);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        RtlUTF8ToUnicodeN(name, bytes, &bytes, canonical, (ULONG)len);
        head->ai_canonname = name;
    }
    *out = head;
    return STATUS_SUCCESS;
}

static void *resolve_thread(void *arg)
{
    resolve_job *job = arg;
    NTSTATUS status;
    if (job->name_info) {
        char host[NI_MAXHOST], serv[64];
        int e = lx_name_of(&job->address, job->address_length, job->flags, job->node_out ? host : NULL,
                           job->node_out ? sizeof(host) : 0, job->service_out ? serv : NULL,
                           job->service_out ? sizeof(serv) : 0);
        status = status_from_resolve(e, TRUE);
        if (NT_SUCCESS(status) && job->node_out != NULL)
            status = utf8_into(job->node_out, host);
        if (NT_SUCCESS(status) && job->service_out != NULL)
            status = utf8_into(job->service_out, serv);
    } else {
        lx_resolved *found = NULL;
        size_t count = 0;
        char *canonical = NULL;
        int e = lx_resolve(job->has_node ? job->node : NULL, job->has_service ? job->service : NULL, job->flags,
                           job->family, job->socktype, job->protocol, &found, &count, &canonical);
        status = status_from_resolve(e, FALSE);
        PADDRINFOEXW list = NULL;
        if (e == 0)
            status = build_list(found, count, canonical, &list);
        if (found != NULL)
            lx_resolve_free(found, canonical);
        *job->result = NT_SUCCESS(status) ? list : NULL;
    }
    /* Information is 0 either way (observed on Windows; wsk-part-b.md §9.1). */
    wsk_client *c = job->client;
    PIRP irp = job->irp;
    openwsk_pool_free(job);
    wsk_irp_finish(irp, status, 0);
    wsk_client_call_end(c);
    return NULL;
}

/* Runs the job on its own thread; the IRP is pending from here on. */
static NTSTATUS resolve_start(resolve_job *job)
{
    wsk_client_call_begin(job->client); /* WskDeregister waits for us */
    wsk_irp_begin_pending(job->irp);
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&thread, &attr, resolve_thread, job);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        wsk_client *c = job->client;
        PIRP irp = job->irp;
        openwsk_pool_free(job);
        wsk_irp_finish(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        wsk_client_call_end(c);
    }
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                     ULONG NameSpace, GUID *Provider, PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                     PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER; /* observed on Windows */
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE; /* refused before the IRP is taken, as WskSocket (docs/decisions.md) */
    if (Result == NULL || (OwningThread != NULL && OwningProcess == NULL))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    if ((NameSpace != NS_ALL && NameSpace != NS_DNS) || Provider != NULL)
        return wsk_irp_complete_now(Irp, STATUS_NOT_SUPPORTED, 0); /* only the system's resolver exists here */
    if (Hints != NULL && (Hints->ai_addrlen != 0 || Hints->ai_canonname != NULL || Hints->ai_addr != NULL ||
                          Hints->ai_next != NULL))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0); /* as GetAddrInfoExW demands */
    /* GetAddrInfoW, ai_flags: AI_FQDN and AI_CANONNAME together are EAI_BADFLAGS (WSAEINVAL). */
    if (Hints != NULL && (Hints->ai_flags & (AI_FQDN | AI_CANONNAME)) == (AI_FQDN | AI_CANONNAME))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    resolve_job *job = openwsk_pool_alloc(sizeof(*job), WSK_TAG_ADDRINFO, TRUE);
    if (job == NULL)
        return wsk_irp_complete_now(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    if (!utf8_of(NodeName, job->node, sizeof(job->node), &job->has_node) ||
        !utf8_of(ServiceName, job->service, sizeof(job->service), &job->has_service) ||
        (!job->has_node && !job->has_service)) {
        openwsk_pool_free(job);
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    }
    job->client = c;
    job->irp = Irp;
    job->result = Result;
    if (Hints != NULL) {
        job->flags = Hints->ai_flags;
        job->family = Hints->ai_family;
        job->socktype = Hints->ai_socktype;
        job->protocol = Hints->ai_protocol;
    }
    *Result = NULL;
    return resolve_start(job);
}

VOID WSKAPI wsk_free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo)
{
    (void)Client;
    free_list(AddrInfo);
}

NTSTATUS WSKAPI wsk_get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                  PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName, ULONG Flags,
                                  PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    wsk_client *c = wsk_client_from(Client);
    if (c == NULL)
        return STATUS_INVALID_HANDLE; /* refused before the IRP is taken, as WskSocket (docs/decisions.md) */
    if (SockAddr == NULL || SockAddrLength == 0 || SockAddrLength > sizeof(SOCKADDR_STORAGE) ||
        (NodeName == NULL && ServiceName == NULL) || (OwningThread != NULL && OwningProcess == NULL))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    resolve_job *job = openwsk_pool_alloc(sizeof(*job), WSK_TAG_ADDRINFO, TRUE);
    if (job == NULL)
        return wsk_irp_complete_now(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    job->client = c;
    job->irp = Irp;
    job->name_info = TRUE;
    __builtin_memcpy(&job->address, SockAddr, SockAddrLength); /* copied: the call may outlive the caller's */
    job->address_length = SockAddrLength;
    job->flags = (int)Flags;
    job->node_out = NodeName;
    job->service_out = ServiceName;
    return resolve_start(job);
}
