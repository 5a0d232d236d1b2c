/*
 * rtl_string.c - the counted-string run-time library (UNICODE_STRING,
 * ANSI_STRING, UTF8_STRING), integer conversions, RtlCompareMemory and the
 * version queries.
 *
 * WCHAR is 16-bit UTF-16 here and glibc's wchar_t is 32-bit, so nothing in
 * this file calls a wcs* function (hazard H4).
 *
 * The "ANSI code page" is ISO-8859-1: byte b is code unit b, and a code
 * unit above 0xFF becomes '?' (each half of a surrogate pair too), which is
 * what Windows does with the default character of a single-byte code page.
 * Latin-1 rather than Windows-1252 keeps the mapping reversible for every
 * byte, which matters more to a driver than the glyphs of 0x80..0x9F.
 *
 * Strings allocated for the caller (AllocateDestinationString TRUE) come
 * from the pool with tag 'Strg' and are released by RtlFree*String, so the
 * leak report shows strings a driver forgot to free.
 *
 * Windows dereferences NULL arguments; here a NULL argument is
 * STATUS_INVALID_PARAMETER (or a no-op for the functions returning void).
 */
#include "ke_internal.h"
#include "dbgprint_internal.h"

#include <string.h>

#define RTL_ANSI_DEFAULT_CHAR '?'
#define VER_SUITE_SINGLEUSERTS 0x00000100

static size_t rtl_wcslen(PCWSTR s)
{
    size_t n = 0;
    while (s[n] != 0)
        n++;
    return n;
}

static void *rtl_string_alloc(SIZE_T bytes)
{
    return ExAllocatePoolWithTag(NonPagedPoolNx, bytes, OPENWSK_TAG_STRING);
}

/* Writes a 2-byte terminator at any byte offset (Length may be odd). */
static void rtl_put_unicode_null(PWSTR buffer, SIZE_T byte_offset)
{
    memset((char *)buffer + byte_offset, 0, sizeof(WCHAR));
}

/* ===================================================================== */
/* Initialisation                                                         */
/* ===================================================================== */

/* Length and MaximumLength are the USHORT truncations of the byte counts,
 * as on Windows (a 1,000,000-character string gives Length 33920). */
void RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    if (DestinationString == NULL)
        return;
    if (SourceString != NULL) {
        SIZE_T bytes = rtl_wcslen(SourceString) * sizeof(WCHAR);
        DestinationString->Length = (USHORT)bytes;
        DestinationString->MaximumLength = (USHORT)(bytes + sizeof(WCHAR));
    } else {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
    }
    DestinationString->Buffer = (PWSTR)SourceString;
}

/* Longest string whose terminator still fits: 32766 characters. */
NTSTATUS RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    if (DestinationString == NULL)
        return STATUS_INVALID_PARAMETER;
    if (SourceString != NULL) {
        SIZE_T bytes = rtl_wcslen(SourceString) * sizeof(WCHAR);
        if (bytes > UNICODE_STRING_MAX_BYTES - sizeof(WCHAR))
            return STATUS_NAME_TOO_LONG;
        DestinationString->Length = (USHORT)bytes;
        DestinationString->MaximumLength = (USHORT)(bytes + sizeof(WCHAR));
    } else {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
    }
    DestinationString->Buffer = (PWSTR)SourceString;
    return STATUS_SUCCESS;
}

void RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString)
{
    if (DestinationString == NULL)
        return;
    if (SourceString != NULL) {
        SIZE_T bytes = strlen(SourceString);
        DestinationString->Length = (USHORT)bytes;
        DestinationString->MaximumLength = (USHORT)(bytes + 1);
    } else {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
    }
    DestinationString->Buffer = (PCHAR)SourceString;
}

NTSTATUS RtlInitAnsiStringEx(PANSI_STRING DestinationString, PCSZ SourceString)
{
    if (DestinationString == NULL)
        return STATUS_INVALID_PARAMETER;
    if (SourceString != NULL) {
        SIZE_T bytes = strlen(SourceString);
        if (bytes > MAXUSHORT - 1)
            return STATUS_NAME_TOO_LONG;
        DestinationString->Length = (USHORT)bytes;
        DestinationString->MaximumLength = (USHORT)(bytes + 1);
    } else {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
    }
    DestinationString->Buffer = (PCHAR)SourceString;
    return STATUS_SUCCESS;
}

