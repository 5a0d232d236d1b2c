/*
 * test_errlog.c - the I/O error log: IoAllocateErrorLogEntry's size limit
 * (ERROR_LOG_MAXIMUM_SIZE, 240 on x64), a zeroed packet, the line
 * IoWriteErrorLogEntry prints (driver name, ErrorCode, UniqueErrorValue,
 * FinalStatus, dump data words, insertion strings), the count, and no pool
 * left behind by written or freed entries.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <unistd.h>

#include "wt.h"

#define ELEN_TAG TAG_FROM_CHARS('E', 'l', 'E', 'n')

static DRIVER_OBJECT driver;
static DEVICE_OBJECT device;

static void setup_objects(void)
{
    static WCHAR name[] = L"\\Driver\\errtest";
    driver.Type = IO_TYPE_DRIVER;
    RtlInitUnicodeString(&driver.DriverName, name);
    device.Type = IO_TYPE_DEVICE;
    device.DriverObject = &driver;
}

/* Runs fn with stderr sent to a temporary file; returns what it printed. */
static char captured[4096];
static const char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/test_errlog.XXXXXX";
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

static void constants_and_layout(void)
{
    CHECK_EQ(sizeof(IO_ERROR_LOG_PACKET), 0x30);
    CHECK_EQ(offsetof(IO_ERROR_LOG_PACKET, ErrorCode), 0x0C);
    CHECK_EQ(offsetof(IO_ERROR_LOG_PACKET, DeviceOffset), 0x20);
    CHECK_EQ(offsetof(IO_ERROR_LOG_PACKET, DumpData), 0x28);
    CHECK_EQ(ERROR_LOG_MAXIMUM_SIZE, 240);
}

static void size_limit(void)
{
    setup_objects();
    PIO_ERROR_LOG_PACKET p = IoAllocateErrorLogEntry(&device, ERROR_LOG_MAXIMUM_SIZE);
    CHECK(p != NULL);
    if (p) {
        static const unsigned char zero[ERROR_LOG_MAXIMUM_SIZE];
        CHECK_MEM(p, zero, ERROR_LOG_MAXIMUM_SIZE);
        IoFreeErrorLogEntry(p);
    }
    CHECK(IoAllocateErrorLogEntry(&device, ERROR_LOG_MAXIMUM_SIZE + 1) == NULL);
    CHECK(IoAllocateErrorLogEntry(&device, 255) == NULL);
    CHECK(IoAllocateErrorLogEntry(NULL, sizeof(IO_ERROR_LOG_PACKET)) == NULL);
    p = IoAllocateErrorLogEntry(&driver, sizeof(IO_ERROR_LOG_PACKET));
    CHECK(p != NULL);
    if (p)
        IoFreeErrorLogEntry(p);
    CHECK_EQ(openwsk_error_log_count(), 0); /* freed entries are not logged */
    CHECK_EQ(openwsk_pool_outstanding_count(ELEN_TAG), 0);
}

static void write_one(void)
{
    static const WCHAR s1[] = L"first";
    static const WCHAR s2[] = L"second";
    UCHAR size = (UCHAR)(sizeof(IO_ERROR_LOG_PACKET) + sizeof(ULONG) + sizeof(s1) + sizeof(s2));
    PIO_ERROR_LOG_PACKET p = IoAllocateErrorLogEntry(&device, size);
    if (!p)
        return;
    p->ErrorCode = (NTSTATUS)0xC0040001;
    p->UniqueErrorValue = 0x1234;
    p->FinalStatus = STATUS_IO_TIMEOUT;
    p->MajorFunctionCode = IRP_MJ_DEVICE_CONTROL;
    p->DumpDataSize = 2 * sizeof(ULONG);
    p->DumpData[0] = 0xCAFEF00D;
    p->DumpData[1] = 0x00000042;
    p->NumberOfStrings = 2;
    p->StringOffset = (USHORT)(sizeof(IO_ERROR_LOG_PACKET) + sizeof(ULONG));
    memcpy((char *)p + p->StringOffset, s1, sizeof(s1));
    memcpy((char *)p + p->StringOffset + sizeof(s1), s2, sizeof(s2));
    IoWriteErrorLogEntry(p);
}

static void written_entry_is_printed_and_counted(void)
{
    setup_objects();
    LONG before = openwsk_error_log_count();
    const char *out = capture_stderr(write_one);
    CHECK_EQ(openwsk_error_log_count(), before + 1);
    CHECK(strstr(out, "openwsk: error log: \"\\Driver\\errtest\": ") == out);
    CHECK(strstr(out, "ErrorCode 0xC0040001") != NULL);
    CHECK(strstr(out, "UniqueErrorValue 0x1234") != NULL);
    CHECK(strstr(out, "FinalStatus 0xC00000B5") != NULL);
    CHECK(strstr(out, "MajorFunction 0x0E") != NULL);
    CHECK(strstr(out, "DumpData 0xCAFEF00D 0x00000042 Strings") != NULL);
    CHECK(strstr(out, "Strings \"first\" \"second\"\n") != NULL);
    CHECK_EQ(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    fprintf(stderr, "  printed: %s", out);
    CHECK_EQ(openwsk_pool_outstanding_count(ELEN_TAG), 0); /* written entries are freed */
}

int main(void)
{
    WT_RUN(constants_and_layout);
    WT_RUN(size_limit);
    WT_RUN(written_entry_is_printed_and_counted);
    return wt_finish();
}
