/*
 * test_etw.c - ETW providers (EtwRegister, EtwWrite and friends,
 * EtwActivityIdControl) and TraceLogging (TraceLoggingProvider.h) against
 * the emulated session: nothing is printed or evaluated while providers are
 * disabled; once enabled (OPENWSK_ETW=1, or openwsk_etw_configure), enable
 * callbacks run, level and keyword filters apply, and each event prints its
 * provider, descriptor and data.  Also compiled as C++11
 * (tests/cxx/test_etw.cpp): drivers written in C++ use the same macros.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, pread, setenv in strict C11 */
#endif
#include <ntddk.h>
#include <TraceLoggingProvider.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wt.h"

#define ETW_REG_TAG TAG_FROM_CHARS('E', 't', 'w', 'R')

/* {8c3e5f60-1a2b-4c5d-8e9f-0a1b2c3d4e5f} */
static const GUID provider_guid = {0x8c3e5f60, 0x1a2b, 0x4c5d, {0x8e, 0x9f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f}};

TRACELOGGING_DECLARE_PROVIDER(g_tlg);
TRACELOGGING_DEFINE_PROVIDER(g_tlg, "OpenWsk.Test.Provider",
                             (0x11223344, 0x5566, 0x7788, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00));

static char captured[16384];
static const char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/test_etw.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof(captured) - 1, 0);
    close(fd);
    captured[n > 0 ? n : 0] = 0;
    return captured;
}

typedef struct callback_log {
    int calls;
    ULONG last_code;
    UCHAR last_level;
    ULONGLONG last_any;
    GUID last_source;
} callback_log;

static VOID NTAPI enable_callback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                  ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData,
                                  PVOID CallbackContext)
{
    callback_log *log = (callback_log *)CallbackContext;
    log->calls++;
    log->last_code = ControlCode;
    log->last_level = Level;
    log->last_any = MatchAnyKeyword;
    log->last_source = *SourceId;
}

static void layouts(void)
{
    CHECK_EQ(sizeof(EVENT_DESCRIPTOR), 16);
    CHECK_EQ(offsetof(EVENT_DESCRIPTOR, Level), 4);
    CHECK_EQ(offsetof(EVENT_DESCRIPTOR, Task), 6);
    CHECK_EQ(offsetof(EVENT_DESCRIPTOR, Keyword), 8);
    CHECK_EQ(sizeof(EVENT_DATA_DESCRIPTOR), 16);
    CHECK_EQ(offsetof(EVENT_DATA_DESCRIPTOR, Size), 8);
    CHECK_EQ(sizeof(EVENT_FILTER_DESCRIPTOR), 16);
    CHECK_EQ(sizeof(REGHANDLE), 8);
}

static REGHANDLE g_handle;
static callback_log g_log;

static void write_sample(void)
{
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 7, 1, 0, 4, 3, 2, 0x1);
    ULONG value = 0x04030201;
    UCHAR bytes[2] = {0xab, 0xcd};
    EVENT_DATA_DESCRIPTOR data[2];
    EventDataDescCreate(&data[0], &value, sizeof(value));
    EventDataDescCreate(&data[1], bytes, sizeof(bytes));
    CHECK_EQ(EtwWrite(g_handle, &d, NULL, 2, data), STATUS_SUCCESS);
}

static void disabled_by_default(void)
{
    memset(&g_log, 0, sizeof(g_log));
    CHECK_EQ(EtwRegister(&provider_guid, enable_callback, &g_log, &g_handle), STATUS_SUCCESS);
    CHECK(g_handle != 0);
    CHECK_EQ(g_log.calls, 0); /* no session: no enable callback */
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 1, 0, 0, 1, 0, 0, 0);
    CHECK(!EtwEventEnabled(g_handle, &d));
    CHECK(!EtwProviderEnabled(g_handle, 0, 0));
    LONG before = openwsk_etw_event_count();
    CHECK_STR(capture_stderr(write_sample), "");
    CHECK_EQ(openwsk_etw_event_count(), before);
}

