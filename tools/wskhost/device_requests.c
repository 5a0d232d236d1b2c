/*
 * device_requests.c - the IRPs of CreateFile, DeviceIoControl, ReadFile and
 * WriteFile, built as the I/O manager builds them (see device_bridge.c's
 * top comment); the caller's buffers are copies in wskhost's pool.
 */
#include "device_handle.h"

#include <string.h>

/* Generic rights of a file object ("File Security and Access Rights"). */
#define B_FILE_GENERIC_READ 0x00120089u
#define B_FILE_GENERIC_WRITE 0x00120116u
#define B_FILE_GENERIC_EXECUTE 0x001200A0u
#define B_FILE_ALL_ACCESS 0x001F01FFu
#define B_MAXIMUM_ALLOWED 0x02000000u

static PVOID pool_copy(const void *data, size_t n, size_t size)
{
    if (size == 0)
        return NULL;
    PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, size, BRIDGE_TAG);
    if (p != NULL && n > 0)
        memcpy(p, data, n);
    return p;
}

static int describe_with_mdl(bridge_req *r, PVOID buffer, ULONG length)
{
    r->mdl = IoAllocateMdl(buffer, length, FALSE, FALSE, NULL);
    if (r->mdl == NULL)
        return -1;
    MmBuildMdlForNonPagedPool(r->mdl);
    r->irp->MdlAddress = r->mdl;
    return 0;
}

static ACCESS_MASK map_access(uint32_t desired)
{
    ACCESS_MASK a = desired & 0x01FFFFFFu;
    if (desired & GENERIC_READ)
        a |= B_FILE_GENERIC_READ;
    if (desired & GENERIC_WRITE)
        a |= B_FILE_GENERIC_WRITE;
    if (desired & GENERIC_EXECUTE)
        a |= B_FILE_GENERIC_EXECUTE;
    if (desired & (GENERIC_ALL | B_MAXIMUM_ALLOWED))
        a |= B_FILE_ALL_ACCESS;
    return a & ~B_MAXIMUM_ALLOWED;
}

