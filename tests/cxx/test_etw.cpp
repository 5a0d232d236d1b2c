// test_etw compiled as C++ (see tests/CMakeLists.txt): drivers written in
// C++ log with the same ETW and TraceLogging macros (TraceLoggingValue
// picks the field type by overloading there).
#include "../test_etw.c"
