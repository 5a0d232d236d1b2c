/*
 * test_dbgprint.c - DbgPrint/DbgPrintEx: the Microsoft format rules, the
 * 512-byte limit, the single write to stderr and the importance filter
 * (including OPENWSK_DBGPRINT_MASK, checked in child processes).
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include "kernel/dbgprint_internal.h"
#include "wt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static char fmt_buf[2048];

/* Formats with the Microsoft formatter into fmt_buf. */
static const char *F(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    openwsk_dbg_format(fmt_buf, sizeof fmt_buf, fmt, ap);
    va_end(ap);
    return fmt_buf;
}

static size_t FL(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = openwsk_dbg_format(out, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- capture sink ---- */
static char sink_text[4096];
static size_t sink_len;
static int sink_calls;

static void capture(const char *text, size_t len)
{
    if (sink_len + len < sizeof sink_text) {
        memcpy(sink_text + sink_len, text, len);
        sink_len += len;
        sink_text[sink_len] = '\0';
    }
    sink_calls++;
}

static void capture_reset(void)
{
    sink_len = 0;
    sink_text[0] = '\0';
    sink_calls = 0;
}

static void capture_begin(ULONG mask)
{
    capture_reset();
    openwsk_dbg_set_mask(mask);
    openwsk_dbg_set_sink(capture);
}

static void capture_end(void)
{
    openwsk_dbg_set_sink(NULL);
    openwsk_dbg_set_mask(0xFFFFFFFFu);
}

static void check_no_leak(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

/* ===================================================================== */

static void test_integers(void)
{
    CHECK_STR(F("%d", -5), "-5");
    CHECK_STR(F("%i", 42), "42");
    CHECK_STR(F("%u", 4294967295u), "4294967295");
    CHECK_STR(F("%x %X", 0xbeefu, 0xbeefu), "beef BEEF");
    CHECK_STR(F("%o", 8u), "10");
    CHECK_STR(F("[%5d|%-5d|%05d]", 42, 42, 42), "[   42|42   |00042]");
    CHECK_STR(F("%+d % d %+d", 5, 5, -5), "+5  5 -5");
    CHECK_STR(F("%#x %#X %#o", 255u, 255u, 8u), "0xff 0XFF 010");
    CHECK_STR(F("%.3d|%.0d|%8.3x", 7, 0, 10u), "007||     00a");
    CHECK_STR(F("%*d|%-*d|%*d", 6, 42, 4, 1, -4, 2), "    42|1   |2   ");
    CHECK_STR(F("%.*d|%.*d", 4, 5, -1, 6), "0005|6");
    CHECK_STR(F("%05.3d", 7), "  007"); /* precision disables the 0 flag */
}

static void test_microsoft_sizes(void)
{
    /* l is 32-bit: a LONG -1 must not be read as the 64-bit 4294967295. */
    CHECK_STR(F("%ld", (LONG)-1), "-1");
    CHECK_STR(F("%lu", (ULONG)-1), "4294967295");
    CHECK_STR(F("%lx|%lX", (ULONG)0xDEADBEEF, (ULONG)0xDEADBEEF), "deadbeef|DEADBEEF");
    CHECK_STR(F("%lu %d", (ULONG)7, 9), "7 9");
    CHECK_STR(F("%lld %llu", -(1LL << 40), 1ULL << 63), "-1099511627776 9223372036854775808");
    CHECK_STR(F("%I64u", 1ULL << 40), "1099511627776");
    CHECK_STR(F("%I64d|%I64x|%I64X", -(1LL << 40), 0x123456789abULL, 0x123456789abULL),
              "-1099511627776|123456789ab|123456789AB");
    CHECK_STR(F("%I32d|%I32u|%I32x", -7, 0xFFFFFFFFu, 0xABCu), "-7|4294967295|abc");
    CHECK_STR(F("%Iu|%Ix|%IX|%Id", (SIZE_T)1 << 33, (ULONG_PTR)0xdeadbeefcafeULL, (ULONG_PTR)0xdeadbeefcafeULL,
                (SSIZE_T)-3),
              "8589934592|deadbeefcafe|DEADBEEFCAFE|-3");
    CHECK_STR(F("%zu|%zd|%jd|%td", (size_t)1 << 35, (SSIZE_T)-9, (long long)-(1LL << 50), (ptrdiff_t)-4),
              "34359738368|-9|-1125899906842624|-4");
    CHECK_STR(F("%hd|%hu|%hx", 65534, 65537, 0x12345), "-2|1|2345");
    CHECK_STR(F("%hhd|%hhu|%hhx", 255, 257, 0x1ff), "-1|1|ff");
    CHECK_STR(F("%wd", -3), "-3");
    CHECK_STR(F("%I64u %s", 5ULL, "after"), "5 after");
}

static void test_pointers(void)
{
    CHECK_STR(F("%p", (void *)0x1234), "0000000000001234");
    CHECK_STR(F("%p", (void *)(ULONG_PTR)0xFFFF8000DEADBEEFULL), "FFFF8000DEADBEEF");
    CHECK_STR(F("%p", NULL), "0000000000000000");
    CHECK_STR(F("[%20p]", (void *)0xab), "[    00000000000000AB]");
    CHECK_STR(F("[%-18p]", (void *)0xab), "[00000000000000AB  ]");
}

static void test_chars_and_narrow_strings(void)
{
    CHECK_STR(F("%c%c", 'O', 'K'), "OK");
    CHECK_STR(F("[%3c|%-3c]", 'a', 'b'), "[  a|b  ]");
    CHECK_STR(F("%hc", 'x'), "x");
    CHECK_STR(F("%s", "abc"), "abc");
    CHECK_STR(F("%hs", "abc"), "abc");
    CHECK_STR(F("[%.2s|%5s|%-5s]", "abc", "abc", "abc"), "[ab|  abc|abc  ]");
    CHECK_STR(F("[%05s|%03c]", "ab", 'x'), "[000ab|00x]"); /* Microsoft CRT pads with zeros */
    CHECK_STR(F("%s", (char *)NULL), "(null)");
    CHECK_STR(F("%.3s", (char *)NULL), "(nu");
    /* Narrow text passes through untouched (a driver's UTF-8 literals). */
    CHECK_STR(F("%s", "h\xc3\xa9"), "h\xc3\xa9");
    /* The precision bounds the read: no NUL needed. */
    char unterminated[3] = {'x', 'y', 'z'};
    CHECK_STR(F("%.3s", unterminated), "xyz");
}

static void test_wide_strings(void)
{
    CHECK_STR(F("%ls", L"h\u00e9"), "h\xc3\xa9");
    CHECK_STR(F("%ws", L"wide"), "wide");
    CHECK_STR(F("%S", L"big S"), "big S");
    CHECK_STR(F("%ls|%S", (WCHAR *)NULL, (WCHAR *)NULL), "(null)|(null)");
    CHECK_STR(F("%lc%wc%C", L'\u00e9', L'\u20ac', L'x'), "\xc3\xa9\xe2\x82\xacx");
    /* Width and precision count characters for wide text. */
    CHECK_STR(F("[%5ls]", L"h\u00e9"), "[   h\xc3\xa9]");
    CHECK_STR(F("[%-4ls]", L"\u00e9"), "[\xc3\xa9   ]");
    CHECK_STR(F("%.1ls", L"h\u00e9llo"), "h");
    CHECK_STR(F("%.2ls", L"h\u00e9llo"), "h\xc3\xa9");
    /* Supplementary characters and lone surrogates. */
    static const WCHAR smile[] = {0xD83D, 0xDE00, 0};
    CHECK_STR(F("%ls", smile), "\xf0\x9f\x98\x80");
    CHECK_STR(F("%.1ls|", smile), "\xf0\x9f\x98\x80|");
    static const WCHAR lone[] = {'a', 0xD800, 'b', 0xDC00, 0};
    CHECK_STR(F("%ls", lone), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    CHECK_STR(F("%lc", 0xD800), "\xef\xbf\xbd");
}

static void test_counted_strings(void)
{
    WCHAR buf[] = L"hello world";
    UNICODE_STRING us = {10, sizeof buf, buf}; /* "hello" only */
    CHECK_STR(F("<%wZ>", &us), "<hello>");
    CHECK_STR(F("<%8wZ|%-7wZ>", &us, &us), "<   hello|hello  >");
    CHECK_STR(F("<%.2wZ>", &us), "<he>");
    UNICODE_STRING odd = {3, sizeof buf, buf}; /* odd Length: one whole character */
    CHECK_STR(F("<%wZ>", &odd), "<h>");
    UNICODE_STRING empty = {0, 0, buf};
    CHECK_STR(F("<%wZ>", &empty), "<>");
    UNICODE_STRING nobuf = {4, 4, NULL};
    CHECK_STR(F("<%wZ|%wZ>", &nobuf, (UNICODE_STRING *)NULL), "<(null)|(null)>");
    WCHAR accent[] = L"caf\u00e9!";
    UNICODE_STRING ua = {8, sizeof accent, accent};
    CHECK_STR(F("%wZ", &ua), "caf\xc3\xa9");

    char abuf[] = "abcdef";
    ANSI_STRING as = {3, sizeof abuf, abuf};
    CHECK_STR(F("<%Z|%hZ|%5Z>", &as, &as, &as), "<abc|abc|  abc>");
    ANSI_STRING anull = {3, 3, NULL};
    CHECK_STR(F("<%Z|%Z>", &anull, (ANSI_STRING *)NULL), "<(null)|(null)>");
}

static void test_specials(void)
{
    CHECK_STR(F("100%% %d%%", 5), "100% 5%");
    int n = 5;
    CHECK_STR(F("%d%n%d", 1, &n, 2), "12");
    CHECK_EQ(n, 5); /* %n stores nothing, as in the kernel */
    /* No floating point: the conversion is printed, its argument skipped. */
    CHECK_STR(F("%f|%d|%5.2e|%s", 1.5, 7, 2.0, "x"), "%f|7|%5.2e|x");
    CHECK_STR(F("%Lf|%d", (long double)1.0, 3), "%Lf|3");
    CHECK_STR(F("%y|%d", 4), "%y|4");
    CHECK_STR(F("abc%"), "abc%");
    CHECK_STR(F("abc%-5l"), "abc%-5l");
    CHECK_STR(F("%"), "%");
    CHECK_STR(F(""), "");
}

static void test_format_bounds(void)
{
    char small[4];
    memset(small, '#', sizeof small);
    CHECK_EQ(FL(small, sizeof small, "abcdef"), 6);
    CHECK_STR(small, "abc");
    CHECK_EQ(FL(NULL, 0, "%d-%s", 12345, "xyz"), 9);
    char one[1] = {'#'};
    CHECK_EQ(FL(one, 1, "abc"), 3);
    CHECK_EQ(one[0], '\0');
    /* A wide field longer than the buffer still counts completely. */
    char mid[8];
    CHECK_EQ(FL(mid, sizeof mid, "%100d", 1), 100);
    CHECK_STR(mid, "       ");
    CHECK_EQ(FL(mid, sizeof mid, "%.100d", 1), 100);
    CHECK_STR(mid, "0000000");
    check_no_leak();
}

/* ===================================================================== */

static void test_dbgprint_output(void)
{
    capture_begin(0xFFFFFFFFu);
    ULONG r = DbgPrint("x=%d %ls\n", 5, L"w");
    CHECK_EQ(r, STATUS_SUCCESS);
    CHECK_EQ(sink_calls, 1);
    CHECK_STR(sink_text, "x=5 w\n");

    capture_reset();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "err %lu\n", (ULONG)-1);
    CHECK_STR(sink_text, "err 4294967295\n");

    capture_reset();
    DbgPrintReturnControlC("ctl %s", "c");
    CHECK_STR(sink_text, "ctl c");
    CHECK_EQ(sink_calls, 1);
    capture_end();
    check_no_leak();
}

static ULONG call_vdbgprintex(ULONG level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ULONG r = vDbgPrintEx(DPFLTR_IHVNETWORK_ID, level, fmt, ap);
    va_end(ap);
    return r;
}

static ULONG call_vdbgprintex_prefix(const char *prefix, ULONG level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ULONG r = vDbgPrintExWithPrefix(prefix, DPFLTR_IHVDRIVER_ID, level, fmt, ap);
    va_end(ap);
    return r;
}

static void test_va_list_forms(void)
{
    capture_begin(0xFFFFFFFFu);
    CHECK_EQ(call_vdbgprintex(DPFLTR_WARNING_LEVEL, "v %I64u %wZ", 1ULL << 40, (UNICODE_STRING *)NULL),
             STATUS_SUCCESS);
    CHECK_STR(sink_text, "v 1099511627776 (null)");
    capture_reset();
    call_vdbgprintex_prefix("drv: ", DPFLTR_ERROR_LEVEL, "%s=%d\n", "n", 3);
    CHECK_STR(sink_text, "drv: n=3\n");
    CHECK_EQ(sink_calls, 1);
    capture_reset();
    call_vdbgprintex_prefix(NULL, DPFLTR_ERROR_LEVEL, "plain");
    CHECK_STR(sink_text, "plain");
    capture_end();
}

static void test_filtering(void)
{
    /* Windows' default: only DPFLTR_ERROR_LEVEL passes, DbgPrint is INFO. */
    capture_begin(0x1);
    DbgPrint("info\n");
    DbgPrintReturnControlC("info\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL, "warn\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "trace\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "info\n");
    CHECK_EQ(sink_calls, 0);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error\n");
    CHECK_STR(sink_text, "error\n");

    /* Level >= 32 is itself the mask (DPFLTR_MASK stripped). */
    capture_reset();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, 0x20, "a");            /* mask 0x20: filtered */
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | 0x8, "b"); /* mask 0x8: filtered */
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK, "c");      /* empty mask: filtered */
    CHECK_EQ(sink_calls, 0);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, 0x21, "d");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | 0x1, "e");
    CHECK_STR(sink_text, "de");

    /* A level above 31 as a bit number would be 1 << 32: must not wrap. */
    capture_begin(0x8);
    DbgPrint("I");
    DbgPrintEx(DPFLTR_DEFAULT_ID, DPFLTR_ERROR_LEVEL, "E");
    DbgPrintEx(DPFLTR_DEFAULT_ID, 31, "31");
    CHECK_STR(sink_text, "I");

    capture_begin(0x80000000u);
    DbgPrintEx(DPFLTR_DEFAULT_ID, 31, "31");
    CHECK_STR(sink_text, "31");

    /* Mask 0 silences everything. */
    capture_begin(0);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error\n");
    DbgPrint("info\n");
    CHECK_EQ(sink_calls, 0);
    CHECK_EQ(openwsk_dbg_get_mask(), 0);

    /* Default: print everything. */
    capture_begin(0xFFFFFFFFu);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, 17, "17");
    DbgPrint("i");
    CHECK_STR(sink_text, "17i");
    capture_end();

    /* Filtered or not, DbgPrint reports success; a NULL format is refused. */
    openwsk_dbg_set_mask(0);
    CHECK_EQ(DbgPrint("x"), STATUS_SUCCESS);
    CHECK_EQ(DbgPrint(NULL), (ULONG)STATUS_INVALID_PARAMETER);
    openwsk_dbg_set_mask(0xFFFFFFFFu);
}

