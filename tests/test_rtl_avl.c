/*
 * test_rtl_avl.c - AVL generic tables: thousands of random inserts, deletes
 * and lookups against a simple model (a presence array), checking the
 * collation order, index access, the AVL invariants of the tree the
 * structure exposes, the node layout drivers rely on (allocate routine asked
 * for sizeof(RTL_BALANCED_LINKS) + element, element right after the links),
 * and that the allocate and free routines run exactly once per element.
 * OPENWSK_TABLE_LONG=1 runs ten times as many operations.
 *
 * RTL_USE_AVL_TABLES is defined, so the splay-table names map onto the AVL
 * routines, as the WDK documents (RtlInitializeGenericTableAvl, Remarks).
 */
#define RTL_USE_AVL_TABLES 0
#include <ntddk.h>

#include "wt.h"

typedef struct elem {
    int key;
    int payload;
} elem;

#define KEYS 1500

static int allocs, frees, fail_next_alloc;
static CLONG last_alloc_size;
static void *last_alloc;

static RTL_GENERIC_COMPARE_RESULTS NTAPI compare_elem(PRTL_AVL_TABLE t, PVOID a, PVOID b)
{
    int x = ((elem *)a)->key, y = ((elem *)b)->key;
    return x < y ? GenericLessThan : x > y ? GenericGreaterThan : GenericEqual;
}

static PVOID NTAPI alloc_elem(PRTL_AVL_TABLE t, CLONG size)
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

static VOID NTAPI free_elem(PRTL_AVL_TABLE t, PVOID p)
{
    frees++;
    free(p);
}

static unsigned rng_state = 12345;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xFFFFFF;
}

/* Height of the subtree, or -1000 on a broken invariant (reported). */
static int check_subtree(PRTL_BALANCED_LINKS n, PRTL_BALANCED_LINKS parent)
{
    if (!n)
        return 0;
    if (n->Parent != parent) {
        WT_FAIL("node %p: Parent %p, expected %p", (void *)n, (void *)n->Parent, (void *)parent);
        return -1000;
    }
    int hl = check_subtree(n->LeftChild, n);
    int hr = check_subtree(n->RightChild, n);
    if (hl < 0 || hr < 0)
        return -1000;
    if (n->Balance != hr - hl || hr - hl > 1 || hl - hr > 1) {
        WT_FAIL("node key %d: Balance %d, heights left %d right %d", ((elem *)(n + 1))->key, n->Balance, hl,
                hr);
        return -1000;
    }
    return 1 + (hl > hr ? hl : hr);
}

static void check_table(PRTL_AVL_TABLE t, const unsigned char *present)
{
    CHECK(t->BalancedRoot.Parent == &t->BalancedRoot);
    CHECK(t->BalancedRoot.LeftChild == NULL);
    check_subtree(t->BalancedRoot.RightChild, &t->BalancedRoot);
    ULONG n = 0;
    int prev = -1;
    PVOID key = NULL;
    for (elem *e = RtlEnumerateGenericTableWithoutSplayingAvl(t, &key); e;
         e = RtlEnumerateGenericTableWithoutSplayingAvl(t, &key)) {
        CHECK(e->key > prev);
        CHECK(present[e->key]);
        CHECK_EQ(e->payload, e->key * 7);
        prev = e->key;
        n++;
    }
    ULONG expected = 0;
    for (int k = 0; k < KEYS; k++)
        expected += present[k];
    CHECK_EQ(n, expected);
    CHECK_EQ(RtlNumberGenericTableElementsAvl(t), expected);
    CHECK_EQ(RtlIsGenericTableEmptyAvl(t), expected == 0);
}

