/*
 * rtl_ipaddr.c - ip2string.h: IPv4/IPv6 addresses to text and back, with
 * Windows' syntax and quirks rather than inet_pton's.
 *
 * The behaviour follows Windows as recorded by Wine's conformance tests
 * (dlls/ntdll/tests/rtl.c), which run against real Windows:
 *  - IPv4 non-strict parsing is inet_addr's: 1 to 4 parts, each decimal,
 *    octal after a leading 0 or hex after 0x; the last part fills the
 *    remaining bytes ("127.1" = 127.0.0.1).  Strict wants 4 decimal parts;
 *    a 0x or 0-digit prefix makes it stop right after the prefix.
 *  - The Terminator points at the first character not used, on failure at
 *    the character that made parsing fail.
 *  - Ports ("1.2.3.4:80", "[::1]:80") are parsed with the non-strict part
 *    syntax (so "0x50" works and "080" fails), must be 1..65535, and are
 *    returned in network byte order.  Scope ids ("%4") are decimal.
 *  - IPv6 text is lower-case hex with the longest run (two or more) of zero
 *    groups, the first of equal runs, written as "::"; IPv4-mapped
 *    (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, third word non-zero),
 *    translated (::ffff:0:a.b.c.d) and ISATAP (...:0:5efe:a.b.c.d,
 *    ...:200:5efe:a.b.c.d) addresses end in dotted decimal.
 *  - A leading "::" may be followed by at most six groups (Windows parses
 *    "::0:a:b:c:d:e:f" as ::a:b:c:d:e and stops before ":f").
 * Deviations, for malformed input only: the output address is written only
 * when the address part parsed (Windows leaves partial results), and forms
 * like "::0x88" stop at the 'x' with the group value 0 (Windows re-reads the
 * tail as an IPv4 number).
 */
#include "ke_internal.h"

#include <ip2string.h>

#include <stdio.h>
#include <string.h>

/* The parsers read either narrow or UTF-16 text through one accessor; a
 * wide character above 0x7F is simply "not part of an address". */
typedef struct ip_text {
    const char *a;
    const WCHAR *w;
} ip_text;

static ULONG ip_ch(const ip_text *t, size_t i)
{
    return t->a != NULL ? (unsigned char)t->a[i] : t->w[i];
}

