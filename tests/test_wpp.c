/*
 * test_wpp.c - a WPP-instrumented source builds unmodified: it includes its
 * generated .tmh (made by openwsk_wpp_tmh in CMake) and its trace calls come
 * out through DbgPrintEx with the %!...! forms rewritten, one line each.
 */
#include <ntddk.h>

#define WPP_CONTROL_GUIDS                                                               \
    WPP_DEFINE_CONTROL_GUID(OpenwskTest, (6a8f0d1e, 3b2c, 4d5e, 9f01, 23456789abcd), \
                            WPP_DEFINE_BIT(TRACE_INIT) WPP_DEFINE_BIT(TRACE_IO))

#include "test_wpp.tmh"

#include <string.h>

#include "kernel/dbgprint_internal.h"
#include "wt.h"

static char captured[2048];

static void capture(const char *text, size_t len)
{
    size_t used = strlen(captured);
    if (used + len < sizeof(captured)) {
        memcpy(captured + used, text, len);
        captured[used + len] = '\0';
    }
}

static void traced_function(PDRIVER_OBJECT driver, PUNICODE_STRING path)
{
    WPP_INIT_TRACING(driver, path);
    DoTraceMessage(TRACE_INIT, "%!FUNC!: status %!STATUS! at line %!LINE! of %!FILE!, ok=%!bool!", STATUS_PENDING, 1);
    TraceEvents(TRACE_LEVEL_ERROR, TRACE_IO, "bytes %Iu, 100%% done", (SIZE_T)512);
    WPP_CLEANUP(driver);
}

static void trace_messages_are_rewritten(void)
{
    captured[0] = '\0';
    openwsk_dbg_set_sink(capture);
    openwsk_dbg_set_mask(0xFFFFFFFF);
    traced_function(NULL, NULL);
    openwsk_dbg_set_sink(NULL);
    CHECK(strstr(captured, "[TRACE_INIT] traced_function: status 0x00000103 at line ") != NULL);
    CHECK(strstr(captured, " of test_wpp.c, ok=1") != NULL);
    CHECK(strstr(captured, "[TRACE_IO] bytes 512, 100% done") != NULL);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* WPP messages carry no line ending; each must still come out as a line of
 * its own, also when it ends in one already or fills the 512 bytes. */
static void each_message_is_one_line(void)
{
    static char long_text[700];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';

    captured[0] = '\0';
    openwsk_dbg_set_sink(capture);
    openwsk_dbg_set_mask(0xFFFFFFFF);
    DoTraceMessage(TRACE_INIT, "first message %d", 1);
    TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_IO, "second message");
    openwsk_dbg_set_sink(NULL);
    CHECK_STR(captured, "[TRACE_INIT] first message 1\n[TRACE_IO] second message\n");

    captured[0] = '\0';
    openwsk_dbg_set_sink(capture);
    DoTraceMessage(TRACE_INIT, "has its own\n");
    DoTraceMessage(TRACE_IO, "%s", long_text);
    DoTraceMessage(TRACE_INIT, "after the long one");
    openwsk_dbg_set_sink(NULL);
    CHECK_EQ(count_char(captured, '\n'), 3);
    const char *start = "[TRACE_INIT] has its own\n[TRACE_IO] xxx";
    CHECK(strncmp(captured, start, strlen(start)) == 0);
    const char *last = strstr(captured, "[TRACE_INIT] after the long one\n");
    CHECK(last != NULL);
    /* The long message is cut to 512 bytes including its line ending. */
    if (last != NULL)
        CHECK_EQ(last - (captured + strlen("[TRACE_INIT] has its own\n")), OPENWSK_DBG_MAX_MESSAGE);
}

int main(void)
{
    WT_RUN(trace_messages_are_rewritten);
    WT_RUN(each_message_is_one_line);
    return wt_finish();
}
