/*
 * TraceLoggingProvider.h - TraceLogging for kernel-mode drivers built with
 * gcc or clang, C11 or C++11 and later.
 *
 * The macro shapes are the WDK's: TRACELOGGING_DEFINE_PROVIDER(handle,
 * "Name", (guid), options...), TraceLoggingRegister(handle),
 * TraceLoggingWrite(handle, "EventName", fields...) with any number of
 * fields (none included), field macros taking (value[, name[, description
 * [, tags]]]) and naming the field after the value expression when no name
 * is given.  Nothing is encoded for ETW: when the emulated session enables
 * the provider (OPENWSK_ETW=1, see wdm.h), each event is printed on stderr
 * as a header line and one "  name=value" line per field.  Field arguments
 * are evaluated only while the provider is enabled (at any level).
 */
#ifndef OPENWSK_TRACELOGGINGPROVIDER_H
#define OPENWSK_TRACELOGGINGPROVIDER_H

#include <wdm.h>
#include <winmeta.h>

EXTERN_C_START

typedef NTSTATUS TLG_STATUS;
typedef PETWENABLECALLBACK TLG_PENABLECALLBACK;

typedef struct _tlgProvider_t {
    const char *ProviderName;
    GUID ProviderId;
    REGHANDLE RegHandle;
    LONG Enabled;     /* set by the enable callback */
    UCHAR Level;      /* the session's level, 0 = all */
    ULONGLONG AnyKeyword;
    ULONGLONG AllKeyword;
    TLG_PENABLECALLBACK UserCallback;
    PVOID UserContext;
} _tlgProvider_t;
typedef const _tlgProvider_t *TraceLoggingHProvider;

/* One field (or event attribute) of a TraceLoggingWrite. */
typedef enum openwsk_tlg_kind {
    OPENWSK_TLG_END,
    OPENWSK_TLG_LEVEL,
    OPENWSK_TLG_KEYWORD,
    OPENWSK_TLG_OPCODE,
    OPENWSK_TLG_CHANNEL,
    OPENWSK_TLG_EVENTTAG,
    OPENWSK_TLG_DESCRIPTION,
    OPENWSK_TLG_SIGNED,
    OPENWSK_TLG_UNSIGNED,
    OPENWSK_TLG_HEX,
    OPENWSK_TLG_POINTER,
    OPENWSK_TLG_BOOL,
    OPENWSK_TLG_FLOAT,
    OPENWSK_TLG_CHAR,
    OPENWSK_TLG_STRING,
    OPENWSK_TLG_WSTRING,
    OPENWSK_TLG_COUNTED_STRING,
    OPENWSK_TLG_COUNTED_WSTRING,
    OPENWSK_TLG_GUID,
    OPENWSK_TLG_STATUS,
    OPENWSK_TLG_BINARY,
    OPENWSK_TLG_STRUCT
} openwsk_tlg_kind;

typedef struct openwsk_tlg_field {
    const char *name;
    openwsk_tlg_kind kind;
    ULONG size; /* bytes (binary), characters (counted strings), member count (struct) */
    ULONGLONG u;
    double d;
    const void *p;
    GUID guid;
} openwsk_tlg_field;

OPENWSK_API TLG_STATUS openwsk_tlg_register(TraceLoggingHProvider hProvider, TLG_PENABLECALLBACK Callback,
                                            PVOID Context);
OPENWSK_API void openwsk_tlg_unregister(TraceLoggingHProvider hProvider);
OPENWSK_API BOOLEAN openwsk_tlg_provider_enabled(TraceLoggingHProvider hProvider, UCHAR Level, ULONGLONG Keyword);
OPENWSK_API void openwsk_tlg_write(TraceLoggingHProvider hProvider, const char *EventName, const GUID *ActivityId,
                                   const GUID *RelatedActivityId, const openwsk_tlg_field *Fields, ULONG Count);

static inline int openwsk_tlg_provider_on(TraceLoggingHProvider h)
{
    return __atomic_load_n(&h->Enabled, __ATOMIC_ACQUIRE) != 0;
}

