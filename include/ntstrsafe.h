/*
 * ntstrsafe.h - the WDK's safe string functions (header-only, like the
 * WDK's inline versions).
 *
 * Every function validates its sizes (0 or more than NTSTRSAFE_MAX_CCH
 * characters: STATUS_INVALID_PARAMETER), never writes past the destination,
 * always NUL-terminates a non-empty destination, and reports truncation as
 * STATUS_BUFFER_OVERFLOW with the truncated, terminated text in place.
 * Where the WDK version would dereference a NULL pointer these return
 * STATUS_INVALID_PARAMETER instead.
 *
 * The printf functions use openwsk's Microsoft-compatible formatter, so
 * %ls, %wZ, %I64u and the 32-bit %ld work as with the WDK.  In the W
 * functions %s and %c are wide and %S and %C narrow, as with _vsnwprintf.
 * No wcs* function of glibc is used: WCHAR is 16-bit here, wchar_t is not.
 */
#ifndef OPENWSK_NTSTRSAFE_H
#define OPENWSK_NTSTRSAFE_H

#include <stdarg.h>

#include <ntdef.h>
#include <ntstatus.h>

EXTERN_C_START

#define NTSTRSAFE_MAX_CCH 2147483647
#define NTSTRSAFE_MAX_LENGTH (NTSTRSAFE_MAX_CCH - 1)
#define NTSTRSAFE_UNICODE_STRING_MAX_CCH 32767

#define NTSTRSAFEDDI static inline NTSTATUS

typedef char *NTSTRSAFE_PSTR;
typedef const char *NTSTRSAFE_PCSTR;
typedef WCHAR *NTSTRSAFE_PWSTR;
typedef const WCHAR *NTSTRSAFE_PCWSTR;
typedef const WCHAR *NTSTRSAFE_PCUWSTR;
typedef const char *STRSAFE_PCNZCH;
typedef const WCHAR *STRSAFE_PCNZWCH;
typedef const WCHAR *STRSAFE_PCUNZWCH;
typedef char *STRSAFE_LPSTR;
typedef const char *STRSAFE_LPCSTR;
typedef WCHAR *STRSAFE_LPWSTR;
typedef const WCHAR *STRSAFE_LPCWSTR;

/* Formats with Microsoft printf rules (src/kernel/dbgprint.c).  Writes at
 * most cap bytes including the terminator (always terminated when cap > 0)
 * and returns the length the complete output has, like C99 vsnprintf. */
OPENWSK_API size_t openwsk_vsnprintf_ms(char *out, size_t cap, const char *fmt, va_list ap);

/* UTF-16 format, UTF-16 output, Microsoft wide-printf rules.  Stores at most
 * cch units and no terminator (a surrogate pair is never split), sets
 * *written to the units stored, and returns the units the complete output
 * has, or (size_t)-1 when memory for the conversion ran out. */
OPENWSK_API size_t openwsk_vformat_utf16_ms(WCHAR *out, size_t cch, size_t *written, const WCHAR *fmt, va_list ap);

/* ---- workers (internal) ---- */

static inline size_t ntstrsafe_strnlen_a(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

static inline size_t ntstrsafe_strnlen_w(const WCHAR *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != 0)
        n++;
    return n;
}

/* Destination check shared by copy, cat and printf: NULL or a size of 0 or
 * above the maximum is invalid; a too-big but non-zero destination still
 * gets an empty string, as the WDK does. */
