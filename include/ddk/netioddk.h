/* ddk/netioddk.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <netioddk.h>
