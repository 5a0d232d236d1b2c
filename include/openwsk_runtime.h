/*
 * openwsk_runtime.h - openwsk's own interface to the kernel runtime: leak
 * accounting and failure injection, for hosts (wskhost) and tests.  Not a
 * WDK header; driver code never needs it.
 */
#ifndef OPENWSK_RUNTIME_H
#define OPENWSK_RUNTIME_H

#include <ntdef.h>

EXTERN_C_START

/* Pool tags the runtime uses for its own objects, so that leaked IRPs and
 * MDLs show up in the pool report under a recognisable name. */
#define OPENWSK_TAG_IRP TAG_FROM_CHARS('I', 'r', 'p', ' ')
#define OPENWSK_TAG_MDL TAG_FROM_CHARS('M', 'd', 'l', ' ')
#define OPENWSK_TAG_STRING TAG_FROM_CHARS('S', 't', 'r', 'g')
#define OPENWSK_TAG_UNTAGGED TAG_FROM_CHARS('N', 'o', 'n', 'e')
#define OPENWSK_TAG_OBJECT TAG_FROM_CHARS('O', 'b', 'j', ' ')

/* Outstanding pool allocations: for one tag, or for all tags when Tag is 0. */
OPENWSK_API SIZE_T openwsk_pool_outstanding_bytes(ULONG Tag);
OPENWSK_API SIZE_T openwsk_pool_outstanding_count(ULONG Tag);

/* Writes one line per tag with outstanding allocations to stderr, e.g.
 *   openwsk: leak: pool tag 'EWsk': 2 allocations, 96 bytes
 * and returns the number of outstanding allocations (0 = no leak). */
OPENWSK_API SIZE_T openwsk_leak_report(void);

/* Failure injection (SQLite style): the Nth pool allocation from now fails
 * (1 = the next one); 0 turns injection off.  Every allocation the runtime
 * makes (IRPs, MDLs, strings, objects) counts. */
OPENWSK_API void openwsk_fault_fail_allocation(LONG Nth);

/* The driver verifier (docs/verifier.md): spec is a comma list of rule
 * groups ("irql", "all"; "" or "off": none).  Returns 0, or -1 for an
 * unknown group (logged).  OPENWSK_VERIFY sets it before main. */
OPENWSK_API int openwsk_verify_configure(const char *spec);
OPENWSK_API unsigned openwsk_verify_enabled_groups(void);

/* Legal-adversity mode (docs/adversity.md): "<seed>[,short][,events]
 * [,lowres=N][,log=FILE]", "" for off.  0, or -1 if malformed (logged).
 * OPENWSK_ADVERSITY sets it before main. */
OPENWSK_API int openwsk_adversity_configure(const char *spec);
/* Number of pool allocations attempted since the process started. */
OPENWSK_API ULONGLONG openwsk_allocation_count(void);

/* Models a WSK subsystem that is not (yet) available: while not ready,
 * WskCaptureProviderNPI waits per its WaitTimeout and then fails with
 * STATUS_DEVICE_NOT_READY.  The subsystem starts ready. */
OPENWSK_API void openwsk_wsk_set_provider_ready(BOOLEAN Ready);

/* WSK registrations not yet deregistered, and sockets not yet closed, in
 * this process (what a host reports after DriverUnload). */
OPENWSK_API LONG openwsk_wsk_registration_count(void);
OPENWSK_API LONG openwsk_wsk_socket_count(void);

/* Timers still set and DPCs still queued or running (KeSetTimer,
 * ExSetTimer, KeInsertQueueDpc): after DriverUnload there should be none.
 * On Windows such a timer's DPC would run in an unloaded image: bug check
 * DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS (0xCE).  A host
 * calls openwsk_timer_cancel_all_for_unload before unmapping the driver:
 * it logs each one under that name, cancels the timers, unqueues the DPCs,
 * waits for a running DPC to return, and returns how many it found. */
OPENWSK_API LONG openwsk_timer_pending_count(void);
OPENWSK_API LONG openwsk_timer_cancel_all_for_unload(void);

/* The emulated registry (ZwOpenKey, ZwQueryValueKey, RtlQueryRegistryValues
 * read it).  Paths are full ("\\Registry\\Machine\\System\\..."), keys are
 * created as needed; names are ASCII/UTF-8, REG_SZ data is stored as UTF-16
 * with its terminator.  openwsk_registry_reset frees everything; call it
 * after the driver has closed its key handles (at host exit). */