static inline NTSTATUS ntstrsafe_dest_a(char *dst, size_t cch)
{
    if (dst == NULL || cch == 0)
        return STATUS_INVALID_PARAMETER;
    if (cch > NTSTRSAFE_MAX_CCH) {
        dst[0] = '\0';
        return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
}

static inline NTSTATUS ntstrsafe_dest_w(WCHAR *dst, size_t cch)
{
    if (dst == NULL || cch == 0)
        return STATUS_INVALID_PARAMETER;
    if (cch > NTSTRSAFE_MAX_CCH) {
        dst[0] = 0;
        return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
}

/* Copies at most max_copy characters of src into dst[0..cch), cch >= 1. */
static inline NTSTATUS ntstrsafe_copy_a(char *dst, size_t cch, const char *src, size_t max_copy)
{
    size_t i = 0;
    while (i < cch && i < max_copy && src[i] != '\0') {
        dst[i] = src[i];
        i++;
    }
    if (i == cch) {
        dst[cch - 1] = '\0';
        return STATUS_BUFFER_OVERFLOW;
    }
    dst[i] = '\0';
    return STATUS_SUCCESS;
}

static inline NTSTATUS ntstrsafe_copy_w(WCHAR *dst, size_t cch, const WCHAR *src, size_t max_copy)
{
    size_t i = 0;
    while (i < cch && i < max_copy && src[i] != 0) {
        dst[i] = src[i];
        i++;
    }
    if (i == cch) {
        dst[cch - 1] = 0;
        return STATUS_BUFFER_OVERFLOW;
    }
    dst[i] = 0;
    return STATUS_SUCCESS;
}

static inline NTSTATUS ntstrsafe_copy_checked_a(char *dst, size_t cch, const char *src, size_t max_copy)
{
    NTSTATUS st = ntstrsafe_dest_a(dst, cch);
    if (!NT_SUCCESS(st))
        return st;
    if (src == NULL || max_copy > NTSTRSAFE_MAX_LENGTH) {
        dst[0] = '\0';
        return STATUS_INVALID_PARAMETER;
    }
    return ntstrsafe_copy_a(dst, cch, src, max_copy);
}

static inline NTSTATUS ntstrsafe_copy_checked_w(WCHAR *dst, size_t cch, const WCHAR *src, size_t max_copy)
{
    NTSTATUS st = ntstrsafe_dest_w(dst, cch);
    if (!NT_SUCCESS(st))
        return st;
    if (src == NULL || max_copy > NTSTRSAFE_MAX_LENGTH) {
        dst[0] = 0;
        return STATUS_INVALID_PARAMETER;
    }
    return ntstrsafe_copy_w(dst, cch, src, max_copy);
}

/* Appends: the existing destination must be terminated within cch. */
static inline NTSTATUS ntstrsafe_cat_a(char *dst, size_t cch, const char *src, size_t max_copy)
{
    if (dst == NULL || cch == 0 || cch > NTSTRSAFE_MAX_CCH || src == NULL || max_copy > NTSTRSAFE_MAX_LENGTH)
        return STATUS_INVALID_PARAMETER;
    size_t used = ntstrsafe_strnlen_a(dst, cch);
    if (used == cch)
        return STATUS_INVALID_PARAMETER;
    return ntstrsafe_copy_a(dst + used, cch - used, src, max_copy);
}

static inline NTSTATUS ntstrsafe_cat_w(WCHAR *dst, size_t cch, const WCHAR *src, size_t max_copy)
{
    if (dst == NULL || cch == 0 || cch > NTSTRSAFE_MAX_CCH || src == NULL || max_copy > NTSTRSAFE_MAX_LENGTH)
        return STATUS_INVALID_PARAMETER;
    size_t used = ntstrsafe_strnlen_w(dst, cch);
    if (used == cch)
        return STATUS_INVALID_PARAMETER;
    return ntstrsafe_copy_w(dst + used, cch - used, src, max_copy);
}

static inline NTSTATUS ntstrsafe_vprintf_a(char *dst, size_t cch, const char *fmt, va_list ap)
{
    NTSTATUS st = ntstrsafe_dest_a(dst, cch);
    if (!NT_SUCCESS(st))
        return st;
    if (fmt == NULL) {
        dst[0] = '\0';
        return STATUS_INVALID_PARAMETER;
    }
    size_t n = openwsk_vsnprintf_ms(dst, cch, fmt, ap);
    return n >= cch ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

static inline NTSTATUS ntstrsafe_vprintf_w(WCHAR *dst, size_t cch, const WCHAR *fmt, va_list ap)
{
    NTSTATUS st = ntstrsafe_dest_w(dst, cch);
    if (!NT_SUCCESS(st))
        return st;
    if (fmt == NULL) {
        dst[0] = 0;
        return STATUS_INVALID_PARAMETER;
    }
    size_t written = 0;
    size_t n = openwsk_vformat_utf16_ms(dst, cch - 1, &written, fmt, ap);
    dst[written] = 0;
    return (n == (size_t)-1 || n > cch - 1) ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

static inline NTSTATUS ntstrsafe_length_a(const char *psz, size_t cch_max, size_t *pcch)
{
    NTSTATUS st = STATUS_INVALID_PARAMETER;
    size_t n = 0;
    if (psz != NULL && cch_max <= NTSTRSAFE_MAX_CCH) {
        n = ntstrsafe_strnlen_a(psz, cch_max);
        st = n < cch_max ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    }
    if (pcch != NULL)
        *pcch = NT_SUCCESS(st) ? n : 0;
    return st;
}

static inline NTSTATUS ntstrsafe_length_w(const WCHAR *psz, size_t cch_max, size_t *pcch)
{
    NTSTATUS st = STATUS_INVALID_PARAMETER;
    size_t n = 0;
    if (psz != NULL && cch_max <= NTSTRSAFE_MAX_CCH) {
        n = ntstrsafe_strnlen_w(psz, cch_max);
        st = n < cch_max ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    }
    if (pcch != NULL)
        *pcch = NT_SUCCESS(st) ? n : 0;
    return st;
}

/* ---- copy ---- */

NTSTRSAFEDDI RtlStringCchCopyA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc)
{
    return ntstrsafe_copy_checked_a(pszDest, cchDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCchCopyW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc)
{
    return ntstrsafe_copy_checked_w(pszDest, cchDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCbCopyA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc)
{
    return ntstrsafe_copy_checked_a(pszDest, cbDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCbCopyW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc)
{
    return ntstrsafe_copy_checked_w(pszDest, cbDest / sizeof(WCHAR), pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCchCopyNA(NTSTRSAFE_PSTR pszDest, size_t cchDest, STRSAFE_PCNZCH pszSrc, size_t cchToCopy)
{
    return ntstrsafe_copy_checked_a(pszDest, cchDest, pszSrc, cchToCopy);
}

NTSTRSAFEDDI RtlStringCchCopyNW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, STRSAFE_PCNZWCH pszSrc, size_t cchToCopy)
{
    return ntstrsafe_copy_checked_w(pszDest, cchDest, pszSrc, cchToCopy);
}

NTSTRSAFEDDI RtlStringCbCopyNA(NTSTRSAFE_PSTR pszDest, size_t cbDest, STRSAFE_PCNZCH pszSrc, size_t cbToCopy)
{
    return ntstrsafe_copy_checked_a(pszDest, cbDest, pszSrc, cbToCopy);
}

NTSTRSAFEDDI RtlStringCbCopyNW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, STRSAFE_PCNZWCH pszSrc, size_t cbToCopy)
{
    return ntstrsafe_copy_checked_w(pszDest, cbDest / sizeof(WCHAR), pszSrc, cbToCopy / sizeof(WCHAR));
}

/* ---- concatenation ---- */

NTSTRSAFEDDI RtlStringCchCatA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc)
{
    return ntstrsafe_cat_a(pszDest, cchDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCchCatW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc)
{
    return ntstrsafe_cat_w(pszDest, cchDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCbCatA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc)
{
    return ntstrsafe_cat_a(pszDest, cbDest, pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCbCatW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc)
{
    return ntstrsafe_cat_w(pszDest, cbDest / sizeof(WCHAR), pszSrc, NTSTRSAFE_MAX_LENGTH);
}

NTSTRSAFEDDI RtlStringCchCatNA(NTSTRSAFE_PSTR pszDest, size_t cchDest, STRSAFE_PCNZCH pszSrc, size_t cchToAppend)
{
    return ntstrsafe_cat_a(pszDest, cchDest, pszSrc, cchToAppend);
}

NTSTRSAFEDDI RtlStringCchCatNW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, STRSAFE_PCNZWCH pszSrc, size_t cchToAppend)
{
    return ntstrsafe_cat_w(pszDest, cchDest, pszSrc, cchToAppend);
}

NTSTRSAFEDDI RtlStringCbCatNA(NTSTRSAFE_PSTR pszDest, size_t cbDest, STRSAFE_PCNZCH pszSrc, size_t cbToAppend)
{
    return ntstrsafe_cat_a(pszDest, cbDest, pszSrc, cbToAppend);
}

NTSTRSAFEDDI RtlStringCbCatNW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, STRSAFE_PCNZWCH pszSrc, size_t cbToAppend)
{
    return ntstrsafe_cat_w(pszDest, cbDest / sizeof(WCHAR), pszSrc, cbToAppend / sizeof(WCHAR));
}

/* ---- length ---- */

NTSTRSAFEDDI RtlStringCchLengthA(STRSAFE_PCNZCH psz, size_t cchMax, size_t *pcchLength)
{
    return ntstrsafe_length_a(psz, cchMax, pcchLength);
}

NTSTRSAFEDDI RtlStringCchLengthW(STRSAFE_PCNZWCH psz, size_t cchMax, size_t *pcchLength)
{
    return ntstrsafe_length_w(psz, cchMax, pcchLength);
}

NTSTRSAFEDDI RtlStringCbLengthA(STRSAFE_PCNZCH psz, size_t cbMax, size_t *pcbLength)
{
    return ntstrsafe_length_a(psz, cbMax, pcbLength);
}

NTSTRSAFEDDI RtlStringCbLengthW(STRSAFE_PCNZWCH psz, size_t cbMax, size_t *pcbLength)
{
    size_t cch = 0;
    NTSTATUS st = ntstrsafe_length_w(psz, cbMax / sizeof(WCHAR), &cch);
    if (pcbLength != NULL)
        *pcbLength = cch * sizeof(WCHAR);
    return st;
}

/* ---- printf ---- */

NTSTRSAFEDDI RtlStringCchVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszFormat, va_list argList)
{
    return ntstrsafe_vprintf_a(pszDest, cchDest, pszFormat, argList);
}

NTSTRSAFEDDI RtlStringCbVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszFormat, va_list argList)
{
    return ntstrsafe_vprintf_a(pszDest, cbDest, pszFormat, argList);
}

NTSTRSAFEDDI RtlStringCchVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    return ntstrsafe_vprintf_w(pszDest, cchDest, pszFormat, argList);
}

NTSTRSAFEDDI RtlStringCbVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    return ntstrsafe_vprintf_w(pszDest, cbDest / sizeof(WCHAR), pszFormat, argList);
}

NTSTRSAFEDDI RtlStringCchPrintfA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszFormat, ...)
{
    va_list ap;
    va_start(ap, pszFormat);
    NTSTATUS st = ntstrsafe_vprintf_a(pszDest, cchDest, pszFormat, ap);
    va_end(ap);
    return st;
}

NTSTRSAFEDDI RtlStringCbPrintfA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszFormat, ...)
{
    va_list ap;
    va_start(ap, pszFormat);
    NTSTATUS st = ntstrsafe_vprintf_a(pszDest, cbDest, pszFormat, ap);
    va_end(ap);
    return st;
}

