/*
 * rtl_avl.c - AVL generic tables (RTL_AVL_TABLE, the ...GenericTableAvl
 * routines and RtlEnumerateGenericTableLikeADirectory).
 *
 * Layout as in Windows: each node is an RTL_BALANCED_LINKS header followed
 * by the caller's element, so the allocate routine is asked for
 * sizeof(RTL_BALANCED_LINKS) + BufferSize bytes and the element pointers the
 * routines return are the node address + 32 ("caller-supplied routines must
 * not access the first sizeof(RTL_BALANCED_LINKS) bytes",
 * RtlInitializeGenericTableAvl, Remarks).  The free routine gets the node
 * address.  The tree hangs from BalancedRoot.RightChild; BalancedRoot is a
 * sentinel whose Parent points to itself.  Balance is the height of the
 * right subtree minus that of the left one (-1, 0, +1).
 *
 * The compare routine is called as Compare(Table, searched buffer, element
 * in the table).  Indexing (RtlGetElementGenericTableAvl) is in collation
 * order, walking from the cached OrderedPointer/WhichOrderedElement or from
 * whichever end is nearer.
 */
#include <wdm.h>

#include <string.h>

typedef struct avl_node {
    RTL_BALANCED_LINKS Links;
    LONGLONG UserData; /* the element starts here */
} avl_node;

#define AVL_HEADER_SIZE offsetof(avl_node, UserData)

static PVOID user_data(PRTL_BALANCED_LINKS n)
{
    return &((avl_node *)n)->UserData;
}

static PRTL_BALANCED_LINKS avl_root(PRTL_AVL_TABLE t)
{
    return t->BalancedRoot.RightChild;
}

static PRTL_BALANCED_LINKS leftmost(PRTL_BALANCED_LINKS n)
{
    while (n->LeftChild)
        n = n->LeftChild;
    return n;
}

static PRTL_BALANCED_LINKS rightmost(PRTL_BALANCED_LINKS n)
{
    while (n->RightChild)
        n = n->RightChild;
    return n;
}

static PRTL_BALANCED_LINKS successor(PRTL_AVL_TABLE t, PRTL_BALANCED_LINKS n)
{
    if (n->RightChild)
        return leftmost(n->RightChild);
    PRTL_BALANCED_LINKS p = n->Parent;
    while (p != &t->BalancedRoot && n == p->RightChild) {
        n = p;
        p = p->Parent;
    }
    return p == &t->BalancedRoot ? NULL : p;
}

static PRTL_BALANCED_LINKS predecessor(PRTL_AVL_TABLE t, PRTL_BALANCED_LINKS n)
{
    if (n->LeftChild)
        return rightmost(n->LeftChild);
    PRTL_BALANCED_LINKS p = n->Parent;
    while (p != &t->BalancedRoot && n == p->LeftChild) {
        n = p;
        p = p->Parent;
    }
    return p == &t->BalancedRoot ? NULL : p;
}

