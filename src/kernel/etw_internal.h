/*
 * etw_internal.h - what etw.c shares with tracelogging.c: the emulated
 * session's output buffer and the calling thread's activity id.
 */
#ifndef OPENWSK_ETW_INTERNAL_H
#define OPENWSK_ETW_INTERNAL_H

#include <wdm.h>

#include <stdarg.h>
#include <stddef.h>

/* One event's text, built whole and written with one fputs so that events
 * from different threads never interleave. */
typedef struct etw_text {
    char *buf;
    size_t len;
    size_t cap;
} etw_text;

void openwsk_etw_text_init(etw_text *t);
void openwsk_etw_text_put(etw_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void openwsk_etw_text_guid(etw_text *t, const GUID *g);
/* Writes the text to stderr, frees it and counts the event. */
void openwsk_etw_text_emit(etw_text *t);
void openwsk_etw_current_activity(GUID *out);

#endif /* OPENWSK_ETW_INTERNAL_H */
