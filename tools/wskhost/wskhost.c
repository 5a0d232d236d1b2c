/*
 * wskhost - runs a WSK driver built as a shared object, the way Windows
 * loads a driver: a DRIVER_OBJECT, a RegistryPath whose Parameters key holds
 * the command line's Name=Value pairs, DriverEntry at PASSIVE_LEVEL, then
 * (on SIGINT / SIGTERM, or after --stop-after) DriverUnload, which returns
 * once the driver's WskDeregister has; the driver is unmapped once its
 * queued and running work items are done.  Then the leak report: anything the
 * driver left behind (pool by tag, IRPs, MDLs, registrations, sockets,
 * timers still set: cancelled before the image is unmapped) makes the
 * exit status non-zero.  The soft RLIMIT_NOFILE is raised to the
 * hard limit first: each WSK socket is a Linux descriptor.
 *
 *   wskhost [options] DRIVER.so [-- Name=Value ...]
 *
 * The driver is opened RTLD_LOCAL and is expected to be built with hidden
 * symbols (openwsk_add_driver does both), so it may define connect, bind,
 * send... without the runtime or libc ever calling them.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include "device_bridge.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum {
    EXIT_CLEAN = 0,
    EXIT_LEAKED = 1,
    EXIT_USAGE = 2,
    EXIT_ENTRY_FAILED = 3,
    EXIT_NOT_UNLOADABLE = 4,
};

#define SERVICES "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"

typedef struct host_options {
    const char *driver_path;
    char name[64];
    double stop_after; /* seconds; 0: wait for a signal */
    int quiet;
    const char *trace_path; /* --trace: the timeline's JSON file */
    char **params;
    int param_count;
} host_options;

static int quiet;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("wskhost: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *to)
{
    fputs("usage: wskhost [options] DRIVER.so [-- Name=Value ...]\n"
          "  -n, --name NAME        service name (default: the file name without lib and .so)\n"
          "  -t, --stop-after SECS  unload after SECS seconds instead of waiting for SIGINT/SIGTERM\n"
          "  -q, --quiet            print only the driver's output and problems\n"
          "      --verify GROUPS    driver verifier rule groups, comma-separated\n"
          "                         (irql, irp, pool, wsk, all);\n"
          "                         a violation prints a report and stops with 0xC4\n"
          "                         (same as OPENWSK_VERIFY=GROUPS; docs/verifier.md)\n"
          "      --adversity SPEC   legal-adversity mode:\n"
          "                         SEED[,short][,events][,slowsend][,lowres=N][,log=FILE]\n"
          "                         (same as OPENWSK_ADVERSITY=SPEC; docs/adversity.md)\n"
          "      --trace FILE.json  write a timeline of the driver's IRPs, sockets, event callbacks,\n"
          "                         DPCs, work items and pool use (Chrome trace-event JSON: open it\n"
          "                         in ui.perfetto.dev or chrome://tracing); OPENWSK_TRACE=FILE.json\n"
          "                         does the same\n"
          "  -h, --help             this text\n"
          "Each Name=Value becomes a value of the service key's Parameters subkey\n"
          "(read with ZwOpenKey/ZwQueryValueKey or RtlQueryRegistryValues): numbers\n"
          "(decimal or 0x...) are REG_DWORD, anything else REG_SZ; prefix the value\n"
          "with dword:, qword: or sz: to choose the type.\n"
          "Exit status: 0 clean unload, 1 leaks, 2 usage or load error,\n"
          "3 DriverEntry failed, 4 the driver has no DriverUnload.\n",
          to);
}

/* The service name Windows would use: the image name without extension. */
static void default_name(const char *path, char out[64])
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && base[3] != '\0')
        base += 3;
    size_t n = strcspn(base, ".");
    if (n >= 64)
        n = 63;
    memcpy(out, base, n);
    out[n] = '\0';
}