void bridge_open(conn *c, const struct devproto_request *q, const uint8_t *payload)
{
    NTSTATUS st = STATUS_SUCCESS;
    if (c->state != C_NEW)
        st = STATUS_INVALID_PARAMETER;
    else if (c->denied)
        st = STATUS_ACCESS_DENIED;
    if (NT_SUCCESS(st))
        st = openwsk_device_reference_by_name(c->dir, c->name, &c->device);
    if (NT_SUCCESS(st)) {
        /* IopCheckDeviceAndDriver's checks: a device still initializing
         * cannot be opened; an exclusive one only once at a time. */
        if (c->device->Flags & DO_DEVICE_INITIALIZING)
            st = STATUS_NO_SUCH_DEVICE;
        else if ((c->device->Flags & DO_EXCLUSIVE) && c->device->ReferenceCount > 1)
            st = STATUS_ACCESS_DENIED;
    }
    if (NT_SUCCESS(st)) {
        c->file = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(FILE_OBJECT), FILE_TAG);
        if (c->file == NULL)
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    if (NT_SUCCESS(st) && q->in_length >= sizeof(WCHAR)) {
        USHORT n = (USHORT)(q->in_length & ~1u);
        c->file->FileName.Buffer = pool_copy(payload, n, n + sizeof(WCHAR));
        if (c->file->FileName.Buffer == NULL) {
            st = STATUS_INSUFFICIENT_RESOURCES;
        } else {
            c->file->FileName.Buffer[n / sizeof(WCHAR)] = 0;
            c->file->FileName.Length = n;
            c->file->FileName.MaximumLength = (USHORT)(n + sizeof(WCHAR));
        }
    }
    bridge_req *r = NULL;
    if (NT_SUCCESS(st)) {
        PFILE_OBJECT f = c->file;
        f->Type = IO_TYPE_FILE;
        f->Size = sizeof(FILE_OBJECT);
        f->DeviceObject = c->device;
        /* CreateFile without FILE_FLAG_OVERLAPPED asks for
         * FILE_SYNCHRONOUS_IO_NONALERT: a synchronous file object. */
        if (q->offset & 0x20)
            f->Flags = FO_SYNCHRONOUS_IO;
        c->granted = map_access(q->code);
        f->ReadAccess = (c->granted & FILE_READ_DATA) != 0;
        f->WriteAccess = (c->granted & FILE_WRITE_DATA) != 0;
        f->SharedRead = (q->out_length & 1) != 0;
        f->SharedWrite = (q->out_length & 2) != 0;
        f->SharedDelete = (q->out_length & 4) != 0;
        KeInitializeEvent(&f->Lock, SynchronizationEvent, FALSE);
        KeInitializeEvent(&f->Event, NotificationEvent, FALSE);
        InitializeListHead(&f->IrpList);
        r = bridge_req_new(c, IRP_MJ_CREATE, q->id);
        if (r == NULL)
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    if (!NT_SUCCESS(st)) {
        bridge_reply(c, q->id, st, 0, NULL, 0);
        if (c->file != NULL) {
            if (c->file->FileName.Buffer != NULL)
                ExFreePool(c->file->FileName.Buffer);
            ExFreePool(c->file);
            c->file = NULL;
        }
        if (c->device != NULL) {
            openwsk_device_dereference(c->device);
            c->device = NULL;
        }
        return; /* the caller may try again or close */
    }
    r->security.DesiredAccess = c->granted;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(r->irp);
    sl->Parameters.Create.SecurityContext = &r->security;
    /* CreateDisposition << 24 | CreateOptions, as NtCreateFile passes them. */
    sl->Parameters.Create.Options = (ULONG)q->offset;
    sl->Parameters.Create.ShareAccess = (USHORT)q->out_length;
    r->irp->Flags = IRP_CREATE_OPERATION | IRP_SYNCHRONOUS_API;
    c->state = C_OPENING;
    bridge_req_send(r);
}

/* FILE_READ_ACCESS / FILE_WRITE_ACCESS in a control code require that
 * right on the handle ("Defining I/O Control Codes", RequiredAccess). */
static int ioctl_access_ok(conn *c, ULONG code)
{
    ULONG access = (code >> 14) & 3;
    if ((access & FILE_READ_ACCESS) && !(c->granted & FILE_READ_DATA))
        return 0;
    if ((access & FILE_WRITE_ACCESS) && !(c->granted & FILE_WRITE_DATA))
        return 0;
    return 1;
}

void bridge_ioctl(conn *c, const struct devproto_request *q, const uint8_t *payload)
{
    ULONG code = q->code, in = q->in_length, out = q->out_length;
    if (!ioctl_access_ok(c, code)) {
        bridge_reply(c, q->id, STATUS_ACCESS_DENIED, 0, NULL, 0);
        return;
    }
    bridge_req *r = bridge_req_new(c, IRP_MJ_DEVICE_CONTROL, q->id);
    if (r == NULL)
        goto no_memory;
    r->method = METHOD_FROM_CTL_CODE(code);
    r->out_length = out;
    PIRP irp = r->irp;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->Parameters.DeviceIoControl.IoControlCode = code;
    sl->Parameters.DeviceIoControl.InputBufferLength = in;
    sl->Parameters.DeviceIoControl.OutputBufferLength = out;
    switch (r->method) {
    case METHOD_BUFFERED: {
        size_t n = in > out ? in : out;
        r->system_buffer = pool_copy(payload, in, n);
        if (n > 0 && r->system_buffer == NULL)
            goto no_memory;
        irp->AssociatedIrp.SystemBuffer = r->system_buffer;
        irp->Flags = IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | (out ? IRP_INPUT_OPERATION : 0);
        break;
    }
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        r->system_buffer = pool_copy(payload, in, in);
        r->out_copy = pool_copy(payload + in, out, out);
        if ((in > 0 && r->system_buffer == NULL) || (out > 0 && r->out_copy == NULL))
            goto no_memory;
        irp->AssociatedIrp.SystemBuffer = r->system_buffer;
        if (in > 0)
            irp->Flags = IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
        if (out > 0 && describe_with_mdl(r, r->out_copy, out) != 0)
            goto no_memory;
        irp->UserBuffer = r->out_copy;
        break;
    default: /* METHOD_NEITHER */
        r->in_copy = pool_copy(payload, in, in);
        r->out_copy = pool_copy(payload + in, out, out);
        if ((in > 0 && r->in_copy == NULL) || (out > 0 && r->out_copy == NULL))
            goto no_memory;
        sl->Parameters.DeviceIoControl.Type3InputBuffer = r->in_copy;
        irp->UserBuffer = r->out_copy;
        break;
    }
    bridge_req_send(r);
    return;
no_memory:
    if (r != NULL)
        bridge_req_free(r);
    bridge_reply(c, q->id, STATUS_INSUFFICIENT_RESOURCES, 0, NULL, 0);
}

void bridge_read_write(conn *c, const struct devproto_request *q, const uint8_t *payload)
{
    int write = q->op == DEVPROTO_WRITE;
    if (!(c->granted & (write ? FILE_WRITE_DATA : FILE_READ_DATA))) {
        bridge_reply(c, q->id, STATUS_ACCESS_DENIED, 0, NULL, 0);
        return;
    }
    ULONG length = write ? q->in_length : q->out_length;
    bridge_req *r = bridge_req_new(c, write ? IRP_MJ_WRITE : IRP_MJ_READ, q->id);
    if (r == NULL)
        goto no_memory;
    PIRP irp = r->irp;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    /* Without an offset, the file pointer (synchronous files only: the
     * library always gives one on an overlapped handle). */
    r->offset.QuadPart = (q->flags & DEVPROTO_F_OFFSET) ? (LONGLONG)q->offset : c->file->CurrentByteOffset.QuadPart;
    r->out_length = write ? 0 : length;
    /* Read and Write have the same layout. */
    sl->Parameters.Read.Length = length;
    sl->Parameters.Read.ByteOffset = r->offset;
    ULONG flags = c->device->Flags;
    r->method = (flags & DO_BUFFERED_IO) ? METHOD_BUFFERED : (flags & DO_DIRECT_IO) ? METHOD_OUT_DIRECT : METHOD_NEITHER;
    if (r->method == METHOD_BUFFERED) {
        r->system_buffer = pool_copy(payload, write ? length : 0, length);
        if (length > 0 && r->system_buffer == NULL)
            goto no_memory;
        irp->AssociatedIrp.SystemBuffer = r->system_buffer;
        irp->Flags = IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | (write ? 0 : IRP_INPUT_OPERATION);
    } else {
        r->out_copy = pool_copy(payload, write ? length : 0, length);
        if (length > 0 && r->out_copy == NULL)
            goto no_memory;
        if (r->method == METHOD_OUT_DIRECT && length > 0 && describe_with_mdl(r, r->out_copy, length) != 0)
            goto no_memory;
        irp->UserBuffer = r->out_copy;
    }
    irp->Flags |= write ? IRP_WRITE_OPERATION : IRP_READ_OPERATION;
    bridge_req_send(r);
    return;
no_memory:
    if (r != NULL)
        bridge_req_free(r);
    bridge_reply(c, q->id, STATUS_INSUFFICIENT_RESOURCES, 0, NULL, 0);
}
