/*
 * rtl_generic_table.c - splay trees (RtlSplay, RtlDelete and the other
 * RTL_SPLAY_LINKS routines) and the splay-tree generic tables built on them
 * (RTL_GENERIC_TABLE), as Windows implements them by default
 * (RtlGetElementGenericTable, Remarks: "the operating system uses splay
 * trees to implement generic tables").
 *
 * Each node is an RTL_SPLAY_LINKS, then a LIST_ENTRY on the table's
 * InsertOrderList, then the caller's element: the allocate routine is asked
 * for sizeof(RTL_SPLAY_LINKS) + sizeof(LIST_ENTRY) + BufferSize bytes and
 * element pointers are the node address + 40 (RtlInitializeGenericTable,
 * Remarks).  The free routine gets the node address.
 *
 * Lookups that find their element, inserts (new or existing element) and
 * RtlEnumerateGenericTable splay the node to the root; deletions splay the
 * deleted node's parent.  RtlEnumerateGenericTable(Table, FALSE) returns
 * the successor of the current root, so a lookup between two calls moves
 * the enumeration, as on Windows.  RtlGetElementGenericTable indexes in
 * insertion order ("returns the Ith element inserted", Remarks).
 */
#include <wdm.h>

#include <string.h>

typedef struct splay_node {
    RTL_SPLAY_LINKS Links;
    LIST_ENTRY ListEntry;
    LONGLONG UserData; /* the element starts here */
} splay_node;

#define SPLAY_HEADER_SIZE offsetof(splay_node, UserData)

static PVOID user_data(PRTL_SPLAY_LINKS n)
{
    return &((splay_node *)n)->UserData;
}

/* ---- splay links ---- */

static void replace_child(PRTL_SPLAY_LINKS parent, PRTL_SPLAY_LINKS old, PRTL_SPLAY_LINKS repl)
{
    if (parent->LeftChild == old)
        parent->LeftChild = repl;
    else
        parent->RightChild = repl;
}