static int parse_options(int argc, char **argv, host_options *o)
{
    memset(o, 0, sizeof(*o));
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(EXIT_CLEAN);
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--name") == 0) && i + 1 < argc) {
            snprintf(o->name, sizeof(o->name), "%s", argv[++i]);
        } else if ((strcmp(a, "-t") == 0 || strcmp(a, "--stop-after") == 0) && i + 1 < argc) {
            char *end;
            o->stop_after = strtod(argv[++i], &end);
            if (*end != '\0' || o->stop_after <= 0)
                return -1;
        } else if (strcmp(a, "--trace") == 0 && i + 1 < argc) {
            o->trace_path = argv[++i];
        } else if (strncmp(a, "--trace=", 8) == 0 && a[8] != '\0') {
            o->trace_path = a + 8;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--verify") == 0 && i + 1 < argc) {
            /* Before the driver is loaded: DriverEntry is checked too. */
            if (openwsk_verify_configure(argv[++i]) != 0)
                return -1;
        } else if (strcmp(a, "--adversity") == 0 && i + 1 < argc) {
            if (openwsk_adversity_configure(argv[++i]) != 0)
                return -1;
        } else if (a[0] == '-') {
            return -1;
        } else {
            break;
        }
    }
    if (i >= argc)
        return -1;
    o->driver_path = argv[i++];
    if (i < argc) {
        if (strcmp(argv[i], "--") != 0)
            return -1;
        o->params = argv + i + 1;
        o->param_count = argc - i - 1;
    }
    if (o->name[0] == '\0')
        default_name(o->driver_path, o->name);
    return o->name[0] != '\0' ? 0 : -1;
}

static int parse_number(const char *s, unsigned long long *v)
{
    if (*s == '\0')
        return 0;
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return *end == '\0' && errno == 0 && s[0] != '-';
}

/* Name=Value into ...\Services\<name>\Parameters. */
static int set_parameter(const char *service, const char *pair)
{
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair) {
        fprintf(stderr, "wskhost: parameter \"%s\" is not Name=Value\n", pair);
        return -1;
    }
    char key[256], name[128];
    snprintf(key, sizeof(key), SERVICES "%s\\Parameters", service);
    snprintf(name, sizeof(name), "%.*s", (int)(eq - pair), pair);
    const char *value = eq + 1;
    unsigned long long n;
    NTSTATUS st;
    if (strncmp(value, "sz:", 3) == 0) {
        st = openwsk_registry_set_string(key, name, value + 3);
    } else if (strncmp(value, "qword:", 6) == 0 && parse_number(value + 6, &n)) {
        ULONGLONG q = n;
        st = openwsk_registry_set(key, name, REG_QWORD, &q, sizeof(q));
    } else if (strncmp(value, "dword:", 6) == 0 && parse_number(value + 6, &n) && n <= 0xFFFFFFFFull) {
        st = openwsk_registry_set_dword(key, name, (ULONG)n);
    } else if (strncmp(value, "dword:", 6) == 0 || strncmp(value, "qword:", 6) == 0) {
        fprintf(stderr, "wskhost: parameter \"%s\": not a number\n", pair);
        return -1;
    } else if (parse_number(value, &n) && n <= 0xFFFFFFFFull) {
        st = openwsk_registry_set_dword(key, name, (ULONG)n);
    } else {
        st = openwsk_registry_set_string(key, name, value);
    }
    return NT_SUCCESS(st) ? 0 : -1;
}

/* What Windows puts in MajorFunction[] before DriverEntry. */
static NTSTATUS invalid_device_request(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

/* A UNICODE_STRING in pool memory from ASCII (the names here are ASCII). */
static int make_unicode(PUNICODE_STRING u, const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name);
    u->Buffer = ExAllocatePool2(POOL_FLAG_PAGED, (n + 1) * sizeof(WCHAR), 'tsoH');
    if (u->Buffer == NULL)
        return -1;
    size_t k = 0;
    for (const char *p = prefix; *p; p++)
        u->Buffer[k++] = (WCHAR)*p;
    for (const char *p = name; *p; p++)
        u->Buffer[k++] = (WCHAR)*p;
    u->Buffer[k] = 0;
    u->Length = (USHORT)(k * sizeof(WCHAR));
    u->MaximumLength = (USHORT)((k + 1) * sizeof(WCHAR));
    return 0;
}