static void test_truncation_512(void)
{
    char big[700];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    capture_begin(0xFFFFFFFFu);
    DbgPrint("%s", big);
    CHECK_EQ(sink_calls, 1);
    CHECK_EQ(sink_len, 512);
    CHECK_EQ(strspn(sink_text, "a"), 512);

    /* The prefix counts against the 512 bytes. */
    capture_reset();
    call_vdbgprintex_prefix("PFX:", DPFLTR_ERROR_LEVEL, "%s", big);
    CHECK_EQ(sink_len, 512);
    CHECK(memcmp(sink_text, "PFX:aaa", 7) == 0);

    /* Exactly 512 is not truncated. */
    capture_reset();
    DbgPrint("%.512s", big);
    CHECK_EQ(sink_len, 512);

    /* A cut inside a UTF-8 sequence moves back to its start. */
    capture_reset();
    DbgPrint("%.511s%ls", big, L"\u00e9");
    CHECK_EQ(sink_len, 511);
    capture_reset();
    DbgPrint("%.510s%ls", big, L"\u00e9");
    CHECK_EQ(sink_len, 512);
    CHECK(memcmp(sink_text + 510, "\xc3\xa9", 2) == 0);
    capture_reset();
    DbgPrint("%.510s%ls", big, L"\u20ac"); /* 3-byte character cut after 2 */
    CHECK_EQ(sink_len, 510);
    capture_end();
    check_no_leak();
}

