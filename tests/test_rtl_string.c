/*
 * test_rtl_string.c - counted strings, conversions, comparisons, integer
 * conversions and version queries of rtl_string.c.  Expected values follow
 * Windows (several are the ones Wine's conformance tests record).
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include "wt.h"

#include <stdlib.h>

static void check_no_leak(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

static int wcs_equal(const WCHAR *a, const WCHAR *b, size_t n)
{
    return memcmp(a, b, n * sizeof(WCHAR)) == 0;
}

/* ===================================================================== */

static void test_init(void)
{
    static const WCHAR abc[] = L"abc";
    UNICODE_STRING us = {1, 2, (PWSTR)(ULONG_PTR)0x1};
    RtlInitUnicodeString(&us, abc);
    CHECK_EQ(us.Length, 6);
    CHECK_EQ(us.MaximumLength, 8);
    CHECK(us.Buffer == abc);
    RtlInitUnicodeString(&us, NULL);
    CHECK_EQ(us.Length, 0);
    CHECK_EQ(us.MaximumLength, 0);
    CHECK(us.Buffer == NULL);
    RtlInitUnicodeString(NULL, abc); /* no crash */

    CHECK_EQ(RtlInitUnicodeStringEx(&us, abc), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 6);
    CHECK_EQ(us.MaximumLength, 8);
    CHECK_EQ(RtlInitUnicodeStringEx(&us, NULL), STATUS_SUCCESS);
    CHECK(us.Buffer == NULL && us.Length == 0 && us.MaximumLength == 0);
    CHECK_EQ(RtlInitUnicodeStringEx(NULL, abc), STATUS_INVALID_PARAMETER);

    /* Long strings: the plain form truncates to USHORT as Windows does,
     * the Ex form refuses more than 32766 characters. */
    WCHAR *big = malloc(40001 * sizeof(WCHAR));
    for (int i = 0; i < 40000; i++)
        big[i] = 'X';
    big[40000] = 0;
    RtlInitUnicodeString(&us, big);
    CHECK_EQ(us.Length, (USHORT)80000);
    CHECK_EQ(us.MaximumLength, (USHORT)80002);
    us.Length = 12345;
    us.MaximumLength = 12345;
    us.Buffer = NULL;
    CHECK_EQ(RtlInitUnicodeStringEx(&us, big), STATUS_NAME_TOO_LONG);
    CHECK_EQ(us.Length, 12345); /* untouched */
    CHECK(us.Buffer == NULL);
    big[32767] = 0;
    CHECK_EQ(RtlInitUnicodeStringEx(&us, big), STATUS_NAME_TOO_LONG);
    big[32766] = 0;
    CHECK_EQ(RtlInitUnicodeStringEx(&us, big), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 65532);
    CHECK_EQ(us.MaximumLength, 65534);
    free(big);

    ANSI_STRING as;
    RtlInitAnsiString(&as, "hello");
    CHECK_EQ(as.Length, 5);
    CHECK_EQ(as.MaximumLength, 6);
    CHECK_STR(as.Buffer, "hello");
    RtlInitString(&as, NULL);
    CHECK(as.Length == 0 && as.MaximumLength == 0 && as.Buffer == NULL);
    CHECK_EQ(RtlInitAnsiStringEx(&as, "hi"), STATUS_SUCCESS);
    CHECK_EQ(as.Length, 2);
    UTF8_STRING u8;
    RtlInitUTF8String(&u8, "h\xc3\xa9");
    CHECK_EQ(u8.Length, 3);
    CHECK_EQ(u8.MaximumLength, 4);

    char *abig = malloc(70000);
    memset(abig, 'y', 69999);
    abig[69999] = '\0';
    CHECK_EQ(RtlInitAnsiStringEx(&as, abig), STATUS_NAME_TOO_LONG);
    abig[65534] = '\0';
    CHECK_EQ(RtlInitAnsiStringEx(&as, abig), STATUS_SUCCESS);
    CHECK_EQ(as.Length, 65534);
    CHECK_EQ(as.MaximumLength, 65535);
    abig[65534] = 'y';
    abig[65535] = '\0';
    CHECK_EQ(RtlInitAnsiStringEx(&as, abig), STATUS_NAME_TOO_LONG);
    free(abig);
    check_no_leak();
}