static inline openwsk_tlg_field openwsk_tlg_f(const char *name, openwsk_tlg_kind kind, ULONGLONG u)
{
    openwsk_tlg_field f;
    __builtin_memset(&f, 0, sizeof(f));
    f.name = name;
    f.kind = kind;
    f.u = u;
    return f;
}
static inline openwsk_tlg_field openwsk_tlg_fp(const char *name, openwsk_tlg_kind kind, const void *p, ULONG size)
{
    openwsk_tlg_field f = openwsk_tlg_f(name, kind, 0);
    f.p = p;
    f.size = size;
    return f;
}
static inline openwsk_tlg_field openwsk_tlg_fd(const char *name, double d)
{
    openwsk_tlg_field f = openwsk_tlg_f(name, OPENWSK_TLG_FLOAT, 0);
    f.d = d;
    return f;
}
static inline openwsk_tlg_field openwsk_tlg_fguid(const char *name, GUID g)
{
    openwsk_tlg_field f = openwsk_tlg_f(name, OPENWSK_TLG_GUID, 0);
    f.guid = g;
    return f;
}
static inline openwsk_tlg_field openwsk_tlg_fsigned(const char *name, LONGLONG v)
{
    return openwsk_tlg_f(name, OPENWSK_TLG_SIGNED, (ULONGLONG)v);
}

static inline openwsk_tlg_field openwsk_tlg_unicode_string(const char *name, const UNICODE_STRING *v)
{
    return openwsk_tlg_fp(name, OPENWSK_TLG_COUNTED_WSTRING, v ? v->Buffer : 0, v ? v->Length / sizeof(WCHAR) : 0);
}
static inline openwsk_tlg_field openwsk_tlg_ansi_string(const char *name, const STRING *v)
{
    return openwsk_tlg_fp(name, OPENWSK_TLG_COUNTED_STRING, v ? v->Buffer : 0, v ? v->Length : 0);
}

/* ---- providers ---- */

#define OPENWSK_TLG_GUID_INIT(l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
    {                                                                    \
        l, w1, w2, { b1, b2, b3, b4, b5, b6, b7, b8 }                    \
    }

#ifdef __cplusplus
#define OPENWSK_TLG_EXTERN extern "C"
#else
#define OPENWSK_TLG_EXTERN
#endif

#define TRACELOGGING_DECLARE_PROVIDER(hProvider) EXTERN_C TraceLoggingHProvider const hProvider
/* The provider's GUID is given in parentheses, as eleven numbers; options
 * such as TraceLoggingOptionGroup(...) are accepted and ignored. */
#define TRACELOGGING_DEFINE_PROVIDER(hProvider, providerName, providerId, ...)                          \
    static _tlgProvider_t _tlgProv_##hProvider = {"" providerName, OPENWSK_TLG_GUID_INIT providerId, 0, 0, \
                                                  0, 0, 0, 0, 0};                                     \
    OPENWSK_TLG_EXTERN TraceLoggingHProvider const hProvider = &_tlgProv_##hProvider
#define TraceLoggingOptionGroup(...)

#define TraceLoggingRegister(hProvider) openwsk_tlg_register((hProvider), 0, 0)
#define TraceLoggingRegisterEx(hProvider, pEnableCallback, pCallbackContext) \
    openwsk_tlg_register((hProvider), (pEnableCallback), (pCallbackContext))
#define TraceLoggingUnregister(hProvider) openwsk_tlg_unregister(hProvider)
#define TraceLoggingProviderEnabled(hProvider, eventLevel, eventKeyword) \
    openwsk_tlg_provider_enabled((hProvider), (UCHAR)(eventLevel), (ULONGLONG)(eventKeyword))
#define TraceLoggingProviderId(hProvider) (&(hProvider)->ProviderId)

/* ---- events ---- */

#define TraceLoggingWrite(hProvider, eventName, ...) \
    TraceLoggingWriteActivity(hProvider, eventName, 0, 0 __VA_OPT__(, ) __VA_ARGS__)
#define TraceLoggingWriteActivity(hProvider, eventName, pActivityId, pRelatedActivityId, ...)                 \
    do {                                                                                                    \
        TraceLoggingHProvider const _tlgH = (hProvider);                                                   \
        if (openwsk_tlg_provider_on(_tlgH)) {                                                              \
            const openwsk_tlg_field _tlgFields[] = {openwsk_tlg_f(0, OPENWSK_TLG_END, 0) __VA_OPT__(, )    \
                                                        __VA_ARGS__};                                      \
            openwsk_tlg_write(_tlgH, "" eventName, (pActivityId), (pRelatedActivityId), _tlgFields,        \
                              (ULONG)(sizeof(_tlgFields) / sizeof(_tlgFields[0])));                         \
        }                                                                                                   \
    } while (0)

