/*
 * device_dispatch.c - one dispatch thread per handle (device_dispatch.h).
 */
#include "device_dispatch.h"

#include <pthread.h>
#include <stdlib.h>

struct dispatcher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    LIST_ENTRY queue; /* dispatch_item.entry */
    int quit;
};

static void *dispatch_thread(void *arg)
{
    dispatcher *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        if (IsListEmpty(&d->queue)) {
            if (d->quit)
                break;
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        dispatch_item *item = CONTAINING_RECORD(RemoveHeadList(&d->queue), dispatch_item, entry);
        pthread_mutex_unlock(&d->lock);
        (void)IoCallDriver(item->device, item->irp);
        item->returned(item);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

dispatcher *dispatcher_start(void)
{
    dispatcher *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    InitializeListHead(&d->queue);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    if (pthread_create(&d->thread, NULL, dispatch_thread, d) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

void dispatcher_submit(dispatcher *d, dispatch_item *item)
{
    pthread_mutex_lock(&d->lock);
    InsertTailList(&d->queue, &item->entry);
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void dispatcher_stop(dispatcher *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->quit = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