static void enabled_session_prints_events(void)
{
    openwsk_etw_configure(TRUE, 4, 0x3, 0);
    CHECK_EQ(g_log.calls, 1);
    CHECK_EQ(g_log.last_code, EVENT_CONTROL_CODE_ENABLE_PROVIDER);
    CHECK_EQ(g_log.last_level, 4);
    CHECK_EQ(g_log.last_any, 0x3);
    CHECK(IsEqualGUID(&g_log.last_source, &provider_guid));
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 1, 0, 0, 4, 0, 0, 0x1);
    CHECK(EtwEventEnabled(g_handle, &d));
    d.Level = 5; /* above the session's level */
    CHECK(!EtwEventEnabled(g_handle, &d));
    d.Level = 0; /* level 0: always */
    CHECK(EtwEventEnabled(g_handle, &d));
    d.Keyword = 0x4; /* no keyword in common */
    CHECK(!EtwEventEnabled(g_handle, &d));
    d.Keyword = 0; /* no keyword: any session */
    CHECK(EtwEventEnabled(g_handle, &d));
    CHECK(EtwProviderEnabled(g_handle, 2, 0x2));
    CHECK(!EtwProviderEnabled(g_handle, 5, 0x2));

    LONG before = openwsk_etw_event_count();
    const char *out = capture_stderr(write_sample);
    CHECK_EQ(openwsk_etw_event_count(), before + 1);
    CHECK_STR(out, "openwsk: etw: {8c3e5f60-1a2b-4c5d-8e9f-0a1b2c3d4e5f} id=7 version=1 channel=0 level=4 "
                   "opcode=2 task=3 keyword=0x1 data=01020304 abcd\n");
}

static void write_variants(void)
{
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 9, 0, 0, 2, 0, 0, 0);
    GUID act = {0x01020304, 0x0506, 0x0708, {1, 2, 3, 4, 5, 6, 7, 8}};
    GUID rel = {0xa0a0a0a0, 0xb0b0, 0xc0c0, {9, 9, 9, 9, 9, 9, 9, 9}};
    CHECK_EQ(EtwWriteTransfer(g_handle, &d, &act, &rel, 0, NULL), STATUS_SUCCESS);
    CHECK_EQ(EtwWriteEx(g_handle, &d, 0, 0, NULL, NULL, 0, NULL), STATUS_SUCCESS);
    CHECK_EQ(EtwWriteString(g_handle, 3, 0, NULL, L"hello"), STATUS_SUCCESS);
    CHECK_EQ(EtwWriteString(g_handle, 5, 0, NULL, L"filtered by level"), STATUS_SUCCESS);
    CHECK_EQ(EtwWrite(g_handle, &d, NULL, MAX_EVENT_DATA_DESCRIPTORS + 1, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(EtwSetInformation(g_handle, EventProviderSetTraits, NULL, 0), STATUS_SUCCESS);
}

static void writes_print_ids_and_strings(void)
{
    const char *out = capture_stderr(write_variants);
    CHECK(strstr(out, "id=9 version=0 channel=0 level=2 opcode=0 task=0 keyword=0x0 "
                      "activity={01020304-0506-0708-0102-030405060708} "
                      "related={a0a0a0a0-b0b0-c0c0-0909-090909090909}\n") != NULL);
    CHECK(strstr(out, "level=3 opcode=0 task=0 keyword=0x0 string=\"hello\"\n") != NULL);
    CHECK(strstr(out, "filtered") == NULL);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_EQ(lines, 3);
}

static void register_while_enabled_calls_back(void)
{
    callback_log log;
    memset(&log, 0, sizeof(log));
    REGHANDLE h = 0;
    CHECK_EQ(EtwRegister(&provider_guid, enable_callback, &log, &h), STATUS_SUCCESS);
    CHECK_EQ(log.calls, 1); /* from within EtwRegister */
    CHECK_EQ(log.last_code, EVENT_CONTROL_CODE_ENABLE_PROVIDER);
    CHECK_EQ(EtwUnregister(h), STATUS_SUCCESS);
    CHECK_EQ(EtwUnregister(h), STATUS_INVALID_HANDLE);
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 1, 0, 0, 1, 0, 0, 0);
    CHECK_EQ(EtwWrite(h, &d, NULL, 0, NULL), STATUS_INVALID_HANDLE);
    CHECK(!EtwEventEnabled(h, &d));
    CHECK_EQ(EtwRegister(NULL, NULL, NULL, &h), STATUS_INVALID_PARAMETER);
    /* Disabling calls back too. */
    openwsk_etw_configure(FALSE, 0, 0, 0);
    CHECK_EQ(g_log.last_code, EVENT_CONTROL_CODE_DISABLE_PROVIDER);
    openwsk_etw_configure(TRUE, 255, ~0ULL, 0);
    CHECK_EQ(g_log.last_code, EVENT_CONTROL_CODE_ENABLE_PROVIDER);
}

