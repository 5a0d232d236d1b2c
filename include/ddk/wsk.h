/* ddk/wsk.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <wsk.h>
