/*
 * test_rtl_generic_table.c - splay-tree generic tables (RTL_GENERIC_TABLE)
 * and the RTL_SPLAY_LINKS routines: random inserts, deletes and lookups
 * against a model, collation order of the enumerations, index access in
 * insertion order (RtlGetElementGenericTable, Remarks), the splaying
 * Windows does (a found element becomes TableRoot), the node layout
 * (RTL_SPLAY_LINKS + LIST_ENTRY before the element) and one free per
 * allocation.  OPENWSK_TABLE_LONG=1 runs ten times as many operations.
 */
#include <ntddk.h>

#include "wt.h"

typedef struct elem {
    int key;
    int payload;
} elem;

#define KEYS 1500
#define HEADER (sizeof(RTL_SPLAY_LINKS) + sizeof(LIST_ENTRY))

static int allocs, frees, fail_next_alloc;
static CLONG last_alloc_size;
static void *last_alloc;

static RTL_GENERIC_COMPARE_RESULTS NTAPI compare_elem(PRTL_GENERIC_TABLE t, PVOID a, PVOID b)
{
    int x = ((elem *)a)->key, y = ((elem *)b)->key;
    return x < y ? GenericLessThan : x > y ? GenericGreaterThan : GenericEqual;
}

static PVOID NTAPI alloc_elem(PRTL_GENERIC_TABLE t, CLONG size)
{
    if (fail_next_alloc) {
        fail_next_alloc = 0;
        return NULL;
    }
    allocs++;
    last_alloc_size = size;
    last_alloc = malloc(size);
    return last_alloc;
}

static VOID NTAPI free_elem(PRTL_GENERIC_TABLE t, PVOID p)
{
    frees++;
    free(p);
}

static unsigned rng_state = 777;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xFFFFFF;
}

static elem *elem_of(PRTL_SPLAY_LINKS n)
{
    return (elem *)((char *)n + HEADER);
}

/* Parent links consistent, keys ordered; returns the node count. */
static int check_subtree(PRTL_SPLAY_LINKS n, PRTL_SPLAY_LINKS parent, int lo, int hi)
{
    if (!n)
        return 0;
    if (n->Parent != parent) {
        WT_FAIL("node key %d: wrong Parent", elem_of(n)->key);
        return 0;
    }
    int k = elem_of(n)->key;
    if (k <= lo || k >= hi)
        WT_FAIL("key %d outside (%d, %d)", k, lo, hi);
    return 1 + check_subtree(n->LeftChild, n, lo, k) + check_subtree(n->RightChild, n, k, hi);
}

static void check_table(PRTL_GENERIC_TABLE t, const unsigned char *present, const int *order, int norder)
{
    int expected = 0;
    for (int k = 0; k < KEYS; k++)
        expected += present[k];
    if (t->TableRoot) {
        CHECK(RtlIsRoot(t->TableRoot));
        CHECK_EQ(check_subtree(t->TableRoot->LeftChild, t->TableRoot, -1, elem_of(t->TableRoot)->key) +
                     check_subtree(t->TableRoot->RightChild, t->TableRoot, elem_of(t->TableRoot)->key, KEYS) + 1,
                 expected);
    } else {
        CHECK_EQ(expected, 0);
    }
    CHECK_EQ(RtlNumberGenericTableElements(t), expected);
    CHECK_EQ(RtlIsGenericTableEmpty(t), expected == 0);
    /* Collation order without splaying: the tree must not change. */
    PRTL_SPLAY_LINKS root = t->TableRoot;
    PVOID key = NULL;
    int n = 0, prev = -1;
    for (elem *e = RtlEnumerateGenericTableWithoutSplaying(t, &key); e;
         e = RtlEnumerateGenericTableWithoutSplaying(t, &key)) {
        CHECK(e->key > prev && present[e->key] && e->payload == e->key * 7);
        prev = e->key;
        n++;
    }
    CHECK_EQ(n, expected);
    CHECK(t->TableRoot == root);
    /* Index access: insertion order, probed in a scattered order. */
    CHECK_EQ(norder, expected);
    for (int j = 0; j < norder; j++) {
        int idx = (j * 53) % norder;
        elem *p = RtlGetElementGenericTable(t, (ULONG)idx);
        CHECK(p && p->key == order[idx]);
    }
    CHECK(RtlGetElementGenericTable(t, (ULONG)norder) == NULL);
    CHECK(RtlGetElementGenericTable(t, MAXULONG) == NULL);
}

