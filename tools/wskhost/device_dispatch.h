/*
 * device_dispatch.h - one dispatch thread per handle.
 *
 * On Windows the thread that calls DeviceIoControl (ReadFile, ...) is the
 * one that runs the driver's dispatch routine, so callers on different
 * handles are inside the driver at the same time.  The bridge gives each
 * handle a thread that calls IoCallDriver for that handle's IRPs, in the
 * order they were submitted, at PASSIVE_LEVEL.  A dispatch routine that
 * waits blocks its own handle only; one that pends returns at once.
 */
#ifndef WSKHOST_DEVICE_DISPATCH_H
#define WSKHOST_DEVICE_DISPATCH_H

#include <ntddk.h>

typedef struct dispatch_item {
    LIST_ENTRY entry;
    PDEVICE_OBJECT device;
    PIRP irp;
    /* Called on the dispatch thread once IoCallDriver returned. */
    void (*returned)(struct dispatch_item *item);
} dispatch_item;

typedef struct dispatcher dispatcher;

/* NULL when no thread could be started. */
dispatcher *dispatcher_start(void);
/* Queues the item; its IRP is sent after every item submitted before it. */
void dispatcher_submit(dispatcher *d, dispatch_item *item);
/* Runs what is queued, ends the thread and frees it. */
void dispatcher_stop(dispatcher *d);

#endif /* WSKHOST_DEVICE_DISPATCH_H */