static void layout_and_header_size(void)
{
    RTL_AVL_TABLE t;
    BOOLEAN isnew = 0xAA;
    RtlInitializeGenericTableAvl(&t, compare_elem, alloc_elem, free_elem, (PVOID)0x1234);
    CHECK(t.TableContext == (PVOID)0x1234);
    CHECK(RtlIsGenericTableEmptyAvl(&t));
    CHECK(RtlGetElementGenericTableAvl(&t, 0) == NULL);
    CHECK(RtlEnumerateGenericTableAvl(&t, TRUE) == NULL);
    elem e = {5, 35};
    elem *p = RtlInsertElementGenericTableAvl(&t, &e, sizeof(e), &isnew);
    CHECK(isnew == TRUE);
    CHECK_EQ(last_alloc_size, sizeof(RTL_BALANCED_LINKS) + sizeof(elem));
    /* Drivers compute the same: the element follows the links. */
    CHECK((char *)p == (char *)last_alloc + sizeof(RTL_BALANCED_LINKS));
    CHECK(p != &e);
    CHECK_EQ(p->key, 5);
    CHECK(t.BalancedRoot.RightChild == last_alloc);
    /* The same key again: the existing element, no allocation. */
    int before = allocs;
    elem e2 = {5, 99};
    CHECK(RtlInsertElementGenericTableAvl(&t, &e2, sizeof(e2), &isnew) == p);
    CHECK(isnew == FALSE);
    CHECK_EQ(p->payload, 35);
    CHECK_EQ(allocs, before);
    CHECK(RtlInsertElementGenericTableAvl(&t, &e2, sizeof(e2), NULL) == p); /* NewElement is optional */
    /* Allocation failure: NULL, nothing inserted. */
    elem e3 = {6, 42};
    fail_next_alloc = 1;
    isnew = 0xAA;
    CHECK(RtlInsertElementGenericTableAvl(&t, &e3, sizeof(e3), &isnew) == NULL);
    CHECK(isnew == FALSE);
    CHECK_EQ(RtlNumberGenericTableElementsAvl(&t), 1);
    CHECK(RtlDeleteElementGenericTableAvl(&t, &e));
    CHECK(!RtlDeleteElementGenericTableAvl(&t, &e));
    CHECK(RtlIsGenericTableEmptyAvl(&t));
    CHECK_EQ(allocs, frees);
}

static void full_lookup_and_insert(void)
{
    RTL_AVL_TABLE t;
    RtlInitializeGenericTableAvl(&t, compare_elem, alloc_elem, free_elem, NULL);
    PVOID nop = (PVOID)0x77;
    TABLE_SEARCH_RESULT r;
    elem e = {10, 70};
    CHECK(RtlLookupElementGenericTableFullAvl(&t, &e, &nop, &r) == NULL);
    CHECK_EQ(r, TableEmptyTree);
    CHECK(nop == (PVOID)0x77); /* unchanged on an empty tree */
    BOOLEAN isnew;
    elem *p10 = RtlInsertElementGenericTableFullAvl(&t, &e, sizeof(e), &isnew, nop, r);
    CHECK(isnew);
    elem e20 = {20, 140}, e5 = {5, 35};
    CHECK(RtlLookupElementGenericTableFullAvl(&t, &e20, &nop, &r) == NULL);
    CHECK_EQ(r, TableInsertAsRight);
    CHECK((char *)nop + sizeof(RTL_BALANCED_LINKS) == (char *)p10);
    elem *p20 = RtlInsertElementGenericTableFullAvl(&t, &e20, sizeof(e20), &isnew, nop, r);
    CHECK(isnew && p20->key == 20);
    CHECK(RtlLookupElementGenericTableFullAvl(&t, &e5, &nop, &r) == NULL);
    CHECK_EQ(r, TableInsertAsLeft);
    CHECK(RtlInsertElementGenericTableFullAvl(&t, &e5, sizeof(e5), &isnew, nop, r) != NULL);
    CHECK(RtlLookupElementGenericTableFullAvl(&t, &e20, &nop, &r) == p20);
    CHECK_EQ(r, TableFoundNode);
    CHECK((char *)nop + sizeof(RTL_BALANCED_LINKS) == (char *)p20);
    CHECK(RtlInsertElementGenericTableFullAvl(&t, &e20, sizeof(e20), &isnew, nop, r) == p20);
    CHECK(!isnew);
    /* Delete by node, as returned by the full lookup. */
    int f = frees;
    RtlDeleteElementGenericTableAvlEx(&t, nop);
    CHECK_EQ(frees, f + 1);
    CHECK(RtlLookupElementGenericTableAvl(&t, &e20) == NULL);
    CHECK_EQ(RtlNumberGenericTableElementsAvl(&t), 2);
    while (!RtlIsGenericTableEmptyAvl(&t))
        RtlDeleteElementGenericTableAvl(&t, RtlGetElementGenericTableAvl(&t, 0));
    CHECK_EQ(allocs, frees);
}