NTSTRSAFEDDI RtlStringCchPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list ap;
    va_start(ap, pszFormat);
    NTSTATUS st = ntstrsafe_vprintf_w(pszDest, cchDest, pszFormat, ap);
    va_end(ap);
    return st;
}

NTSTRSAFEDDI RtlStringCbPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list ap;
    va_start(ap, pszFormat);
    NTSTATUS st = ntstrsafe_vprintf_w(pszDest, cbDest / sizeof(WCHAR), pszFormat, ap);
    va_end(ap);
    return st;
}

/* ---- UNICODE_STRING printf ---- */

/* The result is not NUL-terminated and may fill MaximumLength entirely.
 * An invalid UNICODE_STRING (odd sizes, Length > MaximumLength, NULL Buffer
 * with a size, more than NTSTRSAFE_UNICODE_STRING_MAX_CCH characters) and,
 * as documented, output for a zero-size buffer are STATUS_INVALID_PARAMETER. */
NTSTRSAFEDDI RtlUnicodeStringVPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    if (DestinationString == NULL || pszFormat == NULL)
        return STATUS_INVALID_PARAMETER;
    USHORT len = DestinationString->Length, max = DestinationString->MaximumLength;
    if ((len & 1) || (max & 1) || len > max || (DestinationString->Buffer == NULL && max != 0) ||
        max > NTSTRSAFE_UNICODE_STRING_MAX_CCH * sizeof(WCHAR))
        return STATUS_INVALID_PARAMETER;
    size_t cch = max / sizeof(WCHAR);
    size_t written = 0;
    size_t n = openwsk_vformat_utf16_ms(DestinationString->Buffer, cch, &written, pszFormat, argList);
    DestinationString->Length = (USHORT)(written * sizeof(WCHAR));
    if (n == (size_t)-1)
        return STATUS_BUFFER_OVERFLOW;
    if (n > cch)
        return cch == 0 ? STATUS_INVALID_PARAMETER : STATUS_BUFFER_OVERFLOW;
    return STATUS_SUCCESS;
}