static void test_ansi_to_unicode(void)
{
    ANSI_STRING as;
    UNICODE_STRING us;
    RtlInitAnsiString(&as, "h\xe9llo"); /* Latin-1 e-acute */

    CHECK_EQ(RtlxAnsiStringToUnicodeSize(&as), 12);
    CHECK_EQ(RtlAnsiStringToUnicodeSize(&as), 12);
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, TRUE), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 10);
    CHECK_EQ(us.MaximumLength, 12);
    CHECK(wcs_equal(us.Buffer, L"h\u00e9llo", 6)); /* terminated */
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_STRING), 1);
    RtlFreeUnicodeString(&us);
    CHECK(us.Buffer == NULL && us.Length == 0 && us.MaximumLength == 0);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_STRING), 0);

    /* Caller's buffer: fits exactly with the terminator. */
    WCHAR buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = '#';
    RtlInitEmptyUnicodeString(&us, buf, 12);
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, FALSE), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 10);
    CHECK_EQ(us.MaximumLength, 12);
    CHECK(wcs_equal(buf, L"h\u00e9llo", 6));
    CHECK_EQ(buf[6], '#');

    /* No room for the terminator: overflow, Length tells the size needed,
     * nothing copied. */
    for (int i = 0; i < 8; i++)
        buf[i] = '#';
    RtlInitEmptyUnicodeString(&us, buf, 10);
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, FALSE), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(us.Length, 10);
    CHECK_EQ(us.MaximumLength, 10);
    CHECK_EQ(buf[0], '#');

    /* Empty source. */
    RtlInitAnsiString(&as, "");
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, TRUE), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 0);
    CHECK_EQ(us.MaximumLength, 2);
    CHECK_EQ(us.Buffer[0], 0);
    RtlFreeUnicodeString(&us);

    /* Too long for a UNICODE_STRING. */
    static char longbuf[40000];
    as.Buffer = longbuf;
    as.Length = 32767;
    as.MaximumLength = 32767;
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, TRUE), STATUS_INVALID_PARAMETER_2);

    /* Allocation failure. */
    RtlInitAnsiString(&as, "abc");
    openwsk_fault_fail_allocation(1);
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, &as, TRUE), STATUS_NO_MEMORY);
    CHECK(us.Buffer == NULL);
    openwsk_fault_fail_allocation(0);

    CHECK_EQ(RtlAnsiStringToUnicodeString(NULL, &as, TRUE), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlAnsiStringToUnicodeString(&us, NULL, TRUE), STATUS_INVALID_PARAMETER);
    check_no_leak();
}

