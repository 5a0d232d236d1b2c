/*
 * wsk_trace.h - the provider's dispatch tables as the timeline sees them
 * (wsk_trace_dispatch.c).  While tracing, sockets and captured NPIs get
 * tables of wrappers that record each call and IRP, then call the real
 * function; otherwise the real tables themselves.
 */
#ifndef OPENWSK_WSK_TRACE_H
#define OPENWSK_WSK_TRACE_H

#include "wsk_internal.h"

#include "kernel/timeline.h"

/* The real socket table of a category (wsk_socket.c). */
const VOID *wsk_provider_table_plain(wsk_category category);

/* The client-level table WskCaptureProviderNPI hands out. */
const WSK_PROVIDER_DISPATCH *wsk_provider_dispatch_for_capture(void);

/* "stream", "datagram"...: the kind of a socket span. */
const char *wsk_trace_category_name(wsk_category category);

#endif /* OPENWSK_WSK_TRACE_H */
