/*
 * test_ntstrsafe.c - ntstrsafe.h (copy, cat, length, printf with the
 * Microsoft formatter, UNICODE_STRING printf) and ntintsafe.h.
 */
#include <ntddk.h>
#include <ntintsafe.h>
#include <ntstrsafe.h>
#include <openwsk_runtime.h>

#include "wt.h"

#include <stdint.h>

static void check_no_leak(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

static int wide_equals(const WCHAR *w, const char *a)
{
    size_t i = 0;
    for (; a[i] != '\0'; i++)
        if (w[i] != (unsigned char)a[i])
            return 0;
    return w[i] == 0;
}

/* ===================================================================== */

static void test_printf_a(void)
{
    char buf[64];
    WCHAR name[] = L"hello world";
    UNICODE_STRING us = {10, sizeof name, name};
    CHECK_EQ(RtlStringCbPrintfA(buf, sizeof buf, "name=%wZ", &us), STATUS_SUCCESS);
    CHECK_STR(buf, "name=hello");
    CHECK_EQ(RtlStringCbPrintfA(buf, sizeof buf, "%I64u|%lu|%ld|%Ix", 1ULL << 40, (ULONG)-1, (LONG)-1,
                                (ULONG_PTR)0xabcdef012345ULL),
             STATUS_SUCCESS);
    CHECK_STR(buf, "1099511627776|4294967295|-1|abcdef012345");
    CHECK_EQ(RtlStringCchPrintfA(buf, ARRAYSIZE(buf), "%ls/%S/%hs", L"w\u00e9", L"S", "n"), STATUS_SUCCESS);
    CHECK_STR(buf, "w\xc3\xa9/S/n");
    CHECK_EQ(RtlStringCbPrintfA(buf, sizeof buf, "%p", (void *)0x10), STATUS_SUCCESS);
    CHECK_STR(buf, "0000000000000010");

    /* Truncation: overflow with the truncated, terminated text. */
    memset(buf, '#', sizeof buf);
    CHECK_EQ(RtlStringCbPrintfA(buf, 8, "%s", "0123456789"), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "0123456");
    CHECK_EQ(buf[8], '#');
    /* Exact fit is success. */
    CHECK_EQ(RtlStringCbPrintfA(buf, 11, "%s", "0123456789"), STATUS_SUCCESS);
    CHECK_STR(buf, "0123456789");
    CHECK_EQ(RtlStringCbPrintfA(buf, 10, "%s", "0123456789"), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "012345678");
    CHECK_EQ(RtlStringCbPrintfA(buf, 1, "%d", 5), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "");
    CHECK_EQ(RtlStringCbPrintfA(buf, 1, ""), STATUS_SUCCESS);

    /* Invalid sizes. */
    buf[0] = 'x';
    CHECK_EQ(RtlStringCbPrintfA(buf, 0, "%d", 5), STATUS_INVALID_PARAMETER);
    CHECK_EQ(buf[0], 'x');
    CHECK_EQ(RtlStringCbPrintfA(buf, (size_t)NTSTRSAFE_MAX_CCH + 1, "%d", 5), STATUS_INVALID_PARAMETER);
    CHECK_EQ(buf[0], '\0'); /* a too-big destination still gets an empty string */
    CHECK_EQ(RtlStringCbPrintfA(NULL, 10, "%d", 5), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCbPrintfA(buf, sizeof buf, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(NTSTRSAFE_MAX_CCH, 2147483647);
    check_no_leak();
}

static NTSTATUS vprintf_a(char *buf, size_t cb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NTSTATUS st = RtlStringCbVPrintfA(buf, cb, fmt, ap);
    va_end(ap);
    return st;
}

static NTSTATUS vprintf_w(WCHAR *buf, size_t cch, const WCHAR *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NTSTATUS st = RtlStringCchVPrintfW(buf, cch, fmt, ap);
    va_end(ap);
    return st;
}

static void test_vprintf(void)
{
    char buf[16];
    CHECK_EQ(vprintf_a(buf, sizeof buf, "%d-%d", 1, 2), STATUS_SUCCESS);
    CHECK_STR(buf, "1-2");
    CHECK_EQ(vprintf_a(buf, 4, "%d-%d", 10, 20), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "10-");
    WCHAR w[16];
    CHECK_EQ(vprintf_w(w, ARRAYSIZE(w), L"%s:%u", L"ab", 7u), STATUS_SUCCESS);
    CHECK(wide_equals(w, "ab:7"));
}

static void test_printf_w(void)
{
    WCHAR buf[32];
    /* In the W functions %s is wide and %S narrow, as with _vsnwprintf. */
    CHECK_EQ(RtlStringCchPrintfW(buf, ARRAYSIZE(buf), L"%s=%d", L"abc", 5), STATUS_SUCCESS);
    CHECK(wide_equals(buf, "abc=5"));
    CHECK_EQ(RtlStringCchPrintfW(buf, ARRAYSIZE(buf), L"%S|%hs|%ls|%c|%C", "nar", "row", L"wide", L'w', 'n'),
             STATUS_SUCCESS);
    CHECK(wide_equals(buf, "nar|row|wide|w|n"));
    /* Narrow text is Latin-1 on its way to UTF-16. */
    CHECK_EQ(RtlStringCchPrintfW(buf, ARRAYSIZE(buf), L"%S", "caf\xe9"), STATUS_SUCCESS);
    CHECK(buf[3] == 0xE9 && buf[4] == 0);
    WCHAR name[] = L"n\u00e4me";
    UNICODE_STRING us = {8, sizeof name, name};
    CHECK_EQ(RtlStringCbPrintfW(buf, sizeof buf, L"<%wZ> %I64d %lx", &us, -(1LL << 33), (ULONG)0xABC),
             STATUS_SUCCESS);
    CHECK(wide_equals(buf, "<n\xe4me> -8589934592 abc"));
    /* The format itself may hold any character, surrogate pairs included. */
    static const WCHAR fmt_pair[] = {0xD83D, 0xDE00, '%', 'd', 0};
    CHECK_EQ(RtlStringCchPrintfW(buf, ARRAYSIZE(buf), fmt_pair, 42), STATUS_SUCCESS);
    CHECK(buf[0] == 0xD83D && buf[1] == 0xDE00 && buf[2] == '4' && buf[3] == '2' && buf[4] == 0);

    /* Truncation in characters; a surrogate pair is not split. */
    for (int i = 0; i < 32; i++)
        buf[i] = '#';
    CHECK_EQ(RtlStringCchPrintfW(buf, 4, L"%s", L"abcdef"), STATUS_BUFFER_OVERFLOW);
    CHECK(wide_equals(buf, "abc"));
    CHECK_EQ(buf[4], '#');
    static const WCHAR pair[] = {'a', 0xD83D, 0xDE00, 0};
    CHECK_EQ(RtlStringCchPrintfW(buf, 3, L"%s", pair), STATUS_BUFFER_OVERFLOW);
    CHECK(buf[0] == 'a' && buf[1] == 0);
    CHECK_EQ(RtlStringCchPrintfW(buf, 4, L"%s", pair), STATUS_SUCCESS);
    CHECK(buf[1] == 0xD83D && buf[2] == 0xDE00 && buf[3] == 0);
    /* Byte counts: an odd byte is ignored. */
    CHECK_EQ(RtlStringCbPrintfW(buf, 9, L"%d", 12345), STATUS_BUFFER_OVERFLOW);
    CHECK(wide_equals(buf, "123"));
    CHECK_EQ(RtlStringCbPrintfW(buf, 1, L"%d", 1), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchPrintfW(buf, 0, L"%d", 1), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchPrintfW(buf, ARRAYSIZE(buf), NULL), STATUS_INVALID_PARAMETER);
    check_no_leak();
}

static void test_copy(void)
{
    char buf[8];
    memset(buf, '#', sizeof buf);
    CHECK_EQ(RtlStringCbCopyA(buf, sizeof buf, "abc"), STATUS_SUCCESS);
    CHECK_STR(buf, "abc");
    CHECK_EQ(RtlStringCbCopyA(buf, sizeof buf, "1234567"), STATUS_SUCCESS);
    CHECK_STR(buf, "1234567");
    CHECK_EQ(RtlStringCbCopyA(buf, sizeof buf, "12345678"), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "1234567");
    CHECK_EQ(RtlStringCchCopyA(buf, 3, "xyz"), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "xy");
    CHECK_EQ(RtlStringCchCopyA(buf, 0, "xyz"), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchCopyA(buf, sizeof buf, NULL), STATUS_INVALID_PARAMETER);
    CHECK_STR(buf, "");
    CHECK_EQ(RtlStringCchCopyNA(buf, sizeof buf, "abcdef", 3), STATUS_SUCCESS);
    CHECK_STR(buf, "abc");
    CHECK_EQ(RtlStringCbCopyNA(buf, 4, "abcdef", 10), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "abc");
    char unterminated[4] = {'w', 'x', 'y', 'z'};
    CHECK_EQ(RtlStringCchCopyNA(buf, sizeof buf, unterminated, 4), STATUS_SUCCESS);
    CHECK_STR(buf, "wxyz");

    WCHAR w[6];
    CHECK_EQ(RtlStringCbCopyW(w, sizeof w, L"hello"), STATUS_SUCCESS);
    CHECK(wide_equals(w, "hello"));
    CHECK_EQ(RtlStringCbCopyW(w, sizeof w, L"hello!"), STATUS_BUFFER_OVERFLOW);
    CHECK(wide_equals(w, "hello"));
    CHECK_EQ(RtlStringCchCopyW(w, 2, L"hello"), STATUS_BUFFER_OVERFLOW);
    CHECK(wide_equals(w, "h"));
    CHECK_EQ(RtlStringCbCopyW(w, 1, L"x"), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCbCopyNW(w, sizeof w, L"abcdef", 4), STATUS_SUCCESS);
    CHECK(wide_equals(w, "ab"));
    CHECK_EQ(RtlStringCchCopyNW(w, ARRAYSIZE(w), L"abcdef", 3), STATUS_SUCCESS);
    CHECK(wide_equals(w, "abc"));
}

static void test_cat(void)
{
    char buf[7] = "abc";
    CHECK_EQ(RtlStringCbCatA(buf, sizeof buf, "def"), STATUS_SUCCESS);
    CHECK_STR(buf, "abcdef");
    strcpy(buf, "abc");
    CHECK_EQ(RtlStringCchCatA(buf, 6, "def"), STATUS_BUFFER_OVERFLOW);
    CHECK_STR(buf, "abcde");
    CHECK_EQ(RtlStringCchCatA(buf, 6, ""), STATUS_SUCCESS);
    CHECK_EQ(RtlStringCchCatA(buf, 6, "x"), STATUS_BUFFER_OVERFLOW); /* already full */
    CHECK_STR(buf, "abcde");
    char full[3] = {'a', 'b', 'c'}; /* not terminated within the size */
    CHECK_EQ(RtlStringCbCatA(full, sizeof full, "d"), STATUS_INVALID_PARAMETER);
    CHECK_EQ(full[2], 'c');
    strcpy(buf, "ab");
    CHECK_EQ(RtlStringCchCatNA(buf, sizeof buf, "cdef", 2), STATUS_SUCCESS);
    CHECK_STR(buf, "abcd");
    CHECK_EQ(RtlStringCbCatNA(buf, sizeof buf, "efgh", 1), STATUS_SUCCESS);
    CHECK_STR(buf, "abcde");

    WCHAR w[6] = L"ab";
    CHECK_EQ(RtlStringCbCatW(w, sizeof w, L"cd"), STATUS_SUCCESS);
    CHECK(wide_equals(w, "abcd"));
    CHECK_EQ(RtlStringCchCatW(w, ARRAYSIZE(w), L"ef"), STATUS_BUFFER_OVERFLOW);
    CHECK(wide_equals(w, "abcde"));
    WCHAR w2[6] = L"a";
    CHECK_EQ(RtlStringCchCatNW(w2, ARRAYSIZE(w2), L"bcd", 1), STATUS_SUCCESS);
    CHECK(wide_equals(w2, "ab"));
    CHECK_EQ(RtlStringCbCatNW(w2, sizeof w2, L"cdef", 4), STATUS_SUCCESS);
    CHECK(wide_equals(w2, "abcd"));
    CHECK_EQ(RtlStringCchCatW(w2, 0, L"x"), STATUS_INVALID_PARAMETER);
}

static void test_length(void)
{
    size_t n = 99;
    CHECK_EQ(RtlStringCbLengthA("hello", 6, &n), STATUS_SUCCESS);
    CHECK_EQ(n, 5);
    CHECK_EQ(RtlStringCbLengthA("hello", 5, &n), STATUS_INVALID_PARAMETER); /* no NUL within 5 */
    CHECK_EQ(n, 0);
    CHECK_EQ(RtlStringCchLengthA("", 1, &n), STATUS_SUCCESS);
    CHECK_EQ(n, 0);
    CHECK_EQ(RtlStringCchLengthA("x", 0, &n), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchLengthA(NULL, 10, &n), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchLengthA("x", (size_t)NTSTRSAFE_MAX_CCH + 1, &n), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlStringCchLengthA("abc", NTSTRSAFE_MAX_CCH, NULL), STATUS_SUCCESS);

    CHECK_EQ(RtlStringCbLengthW(L"hello", 12, &n), STATUS_SUCCESS);
    CHECK_EQ(n, 10); /* bytes */
    CHECK_EQ(RtlStringCbLengthW(L"hello", 11, &n), STATUS_INVALID_PARAMETER);
    CHECK_EQ(n, 0);
    CHECK_EQ(RtlStringCchLengthW(L"hello", 6, &n), STATUS_SUCCESS);
    CHECK_EQ(n, 5);
}

static void test_unicode_string_printf(void)
{
    WCHAR buf[10];
    for (int i = 0; i < 10; i++)
        buf[i] = '#';
    UNICODE_STRING us;
    RtlInitEmptyUnicodeString(&us, buf, sizeof buf);
    CHECK_EQ(RtlUnicodeStringPrintf(&us, L"id=%d", 42), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 10);
    CHECK(buf[0] == 'i' && buf[4] == '2');

    /* Truncated to MaximumLength, no terminator added. */
    for (int i = 0; i < 10; i++)
        buf[i] = '#';
    RtlInitEmptyUnicodeString(&us, buf, 6);
    CHECK_EQ(RtlUnicodeStringPrintf(&us, L"id=%d", 42), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(us.Length, 6);
    CHECK(buf[0] == 'i' && buf[1] == 'd' && buf[2] == '=');
    CHECK_EQ(buf[3], '#');
    /* Exactly full: success, still no terminator. */
    RtlInitEmptyUnicodeString(&us, buf, 10);
    CHECK_EQ(RtlUnicodeStringPrintf(&us, L"%s", L"12345"), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 10);
    WCHAR src[] = L"abc";
    UNICODE_STRING s = {6, 8, src};
    RtlInitEmptyUnicodeString(&us, buf, sizeof buf);
    CHECK_EQ(RtlUnicodeStringPrintf(&us, L"[%wZ]", &s), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 10);
    CHECK(buf[0] == '[' && buf[3] == 'c' && buf[4] == ']');

    /* Invalid destinations. */
    UNICODE_STRING odd = {1, 10, buf};
    CHECK_EQ(RtlUnicodeStringPrintf(&odd, L"x"), STATUS_INVALID_PARAMETER);
    UNICODE_STRING over = {12, 10, buf};
    CHECK_EQ(RtlUnicodeStringPrintf(&over, L"x"), STATUS_INVALID_PARAMETER);
    UNICODE_STRING nobuf = {0, 10, NULL};
    CHECK_EQ(RtlUnicodeStringPrintf(&nobuf, L"x"), STATUS_INVALID_PARAMETER);
    UNICODE_STRING zero = {0, 0, buf};
    CHECK_EQ(RtlUnicodeStringPrintf(&zero, L"x"), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlUnicodeStringPrintf(&zero, L""), STATUS_SUCCESS);
    CHECK_EQ(RtlUnicodeStringPrintf(NULL, L"x"), STATUS_INVALID_PARAMETER);
    check_no_leak();
}

/* ===================================================================== */

static void test_intsafe_unsigned(void)
{
    ULONG ul = 0;
    CHECK_EQ(RtlULongAdd(1, 2, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 3);
    CHECK_EQ(RtlULongAdd(0xFFFFFFFFu, 1, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ul, ULONG_ERROR);
    CHECK_EQ(RtlULongAdd(0xFFFFFFFEu, 1, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 0xFFFFFFFFu);
    CHECK_EQ(RtlULongMult(0x10000, 0x10000, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ul, ULONG_ERROR);
    CHECK_EQ(RtlULongMult(0x10000, 0xFFFF, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 0xFFFF0000u);
    CHECK_EQ(RtlULongSub(1, 2, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ul, ULONG_ERROR);
    CHECK_EQ(RtlULongSub(5, 2, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 3);
    CHECK_EQ(RtlDWordAdd(0xFFFFFFFFu, 0, &ul), STATUS_SUCCESS);

    SIZE_T sz = 0;
    CHECK_EQ(RtlSizeTAdd(SIZE_MAX, 1, &sz), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(sz, SIZET_ERROR);
    CHECK_EQ(RtlSizeTAdd((SIZE_T)1 << 40, 5, &sz), STATUS_SUCCESS); /* 64-bit: no 32-bit limit */
    CHECK_EQ(sz, ((SIZE_T)1 << 40) + 5);
    CHECK_EQ(RtlSizeTMult((SIZE_T)1 << 32, (SIZE_T)1 << 32, &sz), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(RtlSizeTMult((SIZE_T)1 << 31, (SIZE_T)1 << 32, &sz), STATUS_SUCCESS);
    CHECK_EQ(sz, (SIZE_T)1 << 63);
    CHECK_EQ(RtlSizeTSub(3, 4, &sz), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(RtlSIZETAdd(1, 2, &sz), STATUS_SUCCESS);
    CHECK_EQ(sz, 3);

    ULONG_PTR up = 0;
    CHECK_EQ(RtlULongPtrAdd(~(ULONG_PTR)0, 1, &up), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(up, ULONG_PTR_ERROR);
    CHECK_EQ(RtlULongPtrAdd(0xFFFFFFFFull, 1, &up), STATUS_SUCCESS);
    CHECK_EQ(up, 0x100000000ull);

    USHORT us = 0;
    CHECK_EQ(RtlUShortAdd(0xFFFF, 1, &us), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(us, USHORT_ERROR);
    CHECK_EQ(RtlUShortMult(255, 257, &us), STATUS_SUCCESS);
    CHECK_EQ(us, 65535);
    UINT ui = 0;
    CHECK_EQ(RtlUIntAdd(0x80000000u, 0x80000000u, &ui), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ui, UINT_ERROR);
    ULONGLONG ull = 0;
    CHECK_EQ(RtlULongLongMult(0xFFFFFFFFull, 0x100000001ull, &ull), STATUS_SUCCESS);
    CHECK_EQ(ull, 0xFFFFFFFFFFFFFFFFull);
    CHECK_EQ(RtlULongLongAdd(ull, 1, &ull), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ull, ULONGLONG_ERROR);
    BYTE b = 0;
    CHECK_EQ(RtlByteAdd(200, 56, &b), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(b, BYTE_ERROR);
}

static void test_intsafe_signed_and_conversions(void)
{
    LONG l = 0;
    CHECK_EQ(RtlLongAdd(-5, 3, &l), STATUS_SUCCESS);
    CHECK_EQ(l, -2);
    CHECK_EQ(RtlLongAdd(0x7FFFFFFF, 1, &l), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(l, LONG_ERROR);
    CHECK_EQ(RtlLongSub((LONG)0x80000000, 1, &l), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(RtlLongMult(-65536, 32768, &l), STATUS_SUCCESS);
    CHECK_EQ(l, (LONG)0x80000000);
    LONGLONG ll = 0;
    CHECK_EQ(RtlLongLongMult(-1, (LONGLONG)0x8000000000000000ull, &ll), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ll, LONGLONG_ERROR);
    INT i = 0;
    CHECK_EQ(RtlIntSub(-2147483647, 1, &i), STATUS_SUCCESS);
    CHECK_EQ(i, (INT)0x80000000);

    ULONG ul = 0;
    CHECK_EQ(RtlSIZETToULong((SIZE_T)1 << 32, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ul, ULONG_ERROR);
    CHECK_EQ(RtlSIZETToULong(123, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 123);
    CHECK_EQ(RtlSizeTToULong(0xFFFFFFFFu, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 0xFFFFFFFFu);
    CHECK_EQ(RtlULongLongToULong(0x100000000ull, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(RtlULongLongToULong(7, &ul), STATUS_SUCCESS);
    CHECK_EQ(ul, 7);
    CHECK_EQ(RtlLongToULong(-1, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(ul, ULONG_ERROR);
    CHECK_EQ(RtlULongToLong(0x80000000u, &l), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(l, LONG_ERROR);
    CHECK_EQ(RtlULongToLong(0x7FFFFFFFu, &l), STATUS_SUCCESS);
    USHORT us = 0;
    CHECK_EQ(RtlULongToUShort(65536, &us), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(us, USHORT_ERROR);
    CHECK_EQ(RtlULongToUShort(65535, &us), STATUS_SUCCESS);
    CHECK_EQ(RtlIntToUShort(-1, &us), STATUS_INTEGER_OVERFLOW);
    SIZE_T sz = 0;
    CHECK_EQ(RtlIntToSizeT(-1, &sz), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(sz, SIZET_ERROR);
    CHECK_EQ(RtlLongLongToULong(-1, &ul), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(RtlLongLongToLong(-2147483648LL, &l), STATUS_SUCCESS);
    CHECK_EQ(RtlLongLongToLong(-2147483649LL, &l), STATUS_INTEGER_OVERFLOW);
    LONG_PTR lp = 0;
    CHECK_EQ(RtlULongPtrToLongPtr((ULONG_PTR)1 << 63, &lp), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(lp, LONG_PTR_ERROR);
    UCHAR c = 0;
    CHECK_EQ(RtlULongToUChar(256, &c), STATUS_INTEGER_OVERFLOW);
    CHECK_EQ(c, 0xff);
    CHECK_EQ(RtlULongToUChar(255, &c), STATUS_SUCCESS);
}

/* Windows drivers mix size_t/SIZE_T/ULONG_PTR freely (one type there). */
static void test_size_type_interop(void)
{
    size_t z = 0;
    SIZE_T s = 0;
    uintptr_t u = 0;
    ULONG_PTR up = 0;
    ptrdiff_t d = 0;
    LONG_PTR lp = 0;
    CHECK_EQ(RtlSizeTAdd(1, 2, &z), STATUS_SUCCESS);
    CHECK_EQ(z, 3);
    CHECK_EQ(RtlSizeTAdd(2, 2, &s), STATUS_SUCCESS);
    CHECK_EQ(s, 4);
    CHECK_EQ(RtlSIZETMult(3, 3, &z), STATUS_SUCCESS);
    CHECK_EQ(z, 9);
    CHECK_EQ(RtlULongPtrSub(9, 4, &u), STATUS_SUCCESS);
    CHECK_EQ(u, 5);
    CHECK_EQ(RtlULongPtrSub(9, 3, &up), STATUS_SUCCESS);
    CHECK_EQ(up, 6);
    CHECK_EQ(RtlPtrdiffTSub(1, 3, &d), STATUS_SUCCESS);
    CHECK_EQ(d, -2);
    CHECK_EQ(RtlLongPtrSub(1, 4, &d), STATUS_SUCCESS);
    CHECK_EQ(d, -3);
    CHECK_EQ(RtlPtrdiffTAdd(1, 4, &lp), STATUS_SUCCESS);
    CHECK_EQ(lp, 5);
    CHECK_EQ(RtlIntToSizeT(7, &z), STATUS_SUCCESS);
    CHECK_EQ(z, 7);
    CHECK_EQ(RtlULongLongToLongPtr(8, &d), STATUS_SUCCESS);
    CHECK_EQ(d, 8);

    CHECK_EQ(RtlStringCbLengthA("ab", 3, &z), STATUS_SUCCESS);
    CHECK_EQ(z, 2);
    CHECK_EQ(RtlStringCbLengthA("abc", 4, &s), STATUS_SUCCESS);
    CHECK_EQ(s, 3);
    CHECK_EQ(RtlStringCchLengthW(L"abcd", 5, &s), STATUS_SUCCESS);
    CHECK_EQ(s, 4);
    CHECK_EQ(RtlStringCbLengthW(L"abcd", 10, NULL), STATUS_SUCCESS);
}

int main(void)
{
    WT_RUN(test_printf_a);
    WT_RUN(test_vprintf);
    WT_RUN(test_printf_w);
    WT_RUN(test_copy);
    WT_RUN(test_cat);
    WT_RUN(test_length);
    WT_RUN(test_unicode_string_printf);
    WT_RUN(test_intsafe_unsigned);
    WT_RUN(test_intsafe_signed_and_conversions);
    WT_RUN(test_size_type_interop);
    return wt_finish();
}