/* Moves x up one level, above its parent. */
static void rotate_up(PRTL_SPLAY_LINKS x)
{
    PRTL_SPLAY_LINKS p = x->Parent;
    if (RtlIsRoot(p)) {
        x->Parent = x;
    } else {
        replace_child(p->Parent, p, x);
        x->Parent = p->Parent;
    }
    if (p->LeftChild == x) {
        p->LeftChild = x->RightChild;
        if (x->RightChild)
            x->RightChild->Parent = p;
        x->RightChild = p;
    } else {
        p->RightChild = x->LeftChild;
        if (x->LeftChild)
            x->LeftChild->Parent = p;
        x->LeftChild = p;
    }
    p->Parent = x;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlSplay(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS x = Links;
    while (!RtlIsRoot(x)) {
        PRTL_SPLAY_LINKS p = x->Parent;
        if (RtlIsRoot(p)) {
            rotate_up(x); /* zig */
        } else if ((p->LeftChild == x) == (p->Parent->LeftChild == p)) {
            rotate_up(p); /* zig-zig */
            rotate_up(x);
        } else {
            rotate_up(x); /* zig-zag */
            rotate_up(x);
        }
    }
    return x;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlSubtreeSuccessor(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS n = Links->RightChild;
    if (!n)
        return NULL;
    while (n->LeftChild)
        n = n->LeftChild;
    return n;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlSubtreePredecessor(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS n = Links->LeftChild;
    if (!n)
        return NULL;
    while (n->RightChild)
        n = n->RightChild;
    return n;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlRealSuccessor(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS n = RtlSubtreeSuccessor(Links);
    if (n)
        return n;
    n = Links;
    while (!RtlIsRoot(n) && RtlIsRightChild(n))
        n = n->Parent;
    return RtlIsRoot(n) ? NULL : n->Parent;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlRealPredecessor(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS n = RtlSubtreePredecessor(Links);
    if (n)
        return n;
    n = Links;
    while (!RtlIsRoot(n) && RtlIsLeftChild(n))
        n = n->Parent;
    return RtlIsRoot(n) ? NULL : n->Parent;
}

/* Swaps the tree positions of a and b, where b is in a's left subtree (its
 * predecessor); the nodes themselves (and the elements after them) stay put. */
static void swap_positions(PRTL_SPLAY_LINKS a, PRTL_SPLAY_LINKS b)
{
    int a_root = RtlIsRoot(a);
    PRTL_SPLAY_LINKS ap = a->Parent;
    PRTL_SPLAY_LINKS aL = a->LeftChild, aR = a->RightChild;
    PRTL_SPLAY_LINKS bp = b->Parent;
    PRTL_SPLAY_LINKS bL = b->LeftChild, bR = b->RightChild;
    int b_left = bp->LeftChild == b;

    if (!a_root)
        replace_child(ap, a, b);
    b->Parent = a_root ? b : ap;
    if (bp == a) {
        b->LeftChild = a;
        b->RightChild = aR;
        a->Parent = b;
    } else {
        b->LeftChild = aL;
        b->RightChild = aR;
        aL->Parent = b;
        if (b_left)
            bp->LeftChild = a;
        else
            bp->RightChild = a;
        a->Parent = bp;
    }
    if (aR)
        aR->Parent = b;
    a->LeftChild = bL;
    a->RightChild = bR;
    if (bL)
        bL->Parent = a;
    if (bR)
        bR->Parent = a;
}

/* Unlinks Links; returns the parent it hung from (NULL if it was the root)
 * and updates *root. */
static PRTL_SPLAY_LINKS unlink_node(PRTL_SPLAY_LINKS x, PRTL_SPLAY_LINKS *root)
{
    if (x->LeftChild && x->RightChild) {
        PRTL_SPLAY_LINKS pred = RtlSubtreePredecessor(x);
        int was_root = RtlIsRoot(x);
        swap_positions(x, pred);
        if (was_root)
            *root = pred;
    }
    PRTL_SPLAY_LINKS child = x->LeftChild ? x->LeftChild : x->RightChild;
    if (RtlIsRoot(x)) {
        if (child)
            child->Parent = child;
        *root = child;
        return NULL;
    }
    PRTL_SPLAY_LINKS p = x->Parent;
    replace_child(p, x, child);
    if (child)
        child->Parent = p;
    return p;
}

NTSYSAPI PRTL_SPLAY_LINKS RtlDelete(PRTL_SPLAY_LINKS Links)
{
    PRTL_SPLAY_LINKS root = NULL;
    PRTL_SPLAY_LINKS p = unlink_node(Links, &root);
    return p ? RtlSplay(p) : root;
}

NTSYSAPI void RtlDeleteNoSplay(PRTL_SPLAY_LINKS Links, PRTL_SPLAY_LINKS *Root)
{
    unlink_node(Links, Root);
}

/* ---- generic tables ---- */

static TABLE_SEARCH_RESULT find_node_or_parent(PRTL_GENERIC_TABLE t, PVOID buffer, PRTL_SPLAY_LINKS *node_or_parent)
{
    PRTL_SPLAY_LINKS n = t->TableRoot;
    if (!n)
        return TableEmptyTree;
    for (;;) {
        RTL_GENERIC_COMPARE_RESULTS r = t->CompareRoutine(t, buffer, user_data(n));
        if (r == GenericLessThan) {
            if (!n->LeftChild) {
                *node_or_parent = n;
                return TableInsertAsLeft;
            }
            n = n->LeftChild;
        } else if (r == GenericGreaterThan) {
            if (!n->RightChild) {
                *node_or_parent = n;
                return TableInsertAsRight;
            }
            n = n->RightChild;
        } else {
            *node_or_parent = n;
            return TableFoundNode;
        }
    }
}

NTSYSAPI void RtlInitializeGenericTable(PRTL_GENERIC_TABLE Table, PRTL_GENERIC_COMPARE_ROUTINE CompareRoutine,
                                        PRTL_GENERIC_ALLOCATE_ROUTINE AllocateRoutine,
                                        PRTL_GENERIC_FREE_ROUTINE FreeRoutine, PVOID TableContext)
{
    Table->TableRoot = NULL;
    InitializeListHead(&Table->InsertOrderList);
    Table->OrderedPointer = &Table->InsertOrderList;
    Table->WhichOrderedElement = 0;
    Table->NumberGenericTableElements = 0;
    Table->CompareRoutine = CompareRoutine;
    Table->AllocateRoutine = AllocateRoutine;
    Table->FreeRoutine = FreeRoutine;
    Table->TableContext = TableContext;
}

NTSYSAPI PVOID RtlInsertElementGenericTableFull(PRTL_GENERIC_TABLE Table, PVOID Buffer, CLONG BufferSize,
                                                PBOOLEAN NewElement, PVOID NodeOrParent,
                                                TABLE_SEARCH_RESULT SearchResult)
{
    PRTL_SPLAY_LINKS n = (PRTL_SPLAY_LINKS)NodeOrParent;
    if (SearchResult == TableFoundNode) {
        if (NewElement)
            *NewElement = FALSE;
    } else {
        splay_node *node = (splay_node *)Table->AllocateRoutine(Table, (CLONG)(SPLAY_HEADER_SIZE + BufferSize));
        if (!node) {
            if (NewElement)
                *NewElement = FALSE;
            return NULL;
        }
        RtlInitializeSplayLinks(&node->Links);
        InsertTailList(&Table->InsertOrderList, &node->ListEntry);
        Table->NumberGenericTableElements++;
        if (SearchResult == TableEmptyTree)
            Table->TableRoot = &node->Links;
        else if (SearchResult == TableInsertAsLeft)
            RtlInsertAsLeftChild(n, &node->Links)
        else
            RtlInsertAsRightChild(n, &node->Links)
        if (BufferSize)
            memcpy(&node->UserData, Buffer, BufferSize);
        if (NewElement)
            *NewElement = TRUE;
        n = &node->Links;
    }
    Table->TableRoot = RtlSplay(n);
    return user_data(n);
}

NTSYSAPI PVOID RtlInsertElementGenericTable(PRTL_GENERIC_TABLE Table, PVOID Buffer, CLONG BufferSize,
                                            PBOOLEAN NewElement)
{
    PRTL_SPLAY_LINKS n = NULL;
    TABLE_SEARCH_RESULT r = find_node_or_parent(Table, Buffer, &n);
    return RtlInsertElementGenericTableFull(Table, Buffer, BufferSize, NewElement, n, r);
}

NTSYSAPI BOOLEAN RtlDeleteElementGenericTable(PRTL_GENERIC_TABLE Table, PVOID Buffer)
{
    PRTL_SPLAY_LINKS n = NULL;
    if (find_node_or_parent(Table, Buffer, &n) != TableFoundNode)
        return FALSE;
    splay_node *node = (splay_node *)n;
    Table->TableRoot = RtlDelete(n);
    RemoveEntryList(&node->ListEntry);
    Table->NumberGenericTableElements--;
    Table->WhichOrderedElement = 0;
    Table->OrderedPointer = &Table->InsertOrderList;
    Table->FreeRoutine(Table, node);
    return TRUE;
}

NTSYSAPI PVOID RtlLookupElementGenericTableFull(PRTL_GENERIC_TABLE Table, PVOID Buffer, PVOID *NodeOrParent,
                                                TABLE_SEARCH_RESULT *SearchResult)
{
    PRTL_SPLAY_LINKS n = NULL;
    *SearchResult = find_node_or_parent(Table, Buffer, &n);
    if (*SearchResult != TableEmptyTree)
        *NodeOrParent = n;
    if (*SearchResult != TableFoundNode)
        return NULL;
    Table->TableRoot = RtlSplay(n);
    return user_data(n);
}

NTSYSAPI PVOID RtlLookupElementGenericTable(PRTL_GENERIC_TABLE Table, PVOID Buffer)
{
    PVOID n = NULL;
    TABLE_SEARCH_RESULT r;
    return RtlLookupElementGenericTableFull(Table, Buffer, &n, &r);
}

NTSYSAPI PVOID RtlEnumerateGenericTable(PRTL_GENERIC_TABLE Table, BOOLEAN Restart)
{
    PRTL_SPLAY_LINKS n = Table->TableRoot;
    if (!n)
        return NULL;
    if (Restart) {
        while (n->LeftChild)
            n = n->LeftChild;
    } else {
        n = RtlRealSuccessor(n);
        if (!n)
            return NULL;
    }
    Table->TableRoot = RtlSplay(n);
    return user_data(n);
}

NTSYSAPI PVOID RtlEnumerateGenericTableWithoutSplaying(PRTL_GENERIC_TABLE Table, PVOID *RestartKey)
{
    PRTL_SPLAY_LINKS n = Table->TableRoot;
    if (!n)
        return NULL;
    if (*RestartKey == NULL) {
        while (n->LeftChild)
            n = n->LeftChild;
    } else {
        n = RtlRealSuccessor((PRTL_SPLAY_LINKS)*RestartKey);
        if (!n)
            return NULL;
    }
    *RestartKey = n;
    return user_data(n);
}

NTSYSAPI PVOID RtlGetElementGenericTable(PRTL_GENERIC_TABLE Table, ULONG I)
{
    ULONG count = Table->NumberGenericTableElements;
    if (I == MAXULONG || I >= count)
        return NULL;
    /* Positions on InsertOrderList: the head is 0, elements 1..count. */
    ULONG target = I + 1;
    ULONG pos = Table->WhichOrderedElement;
    PLIST_ENTRY e = Table->OrderedPointer;
    ULONG from_cached = target > pos ? target - pos : pos - target;
    if (target < from_cached) { /* nearer to the head */
        pos = 0;
        e = &Table->InsertOrderList;
    } else if (count + 1 - target < from_cached) { /* nearer to the tail */
        pos = count + 1;
        e = &Table->InsertOrderList;
    }
    for (; pos < target; pos++)
        e = e->Flink;
    for (; pos > target; pos--)
        e = e->Blink;
    Table->OrderedPointer = e;
    Table->WhichOrderedElement = target;
    return &CONTAINING_RECORD(e, splay_node, ListEntry)->UserData;
}

NTSYSAPI ULONG RtlNumberGenericTableElements(PRTL_GENERIC_TABLE Table)
{
    return Table->NumberGenericTableElements;
}

NTSYSAPI BOOLEAN RtlIsGenericTableEmpty(PRTL_GENERIC_TABLE Table)
{
    return Table->TableRoot == NULL;
}
