/* ddk/ntifs.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntifs.h>
