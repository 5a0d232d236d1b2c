/* ddk/ntddk.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntddk.h>
