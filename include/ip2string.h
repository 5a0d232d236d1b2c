/*
 * ip2string.h - the WDK's IP address <-> text conversions
 * (src/kernel/rtl_ipaddr.c).
 *
 * Addresses are IN_ADDR / IN6_ADDR in network byte order, ports USHORT in
 * network byte order, string lengths in characters including the NUL.
 * Nothing here comes from glibc's <arpa/inet.h>: the Windows forms differ
 * (non-strict IPv4 accepts "127.1" and octal/hex parts, IPv6 text may carry
 * "%scope" and "[...]:port").
 */
#ifndef OPENWSK_IP2STRING_H
#define OPENWSK_IP2STRING_H

#include <ntdef.h>
#include <inaddr.h>
#include <in6addr.h>

EXTERN_C_START

/* Text forms; both return a pointer to the terminating NUL they wrote.
 * S must hold 16 (IPv4) or 46 (IPv6) characters. */
NTSYSAPI PSTR NTAPI RtlIpv4AddressToStringA(const struct in_addr *Addr, PSTR S);
NTSYSAPI PWSTR NTAPI RtlIpv4AddressToStringW(const struct in_addr *Addr, PWSTR S);
NTSYSAPI PSTR NTAPI RtlIpv6AddressToStringA(const struct in6_addr *Addr, PSTR S);
NTSYSAPI PWSTR NTAPI RtlIpv6AddressToStringW(const struct in6_addr *Addr, PWSTR S);

/* With a port ("a.b.c.d:port", "[addr%scope]:port"; port 0 = none) and an
 * in/out length: too small a buffer is STATUS_INVALID_PARAMETER with the
 * length needed stored in *AddressStringLength. */
NTSYSAPI NTSTATUS NTAPI RtlIpv4AddressToStringExA(const struct in_addr *Address, USHORT Port, PSTR AddressString,
                                                  PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv4AddressToStringExW(const struct in_addr *Address, USHORT Port, PWSTR AddressString,
                                                  PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv6AddressToStringExA(const struct in6_addr *Address, ULONG ScopeId, USHORT Port,
                                                  PSTR AddressString, PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv6AddressToStringExW(const struct in6_addr *Address, ULONG ScopeId, USHORT Port,
                                                  PWSTR AddressString, PULONG AddressStringLength);

/* Parse the address at the start of S and store the first character not
 * used in *Terminator (also on failure).  Strict IPv4 wants four decimal
 * parts; non-strict takes 1 to 4 parts in decimal, octal (0...) or hex
 * (0x...), like inet_addr. */
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR *Terminator, struct in_addr *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, LPCWSTR *Terminator, struct in_addr *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressA(PCSTR S, PCSTR *Terminator, struct in6_addr *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressW(PCWSTR S, PCWSTR *Terminator, struct in6_addr *Addr);

/* The whole string must be an address, optionally with ":port" (IPv4) or
 * "%scope" and "[...]:port" (IPv6).  *Port (network order) and *ScopeId are
 * 0 when absent. */
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict, struct in_addr *Address,
                                                  PUSHORT Port);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict, struct in_addr *Address,
                                                  PUSHORT Port);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressExA(PCSTR AddressString, struct in6_addr *Address, PULONG ScopeId,
                                                  PUSHORT Port);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressExW(PCWSTR AddressString, struct in6_addr *Address, PULONG ScopeId,
                                                  PUSHORT Port);

EXTERN_C_END

#ifdef UNICODE
#define RtlIpv4AddressToString RtlIpv4AddressToStringW
#define RtlIpv4AddressToStringEx RtlIpv4AddressToStringExW
#define RtlIpv6AddressToString RtlIpv6AddressToStringW
#define RtlIpv6AddressToStringEx RtlIpv6AddressToStringExW
#define RtlIpv4StringToAddress RtlIpv4StringToAddressW
#define RtlIpv4StringToAddressEx RtlIpv4StringToAddressExW
#define RtlIpv6StringToAddress RtlIpv6StringToAddressW
#define RtlIpv6StringToAddressEx RtlIpv6StringToAddressExW
#else
#define RtlIpv4AddressToString RtlIpv4AddressToStringA
#define RtlIpv4AddressToStringEx RtlIpv4AddressToStringExA
#define RtlIpv6AddressToString RtlIpv6AddressToStringA
#define RtlIpv6AddressToStringEx RtlIpv6AddressToStringExA
#define RtlIpv4StringToAddress RtlIpv4StringToAddressA
#define RtlIpv4StringToAddressEx RtlIpv4StringToAddressExA
#define RtlIpv6StringToAddress RtlIpv6StringToAddressA
#define RtlIpv6StringToAddressEx RtlIpv6StringToAddressExA
#endif

#endif /* OPENWSK_IP2STRING_H */