static void random_against_model(void)
{
    RTL_AVL_TABLE t;
    static unsigned char present[KEYS];
    static elem *where[KEYS];
    memset(present, 0, sizeof(present));
    int base_allocs = allocs, base_frees = frees;
    RtlInitializeGenericTableAvl(&t, compare_elem, alloc_elem, free_elem, NULL);
    int ops = getenv("OPENWSK_TABLE_LONG") ? 200000 : 20000;
    for (int i = 0; i < ops; i++) {
        elem e = {(int)(rnd() % KEYS), 0};
        e.payload = e.key * 7;
        unsigned op = rnd() % 10;
        if (op < 5) {
            BOOLEAN isnew;
            elem *p = RtlInsertElementGenericTableAvl(&t, &e, sizeof(e), &isnew);
            CHECK(p != NULL && p->key == e.key);
            CHECK_EQ(isnew, !present[e.key]);
            if (present[e.key])
                CHECK(p == where[e.key]); /* elements never move */
            present[e.key] = 1;
            where[e.key] = p;
        } else if (op < 9) {
            CHECK_EQ(RtlDeleteElementGenericTableAvl(&t, &e), present[e.key]);
            present[e.key] = 0;
        } else {
            elem *p = RtlLookupElementGenericTableAvl(&t, &e);
            CHECK(present[e.key] ? p == where[e.key] : p == NULL);
        }
        if (i % 997 == 0) {
            check_table(&t, present);
            /* Index access in collation order, in a scattered order of I. */
            int sorted[KEYS], n = 0;
            for (int k = 0; k < KEYS; k++)
                if (present[k])
                    sorted[n++] = k;
            for (int j = 0; j < n; j++) {
                int idx = (j * 37) % n;
                elem *p = RtlGetElementGenericTableAvl(&t, (ULONG)idx);
                CHECK(p && p->key == sorted[idx]);
            }
            CHECK(RtlGetElementGenericTableAvl(&t, (ULONG)n) == NULL);
            CHECK(RtlGetElementGenericTableAvl(&t, MAXULONG) == NULL);
        }
    }
    check_table(&t, present);
    int live = 0;
    for (int k = 0; k < KEYS; k++)
        live += present[k];
    CHECK_EQ(allocs - base_allocs - (frees - base_frees), live);
    /* Delete everything while enumerating: the enumeration resumes after
     * the deleted element. */
    int seen = 0;
    for (elem *p = RtlEnumerateGenericTableAvl(&t, TRUE); p; p = RtlEnumerateGenericTableAvl(&t, FALSE)) {
        elem copy = *p;
        CHECK(RtlDeleteElementGenericTableAvl(&t, &copy));
        seen++;
    }
    CHECK_EQ(seen, live);
    CHECK(RtlIsGenericTableEmptyAvl(&t));
    CHECK_EQ(allocs, frees);
}

