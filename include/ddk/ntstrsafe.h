/* ddk/ntstrsafe.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntstrsafe.h>
