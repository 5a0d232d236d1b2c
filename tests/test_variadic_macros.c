/*
 * test_variadic_macros.c - the headers' variadic entry points accept the
 * empty last argument that MSVC's preprocessor makes disappear: a driver's
 * LOG(x, ...) DbgPrint((x), __VA_ARGS__) called as LOG("text") expands to
 * DbgPrint(("text"), ) with gcc and clang.  The output must be right with
 * and without arguments, and the plain names must still be functions.
 *
 * Built three times (tests/CMakeLists.txt): as gnu11, as strict c11 and
 * as C++, all with the warning flags of our own code.
 */
#ifndef DBG
#define DBG 1 /* KdPrint and KdPrintEx print only in checked builds */
#endif
#include <ntddk.h>
#include <ntstrsafe.h>
#include <openwsk_wpp.h>

#include <string.h>

#include "kernel/dbgprint_internal.h"
#include "wt.h"

/* Driver-style logging macros, written for MSVC. */
#define LOG(x, ...) DbgPrint((x), __VA_ARGS__)
#define LOG_EX(level, x, ...) DbgPrintEx(DPFLTR_IHVDRIVER_ID, level, x, __VA_ARGS__)
#define LOG_KD(x, ...) KdPrint((x, __VA_ARGS__))
#define LOG_KD_EX(x, ...) KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, x, __VA_ARGS__))
#define LOG_CTRLC(x, ...) DbgPrintReturnControlC(x, __VA_ARGS__)
#define LOG_WPP(x, ...) DoTraceMessage(TRACE_TEST, x, __VA_ARGS__)
#define FORMAT_CB(buf, x, ...) RtlStringCbPrintfA(buf, sizeof(buf), x, __VA_ARGS__)
#define FORMAT_CCH(buf, x, ...) RtlStringCchPrintfA(buf, sizeof(buf), x, __VA_ARGS__)
#define FORMAT_CB_W(buf, x, ...) RtlStringCbPrintfW(buf, sizeof(buf), x, __VA_ARGS__)
#define FORMAT_CCH_W(buf, x, ...) RtlStringCchPrintfW(buf, sizeof(buf) / sizeof(WCHAR), x, __VA_ARGS__)
#define FORMAT_US(us, x, ...) RtlUnicodeStringPrintf(us, x, __VA_ARGS__)

static char captured[4096];

static void capture(const char *text, size_t len)
{
    size_t used = strlen(captured);
    if (used + len < sizeof(captured)) {
        memcpy(captured + used, text, len);
        captured[used + len] = '\0';
    }
}

static void capture_start(void)
{
    captured[0] = '\0';
    openwsk_dbg_set_mask(0xFFFFFFFFu);
    openwsk_dbg_set_sink(capture);
}

/* The UTF-16 text equals the ASCII text. */
static int wide_equals(const WCHAR *w, size_t units, const char *ascii)
{
    size_t n = strlen(ascii);
    if (units != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] != (WCHAR)(unsigned char)ascii[i])
            return 0;
    return 1;
}

static size_t wide_length(const WCHAR *w)
{
    size_t n = 0;
    while (w[n] != 0)
        n++;
    return n;
}

static void dbgprint_with_and_without_arguments(void)
{
    capture_start();
    LOG("plain text\n");
    LOG("value %d, %s\n", 42, "str");
    DbgPrint("direct\n");
    DbgPrint("direct %u\n", 7u);
    DbgPrint("empty last argument\n", );
    openwsk_dbg_set_sink(NULL);
    CHECK_STR(captured,
              "plain text\nvalue 42, str\ndirect\ndirect 7\nempty last argument\n");
}

static void dbgprintex_and_kdprint(void)
{
    capture_start();
    LOG_EX(DPFLTR_ERROR_LEVEL, "ex plain\n");
    LOG_EX(DPFLTR_ERROR_LEVEL, "ex %d\n", -3);
    LOG_KD("kd plain\n");
    LOG_KD("kd %s\n", "arg");
    KdPrint(("kd direct %d\n", 1));
    LOG_KD_EX("kdex plain\n");
    LOG_KD_EX("kdex %lu\n", (ULONG)9);
    LOG_CTRLC("ctrlc plain\n");
    LOG_CTRLC("ctrlc %x\n", 255u);
    openwsk_dbg_set_sink(NULL);
    CHECK_STR(captured, "ex plain\nex -3\nkd plain\nkd arg\nkd direct 1\nkdex plain\nkdex 9\n"
                        "ctrlc plain\nctrlc ff\n");
}