OPENWSK_API NTSTATUS openwsk_registry_set(const char *key_path, const char *value_name, ULONG type,
                                          const void *data, ULONG size);
OPENWSK_API NTSTATUS openwsk_registry_set_string(const char *key_path, const char *value_name, const char *utf8);
OPENWSK_API NTSTATUS openwsk_registry_set_dword(const char *key_path, const char *value_name, ULONG value);
OPENWSK_API void openwsk_registry_reset(void);

/* Work items queued or running (IoQueueWorkItem, IoQueueWorkItemEx) of a
 * driver; with Driver NULL, ExQueueWorkItem items.  Like the reference an
 * IO_WORKITEM holds on Windows, they keep the driver's image loaded: a host
 * calls openwsk_io_wait_for_work_items after DriverUnload has returned and
 * before it unmaps the driver. */
struct _DRIVER_OBJECT;
struct _DEVICE_OBJECT;
OPENWSK_API LONG openwsk_io_work_items_outstanding(struct _DRIVER_OBJECT *Driver);
OPENWSK_API void openwsk_io_wait_for_work_items(struct _DRIVER_OBJECT *Driver);

/* The device namespace (IoCreateDevice names, IoCreateSymbolicLink links),
 * for a host that makes devices reachable from other processes.  Directory
 * is "Device" (\Device\X) or "??" (\DosDevices\X, \??\X, \GLOBAL??\X);
 * Name is the leaf, upper-cased ASCII letters, UTF-8.  `added` runs when a
 * name appears in one of those two directories, with the namespace locked
 * (it must not call back into it) and may refuse the name with a failure
 * status (e.g. STATUS_OBJECT_NAME_COLLISION: another process holds it);
 * `removed` runs when it goes. */
typedef struct openwsk_namespace_observer {
    NTSTATUS (*added)(PVOID Context, const char *Directory, const char *Name);
    void (*removed)(PVOID Context, const char *Directory, const char *Name);
    PVOID Context;
} openwsk_namespace_observer;
OPENWSK_API void openwsk_namespace_set_observer(const openwsk_namespace_observer *Observer);
/* Resolves a name (links followed) to its device and takes a reference on
 * it (DEVICE_OBJECT.ReferenceCount) that keeps it in memory after
 * IoDeleteDevice; STATUS_OBJECT_NAME_NOT_FOUND if there is none. */
OPENWSK_API NTSTATUS openwsk_device_reference_by_name(const char *Directory, const char *Name,
                                                      struct _DEVICE_OBJECT **Device);
OPENWSK_API void openwsk_device_dereference(struct _DEVICE_OBJECT *Device);

/* Formats a tag the way pool tools show it (memory order), into out[5]. */
OPENWSK_API void openwsk_format_tag(ULONG Tag, char out[5]);

/* Error log entries written with IoWriteErrorLogEntry since the process
 * started (each is also printed on stderr). */
OPENWSK_API LONG openwsk_error_log_count(void);

/* The emulated ETW session (see "Event tracing (ETW)" in wdm.h): enables
 * or disables every provider, calling their enable callbacks, with the
 * given level and keyword masks; overrides OPENWSK_ETW.  The count is the
 * number of events printed since the process started (EtwWrite family and
 * TraceLoggingWrite). */
OPENWSK_API void openwsk_etw_configure(BOOLEAN Enabled, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                       ULONGLONG MatchAllKeyword);
OPENWSK_API LONG openwsk_etw_event_count(void);

/* The IRP and socket timeline (docs/timeline.md): a Chrome trace-event JSON
 * file of the driver's IRPs, sockets, event callbacks, DPCs, work items and
 * pool use.  OPENWSK_TRACE=FILE.json starts it when the runtime loads and
 * writes the file at exit; openwsk_trace_start does the same from a host
 * (returns 0, or -1 if Path is unusable), openwsk_trace_flush writes the
 * file now (0 on success; -1 when tracing is off or the file cannot be
 * written).  Writing again rewrites the whole file.  openwsk_trace_stop
 * writes the file and stops tracing: a host calls it before unmapping the
 * driver, whose routines the file names by module and offset. */
OPENWSK_API int openwsk_trace_start(const char *Path);
OPENWSK_API int openwsk_trace_flush(void);
OPENWSK_API int openwsk_trace_stop(void);
OPENWSK_API BOOLEAN openwsk_trace_active(void);

EXTERN_C_END

#endif /* OPENWSK_RUNTIME_H */
