/*
 * object.c - reference-counted objects and the kernel handle table.
 *
 * An object header sits in front of each body (as NT's OBJECT_HEADER does),
 * so a PETHREAD points at the body, whose first member is its
 * DISPATCHER_HEADER.  Handles index a table; their values are multiples of 4
 * with the kernel-handle bit set, as Windows hands out kernel handles.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <pthread.h>
#include <stdlib.h>

#define OB_MAGIC 0x4F424A31u /* "OBJ1" */
#define OB_KERNEL_HANDLE_BIT 0xFFFFFFFF80000000ULL

typedef struct ob_header {
    ULONG magic;
    volatile LONG refs;
    POBJECT_TYPE type;
    void (*destroy)(void *body);
    BOOLEAN untracked; /* allocated outside the pool (see openwsk_object_create_untracked) */
} ob_header;
_Static_assert(sizeof(ob_header) % 16 == 0, "object bodies must stay 16-byte aligned");

static struct _OBJECT_TYPE ob_thread_type = {"Thread"};
static struct _OBJECT_TYPE ob_process_type = {"Process"};
static struct _OBJECT_TYPE ob_event_type = {"Event"};
static struct _OBJECT_TYPE ob_file_type = {"File"};
static POBJECT_TYPE ob_thread_type_ptr = &ob_thread_type;
static POBJECT_TYPE ob_process_type_ptr = &ob_process_type;
static POBJECT_TYPE ob_event_type_ptr = &ob_event_type;
static POBJECT_TYPE ob_file_type_ptr = &ob_file_type;
POBJECT_TYPE *PsThreadType = &ob_thread_type_ptr;
POBJECT_TYPE *PsProcessType = &ob_process_type_ptr;
POBJECT_TYPE *ExEventObjectType = &ob_event_type_ptr;
POBJECT_TYPE *IoFileObjectType = &ob_file_type_ptr;

static ob_header *ob_header_of(const void *body)
{
    ob_header *h = (ob_header *)body - 1;
    if (body == NULL || h->magic != OB_MAGIC)
        KeBugCheckEx(0x18 /* REFERENCE_BY_POINTER */, 0, (ULONG_PTR)body, 0, 0);
    return h;
}

void *openwsk_object_create(SIZE_T body_size, POBJECT_TYPE type, void (*destroy)(void *body))
{
    ob_header *h = openwsk_pool_alloc(sizeof(ob_header) + body_size, OPENWSK_TAG_OBJECT, TRUE);
    if (h == NULL)
        return NULL;
    h->magic = OB_MAGIC;
    h->refs = 1;
    h->type = type;
    h->destroy = destroy;
    return h + 1;
}

void *openwsk_object_create_untracked(SIZE_T body_size, POBJECT_TYPE type, void (*destroy)(void *body))
{
    ob_header *h = NULL;
    if (posix_memalign((void **)&h, 16, sizeof(ob_header) + body_size) != 0)
        return NULL;
    __builtin_memset(h, 0, sizeof(ob_header) + body_size);
    h->magic = OB_MAGIC;
    h->refs = 1;
    h->type = type;
    h->destroy = destroy;
    h->untracked = TRUE;
    return h + 1;
}

/* The one process: every driver of this host runs in the "System" process. */
static struct {
    ob_header h;
    struct _EPROCESS body;
} ob_system_process = {
    .h = {.magic = OB_MAGIC, .refs = 1 << 30, .type = &ob_process_type},
    .body = {.Header = {.Type = ProcessObject, .Size = sizeof(struct _EPROCESS) / sizeof(LONG)}},
};

PEPROCESS openwsk_system_process(void)
{
    return &ob_system_process.body;
}

POBJECT_TYPE openwsk_object_type(const void *body)
{
    return ob_header_of(body)->type;
}

LONG_PTR ObfReferenceObject(PVOID Object)
{
    return __atomic_add_fetch(&ob_header_of(Object)->refs, 1, __ATOMIC_RELAXED);
}

LONG_PTR ObfDereferenceObject(PVOID Object)
{
    ob_header *h = ob_header_of(Object);
    LONG left = __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL);
    if (left < 0)
        KeBugCheckEx(0x18 /* REFERENCE_BY_POINTER */, 0, (ULONG_PTR)Object, (ULONG_PTR)(LONG_PTR)left, 0);
    if (left == 0) {
        if (h->destroy)
            h->destroy(Object);
        h->magic = 0;
        if (h->untracked)
            free(h);
        else
            openwsk_pool_free(h);
    }
    return left;
}

LONG_PTR ObfReferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    return ObfReferenceObject(Object);
}

LONG_PTR ObfDereferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    return ObfDereferenceObject(Object);
}

