/* ddk/netioapi.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <netioapi.h>