static void test_unicode_to_ansi(void)
{
    UNICODE_STRING us;
    ANSI_STRING as;
    RtlInitUnicodeString(&us, L"h\u00e9\u20ac!");
    CHECK_EQ(RtlxUnicodeStringToAnsiSize(&us), 5);
    CHECK_EQ(RtlUnicodeStringToAnsiSize(&us), 5);
    CHECK_EQ(RtlUnicodeStringToAnsiString(&as, &us, TRUE), STATUS_SUCCESS);
    CHECK_EQ(as.Length, 4);
    CHECK_EQ(as.MaximumLength, 5);
    CHECK_STR(as.Buffer, "h\xe9?!"); /* U+20AC has no Latin-1 byte */
    RtlFreeAnsiString(&as);
    CHECK(as.Buffer == NULL);

    /* Caller's buffer (cases from Windows' behaviour): what fits is
     * converted and terminated, with STATUS_BUFFER_OVERFLOW. */
    RtlInitUnicodeString(&us, L"abcdef");
    char buf[12];
    static const struct {
        USHORT max;
        NTSTATUS status;
        USHORT length;
        const char *text;
    } cases[] = {
        {1, STATUS_BUFFER_OVERFLOW, 0, ""},
        {2, STATUS_BUFFER_OVERFLOW, 1, "a"},
        {3, STATUS_BUFFER_OVERFLOW, 2, "ab"},
        {6, STATUS_BUFFER_OVERFLOW, 5, "abcde"},
        {7, STATUS_SUCCESS, 6, "abcdef"},
        {12, STATUS_SUCCESS, 6, "abcdef"},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        memset(buf, '-', sizeof buf);
        as.Length = 8;
        as.MaximumLength = cases[i].max;
        as.Buffer = buf;
        CHECK_EQ(RtlUnicodeStringToAnsiString(&as, &us, FALSE), cases[i].status);
        CHECK_EQ(as.Length, cases[i].length);
        CHECK_EQ(as.MaximumLength, cases[i].max);
        CHECK_STR(buf, cases[i].text);
    }
    /* MaximumLength 0: nothing written, Length = size needed. */
    memset(buf, '-', sizeof buf);
    as.Length = 0;
    as.MaximumLength = 0;
    as.Buffer = buf;
    CHECK_EQ(RtlUnicodeStringToAnsiString(&as, &us, FALSE), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(as.Length, 6);
    CHECK_EQ(buf[0], '-');

    /* Surrogate pair: two default characters, as Windows' code pages do. */
    static const WCHAR pair[] = {'a', 0xD83D, 0xDE00, 0};
    RtlInitUnicodeString(&us, pair);
    CHECK_EQ(RtlUnicodeStringToAnsiString(&as, &us, TRUE), STATUS_SUCCESS);
    CHECK_STR(as.Buffer, "a??");
    RtlFreeAnsiString(&as);

    openwsk_fault_fail_allocation(1);
    CHECK_EQ(RtlUnicodeStringToAnsiString(&as, &us, TRUE), STATUS_NO_MEMORY);
    openwsk_fault_fail_allocation(0);
    check_no_leak();
}

static void test_utf8_to_unicode_n(void)
{
    WCHAR out[16];
    ULONG got = 0xdead;

    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "h\xc3\xa9", 3), STATUS_SUCCESS);
    CHECK_EQ(got, 4);
    CHECK(out[0] == 'h' && out[1] == 0xE9);

    /* Size query. */
    CHECK_EQ(RtlUTF8ToUnicodeN(NULL, 0, &got, "h\xc3\xa9\xf0\x9f\x98\x80", 7), STATUS_SUCCESS);
    CHECK_EQ(got, 8);

    /* Supplementary character -> surrogate pair. */
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "\xf0\x9f\x98\x80", 4), STATUS_SUCCESS);
    CHECK_EQ(got, 4);
    CHECK(out[0] == 0xD83D && out[1] == 0xDE00);

    /* Ill-formed input: U+FFFD per maximal subpart, STATUS_SOME_NOT_MAPPED. */
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "a\xff" "b", 3), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 6);
    CHECK(out[0] == 'a' && out[1] == 0xFFFD && out[2] == 'b');
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "a\xe2\x82", 3), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 4); /* truncated sequence: one U+FFFD */
    CHECK(out[1] == 0xFFFD);
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "\xc0\xaf", 2), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 4); /* overlong: two */
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "\xed\xa0\x80", 3), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 6); /* encoded surrogate: three */
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "\xf4\x90\x80\x80", 4), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 8); /* above U+10FFFF */
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "\xe2\x82\xac", 3), STATUS_SUCCESS);
    CHECK_EQ(out[0], 0x20AC);

    /* Truncation: STATUS_BUFFER_TOO_SMALL with the count actually written,
     * a surrogate pair is never split. */
    for (int i = 0; i < 16; i++)
        out[i] = '#';
    CHECK_EQ(RtlUTF8ToUnicodeN(out, 2 * sizeof(WCHAR), &got, "abc", 3), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(got, 4);
    CHECK(out[0] == 'a' && out[1] == 'b' && out[2] == '#');
    CHECK_EQ(RtlUTF8ToUnicodeN(out, 3, &got, "x\xf0\x9f\x98\x80", 5), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(got, 2);
    CHECK_EQ(RtlUTF8ToUnicodeN(out, 2, &got, "\xff\xff", 2), STATUS_BUFFER_TOO_SMALL);

    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, NULL, 3), STATUS_INVALID_PARAMETER_4);
    CHECK_EQ(RtlUTF8ToUnicodeN(NULL, 0, NULL, "a", 1), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, NULL, "ab", 2), STATUS_SUCCESS);
    CHECK_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &got, "", 0), STATUS_SUCCESS);
    CHECK_EQ(got, 0);
}

