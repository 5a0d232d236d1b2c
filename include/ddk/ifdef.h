/* ddk/ifdef.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ifdef.h>
