/*
 * errlog.c - the I/O error log: IoAllocateErrorLogEntry,
 * IoWriteErrorLogEntry, IoFreeErrorLogEntry.
 *
 * There is no event log to post to: a written entry becomes one line on
 * stderr naming the driver and giving the packet's fields, its dump data
 * words and its insertion strings, and is counted
 * (openwsk_error_log_count).  Entries come from the pool under the tag
 * 'ElEn', so an entry a driver neither writes nor frees shows up in the
 * leak report.
 *
 * IoAllocateErrorLogEntry returns NULL for an EntrySize above
 * ERROR_LOG_MAXIMUM_SIZE ("This value cannot exceed ERROR_LOG_MAXIMUM_SIZE")
 * or without an I/O object; the packet comes back zeroed, and never smaller
 * than an IO_ERROR_LOG_PACKET.
 */
#include <wdm.h>
#include <openwsk_runtime.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRLOG_TAG TAG_FROM_CHARS('E', 'l', 'E', 'n')

/* Hidden before the packet: who logs, and how many bytes are valid. */
typedef struct errlog_entry {
    PVOID IoObject;
    ULONG Size;
    ULONG Reserved;
    IO_ERROR_LOG_PACKET Packet;
} errlog_entry;

static LONG errlog_written;

NTKERNELAPI PVOID IoAllocateErrorLogEntry(PVOID IoObject, UCHAR EntrySize)
{
    if (!IoObject || EntrySize > ERROR_LOG_MAXIMUM_SIZE)
        return NULL;
    ULONG size = EntrySize < sizeof(IO_ERROR_LOG_PACKET) ? (ULONG)sizeof(IO_ERROR_LOG_PACKET) : EntrySize;
    errlog_entry *e =
        ExAllocatePoolWithTag(NonPagedPoolNx, offsetof(errlog_entry, Packet) + size, ERRLOG_TAG);
    if (!e)
        return NULL;
    memset(e, 0, offsetof(errlog_entry, Packet) + size);
    e->IoObject = IoObject;
    e->Size = size;
    return &e->Packet;
}

static errlog_entry *entry_of(PVOID ElEntry)
{
    return CONTAINING_RECORD(ElEntry, errlog_entry, Packet);
}

NTKERNELAPI void IoFreeErrorLogEntry(PVOID ElEntry)
{
    ExFreePoolWithTag(entry_of(ElEntry), ERRLOG_TAG);
}

typedef struct line_buf {
    char text[2048];
    size_t len;
} line_buf;

static void put(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line_buf *b, const char *fmt, ...)
{
    if (b->len >= sizeof(b->text))
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->text + b->len, sizeof(b->text) - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
    if (b->len > sizeof(b->text) - 1)
        b->len = sizeof(b->text) - 1;
}

/* UTF-16 (count in characters) to UTF-8, quoted. */
static void put_wide(line_buf *b, const WCHAR *s, ULONG chars)
{
    char utf8[512];
    ULONG bytes = 0;
    if (chars > 160)
        chars = 160;
    if (!NT_SUCCESS(RtlUnicodeToUTF8N(utf8, sizeof(utf8) - 1, &bytes, s, chars * (ULONG)sizeof(WCHAR))))
        bytes = 0;
    utf8[bytes] = 0;
    put(b, "\"%s\"", utf8);
}

static void put_logger_name(line_buf *b, PVOID io_object)
{
    const UNICODE_STRING *name = NULL;
    CSHORT type = *(const CSHORT *)io_object;
    if (type == IO_TYPE_DEVICE && ((PDEVICE_OBJECT)io_object)->DriverObject)
        name = &((PDEVICE_OBJECT)io_object)->DriverObject->DriverName;
    else if (type == IO_TYPE_DRIVER)
        name = &((PDRIVER_OBJECT)io_object)->DriverName;
    if (name && name->Buffer && name->Length)
        put_wide(b, name->Buffer, name->Length / sizeof(WCHAR));
    else
        put(b, "%p", io_object);
}

NTKERNELAPI void IoWriteErrorLogEntry(PVOID ElEntry)
{
    errlog_entry *e = entry_of(ElEntry);
    const IO_ERROR_LOG_PACKET *p = &e->Packet;
    line_buf b;
    b.len = 0;
    put(&b, "openwsk: error log: ");
    put_logger_name(&b, e->IoObject);
    put(&b, ": ErrorCode 0x%08X UniqueErrorValue 0x%X FinalStatus 0x%08X MajorFunction 0x%02X RetryCount %u",
        (unsigned)p->ErrorCode, (unsigned)p->UniqueErrorValue, (unsigned)p->FinalStatus, p->MajorFunctionCode,
        p->RetryCount);
    if (p->SequenceNumber || p->IoControlCode || p->DeviceOffset.QuadPart || p->EventCategory)
        put(&b, " SequenceNumber %u IoControlCode 0x%X DeviceOffset 0x%llX EventCategory %u",
            (unsigned)p->SequenceNumber, (unsigned)p->IoControlCode, (unsigned long long)p->DeviceOffset.QuadPart,
            p->EventCategory);
    /* Dump data: whole ULONGs, within the entry. */
    ULONG avail = e->Size - (ULONG)offsetof(IO_ERROR_LOG_PACKET, DumpData);
    ULONG words = (p->DumpDataSize < avail ? p->DumpDataSize : avail) / sizeof(ULONG);
    if (words) {
        put(&b, " DumpData");
        for (ULONG i = 0; i < words; i++)
            put(&b, " 0x%08X", (unsigned)p->DumpData[i]);
    }
    /* Insertion strings: NUL-terminated UTF-16 at StringOffset, within the entry. */
    if (p->NumberOfStrings && p->StringOffset >= offsetof(IO_ERROR_LOG_PACKET, DumpData) &&
        p->StringOffset < e->Size && (p->StringOffset & 1) == 0) {
        const WCHAR *s = (const WCHAR *)((const char *)p + p->StringOffset);
        const WCHAR *end = (const WCHAR *)((const char *)p + (e->Size & ~1u));
        put(&b, " Strings");
        for (USHORT i = 0; i < p->NumberOfStrings && s < end; i++) {
            ULONG n = 0;
            while (s + n < end && s[n])
                n++;
            put(&b, " ");
            put_wide(&b, s, n);
            s += n + 1;
        }
    }
    put(&b, "\n");
    fputs(b.text, stderr);
    __atomic_add_fetch(&errlog_written, 1, __ATOMIC_RELAXED);
    IoFreeErrorLogEntry(ElEntry);
}

OPENWSK_API LONG openwsk_error_log_count(void)
{
    return __atomic_load_n(&errlog_written, __ATOMIC_RELAXED);
}