NTSTRSAFEDDI RtlUnicodeStringPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list ap;
    va_start(ap, pszFormat);
    NTSTATUS st = RtlUnicodeStringVPrintf(DestinationString, pszFormat, ap);
    va_end(ap);
    return st;
}

/* Accept an empty last argument as MSVC does (OPENWSK_VA_TAIL in ntdef.h);
 * (RtlStringCbPrintfA)(...) and &RtlStringCbPrintfA reach the functions. */
#define RtlStringCchPrintfA(pszDest, cchDest, pszFormat, ...) \
    (RtlStringCchPrintfA)(pszDest, cchDest, pszFormat OPENWSK_VA_TAIL(__VA_ARGS__))
#define RtlStringCbPrintfA(pszDest, cbDest, pszFormat, ...) \
    (RtlStringCbPrintfA)(pszDest, cbDest, pszFormat OPENWSK_VA_TAIL(__VA_ARGS__))
#define RtlStringCchPrintfW(pszDest, cchDest, pszFormat, ...) \
    (RtlStringCchPrintfW)(pszDest, cchDest, pszFormat OPENWSK_VA_TAIL(__VA_ARGS__))
#define RtlStringCbPrintfW(pszDest, cbDest, pszFormat, ...) \
    (RtlStringCbPrintfW)(pszDest, cbDest, pszFormat OPENWSK_VA_TAIL(__VA_ARGS__))