void RtlInitString(PSTRING DestinationString, PCSZ SourceString)
{
    RtlInitAnsiString(DestinationString, SourceString);
}

void RtlInitUTF8String(PUTF8_STRING DestinationString, PCSZ SourceString)
{
    RtlInitAnsiString(DestinationString, SourceString);
}

/* ===================================================================== */
/* ANSI <-> Unicode                                                       */
/* ===================================================================== */

ULONG RtlxAnsiStringToUnicodeSize(PCANSI_STRING AnsiString)
{
    if (AnsiString == NULL)
        return sizeof(WCHAR);
    return ((ULONG)AnsiString->Length + 1) * sizeof(WCHAR);
}

ULONG RtlxUnicodeStringToAnsiSize(PCUNICODE_STRING UnicodeString)
{
    if (UnicodeString == NULL)
        return 1;
    return (ULONG)UnicodeString->Length / sizeof(WCHAR) + 1;
}

/* Windows sets Length to the converted size before it checks the
 * destination, so after STATUS_BUFFER_OVERFLOW Length tells the size
 * needed; nothing is copied then. */
NTSTATUS RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString, PCANSI_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    if (DestinationString == NULL || SourceString == NULL)
        return STATUS_INVALID_PARAMETER;
    ULONG total = RtlxAnsiStringToUnicodeSize(SourceString);
    if (total > MAXUSHORT)
        return STATUS_INVALID_PARAMETER_2;
    if (SourceString->Buffer == NULL && SourceString->Length != 0)
        return STATUS_INVALID_PARAMETER;

    DestinationString->Length = (USHORT)(total - sizeof(WCHAR));
    if (AllocateDestinationString) {
        DestinationString->MaximumLength = (USHORT)total;
        DestinationString->Buffer = rtl_string_alloc(total);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
    } else {
        if (total > DestinationString->MaximumLength)
            return STATUS_BUFFER_OVERFLOW;
        if (DestinationString->Buffer == NULL)
            return STATUS_INVALID_PARAMETER;
    }
    for (USHORT i = 0; i < SourceString->Length; i++)
        DestinationString->Buffer[i] = (unsigned char)SourceString->Buffer[i];
    DestinationString->Buffer[SourceString->Length] = 0;
    return STATUS_SUCCESS;
}

/* Unlike the other direction Windows converts what fits: Length becomes
 * MaximumLength - 1, the text is terminated, STATUS_BUFFER_OVERFLOW. */
NTSTATUS RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString, PCUNICODE_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    if (DestinationString == NULL || SourceString == NULL)
        return STATUS_INVALID_PARAMETER;
    ULONG total = RtlxUnicodeStringToAnsiSize(SourceString);
    if (total > MAXUSHORT)
        return STATUS_INVALID_PARAMETER_2;

    NTSTATUS status = STATUS_SUCCESS;
    DestinationString->Length = (USHORT)(total - 1);
    if (AllocateDestinationString) {
        if (SourceString->Buffer == NULL && SourceString->Length >= sizeof(WCHAR))
            return STATUS_INVALID_PARAMETER;
        DestinationString->MaximumLength = (USHORT)total;
        DestinationString->Buffer = rtl_string_alloc(total);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
    } else if (DestinationString->Length >= DestinationString->MaximumLength) {
        if (DestinationString->MaximumLength == 0)
            return STATUS_BUFFER_OVERFLOW;
        status = STATUS_BUFFER_OVERFLOW;
        DestinationString->Length = (USHORT)(DestinationString->MaximumLength - 1);
    }
    if (DestinationString->Buffer == NULL ||
        (SourceString->Buffer == NULL && DestinationString->Length != 0))
        return STATUS_INVALID_PARAMETER;
    for (USHORT i = 0; i < DestinationString->Length; i++) {
        WCHAR c = SourceString->Buffer[i];
        DestinationString->Buffer[i] = c <= 0xFF ? (CHAR)c : RTL_ANSI_DEFAULT_CHAR;
    }
    DestinationString->Buffer[DestinationString->Length] = '\0';
    return status;
}

