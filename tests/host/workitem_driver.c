/*
 * workitem_driver.c - a driver whose work item is still running when the
 * host unloads it (test_wskhost_workitem.sh).
 *
 * DriverUnload queues a work item that sleeps, deletes its device object
 * and returns at once.  The routine then wakes up in the driver's code,
 * reads the deleted device's extension and frees its item: the host must
 * neither unmap the image nor free the device object before that, as
 * Windows keeps both while the work item holds its device reference.
 * Loaded under the service name "workitem_ex" it queues an ExQueueWorkItem
 * item instead, which Windows does not protect: the host must report it.
 */
#include <ntddk.h>

#define WI_TAG 'iwTD'

typedef struct WI_EXTENSION {
    ULONG Magic;
} WI_EXTENSION;

typedef struct WI_EX_ITEM {
    WORK_QUEUE_ITEM Item;
} WI_EX_ITEM;

static PDEVICE_OBJECT WiDevice;
static BOOLEAN WiExMode;

static VOID WiSleep(LONG Milliseconds)
{
    LARGE_INTEGER interval;
    interval.QuadPart = -10000LL * Milliseconds;
    KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

static IO_WORKITEM_ROUTINE WiRoutine;
static VOID WiRoutine(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIO_WORKITEM item = Context;
    WiSleep(300);
    WI_EXTENSION *ext = DeviceObject->DeviceExtension;
    DbgPrint("workitem: routine done at IRQL %u, extension %s\n", (unsigned)KeGetCurrentIrql(),
             ext->Magic == 0x57494D31 ? "intact" : "CORRUPT");
    IoFreeWorkItem(item);
}

static VOID WiExRoutine(PVOID Parameter)
{
    WiSleep(300);
    DbgPrint("workitem: ExQueueWorkItem routine done\n");
    ExFreePoolWithTag(Parameter, WI_TAG);
}

static DRIVER_UNLOAD WiUnload;
static VOID WiUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    if (WiExMode) {
        WI_EX_ITEM *x = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*x), WI_TAG);
        if (x != NULL) {
            ExInitializeWorkItem(&x->Item, WiExRoutine, x);
            ExQueueWorkItem(&x->Item, DelayedWorkQueue);
        }
    } else {
        PIO_WORKITEM item = IoAllocateWorkItem(WiDevice);
        if (item != NULL)
            IoQueueWorkItem(item, WiRoutine, DelayedWorkQueue, item);
    }
    IoDeleteDevice(WiDevice);
    DbgPrint("workitem: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    UNICODE_STRING ex_name;
    RtlInitUnicodeString(&ex_name, L"workitem_ex");
    WiExMode = RtlEqualUnicodeString(&DriverObject->DriverExtension->ServiceKeyName, &ex_name, TRUE);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(WI_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE,
                                     &WiDevice);
    if (!NT_SUCCESS(status))
        return status;
    ((WI_EXTENSION *)WiDevice->DeviceExtension)->Magic = 0x57494D31;
    DriverObject->DriverUnload = WiUnload;
    DbgPrint("workitem: ready\n");
    return STATUS_SUCCESS;
}