static TABLE_SEARCH_RESULT find_node_or_parent(PRTL_AVL_TABLE t, PVOID buffer, PRTL_BALANCED_LINKS *node_or_parent)
{
    if (t->NumberGenericTableElements == 0)
        return TableEmptyTree;
    PRTL_BALANCED_LINKS n = avl_root(t);
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

static void replace_child(PRTL_BALANCED_LINKS parent, PRTL_BALANCED_LINKS old, PRTL_BALANCED_LINKS repl)
{
    if (parent->LeftChild == old)
        parent->LeftChild = repl;
    else
        parent->RightChild = repl;
}

static int max0(int v)
{
    return v > 0 ? v : 0;
}

static int min0(int v)
{
    return v < 0 ? v : 0;
}

/* Single rotations, with the balance factors updated for any input. */
static PRTL_BALANCED_LINKS rotate_left(PRTL_BALANCED_LINKS x)
{
    PRTL_BALANCED_LINKS y = x->RightChild;
    replace_child(x->Parent, x, y);
    y->Parent = x->Parent;
    x->RightChild = y->LeftChild;
    if (y->LeftChild)
        y->LeftChild->Parent = x;
    y->LeftChild = x;
    x->Parent = y;
    x->Balance = (CHAR)(x->Balance - 1 - max0(y->Balance));
    y->Balance = (CHAR)(y->Balance - 1 + min0(x->Balance));
    return y;
}

static PRTL_BALANCED_LINKS rotate_right(PRTL_BALANCED_LINKS x)
{
    PRTL_BALANCED_LINKS y = x->LeftChild;
    replace_child(x->Parent, x, y);
    y->Parent = x->Parent;
    x->LeftChild = y->RightChild;
    if (y->RightChild)
        y->RightChild->Parent = x;
    y->RightChild = x;
    x->Parent = y;
    x->Balance = (CHAR)(x->Balance + 1 - min0(y->Balance));
    y->Balance = (CHAR)(y->Balance + 1 + max0(x->Balance));
    return y;
}

/* Restores the balance of a node at +2 or -2; returns the subtree's new root. */
static PRTL_BALANCED_LINKS fix_balance(PRTL_BALANCED_LINKS x)
{
    if (x->Balance > 0) {
        if (x->RightChild->Balance < 0)
            rotate_right(x->RightChild);
        return rotate_left(x);
    }
    if (x->LeftChild->Balance > 0)
        rotate_left(x->LeftChild);
    return rotate_right(x);
}

static void reset_ordered(PRTL_AVL_TABLE t)
{
    t->OrderedPointer = NULL;
    t->WhichOrderedElement = 0;
}

NTSYSAPI void RtlInitializeGenericTableAvl(PRTL_AVL_TABLE Table, PRTL_AVL_COMPARE_ROUTINE CompareRoutine,
                                           PRTL_AVL_ALLOCATE_ROUTINE AllocateRoutine,
                                           PRTL_AVL_FREE_ROUTINE FreeRoutine, PVOID TableContext)
{
    memset(Table, 0, sizeof(*Table));
    Table->BalancedRoot.Parent = &Table->BalancedRoot;
    Table->CompareRoutine = CompareRoutine;
    Table->AllocateRoutine = AllocateRoutine;
    Table->FreeRoutine = FreeRoutine;
    Table->TableContext = TableContext;
}

NTSYSAPI PVOID RtlInsertElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer, CLONG BufferSize,
                                                   PBOOLEAN NewElement, PVOID NodeOrParent,
                                                   TABLE_SEARCH_RESULT SearchResult)
{
    PRTL_BALANCED_LINKS parent = (PRTL_BALANCED_LINKS)NodeOrParent;
    if (SearchResult == TableFoundNode) {
        if (NewElement)
            *NewElement = FALSE;
        return user_data(parent);
    }
    PRTL_BALANCED_LINKS n = (PRTL_BALANCED_LINKS)Table->AllocateRoutine(Table, (CLONG)(AVL_HEADER_SIZE + BufferSize));
    if (!n) {
        if (NewElement)
            *NewElement = FALSE;
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    if (BufferSize)
        memcpy(user_data(n), Buffer, BufferSize);
    if (SearchResult == TableEmptyTree) {
        parent = &Table->BalancedRoot;
        parent->RightChild = n;
    } else if (SearchResult == TableInsertAsLeft) {
        parent->LeftChild = n;
    } else {
        parent->RightChild = n;
    }
    n->Parent = parent;
    Table->NumberGenericTableElements++;
    reset_ordered(Table);

    /* Retrace: the subtree under `child` grew by one level. */
    PRTL_BALANCED_LINKS child = n;
    PRTL_BALANCED_LINKS node = parent;
    while (node != &Table->BalancedRoot) {
        node->Balance = (CHAR)(node->Balance + (child == node->LeftChild ? -1 : 1));
        if (node->Balance == 0)
            break;
        if (node->Balance == 2 || node->Balance == -2) {
            fix_balance(node);
            break;
        }
        child = node;
        node = node->Parent;
    }
    if (NewElement)
        *NewElement = TRUE;
    return user_data(n);
}

NTSYSAPI PVOID RtlInsertElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer, CLONG BufferSize,
                                               PBOOLEAN NewElement)
{
    PRTL_BALANCED_LINKS node_or_parent = NULL;
    TABLE_SEARCH_RESULT r = find_node_or_parent(Table, Buffer, &node_or_parent);
    return RtlInsertElementGenericTableFullAvl(Table, Buffer, BufferSize, NewElement, node_or_parent, r);
}