static void test_unicode_to_utf8_n(void)
{
    static const WCHAR text[] = {'h', 0xE9, 0x20AC, 0xD83D, 0xDE00};
    char out[16];
    ULONG got = 0;
    CHECK_EQ(RtlUnicodeToUTF8N(out, sizeof out, &got, text, sizeof text), STATUS_SUCCESS);
    CHECK_EQ(got, 10);
    CHECK_MEM(out, "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
    CHECK_EQ(RtlUnicodeToUTF8N(NULL, 0, &got, text, sizeof text), STATUS_SUCCESS);
    CHECK_EQ(got, 10);

    static const WCHAR lone[] = {'a', 0xDC00, 0xD800};
    CHECK_EQ(RtlUnicodeToUTF8N(out, sizeof out, &got, lone, sizeof lone), STATUS_SOME_NOT_MAPPED);
    CHECK_EQ(got, 7);
    CHECK_MEM(out, "a\xef\xbf\xbd\xef\xbf\xbd", 7);

    /* Truncation never splits a sequence. */
    memset(out, '#', sizeof out);
    CHECK_EQ(RtlUnicodeToUTF8N(out, 3, &got, text, sizeof text), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(got, 3);
    CHECK_MEM(out, "h\xc3\xa9#", 4);
    CHECK_EQ(RtlUnicodeToUTF8N(out, 2, &got, text, sizeof text), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(got, 1);
    /* An odd byte count ignores the half character. */
    CHECK_EQ(RtlUnicodeToUTF8N(out, sizeof out, &got, text, 3), STATUS_SUCCESS);
    CHECK_EQ(got, 1);

    CHECK_EQ(RtlUnicodeToUTF8N(out, sizeof out, &got, NULL, 2), STATUS_INVALID_PARAMETER_4);
    CHECK_EQ(RtlUnicodeToUTF8N(NULL, 0, NULL, text, 2), STATUS_INVALID_PARAMETER);
}

static void test_utf8_strings(void)
{
    UNICODE_STRING us;
    UTF8_STRING u8;
    RtlInitUnicodeString(&us, L"caf\u00e9 \u20ac");
    CHECK_EQ(RtlUnicodeStringToUTF8String(&u8, &us, TRUE), STATUS_SUCCESS);
    CHECK_EQ(u8.Length, 9);
    CHECK_EQ(u8.MaximumLength, 10);
    CHECK_STR(u8.Buffer, "caf\xc3\xa9 \xe2\x82\xac");

    UNICODE_STRING back;
    CHECK_EQ(RtlUTF8StringToUnicodeString(&back, &u8, TRUE), STATUS_SUCCESS);
    CHECK_EQ(back.Length, us.Length);
    CHECK_EQ(back.MaximumLength, us.Length + 2);
    CHECK(RtlEqualUnicodeString(&us, &back, FALSE));
    CHECK_EQ(back.Buffer[back.Length / 2], 0);
    RtlFreeUnicodeString(&back);
    RtlFreeUTF8String(&u8);
    CHECK(u8.Buffer == NULL && u8.Length == 0);

    /* Caller's buffers: too small is STATUS_BUFFER_OVERFLOW, nothing copied. */
    char small[9];
    memset(small, '-', sizeof small);
    u8.Length = 0;
    u8.MaximumLength = sizeof small;
    u8.Buffer = small;
    CHECK_EQ(RtlUnicodeStringToUTF8String(&u8, &us, FALSE), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(small[0], '-');
    char fit[10];
    u8.MaximumLength = sizeof fit;
    u8.Buffer = fit;
    CHECK_EQ(RtlUnicodeStringToUTF8String(&u8, &us, FALSE), STATUS_SUCCESS);
    CHECK_STR(fit, "caf\xc3\xa9 \xe2\x82\xac");

    WCHAR wsmall[4];
    RtlInitEmptyUnicodeString(&back, wsmall, sizeof wsmall);
    RtlInitUTF8String(&u8, "abcd");
    CHECK_EQ(RtlUTF8StringToUnicodeString(&back, &u8, FALSE), STATUS_BUFFER_OVERFLOW);
    RtlInitUTF8String(&u8, "abc");
    CHECK_EQ(RtlUTF8StringToUnicodeString(&back, &u8, FALSE), STATUS_SUCCESS);
    CHECK(wcs_equal(wsmall, L"abc", 4));

    /* Ill-formed UTF-8 is replaced and still succeeds, as on Windows. */
    RtlInitUTF8String(&u8, "a\xff");
    CHECK_EQ(RtlUTF8StringToUnicodeString(&back, &u8, TRUE), STATUS_SUCCESS);
    CHECK_EQ(back.Length, 4);
    CHECK_EQ(back.Buffer[1], 0xFFFD);
    RtlFreeUnicodeString(&back);

    openwsk_fault_fail_allocation(1);
    CHECK_EQ(RtlUTF8StringToUnicodeString(&back, &u8, TRUE), STATUS_NO_MEMORY);
    openwsk_fault_fail_allocation(1);
    CHECK_EQ(RtlUnicodeStringToUTF8String(&u8, &us, TRUE), STATUS_NO_MEMORY);
    openwsk_fault_fail_allocation(0);
    check_no_leak();
}

static void test_free(void)
{
    UNICODE_STRING us = {4, 6, NULL};
    RtlFreeUnicodeString(&us); /* NULL Buffer is fine */
    CHECK(us.Length == 0 && us.MaximumLength == 0);
    RtlFreeUnicodeString(NULL);
    ANSI_STRING as = {1, 2, NULL};
    RtlFreeAnsiString(&as);
    CHECK(as.Length == 0 && as.MaximumLength == 0);
    RtlFreeAnsiString(NULL);
    RtlFreeUTF8String(NULL);
    check_no_leak();
}

static void test_copy_append(void)
{
    UNICODE_STRING src, dst;
    WCHAR buf[8];
    RtlInitUnicodeString(&src, L"Hello");

    for (int i = 0; i < 8; i++)
        buf[i] = '#';
    RtlInitEmptyUnicodeString(&dst, buf, 6);
    RtlCopyUnicodeString(&dst, &src);
    CHECK_EQ(dst.Length, 6);
    CHECK(wcs_equal(buf, L"Hel", 3));
    CHECK_EQ(buf[3], '#'); /* no room for the terminator */

    RtlInitEmptyUnicodeString(&dst, buf, 16);
    RtlCopyUnicodeString(&dst, &src);
    CHECK_EQ(dst.Length, 10);
    CHECK(wcs_equal(buf, L"Hello", 6));
    RtlCopyUnicodeString(&dst, NULL);
    CHECK_EQ(dst.Length, 0);
    RtlInitEmptyUnicodeString(&dst, buf, 7); /* odd size: whole characters only */
    RtlCopyUnicodeString(&dst, &src);
    CHECK_EQ(dst.Length, 6);

    /* Append: terminator only when it fits. */
    for (int i = 0; i < 8; i++)
        buf[i] = '#';
    buf[0] = 'a';
    buf[1] = 'b';
    dst.Buffer = buf;
    dst.Length = 4;
    dst.MaximumLength = 8;
    RtlInitUnicodeString(&src, L"cd");
    CHECK_EQ(RtlAppendUnicodeStringToString(&dst, &src), STATUS_SUCCESS);
    CHECK_EQ(dst.Length, 8);
    CHECK(wcs_equal(buf, L"abcd", 4));
    CHECK_EQ(buf[4], '#');
    CHECK_EQ(RtlAppendUnicodeStringToString(&dst, &src), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(dst.Length, 8);

    dst.Length = 4;
    dst.MaximumLength = 10;
    CHECK_EQ(RtlAppendUnicodeToString(&dst, L"xy"), STATUS_SUCCESS);
    CHECK_EQ(dst.Length, 8);
    CHECK(wcs_equal(buf, L"abxy", 5)); /* terminated this time */
    CHECK_EQ(RtlAppendUnicodeToString(&dst, L"z"), STATUS_SUCCESS);
    CHECK_EQ(dst.Length, 10);
    CHECK_EQ(RtlAppendUnicodeToString(&dst, L"z"), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(RtlAppendUnicodeToString(&dst, NULL), STATUS_SUCCESS);
    CHECK_EQ(RtlAppendUnicodeToString(&dst, L""), STATUS_SUCCESS);
    CHECK_EQ(dst.Length, 10);

    /* Empty source into a full (even zero-size) destination is fine. */
    UNICODE_STRING none = {0, 0, NULL};
    UNICODE_STRING zero = {0, 0, NULL};
    CHECK_EQ(RtlAppendUnicodeStringToString(&zero, &none), STATUS_SUCCESS);
    CHECK_EQ(RtlAppendUnicodeStringToString(NULL, &none), STATUS_INVALID_PARAMETER);
    check_no_leak();
}

static void test_compare(void)
{
    UNICODE_STRING a, b;
    RtlInitUnicodeString(&a, L"abc");
    RtlInitUnicodeString(&b, L"abd");
    CHECK(RtlCompareUnicodeString(&a, &b, FALSE) < 0);
    CHECK(RtlCompareUnicodeString(&b, &a, FALSE) > 0);
    RtlInitUnicodeString(&b, L"ABC");
    CHECK(RtlCompareUnicodeString(&a, &b, FALSE) > 0); /* 'a' > 'A' */
    CHECK_EQ(RtlCompareUnicodeString(&a, &b, TRUE), 0);
    CHECK(RtlEqualUnicodeString(&a, &b, TRUE));
    CHECK(!RtlEqualUnicodeString(&a, &b, FALSE));
    RtlInitUnicodeString(&b, L"ab");
    CHECK(RtlCompareUnicodeString(&b, &a, FALSE) < 0);
    CHECK(!RtlEqualUnicodeString(&a, &b, FALSE));
    RtlInitUnicodeString(&a, L"\u00e9t\u00e9 \u03b1\u0436");
    RtlInitUnicodeString(&b, L"\u00c9T\u00c9 \u0391\u0416");
    CHECK(RtlEqualUnicodeString(&a, &b, TRUE));
    CHECK(!RtlEqualUnicodeString(&a, &b, FALSE));

    STRING s1, s2;
    RtlInitString(&s1, "Hello");
    RtlInitString(&s2, "hELLO");
    CHECK(RtlEqualString(&s1, &s2, TRUE));
    CHECK(!RtlEqualString(&s1, &s2, FALSE));
    CHECK(RtlCompareString(&s1, &s2, FALSE) < 0);
    RtlInitString(&s1, "\xe9");
    RtlInitString(&s2, "\xc9");
    CHECK(!RtlEqualString(&s1, &s2, TRUE)); /* RtlUpperChar is ASCII-only */
    RtlInitString(&s1, "\x80");
    RtlInitString(&s2, "a");
    CHECK(RtlCompareString(&s1, &s2, FALSE) < 0); /* signed CHAR, as on Windows */
    RtlInitString(&s1, "abc");
    RtlInitString(&s2, "abcd");
    CHECK(RtlCompareString(&s1, &s2, TRUE) < 0);

    CHECK_EQ(RtlUpcaseUnicodeChar('a'), 'A');
    CHECK_EQ(RtlUpcaseUnicodeChar('1'), '1');
    CHECK_EQ(RtlUpcaseUnicodeChar(0xE9), 0xC9);
    CHECK_EQ(RtlUpcaseUnicodeChar(0xF7), 0xF7);
    CHECK_EQ(RtlUpcaseUnicodeChar(0xFF), 0x178);
    CHECK_EQ(RtlUpcaseUnicodeChar(0xB5), 0xB5);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x101), 0x100);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x13A), 0x139);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x3C3), 0x3A3);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x3C2), 0x3C2);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x3AC), 0x386);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x430), 0x410);
    CHECK_EQ(RtlUpcaseUnicodeChar(0x451), 0x401);
    /* Windows' RtlUpperChar changes a..z only. */
    for (int c = 0; c < 256; c++) {
        CHAR expect = (c >= 'a' && c <= 'z') ? (CHAR)(c - 32) : (CHAR)c;
        if (RtlUpperChar((CHAR)c) != expect)
            WT_FAIL("RtlUpperChar(0x%02x)", c);
    }

    CHECK_EQ(RtlCompareMemory("abcdef", "abcxef", 6), 3);
    CHECK_EQ(RtlCompareMemory("abcdef", "abcdef", 6), 6);
    CHECK_EQ(RtlCompareMemory("abc", "xbc", 3), 0);
    CHECK_EQ(RtlCompareMemory("abc", "xbc", 0), 0);
    check_no_leak();
}

