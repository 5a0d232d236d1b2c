/* ddk/ip2string.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ip2string.h>