static void layout_and_header_size(void)
{
    RTL_GENERIC_TABLE t;
    RtlInitializeGenericTable(&t, compare_elem, alloc_elem, free_elem, (PVOID)0x99);
    CHECK(t.TableContext == (PVOID)0x99);
    CHECK(RtlIsGenericTableEmpty(&t));
    CHECK(t.OrderedPointer == &t.InsertOrderList);
    CHECK(RtlEnumerateGenericTable(&t, TRUE) == NULL);
    CHECK(RtlGetElementGenericTable(&t, 0) == NULL);
    elem e = {4, 28};
    BOOLEAN isnew = 0xAA;
    elem *p = RtlInsertElementGenericTable(&t, &e, sizeof(e), &isnew);
    CHECK(isnew == TRUE);
    CHECK_EQ(last_alloc_size, HEADER + sizeof(elem));
    CHECK((char *)p == (char *)last_alloc + HEADER);
    CHECK(t.TableRoot == last_alloc);
    CHECK(t.InsertOrderList.Flink == (PLIST_ENTRY)((char *)last_alloc + sizeof(RTL_SPLAY_LINKS)));
    int before = allocs;
    CHECK(RtlInsertElementGenericTable(&t, &e, sizeof(e), &isnew) == p);
    CHECK(isnew == FALSE);
    CHECK_EQ(allocs, before);
    elem e2 = {8, 56};
    fail_next_alloc = 1;
    CHECK(RtlInsertElementGenericTable(&t, &e2, sizeof(e2), &isnew) == NULL);
    CHECK(isnew == FALSE);
    CHECK_EQ(RtlNumberGenericTableElements(&t), 1);
    CHECK(RtlDeleteElementGenericTable(&t, &e));
    CHECK(!RtlDeleteElementGenericTable(&t, &e));
    CHECK(t.TableRoot == NULL);
    CHECK_EQ(allocs, frees);
}

static void splaying(void)
{
    RTL_GENERIC_TABLE t;
    RtlInitializeGenericTable(&t, compare_elem, alloc_elem, free_elem, NULL);
    elem *p[10];
    for (int k = 0; k < 10; k++) {
        elem e = {k, k * 7};
        p[k] = RtlInsertElementGenericTable(&t, &e, sizeof(e), NULL);
        CHECK(elem_of(t.TableRoot) == p[k]); /* an insert splays the new node */
    }
    elem probe = {3, 0};
    CHECK(RtlLookupElementGenericTable(&t, &probe) == p[3]);
    CHECK(elem_of(t.TableRoot) == p[3]);
    /* Enumeration continues from the root: after the lookup of 3, the next
     * element is 4. */
    elem *q = RtlEnumerateGenericTable(&t, FALSE);
    CHECK(q == p[4] && elem_of(t.TableRoot) == p[4]);
    q = RtlEnumerateGenericTable(&t, TRUE);
    CHECK(q == p[0] && elem_of(t.TableRoot) == p[0]);
    for (int k = 1; k < 10; k++)
        CHECK(RtlEnumerateGenericTable(&t, FALSE) == p[k]);
    CHECK(RtlEnumerateGenericTable(&t, FALSE) == NULL);
    /* A failed lookup does not splay; the full lookup reports the parent. */
    PRTL_SPLAY_LINKS root = t.TableRoot;
    elem missing = {20, 0};
    PVOID nop = NULL;
    TABLE_SEARCH_RESULT r;
    CHECK(RtlLookupElementGenericTableFull(&t, &missing, &nop, &r) == NULL);
    CHECK_EQ(r, TableInsertAsRight);
    CHECK(elem_of(nop) == p[9]);
    CHECK(t.TableRoot == root);
    BOOLEAN isnew;
    missing.payload = 140;
    elem *p20 = RtlInsertElementGenericTableFull(&t, &missing, sizeof(missing), &isnew, nop, r);
    CHECK(isnew && p20->key == 20);
    CHECK(RtlLookupElementGenericTableFull(&t, &probe, &nop, &r) == p[3]);
    CHECK_EQ(r, TableFoundNode);
    CHECK(elem_of(nop) == p[3]);
    /* RtlRealSuccessor / RtlRealPredecessor walk collation order. */
    CHECK(elem_of(RtlRealSuccessor(nop)) == p[4]);
    CHECK(elem_of(RtlRealPredecessor(nop)) == p[2]);
    while (!RtlIsGenericTableEmpty(&t)) {
        elem copy = *(elem *)RtlGetElementGenericTable(&t, 0);
        CHECK(RtlDeleteElementGenericTable(&t, &copy));
    }
    CHECK_EQ(allocs, frees);
}

