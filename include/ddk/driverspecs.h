/* ddk/driverspecs.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <driverspecs.h>
