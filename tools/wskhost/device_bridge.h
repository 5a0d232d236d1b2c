/*
 * device_bridge.h - makes the driver's named devices and symbolic links
 * reachable from other Linux processes (libopenwsk_user's CreateFile,
 * DeviceIoControl, ReadFile, WriteFile, CloseHandle) and turns their
 * requests into IRPs sent to the driver's dispatch routines.
 */
#ifndef WSKHOST_DEVICE_BRIDGE_H
#define WSKHOST_DEVICE_BRIDGE_H

/* Before DriverEntry: starts the bridge thread and observes the namespace.
 * Returns 0, or -1 with a message printed. */
int device_bridge_start(void);
/* After DriverEntry returned: opens are served from now on (until then
 * they wait in the listening sockets' backlog: Windows opens no device of a
 * driver whose DriverEntry is still running, DO_DEVICE_INITIALIZING). */
void device_bridge_serve(void);
/* Before DriverUnload: every open handle is closed as if its process died
 * (pending IRPs cancelled, IRP_MJ_CLEANUP, IRP_MJ_CLOSE), new opens are
 * refused, and the bridge thread ends once every IRP it sent completed. */
void device_bridge_stop(void);
/* After DriverUnload: stops observing and frees what is left. */
void device_bridge_finish(void);

#endif /* WSKHOST_DEVICE_BRIDGE_H */
