/*
 * mdl.c - memory descriptor lists.
 *
 * In one address space an MDL's "system address" is simply the buffer
 * address; what matters for fidelity is the bookkeeping drivers can observe
 * (flags, sizes, chains) and that MmProbeAndLockPages really checks the
 * range: a bad buffer raises STATUS_ACCESS_VIOLATION into the caller's
 * __try/__except (openwsk_seh.h) instead of crashing later.
 */
#include "ke_internal.h"
#include "adversity.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PROBE_BATCH 64 /* pages checked per system call */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* MADV_POPULATE_WRITE exists from Linux 5.14; older kernels answer EINVAL
 * for every range, so ask once on a page that is certainly writable. */
static BOOLEAN mdl_populate_write_supported(void)
{
    static int supported = -1;
    int s = __atomic_load_n(&supported, __ATOMIC_RELAXED);
    if (s < 0) {
        static _Alignas(PAGE_SIZE) UCHAR page[PAGE_SIZE];
        s = madvise(page, PAGE_SIZE, MADV_POPULATE_WRITE) == 0;
        __atomic_store_n(&supported, s, __ATOMIC_RELAXED);
    }
    return (BOOLEAN)s;
}

/* Checks that every page of [va, va+len) is readable by letting the kernel
 * copy one byte per page (process_vm_readv on our own pid fails with EFAULT
 * instead of faulting), and, when asked, writable with
 * madvise(MADV_POPULATE_WRITE), which faults the pages in for writing
 * without changing a byte (a write-back probe could undo a concurrent
 * store).  Where that madvise is unsupported the write check is skipped. */
static BOOLEAN mdl_probe_range(const void *va, SIZE_T len, BOOLEAN write)
{
    if (len == 0)
        return TRUE;
    ULONG_PTR start = (ULONG_PTR)va;
    if (start + len < start)
        return FALSE;
    ULONG_PTR page = start & ~((ULONG_PTR)PAGE_SIZE - 1);
    ULONG_PTR end = start + len;
    pid_t self = getpid();
    UCHAR bytes[PROBE_BATCH];
    struct iovec local[PROBE_BATCH], remote[PROBE_BATCH];
    while (page < end) {
        int n = 0;
        for (; n < PROBE_BATCH && page < end; n++, page += PAGE_SIZE) {
            ULONG_PTR at = page < start ? start : page;
            local[n] = (struct iovec){.iov_base = &bytes[n], .iov_len = 1};
            remote[n] = (struct iovec){.iov_base = (void *)at, .iov_len = 1};
        }
        ssize_t got = process_vm_readv(self, local, (unsigned long)n, remote, (unsigned long)n, 0);
        if (got < 0 && (errno == ENOSYS || errno == EPERM))
            return TRUE; /* probing forbidden here (seccomp): trust the caller, as a free build would */
        if (got != n)
            return FALSE;
    }
    if (write && mdl_populate_write_supported()) {
        /* EINVAL here means the mapping does not allow writing. */
        ULONG_PTR first = start & ~((ULONG_PTR)PAGE_SIZE - 1);
        if (madvise((void *)first, end - first, MADV_POPULATE_WRITE) != 0)
            return FALSE;
    }
    return TRUE;
}

/* MDLs over 4,089 pages that IoAllocateMdl made: their CSHORT Size has
 * wrapped (as MmInitializeMdl's cast makes it on Windows), so their room
 * for page numbers is kept here.  Such MDLs are few (16 MiB and more). */
typedef struct large_mdl {
    struct large_mdl *next;
    PMDL mdl;
    ULONG pages; /* page numbers it has room for */
} large_mdl;
static pthread_mutex_t large_mdl_lock = PTHREAD_MUTEX_INITIALIZER;
static large_mdl *large_mdls;
static LONG large_mdl_count;

static BOOLEAN large_mdl_room(PMDL mdl, ULONG *pages)
{
    if (__atomic_load_n(&large_mdl_count, __ATOMIC_ACQUIRE) == 0)
        return FALSE;
    BOOLEAN found = FALSE;
    pthread_mutex_lock(&large_mdl_lock);
    for (large_mdl *m = large_mdls; m != NULL && !found; m = m->next)
        if (m->mdl == mdl) {
            *pages = m->pages;
            found = TRUE;
        }
    pthread_mutex_unlock(&large_mdl_lock);
    return found;
}

