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

NTSTATUS wsk_buf_count_segments(const WSK_BUF *buf, ULONG *count)
{
    *count = 0;
    if (buf == NULL)
        return STATUS_INVALID_PARAMETER;
    if (buf->Length == 0)
        return STATUS_SUCCESS;
    if (buf->Mdl == NULL)
        return STATUS_INVALID_PARAMETER; /* data without an MDL */
    if (buf->Offset >= MmGetMdlByteCount(buf->Mdl))
        return STATUS_INVALID_PARAMETER;
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

NTSTATUS wsk_buf_fill_segments(const WSK_BUF *buf, wsk_segment *seg, ULONG count)
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