NTSTATUS ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                    KPROCESSOR_MODE AccessMode)
{
    (void)DesiredAccess;
    (void)AccessMode;
    if (ObjectType != NULL && openwsk_object_type(Object) != ObjectType)
        return STATUS_OBJECT_TYPE_MISMATCH;
    ObfReferenceObject(Object);
    return STATUS_SUCCESS;
}

/* ---- handle table ---- */

static pthread_mutex_t handle_lock = PTHREAD_MUTEX_INITIALIZER;
static void **handle_slots;
static ULONG handle_capacity;

NTSTATUS openwsk_handle_create(void *body, PHANDLE handle)
{
    pthread_mutex_lock(&handle_lock);
    ULONG i = 0;
    while (i < handle_capacity && handle_slots[i] != NULL)
        i++;
    if (i == handle_capacity) {
        ULONG cap = handle_capacity ? handle_capacity * 2 : 64;
        void **grown = openwsk_pool_alloc(cap * sizeof(void *), OPENWSK_TAG_OBJECT, TRUE);
        if (grown == NULL) {
            pthread_mutex_unlock(&handle_lock);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (handle_slots != NULL) {
            __builtin_memcpy(grown, handle_slots, handle_capacity * sizeof(void *));
            openwsk_pool_free(handle_slots);
        }
        handle_slots = grown;
        handle_capacity = cap;
    }
    ObfReferenceObject(body);
    handle_slots[i] = body;
    pthread_mutex_unlock(&handle_lock);
    *handle = (HANDLE)(ULONG_PTR)(OB_KERNEL_HANDLE_BIT | ((ULONGLONG)(i + 1) * 4));
    return STATUS_SUCCESS;
}

static BOOLEAN handle_index(HANDLE handle, ULONG *index)
{
    ULONGLONG v = (ULONGLONG)(ULONG_PTR)handle;
    if ((v & OB_KERNEL_HANDLE_BIT) != OB_KERNEL_HANDLE_BIT || (v & 3) != 0)
        return FALSE;
    ULONGLONG n = (v & ~OB_KERNEL_HANDLE_BIT) / 4;
    if (n == 0 || n > handle_capacity)
        return FALSE;
    *index = (ULONG)(n - 1);
    return TRUE;
}

/* Frees the table once it is empty, so a clean process shows no leak. */
static void handle_table_trim_locked(void)
{
    for (ULONG i = 0; i < handle_capacity; i++)
        if (handle_slots[i] != NULL)
            return;
    openwsk_pool_free(handle_slots);
    handle_slots = NULL;
    handle_capacity = 0;
}

NTSTATUS ZwClose(HANDLE Handle)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwClose");
    ULONG i;
    pthread_mutex_lock(&handle_lock);
    if (!handle_index(Handle, &i) || handle_slots[i] == NULL) {
        pthread_mutex_unlock(&handle_lock);
        return STATUS_INVALID_HANDLE;
    }
    void *body = handle_slots[i];
    handle_slots[i] = NULL;
    handle_table_trim_locked();
    pthread_mutex_unlock(&handle_lock);
    ObfDereferenceObject(body);
    return STATUS_SUCCESS;
}

static NTSTATUS reference_by_handle(HANDLE Handle, POBJECT_TYPE ObjectType, PVOID *Object)
{
    if (Handle == NtCurrentThread() && (ObjectType == NULL || ObjectType == *PsThreadType)) {
        PETHREAD self = PsGetCurrentThread();
        ObfReferenceObject(self);
        *Object = self;
        return STATUS_SUCCESS;
    }
    ULONG i;
    pthread_mutex_lock(&handle_lock);
    if (!handle_index(Handle, &i) || handle_slots[i] == NULL) {
        pthread_mutex_unlock(&handle_lock);
        return STATUS_INVALID_HANDLE;
    }
    void *body = handle_slots[i];
    if (ObjectType != NULL && openwsk_object_type(body) != ObjectType) {
        pthread_mutex_unlock(&handle_lock);
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    ObfReferenceObject(body);
    pthread_mutex_unlock(&handle_lock);
    *Object = body;
    return STATUS_SUCCESS;
}

NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                   KPROCESSOR_MODE AccessMode, void *Object,
                                   POBJECT_HANDLE_INFORMATION HandleInformation)
{
    (void)AccessMode;
    NTSTATUS status = reference_by_handle(Handle, ObjectType, (PVOID *)Object);
    if (NT_SUCCESS(status) && HandleInformation != NULL) {
        HandleInformation->HandleAttributes = OBJ_KERNEL_HANDLE;
        HandleInformation->GrantedAccess = DesiredAccess;
    }
    return status;
}

NTSTATUS ObReferenceObjectByHandleWithTag(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                          KPROCESSOR_MODE AccessMode, ULONG Tag, void *Object,
                                          POBJECT_HANDLE_INFORMATION HandleInformation)
{
    (void)Tag;
    return ObReferenceObjectByHandle(Handle, DesiredAccess, ObjectType, AccessMode, Object, HandleInformation);
}
