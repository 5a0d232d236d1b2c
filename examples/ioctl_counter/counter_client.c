/*
 * counter_client.c - the Linux companion of counter_driver: an ordinary
 * program using the Win32 calls of libopenwsk_user against the driver
 * running under wskhost.  It checks what a Windows program would see:
 * return values, GetLastError, byte counts and the bytes themselves.
 *
 *   counter_client                 every check; exit status 0 if all pass
 *   counter_client --wait-forever  pends a WAIT and expects it to be
 *                                  cancelled by the driver's unload
 *   counter_client --other-user    as root: becomes nobody, expects
 *                                  ERROR_ACCESS_DENIED from CreateFile
 */
#include <openwsk_user.h>

#include "counter_ioctl.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "counter_client: %s:%d: CHECK(%s) failed (GetLastError %u)\n", __FILE__, \
                    __LINE__, #cond, (unsigned)GetLastError());                                        \
            failures++;                                                                                \
        }                                                                                              \
    } while (0)

static HANDLE open_counter(DWORD access)
{
    return CreateFileA("\\\\.\\IoctlCounter", access, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
}

static long long get(HANDLE h)
{
    long long v = -1;
    DWORD n = 0;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_GET, NULL, 0, &v, sizeof(v), &n, NULL));
    CHECK(n == sizeof(v));
    return v;
}

static COUNTER_STATS stats(HANDLE h)
{
    COUNTER_STATS s;
    memset(&s, 0xAB, sizeof(s));
    DWORD n = 0;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_STATS, NULL, 0, &s, sizeof(s), &n, NULL));
    CHECK(n == sizeof(s));
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Polls the driver's statistics until pred holds (5 s at most). */
static int until(HANDLE h, int (*pred)(const COUNTER_STATS *, long long), long long arg)
{
    for (int i = 0; i < 500; i++) {
        COUNTER_STATS s = stats(h);
        if (pred(&s, arg))
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static int waiting_is(const COUNTER_STATS *s, long long n)
{
    return s->Waiting == n;
}

static int cancelled_is(const COUNTER_STATS *s, long long n)
{
    return s->CancelledByRoutine == n;
}

static void buffered_ioctls(void)
{
    HANDLE h = open_counter(GENERIC_READ | GENERIC_WRITE);
    CHECK(h != INVALID_HANDLE_VALUE);
    long long v = 5;
    DWORD n = 123;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_SET, &v, sizeof(v), NULL, 0, &n, NULL));
    CHECK(n == 0);
    CHECK(get(h) == 5);
    /* In and out share the SystemBuffer. */
    long long delta = 3, result = 0;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_ADD, &delta, sizeof(delta), &result, sizeof(result), &n, NULL));
    CHECK(n == sizeof(result) && result == 8);
    CHECK(get(h) == 8);

    /* The driver's failures, as Win32 errors. */
    int small = 0;
    CHECK(!DeviceIoControl(h, IOCTL_COUNTER_GET, NULL, 0, &small, sizeof(small), &n, NULL));
    CHECK(GetLastError() == ERROR_INSUFFICIENT_BUFFER && n == 0);
    CHECK(OpenwskGetLastNtStatus() == (NTSTATUS)0xC0000023);
    CHECK(!DeviceIoControl(h, CTL_CODE(FILE_DEVICE_UNKNOWN, 0x9FF, METHOD_BUFFERED, FILE_ANY_ACCESS), NULL, 0,
                           NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_FUNCTION);
    CHECK(!DeviceIoControl(h, IOCTL_COUNTER_SET, &small, sizeof(small), NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
    CHECK(CloseHandle(h));
    printf("counter_client: METHOD_BUFFERED get/set/add and errors ok\n");
}

static void direct_and_neither(void)
{
    HANDLE h = open_counter(GENERIC_READ | GENERIC_WRITE);
    CHECK(h != INVALID_HANDLE_VALUE);
    long long v = 100;
    DWORD n;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_SET, &v, sizeof(v), NULL, 0, &n, NULL));
    v = 200;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_SET, &v, sizeof(v), NULL, 0, &n, NULL));

    /* METHOD_OUT_DIRECT: the whole history fits, then only part of it. */
    long long hist[64];
    memset(hist, 0, sizeof(hist));
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_HISTORY, NULL, 0, hist, sizeof(hist), &n, NULL));
    CHECK(n >= 2 * sizeof(long long) && n % sizeof(long long) == 0);
    size_t count = n / sizeof(long long);
    CHECK(count >= 2 && hist[count - 2] == 100 && hist[count - 1] == 200);
    long long two[2] = {-1, -1};
    if (count > 2) {
        CHECK(!DeviceIoControl(h, IOCTL_COUNTER_HISTORY, NULL, 0, two, sizeof(two), &n, NULL));
        CHECK(GetLastError() == ERROR_MORE_DATA);
        CHECK(n == sizeof(two) && two[0] == hist[0] && two[1] == hist[1]);
    }
    CHECK(!DeviceIoControl(h, IOCTL_COUNTER_HISTORY, NULL, 0, two, 4, &n, NULL));
    CHECK(GetLastError() == ERROR_INSUFFICIENT_BUFFER);

    /* METHOD_IN_DIRECT: the second buffer carries data to the driver. */
    unsigned char bytes[300];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)i;
    long long factor = 2;
    CHECK(DeviceIoControl(h, IOCTL_COUNTER_ADD_BYTES, &factor, sizeof(factor), bytes, sizeof(bytes), &n, NULL));
    long long sum = 0;
    for (size_t i = 0; i < sizeof(bytes); i++)
        sum += bytes[i];
    CHECK(get(h) == 200 + 2 * sum);

    /* METHOD_NEITHER: the driver writes the caller's buffer. */
    COUNTER_STATS s = stats(h);
    CHECK(s.Creates >= 2 && s.Closes == s.Creates - 1 && s.Cleanups == s.Creates - 1);
    CHECK((s.LastCreateAccess & (FILE_READ_DATA | FILE_WRITE_DATA)) == (FILE_READ_DATA | FILE_WRITE_DATA));
    CHECK(CloseHandle(h));
    printf("counter_client: METHOD_OUT_DIRECT, METHOD_IN_DIRECT, METHOD_NEITHER ok\n");
}