/* Page numbers the MDL has room for: what IoAllocateMdl allocated, or
 * what its Size says.  A caller's own MDL of more than 4,089 pages has a
 * wrapped Size and gets fewer page numbers filled than it describes
 * (nothing here reads them; a DMA driver would), never a write past it. */
static ULONG mdl_room(PMDL mdl)
{
    ULONG pages;
    if (large_mdl_room(mdl, &pages))
        return pages;
    SIZE_T size = (USHORT)mdl->Size;
    return size > sizeof(MDL) ? (ULONG)((size - sizeof(MDL)) / sizeof(PFN_NUMBER)) : 0;
}

static void mdl_fill_pfns(PMDL Mdl)
{
    ULONG pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), Mdl->ByteCount);
    PPFN_NUMBER pfn = MmGetMdlPfnArray(Mdl);
    ULONG_PTR first = (ULONG_PTR)Mdl->StartVa >> PAGE_SHIFT;
    ULONG room = mdl_room(Mdl);
    for (ULONG i = 0; i < pages && i < room; i++)
        pfn[i] = first + i;
}

PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp)
{
    (void)ChargeQuota;
    /* Up to 4 GB - PAGE_SIZE from Windows 7 on (IoAllocateMdl, Remarks). */
    if (Length == 0 || (ULONGLONG)Length > 0x100000000ull - PAGE_SIZE)
        return NULL;
    SIZE_T size = MmSizeOfMdl(VirtualAddress, Length);
    if (openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES) && openwsk_adversity_fail_allocation("IoAllocateMdl", Length))
        return NULL;
    PMDL mdl = openwsk_pool_alloc(size, OPENWSK_TAG_MDL, FALSE);
    if (mdl == NULL)
        return NULL;
    if (size > 0x7FFF) {
        large_mdl *m = malloc(sizeof(*m));
        if (m == NULL) {
            openwsk_pool_free(mdl);
            return NULL;
        }
        m->mdl = mdl;
        m->pages = (ULONG)((size - sizeof(MDL)) / sizeof(PFN_NUMBER));
        pthread_mutex_lock(&large_mdl_lock);
        m->next = large_mdls;
        large_mdls = m;
        __atomic_add_fetch(&large_mdl_count, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&large_mdl_lock);
    }
    MmInitializeMdl(mdl, VirtualAddress, Length);
    mdl->Process = NULL;
    mdl->MappedSystemVa = NULL;
    if (Irp != NULL) {
        if (!SecondaryBuffer) {
            Irp->MdlAddress = mdl;
        } else {
            PMDL *link = &Irp->MdlAddress;
            while (*link != NULL)
                link = &(*link)->Next;
            *link = mdl;
        }
    }
    return mdl;
}

void IoFreeMdl(PMDL Mdl)
{
    if (__atomic_load_n(&large_mdl_count, __ATOMIC_ACQUIRE) != 0) {
        large_mdl *gone = NULL;
        pthread_mutex_lock(&large_mdl_lock);
        for (large_mdl **link = &large_mdls; *link != NULL; link = &(*link)->next)
            if ((*link)->mdl == Mdl) {
                gone = *link;
                *link = gone->next;
                __atomic_sub_fetch(&large_mdl_count, 1, __ATOMIC_RELEASE);
                break;
            }
        pthread_mutex_unlock(&large_mdl_lock);
        free(gone);
    }
    if (Mdl->MdlFlags & MDL_PAGES_LOCKED)
        openwsk_log("IoFreeMdl: MDL %p freed while its pages are locked (call MmUnlockPages first)", (void *)Mdl);
    openwsk_pool_free(Mdl);
}

void MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    PMDL m = MemoryDescriptorList;
    m->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
    m->MappedSystemVa = MmGetMdlVirtualAddress(m);
    mdl_fill_pfns(m);
}

void MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode, LOCK_OPERATION Operation)
{
    PMDL m = MemoryDescriptorList;
    (void)AccessMode;
    if (m->MdlFlags & (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, (ULONG_PTR)m, m->MdlFlags, 0);
    BOOLEAN write = Operation != IoReadAccess;
    if (!mdl_probe_range(MmGetMdlVirtualAddress(m), m->ByteCount, write))
        ExRaiseStatus(STATUS_ACCESS_VIOLATION);
    mdl_fill_pfns(m);
    m->Process = (struct _EPROCESS *)PsGetCurrentProcess();
    m->MdlFlags |= MDL_PAGES_LOCKED | (write ? MDL_WRITE_OPERATION : 0);
}

void MmUnlockPages(PMDL MemoryDescriptorList)
{
    PMDL m = MemoryDescriptorList;
    if (!(m->MdlFlags & MDL_PAGES_LOCKED))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1001, (ULONG_PTR)m, m->MdlFlags, 0);
    if (m->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
        MmUnmapLockedPages(m->MappedSystemVa, m);
    m->MdlFlags &= (CSHORT) ~(MDL_PAGES_LOCKED | MDL_WRITE_OPERATION);
}

PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress, ULONG BugCheckOnFailure,
                                   ULONG Priority)
{
    PMDL m = MemoryDescriptorList;
    (void)AccessMode;
    (void)CacheType;
    (void)RequestedAddress;
    (void)Priority;
    if (m->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        return m->MappedSystemVa;
    if (!(m->MdlFlags & (MDL_PAGES_LOCKED | MDL_PARTIAL))) {
        /* Mapping pages that were never locked: Windows faults on them. */
        if (BugCheckOnFailure)
            KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1002, (ULONG_PTR)m, m->MdlFlags, 0);
        openwsk_log("MmMapLockedPages: MDL %p describes pages that are not locked", (void *)m);
        return NULL;
    }
    m->MappedSystemVa = MmGetMdlVirtualAddress(m);
    m->MdlFlags |= (m->MdlFlags & MDL_PARTIAL) ? (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED)
                                               : MDL_MAPPED_TO_SYSTEM_VA;
    return m->MappedSystemVa;
}

PVOID MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode)
{
    return MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, MmCached, NULL, TRUE, NormalPagePriority);
}

void MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
    (void)BaseAddress;
    MemoryDescriptorList->MdlFlags &= (CSHORT) ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
}

PVOID openwsk_mdl_system_address(PMDL Mdl, ULONG Priority)
{
    if (Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        return Mdl->MappedSystemVa;
    return MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, Priority);
}

void IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
    PUCHAR src_start = MmGetMdlVirtualAddress(SourceMdl);
    PUCHAR va = VirtualAddress;
    if (va < src_start || va > src_start + SourceMdl->ByteCount)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1003, (ULONG_PTR)SourceMdl, (ULONG_PTR)VirtualAddress,
                     Length);
    ULONG available = (ULONG)(src_start + SourceMdl->ByteCount - va);
    if (Length == 0)
        Length = available;
    if (Length > available)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1003, (ULONG_PTR)SourceMdl, Length, available);
    TargetMdl->StartVa = PAGE_ALIGN(va);
    TargetMdl->ByteOffset = BYTE_OFFSET(va);
    TargetMdl->ByteCount = Length;
    TargetMdl->Process = SourceMdl->Process;
    TargetMdl->MdlFlags = (CSHORT)(MDL_PARTIAL | (TargetMdl->MdlFlags & MDL_ALLOCATED_FIXED_SIZE));
    if (SourceMdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) {
        TargetMdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
        TargetMdl->MappedSystemVa = va;
    } else if (SourceMdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) {
        TargetMdl->MdlFlags |= MDL_PARENT_MAPPED_SYSTEM_VA;
        TargetMdl->MappedSystemVa = va;
    }
    mdl_fill_pfns(TargetMdl);
}

BOOLEAN MmIsAddressValid(PVOID VirtualAddress)
{
    return mdl_probe_range(VirtualAddress, 1, FALSE);
}

void ProbeForRead(const volatile void *Address, SIZE_T Length, ULONG Alignment)
{
    if (Length == 0)
        return;
    if (Alignment != 0 && ((ULONG_PTR)Address & (Alignment - 1)) != 0)
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
    if (!mdl_probe_range((const void *)Address, Length, FALSE))
        ExRaiseStatus(STATUS_ACCESS_VIOLATION);
}

void ProbeForWrite(volatile void *Address, SIZE_T Length, ULONG Alignment)
{
    if (Length == 0)
        return;
    if (Alignment != 0 && ((ULONG_PTR)Address & (Alignment - 1)) != 0)
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
    if (!mdl_probe_range((const void *)Address, Length, TRUE))
        ExRaiseStatus(STATUS_ACCESS_VIOLATION);
}
