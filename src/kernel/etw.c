/*
 * etw.c - Event Tracing for Windows, kernel-mode provider side: EtwRegister,
 * EtwUnregister, EtwEventEnabled, EtwProviderEnabled, EtwWrite and its
 * variants, EtwActivityIdControl, EtwSetInformation.
 *
 * There are no trace sessions on Linux.  One emulated session enables
 * every provider when OPENWSK_ETW=1 (read once, at the first ETW call):
 * all levels (255) and all keywords (MatchAnyKeyword ~0, MatchAllKeyword
 * 0) unless OPENWSK_ETW_LEVEL / OPENWSK_ETW_KEYWORDS narrow it.  Hosts and
 * tests can change it with openwsk_etw_configure; as on Windows, a
 * provider's enable callback runs when the session enables or disables it,
 * including from within EtwRegister when the session is already on (the
 * EtwRegister documentation's enable callback).
 *
 * An enabled event is printed on stderr as one line:
 *   openwsk: etw: {provider GUID} id=1 version=0 channel=0 level=4 opcode=0
 *   task=0 keyword=0x1 [activity={...}] [related={...}] data=0102 0304
 * one hex group per EVENT_DATA_DESCRIPTOR.  TraceLogging events go through
 * openwsk_tlg_write (tracelogging.c) and print their fields by name.
 *
 * Registrations live in the pool (tag 'EtwR'), so a provider never
 * unregistered shows in the leak report; handles are checked against the
 * list of live registrations, so a stale handle gets STATUS_INVALID_HANDLE
 * rather than a use after free.
 */
#include "etw_internal.h"

#include <openwsk_runtime.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ETW_REG_TAG TAG_FROM_CHARS('E', 't', 'w', 'R')

typedef struct etw_registration {
    LIST_ENTRY Link;
    GUID ProviderId;
    PETWENABLECALLBACK Callback;
    PVOID Context;
} etw_registration;

static pthread_mutex_t etw_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_ENTRY etw_registrations = {&etw_registrations, &etw_registrations};
static pthread_once_t etw_once = PTHREAD_ONCE_INIT;

/* The emulated session; read without the lock (atomics). */
static int session_enabled;
static UCHAR session_level;
static ULONGLONG session_any;
static ULONGLONG session_all;
static LONG events_written;

static void etw_read_environment(void)
{
    const char *on = getenv("OPENWSK_ETW");
    const char *level = getenv("OPENWSK_ETW_LEVEL");
    const char *keywords = getenv("OPENWSK_ETW_KEYWORDS");
    __atomic_store_n(&session_level, level ? (UCHAR)strtoul(level, NULL, 0) : (UCHAR)255, __ATOMIC_RELAXED);
    __atomic_store_n(&session_any, keywords ? strtoull(keywords, NULL, 0) : ~0ULL, __ATOMIC_RELAXED);
    __atomic_store_n(&session_all, 0ULL, __ATOMIC_RELAXED);
    __atomic_store_n(&session_enabled, on && *on && strcmp(on, "0") != 0, __ATOMIC_RELEASE);
}

static void etw_init(void)
{
    pthread_once(&etw_once, etw_read_environment);
}

static BOOLEAN session_accepts(UCHAR level, ULONGLONG keyword)
{
    etw_init();
    if (!__atomic_load_n(&session_enabled, __ATOMIC_ACQUIRE))
        return FALSE;
    UCHAR max = __atomic_load_n(&session_level, __ATOMIC_RELAXED);
    ULONGLONG any = __atomic_load_n(&session_any, __ATOMIC_RELAXED);
    ULONGLONG all = __atomic_load_n(&session_all, __ATOMIC_RELAXED);
    /* Level 0 events are always logged; keyword 0 events match any session. */
    if (level != 0 && max != 0 && level > max)
        return FALSE;
    if (keyword != 0 && ((keyword & any) == 0 || (keyword & all) != all))
        return FALSE;
    return TRUE;
}

static etw_registration *find_locked(REGHANDLE handle)
{
    for (PLIST_ENTRY e = etw_registrations.Flink; e != &etw_registrations; e = e->Flink)
        if ((REGHANDLE)(ULONG_PTR)e == handle)
            return CONTAINING_RECORD(e, etw_registration, Link);
    return NULL;
}