/* ===================================================================== */
/* UTF-8 <-> Unicode                                                      */
/* ===================================================================== */

NTSTATUS RtlUTF8ToUnicodeN(PWSTR UnicodeStringDestination, ULONG UnicodeStringMaxByteCount,
                           PULONG UnicodeStringActualByteCount, PCCH UTF8StringSource, ULONG UTF8StringByteCount)
{
    if (UTF8StringSource == NULL)
        return STATUS_INVALID_PARAMETER_4;
    if (UnicodeStringDestination == NULL && UnicodeStringActualByteCount == NULL)
        return STATUS_INVALID_PARAMETER;

    const unsigned char *src = (const unsigned char *)UTF8StringSource;
    size_t cap = UnicodeStringMaxByteCount / sizeof(WCHAR);
    size_t units = 0;
    BOOLEAN bad = FALSE, truncated = FALSE;
    for (size_t i = 0; i < UTF8StringByteCount;) {
        ULONG cp = openwsk_utf8_decode(src, UTF8StringByteCount, &i, &bad);
        size_t need = cp >= 0x10000 ? 2 : 1;
        if (UnicodeStringDestination != NULL) {
            if (units + need > cap) {
                truncated = TRUE;
                break;
            }
            if (need == 2) {
                UnicodeStringDestination[units] = (WCHAR)(0xD800 + ((cp - 0x10000) >> 10));
                UnicodeStringDestination[units + 1] = (WCHAR)(0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                UnicodeStringDestination[units] = (WCHAR)cp;
            }
        }
        units += need;
    }
    if (UnicodeStringActualByteCount != NULL)
        *UnicodeStringActualByteCount = (ULONG)(units * sizeof(WCHAR));
    if (truncated)
        return STATUS_BUFFER_TOO_SMALL;
    return bad ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
}

NTSTATUS RtlUnicodeToUTF8N(PCHAR UTF8StringDestination, ULONG UTF8StringMaxByteCount,
                           PULONG UTF8StringActualByteCount, PCWCH UnicodeStringSource, ULONG UnicodeStringByteCount)
{
    if (UnicodeStringSource == NULL)
        return STATUS_INVALID_PARAMETER_4;
    if (UTF8StringDestination == NULL && UTF8StringActualByteCount == NULL)
        return STATUS_INVALID_PARAMETER;

    size_t n = UnicodeStringByteCount / sizeof(WCHAR);
    size_t bytes = 0;
    BOOLEAN bad = FALSE, truncated = FALSE;
    for (size_t i = 0; i < n;) {
        ULONG cp = openwsk_utf16_decode(UnicodeStringSource, n, &i, &bad);
        size_t need = openwsk_utf8_length(cp);
        if (UTF8StringDestination != NULL) {
            if (bytes + need > UTF8StringMaxByteCount) {
                truncated = TRUE;
                break;
            }
            openwsk_utf8_encode(cp, UTF8StringDestination + bytes);
        }
        bytes += need;
    }
    if (UTF8StringActualByteCount != NULL)
        *UTF8StringActualByteCount = (ULONG)bytes;
    if (truncated)
        return STATUS_BUFFER_TOO_SMALL;
    return bad ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
}

/* Modelled on Windows' RtlUTF8StringToUnicodeString: Length is set to the
 * converted size first; a too-small destination gets STATUS_BUFFER_OVERFLOW
 * and nothing copied; replaced characters still mean STATUS_SUCCESS. */
NTSTATUS RtlUTF8StringToUnicodeString(PUNICODE_STRING DestinationString, PUTF8_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    if (DestinationString == NULL || SourceString == NULL ||
        (SourceString->Buffer == NULL && SourceString->Length != 0))
        return STATUS_INVALID_PARAMETER;
    ULONG bytes = 0;
    if (SourceString->Length != 0)
        RtlUTF8ToUnicodeN(NULL, 0, &bytes, SourceString->Buffer, SourceString->Length);
    ULONG total = bytes + sizeof(WCHAR);
    if (total > UNICODE_STRING_MAX_BYTES)
        return STATUS_INVALID_PARAMETER_2;

    DestinationString->Length = (USHORT)bytes;
    if (AllocateDestinationString) {
        DestinationString->MaximumLength = (USHORT)total;
        DestinationString->Buffer = rtl_string_alloc(total);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
    } else {
        if (total > DestinationString->MaximumLength)
            return STATUS_BUFFER_OVERFLOW;
        if (DestinationString->Buffer == NULL)
            return STATUS_INVALID_PARAMETER;
    }
    ULONG done = 0;
    if (SourceString->Length != 0)
        RtlUTF8ToUnicodeN(DestinationString->Buffer, bytes, &done, SourceString->Buffer, SourceString->Length);
    DestinationString->Buffer[done / sizeof(WCHAR)] = 0;
    return STATUS_SUCCESS;
}

NTSTATUS RtlUnicodeStringToUTF8String(PUTF8_STRING DestinationString, PCUNICODE_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    if (DestinationString == NULL || SourceString == NULL ||
        (SourceString->Buffer == NULL && SourceString->Length >= sizeof(WCHAR)))
        return STATUS_INVALID_PARAMETER;
    ULONG bytes = 0;
    if (SourceString->Length >= sizeof(WCHAR))
        RtlUnicodeToUTF8N(NULL, 0, &bytes, SourceString->Buffer, SourceString->Length);
    ULONG total = bytes + 1;
    if (total > MAXUSHORT)
        return STATUS_INVALID_PARAMETER_2;

    DestinationString->Length = (USHORT)bytes;
    if (AllocateDestinationString) {
        DestinationString->MaximumLength = (USHORT)total;
        DestinationString->Buffer = rtl_string_alloc(total);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
    } else {
        if (total > DestinationString->MaximumLength)
            return STATUS_BUFFER_OVERFLOW;
        if (DestinationString->Buffer == NULL)
            return STATUS_INVALID_PARAMETER;
    }
    ULONG done = 0;
    if (SourceString->Length >= sizeof(WCHAR))
        RtlUnicodeToUTF8N(DestinationString->Buffer, bytes, &done, SourceString->Buffer, SourceString->Length);
    DestinationString->Buffer[done] = '\0';
    return STATUS_SUCCESS;
}

/* ===================================================================== */
/* Freeing                                                                */
/* ===================================================================== */

void RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    if (UnicodeString == NULL)
        return;
    if (UnicodeString->Buffer != NULL)
        ExFreePool(UnicodeString->Buffer);
    UnicodeString->Length = 0;
    UnicodeString->MaximumLength = 0;
    UnicodeString->Buffer = NULL;
}

