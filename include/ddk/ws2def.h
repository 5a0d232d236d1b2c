/* ddk/ws2def.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ws2def.h>