/* A field's name: the one given, else the value expression as text. */
#define OPENWSK_TLG_FIRST(...) OPENWSK_TLG_FIRST_I(__VA_ARGS__, ~)
#define OPENWSK_TLG_FIRST_I(a, ...) a
#define OPENWSK_TLG_NAME(dflt, ...) OPENWSK_TLG_FIRST(__VA_ARGS__ __VA_OPT__(, ) dflt)

/* Event attributes. */
#define TraceLoggingLevel(eventLevel) openwsk_tlg_f(0, OPENWSK_TLG_LEVEL, (UCHAR)(eventLevel))
#define TraceLoggingKeyword(eventKeyword) openwsk_tlg_f(0, OPENWSK_TLG_KEYWORD, (ULONGLONG)(eventKeyword))
#define TraceLoggingOpcode(eventOpcode) openwsk_tlg_f(0, OPENWSK_TLG_OPCODE, (UCHAR)(eventOpcode))
#define TraceLoggingChannel(eventChannel) openwsk_tlg_f(0, OPENWSK_TLG_CHANNEL, (UCHAR)(eventChannel))
#define TraceLoggingEventTag(eventTag) openwsk_tlg_f(0, OPENWSK_TLG_EVENTTAG, (ULONG)(eventTag))
#define TraceLoggingDescription(description) openwsk_tlg_fp(0, OPENWSK_TLG_DESCRIPTION, "" description, 0)
#define TraceLoggingCustomAttribute(name, value) openwsk_tlg_fp(0, OPENWSK_TLG_DESCRIPTION, "", 0)

/* Integers. */
#define OPENWSK_TLG_SINT(T, value, dflt, ...) \
    openwsk_tlg_fsigned(OPENWSK_TLG_NAME(dflt, __VA_ARGS__), (LONGLONG)(T)(value))
#define OPENWSK_TLG_UINT(K, T, value, dflt, ...) \
    openwsk_tlg_f(OPENWSK_TLG_NAME(dflt, __VA_ARGS__), K, (ULONGLONG)(T)(value))
