/* ddk/nldef.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <nldef.h>