/* Copies the registration's identity out if the handle is live. */
static BOOLEAN lookup(REGHANDLE handle, GUID *provider)
{
    etw_init();
    pthread_mutex_lock(&etw_lock);
    etw_registration *r = find_locked(handle);
    if (r && provider)
        *provider = r->ProviderId;
    pthread_mutex_unlock(&etw_lock);
    return r != NULL;
}

NTKERNELAPI NTSTATUS EtwRegister(LPCGUID ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                                 PREGHANDLE RegHandle)
{
    if (!ProviderId || !RegHandle)
        return STATUS_INVALID_PARAMETER;
    etw_init();
    etw_registration *r = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*r), ETW_REG_TAG);
    if (!r)
        return STATUS_NO_MEMORY;
    r->ProviderId = *ProviderId;
    r->Callback = EnableCallback;
    r->Context = CallbackContext;
    pthread_mutex_lock(&etw_lock);
    InsertTailList(&etw_registrations, &r->Link);
    pthread_mutex_unlock(&etw_lock);
    *RegHandle = (REGHANDLE)(ULONG_PTR)&r->Link;
    if (EnableCallback && __atomic_load_n(&session_enabled, __ATOMIC_ACQUIRE))
        EnableCallback(ProviderId, EVENT_CONTROL_CODE_ENABLE_PROVIDER,
                       __atomic_load_n(&session_level, __ATOMIC_RELAXED),
                       __atomic_load_n(&session_any, __ATOMIC_RELAXED),
                       __atomic_load_n(&session_all, __ATOMIC_RELAXED), NULL, CallbackContext);
    return STATUS_SUCCESS;
}

NTKERNELAPI NTSTATUS EtwUnregister(REGHANDLE RegHandle)
{
    etw_init();
    pthread_mutex_lock(&etw_lock);
    etw_registration *r = find_locked(RegHandle);
    if (r)
        RemoveEntryList(&r->Link);
    pthread_mutex_unlock(&etw_lock);
    if (!r)
        return STATUS_INVALID_HANDLE;
    ExFreePoolWithTag(r, ETW_REG_TAG);
    return STATUS_SUCCESS;
}

NTKERNELAPI BOOLEAN EtwEventEnabled(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor)
{
    return EventDescriptor && session_accepts(EventDescriptor->Level, EventDescriptor->Keyword) &&
           lookup(RegHandle, NULL);
}

NTKERNELAPI BOOLEAN EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword)
{
    return session_accepts(Level, Keyword) && lookup(RegHandle, NULL);
}

/* ---- activity ids ---- */

static _Thread_local GUID current_activity;
static ULONGLONG activity_base[2];
static ULONGLONG activity_counter;
static pthread_once_t activity_once = PTHREAD_ONCE_INIT;

static void activity_seed(void)
{
    if (getrandom(activity_base, sizeof(activity_base), 0) != (ssize_t)sizeof(activity_base)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        activity_base[0] = (ULONGLONG)ts.tv_nsec ^ ((ULONGLONG)ts.tv_sec << 30);
        activity_base[1] = (ULONGLONG)(ULONG_PTR)&ts;
    }
}

/* A fresh id: random per process, a counter in the low bits, never zero. */
static void new_activity_id(GUID *g)
{
    pthread_once(&activity_once, activity_seed);
    ULONGLONG n = __atomic_add_fetch(&activity_counter, 1, __ATOMIC_RELAXED);
    ULONGLONG words[2] = {activity_base[0], activity_base[1] ^ n};
    memcpy(g, words, sizeof(*g));
    g->Data3 = (USHORT)((g->Data3 & 0x0FFF) | 0x4000); /* version 4 */
    g->Data4[0] = (UCHAR)((g->Data4[0] & 0x3F) | 0x80);
}