/* Waits for SIGINT / SIGTERM (blocked in every thread), or the timeout. */
static int wait_for_stop(const sigset_t *stop, double seconds)
{
    if (seconds <= 0) {
        int sig = 0;
        sigwait(stop, &sig);
        return sig;
    }
    struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    for (;;) {
        int sig = sigtimedwait(stop, NULL, &t);
        if (sig >= 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR: another signal; keep waiting (the remaining time restarts, which is fine here) */
    }
}

/* Windows gives a driver no per-process handle limit it would meet with
 * thousands of sockets, but here every WSK socket is a Linux descriptor
 * and the common soft RLIMIT_NOFILE (1,024) is far below what a server
 * driver may hold: the soft limit goes up to the hard one. */
static void raise_descriptor_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        say("descriptor limit raised from %llu to %llu", (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

/* Before the image goes.  On Windows a queued or running IO_WORKITEM holds a
 * reference on its device object, which holds one on the driver object,
 * and the image is unmapped only when the driver object's last reference
 * goes: DriverUnload runs at once, the unmapping waits for the work items.
 * Same here.  ExQueueWorkItem items have no such protection on Windows (the
 * image may go from under them: ExQueueWorkItem, Remarks): they are waited
 * for too, so that the process does not crash, but reported as an error. */
static int wait_for_work_items(PDRIVER_OBJECT driver)
{
    LONG io_items = openwsk_io_work_items_outstanding(driver);
    if (io_items > 0)
        say("waiting for %ld work item(s) of the driver before unmapping it", (long)io_items);
    openwsk_io_wait_for_work_items(driver);
    LONG ex_items = openwsk_io_work_items_outstanding(NULL);
    if (ex_items == 0)
        return 0;
    fprintf(stderr,
            "wskhost: %ld ExQueueWorkItem item(s) still queued or running after DriverUnload: "
            "Windows may unmap the driver under them (use IoQueueWorkItem); waiting\n",
            (long)ex_items);
    openwsk_io_wait_for_work_items(NULL);
    return 1;
}

/* After DriverUnload: everything the driver should have given back.
 * timers: timers still set and DPCs still queued, already cancelled. */
static int leak_report(LONG timers)
{
    LONG registrations = openwsk_wsk_registration_count();
    LONG sockets = openwsk_wsk_socket_count();
    SIZE_T irps = openwsk_pool_outstanding_count(OPENWSK_TAG_IRP);
    SIZE_T mdls = openwsk_pool_outstanding_count(OPENWSK_TAG_MDL);
    SIZE_T count = openwsk_pool_outstanding_count(0);
    SIZE_T bytes = openwsk_pool_outstanding_bytes(0);
    if (registrations == 0 && sockets == 0 && count == 0 && timers == 0) {
        say("no leaks: pool, IRPs, MDLs, WSK registrations, sockets and timers all returned");
        return 0;
    }
    fprintf(stderr, "wskhost: LEAKS after DriverUnload:\n");
    fprintf(stderr, "wskhost:   WSK registrations not deregistered: %ld, sockets not closed: %ld\n",
            (long)registrations, (long)sockets);
    fprintf(stderr, "wskhost:   timers still set or DPCs still queued: %ld (cancelled before unmapping the driver)\n",
            (long)timers);
    fprintf(stderr, "wskhost:   IRPs: %zu, MDLs: %zu, pool: %zu allocations, %zu bytes; by tag:\n", (size_t)irps,
            (size_t)mdls, (size_t)count, (size_t)bytes);
    openwsk_leak_report();
    return 1;
}

int main(int argc, char **argv)
{
    host_options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    quiet = o.quiet;
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_descriptor_limit();

    /* Blocked here, before DriverEntry starts any thread, so that every
     * thread inherits the mask and only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    for (int i = 0; i < o.param_count; i++)
        if (set_parameter(o.name, o.params[i]) != 0)
            return EXIT_USAGE;

    void *image = dlopen(o.driver_path, RTLD_NOW | RTLD_LOCAL);
    if (image == NULL) {
        fprintf(stderr, "wskhost: cannot load %s: %s\n", o.driver_path, dlerror());
        return EXIT_USAGE;
    }
    PDRIVER_INITIALIZE entry;
    *(void **)&entry = dlsym(image, "DriverEntry");
    if (entry == NULL) {
        fprintf(stderr, "wskhost: %s has no exported DriverEntry\n", o.driver_path);
        dlclose(image);
        return EXIT_USAGE;
    }

    static DRIVER_OBJECT driver;
    static DRIVER_EXTENSION extension;
    UNICODE_STRING registry_path, service_key;
    if (make_unicode(&driver.DriverName, "\\Driver\\", o.name) != 0 ||
        make_unicode(&service_key, "", o.name) != 0 || make_unicode(&registry_path, SERVICES, o.name) != 0) {
        fprintf(stderr, "wskhost: out of memory\n");
        return EXIT_USAGE;
    }
    driver.Type = 4; /* IO_TYPE_DRIVER */
    driver.Size = sizeof(driver);
    driver.DriverExtension = &extension;
    driver.DriverInit = entry;
    driver.DriverStart = image;
    extension.DriverObject = &driver;
    extension.ServiceKeyName = service_key;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver.MajorFunction[i] = invalid_device_request;
    /* The service key exists even without parameters, as it would once installed. */
    char service_path[192];
    snprintf(service_path, sizeof(service_path), SERVICES "%s", o.name);
    openwsk_registry_set_dword(service_path, "Type", 1 /* SERVICE_KERNEL_DRIVER */);

    if (o.trace_path != NULL && openwsk_trace_start(o.trace_path) != 0) {
        fprintf(stderr, "wskhost: cannot trace to %s\n", o.trace_path);
        return EXIT_USAGE;
    }
    /* Devices the driver names become reachable from other processes. */
    if (device_bridge_start() != 0)
        return EXIT_USAGE;
    say("loading %s as service \"%s\"", o.driver_path, o.name);
    NTSTATUS status = entry(&driver, &registry_path);
    /* The I/O manager clears DO_DEVICE_INITIALIZING on the devices created
     * in DriverEntry once it returns ("DEVICE_OBJECT", Flags). */
    for (PDEVICE_OBJECT d = driver.DeviceObject; NT_SUCCESS(status) && d != NULL; d = d->NextDevice)
        d->Flags &= ~DO_DEVICE_INITIALIZING;
    if (NT_SUCCESS(status))
        device_bridge_serve();
    /* RegistryPath is the driver's only during DriverEntry (it must copy
     * what it keeps); freed now so that a late use is caught by ASan. */
    RtlFreeUnicodeString(&registry_path);
    int result = EXIT_CLEAN;
    if (!NT_SUCCESS(status)) {
        fprintf(stderr, "wskhost: DriverEntry failed: 0x%08X\n", (unsigned)status);
        result = EXIT_ENTRY_FAILED;
    } else {
        say("DriverEntry returned 0x%08X; running until SIGINT/SIGTERM%s", (unsigned)status,
            o.stop_after > 0 ? " or the --stop-after time" : "");
        int sig = wait_for_stop(&stop, o.stop_after);
        say("%s: unloading", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "time is up");
        if (driver.DriverUnload == NULL) {
            fprintf(stderr, "wskhost: the driver set no DriverUnload: Windows would not unload it\n");
            device_bridge_finish();
            return EXIT_NOT_UNLOADABLE;
        }
        /* Windows unloads a driver only once no file is open on its devices:
         * every handle is closed first, as if its process had exited. */
        device_bridge_stop();
        driver.DriverUnload(&driver); /* returns once its WskDeregister has */
        say("DriverUnload returned");
    }
    if (wait_for_work_items(&driver) != 0 && result == EXIT_CLEAN)
        result = EXIT_LEAKED;
    /* A timer DPC firing in the unmapped image would crash: Windows' bug
     * check 0xCE.  Reported as a leak instead, after cancelling; a DPC that
     * ran meanwhile may have queued a work item, waited for too. */
    LONG timers = openwsk_timer_cancel_all_for_unload();
    openwsk_io_wait_for_work_items(&driver);
    device_bridge_finish();
    /* The timeline names the driver's routines by module and offset: written
     * while the image is still mapped. */
    if (openwsk_trace_active() && openwsk_trace_stop() == 0)
        say("timeline written to %s", o.trace_path != NULL ? o.trace_path : getenv("OPENWSK_TRACE"));
    dlclose(image);
    RtlFreeUnicodeString(&driver.DriverName);
    RtlFreeUnicodeString(&service_key);
    openwsk_registry_reset();
    if (leak_report(timers) != 0 && result == EXIT_CLEAN)
        result = EXIT_LEAKED;
    return result;
}