static int ip_hex_value(ULONG c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

static BOOLEAN ip_is_digit(ULONG c)
{
    return c >= '0' && c <= '9';
}

static USHORT ip_htons(USHORT v)
{
    return (USHORT)((v >> 8) | (v << 8));
}

/* ===================================================================== */
/* IPv4 parsing                                                           */
/* ===================================================================== */

/* One dotted part, or a port number.  FALSE when no digit was read or the
 * value passes 32 bits; *pos is left where Windows leaves the terminator. */
static BOOLEAN ip4_component(const ip_text *t, size_t *pos, BOOLEAN strict, ULONG *value)
{
    size_t i = *pos;
    ULONG base = 10;

    if (ip_ch(t, i) == '.') {
        *pos = i + 1;
        return FALSE;
    }
    if (ip_ch(t, i) == '0') {
        ULONG next = ip_ch(t, i + 1);
        if (next == 'x' || next == 'X') {
            i += 2;
            base = 16;
        } else if (ip_is_digit(next)) {
            i += 1;
            base = 8;
        }
        if (base != 10 && strict) {
            *pos = i;
            return FALSE;
        }
    }
    ULONGLONG v = 0;
    BOOLEAN any = FALSE;
    for (;; i++) {
        int d = ip_hex_value(ip_ch(t, i));
        if (d < 0 || (ULONG)d >= base)
            break;
        v = v * base + (ULONG)d;
        if (v > 0xFFFFFFFFull) {
            *pos = i;
            return FALSE;
        }
        any = TRUE;
    }
    *pos = i;
    *value = (ULONG)v;
    return any;
}

static BOOLEAN ip4_parse(const ip_text *t, BOOLEAN strict, size_t *end, UCHAR out[4])
{
    ULONG part[4];
    int n = 0;
    size_t i = 0;

    for (;;) {
        if (!ip4_component(t, &i, strict, &part[n])) {
            *end = i;
            return FALSE;
        }
        n++;
        if (ip_ch(t, i) != '.')
            break;
        if (n == 4) {
            *end = i;
            return FALSE;
        }
        i++;
    }
    *end = i;
    if (strict && n < 4)
        return FALSE;

    ULONG addr;
    switch (n) {
    case 4:
        if (part[0] > 0xFF || part[1] > 0xFF || part[2] > 0xFF || part[3] > 0xFF)
            return FALSE;
        addr = (part[0] << 24) | (part[1] << 16) | (part[2] << 8) | part[3];
        break;
    case 3:
        if (part[0] > 0xFF || part[1] > 0xFF || part[2] > 0xFFFF)
            return FALSE;
        addr = (part[0] << 24) | (part[1] << 16) | part[2];
        break;
    case 2:
        if (part[0] > 0xFF || part[1] > 0xFFFFFF)
            return FALSE;
        addr = (part[0] << 24) | part[1];
        break;
    default:
        addr = part[0];
        break;
    }
    out[0] = (UCHAR)(addr >> 24);
    out[1] = (UCHAR)(addr >> 16);
    out[2] = (UCHAR)(addr >> 8);
    out[3] = (UCHAR)addr;
    return TRUE;
}

/* ":port" at *pos (the colon already consumed): 1..65535. */
static BOOLEAN ip_port(const ip_text *t, size_t *pos, USHORT *port)
{
    ULONG v = 0;
    if (!ip4_component(t, pos, FALSE, &v) || v == 0 || v > 0xFFFF)
        return FALSE;
    *port = (USHORT)v;
    return TRUE;
}

static NTSTATUS ip4_string_to_address(const ip_text *t, BOOLEAN strict, size_t *terminator, struct in_addr *addr)
{
    UCHAR b[4];
    size_t end = 0;
    BOOLEAN ok = ip4_parse(t, strict, &end, b);
    *terminator = end;
    if (!ok)
        return STATUS_INVALID_PARAMETER;
    memcpy(addr, b, sizeof b);
    return STATUS_SUCCESS;
}

static NTSTATUS ip4_string_to_address_ex(const ip_text *t, BOOLEAN strict, struct in_addr *addr, USHORT *port)
{
    UCHAR b[4];
    size_t i = 0;
    if (!ip4_parse(t, strict, &i, b))
        return STATUS_INVALID_PARAMETER;
    memcpy(addr, b, sizeof b); /* Windows stores the address before checking the rest */
    USHORT p = 0;
    if (ip_ch(t, i) == ':') {
        i++;
        if (!ip_port(t, &i, &p))
            return STATUS_INVALID_PARAMETER;
    }
    if (ip_ch(t, i) != 0)
        return STATUS_INVALID_PARAMETER;
    *port = ip_htons(p);
    return STATUS_SUCCESS;
}

NTSTATUS RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR *Terminator, struct in_addr *Addr)
{
    if (S == NULL || Addr == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {S, NULL};
    size_t end;
    NTSTATUS st = ip4_string_to_address(&t, Strict, &end, Addr);
    if (Terminator != NULL)
        *Terminator = S + end;
    return st;
}

NTSTATUS RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, LPCWSTR *Terminator, struct in_addr *Addr)
{
    if (S == NULL || Addr == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {NULL, S};
    size_t end;
    NTSTATUS st = ip4_string_to_address(&t, Strict, &end, Addr);
    if (Terminator != NULL)
        *Terminator = S + end;
    return st;
}

NTSTATUS RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict, struct in_addr *Address, PUSHORT Port)
{
    if (AddressString == NULL || Address == NULL || Port == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {AddressString, NULL};
    return ip4_string_to_address_ex(&t, Strict, Address, Port);
}

NTSTATUS RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict, struct in_addr *Address, PUSHORT Port)
{
    if (AddressString == NULL || Address == NULL || Port == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {NULL, AddressString};
    return ip4_string_to_address_ex(&t, Strict, Address, Port);
}

/* ===================================================================== */
/* IPv6 parsing                                                           */
/* ===================================================================== */

/* The dotted IPv4 tail of an IPv6 address: four decimal parts <= 255. */
static BOOLEAN ip6_dotted_tail(const ip_text *t, size_t i, size_t *end, UCHAR b[4])
{
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (ip_ch(t, i) != '.') {
                *end = i;
                return FALSE;
            }
            i++;
        }
        ULONG v = 0;
        size_t digits = 0;
        while (ip_is_digit(ip_ch(t, i))) {
            if (v <= 0xFFFF)
                v = v * 10 + (ip_ch(t, i) - '0');
            i++;
            digits++;
        }
        if (digits == 0 || v > 0xFF) {
            *end = i;
            return FALSE;
        }
        b[part] = (UCHAR)v;
    }
    *end = i;
    return TRUE;
}

