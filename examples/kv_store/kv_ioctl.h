/*
 * kv_ioctl.h - the I/O control codes of the kv_store example, shared by the
 * driver (which includes ntddk.h first) and its Linux companion (which
 * includes openwsk_user.h first).
 */
#ifndef KV_IOCTL_H
#define KV_IOCTL_H

#define KV_LINK_NAME L"\\DosDevices\\KvStore"
#define KV_DEVICE_NAME L"\\Device\\KvStore"

#define KV_KEY_MAX 32    /* with its terminating NUL */
#define KV_VALUE_MAX 128

/* A record.  Times are the driver's interrupt time (100 ns units). */
typedef struct KV_RECORD {
    char Key[KV_KEY_MAX];
    unsigned int ValueLength;
    unsigned int TtlMs;             /* 0: never expires */
    unsigned long long ExpiresAt;   /* out: when it may be expired (0: never) */
    unsigned char Value[KV_VALUE_MAX];
} KV_RECORD;

/* What an expiry pass did (the WAIT_EXPIRY output). */
typedef struct KV_EXPIRY_PASS {
    unsigned long long Pass;    /* 1 for the first pass */
    unsigned long long Now;     /* records with ExpiresAt <= Now were expired */
    unsigned int Expired;       /* by this pass */
    unsigned int Remaining;     /* records left after it */
} KV_EXPIRY_PASS;

typedef struct KV_STATS {
    long long Records;
    long long Puts, Replaced, Gets, Misses, Deletes, Lists;
    long long Expired;          /* records removed by expiry passes */
    long long TimerDpcs;        /* timer DPCs run */
    long long WorkItemsQueued;  /* expiry work items queued by the DPC */
    long long Passes;           /* expiry passes done */
    long long Waiting;          /* WAIT_EXPIRY IRPs pended now */
    long long WaitsCompleted, WaitsCancelled;
    long long MaxSharedHolders; /* most lookups seen holding the resource at once */
    long long MaxDispatching;   /* most DEVICE_CONTROL dispatch routines running at once */
    int DpcIrql;                /* KeGetCurrentIrql in the timer DPC */
    int WorkerIrql;             /* KeGetCurrentIrql in the work item */
} KV_STATS;

/* LIST output: a header and as many keys (in key order) as fit. */
typedef struct KV_LIST {
    unsigned int Count;         /* keys returned */
    unsigned int Total;         /* keys in the table */
    char Keys[][KV_KEY_MAX];
} KV_LIST;

/* in = KV_RECORD (Key, ValueLength, TtlMs, Value); out (optional) = the
 * stored KV_RECORD, with ExpiresAt. */
#define IOCTL_KV_PUT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* in = the key (NUL-terminated); out = KV_RECORD.  STATUS_NOT_FOUND. */
#define IOCTL_KV_GET CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_READ_ACCESS)
/* in = the key.  STATUS_NOT_FOUND. */
#define IOCTL_KV_DELETE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* out = KV_LIST; STATUS_BUFFER_OVERFLOW when not every key fits. */
#define IOCTL_KV_LIST CTL_CODE(FILE_DEVICE_UNKNOWN, 0x903, METHOD_BUFFERED, FILE_READ_ACCESS)
/* out = KV_STATS. */
#define IOCTL_KV_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x904, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Pends until an expiry pass completes; out = KV_EXPIRY_PASS.  in
 * (optional, 8 bytes) = the pass number to wait for; 0 or none: the next. */
#define IOCTL_KV_WAIT_EXPIRY CTL_CODE(FILE_DEVICE_UNKNOWN, 0x905, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Two callers meet inside the driver: the first waits in its dispatch
 * routine (up to 5 s) until a second one arrives.  STATUS_IO_TIMEOUT when
 * none did, as when the I/O manager runs one dispatch routine at a time. */
#define IOCTL_KV_RENDEZVOUS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x906, METHOD_BUFFERED, FILE_ANY_ACCESS)

#endif