static GUID thread_seen;
static void *other_thread(void *arg)
{
    (void)arg;
    memset(&thread_seen, 0xff, sizeof(thread_seen));
    EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, &thread_seen);
    return NULL;
}

static void activity_ids(void)
{
    static const GUID zero = {0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
    GUID a, b, cur;
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, &cur), STATUS_SUCCESS);
    CHECK(IsEqualGUID(&cur, &zero));
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_CREATE_ID, &a), STATUS_SUCCESS);
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_CREATE_ID, &b), STATUS_SUCCESS);
    CHECK(!IsEqualGUID(&a, &zero) && !IsEqualGUID(&a, &b));
    EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, &cur);
    CHECK(IsEqualGUID(&cur, &zero)); /* CREATE_ID leaves the thread's id alone */
    cur = a;
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_SET_ID, &cur), STATUS_SUCCESS);
    EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, &cur);
    CHECK(IsEqualGUID(&cur, &a));
    cur = b;
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_SET_ID, &cur), STATUS_SUCCESS);
    CHECK(IsEqualGUID(&cur, &a)); /* the previous id comes back */
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_CREATE_SET_ID, &cur), STATUS_SUCCESS);
    CHECK(IsEqualGUID(&cur, &b));
    EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, &cur);
    CHECK(!IsEqualGUID(&cur, &b) && !IsEqualGUID(&cur, &zero));
    CHECK_EQ(EtwActivityIdControl(6, &cur), STATUS_INVALID_PARAMETER);
    CHECK_EQ(EtwActivityIdControl(EVENT_ACTIVITY_CTRL_GET_ID, NULL), STATUS_INVALID_PARAMETER);
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    CHECK(IsEqualGUID(&thread_seen, &zero)); /* per thread */
    /* Events without an explicit activity carry the thread's. */
    EVENT_DESCRIPTOR d;
    EventDescCreate(&d, 1, 0, 0, 1, 0, 0, 0);
    const char *out = capture_stderr(write_sample);
    CHECK(strstr(out, " activity={") != NULL);
    EtwActivityIdControl(EVENT_ACTIVITY_CTRL_SET_ID, (LPGUID)&zero);
}

static int evaluations;
static int counted(int v)
{
    evaluations++;
    return v;
}

static void tlg_events(void)
{
    int answer = 42;
    const char *text = "text";
    const WCHAR *wide = L"wide";
    GUID g = {0x01020304, 0x0506, 0x0708, {1, 2, 3, 4, 5, 6, 7, 8}};
    static WCHAR ustr[] = L"ustr";
    UNICODE_STRING us;
    RtlInitUnicodeString(&us, ustr);
    UCHAR blob[3] = {1, 2, 0xff};
    TraceLoggingWrite(g_tlg, "NoFields");
    TraceLoggingWrite(g_tlg, "Numbers", TraceLoggingLevel(WINEVENT_LEVEL_INFO), TraceLoggingKeyword(0x10),
                      TraceLoggingInt32(-5), TraceLoggingUInt32(7u, "seven"), TraceLoggingInt64(-(1LL << 40)),
                      TraceLoggingUInt64(1ULL << 63), TraceLoggingHexInt32(0xbeef, "hex", "a description"),
                      TraceLoggingHexUInt64(0xfeedULL), TraceLoggingBool(2, "flag"),
                      TraceLoggingBoolean(FALSE, "off"), TraceLoggingNTStatus(STATUS_INVALID_PARAMETER, "status"),
                      TraceLoggingPointer((void *)0x1000, "ptr"), TraceLoggingFloat64(0.5, "half"),
                      TraceLoggingChar('x', "ch"), TraceLoggingInt32(counted(1), "evaluated"));
    TraceLoggingWrite(g_tlg, "Strings", TraceLoggingOpcode(WINEVENT_OPCODE_START), TraceLoggingString(text),
                      TraceLoggingString(NULL, "nullstr"), TraceLoggingWideString(wide, "w"),
                      TraceLoggingUnicodeString(&us, "u"), TraceLoggingCountedString(text, 2, "counted"),
                      TraceLoggingGuid(g, "guid"), TraceLoggingBinary(blob, sizeof(blob), "blob"));
    TraceLoggingWrite(g_tlg, "Values", TraceLoggingValue(answer), TraceLoggingValue(7u, "u"),
                      TraceLoggingValue(text, "s"), TraceLoggingValue(wide, "ws"), TraceLoggingValue(g, "g"),
                      TraceLoggingValue(2.5, "d"), TraceLoggingValue((void *)0x20, "p"));
    TraceLoggingWrite(g_tlg, "Nested", TraceLoggingStruct(2, "point"), TraceLoggingInt32(3, "x"),
                      TraceLoggingInt32(4, "y"), TraceLoggingInt32(5, "after"));
    TraceLoggingWrite(g_tlg, "TooVerbose", TraceLoggingLevel(WINEVENT_LEVEL_VERBOSE), TraceLoggingInt32(1, "v"));
    GUID act = {0xaaaaaaaa, 0xbbbb, 0xcccc, {0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd}};
    TraceLoggingWriteActivity(g_tlg, "WithActivity", &act, NULL, TraceLoggingLevel(1));
}

