/*
 * wsk_buf.c - WSK_BUF to (address, length) segments for the I/O engine
 * (wsk-part-b.md §3.1): the data start Offset bytes into the first MDL and
 * run Length bytes across the chain, later MDLs from their own start.
 */
#include "wsk_internal.h"

static const void *list_next(const void *element, size_t next_offset)
{
    const void *next;
    __builtin_memcpy(&next, (const char *)element + next_offset, sizeof(next));
    return next;
}

void wsk_list_guard_init(wsk_list_guard *g, const void *first, size_t next_offset)
{
    g->slow = first;
    g->next_offset = next_offset;
    g->steps = 0;
}

BOOLEAN wsk_list_guard_revisits(wsk_list_guard *g, const void *element)
{
    /* The walk's n-th element against its (n/2)-th: in a cycle both end up
     * inside it and the gap, growing by one a step, reaches a multiple of
     * its length. */
    if (g->steps > 0 && element == g->slow)
        return TRUE;
    if (++g->steps % 2 == 0)
        g->slow = list_next(g->slow, g->next_offset);
    return FALSE;
}

BOOLEAN wsk_list_is_cyclic(const void *first, size_t next_offset)
{
    wsk_list_guard g;
    wsk_list_guard_init(&g, first, next_offset);
    for (const void *e = first; e != NULL; e = list_next(e, next_offset))
        if (wsk_list_guard_revisits(&g, e))
            return TRUE;
    return FALSE;
}

/* A chain of MDLs (a first one that holds data past Offset is checked by
 * the caller). */
static __attribute__((noinline)) NTSTATUS count_chain(const WSK_BUF *buf, ULONG *count)
{
    /* A cycle (through zero-length MDLs, or longer than Length allows)
     * would keep this walk and the fill going; the whole chain must end in
     * NULL, as every MDL chain does.  Windows' behaviour is undocumented
     * (a bad WSK_BUF crashes it); the call fails like any bad WSK_BUF. */
    if (wsk_list_is_cyclic(buf->Mdl, offsetof(MDL, Next)))
        return STATUS_INVALID_PARAMETER;
    SIZE_T left = buf->Length;
    ULONG n = 0;
    ULONG skip = buf->Offset;
    for (PMDL m = buf->Mdl; m != NULL && left > 0; m = m->Next) {
        SIZE_T here = MmGetMdlByteCount(m) - skip;
        skip = 0;
        if (here == 0)
            continue;
        n++;
        left -= here < left ? here : left;
    }
    /* A length beyond the chain crashes Windows; here it is refused. */
    if (left != 0)
        return STATUS_INVALID_PARAMETER;
    *count = n;
    return STATUS_SUCCESS;
}

NTSTATUS wsk_buf_count_segments(const WSK_BUF *buf, ULONG *count)
{
    *count = 0;
    if (buf == NULL)
        return STATUS_INVALID_PARAMETER;
    if (buf->Length == 0)
        return STATUS_SUCCESS;
    PMDL first = buf->Mdl;
    if (first == NULL)
        return STATUS_INVALID_PARAMETER; /* data without an MDL */
    ULONG first_bytes = MmGetMdlByteCount(first);
    if (buf->Offset >= first_bytes)
        return STATUS_INVALID_PARAMETER;
    /* The common WSK_BUF, one MDL: no chain to walk or check for a cycle. */
    if (first->Next != NULL)
        return count_chain(buf, count);
    if (buf->Length > first_bytes - buf->Offset)
        return STATUS_INVALID_PARAMETER; /* beyond the MDL, as beyond a chain */
    *count = 1;
    return STATUS_SUCCESS;
}

static __attribute__((noinline)) NTSTATUS fill_chain(const WSK_BUF *buf, wsk_segment *seg, ULONG count)
{
    SIZE_T left = buf->Length;
    ULONG skip = buf->Offset, i = 0;
    for (PMDL m = buf->Mdl; m != NULL && left > 0 && i < count; m = m->Next) {
        SIZE_T here = MmGetMdlByteCount(m) - skip;
        if (here == 0) {
            skip = 0;
            continue;
        }
        PUCHAR va = MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
        if (va == NULL)
            return STATUS_INSUFFICIENT_RESOURCES; /* an MDL whose pages were never locked */
        seg[i].base = va + skip;
        seg[i].length = here < left ? here : left;
        left -= seg[i].length;
        skip = 0;
        i++;
    }
    return STATUS_SUCCESS;
}

NTSTATUS wsk_buf_fill_segments(const WSK_BUF *buf, wsk_segment *seg, ULONG count)
{
    /* One segment (as wsk_buf_count_segments counted it) lies in the first
     * MDL, which holds data past Offset, and is all of Length.  Its mapped
     * address is read here (MmGetSystemAddressForMdlSafe's first case), so
     * this path makes no call; the walk maps an MDL not mapped yet. */
    PMDL m = buf->Mdl;
    if (count != 1 || !(m->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)))
        return fill_chain(buf, seg, count);
    PUCHAR va = m->MappedSystemVa;
    if (va == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    SIZE_T here = MmGetMdlByteCount(m) - buf->Offset;
    seg[0].base = va + buf->Offset;
    seg[0].length = here < buf->Length ? here : buf->Length;
    return STATUS_SUCCESS;
}
