/*
 * openwsk_wpp.h - what a WPP-generated trace header (.tmh) provides, for
 * drivers built with gcc/clang.
 *
 * The WPP preprocessor is not available on Linux, so every .tmh a driver
 * includes is generated as a one-line include of this header (see
 * tools/openwsk-wpp-tmh and the CMake function openwsk_wpp_tmh).  Trace
 * calls become DbgPrintEx output at DPFLTR_INFO_LEVEL, one line each,
 * prefixed with the flag name; %!FUNC!, %!LINE!, %!FILE!, %!STATUS!, %!HRESULT!, %!bool! and
 * %!IPADDR! are understood (docs/decisions.md lists the rest).
 */
#ifndef OPENWSK_WPP_H
#define OPENWSK_WPP_H

#include <ntdef.h>

EXTERN_C_START

OPENWSK_API void openwsk_wpp_trace(const char *flag, const char *file, int line, const char *function,
                                   const char *format, ...);
/* A trace call whose arguments end with an empty one, as drivers' logging
 * macros produce (OPENWSK_VA_TAIL in ntdef.h), compiles as with MSVC. */
#define openwsk_wpp_trace(flag, file, line, function, format, ...) \
    (openwsk_wpp_trace)(flag, file, line, function, format OPENWSK_VA_TAIL(__VA_ARGS__))

#define WPP_INIT_TRACING(DriverObject, RegistryPath) ((void)(DriverObject), (void)(RegistryPath))
#define WPP_CLEANUP(DriverObject) ((void)(DriverObject))
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits)
#define WPP_DEFINE_BIT(Name)
#define WPP_FLAG_EN_STATE(x) 1
#define WPP_LEVEL_ENABLED(x) 1

#define DoTraceMessage(Flag, ...) openwsk_wpp_trace(#Flag, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define DoTraceLevelMessage(Level, Flag, ...) openwsk_wpp_trace(#Flag, __FILE__, __LINE__, __func__, __VA_ARGS__)
/* The name KMDF templates configure with -func:TraceEvents(LEVEL,FLAGS,MSG,...). */
#define TraceEvents(Level, Flags, ...) openwsk_wpp_trace(#Flags, __FILE__, __LINE__, __func__, __VA_ARGS__)

#ifndef TRACE_LEVEL_NONE
#define TRACE_LEVEL_NONE 0
#define TRACE_LEVEL_CRITICAL 1
#define TRACE_LEVEL_FATAL 1
#define TRACE_LEVEL_ERROR 2
#define TRACE_LEVEL_WARNING 3
#define TRACE_LEVEL_INFORMATION 4
#define TRACE_LEVEL_VERBOSE 5
#endif

EXTERN_C_END

#endif /* OPENWSK_WPP_H */
