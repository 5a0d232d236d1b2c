// The variadic-macro test compiled as C++ (see tests/CMakeLists.txt): the
// WDK-compatible headers' macros must work for C++ drivers too.
#include "../test_variadic_macros.c"