static void random_against_model(void)
{
    RTL_GENERIC_TABLE t;
    static unsigned char present[KEYS];
    static elem *where[KEYS];
    static int order[KEYS];
    int norder = 0;
    memset(present, 0, sizeof(present));
    RtlInitializeGenericTable(&t, compare_elem, alloc_elem, free_elem, NULL);
    int ops = getenv("OPENWSK_TABLE_LONG") ? 200000 : 20000;
    for (int i = 0; i < ops; i++) {
        elem e = {(int)(rnd() % KEYS), 0};
        e.payload = e.key * 7;
        unsigned op = rnd() % 10;
        if (op < 5) {
            BOOLEAN isnew;
            elem *p = RtlInsertElementGenericTable(&t, &e, sizeof(e), &isnew);
            CHECK(p && p->key == e.key);
            CHECK_EQ(isnew, !present[e.key]);
            if (present[e.key]) {
                CHECK(p == where[e.key]);
            } else {
                order[norder++] = e.key;
            }
            present[e.key] = 1;
            where[e.key] = p;
        } else if (op < 9) {
            CHECK_EQ(RtlDeleteElementGenericTable(&t, &e), present[e.key]);
            if (present[e.key]) {
                int j = 0;
                while (order[j] != e.key)
                    j++;
                memmove(&order[j], &order[j + 1], (size_t)(norder - j - 1) * sizeof(int));
                norder--;
            }
            present[e.key] = 0;
        } else if (op == 9 && (rnd() & 1)) {
            elem *p = RtlLookupElementGenericTable(&t, &e);
            CHECK(present[e.key] ? p == where[e.key] : p == NULL);
        } else {
            /* An enumeration step: the successor of the root, or NULL. */
            elem *p = RtlEnumerateGenericTable(&t, FALSE);
            CHECK(p == NULL || present[p->key]);
        }
        if (i % 997 == 0)
            check_table(&t, present, order, norder);
    }
    check_table(&t, present, order, norder);
    CHECK_EQ(allocs - frees, norder);
    /* A full splaying enumeration visits every element in order. */
    int n = 0, prev = -1;
    for (elem *p = RtlEnumerateGenericTable(&t, TRUE); p; p = RtlEnumerateGenericTable(&t, FALSE)) {
        CHECK(p->key > prev);
        prev = p->key;
        n++;
    }
    CHECK_EQ(n, norder);
    while (!RtlIsGenericTableEmpty(&t)) {
        elem copy = *(elem *)RtlGetElementGenericTable(&t, RtlNumberGenericTableElements(&t) - 1);
        CHECK(RtlDeleteElementGenericTable(&t, &copy));
    }
    CHECK_EQ(allocs, frees);
}

static void splay_links_delete_no_splay(void)
{
    /* The RTL_SPLAY_LINKS macros and routines on a hand-built tree:
     *        b
     *      a   d
     *         c e            */
    RTL_SPLAY_LINKS a, b, c, d, e;
    RtlInitializeSplayLinks(&b);
    RtlInitializeSplayLinks(&a);
    RtlInitializeSplayLinks(&c);
    RtlInitializeSplayLinks(&d);
    RtlInitializeSplayLinks(&e);
    RtlInsertAsLeftChild(&b, &a);
    RtlInsertAsRightChild(&b, &d);
    RtlInsertAsLeftChild(&d, &c);
    RtlInsertAsRightChild(&d, &e);
    CHECK(RtlIsRoot(&b) && !RtlIsRoot(&a));
    CHECK(RtlIsLeftChild(&c) && RtlIsRightChild(&e));
    CHECK(RtlSubtreeSuccessor(&b) == &c);
    CHECK(RtlSubtreePredecessor(&d) == &c);
    CHECK(RtlRealSuccessor(&c) == &d);
    CHECK(RtlRealSuccessor(&a) == &b);
    CHECK(RtlRealSuccessor(&e) == NULL);
    CHECK(RtlRealPredecessor(&c) == &b);
    CHECK(RtlRealPredecessor(&a) == NULL);
    PRTL_SPLAY_LINKS root = &b;
    RtlDeleteNoSplay(&b, &root); /* two children: its predecessor a takes its place */
    CHECK(root == &a && RtlIsRoot(&a));
    CHECK(a.LeftChild == NULL && a.RightChild == &d && d.Parent == &a);
    CHECK(RtlSplay(&e) == &e && RtlIsRoot(&e));
    CHECK(RtlRealPredecessor(&e) == &d);
    root = RtlDelete(&d);
    CHECK(RtlIsRoot(root));
    int n = 0;
    PRTL_SPLAY_LINKS x = root;
    while (x->LeftChild)
        x = x->LeftChild;
    for (; x; x = RtlRealSuccessor(x))
        n++;
    CHECK_EQ(n, 3);
}

int main(void)
{
    WT_RUN(layout_and_header_size);
    WT_RUN(splaying);
    WT_RUN(random_against_model);
    WT_RUN(splay_links_delete_no_splay);
    return wt_finish();
}