NTSYSAPI void RtlDeleteElementGenericTableAvlEx(PRTL_AVL_TABLE Table, PVOID NodeOrParent)
{
    PRTL_BALANCED_LINKS d = (PRTL_BALANCED_LINKS)NodeOrParent;
    PRTL_BALANCED_LINKS start;
    int shrunk_left; /* which side of `start` lost a level */

    /* An enumeration by RtlEnumerateGenericTableAvl resumes after the
     * deleted element: its key moves to the predecessor. */
    if (Table->RestartKey == d)
        Table->RestartKey = predecessor(Table, d);

    if (d->LeftChild && d->RightChild) {
        /* Two children: the successor takes d's place (nodes move, elements
         * never do, so element pointers stay valid). */
        PRTL_BALANCED_LINKS s = leftmost(d->RightChild);
        if (s->Parent == d) {
            start = s;
            shrunk_left = 0;
        } else {
            start = s->Parent;
            shrunk_left = 1;
            start->LeftChild = s->RightChild;
            if (s->RightChild)
                s->RightChild->Parent = start;
            s->RightChild = d->RightChild;
            s->RightChild->Parent = s;
        }
        s->LeftChild = d->LeftChild;
        s->LeftChild->Parent = s;
        s->Parent = d->Parent;
        replace_child(d->Parent, d, s);
        s->Balance = d->Balance;
    } else {
        PRTL_BALANCED_LINKS c = d->LeftChild ? d->LeftChild : d->RightChild;
        start = d->Parent;
        shrunk_left = start->LeftChild == d;
        replace_child(start, d, c);
        if (c)
            c->Parent = start;
    }

    /* Retrace: the subtree on the `shrunk_left` side of `node` lost a level. */
    PRTL_BALANCED_LINKS node = start;
    while (node != &Table->BalancedRoot) {
        node->Balance = (CHAR)(node->Balance + (shrunk_left ? 1 : -1));
        PRTL_BALANCED_LINKS parent = node->Parent;
        int node_is_left = parent->LeftChild == node;
        if (node->Balance == 1 || node->Balance == -1)
            break;
        if (node->Balance == 2 || node->Balance == -2) {
            node = fix_balance(node);
            if (node->Balance != 0)
                break;
        }
        shrunk_left = node_is_left;
        node = parent;
    }

    Table->NumberGenericTableElements--;
    Table->DeleteCount++;
    reset_ordered(Table);
    Table->FreeRoutine(Table, d);
}

NTSYSAPI BOOLEAN RtlDeleteElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer)
{
    PRTL_BALANCED_LINKS n = NULL;
    if (find_node_or_parent(Table, Buffer, &n) != TableFoundNode)
        return FALSE;
    RtlDeleteElementGenericTableAvlEx(Table, n);
    return TRUE;
}

NTSYSAPI PVOID RtlLookupElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer, PVOID *NodeOrParent,
                                                   TABLE_SEARCH_RESULT *SearchResult)
{
    PRTL_BALANCED_LINKS n = NULL;
    /* "TableEmptyTree: the contents of NodeOrParent are unchanged"
     * (RtlLookupElementGenericTableFullAvl). */
    *SearchResult = find_node_or_parent(Table, Buffer, &n);
    if (*SearchResult != TableEmptyTree)
        *NodeOrParent = n;
    return *SearchResult == TableFoundNode ? user_data(n) : NULL;
}

NTSYSAPI PVOID RtlLookupElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer)
{
    PRTL_BALANCED_LINKS n = NULL;
    return find_node_or_parent(Table, Buffer, &n) == TableFoundNode ? user_data(n) : NULL;
}

NTSYSAPI PVOID RtlEnumerateGenericTableWithoutSplayingAvl(PRTL_AVL_TABLE Table, PVOID *RestartKey)
{
    if (Table->NumberGenericTableElements == 0)
        return NULL;
    PRTL_BALANCED_LINKS n =
        *RestartKey ? successor(Table, (PRTL_BALANCED_LINKS)*RestartKey) : leftmost(avl_root(Table));
    if (!n)
        return NULL;
    *RestartKey = n;
    return user_data(n);
}

