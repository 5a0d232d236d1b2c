/*
 * io_perturb.c - what the engine does differently in schedule perturbation
 * mode (kernel/perturb.h): hold some decided completions back for a round,
 * which delivers independent ones out of order, and the coin for "try now
 * or wait for readiness".  Delays before complete() are in io_deliver.
 */
#include "io_engine.h"

#include "kernel/perturb.h"

#define IO_PERTURB_KEYS 16 /* held (fd, direction) pairs per batch */

/* (fd, direction) of an op whose order the contract keeps; -1 for ops that
 * may be delivered in any order (polls, posted calls, bad fds). */
static long io_order_key(const io_op *op)
{
    if (op->fd < 0)
        return -1;
    switch (op->kind) {
    case IO_OP_RECVMSG:
    case IO_OP_ACCEPT:
        return (long)op->fd * 2;
    case IO_OP_SENDMSG:
    case IO_OP_CONNECT:
        return (long)op->fd * 2 + 1;
    default:
        return -1;
    }
}

void io_perturb_batch(io_list *batch, io_list *held)
{
    long keys[IO_PERTURB_KEYS];
    unsigned nkeys = 0;
    held->head = held->tail = NULL;
    for (io_op *op = batch->head, *next; op; op = next) {
        next = op->priv.next;
        long key = io_order_key(op);
        int hold = 0;
        /* Behind a held op of its own (fd, direction): held too, in order. */
        for (unsigned i = 0; key >= 0 && i < nkeys && !hold; i++)
            hold = keys[i] == key;
        /* An op is held back by choice once at most, so none starves. */
        if (!hold && !(op->priv.flags & IO_PF_HELD) && openwsk_perturb_one_in(4)) {
            if (key < 0) {
                hold = 1;
            } else if (nkeys < IO_PERTURB_KEYS) {
                keys[nkeys++] = key;
                hold = 1;
            }
        }
        if (hold) {
            io_list_remove(batch, op);
            op->priv.flags |= IO_PF_HELD;
            io_list_push(held, op);
        }
    }
}

int io_perturb_attempt_now(void)
{
    return openwsk_perturb_one_in(2);
}