static void plain_names_are_functions(void)
{
    ULONG (*print)(PCSTR, ...) = &DbgPrint;
    ULONG (*print_ex)(ULONG, ULONG, PCSTR, ...) = DbgPrintEx;
    NTSTATUS (*cb_printf)(NTSTRSAFE_PSTR, size_t, NTSTRSAFE_PCSTR, ...) = &RtlStringCbPrintfA;
    capture_start();
    print("through a pointer %d\n", 1);
    print_ex(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "ex through a pointer\n");
    (DbgPrint)("parenthesised %s\n", "name");
    openwsk_dbg_set_sink(NULL);
    CHECK_STR(captured, "through a pointer 1\nex through a pointer\nparenthesised name\n");
    char buf[32];
    CHECK_EQ(cb_printf(buf, sizeof(buf), "%d-%d", 1, 2), STATUS_SUCCESS);
    CHECK_STR(buf, "1-2");
}

static void ntstrsafe_with_and_without_arguments(void)
{
    char a[64];
    CHECK_EQ(FORMAT_CB(a, "no arguments"), STATUS_SUCCESS);
    CHECK_STR(a, "no arguments");
    CHECK_EQ(FORMAT_CB(a, "%d+%d", 2, 3), STATUS_SUCCESS);
    CHECK_STR(a, "2+3");
    CHECK_EQ(FORMAT_CCH(a, "cch"), STATUS_SUCCESS);
    CHECK_STR(a, "cch");
    CHECK_EQ(FORMAT_CCH(a, "cch %s", "arg"), STATUS_SUCCESS);
    CHECK_STR(a, "cch arg");

    WCHAR w[64];
    CHECK_EQ(FORMAT_CB_W(w, L"wide"), STATUS_SUCCESS);
    CHECK(wide_equals(w, wide_length(w), "wide"));
    CHECK_EQ(FORMAT_CB_W(w, L"wide %d", 5), STATUS_SUCCESS);
    CHECK(wide_equals(w, wide_length(w), "wide 5"));
    CHECK_EQ(FORMAT_CCH_W(w, L"cch wide"), STATUS_SUCCESS);
    CHECK(wide_equals(w, wide_length(w), "cch wide"));
    CHECK_EQ(FORMAT_CCH_W(w, L"cch wide %hs", "x"), STATUS_SUCCESS);
    CHECK(wide_equals(w, wide_length(w), "cch wide x"));

    UNICODE_STRING us;
    us.Buffer = w;
    us.Length = 0;
    us.MaximumLength = sizeof(w);
    CHECK_EQ(FORMAT_US(&us, L"us"), STATUS_SUCCESS);
    CHECK(wide_equals(w, us.Length / sizeof(WCHAR), "us"));
    CHECK_EQ(FORMAT_US(&us, L"us %u", 10u), STATUS_SUCCESS);
    CHECK(wide_equals(w, us.Length / sizeof(WCHAR), "us 10"));
}

static void wpp_with_and_without_arguments(void)
{
    capture_start();
    LOG_WPP("wpp plain");
    LOG_WPP("wpp %d", 8);
    openwsk_dbg_set_sink(NULL);
    CHECK(strstr(captured, "[TRACE_TEST] wpp plain") != NULL);
    CHECK(strstr(captured, "[TRACE_TEST] wpp 8") != NULL);
}

int main(void)
{
    WT_RUN(dbgprint_with_and_without_arguments);
    WT_RUN(dbgprintex_and_kdprint);
    WT_RUN(plain_names_are_functions);
    WT_RUN(ntstrsafe_with_and_without_arguments);
    WT_RUN(wpp_with_and_without_arguments);
    return wt_finish();
}