/* Without a sink the text goes to fd 2 with one write. */
static void test_stderr_write(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    DbgPrint("to stderr %d %ls\n", 1, L"\u00e9");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char got[64] = {0};
    ssize_t n = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    CHECK_EQ(n, 15);
    CHECK_STR(got, "to stderr 1 \xc3\xa9\n");
}

/* Several threads printing at once: every line arrives whole. */
#define LINE_THREADS 4
#define LINES_PER_THREAD 300

static void *line_writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_THREAD; i++)
        DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "T%d %04d %s|\n", id, i,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    return NULL;
}

static char lines_got[LINE_THREADS * LINES_PER_THREAD * 80];
static size_t lines_len;
static int lines_fd;

static void *line_reader(void *arg)
{
    (void)arg;
    ssize_t n;
    while ((n = read(lines_fd, lines_got + lines_len, sizeof lines_got - 1 - lines_len)) > 0)
        lines_len += (size_t)n;
    return NULL;
}

static void test_concurrent_lines(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    lines_fd = fds[0];
    lines_len = 0;
    pthread_t reader, writers[LINE_THREADS];
    pthread_create(&reader, NULL, line_reader, NULL);
    for (int t = 0; t < LINE_THREADS; t++)
        pthread_create(&writers[t], NULL, line_writer, (void *)(intptr_t)t);
    for (int t = 0; t < LINE_THREADS; t++)
        pthread_join(writers[t], NULL);
    dup2(saved, STDERR_FILENO); /* closes the last write end: the reader sees EOF */
    close(saved);
    pthread_join(reader, NULL);
    close(fds[0]);
    lines_got[lines_len] = '\0';

    int seen[LINE_THREADS] = {0};
    int lines = 0;
    for (char *line = lines_got; *line != '\0';) {
        char *nl = strchr(line, '\n');
        int id = -1, seq = -1;
        char tail[80] = {0};
        if (nl == NULL || nl - line != 71 || sscanf(line, "T%d %d %70[^\n]", &id, &seq, tail) != 3 ||
            id < 0 || id >= LINE_THREADS ||
            strcmp(tail, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789|") != 0 ||
            seq != seen[id]) {
            WT_FAIL("mangled line %d: %.80s", lines, line);
            break;
        }
        seen[id]++;
        lines++;
        line = nl + 1;
    }
    CHECK_EQ(lines, LINE_THREADS * LINES_PER_THREAD);
}

/* ---- OPENWSK_DBGPRINT_MASK, read once per process: checked in children ---- */

static int child_report(void)
{
    int info = 0, error = 0;
    openwsk_dbg_set_sink(capture);
    capture_reset();
    DbgPrint("i");
    info = sink_calls;
    capture_reset();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "e");
    error = sink_calls;
    printf("mask=%08X info=%d error=%d\n", openwsk_dbg_get_mask(), info, error);
    return 0;
}