static void enumerate_restart(void)
{
    RTL_AVL_TABLE t;
    RtlInitializeGenericTableAvl(&t, compare_elem, alloc_elem, free_elem, NULL);
    for (int k = 9; k >= 0; k--) {
        elem e = {k * 10, k * 70};
        RtlInsertElementGenericTableAvl(&t, &e, sizeof(e), NULL);
    }
    elem *p = RtlEnumerateGenericTableAvl(&t, TRUE);
    CHECK(p && p->key == 0);
    p = RtlEnumerateGenericTableAvl(&t, FALSE);
    CHECK(p && p->key == 10);
    p = RtlEnumerateGenericTableAvl(&t, TRUE); /* Restart: from the first again */
    CHECK(p && p->key == 0);
    for (int k = 1; k < 10; k++) {
        p = RtlEnumerateGenericTableAvl(&t, FALSE);
        CHECK(p && p->key == k * 10);
    }
    CHECK(RtlEnumerateGenericTableAvl(&t, FALSE) == NULL);
    /* Two independent enumerations without splaying. */
    PVOID k1 = NULL, k2 = NULL;
    CHECK(((elem *)RtlEnumerateGenericTableWithoutSplayingAvl(&t, &k1))->key == 0);
    CHECK(((elem *)RtlEnumerateGenericTableWithoutSplayingAvl(&t, &k1))->key == 10);
    CHECK(((elem *)RtlEnumerateGenericTableWithoutSplayingAvl(&t, &k2))->key == 0);
    CHECK(((elem *)RtlEnumerateGenericTableWithoutSplayingAvl(&t, &k1))->key == 20);
    while ((p = RtlEnumerateGenericTableAvl(&t, TRUE)) != NULL) {
        elem copy = *p;
        RtlDeleteElementGenericTableAvl(&t, &copy);
    }
    CHECK_EQ(allocs, frees);
}

/* Compares by key / 10: keys 30..39 all "match" 3x, like names that differ
 * only in case. */
static RTL_GENERIC_COMPARE_RESULTS NTAPI compare_decade(PRTL_AVL_TABLE t, PVOID a, PVOID b)
{
    int x = ((elem *)a)->key, y = ((elem *)b)->key;
    if (x / 10 != y / 10 || ((elem *)a)->payload == -1)
        return x / 10 < y / 10 ? GenericLessThan : x / 10 > y / 10 ? GenericGreaterThan : GenericEqual;
    return x < y ? GenericLessThan : x > y ? GenericGreaterThan : GenericEqual;
}

static void first_matching_element(void)
{
    RTL_AVL_TABLE t;
    RtlInitializeGenericTableAvl(&t, compare_decade, alloc_elem, free_elem, NULL);
    for (int k = 0; k < 60; k += 3) {
        elem e = {k, k * 7};
        RtlInsertElementGenericTableAvl(&t, &e, sizeof(e), NULL);
    }
    /* payload -1 marks a search key that compares by decade only. */
    elem probe = {35, -1};
    PVOID key = (PVOID)0x1;
    elem *p = RtlLookupFirstMatchingElementGenericTableAvl(&t, &probe, &key);
    CHECK(p && p->key == 30); /* the left-most of 30, 33, 36, 39 */
    p = RtlEnumerateGenericTableWithoutSplayingAvl(&t, &key);
    CHECK(p && p->key == 33);
    p = RtlEnumerateGenericTableWithoutSplayingAvl(&t, &key);
    CHECK(p && p->key == 36);
    elem none = {75, -1};
    key = (PVOID)0x1;
    CHECK(RtlLookupFirstMatchingElementGenericTableAvl(&t, &none, &key) == NULL);
    CHECK(key == NULL);
    while ((p = RtlGetElementGenericTableAvl(&t, 0)) != NULL) {
        elem copy = *p;
        RtlDeleteElementGenericTableAvl(&t, &copy);
    }
    CHECK_EQ(allocs, frees);
}

static NTSTATUS NTAPI match_even(PRTL_AVL_TABLE t, PVOID user, PVOID data)
{
    int k = ((elem *)user)->key;
    if (k >= *(int *)data)
        return STATUS_NO_MORE_MATCHES;
    return (k % 2 == 0) ? STATUS_SUCCESS : STATUS_NO_MATCH;
}

