/*
 * test_wpp.c - a WPP-instrumented source builds unmodified: it includes its
 * generated .tmh (made by openwsk_wpp_tmh in CMake) and its trace calls come
 * out through DbgPrintEx with the %!...! forms rewritten.
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

int main(void)
{
    WT_RUN(trace_messages_are_rewritten);
    return wt_finish();
}
