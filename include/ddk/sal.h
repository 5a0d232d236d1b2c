/* ddk/sal.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <sal.h>