static void test_integer_to_string(void)
{
    WCHAR buf[40];
    UNICODE_STRING us;
    static const struct {
        ULONG value, base;
        const WCHAR *text;
    } cases[] = {
        {123, 10, L"123"},
        {0x80000000u, 0, L"2147483648"},
        {4294967295u, 10, L"4294967295"},
        {0, 10, L"0"},
        {0xFFFFFFFEu, 16, L"FFFFFFFE"},
        {0xA, 16, L"A"},
        {1000, 2, L"1111101000"},
        {4294967295u, 2, L"11111111111111111111111111111111"},
        {2147483647, 8, L"17777777777"},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        RtlInitEmptyUnicodeString(&us, buf, sizeof buf);
        CHECK_EQ(RtlIntegerToUnicodeString(cases[i].value, cases[i].base, &us), STATUS_SUCCESS);
        size_t n = 0;
        while (cases[i].text[n])
            n++;
        CHECK_EQ(us.Length, n * 2);
        CHECK(wcs_equal(buf, cases[i].text, n + 1));
    }
    /* Exactly the digits: success without terminator. */
    for (int i = 0; i < 40; i++)
        buf[i] = '-';
    RtlInitEmptyUnicodeString(&us, buf, 16);
    CHECK_EQ(RtlIntegerToUnicodeString(0xFFFFFFFFu, 16, &us), STATUS_SUCCESS);
    CHECK_EQ(us.Length, 16);
    CHECK_EQ(buf[8], '-');
    /* Too short: overflow, Length = size needed, buffer unchanged. */
    for (int i = 0; i < 40; i++)
        buf[i] = '-';
    RtlInitEmptyUnicodeString(&us, buf, 14);
    CHECK_EQ(RtlIntegerToUnicodeString(0xFFFFFFFFu, 16, &us), STATUS_BUFFER_OVERFLOW);
    CHECK_EQ(us.Length, 16);
    CHECK_EQ(buf[0], '-');
    RtlInitEmptyUnicodeString(&us, buf, sizeof buf);
    CHECK_EQ(RtlIntegerToUnicodeString(1, 20, &us), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIntegerToUnicodeString(1, 3, &us), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIntegerToUnicodeString(1, 10, NULL), STATUS_INVALID_PARAMETER);
}

