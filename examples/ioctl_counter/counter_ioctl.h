/*
 * counter_ioctl.h - the I/O control codes of the ioctl_counter example,
 * shared by the driver (which includes ntddk.h first) and its Linux
 * companion (which includes openwsk_user.h first), as a Windows driver's
 * public header is shared with its user-mode program.
 */
#ifndef COUNTER_IOCTL_H
#define COUNTER_IOCTL_H

#define COUNTER_LINK_NAME L"\\DosDevices\\IoctlCounter"
#define COUNTER_DEVICE_NAME L"\\Device\\IoctlCounter"
#define COUNTER_DIRECT_DEVICE_NAME L"\\Device\\IoctlCounterDirect"

/* METHOD_BUFFERED: out = the counter (8 bytes). */
#define IOCTL_COUNTER_GET CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS)
/* METHOD_BUFFERED: in = the new value (8 bytes); completes every WAIT. */
#define IOCTL_COUNTER_SET CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* METHOD_BUFFERED: in = a signed delta, out = the new value, in the same
 * SystemBuffer; completes every WAIT. */
#define IOCTL_COUNTER_ADD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* METHOD_OUT_DIRECT: out = every value the counter took, oldest first, as
 * 8-byte numbers; STATUS_BUFFER_TOO_SMALL if not even one fits,
 * STATUS_BUFFER_OVERFLOW with those that fit if not all do. */
#define IOCTL_COUNTER_HISTORY CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_OUT_DIRECT, FILE_READ_ACCESS)
/* METHOD_BUFFERED: pends until the counter next changes; out = its value. */
#define IOCTL_COUNTER_WAIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* METHOD_NEITHER: out (Irp->UserBuffer) = COUNTER_STATS. */
#define IOCTL_COUNTER_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x805, METHOD_NEITHER, FILE_ANY_ACCESS)
/* METHOD_IN_DIRECT: the second buffer (the MDL) is data; its bytes' sum is
 * added to the counter; in (SystemBuffer, 8 bytes) multiplies the sum. */
#define IOCTL_COUNTER_ADD_BYTES CTL_CODE(FILE_DEVICE_UNKNOWN, 0x806, METHOD_IN_DIRECT, FILE_ANY_ACCESS)

typedef struct COUNTER_STATS {
    long long Creates, Cleanups, Closes;
    long long Waiting;             /* WAITs pended now */
    long long CancelledByRoutine;  /* WAITs completed by the cancel routine */
    long long CancelledInCleanup;  /* WAITs completed by IRP_MJ_CLEANUP */
    long long LastCreateAccess;    /* DesiredAccess of the last IRP_MJ_CREATE */
    long long LastCreateSynchronous; /* its FILE_OBJECT had FO_SYNCHRONOUS_IO */
    char LastFileName[32];         /* its FILE_OBJECT's FileName, ASCII */
} COUNTER_STATS;

#endif
