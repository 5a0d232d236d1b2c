/* ddk/ntintsafe.h - forwarder for sources that use Wine's ddk/ include prefix. */
#include <ntintsafe.h>