#define TraceLoggingInt8(value, ...) OPENWSK_TLG_SINT(INT8, value, #value, __VA_ARGS__)
#define TraceLoggingInt16(value, ...) OPENWSK_TLG_SINT(INT16, value, #value, __VA_ARGS__)
#define TraceLoggingInt32(value, ...) OPENWSK_TLG_SINT(INT32, value, #value, __VA_ARGS__)
#define TraceLoggingInt64(value, ...) OPENWSK_TLG_SINT(INT64, value, #value, __VA_ARGS__)
#define TraceLoggingLong(value, ...) OPENWSK_TLG_SINT(LONG, value, #value, __VA_ARGS__)
#define TraceLoggingIntPtr(value, ...) OPENWSK_TLG_SINT(INT_PTR, value, #value, __VA_ARGS__)
#define TraceLoggingUInt8(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, UINT8, value, #value, __VA_ARGS__)
#define TraceLoggingUInt16(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, UINT16, value, #value, __VA_ARGS__)
#define TraceLoggingUInt32(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, UINT32, value, #value, __VA_ARGS__)
#define TraceLoggingUInt64(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, UINT64, value, #value, __VA_ARGS__)
#define TraceLoggingULong(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingUIntPtr(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, UINT_PTR, value, #value, __VA_ARGS__)
#define TraceLoggingHexInt8(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT8, value, #value, __VA_ARGS__)
#define TraceLoggingHexUInt8(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT8, value, #value, __VA_ARGS__)
#define TraceLoggingHexInt16(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT16, value, #value, __VA_ARGS__)
#define TraceLoggingHexUInt16(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT16, value, #value, __VA_ARGS__)
#define TraceLoggingHexInt32(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT32, value, #value, __VA_ARGS__)
#define TraceLoggingHexUInt32(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT32, value, #value, __VA_ARGS__)
#define TraceLoggingHexInt64(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT64, value, #value, __VA_ARGS__)
#define TraceLoggingHexUInt64(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT64, value, #value, __VA_ARGS__)
#define TraceLoggingHexLong(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingHexULong(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingHexIntPtr(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT_PTR, value, #value, __VA_ARGS__)
#define TraceLoggingHexUIntPtr(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_HEX, UINT_PTR, value, #value, __VA_ARGS__)
#define TraceLoggingPointer(value, ...) \
    OPENWSK_TLG_UINT(OPENWSK_TLG_POINTER, ULONG_PTR, (const void *)(value), #value, __VA_ARGS__)
#define TraceLoggingCodePointer(value, ...) \
    OPENWSK_TLG_UINT(OPENWSK_TLG_POINTER, ULONG_PTR, (const void *)(value), #value, __VA_ARGS__)
#define TraceLoggingBool(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_BOOL, ULONGLONG, (value) != 0, #value, __VA_ARGS__)
#define TraceLoggingBoolean(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_BOOL, ULONGLONG, (value) != 0, #value, __VA_ARGS__)
#define TraceLoggingChar(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_CHAR, UCHAR, value, #value, __VA_ARGS__)
#define TraceLoggingWChar(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_CHAR, USHORT, value, #value, __VA_ARGS__)
#define TraceLoggingNTStatus(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_STATUS, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingHResult(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_STATUS, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingWinError(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingPid(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingTid(value, ...) OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, ULONG, value, #value, __VA_ARGS__)
#define TraceLoggingFloat32(value, ...) openwsk_tlg_fd(OPENWSK_TLG_NAME(#value, __VA_ARGS__), (double)(float)(value))
#define TraceLoggingFloat64(value, ...) openwsk_tlg_fd(OPENWSK_TLG_NAME(#value, __VA_ARGS__), (double)(value))
#define TraceLoggingFileTime(value, ...) \
    OPENWSK_TLG_UINT(OPENWSK_TLG_UNSIGNED, ULONGLONG, (value).QuadPart, #value, __VA_ARGS__)

/* Strings, GUIDs, binary. */
#define TraceLoggingString(pszValue, ...) \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pszValue, __VA_ARGS__), OPENWSK_TLG_STRING, (const char *)(pszValue), 0)
#define TraceLoggingUtf8String(pszValue, ...) \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pszValue, __VA_ARGS__), OPENWSK_TLG_STRING, (const char *)(pszValue), 0)
#define TraceLoggingWideString(pszValue, ...) \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pszValue, __VA_ARGS__), OPENWSK_TLG_WSTRING, (const WCHAR *)(pszValue), 0)
#define TraceLoggingCountedString(pchValue, cchValue, ...)                                               \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pchValue, __VA_ARGS__), OPENWSK_TLG_COUNTED_STRING, (const char *)(pchValue), \
                   (ULONG)(cchValue))
#define TraceLoggingCountedWideString(pchValue, cchValue, ...)                                   \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pchValue, __VA_ARGS__), OPENWSK_TLG_COUNTED_WSTRING,        \
                   (const WCHAR *)(pchValue), (ULONG)(cchValue))
#define TraceLoggingUnicodeString(pValue, ...) \
    openwsk_tlg_unicode_string(OPENWSK_TLG_NAME(#pValue, __VA_ARGS__), (pValue))
#define TraceLoggingAnsiString(pValue, ...) \
    openwsk_tlg_ansi_string(OPENWSK_TLG_NAME(#pValue, __VA_ARGS__), (pValue))
#define TraceLoggingGuid(value, ...) openwsk_tlg_fguid(OPENWSK_TLG_NAME(#value, __VA_ARGS__), (value))
#define TraceLoggingBinary(pValue, cbValue, ...) \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pValue, __VA_ARGS__), OPENWSK_TLG_BINARY, (const void *)(pValue), (ULONG)(cbValue))
#define TraceLoggingSocketAddress(pValue, cbValue, ...)                                                    \
    openwsk_tlg_fp(OPENWSK_TLG_NAME(#pValue, __VA_ARGS__), OPENWSK_TLG_BINARY, (const void *)(pValue), (ULONG)(cbValue))
/* The next fieldCount fields are the struct's members. */
#define TraceLoggingStruct(fieldCount, name, ...) openwsk_tlg_fp("" name, OPENWSK_TLG_STRUCT, 0, (ULONG)(fieldCount))

/* TraceLoggingValue: the field type follows the value's type. */
#ifdef __cplusplus
EXTERN_C_END
#define OPENWSK_TLG_VALUE(T, expr) \
    static inline openwsk_tlg_field openwsk_tlg_value(const char *n, T v) { return expr; }
OPENWSK_TLG_VALUE(bool, openwsk_tlg_f(n, OPENWSK_TLG_BOOL, v))
OPENWSK_TLG_VALUE(char, openwsk_tlg_f(n, OPENWSK_TLG_CHAR, (UCHAR)v))
OPENWSK_TLG_VALUE(signed char, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned char, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(short, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned short, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(int, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned int, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(long, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned long, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(long long, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned long long, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(float, openwsk_tlg_fd(n, v))
OPENWSK_TLG_VALUE(double, openwsk_tlg_fd(n, v))
OPENWSK_TLG_VALUE(const char *, openwsk_tlg_fp(n, OPENWSK_TLG_STRING, v, 0))
OPENWSK_TLG_VALUE(const wchar_t *, openwsk_tlg_fp(n, OPENWSK_TLG_WSTRING, v, 0))
OPENWSK_TLG_VALUE(const GUID &, openwsk_tlg_fguid(n, v))
OPENWSK_TLG_VALUE(const void *, openwsk_tlg_f(n, OPENWSK_TLG_POINTER, (ULONG_PTR)v))
#undef OPENWSK_TLG_VALUE
EXTERN_C_START
#define TraceLoggingValue(value, ...) openwsk_tlg_value(OPENWSK_TLG_NAME(#value, __VA_ARGS__), (value))
#else
#define OPENWSK_TLG_VALUE(suffix, T, expr) \
    static inline openwsk_tlg_field openwsk_tlg_v_##suffix(const char *n, T v) { return expr; }
OPENWSK_TLG_VALUE(bool, _Bool, openwsk_tlg_f(n, OPENWSK_TLG_BOOL, v))
OPENWSK_TLG_VALUE(char, char, openwsk_tlg_f(n, OPENWSK_TLG_CHAR, (UCHAR)v))
OPENWSK_TLG_VALUE(signed, long long, openwsk_tlg_fsigned(n, v))
OPENWSK_TLG_VALUE(unsigned, unsigned long long, openwsk_tlg_f(n, OPENWSK_TLG_UNSIGNED, v))
OPENWSK_TLG_VALUE(double, double, openwsk_tlg_fd(n, v))
OPENWSK_TLG_VALUE(string, const char *, openwsk_tlg_fp(n, OPENWSK_TLG_STRING, v, 0))
OPENWSK_TLG_VALUE(wstring, const WCHAR *, openwsk_tlg_fp(n, OPENWSK_TLG_WSTRING, v, 0))
OPENWSK_TLG_VALUE(guid, GUID, openwsk_tlg_fguid(n, v))
OPENWSK_TLG_VALUE(pointer, const void *, openwsk_tlg_f(n, OPENWSK_TLG_POINTER, (ULONG_PTR)v))
#undef OPENWSK_TLG_VALUE
#define TraceLoggingValue(value, ...)                                                                   \
    _Generic((value),                                                                                   \
        _Bool: openwsk_tlg_v_bool,                                                                      \
        char: openwsk_tlg_v_char,                                                                       \
        signed char: openwsk_tlg_v_signed,                                                              \
        unsigned char: openwsk_tlg_v_unsigned,                                                          \
        short: openwsk_tlg_v_signed,                                                                    \
        unsigned short: openwsk_tlg_v_unsigned,                                                         \
        int: openwsk_tlg_v_signed,                                                                      \
        unsigned int: openwsk_tlg_v_unsigned,                                                           \
        long: openwsk_tlg_v_signed,                                                                     \
        unsigned long: openwsk_tlg_v_unsigned,                                                          \
        long long: openwsk_tlg_v_signed,                                                                \
        unsigned long long: openwsk_tlg_v_unsigned,                                                     \
        float: openwsk_tlg_v_double,                                                                    \
        double: openwsk_tlg_v_double,                                                                   \
        char *: openwsk_tlg_v_string,                                                                   \
        const char *: openwsk_tlg_v_string,                                                             \
        WCHAR *: openwsk_tlg_v_wstring,                                                                 \
        const WCHAR *: openwsk_tlg_v_wstring,                                                           \
        GUID: openwsk_tlg_v_guid,                                                                       \
        default: openwsk_tlg_v_pointer)(OPENWSK_TLG_NAME(#value, __VA_ARGS__), (value))
#endif

EXTERN_C_END

#endif /* OPENWSK_TRACELOGGINGPROVIDER_H */
