/*
 * test_registry.c - the emulated registry a driver reads its parameters
 * from: ZwOpenKey / ZwCreateKey / ZwQueryValueKey / ZwSetValueKey with
 * Windows' statuses and buffer rules, and RtlQueryRegistryValues (direct
 * DWORD and string values, defaults, REQUIRED, TYPECHECK, query routines,
 * subkeys, RTL_REGISTRY_SERVICES / _HANDLE / _OPTIONAL).
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <string.h>

#include "wt.h"

#define SERVICE "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\regtest"
#define PARAMS SERVICE "\\Parameters"
#define PARAMS_W L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\regtest\\Parameters"

static NTSTATUS open_path(PCWSTR path, PHANDLE h)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&name, path);
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwOpenKey(h, KEY_READ, &oa);
}

static void fill(void)
{
    CHECK_EQ(openwsk_registry_set_dword(PARAMS, "Port", 7007), STATUS_SUCCESS);
    CHECK_EQ(openwsk_registry_set_string(PARAMS, "Greeting", "hello"), STATUS_SUCCESS);
    ULONGLONG big = 0x1122334455667788ULL;
    CHECK_EQ(openwsk_registry_set(PARAMS, "Big", REG_QWORD, &big, sizeof(big)), STATUS_SUCCESS);
    CHECK_EQ(openwsk_registry_set_dword(PARAMS "\\Limits", "Connections", 64), STATUS_SUCCESS);
}

static void open_and_query_value(void)
{
    fill();
    HANDLE h;
    /* Names are case-insensitive, as on Windows. */
    CHECK_EQ(open_path(L"\\REGISTRY\\Machine\\System\\CurrentControlSet\\Services\\regtest\\parameters", &h),
             STATUS_SUCCESS);
    UNICODE_STRING port;
    RtlInitUnicodeString(&port, L"Port");
    UCHAR buf[64];
    ULONG got = 0;
    PKEY_VALUE_PARTIAL_INFORMATION p = (PKEY_VALUE_PARTIAL_INFORMATION)buf;
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValuePartialInformation, buf, sizeof(buf), &got), STATUS_SUCCESS);
    CHECK_EQ(got, FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof(ULONG));
    CHECK_EQ(p->Type, REG_DWORD);
    CHECK_EQ(p->DataLength, sizeof(ULONG));
    CHECK_EQ(*(ULONG *)p->Data, 7007);
    /* Too small for the fixed part, then for the data. */
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValuePartialInformation, buf, 8, &got), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(got, 16);
    memset(buf, 0xEE, sizeof(buf));
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValuePartialInformation, buf, 14, &got), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(got, 16);
    CHECK_EQ(p->Type, REG_DWORD);
    CHECK_EQ(p->DataLength, 4);
    /* Basic and full forms name the value. */
    PKEY_VALUE_BASIC_INFORMATION b = (PKEY_VALUE_BASIC_INFORMATION)buf;
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValueBasicInformation, buf, sizeof(buf), &got), STATUS_SUCCESS);
    CHECK_EQ(b->NameLength, 8);
    CHECK_MEM(b->Name, L"Port", 8);
    PKEY_VALUE_FULL_INFORMATION f = (PKEY_VALUE_FULL_INFORMATION)buf;
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValueFullInformation, buf, sizeof(buf), &got), STATUS_SUCCESS);
    CHECK_EQ(f->DataLength, 4);
    CHECK_EQ(*(ULONG *)(buf + f->DataOffset), 7007);
    /* Strings are UTF-16 with their terminator. */
    UNICODE_STRING greeting;
    RtlInitUnicodeString(&greeting, L"Greeting");
    CHECK_EQ(ZwQueryValueKey(h, &greeting, KeyValuePartialInformation, buf, sizeof(buf), &got), STATUS_SUCCESS);
    CHECK_EQ(p->Type, REG_SZ);
    CHECK_EQ(p->DataLength, 12);
    CHECK_MEM(p->Data, L"hello", 12);
    UNICODE_STRING missing;
    RtlInitUnicodeString(&missing, L"Nope");
    CHECK_EQ(ZwQueryValueKey(h, &missing, KeyValuePartialInformation, buf, sizeof(buf), &got),
             STATUS_OBJECT_NAME_NOT_FOUND);
    /* A key opened relative to another. */
    UNICODE_STRING rel;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&rel, L"Limits");
    InitializeObjectAttributes(&oa, &rel, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, h, NULL);
    HANDLE sub;
    CHECK_EQ(ZwOpenKey(&sub, KEY_READ, &oa), STATUS_SUCCESS);
    CHECK_EQ(ZwClose(sub), STATUS_SUCCESS);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    CHECK_EQ(ZwQueryValueKey(h, &port, KeyValuePartialInformation, buf, sizeof(buf), &got), STATUS_INVALID_HANDLE);
    /* Missing keys and relative names without a root. */
    CHECK_EQ(open_path(L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\nobody", &h),
             STATUS_OBJECT_NAME_NOT_FOUND);
    CHECK_EQ(open_path(L"Registry\\Machine", &h), STATUS_OBJECT_PATH_SYNTAX_BAD);
    openwsk_registry_reset();
}