NTKERNELAPI NTSTATUS EtwActivityIdControl(ULONG ControlCode, LPGUID ActivityId)
{
    if (!ActivityId)
        return STATUS_INVALID_PARAMETER;
    GUID previous = current_activity;
    switch (ControlCode) {
    case EVENT_ACTIVITY_CTRL_GET_ID:
        *ActivityId = current_activity;
        break;
    case EVENT_ACTIVITY_CTRL_SET_ID:
        current_activity = *ActivityId;
        break;
    case EVENT_ACTIVITY_CTRL_CREATE_ID:
        new_activity_id(ActivityId);
        break;
    case EVENT_ACTIVITY_CTRL_GET_SET_ID:
        current_activity = *ActivityId;
        *ActivityId = previous;
        break;
    case EVENT_ACTIVITY_CTRL_CREATE_SET_ID:
        new_activity_id(&current_activity);
        *ActivityId = previous;
        break;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
}

void openwsk_etw_current_activity(GUID *out)
{
    *out = current_activity;
}

/* ---- output ---- */

void openwsk_etw_text_init(etw_text *t)
{
    t->len = 0;
    t->cap = 512;
    t->buf = malloc(t->cap);
    if (t->buf)
        t->buf[0] = 0;
}

void openwsk_etw_text_put(etw_text *t, const char *fmt, ...)
{
    if (!t->buf)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n) * 2;
        char *grown = realloc(t->buf, cap);
        if (!grown)
            return;
        t->buf = grown;
        t->cap = cap;
    }
}

void openwsk_etw_text_guid(etw_text *t, const GUID *g)
{
    openwsk_etw_text_put(t, "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", (unsigned)g->Data1, g->Data2,
                         g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5],
                         g->Data4[6], g->Data4[7]);
}

void openwsk_etw_text_emit(etw_text *t)
{
    if (t->buf) {
        fputs(t->buf, stderr);
        free(t->buf);
        t->buf = NULL;
    }
    __atomic_add_fetch(&events_written, 1, __ATOMIC_RELAXED);
}

static const GUID zero_guid;

static NTSTATUS write_event(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR d, LPCGUID ActivityId, LPCGUID RelatedActivityId,
                            ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData, const WCHAR *string)
{
    GUID provider;
    if (!d)
        return STATUS_INVALID_PARAMETER;
    if (!lookup(RegHandle, &provider))
        return STATUS_INVALID_HANDLE;
    if (UserDataCount > MAX_EVENT_DATA_DESCRIPTORS || (UserDataCount && !UserData))
        return STATUS_INVALID_PARAMETER;
    if (!session_accepts(d->Level, d->Keyword))
        return STATUS_SUCCESS;
    GUID activity;
    if (ActivityId)
        activity = *ActivityId;
    else
        openwsk_etw_current_activity(&activity);

    etw_text t;
    openwsk_etw_text_init(&t);
    openwsk_etw_text_put(&t, "openwsk: etw: ");
    openwsk_etw_text_guid(&t, &provider);
    openwsk_etw_text_put(&t, " id=%u version=%u channel=%u level=%u opcode=%u task=%u keyword=0x%llx", d->Id,
                         d->Version, d->Channel, d->Level, d->Opcode, d->Task, (unsigned long long)d->Keyword);
    if (memcmp(&activity, &zero_guid, sizeof(GUID)) != 0) {
        openwsk_etw_text_put(&t, " activity=");
        openwsk_etw_text_guid(&t, &activity);
    }
    if (RelatedActivityId) {
        openwsk_etw_text_put(&t, " related=");
        openwsk_etw_text_guid(&t, RelatedActivityId);
    }
    if (string) {
        ULONG chars = 0;
        while (string[chars])
            chars++;
        char utf8[1024];
        ULONG bytes = 0;
        if (!NT_SUCCESS(RtlUnicodeToUTF8N(utf8, sizeof(utf8) - 1, &bytes, string,
                                          (chars > 300 ? 300 : chars) * (ULONG)sizeof(WCHAR))))
            bytes = 0;
        utf8[bytes] = 0;
        openwsk_etw_text_put(&t, " string=\"%s\"", utf8);
    }
    if (UserDataCount) {
        openwsk_etw_text_put(&t, " data=");
        for (ULONG i = 0; i < UserDataCount; i++) {
            const UCHAR *p = (const UCHAR *)(ULONG_PTR)UserData[i].Ptr;
            if (i)
                openwsk_etw_text_put(&t, " ");
            for (ULONG j = 0; j < UserData[i].Size && p; j++)
                openwsk_etw_text_put(&t, "%02x", p[j]);
            if (UserData[i].Size == 0)
                openwsk_etw_text_put(&t, "-");
        }
    }
    openwsk_etw_text_put(&t, "\n");
    openwsk_etw_text_emit(&t);
    return STATUS_SUCCESS;
}