static char child_out[256];

/* Runs this program with --child under the given variable value (NULL:
 * unset) and captures its stdout. */
static int run_child(const char *self, const char *value)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (value != NULL)
            setenv("OPENWSK_DBGPRINT_MASK", value, 1);
        else
            unsetenv("OPENWSK_DBGPRINT_MASK");
        execl(self, self, "--child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], child_out + len, sizeof child_out - 1 - len)) > 0)
        len += (size_t)n;
    child_out[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *self_path;

static void test_environment_mask(void)
{
    CHECK_EQ(run_child(self_path, NULL), 0);
    CHECK_STR(child_out, "mask=FFFFFFFF info=1 error=1\n");
    CHECK_EQ(run_child(self_path, ""), 0);
    CHECK_STR(child_out, "mask=FFFFFFFF info=1 error=1\n");
    CHECK_EQ(run_child(self_path, "windows"), 0);
    CHECK_STR(child_out, "mask=00000001 info=0 error=1\n");
    CHECK_EQ(run_child(self_path, "WINDOWS"), 0);
    CHECK_STR(child_out, "mask=00000001 info=0 error=1\n");
    CHECK_EQ(run_child(self_path, "0x1"), 0);
    CHECK_STR(child_out, "mask=00000001 info=0 error=1\n");
    CHECK_EQ(run_child(self_path, "0"), 0);
    CHECK_STR(child_out, "mask=00000000 info=0 error=0\n");
    CHECK_EQ(run_child(self_path, "0x8"), 0);
    CHECK_STR(child_out, "mask=00000008 info=1 error=0\n");
    CHECK_EQ(run_child(self_path, "all"), 0);
    CHECK_STR(child_out, "mask=FFFFFFFF info=1 error=1\n");
    /* Nonsense keeps the default (and says so on stderr). */
    CHECK_EQ(run_child(self_path, "bogus"), 0);
    CHECK_STR(child_out, "mask=FFFFFFFF info=1 error=1\n");
    CHECK_EQ(run_child(self_path, "0x100000000"), 0);
    CHECK_STR(child_out, "mask=FFFFFFFF info=1 error=1\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_report();
    self_path = "/proc/self/exe";

    WT_RUN(test_environment_mask);
    WT_RUN(test_integers);
    WT_RUN(test_microsoft_sizes);
    WT_RUN(test_pointers);
    WT_RUN(test_chars_and_narrow_strings);
    WT_RUN(test_wide_strings);
    WT_RUN(test_counted_strings);
    WT_RUN(test_specials);
    WT_RUN(test_format_bounds);
    WT_RUN(test_dbgprint_output);
    WT_RUN(test_va_list_forms);
    WT_RUN(test_filtering);
    WT_RUN(test_truncation_512);
    WT_RUN(test_stderr_write);
    WT_RUN(test_concurrent_lines);
    return wt_finish();
}