static void create_and_set(void)
{
    UNICODE_STRING name, parent_name;
    OBJECT_ATTRIBUTES oa, parent_oa;
    RtlInitUnicodeString(&name, L"\\Registry\\Machine\\Software\\openwsk\\state");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    HANDLE h, parent;
    ULONG disposition = 0;
    /* Only the last component is created: the parent must exist. */
    CHECK_EQ(ZwCreateKey(&h, KEY_ALL_ACCESS, &oa, 0, NULL, REG_OPTION_VOLATILE, &disposition),
             STATUS_OBJECT_NAME_NOT_FOUND);
    RtlInitUnicodeString(&parent_name, L"\\Registry\\Machine\\Software\\openwsk");
    InitializeObjectAttributes(&parent_oa, &parent_name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    CHECK_EQ(ZwCreateKey(&parent, KEY_ALL_ACCESS, &parent_oa, 0, NULL, REG_OPTION_VOLATILE, &disposition),
             STATUS_SUCCESS);
    CHECK_EQ(disposition, REG_CREATED_NEW_KEY);
    CHECK_EQ(ZwClose(parent), STATUS_SUCCESS);
    CHECK_EQ(ZwCreateKey(&h, KEY_ALL_ACCESS, &oa, 0, NULL, REG_OPTION_VOLATILE, &disposition), STATUS_SUCCESS);
    CHECK_EQ(disposition, REG_CREATED_NEW_KEY);
    UNICODE_STRING v;
    RtlInitUnicodeString(&v, L"Count");
    ULONG n = 3;
    CHECK_EQ(ZwSetValueKey(h, &v, 0, REG_DWORD, &n, sizeof(n)), STATUS_SUCCESS);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    CHECK_EQ(ZwCreateKey(&h, KEY_ALL_ACCESS, &oa, 0, NULL, 0, &disposition), STATUS_SUCCESS);
    CHECK_EQ(disposition, REG_OPENED_EXISTING_KEY);
    UCHAR buf[32];
    ULONG got;
    CHECK_EQ(ZwQueryValueKey(h, &v, KeyValuePartialInformation, buf, sizeof(buf), &got), STATUS_SUCCESS);
    CHECK_EQ(*(ULONG *)((PKEY_VALUE_PARTIAL_INFORMATION)buf)->Data, 3);
    /* The Align64 form has no TitleIndex, and wants an 8-byte aligned buffer. */
    _Alignas(8) UCHAR aligned[32];
    PKEY_VALUE_PARTIAL_INFORMATION_ALIGN64 a64 = (PKEY_VALUE_PARTIAL_INFORMATION_ALIGN64)aligned;
    CHECK_EQ(ZwQueryValueKey(h, &v, KeyValuePartialInformationAlign64, aligned, sizeof(aligned), &got),
             STATUS_SUCCESS);
    CHECK_EQ(got, FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION_ALIGN64, Data) + sizeof(ULONG));
    CHECK_EQ(a64->Type, REG_DWORD);
    CHECK_EQ(*(ULONG *)a64->Data, 3);
    CHECK_EQ(ZwQueryValueKey(h, &v, KeyValuePartialInformationAlign64, aligned + 4, sizeof(aligned) - 4, &got),
             STATUS_DATATYPE_MISALIGNMENT);
    CHECK_EQ(ZwDeleteValueKey(h, &v), STATUS_SUCCESS);
    CHECK_EQ(ZwDeleteValueKey(h, &v), STATUS_OBJECT_NAME_NOT_FOUND);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    openwsk_registry_reset();
}