static void access_and_names(void)
{
    HANDLE h = open_counter(GENERIC_READ);
    CHECK(h != INVALID_HANDLE_VALUE);
    long long v = 1;
    DWORD n;
    /* IOCTL_COUNTER_SET requires FILE_WRITE_ACCESS: refused by the I/O manager. */
    CHECK(!DeviceIoControl(h, IOCTL_COUNTER_SET, &v, sizeof(v), NULL, 0, &n, NULL));
    CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    CHECK(!WriteFile(h, "x", 1, &n, NULL));
    CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    COUNTER_STATS s = stats(h);
    CHECK(s.LastCreateAccess & FILE_READ_DATA);
    CHECK(!(s.LastCreateAccess & FILE_WRITE_DATA));
    CHECK(CloseHandle(h));

    HANDLE none = CreateFileA("\\\\.\\NoSuchCounter", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(none == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND);
    /* Names are case-insensitive; \Device names through GLOBALROOT. */
    HANDLE lower = CreateFileW(u"\\\\.\\ioctlcounter", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(lower != INVALID_HANDLE_VALUE);
    s = stats(lower);
    CHECK(s.LastFileName[0] == '\0' && s.LastCreateSynchronous == 1);
    CHECK(CloseHandle(lower));
    /* What follows the device name is the FILE_OBJECT's FileName. */
    HANDLE sub = CreateFileA("\\\\.\\IoctlCounter\\sub\\x", GENERIC_READ, 0, NULL, OPEN_EXISTING,
                             FILE_FLAG_OVERLAPPED, NULL);
    CHECK(sub != INVALID_HANDLE_VALUE);
    CHECK(DeviceIoControl(sub, IOCTL_COUNTER_STATS, NULL, 0, &s, sizeof(s), &n, NULL));
    CHECK(strcmp(s.LastFileName, "\\sub\\x") == 0 && s.LastCreateSynchronous == 0);
    CHECK(CloseHandle(sub));
    CHECK(!DeviceIoControl(INVALID_HANDLE_VALUE, IOCTL_COUNTER_GET, NULL, 0, &v, sizeof(v), &n, NULL));
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    printf("counter_client: access checks and names ok\n");
}

static void read_write(void)
{
    HANDLE h = open_counter(GENERIC_READ | GENERIC_WRITE);
    CHECK(h != INVALID_HANDLE_VALUE);
    DWORD n = 0;
    const char text[] = "hello from linux";
    CHECK(WriteFile(h, text, sizeof(text), &n, NULL));
    CHECK(n == sizeof(text));
    /* The file pointer moved past the text: end of file. */
    char buf[64];
    CHECK(!ReadFile(h, buf, sizeof(buf), &n, NULL));
    CHECK(GetLastError() == ERROR_HANDLE_EOF && n == 0);
    OVERLAPPED at = {0};
    at.Offset = 6;
    memset(buf, 0, sizeof(buf));
    CHECK(ReadFile(h, buf, sizeof(buf), &n, &at));
    CHECK(n == sizeof(text) - 6 && strcmp(buf, "from linux") == 0);
    CHECK(CloseHandle(h));

    /* The DO_DIRECT_IO device: the same store through an MDL. */
    HANDLE d = CreateFileW(u"\\\\.\\GLOBALROOT\\Device\\IoctlCounterDirect", GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           OPEN_EXISTING, 0, NULL);
    CHECK(d != INVALID_HANDLE_VALUE);
    memset(buf, 0, sizeof(buf));
    CHECK(ReadFile(d, buf, 5, &n, NULL));
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(WriteFile(d, "J", 1, &n, NULL) && n == 1); /* at offset 5 */
    at.Offset = 5;
    CHECK(ReadFile(d, buf, 6, &n, &at) && n == 6 && memcmp(buf, "Jfrom ", 6) == 0);
    CHECK(CloseHandle(d));
    printf("counter_client: ReadFile/WriteFile, buffered and direct ok\n");
}

struct waiter {
    HANDLE h;
    BOOL ok;
    DWORD error, n;
    long long value;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->ok = DeviceIoControl(w->h, IOCTL_COUNTER_WAIT, NULL, 0, &w->value, sizeof(w->value), &w->n, NULL);
    w->error = GetLastError();
    return NULL;
}

static void pended_ioctls(void)
{
    HANDLE a = open_counter(GENERIC_READ | GENERIC_WRITE);
    HANDLE b = open_counter(GENERIC_READ | GENERIC_WRITE);
    CHECK(a != INVALID_HANDLE_VALUE && b != INVALID_HANDLE_VALUE);
    long long before = get(b);

    /* A WAIT pends; an ADD on another handle completes it. */
    struct waiter w = {.h = a};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    CHECK(until(b, waiting_is, 1));
    long long one = 1, result;
    DWORD n;
    CHECK(DeviceIoControl(b, IOCTL_COUNTER_ADD, &one, sizeof(one), &result, sizeof(result), &n, NULL));
    pthread_join(t, NULL);
    CHECK(w.ok && w.n == sizeof(long long) && w.value == before + 1);

    /* A WAIT pended by a process that dies without CloseHandle is
     * cancelled (the cancel routine), then CLEANUP and CLOSE follow. */
    COUNTER_STATS s0 = stats(b);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        HANDLE c = open_counter(GENERIC_READ);
        long long v;
        DWORD m;
        DeviceIoControl(c, IOCTL_COUNTER_WAIT, NULL, 0, &v, sizeof(v), &m, NULL);
        _exit(3); /* never reached: the parent kills us first */
    }
    CHECK(until(b, waiting_is, 1));
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(until(b, cancelled_is, s0.CancelledByRoutine + 1));
    for (int i = 0; i < 500; i++) {
        COUNTER_STATS s = stats(b);
        if (s.Closes == s0.Closes + 1)
            break;
        sleep_ms(10);
    }
    COUNTER_STATS s1 = stats(b);
    CHECK(s1.Waiting == 0);
    CHECK(s1.Creates == s0.Creates + 1);
    CHECK(s1.Cleanups == s0.Cleanups + 1 && s1.Closes == s0.Closes + 1);
    CHECK(s1.CancelledInCleanup == s0.CancelledInCleanup);

    /* CloseHandle while another thread waits in a WAIT on the handle: the
     * call ends (the host sees the connection go and cancels the IRP). */
    struct waiter w2 = {.h = a};
    pthread_create(&t, NULL, wait_thread, &w2);
    CHECK(until(b, waiting_is, 1));
    CHECK(CloseHandle(a));
    pthread_join(t, NULL);
    CHECK(!w2.ok);
    CHECK(until(b, waiting_is, 0));
    CHECK(CloseHandle(b));
    printf("counter_client: pended IOCTLs, cancellation on process death ok\n");
}

static void overlapped_ioctls(void)
{
    HANDLE o = CreateFileA("\\\\.\\IoctlCounter", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, NULL);
    HANDLE b = open_counter(GENERIC_READ | GENERIC_WRITE);
    CHECK(o != INVALID_HANDLE_VALUE && b != INVALID_HANDLE_VALUE);
    long long before = get(b);

    /* A WAIT in flight; a GET on the same handle completes meanwhile. */
    OVERLAPPED wait_ov = {0}, get_ov = {0};
    long long waited = 0, got = 0;
    DWORD n = 99;
    CHECK(!DeviceIoControl(o, IOCTL_COUNTER_WAIT, NULL, 0, &waited, sizeof(waited), NULL, &wait_ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(!DeviceIoControl(o, IOCTL_COUNTER_GET, NULL, 0, &got, sizeof(got), NULL, &get_ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(o, &get_ov, &n, TRUE));
    CHECK(n == sizeof(got) && got == before);
    CHECK(until(b, waiting_is, 1));
    CHECK(!GetOverlappedResult(o, &wait_ov, &n, FALSE));
    CHECK(GetLastError() == ERROR_IO_INCOMPLETE);
    CHECK(!HasOverlappedIoCompleted(&wait_ov));
    long long two = 2, result;
    CHECK(DeviceIoControl(b, IOCTL_COUNTER_ADD, &two, sizeof(two), &result, sizeof(result), &n, NULL));
    CHECK(GetOverlappedResult(o, &wait_ov, &n, TRUE));
    CHECK(n == sizeof(waited) && waited == before + 2);

    /* CancelIoEx: the driver's cancel routine completes it. */
    COUNTER_STATS s0 = stats(b);
    CHECK(!DeviceIoControl(o, IOCTL_COUNTER_WAIT, NULL, 0, &waited, sizeof(waited), NULL, &wait_ov));
    CHECK(GetLastError() == ERROR_IO_PENDING);
    CHECK(until(b, waiting_is, 1));
    CHECK(CancelIoEx(o, &wait_ov));
    CHECK(!GetOverlappedResult(o, &wait_ov, &n, TRUE));
    CHECK(GetLastError() == ERROR_OPERATION_ABORTED && n == 0);
    CHECK(stats(b).CancelledByRoutine == s0.CancelledByRoutine + 1);
    CHECK(!CancelIoEx(o, &wait_ov) && GetLastError() == ERROR_NOT_FOUND);

    /* No OVERLAPPED on an overlapped handle: the call waits. */
    CHECK(DeviceIoControl(o, IOCTL_COUNTER_GET, NULL, 0, &got, sizeof(got), &n, NULL));
    CHECK(got == before + 2);

    /* CloseHandle with a WAIT in flight: IRP_MJ_CLEANUP completes it. */
    CHECK(!DeviceIoControl(o, IOCTL_COUNTER_WAIT, NULL, 0, &waited, sizeof(waited), NULL, &wait_ov));
    CHECK(until(b, waiting_is, 1));
    CHECK(CloseHandle(o));
    CHECK(wait_ov.Internal == 0xC0000120u); /* STATUS_CANCELLED */
    COUNTER_STATS s1 = stats(b);
    CHECK(s1.Waiting == 0 && s1.CancelledInCleanup == s0.CancelledInCleanup + 1);
    CHECK(CloseHandle(b));
    printf("counter_client: overlapped requests, GetOverlappedResult, CancelIoEx ok\n");
}

static int wait_forever(void)
{
    HANDLE h = open_counter(GENERIC_READ);
    if (h == INVALID_HANDLE_VALUE)
        return 1;
    long long v;
    DWORD n;
    BOOL ok = DeviceIoControl(h, IOCTL_COUNTER_WAIT, NULL, 0, &v, sizeof(v), &n, NULL);
    CHECK(!ok && GetLastError() == ERROR_OPERATION_ABORTED);
    /* wskhost closed the handle: nothing more reaches the driver. */
    CHECK(!DeviceIoControl(h, IOCTL_COUNTER_GET, NULL, 0, &v, sizeof(v), &n, NULL));
    CHECK(CloseHandle(h));
    printf("counter_client: the pended WAIT was cancelled by the unload\n");
    return failures != 0;
}

/* Another user may not open the device (as a device's default security
 * lets only administrators and SYSTEM in); needs root to become nobody. */
static int other_user(void)
{
    if (getuid() != 0) {
        printf("counter_client: not root, cannot become another user: nothing checked\n");
        return 0;
    }
    if (setgid(65534) != 0 || setuid(65534) != 0) {
        perror("counter_client: setuid");
        return 1;
    }
    HANDLE h = open_counter(GENERIC_READ);
    CHECK(h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_ACCESS_DENIED);
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    printf("counter_client: another user is refused\n");
    return failures != 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "--other-user") == 0)
        return other_user();
    if (argc > 1 && strcmp(argv[1], "--wait-forever") == 0)
        return wait_forever();
    buffered_ioctls();
    direct_and_neither();
    access_and_names();
    read_write();
    pended_ioctls();
    overlapped_ioctls();
    if (failures != 0) {
        fprintf(stderr, "counter_client: %d checks failed\n", failures);
        return 1;
    }
    printf("counter_client: all checks passed\n");
    return 0;
}