void RtlFreeAnsiString(PANSI_STRING AnsiString)
{
    if (AnsiString == NULL)
        return;
    if (AnsiString->Buffer != NULL)
        ExFreePool(AnsiString->Buffer);
    AnsiString->Length = 0;
    AnsiString->MaximumLength = 0;
    AnsiString->Buffer = NULL;
}

void RtlFreeUTF8String(PUTF8_STRING Utf8String)
{
    RtlFreeAnsiString(Utf8String);
}

/* ===================================================================== */
/* Copy and append                                                        */
/* ===================================================================== */

void RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    if (DestinationString == NULL)
        return;
    if (SourceString == NULL || SourceString->Buffer == NULL || DestinationString->Buffer == NULL) {
        DestinationString->Length = 0;
        return;
    }
    USHORT n = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                          : DestinationString->MaximumLength;
    n &= (USHORT)~1u;
    memmove(DestinationString->Buffer, SourceString->Buffer, n);
    DestinationString->Length = n;
    if ((ULONG)n + sizeof(WCHAR) <= DestinationString->MaximumLength)
        rtl_put_unicode_null(DestinationString->Buffer, n);
}

static NTSTATUS rtl_append_bytes(PUNICODE_STRING Destination, const void *src, ULONG bytes)
{
    if (bytes == 0)
        return STATUS_SUCCESS;
    ULONG total = (ULONG)Destination->Length + bytes;
    if (total > Destination->MaximumLength)
        return STATUS_BUFFER_TOO_SMALL;
    if (Destination->Buffer == NULL)
        return STATUS_INVALID_PARAMETER;
    memmove((char *)Destination->Buffer + Destination->Length, src, bytes);
    Destination->Length = (USHORT)total;
    if (total + sizeof(WCHAR) <= Destination->MaximumLength)
        rtl_put_unicode_null(Destination->Buffer, total);
    return STATUS_SUCCESS;
}