NTKERNELAPI NTSTATUS EtwWrite(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                              ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    return write_event(RegHandle, EventDescriptor, ActivityId, NULL, UserDataCount, UserData, NULL);
}

NTKERNELAPI NTSTATUS EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                      LPCGUID RelatedActivityId, ULONG UserDataCount,
                                      PEVENT_DATA_DESCRIPTOR UserData)
{
    return write_event(RegHandle, EventDescriptor, ActivityId, RelatedActivityId, UserDataCount, UserData, NULL);
}

NTKERNELAPI NTSTATUS EtwWriteEx(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, ULONG64 Filter,
                                ULONG Flags, LPCGUID ActivityId, LPCGUID RelatedActivityId, ULONG UserDataCount,
                                PEVENT_DATA_DESCRIPTOR UserData)
{
    /* Filter excludes sessions; the one emulated session is never excluded. */
    return write_event(RegHandle, EventDescriptor, ActivityId, RelatedActivityId, UserDataCount, UserData, NULL);
}

NTKERNELAPI NTSTATUS EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, LPCGUID ActivityId,
                                    PCWSTR String)
{
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 0, 0, 0, Level, 0, 0, Keyword);
    if (!String)
        return STATUS_INVALID_PARAMETER;
    return write_event(RegHandle, &d, ActivityId, NULL, 0, NULL, String);
}

NTKERNELAPI NTSTATUS EtwSetInformation(REGHANDLE RegHandle, EVENT_INFO_CLASS InformationClass,
                                       PVOID EventInformation, ULONG InformationLength)
{
    if (!lookup(RegHandle, NULL))
        return STATUS_INVALID_HANDLE;
    if (InformationClass >= MaxEventInfo)
        return STATUS_NOT_SUPPORTED;
    return STATUS_SUCCESS; /* traits and descriptor types: nothing to keep */
}

/* ---- openwsk_runtime.h ---- */

OPENWSK_API void openwsk_etw_configure(BOOLEAN Enabled, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                       ULONGLONG MatchAllKeyword)
{
    etw_init();
    __atomic_store_n(&session_level, Level, __ATOMIC_RELAXED);
    __atomic_store_n(&session_any, MatchAnyKeyword, __ATOMIC_RELAXED);
    __atomic_store_n(&session_all, MatchAllKeyword, __ATOMIC_RELAXED);
    __atomic_store_n(&session_enabled, Enabled ? 1 : 0, __ATOMIC_RELEASE);

    /* Notify every provider with a callback: snapshot under the lock, call
     * outside it (callbacks may write events); a provider unregistered in
     * between is skipped when re-checked. */
    pthread_mutex_lock(&etw_lock);
    ULONG count = 0;
    for (PLIST_ENTRY e = etw_registrations.Flink; e != &etw_registrations; e = e->Flink)
        count++;
    PLIST_ENTRY *snapshot = count ? malloc(count * sizeof(*snapshot)) : NULL;
    ULONG n = 0;
    if (snapshot)
        for (PLIST_ENTRY e = etw_registrations.Flink; e != &etw_registrations; e = e->Flink)
            snapshot[n++] = e;
    pthread_mutex_unlock(&etw_lock);
    for (ULONG i = 0; i < n; i++) {
        PETWENABLECALLBACK cb = NULL;
        PVOID ctx = NULL;
        GUID id;
        pthread_mutex_lock(&etw_lock);
        etw_registration *r = find_locked((REGHANDLE)(ULONG_PTR)snapshot[i]);
        if (r) {
            cb = r->Callback;
            ctx = r->Context;
            id = r->ProviderId;
        }
        pthread_mutex_unlock(&etw_lock);
        if (cb)
            cb(&id, Enabled ? EVENT_CONTROL_CODE_ENABLE_PROVIDER : EVENT_CONTROL_CODE_DISABLE_PROVIDER,
               Enabled ? Level : 0, Enabled ? MatchAnyKeyword : 0, Enabled ? MatchAllKeyword : 0, NULL, ctx);
    }
    free(snapshot);
}

OPENWSK_API LONG openwsk_etw_event_count(void)
{
    return __atomic_load_n(&events_written, __ATOMIC_RELAXED);
}