NTSYSAPI PVOID RtlEnumerateGenericTableAvl(PRTL_AVL_TABLE Table, BOOLEAN Restart)
{
    if (Restart)
        Table->RestartKey = NULL;
    PVOID key = Table->RestartKey;
    PVOID element = RtlEnumerateGenericTableWithoutSplayingAvl(Table, &key);
    Table->RestartKey = (PRTL_BALANCED_LINKS)key;
    return element;
}

NTSYSAPI PVOID RtlLookupFirstMatchingElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer, PVOID *RestartKey)
{
    PRTL_BALANCED_LINKS n = NULL;
    if (find_node_or_parent(Table, Buffer, &n) != TableFoundNode) {
        *RestartKey = NULL;
        return NULL;
    }
    /* Matching elements are adjacent in collation order: step left while
     * the predecessor matches too. */
    for (PRTL_BALANCED_LINKS p = predecessor(Table, n);
         p && Table->CompareRoutine(Table, Buffer, user_data(p)) == GenericEqual; p = predecessor(Table, p))
        n = p;
    *RestartKey = n;
    return user_data(n);
}

NTSYSAPI PVOID RtlEnumerateGenericTableLikeADirectory(PRTL_AVL_TABLE Table, PRTL_AVL_MATCH_FUNCTION MatchFunction,
                                                      PVOID MatchData, ULONG NextFlag, PVOID *RestartKey,
                                                      PULONG DeleteCount, PVOID Buffer)
{
    PRTL_BALANCED_LINKS n = NULL;
    if (Table->NumberGenericTableElements == 0) {
        *RestartKey = NULL;
        return NULL;
    }
    if (*RestartKey != NULL && *DeleteCount == Table->DeleteCount) {
        /* The key is still valid: resume there, past it if NextFlag. */
        n = (PRTL_BALANCED_LINKS)*RestartKey;
        if (NextFlag)
            n = successor(Table, n);
    } else {
        /* No key, or elements were deleted since it was taken: restart
         * from the position Buffer describes. */
        TABLE_SEARCH_RESULT r = find_node_or_parent(Table, Buffer, &n);
        if (r == TableInsertAsRight || (r == TableFoundNode && NextFlag))
            n = successor(Table, n);
    }
    while (n && MatchFunction) {
        NTSTATUS s = MatchFunction(Table, user_data(n), MatchData);
        if (s == STATUS_SUCCESS)
            break;
        if (s != STATUS_NO_MATCH) { /* e.g. STATUS_NO_MORE_MATCHES: stop */
            n = NULL;
            break;
        }
        n = successor(Table, n);
    }
    *RestartKey = n;
    *DeleteCount = Table->DeleteCount;
    return n ? user_data(n) : NULL;
}

NTSYSAPI PVOID RtlGetElementGenericTableAvl(PRTL_AVL_TABLE Table, ULONG I)
{
    ULONG count = Table->NumberGenericTableElements;
    if (I == MAXULONG || I >= count)
        return NULL;
    ULONG target = I + 1; /* positions are 1-based; 0 = no cached position */
    ULONG pos;
    PRTL_BALANCED_LINKS n;
    ULONG cached = Table->WhichOrderedElement;
    ULONG from_start = target - 1;
    ULONG from_end = count - target;
    ULONG from_cached = cached ? (target > cached ? target - cached : cached - target) : MAXULONG;
    if (from_cached <= from_start && from_cached <= from_end) {
        n = (PRTL_BALANCED_LINKS)Table->OrderedPointer;
        pos = cached;
    } else if (from_start <= from_end) {
        n = leftmost(avl_root(Table));
        pos = 1;
    } else {
        n = rightmost(avl_root(Table));
        pos = count;
    }
    for (; pos < target; pos++)
        n = successor(Table, n);
    for (; pos > target; pos--)
        n = predecessor(Table, n);
    Table->OrderedPointer = n;
    Table->WhichOrderedElement = target;
    return user_data(n);
}

NTSYSAPI ULONG RtlNumberGenericTableElementsAvl(PRTL_AVL_TABLE Table)
{
    return Table->NumberGenericTableElements;
}

NTSYSAPI BOOLEAN RtlIsGenericTableEmptyAvl(PRTL_AVL_TABLE Table)
{
    return Table->NumberGenericTableElements == 0;
}
