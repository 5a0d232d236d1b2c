/*
 * tracelogging.c - the run-time side of TraceLoggingProvider.h: provider
 * registration on top of EtwRegister, enablement, and the text an event
 * prints when the emulated session enables its provider:
 *   openwsk: tracelogging: MyProvider {guid} "EventName" level=5 keyword=0x0 opcode=0
 *     name=value
 *     ...
 * A TraceLoggingStruct's members print as struct.member=value.  Events
 * without TraceLoggingLevel have level 5 (WINEVENT_LEVEL_VERBOSE), the
 * TraceLogging default.
 */
#include "etw_internal.h"

#include <TraceLoggingProvider.h>

#include <stdio.h>
#include <string.h>

static _tlgProvider_t *mutable_provider(TraceLoggingHProvider h)
{
    return (_tlgProvider_t *)(ULONG_PTR)h;
}

static VOID NTAPI tlg_enable_callback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                      ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData,
                                      PVOID CallbackContext)
{
    _tlgProvider_t *p = (_tlgProvider_t *)CallbackContext;
    if (ControlCode == EVENT_CONTROL_CODE_ENABLE_PROVIDER) {
        __atomic_store_n(&p->Level, Level, __ATOMIC_RELAXED);
        __atomic_store_n(&p->AnyKeyword, MatchAnyKeyword, __ATOMIC_RELAXED);
        __atomic_store_n(&p->AllKeyword, MatchAllKeyword, __ATOMIC_RELAXED);
        __atomic_store_n(&p->Enabled, 1, __ATOMIC_RELEASE);
    } else if (ControlCode == EVENT_CONTROL_CODE_DISABLE_PROVIDER) {
        __atomic_store_n(&p->Enabled, 0, __ATOMIC_RELEASE);
    }
    if (p->UserCallback)
        p->UserCallback(SourceId, ControlCode, Level, MatchAnyKeyword, MatchAllKeyword, FilterData, p->UserContext);
}

OPENWSK_API TLG_STATUS openwsk_tlg_register(TraceLoggingHProvider hProvider, TLG_PENABLECALLBACK Callback,
                                            PVOID Context)
{
    _tlgProvider_t *p = mutable_provider(hProvider);
    if (p->RegHandle)
        return STATUS_INVALID_PARAMETER; /* "must not already be registered" (TraceLoggingRegisterEx) */
    p->UserCallback = Callback;
    p->UserContext = Context;
    REGHANDLE h = 0;
    NTSTATUS s = EtwRegister(&p->ProviderId, tlg_enable_callback, p, &h);
    if (NT_SUCCESS(s))
        p->RegHandle = h;
    return s;
}

OPENWSK_API void openwsk_tlg_unregister(TraceLoggingHProvider hProvider)
{
    _tlgProvider_t *p = mutable_provider(hProvider);
    if (!p->RegHandle)
        return;
    EtwUnregister(p->RegHandle);
    p->RegHandle = 0;
    __atomic_store_n(&p->Enabled, 0, __ATOMIC_RELEASE);
}

OPENWSK_API BOOLEAN openwsk_tlg_provider_enabled(TraceLoggingHProvider h, UCHAR Level, ULONGLONG Keyword)
{
    if (!__atomic_load_n(&h->Enabled, __ATOMIC_ACQUIRE))
        return FALSE;
    UCHAR max = __atomic_load_n(&h->Level, __ATOMIC_RELAXED);
    ULONGLONG any = __atomic_load_n(&h->AnyKeyword, __ATOMIC_RELAXED);
    ULONGLONG all = __atomic_load_n(&h->AllKeyword, __ATOMIC_RELAXED);
    if (Level != 0 && max != 0 && Level > max)
        return FALSE;
    if (Keyword != 0 && ((Keyword & any) == 0 || (Keyword & all) != all))
        return FALSE;
    return TRUE;
}

static void put_wide(etw_text *t, const WCHAR *s, ULONG chars)
{
    char utf8[1024];
    ULONG bytes = 0;
    if (chars > 300)
        chars = 300;
    if (!NT_SUCCESS(RtlUnicodeToUTF8N(utf8, sizeof(utf8) - 1, &bytes, s, chars * (ULONG)sizeof(WCHAR))))
        bytes = 0;
    utf8[bytes] = 0;
    openwsk_etw_text_put(t, "\"%s\"", utf8);
}

