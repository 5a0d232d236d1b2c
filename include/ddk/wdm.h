/* ddk/wdm.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <wdm.h>