NTSTATUS RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source)
{
    if (Destination == NULL || Source == NULL)
        return STATUS_INVALID_PARAMETER;
    if (Source->Length != 0 && Source->Buffer == NULL)
        return STATUS_INVALID_PARAMETER;
    return rtl_append_bytes(Destination, Source->Buffer, Source->Length);
}

NTSTATUS RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source)
{
    if (Destination == NULL)
        return STATUS_INVALID_PARAMETER;
    if (Source == NULL)
        return STATUS_SUCCESS;
    SIZE_T bytes = rtl_wcslen(Source) * sizeof(WCHAR);
    if (bytes > MAXUSHORT)
        return STATUS_BUFFER_TOO_SMALL;
    return rtl_append_bytes(Destination, Source, (ULONG)bytes);
}

/* ===================================================================== */
/* Case and comparison                                                    */
/* ===================================================================== */

/* Windows' RtlUpperChar changes a..z only (bytes above 0x7F stay). */
CHAR RtlUpperChar(CHAR Character)
{
    if (Character >= 'a' && Character <= 'z')
        return (CHAR)(Character - 'a' + 'A');
    return Character;
}

/* ASCII, Latin-1 (with U+00FF -> U+0178), Latin Extended-A, basic Greek and
 * Cyrillic; Windows uses a full table, other characters stay unchanged. */
WCHAR RtlUpcaseUnicodeChar(WCHAR c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') ? (WCHAR)(c - 0x20) : c;
    if (c <= 0xFF) {
        if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
            return (WCHAR)(c - 0x20);
        return c == 0xFF ? (WCHAR)0x178 : c;
    }
    if (c <= 0x17F) {
        /* Pairs: upper case even in 0100-0137 and 014A-0177, odd in
         * 0139-0148 and 0179-017E.  0130/0131 (dotted/dotless i) stay. */
        if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return (c & 1) ? (WCHAR)(c - 1) : c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c : (WCHAR)(c - 1);
        return c;
    }
    if (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2)
        return (WCHAR)(c - 0x20);
    switch (c) {
    case 0x3AC:
        return 0x386;
    case 0x3AD:
    case 0x3AE:
    case 0x3AF:
        return (WCHAR)(c - 0x25);
    case 0x3CC:
        return 0x38C;
    case 0x3CD:
    case 0x3CE:
        return (WCHAR)(c - 0x3F);
    default:
        break;
    }
    if (c >= 0x430 && c <= 0x44F)
        return (WCHAR)(c - 0x20);
    if (c >= 0x450 && c <= 0x45F)
        return (WCHAR)(c - 0x50);
    return c;
}

/* Difference of the first differing characters, else of the lengths in
 * characters; a NULL string compares as empty. */
LONG RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    size_t n1 = (String1 != NULL && String1->Buffer != NULL) ? String1->Length / sizeof(WCHAR) : 0;
    size_t n2 = (String2 != NULL && String2->Buffer != NULL) ? String2->Length / sizeof(WCHAR) : 0;
    size_t n = n1 < n2 ? n1 : n2;
    for (size_t i = 0; i < n; i++) {
        WCHAR c1 = String1->Buffer[i], c2 = String2->Buffer[i];
        if (CaseInSensitive) {
            c1 = RtlUpcaseUnicodeChar(c1);
            c2 = RtlUpcaseUnicodeChar(c2);
        }
        if (c1 != c2)
            return (LONG)c1 - (LONG)c2;
    }
    return (LONG)n1 - (LONG)n2;
}

BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    size_t n1 = (String1 != NULL && String1->Buffer != NULL) ? String1->Length / sizeof(WCHAR) : 0;
    size_t n2 = (String2 != NULL && String2->Buffer != NULL) ? String2->Length / sizeof(WCHAR) : 0;
    if (n1 != n2)
        return FALSE;
    return RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}

/* CHAR is signed and Windows compares the CHAR values, so bytes above 0x7F
 * sort before ASCII. */
LONG RtlCompareString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive)
{
    size_t n1 = (String1 != NULL && String1->Buffer != NULL) ? String1->Length : 0;
    size_t n2 = (String2 != NULL && String2->Buffer != NULL) ? String2->Length : 0;
    size_t n = n1 < n2 ? n1 : n2;
    for (size_t i = 0; i < n; i++) {
        CHAR c1 = String1->Buffer[i], c2 = String2->Buffer[i];
        if (CaseInSensitive) {
            c1 = RtlUpperChar(c1);
            c2 = RtlUpperChar(c2);
        }
        if (c1 != c2)
            return (LONG)c1 - (LONG)c2;
    }
    return (LONG)n1 - (LONG)n2;
}

BOOLEAN RtlEqualString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive)
{
    size_t n1 = (String1 != NULL && String1->Buffer != NULL) ? String1->Length : 0;
    size_t n2 = (String2 != NULL && String2->Buffer != NULL) ? String2->Length : 0;
    if (n1 != n2)
        return FALSE;
    return RtlCompareString(String1, String2, CaseInSensitive) == 0;
}

SIZE_T RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const unsigned char *a = Source1, *b = Source2;
    SIZE_T i = 0;
    if (a == NULL || b == NULL)
        return 0;
    while (i < Length && a[i] == b[i])
        i++;
    return i;
}

/* ===================================================================== */
/* Integers                                                               */
/* ===================================================================== */

static BOOLEAN rtl_valid_base(ULONG base)
{
    return base == 0 || base == 2 || base == 8 || base == 10 || base == 16;
}

NTSTATUS RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String)
{
    if (Base == 0)
        Base = 10;
    if (!rtl_valid_base(Base) || String == NULL)
        return STATUS_INVALID_PARAMETER;
    char digits[33];
    size_t n = 0;
    do {
        ULONG d = Value % Base;
        digits[n++] = (char)(d < 10 ? '0' + d : 'A' + d - 10);
        Value /= Base;
    } while (Value != 0);

    USHORT bytes = (USHORT)(n * sizeof(WCHAR));
    if (bytes > String->MaximumLength) {
        String->Length = bytes; /* the size needed, as Windows reports it */
        return STATUS_BUFFER_OVERFLOW;
    }
    if (String->Buffer == NULL)
        return STATUS_INVALID_PARAMETER;
    for (size_t i = 0; i < n; i++)
        String->Buffer[i] = (WCHAR)digits[n - 1 - i];
    String->Length = bytes;
    if ((ULONG)bytes + sizeof(WCHAR) <= String->MaximumLength)
        String->Buffer[n] = 0;
    return STATUS_SUCCESS;
}

static int rtl_digit_value(ULONG c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'z')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'Z')
        return (int)(c - 'A' + 10);
    return 99;
}

/* Shared by RtlCharToInteger and RtlUnicodeStringToInteger: leading
 * characters up to ' ' are skipped, one sign is allowed, base 0 accepts the
 * prefixes 0x, 0o and 0b (lower case, as Windows) and is decimal otherwise;
 * parsing stops at the first non-digit and overflow wraps modulo 2^32. */
