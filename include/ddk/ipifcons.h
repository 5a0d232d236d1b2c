/* ddk/ipifcons.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ipifcons.h>