static void put_value(etw_text *t, const openwsk_tlg_field *f)
{
    switch (f->kind) {
    case OPENWSK_TLG_SIGNED:
        openwsk_etw_text_put(t, "%lld", (long long)f->u);
        break;
    case OPENWSK_TLG_UNSIGNED:
        openwsk_etw_text_put(t, "%llu", (unsigned long long)f->u);
        break;
    case OPENWSK_TLG_HEX:
    case OPENWSK_TLG_POINTER:
        openwsk_etw_text_put(t, "0x%llx", (unsigned long long)f->u);
        break;
    case OPENWSK_TLG_STATUS:
        openwsk_etw_text_put(t, "0x%08llX", (unsigned long long)f->u);
        break;
    case OPENWSK_TLG_BOOL:
        openwsk_etw_text_put(t, "%s", f->u ? "true" : "false");
        break;
    case OPENWSK_TLG_FLOAT:
        openwsk_etw_text_put(t, "%g", f->d);
        break;
    case OPENWSK_TLG_CHAR:
        if (f->u >= 0x20 && f->u < 0x7f)
            openwsk_etw_text_put(t, "'%c'", (char)f->u);
        else
            openwsk_etw_text_put(t, "0x%llx", (unsigned long long)f->u);
        break;
    case OPENWSK_TLG_STRING:
        if (f->p)
            openwsk_etw_text_put(t, "\"%s\"", (const char *)f->p);
        else
            openwsk_etw_text_put(t, "(null)");
        break;
    case OPENWSK_TLG_COUNTED_STRING:
        if (f->p)
            openwsk_etw_text_put(t, "\"%.*s\"", (int)f->size, (const char *)f->p);
        else
            openwsk_etw_text_put(t, "(null)");
        break;
    case OPENWSK_TLG_WSTRING:
    case OPENWSK_TLG_COUNTED_WSTRING:
        if (f->p) {
            const WCHAR *s = (const WCHAR *)f->p;
            ULONG n = f->size;
            if (f->kind == OPENWSK_TLG_WSTRING)
                for (n = 0; s[n]; n++)
                    ;
            put_wide(t, s, n);
        } else {
            openwsk_etw_text_put(t, "(null)");
        }
        break;
    case OPENWSK_TLG_GUID:
        openwsk_etw_text_guid(t, &f->guid);
        break;
    case OPENWSK_TLG_BINARY:
        for (ULONG i = 0; i < f->size && f->p; i++)
            openwsk_etw_text_put(t, "%02x", ((const UCHAR *)f->p)[i]);
        if (!f->size)
            openwsk_etw_text_put(t, "-");
        break;
    default:
        break;
    }
}

/* Prints fields [*i, end) with the given prefix; a struct takes its
 * members from the following fields. */
static void put_fields(etw_text *t, const openwsk_tlg_field *f, ULONG *i, ULONG end, const char *prefix)
{
    while (*i < end) {
        const openwsk_tlg_field *cur = &f[(*i)++];
        if (cur->kind <= OPENWSK_TLG_DESCRIPTION)
            continue; /* event attributes, not fields */
        if (cur->kind == OPENWSK_TLG_STRUCT) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s.", prefix, cur->name ? cur->name : "");
            ULONG members_end = *i + cur->size;
            if (members_end > end)
                members_end = end;
            put_fields(t, f, i, members_end, sub);
            continue;
        }
        openwsk_etw_text_put(t, "  %s%s=", prefix, cur->name ? cur->name : "");
        put_value(t, cur);
        openwsk_etw_text_put(t, "\n");
    }
}

OPENWSK_API void openwsk_tlg_write(TraceLoggingHProvider h, const char *EventName, const GUID *ActivityId,
                                   const GUID *RelatedActivityId, const openwsk_tlg_field *Fields, ULONG Count)
{
    UCHAR level = WINEVENT_LEVEL_VERBOSE, opcode = 0, channel = WINEVENT_CHANNEL_TRACELOGGING;
    ULONGLONG keyword = 0;
    for (ULONG i = 0; i < Count; i++) {
        if (Fields[i].kind == OPENWSK_TLG_LEVEL)
            level = (UCHAR)Fields[i].u;
        else if (Fields[i].kind == OPENWSK_TLG_KEYWORD)
            keyword |= Fields[i].u; /* several TraceLoggingKeyword combine */
        else if (Fields[i].kind == OPENWSK_TLG_OPCODE)
            opcode = (UCHAR)Fields[i].u;
        else if (Fields[i].kind == OPENWSK_TLG_CHANNEL)
            channel = (UCHAR)Fields[i].u;
    }
    if (!openwsk_tlg_provider_enabled(h, level, keyword))
        return;
    GUID activity;
    static const GUID zero;
    if (ActivityId)
        activity = *ActivityId;
    else
        openwsk_etw_current_activity(&activity);

    etw_text t;
    openwsk_etw_text_init(&t);
    openwsk_etw_text_put(&t, "openwsk: tracelogging: %s ", h->ProviderName);
    openwsk_etw_text_guid(&t, &h->ProviderId);
    openwsk_etw_text_put(&t, " \"%s\" level=%u keyword=0x%llx opcode=%u", EventName, level,
                         (unsigned long long)keyword, opcode);
    if (channel != WINEVENT_CHANNEL_TRACELOGGING)
        openwsk_etw_text_put(&t, " channel=%u", channel);
    if (memcmp(&activity, &zero, sizeof(GUID)) != 0) {
        openwsk_etw_text_put(&t, " activity=");
        openwsk_etw_text_guid(&t, &activity);
    }
    if (RelatedActivityId) {
        openwsk_etw_text_put(&t, " related=");
        openwsk_etw_text_guid(&t, RelatedActivityId);
    }
    openwsk_etw_text_put(&t, "\n");
    ULONG i = 0;
    put_fields(&t, Fields, &i, Count, "");
    openwsk_etw_text_emit(&t);
}
