/* ddk/ws2ipdef.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ws2ipdef.h>