/* Parses the address at t[start..]; *end receives the terminator index.
 * out receives the 16 bytes in network order on success only. */
static BOOLEAN ip6_parse(const ip_text *t, size_t start, size_t *end, struct in6_addr *out)
{
    USHORT w[8];
    int n = 0, gap = -1;
    BOOLEAN after_gap = FALSE;
    size_t i = start;

    if (ip_ch(t, i) == ':') {
        if (ip_ch(t, i + 1) != ':') {
            *end = i;
            return FALSE;
        }
        gap = 0;
        after_gap = TRUE;
        i += 2;
    }
    for (;;) {
        /* Groups that may still be written: a "::" stands for at least one
         * zero group, and Windows reserves two after a leading "::". */
        int limit = gap == 0 ? 6 : gap > 0 ? 7 : 8;
        if (n >= limit)
            break;

        size_t k = 0;
        BOOLEAN decimal = TRUE;
        while (ip_hex_value(ip_ch(t, i + k)) >= 0) {
            if (!ip_is_digit(ip_ch(t, i + k)))
                decimal = FALSE;
            k++;
        }
        if (k > 0 && decimal && ip_ch(t, i + k) == '.' && n + 2 <= limit) {
            UCHAR b[4];
            size_t e;
            if (!ip6_dotted_tail(t, i, &e, b)) {
                *end = e;
                return FALSE;
            }
            w[n++] = (USHORT)((b[0] << 8) | b[1]);
            w[n++] = (USHORT)((b[2] << 8) | b[3]);
            i = e;
            break; /* a dotted tail ends the address */
        }
        if (k == 0) {
            if (after_gap)
                break; /* "1::" ends after its "::" */
            *end = i;
            return FALSE;
        }
        if (k > 4) {
            *end = i + k;
            return FALSE;
        }
        ULONG v = 0;
        for (size_t d = 0; d < k; d++)
            v = (v << 4) | (ULONG)ip_hex_value(ip_ch(t, i + d));
        w[n++] = (USHORT)v;
        i += k;

        if (ip_ch(t, i) != ':' || n >= limit)
            break; /* the colon after a full address is not part of it */
        if (ip_ch(t, i + 1) == ':') {
            if (gap >= 0)
                break; /* a second "::" ends the address before it */
            gap = n;
            after_gap = TRUE;
            i += 2;
            continue;
        }
        after_gap = FALSE;
        i++;
    }
    *end = i;
    if (gap < 0 && n != 8)
        return FALSE;

    USHORT full[8];
    int zeros = 8 - n, j = 0;
    for (int k = 0; k < n; k++) {
        if (k == gap)
            for (int z = 0; z < zeros; z++)
                full[j++] = 0;
        full[j++] = w[k];
    }
    while (j < 8) /* gap at the end */
        full[j++] = 0;
    for (int k = 0; k < 8; k++) {
        out->u.Byte[2 * k] = (UCHAR)(full[k] >> 8);
        out->u.Byte[2 * k + 1] = (UCHAR)full[k];
    }
    return TRUE;
}

static NTSTATUS ip6_string_to_address_ex(const ip_text *t, struct in6_addr *addr, ULONG *scope_id, USHORT *port)
{
    size_t i = 0;
    BOOLEAN bracket = FALSE;
    if (ip_ch(t, 0) == '[') {
        bracket = TRUE;
        i = 1;
    }
    struct in6_addr a;
    size_t end;
    if (!ip6_parse(t, i, &end, &a))
        return STATUS_INVALID_PARAMETER;
    *addr = a; /* Windows stores the address before checking the rest */
    i = end;

    ULONG scope = 0;
    if (ip_ch(t, i) == '%') {
        ULONGLONG v = 0;
        size_t digits = 0;
        i++;
        while (ip_is_digit(ip_ch(t, i))) {
            v = v * 10 + (ip_ch(t, i) - '0');
            if (v > 0xFFFFFFFFull)
                return STATUS_INVALID_PARAMETER;
            i++;
            digits++;
        }
        if (digits == 0)
            return STATUS_INVALID_PARAMETER;
        scope = (ULONG)v;
    }
    USHORT p = 0;
    if (bracket) {
        if (ip_ch(t, i) != ']')
            return STATUS_INVALID_PARAMETER;
        i++;
        if (ip_ch(t, i) == ':') {
            i++;
            if (!ip_port(t, &i, &p))
                return STATUS_INVALID_PARAMETER;
        }
    }
    if (ip_ch(t, i) != 0)
        return STATUS_INVALID_PARAMETER;
    *scope_id = scope;
    *port = ip_htons(p);
    return STATUS_SUCCESS;
}

