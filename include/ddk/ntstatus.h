/* ddk/ntstatus.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntstatus.h>
