/*
 * impair_queue.h - the relay's delay line: packets waiting for their
 * release time, kept in a binary min-heap ordered by (time, arrival) so
 * that packets due at the same time leave in the order they came.  The
 * capacity is fixed: a packet that does not fit is dropped (tail drop),
 * as a router's full queue would.
 */
#ifndef NETIMPAIR_IMPAIR_QUEUE_H
#define NETIMPAIR_IMPAIR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct impair_packet {
    uint64_t due_ns;   /* CLOCK_MONOTONIC time at which it is written out */
    uint64_t order;    /* arrival number: ties keep arrival order */
    int to;            /* 0: towards side A, 1: towards side B */
    size_t len;
    unsigned char *data;
} impair_packet;

typedef struct impair_queue {
    impair_packet *heap;
    size_t count, capacity;
    uint64_t next_order;
} impair_queue;

int impair_queue_init(impair_queue *q, size_t capacity);
void impair_queue_free(impair_queue *q);
/* Copies the packet in; returns -1 (nothing queued) when full or out of memory. */
int impair_queue_push(impair_queue *q, uint64_t due_ns, int to, const unsigned char *data, size_t len);
/* The earliest packet, or NULL when empty; pop frees its data. */
const impair_packet *impair_queue_peek(const impair_queue *q);
void impair_queue_pop(impair_queue *q);
/* Drops every queued packet for which drop(packet, ctx) is non-zero; returns how many. */
size_t impair_queue_purge(impair_queue *q, int (*drop)(const impair_packet *, void *), void *ctx);

#endif