static void tracelogging_disabled_evaluates_nothing(void)
{
    openwsk_etw_configure(FALSE, 0, 0, 0);
    CHECK_EQ(TraceLoggingRegister(g_tlg), STATUS_SUCCESS);
    CHECK_EQ(TraceLoggingRegister(g_tlg), STATUS_INVALID_PARAMETER); /* already registered */
    CHECK(!TraceLoggingProviderEnabled(g_tlg, 0, 0));
    static const GUID tlg_guid = {0x11223344, 0x5566, 0x7788, {0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00}};
    CHECK(IsEqualGUID(TraceLoggingProviderId(g_tlg), &tlg_guid));
    evaluations = 0;
    CHECK_STR(capture_stderr(tlg_events), "");
    CHECK_EQ(evaluations, 0);
}

static void tracelogging_enabled_prints_fields(void)
{
    openwsk_etw_configure(TRUE, WINEVENT_LEVEL_INFO, ~0ULL, 0);
    CHECK(TraceLoggingProviderEnabled(g_tlg, WINEVENT_LEVEL_INFO, 0x10));
    CHECK(!TraceLoggingProviderEnabled(g_tlg, WINEVENT_LEVEL_VERBOSE, 0));
    evaluations = 0;
    const char *out = capture_stderr(tlg_events);
    CHECK_EQ(evaluations, 1);
    fprintf(stderr, "%s", out);
    /* Events without TraceLoggingLevel are verbose (5): filtered at 4. */
    CHECK(strstr(out, "\"NoFields\"") == NULL);
    CHECK(strstr(out, "TooVerbose") == NULL);
    CHECK(strstr(out, "openwsk: tracelogging: OpenWsk.Test.Provider {11223344-5566-7788-99aa-bbccddeeff00} "
                      "\"Numbers\" level=4 keyword=0x10 opcode=0\n"
                      "  -5=-5\n  seven=7\n  -(1LL << 40)=-1099511627776\n  1ULL << 63=9223372036854775808\n"
                      "  hex=0xbeef\n  0xfeedULL=0xfeed\n  flag=true\n  off=false\n  status=0xC000000D\n"
                      "  ptr=0x1000\n  half=0.5\n  ch='x'\n  evaluated=1\n") != NULL);
    CHECK(strstr(out, "\"WithActivity\" level=1 keyword=0x0 opcode=0 "
                      "activity={aaaaaaaa-bbbb-cccc-dddd-dddddddddddd}\n") != NULL);
    /* Strings, Values and Nested are verbose too; enable everything. */
    openwsk_etw_configure(TRUE, 255, ~0ULL, 0);
    out = capture_stderr(tlg_events);
    CHECK(strstr(out, "\"NoFields\" level=5 keyword=0x0 opcode=0\nopenwsk:") != NULL);
    CHECK(strstr(out, "\"Strings\" level=5 keyword=0x0 opcode=1\n  text=\"text\"\n  nullstr=(null)\n"
                      "  w=\"wide\"\n  u=\"ustr\"\n  counted=\"te\"\n"
                      "  guid={01020304-0506-0708-0102-030405060708}\n  blob=0102ff\n") != NULL);
    CHECK(strstr(out, "\"Values\" level=5 keyword=0x0 opcode=0\n  answer=42\n  u=7\n  s=\"text\"\n  ws=\"wide\"\n"
                      "  g={01020304-0506-0708-0102-030405060708}\n  d=2.5\n  p=0x20\n") != NULL);
    CHECK(strstr(out, "\"Nested\" level=5 keyword=0x0 opcode=0\n  point.x=3\n  point.y=4\n  after=5\n") != NULL);
    CHECK(strstr(out, "\"TooVerbose\"") != NULL);
    TraceLoggingUnregister(g_tlg);
    CHECK(!TraceLoggingProviderEnabled(g_tlg, 0, 0));
    CHECK_STR(capture_stderr(tlg_events), "");
}

