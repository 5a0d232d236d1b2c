/* ddk/ntddndis.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntddndis.h>
