/* ddk/ntdef.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntdef.h>