/* Writers on several threads while the session toggles and providers come
 * and go: no event is lost or printed twice when enabled throughout, and
 * TSan sees no race. */
static volatile int stop_writers;
static void *writer_thread(void *arg)
{
    (void)arg;
    REGHANDLE h;
    ULONG i = 0;
    while (!__atomic_load_n(&stop_writers, __ATOMIC_ACQUIRE)) {
        if (!NT_SUCCESS(EtwRegister(&provider_guid, NULL, NULL, &h)))
            continue;
        EVENT_DESCRIPTOR d;
        EventDescCreate(&d, 3, 0, 0, 4, 0, 0, 0);
        EVENT_DATA_DESCRIPTOR data;
        EventDataDescCreate(&data, &i, sizeof(i));
        EtwWrite(h, &d, NULL, 1, &data);
        TraceLoggingWrite(g_tlg, "Threaded", TraceLoggingLevel(4), TraceLoggingUInt32(i, "i"));
        EtwUnregister(h);
        i++;
    }
    return NULL;
}

static void run_writers(void)
{
    pthread_t t[4];
    stop_writers = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer_thread, NULL);
    for (int round = 0; round < 200; round++)
        openwsk_etw_configure((BOOLEAN)(round & 1), 255, ~0ULL, 0);
    __atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

static void concurrent_writers_and_toggles(void)
{
    CHECK_EQ(TraceLoggingRegister(g_tlg), STATUS_SUCCESS);
    capture_stderr(run_writers);
    /* Every printed event is a whole line starting with our prefix. */
    for (const char *line = captured; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) { /* only the capture's cut may end mid-line */
            CHECK_EQ(strlen(captured), sizeof(captured) - 1);
            break;
        }
        CHECK(strncmp(line, "openwsk: ", 9) == 0 || strncmp(line, "  i=", 4) == 0);
        line = end + 1;
    }
    TraceLoggingUnregister(g_tlg);
    CHECK_EQ(openwsk_pool_outstanding_count(ETW_REG_TAG), 1); /* g_handle only */
}

static void unregister_leaves_no_pool(void)
{
    CHECK_EQ(EtwUnregister(g_handle), STATUS_SUCCESS);
    CHECK_EQ(openwsk_pool_outstanding_count(ETW_REG_TAG), 0);
}

/* OPENWSK_ETW=1 in the environment: a child process with it set prints an
 * event; one without prints nothing. */
static int child_main(void)
{
    REGHANDLE h;
    if (!NT_SUCCESS(EtwRegister(&provider_guid, NULL, NULL, &h)))
        return 2;
    g_handle = h;
    write_sample();
    EtwUnregister(h);
    return 0;
}

static const char *run_child(const char *etw_value)
{
    static char out[4096];
    int fds[2];
    out[0] = 0;
    if (pipe(fds) != 0)
        return out;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        if (etw_value)
            setenv("OPENWSK_ETW", etw_value, 1);
        else
            unsetenv("OPENWSK_ETW");
        execl("/proc/self/exe", "test_etw", "--child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return out;
}

static void environment_enables_session(void)
{
    CHECK(strstr(run_child("1"), "openwsk: etw: {8c3e5f60-1a2b-4c5d-8e9f-0a1b2c3d4e5f} id=7 ") != NULL);
    CHECK(strstr(run_child("0"), "openwsk: etw:") == NULL);
    CHECK(strstr(run_child(NULL), "openwsk: etw:") == NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main();
    unsetenv("OPENWSK_ETW"); /* the default: no session */
    WT_RUN(layouts);
    WT_RUN(disabled_by_default);
    WT_RUN(enabled_session_prints_events);
    WT_RUN(writes_print_ids_and_strings);
    WT_RUN(register_while_enabled_calls_back);
    WT_RUN(activity_ids);
    WT_RUN(tracelogging_disabled_evaluates_nothing);
    WT_RUN(tracelogging_enabled_prints_fields);
    WT_RUN(concurrent_writers_and_toggles);
    WT_RUN(unregister_leaves_no_pool);
    WT_RUN(environment_enables_session);
    return wt_finish();
}