static ULONG rtl_parse_integer(const void *text, BOOLEAN wide, size_t count, ULONG base)
{
    size_t i = 0;
#define RTL_CH(k) ((k) < count ? (wide ? (ULONG)((const WCHAR *)text)[k] : (ULONG)((const unsigned char *)text)[k]) : 0u)
    while (i < count && RTL_CH(i) <= ' ' && (wide || RTL_CH(i) != 0))
        i++;
    BOOLEAN negative = FALSE;
    if (RTL_CH(i) == '+' || RTL_CH(i) == '-') {
        negative = RTL_CH(i) == '-';
        i++;
    }
    if (base == 0) {
        base = 10;
        if (RTL_CH(i) == '0') {
            ULONG p = RTL_CH(i + 1);
            if (p == 'x' || p == 'o' || p == 'b') {
                base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
                i += 2;
            }
        }
    }
    ULONG value = 0;
    for (; i < count; i++) {
        int d = rtl_digit_value(RTL_CH(i));
        if (d >= (int)base)
            break;
        value = value * base + (ULONG)d;
    }
#undef RTL_CH
    return negative ? 0u - value : value;
}

NTSTATUS RtlCharToInteger(PCSZ String, ULONG Base, PULONG Value)
{
    if (!rtl_valid_base(Base) || String == NULL)
        return STATUS_INVALID_PARAMETER;
    if (Value == NULL)
        return STATUS_ACCESS_VIOLATION; /* what Windows returns */
    *Value = rtl_parse_integer(String, FALSE, strlen(String), Base);
    return STATUS_SUCCESS;
}

NTSTATUS RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value)
{
    if (!rtl_valid_base(Base) || String == NULL || (String->Buffer == NULL && String->Length >= sizeof(WCHAR)))
        return STATUS_INVALID_PARAMETER;
    if (Value == NULL)
        return STATUS_ACCESS_VIOLATION;
    *Value = rtl_parse_integer(String->Buffer, TRUE, String->Length / sizeof(WCHAR), Base);
    return STATUS_SUCCESS;
}

/* ===================================================================== */
/* Version                                                                */
/* ===================================================================== */

#define RTL_VERSION_MAJOR 10
#define RTL_VERSION_MINOR 0
#define RTL_VERSION_BUILD 19045 /* Windows 10 22H2 */

NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW lpVersionInformation)
{
    if (lpVersionInformation == NULL)
        return STATUS_INVALID_PARAMETER;
    ULONG size = lpVersionInformation->dwOSVersionInfoSize;
    if (size != sizeof(RTL_OSVERSIONINFOW) && size != sizeof(RTL_OSVERSIONINFOEXW))
        return STATUS_INVALID_PARAMETER;
    lpVersionInformation->dwMajorVersion = RTL_VERSION_MAJOR;
    lpVersionInformation->dwMinorVersion = RTL_VERSION_MINOR;
    lpVersionInformation->dwBuildNumber = RTL_VERSION_BUILD;
    lpVersionInformation->dwPlatformId = VER_PLATFORM_WIN32_NT;
    memset(lpVersionInformation->szCSDVersion, 0, sizeof(lpVersionInformation->szCSDVersion));
    if (size == sizeof(RTL_OSVERSIONINFOEXW)) {
        PRTL_OSVERSIONINFOEXW ex = (PRTL_OSVERSIONINFOEXW)lpVersionInformation;
        ex->wServicePackMajor = 0;
        ex->wServicePackMinor = 0;
        ex->wSuiteMask = VER_SUITE_SINGLEUSERTS;
        ex->wProductType = VER_NT_WORKSTATION;
        ex->wReserved = 0;
    }
    return STATUS_SUCCESS;
}

/* No service pack: CSDVersion receives an empty string.  Returns FALSE, the
 * answer of a free (non-checked) build. */
BOOLEAN PsGetVersion(PULONG MajorVersion, PULONG MinorVersion, PULONG BuildNumber, PUNICODE_STRING CSDVersion)
{
    static WCHAR rtl_empty_csd[1];
    if (MajorVersion != NULL)
        *MajorVersion = RTL_VERSION_MAJOR;
    if (MinorVersion != NULL)
        *MinorVersion = RTL_VERSION_MINOR;
    if (BuildNumber != NULL)
        *BuildNumber = RTL_VERSION_BUILD;
    if (CSDVersion != NULL) {
        CSDVersion->Length = 0;
        CSDVersion->MaximumLength = 0;
        CSDVersion->Buffer = rtl_empty_csd;
    }
    return FALSE;
}