NTSTATUS RtlIpv6StringToAddressA(PCSTR S, PCSTR *Terminator, struct in6_addr *Addr)
{
    if (S == NULL || Addr == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {S, NULL};
    size_t end;
    BOOLEAN ok = ip6_parse(&t, 0, &end, Addr);
    if (Terminator != NULL)
        *Terminator = S + end;
    return ok ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NTSTATUS RtlIpv6StringToAddressW(PCWSTR S, PCWSTR *Terminator, struct in6_addr *Addr)
{
    if (S == NULL || Addr == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {NULL, S};
    size_t end;
    BOOLEAN ok = ip6_parse(&t, 0, &end, Addr);
    if (Terminator != NULL)
        *Terminator = S + end;
    return ok ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NTSTATUS RtlIpv6StringToAddressExA(PCSTR AddressString, struct in6_addr *Address, PULONG ScopeId, PUSHORT Port)
{
    if (AddressString == NULL || Address == NULL || ScopeId == NULL || Port == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {AddressString, NULL};
    return ip6_string_to_address_ex(&t, Address, ScopeId, Port);
}

NTSTATUS RtlIpv6StringToAddressExW(PCWSTR AddressString, struct in6_addr *Address, PULONG ScopeId, PUSHORT Port)
{
    if (AddressString == NULL || Address == NULL || ScopeId == NULL || Port == NULL)
        return STATUS_INVALID_PARAMETER;
    ip_text t = {NULL, AddressString};
    return ip6_string_to_address_ex(&t, Address, ScopeId, Port);
}

/* ===================================================================== */
/* Text forms                                                             */
/* ===================================================================== */

#define IP_TEXT_MAX 80 /* "[" 45 "%4294967295" "]:65535" NUL = 65 */

static size_t ip4_format(const struct in_addr *a, USHORT port, char *out)
{
    const UCHAR *b = (const UCHAR *)a; /* network order: b[0] is the first part */
    int n = snprintf(out, IP_TEXT_MAX, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    if (port != 0)
        n += snprintf(out + n, IP_TEXT_MAX - (size_t)n, ":%u", ip_htons(port));
    return (size_t)n;
}

/* Addresses printed with a dotted IPv4 tail (see the header comment). */
static BOOLEAN ip6_has_ipv4_tail(const USHORT v[8])
{
    if (v[5] == 0x5EFE && (v[4] | 0x0200) == 0x0200)
        return TRUE; /* ISATAP */
    if (v[0] != 0 || v[1] != 0 || v[2] != 0 || v[3] != 0 || v[6] == 0)
        return FALSE;
    if (v[4] == 0 && (v[5] == 0 || v[5] == 0xFFFF))
        return TRUE; /* compatible, mapped */
    return v[4] == 0xFFFF && v[5] == 0; /* translated */
}

static size_t ip6_format(const struct in6_addr *a, ULONG scope_id, USHORT port, char *out)
{
    USHORT v[8];
    for (int k = 0; k < 8; k++)
        v[k] = (USHORT)((a->u.Byte[2 * k] << 8) | a->u.Byte[2 * k + 1]);
    BOOLEAN tail = ip6_has_ipv4_tail(v);
    int words = tail ? 6 : 8;

    int best = -1, best_len = 1;
    for (int k = 0; k < words;) {
        if (v[k] != 0) {
            k++;
            continue;
        }
        int j = k;
        while (j < words && v[j] == 0)
            j++;
        if (j - k > best_len) {
            best = k;
            best_len = j - k;
        }
        k = j;
    }

    size_t n = 0;
    if (port != 0)
        out[n++] = '[';
    for (int k = 0; k < words; k++) {
        if (k == best) {
            out[n++] = ':';
            k += best_len - 1;
            if (k == words - 1)
                out[n++] = ':';
            continue;
        }
        if (k > 0)
            out[n++] = ':';
        n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "%x", v[k]);
    }
    if (tail) {
        if (out[n - 1] != ':')
            out[n++] = ':';
        n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "%u.%u.%u.%u", a->u.Byte[12], a->u.Byte[13], a->u.Byte[14],
                              a->u.Byte[15]);
    }
    if (scope_id != 0)
        n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "%%%u", scope_id);
    if (port != 0)
        n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "]:%u", ip_htons(port));
    out[n] = '\0';
    return n;
}

static void ip_widen(const char *text, size_t n, PWSTR out)
{
    for (size_t k = 0; k <= n; k++)
        out[k] = (WCHAR)(unsigned char)text[k];
}

/* Windows returns (PSTR)~0 for a NULL buffer (Wine's tests show it). */
#define IP_NO_BUFFER ((ULONG_PTR)~(ULONG_PTR)0)

PSTR RtlIpv4AddressToStringA(const struct in_addr *Addr, PSTR S)
{
    if (Addr == NULL)
        return NULL;
    if (S == NULL)
        return (PSTR)IP_NO_BUFFER;
    char text[IP_TEXT_MAX];
    size_t n = ip4_format(Addr, 0, text);
    memcpy(S, text, n + 1);
    return S + n;
}

PWSTR RtlIpv4AddressToStringW(const struct in_addr *Addr, PWSTR S)
{
    if (Addr == NULL)
        return NULL;
    if (S == NULL)
        return (PWSTR)IP_NO_BUFFER;
    char text[IP_TEXT_MAX];
    size_t n = ip4_format(Addr, 0, text);
    ip_widen(text, n, S);
    return S + n;
}

PSTR RtlIpv6AddressToStringA(const struct in6_addr *Addr, PSTR S)
{
    if (Addr == NULL)
        return NULL;
    if (S == NULL)
        return (PSTR)IP_NO_BUFFER;
    char text[IP_TEXT_MAX];
    size_t n = ip6_format(Addr, 0, 0, text);
    memcpy(S, text, n + 1);
    return S + n;
}

PWSTR RtlIpv6AddressToStringW(const struct in6_addr *Addr, PWSTR S)
{
    if (Addr == NULL)
        return NULL;
    if (S == NULL)
        return (PWSTR)IP_NO_BUFFER;
    char text[IP_TEXT_MAX];
    size_t n = ip6_format(Addr, 0, 0, text);
    ip_widen(text, n, S);
    return S + n;
}

/* Common tail of the Ex forms: *len is in characters including the NUL. */
static NTSTATUS ip_deliver(const char *text, size_t n, PSTR a, PWSTR w, PULONG len)
{
    ULONG need = (ULONG)n + 1;
    if (*len < need) {
        *len = need;
        return STATUS_INVALID_PARAMETER;
    }
    if (a != NULL)
        memcpy(a, text, n + 1);
    else
        ip_widen(text, n, w);
    *len = need;
    return STATUS_SUCCESS;
}

NTSTATUS RtlIpv4AddressToStringExA(const struct in_addr *Address, USHORT Port, PSTR AddressString,
                                   PULONG AddressStringLength)
{
    if (Address == NULL || AddressString == NULL || AddressStringLength == NULL)
        return STATUS_INVALID_PARAMETER;
    char text[IP_TEXT_MAX];
    size_t n = ip4_format(Address, Port, text);
    return ip_deliver(text, n, AddressString, NULL, AddressStringLength);
}

NTSTATUS RtlIpv4AddressToStringExW(const struct in_addr *Address, USHORT Port, PWSTR AddressString,
                                   PULONG AddressStringLength)
{
    if (Address == NULL || AddressString == NULL || AddressStringLength == NULL)
        return STATUS_INVALID_PARAMETER;
    char text[IP_TEXT_MAX];
    size_t n = ip4_format(Address, Port, text);
    return ip_deliver(text, n, NULL, AddressString, AddressStringLength);
}

NTSTATUS RtlIpv6AddressToStringExA(const struct in6_addr *Address, ULONG ScopeId, USHORT Port, PSTR AddressString,
                                   PULONG AddressStringLength)
{
    if (Address == NULL || AddressString == NULL || AddressStringLength == NULL)
        return STATUS_INVALID_PARAMETER;
    char text[IP_TEXT_MAX];
    size_t n = ip6_format(Address, ScopeId, Port, text);
    return ip_deliver(text, n, AddressString, NULL, AddressStringLength);
}

NTSTATUS RtlIpv6AddressToStringExW(const struct in6_addr *Address, ULONG ScopeId, USHORT Port, PWSTR AddressString,
                                   PULONG AddressStringLength)
{
    if (Address == NULL || AddressString == NULL || AddressStringLength == NULL)
        return STATUS_INVALID_PARAMETER;
    char text[IP_TEXT_MAX];
    size_t n = ip6_format(Address, ScopeId, Port, text);
    return ip_deliver(text, n, NULL, AddressString, AddressStringLength);
}