#define RtlUnicodeStringPrintf(DestinationString, pszFormat, ...) \
    (RtlUnicodeStringPrintf)(DestinationString, pszFormat OPENWSK_VA_TAIL(__VA_ARGS__))

#ifndef __cplusplus
/* Windows' size_t and SIZE_T are the same type, here they are not
 * (unsigned long vs unsigned long long): let the length functions store
 * through either pointer type (see ntintsafe.h, hazard H5). */
#define NTSTRSAFE_SIZE_OUT(p) _Generic((p), unsigned long long *: (size_t *)(void *)(p), default: (p))
#define RtlStringCchLengthA(psz, cchMax, pcchLength) RtlStringCchLengthA((psz), (cchMax), NTSTRSAFE_SIZE_OUT(pcchLength))
#define RtlStringCchLengthW(psz, cchMax, pcchLength) RtlStringCchLengthW((psz), (cchMax), NTSTRSAFE_SIZE_OUT(pcchLength))
#define RtlStringCbLengthA(psz, cbMax, pcbLength) RtlStringCbLengthA((psz), (cbMax), NTSTRSAFE_SIZE_OUT(pcbLength))
#define RtlStringCbLengthW(psz, cbMax, pcbLength) RtlStringCbLengthW((psz), (cbMax), NTSTRSAFE_SIZE_OUT(pcbLength))
#endif

EXTERN_C_END

#endif /* OPENWSK_NTSTRSAFE_H */