static void test_string_to_integer(void)
{
    static const struct {
        ULONG base;
        const char *text;
        ULONG value;
    } cases[] = {
        {0, "1234567", 1234567},
        {0, "-214", (ULONG)-214},
        {0, "+214", 214},
        {0, "--214", 0},
        {0, "\001\002\003\00411", 11},
        {0, " \n \r \t-214", (ULONG)-214},
        {0, "+214 0", 214},
        {0, " 214.01", 214},
        {0, "f81", 0},
        {0, "0x12345", 0x12345},
        {0, "00x12345", 0},
        {0, "1x34", 1},
        {0, "-9999999999", (ULONG)-1410065407}, /* wraps modulo 2^32 */
        {0, "-2147483649", 2147483647},
        {0, "4294967295", 4294967295u},
        {0, "4294967296", 0},
        {0, "056789", 56789}, /* leading zero is still decimal */
        {0, "0b1011101100", 748},
        {0, "-0b1011101100", (ULONG)-748},
        {0, "0b10123456789", 5},
        {0, "0o1234567", 01234567},
        {0, "0o56789", 0567},
        {0, "0x89abcdef", 0x89abcdef},
        {0, "-0xFEDCBA00", 19088896},
        {0, "0xABCDEFGH", 0xABCDEF},
        {0, "0x", 0},
        {0, "", 0},
        {2, "1011101100", 748},
        {2, "0b1011101100", 0},
        {8, "1011101100", 136610368},
        {10, "0x1011101100", 0},
        {16, "1011101100", 286265600},
        {16, "0x1011101100", 0},
        {16, "0b1011101100", 286265600},
        {16, "g", 0},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        ULONG v = 0xdeadbeef;
        NTSTATUS st = RtlCharToInteger(cases[i].text, cases[i].base, &v);
        if (st != STATUS_SUCCESS || v != cases[i].value)
            WT_FAIL("RtlCharToInteger(\"%s\", %u) = 0x%x, %u; expected %u", cases[i].text, cases[i].base,
                    (unsigned)st, v, cases[i].value);

        WCHAR wide[32];
        size_t n = strlen(cases[i].text);
        for (size_t k = 0; k <= n; k++)
            wide[k] = (unsigned char)cases[i].text[k];
        UNICODE_STRING us;
        RtlInitUnicodeString(&us, wide);
        v = 0xdeadbeef;
        st = RtlUnicodeStringToInteger(&us, cases[i].base, &v);
        if (st != STATUS_SUCCESS || v != cases[i].value)
            WT_FAIL("RtlUnicodeStringToInteger(\"%s\", %u) = 0x%x, %u; expected %u", cases[i].text,
                    cases[i].base, (unsigned)st, v, cases[i].value);
    }

    ULONG v = 0xdeadbeef;
    CHECK_EQ(RtlCharToInteger("0", 20, &v), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlCharToInteger("0", (ULONG)-8, &v), STATUS_INVALID_PARAMETER);
    CHECK_EQ(v, 0xdeadbeef);
    CHECK_EQ(RtlCharToInteger("12", 10, NULL), STATUS_ACCESS_VIOLATION);
    CHECK_EQ(RtlCharToInteger("12", 20, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlCharToInteger(NULL, 10, &v), STATUS_INVALID_PARAMETER);

    /* Only Length counts, an odd Length rounds down. */
    UNICODE_STRING us;
    RtlInitUnicodeString(&us, L"1234567");
    us.Length = 10;
    CHECK_EQ(RtlUnicodeStringToInteger(&us, 0, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 12345);
    us.Length = 5;
    CHECK_EQ(RtlUnicodeStringToInteger(&us, 0, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 12);
    us.Length = 0;
    CHECK_EQ(RtlUnicodeStringToInteger(&us, 0, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(RtlUnicodeStringToInteger(&us, 0, NULL), STATUS_ACCESS_VIOLATION);
    CHECK_EQ(RtlUnicodeStringToInteger(&us, 7, &v), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlUnicodeStringToInteger(NULL, 10, &v), STATUS_INVALID_PARAMETER);
}

static void test_version(void)
{
    RTL_OSVERSIONINFOW vi;
    memset(&vi, 0xAA, sizeof vi);
    vi.dwOSVersionInfoSize = sizeof vi;
    CHECK_EQ(RtlGetVersion(&vi), STATUS_SUCCESS);
    CHECK_EQ(vi.dwMajorVersion, 10);
    CHECK_EQ(vi.dwMinorVersion, 0);
    CHECK_EQ(vi.dwBuildNumber, 19045);
    CHECK_EQ(vi.dwPlatformId, VER_PLATFORM_WIN32_NT);
    CHECK_EQ(vi.szCSDVersion[0], 0);
    CHECK_EQ(vi.dwOSVersionInfoSize, sizeof vi);

    RTL_OSVERSIONINFOEXW ex;
    memset(&ex, 0xAA, sizeof ex);
    ex.dwOSVersionInfoSize = sizeof ex;
    CHECK_EQ(RtlGetVersion((PRTL_OSVERSIONINFOW)&ex), STATUS_SUCCESS);
    CHECK_EQ(ex.dwMajorVersion, 10);
    CHECK_EQ(ex.dwBuildNumber, 19045);
    CHECK_EQ(ex.wProductType, VER_NT_WORKSTATION);
    CHECK_EQ(ex.wServicePackMajor, 0);
    CHECK_EQ(ex.wServicePackMinor, 0);
    CHECK_EQ(ex.wReserved, 0);
    CHECK_EQ(sizeof(RTL_OSVERSIONINFOW), 276);
    CHECK_EQ(sizeof(RTL_OSVERSIONINFOEXW), 284);

    vi.dwOSVersionInfoSize = 100;
    CHECK_EQ(RtlGetVersion(&vi), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlGetVersion(NULL), STATUS_INVALID_PARAMETER);

    ULONG major = 0, minor = 7, build = 0;
    UNICODE_STRING csd = {9, 9, NULL};
    CHECK_EQ(PsGetVersion(&major, &minor, &build, &csd), FALSE);
    CHECK_EQ(major, 10);
    CHECK_EQ(minor, 0);
    CHECK_EQ(build, 19045);
    CHECK_EQ(csd.Length, 0);
    CHECK(csd.Buffer != NULL);
    CHECK_EQ(PsGetVersion(NULL, NULL, NULL, NULL), FALSE);
    check_no_leak();
}

int main(void)
{
    WT_RUN(test_init);
    WT_RUN(test_ansi_to_unicode);
    WT_RUN(test_unicode_to_ansi);
    WT_RUN(test_utf8_to_unicode_n);
    WT_RUN(test_unicode_to_utf8_n);
    WT_RUN(test_utf8_strings);
    WT_RUN(test_free);
    WT_RUN(test_copy_append);
    WT_RUN(test_compare);
    WT_RUN(test_integer_to_string);
    WT_RUN(test_string_to_integer);
    WT_RUN(test_version);
    return wt_finish();
}
