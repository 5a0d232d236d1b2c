#include "impair_queue.h"

#include <stdlib.h>
#include <string.h>

static int earlier(const impair_packet *a, const impair_packet *b)
{
    return a->due_ns != b->due_ns ? a->due_ns < b->due_ns : a->order < b->order;
}

static void swap(impair_packet *a, impair_packet *b)
{
    impair_packet t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(impair_queue *q, size_t i)
{
    while (i > 0 && earlier(&q->heap[i], &q->heap[(i - 1) / 2])) {
        swap(&q->heap[i], &q->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static void sift_down(impair_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->count && earlier(&q->heap[l], &q->heap[m]))
            m = l;
        if (r < q->count && earlier(&q->heap[r], &q->heap[m]))
            m = r;
        if (m == i)
            return;
        swap(&q->heap[i], &q->heap[m]);
        i = m;
    }
}

int impair_queue_init(impair_queue *q, size_t capacity)
{
    memset(q, 0, sizeof(*q));
    q->heap = calloc(capacity, sizeof(*q->heap));
    q->capacity = capacity;
    return q->heap != NULL ? 0 : -1;
}

void impair_queue_free(impair_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->heap[i].data);
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

int impair_queue_push(impair_queue *q, uint64_t due_ns, int to, const unsigned char *data, size_t len)
{
    if (q->count == q->capacity)
        return -1;
    unsigned char *copy = malloc(len);
    if (copy == NULL)
        return -1;
    memcpy(copy, data, len);
    impair_packet *p = &q->heap[q->count];
    p->due_ns = due_ns;
    p->order = q->next_order++;
    p->to = to;
    p->len = len;
    p->data = copy;
    sift_up(q, q->count++);
    return 0;
}

const impair_packet *impair_queue_peek(const impair_queue *q)
{
    return q->count > 0 ? &q->heap[0] : NULL;
}

void impair_queue_pop(impair_queue *q)
{
    if (q->count == 0)
        return;
    free(q->heap[0].data);
    q->heap[0] = q->heap[--q->count];
    sift_down(q, 0);
}

size_t impair_queue_purge(impair_queue *q, int (*drop)(const impair_packet *, void *), void *ctx)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < q->count; i++) {
        if (drop(&q->heap[i], ctx)) {
            free(q->heap[i].data);
            dropped++;
        } else {
            q->heap[kept++] = q->heap[i];
        }
    }
    q->count = kept;
    /* Rebuild the heap over what is left. */
    for (size_t i = q->count / 2; i-- > 0;)
        sift_down(q, i);
    return dropped;
}