typedef struct seen {
    int calls;
    ULONG sum;
} seen;

static NTSTATUS NTAPI count_values(PWSTR ValueName, ULONG ValueType, PVOID ValueData, ULONG ValueLength,
                                   PVOID Context, PVOID EntryContext)
{
    seen *s = Context;
    CHECK(ValueName != NULL);
    CHECK(EntryContext == (PVOID)0x1234);
    s->calls++;
    if (ValueType == REG_DWORD && ValueLength == 4)
        s->sum += *(ULONG *)ValueData;
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI count_strings(PWSTR ValueName, ULONG ValueType, PVOID ValueData, ULONG ValueLength,
                                    PVOID Context, PVOID EntryContext)
{
    seen *s = Context;
    (void)ValueName;
    (void)EntryContext;
    s->calls++;
    if (ValueType == REG_SZ) {
        const WCHAR *w = ValueData;
        ULONG n = 0;
        while (n < ValueLength / sizeof(WCHAR) && w[n] != 0)
            n++;
        s->sum += n;
    }
    return STATUS_SUCCESS;
}

static void query_registry_values(void)
{
    fill();
    ULONG port = 0, missing = 99, fallback = 5, connections = 0;
    UNICODE_STRING greeting = {0, 0, NULL};
    LONG big[1 + 2] = {-(LONG)sizeof(ULONGLONG), 0, 0}; /* negative size: data only */
    RTL_QUERY_REGISTRY_TABLE t[8];
    memset(t, 0, sizeof(t));
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
    t[0].Name = L"Port";
    t[0].EntryContext = &port;
    t[1].Flags = RTL_QUERY_REGISTRY_DIRECT;
    t[1].Name = L"Greeting";
    t[1].EntryContext = &greeting;
    t[2].Flags = RTL_QUERY_REGISTRY_DIRECT;
    t[2].Name = L"Missing";
    t[2].EntryContext = &missing;
    t[2].DefaultType = REG_DWORD;
    t[2].DefaultData = &fallback;
    t[2].DefaultLength = sizeof(fallback);
    t[3].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    t[3].Name = L"Big";
    t[3].EntryContext = big;
    t[3].DefaultType = (REG_QWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    t[4].Flags = RTL_QUERY_REGISTRY_SUBKEY;
    t[4].Name = L"Limits";
    t[5].Flags = RTL_QUERY_REGISTRY_DIRECT;
    t[5].Name = L"Connections";
    t[5].EntryContext = &connections;
    /* Relative to the Services key, the way drivers read RegistryPath. */
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", t, NULL, NULL), STATUS_SUCCESS);
    CHECK_EQ(port, 7007);
    CHECK_EQ(greeting.Length, 10);
    CHECK_EQ(greeting.MaximumLength, 12);
    CHECK_MEM(greeting.Buffer, L"hello", 12);
    RtlFreeUnicodeString(&greeting);
    CHECK_EQ(missing, 5);
    ULONGLONG b;
    memcpy(&b, big, sizeof(b));
    CHECK_EQ(b, 0x1122334455667788ULL);
    CHECK_EQ(connections, 64);

    /* A caller's string buffer that is too small. */
    WCHAR small[3];
    UNICODE_STRING into = {0, sizeof(small), small};
    memset(t, 0, sizeof(t));
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    t[0].Name = L"Greeting";
    t[0].EntryContext = &into;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, L"" PARAMS_W, t, NULL, NULL), STATUS_BUFFER_TOO_SMALL);
    /* REQUIRED and missing; TYPECHECK and the wrong type. */
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
    t[0].Name = L"Absent";
    t[0].EntryContext = &port;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, L"" PARAMS_W, t, NULL, NULL),
             STATUS_OBJECT_NAME_NOT_FOUND);
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    t[0].Name = L"Greeting";
    t[0].DefaultType = REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, L"" PARAMS_W, t, NULL, NULL),
             STATUS_OBJECT_TYPE_MISMATCH);
    /* A query routine with no name sees every value of the key. */
    seen s = {0, 0};
    memset(t, 0, sizeof(t));
    t[0].QueryRoutine = count_values;
    t[0].EntryContext = (PVOID)0x1234;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, L"" PARAMS_W, t, &s, NULL), STATUS_SUCCESS);
    CHECK_EQ(s.calls, 3);
    CHECK_EQ(s.sum, 7007);
    /* Through a handle; a missing key, optional or not. */
    HANDLE h;
    CHECK_EQ(open_path(L"" PARAMS_W, &h), STATUS_SUCCESS);
    s.calls = 0;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)h, t, &s, NULL), STATUS_SUCCESS);
    CHECK_EQ(s.calls, 3);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"nobody", t, &s, NULL), STATUS_OBJECT_NAME_NOT_FOUND);
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES | RTL_REGISTRY_OPTIONAL, L"nobody", t, &s, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, L"regtest"), STATUS_SUCCESS);
    CHECK_EQ(RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", L"Port", REG_DWORD, &fallback,
                                   sizeof(fallback)),
             STATUS_SUCCESS);
    memset(t, 0, sizeof(t));
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    t[0].Name = L"Port";
    t[0].EntryContext = &port;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", t, NULL, NULL), STATUS_SUCCESS);
    CHECK_EQ(port, 5);

    /* A REG_MULTI_SZ reaches a query routine one string at a time, as REG_SZ
     * (unless NOEXPAND). */
    static const WCHAR names[] = L"alpha\0beta\0gamma\0";
    CHECK_EQ(openwsk_registry_set(PARAMS, "Names", REG_MULTI_SZ, names, sizeof(names)), STATUS_SUCCESS);
    seen strings = {0, 0};
    memset(t, 0, sizeof(t));
    t[0].QueryRoutine = count_strings;
    t[0].Name = L"Names";
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", t, &strings, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(strings.calls, 3);
    CHECK_EQ(strings.sum, 5 + 4 + 5); /* the characters of each */
    t[0].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
    strings.calls = 0;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", t, &strings, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(strings.calls, 1);
    /* NOSTRING: a string goes into a plain buffer with a size header. */
    LONG raw[8];
    memset(raw, 0, sizeof(raw));
    raw[0] = -(LONG)sizeof(raw);
    memset(t, 0, sizeof(t));
    t[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_NOSTRING;
    t[0].Name = L"Greeting";
    t[0].EntryContext = raw;
    CHECK_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"regtest\\Parameters", t, NULL, NULL), STATUS_SUCCESS);
    CHECK_MEM(raw, L"hello", 12);
    openwsk_registry_reset();
}

/* A key handle is a runtime object: one the driver forgets to close is in
 * the leak report, closing it clears it. */
static void forgotten_handle_is_a_leak(void)
{
    fill();
    SIZE_T before = openwsk_pool_outstanding_count(0);
    HANDLE h;
    CHECK_EQ(open_path(L"" PARAMS_W, &h), STATUS_SUCCESS);
    CHECK(openwsk_pool_outstanding_count(0) > before);
    CHECK_EQ(ZwClose(h), STATUS_SUCCESS);
    CHECK_EQ(openwsk_pool_outstanding_count(0), before);
    openwsk_registry_reset();
}

int main(void)
{
    WT_RUN(open_and_query_value);
    WT_RUN(create_and_set);
    WT_RUN(query_registry_values);
    WT_RUN(forgotten_handle_is_a_leak);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