static void like_a_directory(void)
{
    RTL_AVL_TABLE t;
    RtlInitializeGenericTableAvl(&t, compare_elem, alloc_elem, free_elem, NULL);
    for (int k = 1; k <= 20; k++) {
        elem e = {k, k * 7};
        RtlInsertElementGenericTableAvl(&t, &e, sizeof(e), NULL);
    }
    PVOID key = NULL;
    ULONG dc = 0;
    elem start = {5, 0};
    /* No key: from the element matching Buffer (NextFlag FALSE)... */
    elem *p = RtlEnumerateGenericTableLikeADirectory(&t, NULL, NULL, FALSE, &key, &dc, &start);
    CHECK(p && p->key == 5);
    /* ...then on from the key, skipping it with NextFlag TRUE. */
    p = RtlEnumerateGenericTableLikeADirectory(&t, NULL, NULL, TRUE, &key, &dc, &start);
    CHECK(p && p->key == 6);
    p = RtlEnumerateGenericTableLikeADirectory(&t, NULL, NULL, FALSE, &key, &dc, &start);
    CHECK(p && p->key == 6);
    /* A deletion invalidates the key: restart from Buffer (NextFlag TRUE
     * returns the entry after the one matching it). */
    elem six = {6, 0};
    RtlDeleteElementGenericTableAvl(&t, &six);
    p = RtlEnumerateGenericTableLikeADirectory(&t, NULL, NULL, TRUE, &key, &dc, &six);
    CHECK(p && p->key == 7);
    CHECK_EQ(dc, t.DeleteCount);
    /* A Buffer between elements starts at the next one. */
    key = NULL;
    p = RtlEnumerateGenericTableLikeADirectory(&t, NULL, NULL, FALSE, &key, &dc, &six);
    CHECK(p && p->key == 7);
    /* Match function: even keys below 12. */
    int limit = 12;
    key = NULL;
    int got[20], n = 0;
    elem first = {0, 0};
    for (p = RtlEnumerateGenericTableLikeADirectory(&t, match_even, &limit, FALSE, &key, &dc, &first); p;
         p = RtlEnumerateGenericTableLikeADirectory(&t, match_even, &limit, TRUE, &key, &dc, &first))
        got[n++] = p->key;
    static const int want[] = {2, 4, 8, 10}; /* 6 was deleted; 12 stops it */
    CHECK_EQ(n, 4);
    for (int i = 0; i < n && i < 4; i++)
        CHECK_EQ(got[i], want[i]);
    while ((p = RtlGetElementGenericTableAvl(&t, 0)) != NULL) {
        elem copy = *p;
        RtlDeleteElementGenericTableAvl(&t, &copy);
    }
    CHECK_EQ(allocs, frees);
}

static void generic_names_map_to_avl(void)
{
    RTL_GENERIC_TABLE t; /* RTL_AVL_TABLE under RTL_USE_AVL_TABLES */
    CHECK_EQ(sizeof(t), sizeof(RTL_AVL_TABLE));
    RtlInitializeGenericTable(&t, compare_elem, alloc_elem, free_elem, NULL);
    elem e = {1, 7};
    BOOLEAN isnew;
    CHECK(RtlInsertElementGenericTable(&t, &e, sizeof(e), &isnew) != NULL && isnew);
    CHECK(RtlLookupElementGenericTable(&t, &e) != NULL);
    CHECK_EQ(RtlNumberGenericTableElements(&t), 1);
    CHECK(RtlDeleteElementGenericTable(&t, &e));
    CHECK(RtlIsGenericTableEmpty(&t));
    CHECK_EQ(allocs, frees);
}

int main(void)
{
    WT_RUN(layout_and_header_size);
    WT_RUN(full_lookup_and_insert);
    WT_RUN(random_against_model);
    WT_RUN(enumerate_restart);
    WT_RUN(first_matching_element);
    WT_RUN(like_a_directory);
    WT_RUN(generic_names_map_to_avl);
    return wt_finish();
}
