/* ddk/mstcpip.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <mstcpip.h>
