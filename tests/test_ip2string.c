/*
 * test_ip2string.c - RtlIpv4/Ipv6 AddressToString(Ex) and
 * StringToAddress(Ex), A and W.  Expected results, terminators included,
 * are Windows' as recorded by Wine's conformance tests
 * (dlls/ntdll/tests/rtl.c), plus round trips.
 */
#include <ntddk.h>
#include <ip2string.h>
#include <openwsk_runtime.h>

#include "wt.h"

#define INET6_ADDRSTRLEN_WINDOWS 65

static void check_no_leak(void)
{
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
}

static USHORT net16(USHORT v)
{
    return (USHORT)((v >> 8) | (v << 8));
}

static struct in_addr make4(int a, int b, int c, int d)
{
    struct in_addr r;
    r.S_un.S_un_b.s_b1 = (UCHAR)a;
    r.S_un.S_un_b.s_b2 = (UCHAR)b;
    r.S_un.S_un_b.s_b3 = (UCHAR)c;
    r.S_un.S_un_b.s_b4 = (UCHAR)d;
    return r;
}

/* Words in host order, as written in the text form. */
static struct in6_addr make6(const USHORT w[8])
{
    struct in6_addr r;
    for (int i = 0; i < 8; i++) {
        r.u.Byte[2 * i] = (UCHAR)(w[i] >> 8);
        r.u.Byte[2 * i + 1] = (UCHAR)w[i];
    }
    return r;
}

static int wide_equals(const WCHAR *w, const char *a)
{
    size_t i = 0;
    for (; a[i] != '\0'; i++)
        if (w[i] != (unsigned char)a[i])
            return 0;
    return w[i] == 0;
}

/* ===================================================================== */
/* Address -> text                                                        */
/* ===================================================================== */

static void test_ipv4_to_string(void)
{
    char buf[32];
    struct in_addr a = make4(1, 2, 3, 4);
    memset(buf, '#', sizeof buf);
    PSTR end = RtlIpv4AddressToStringA(&a, buf);
    CHECK_STR(buf, "1.2.3.4");
    CHECK(end == buf + 7);
    a = make4(255, 255, 255, 255);
    RtlIpv4AddressToStringA(&a, buf);
    CHECK_STR(buf, "255.255.255.255");
    a = make4(0, 0, 0, 0);
    RtlIpv4AddressToStringA(&a, buf);
    CHECK_STR(buf, "0.0.0.0");
    CHECK(RtlIpv4AddressToStringA(&a, NULL) == (PSTR)~(ULONG_PTR)0); /* as Windows */

    WCHAR wbuf[32];
    a = make4(10, 0, 0, 1);
    PWSTR wend = RtlIpv4AddressToStringW(&a, wbuf);
    CHECK(wide_equals(wbuf, "10.0.0.1"));
    CHECK(wend == wbuf + 8);

    /* Ex: port in network order, length in characters with the NUL. */
    a = make4(1, 2, 3, 4);
    ULONG len = sizeof buf;
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, net16(80), buf, &len), STATUS_SUCCESS);
    CHECK_STR(buf, "1.2.3.4:80");
    CHECK_EQ(len, 11);
    len = 11;
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, net16(80), buf, &len), STATUS_SUCCESS);
    memset(buf, '#', sizeof buf);
    len = 10;
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, net16(80), buf, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(len, 11);
    CHECK_EQ(buf[0], '#');
    len = sizeof buf;
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, 0, buf, &len), STATUS_SUCCESS);
    CHECK_STR(buf, "1.2.3.4");
    CHECK_EQ(len, 8);
    len = sizeof wbuf / sizeof(WCHAR);
    CHECK_EQ(RtlIpv4AddressToStringExW(&a, net16(65535), wbuf, &len), STATUS_SUCCESS);
    CHECK(wide_equals(wbuf, "1.2.3.4:65535"));
    CHECK_EQ(len, 14);

    len = sizeof buf;
    CHECK_EQ(RtlIpv4AddressToStringExA(NULL, 0, buf, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, 0, NULL, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4AddressToStringExA(&a, 0, buf, NULL), STATUS_INVALID_PARAMETER);
}

static const struct {
    USHORT w[8];
    const char *text;
} ipv6_texts[] = {
    /* IPv4 tails: compatible, mapped, translated, ISATAP, and near misses */
    {{0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}, "::13.1.68.3"},
    {{0, 0, 0, 0, 0, 0xffff, 0x0d01, 0x4403}, "::ffff:13.1.68.3"},
    {{0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304}, "::ffff:1.2.3.4"},
    {{0, 0, 0, 0, 0, 0xfeff, 0x0d01, 0x4403}, "::feff:d01:4403"},
    {{0, 0, 0, 0, 0, 0xfffe, 0x0d01, 0x4403}, "::fffe:d01:4403"},
    {{0, 0, 0, 0, 0, 0x0100, 0x0d01, 0x4403}, "::100:d01:4403"},
    {{0, 0, 0, 0, 0, 0x0001, 0x0d01, 0x4403}, "::1:d01:4403"},
    {{0, 0, 0, 0, 0, 0xffff, 0, 0x4403}, "::ffff:0:4403"},
    {{0, 0, 0, 0, 0, 0xffff, 0x0d01, 0}, "::ffff:13.1.0.0"},
    {{0, 0, 0, 0, 0, 0xffff, 0, 0}, "::ffff:0:0"},
    {{0, 0, 0, 0, 0xffff, 0, 0x0d01, 0x4403}, "::ffff:0:13.1.68.3"},
    {{0, 0, 0, 0, 0xffff, 0xffff, 0x0d01, 0x4403}, "::ffff:ffff:d01:4403"},
    {{0, 0, 0, 0xffff, 0, 0, 0x0d01, 0x4403}, "::ffff:0:0:d01:4403"},
    {{0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff}, "::ffff:255.255.255.255"},
    {{0, 0, 0, 0, 0, 0x5efe, 0x8190, 0x3426}, "::5efe:129.144.52.38"},
    {{0x1111, 0x2222, 0x3333, 0x4444, 0, 0x5efe, 0x8190, 0x3426}, "1111:2222:3333:4444:0:5efe:129.144.52.38"},
    {{0x1111, 0x2222, 0x3333, 0, 0, 0x5efe, 0x8190, 0x3426}, "1111:2222:3333::5efe:129.144.52.38"},
    {{0x1111, 0, 0, 0, 0, 0x5efe, 0x8190, 0x3426}, "1111::5efe:129.144.52.38"},
    {{0, 0, 0, 0, 0x0200, 0x5efe, 0x8190, 0x3426}, "::200:5efe:129.144.52.38"},
    {{0, 0, 0, 0, 0x0100, 0x5efe, 0x8190, 0x3426}, "::100:5efe:8190:3426"},
    {{0, 0, 0, 0, 0, 0, 0x7b7b, 0x7b7b}, "::123.123.123.123"},
    /* plain */
    {{0, 0, 0, 0, 0, 0, 0, 0}, "::"},
    {{0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
    {{1, 0, 0, 0, 0, 0, 0, 0}, "1::"},
    {{0xfe80, 0, 0, 0, 0, 0, 0, 1}, "fe80::1"},
    {{0, 1, 2, 3, 4, 5, 6, 7}, "0:1:2:3:4:5:6:7"},
    {{0x1080, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}, "1080::8:800:200c:417a"},
    {{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0, 0x8888}, "1111:2222:3333:4444:5555:6666:0:8888"},
    {{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0, 0}, "1111:2222:3333:4444:5555:6666::"},
    {{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0, 0x7b7b, 0x7b7b}, "1111:2222:3333:4444:5555:0:7b7b:7b7b"},
    {{0x1111, 0, 0, 0x4444, 0x5555, 0x6666, 0x7b7b, 0x7b7b}, "1111::4444:5555:6666:7b7b:7b7b"},
    {{0x1111, 0, 0, 0, 0, 0, 0x7777, 0x8888}, "1111::7777:8888"},
    {{0x2001, 0, 0x1234, 0, 0, 0xc1c0, 0xabcd, 0x0876}, "2001:0:1234::c1c0:abcd:876"},
    {{0x2001, 0xdb8, 0, 0, 0, 0, 0x1428, 0x57ab}, "2001:db8::1428:57ab"},
    {{0x2001, 0xdb8, 0x85a3, 0, 0, 0x8a2e, 0x370, 0x7334}, "2001:db8:85a3::8a2e:370:7334"},
    {{0x3ffe, 0x0b00, 0, 0, 1, 0, 0, 0xa}, "3ffe:b00::1:0:0:a"}, /* first of equal runs */
    {{0, 0, 0, 0xa, 0xb, 0xc, 0xd, 0xe}, "::a:b:c:d:e"},
    {{0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
};

static void test_ipv6_to_string(void)
{
    char buf[64];
    WCHAR wbuf[64];
    for (size_t i = 0; i < ARRAYSIZE(ipv6_texts); i++) {
        struct in6_addr a = make6(ipv6_texts[i].w);
        memset(buf, '#', sizeof buf);
        PSTR end = RtlIpv6AddressToStringA(&a, buf);
        CHECK_STR(buf, ipv6_texts[i].text);
        CHECK(end == buf + strlen(ipv6_texts[i].text));
        PWSTR wend = RtlIpv6AddressToStringW(&a, wbuf);
        CHECK(wide_equals(wbuf, ipv6_texts[i].text));
        CHECK(wend == wbuf + strlen(ipv6_texts[i].text));
    }
    struct in6_addr z = make6((const USHORT[8]){0});
    CHECK(RtlIpv6AddressToStringA(&z, NULL) == (PSTR)~(ULONG_PTR)0);
}

static void test_ipv6_to_string_ex(void)
{
    static const struct {
        USHORT w[8];
        ULONG scope;
        USHORT port; /* host order */
        const char *text;
    } cases[] = {
        {{0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}, 1, 0, "::13.1.68.3%1"},
        {{0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}, 0xffffbbbb, 65518, "[::13.1.68.3%4294949819]:65518"},
        {{0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}, 0, 256, "[::13.1.68.3]:256"},
        {{0, 0, 0, 0, 0, 1, 0x0d01, 0x4403}, 0xffffbbbb, 1, "[::1:d01:4403%4294949819]:1"},
        {{0x1111, 0x2222, 0x3333, 0x4444, 0, 0x5efe, 0x8190, 0x3426}, 0xffffbbbb, 65518,
         "[1111:2222:3333:4444:0:5efe:129.144.52.38%4294949819]:65518"},
        {{0, 0, 0, 0, 0, 0, 0, 1}, 0, 0, "::1"},
        {{0, 0, 0, 0, 0, 0, 0, 1}, 0, 80, "[::1]:80"},
        {{0xfe80, 0, 0, 0, 0, 0, 0, 1}, 4, 0, "fe80::1%4"},
        {{0x1111, 0, 0, 0, 0, 0, 0, 0}, 1, 0, "1111::%1"},
        {{0x2001, 0, 0, 0, 0, 0, 0, 0xffd3}, 0, 256, "[2001::ffd3]:256"},
    };
    char buf[80];
    WCHAR wbuf[80];
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        struct in6_addr a = make6(cases[i].w);
        ULONG len = sizeof buf;
        CHECK_EQ(RtlIpv6AddressToStringExA(&a, cases[i].scope, net16(cases[i].port), buf, &len), STATUS_SUCCESS);
        CHECK_STR(buf, cases[i].text);
        CHECK_EQ(len, strlen(cases[i].text) + 1);
        len = ARRAYSIZE(wbuf);
        CHECK_EQ(RtlIpv6AddressToStringExW(&a, cases[i].scope, net16(cases[i].port), wbuf, &len), STATUS_SUCCESS);
        CHECK(wide_equals(wbuf, cases[i].text));
        CHECK_EQ(len, strlen(cases[i].text) + 1);
    }
    /* The longest form (ISATAP with a dotted tail) fits INET6_ADDRSTRLEN. */
    USHORT full[8] = {0xffff, 0xffff, 0xffff, 0xffff, 0x200, 0x5efe, 0xffff, 0xffff};
    struct in6_addr a = make6(full);
    ULONG len = sizeof buf;
    CHECK_EQ(RtlIpv6AddressToStringExA(&a, 0xffffffffu, net16(65535), buf, &len), STATUS_SUCCESS);
    CHECK_STR(buf, "[ffff:ffff:ffff:ffff:200:5efe:255.255.255.255%4294967295]:65535");
    CHECK_EQ(len, 64);
    CHECK(len <= INET6_ADDRSTRLEN_WINDOWS);

    /* Too small: length needed, buffer untouched. */
    struct in6_addr z = make6((const USHORT[8]){0});
    memset(buf, '#', sizeof buf);
    len = 2;
    CHECK_EQ(RtlIpv6AddressToStringExA(&z, 0, 0, buf, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(len, 3);
    CHECK_EQ(buf[0], '#');
    len = 3;
    CHECK_EQ(RtlIpv6AddressToStringExA(&z, 0, 0, buf, &len), STATUS_SUCCESS);
    CHECK_STR(buf, "::");
    CHECK_EQ(RtlIpv6AddressToStringExA(NULL, 0, 0, buf, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6AddressToStringExA(&z, 0, 0, NULL, &len), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6AddressToStringExA(&z, 0, 0, buf, NULL), STATUS_INVALID_PARAMETER);
}

/* ===================================================================== */
/* Text -> IPv4                                                           */
/* ===================================================================== */

#define NO_IP {-1, 0, 0, 0}

#define UNTOUCHED 0xabababab

typedef struct {
    const char *text;
    NTSTATUS st;
    int term;
    int ip[4];
    BOOLEAN strict_differs;
    NTSTATUS st_strict;
    int term_strict;
    int ip_strict[4];
    BOOLEAN ex_fails; /* the Ex form wants the whole string */
} ipv4_case;

static const ipv4_case ipv4_cases[] = {
    {"", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {" ", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"1.1.1.1", STATUS_SUCCESS, 7, {1, 1, 1, 1}},
    {"0.0.0.0", STATUS_SUCCESS, 7, {0, 0, 0, 0}},
    {"255.255.255.255", STATUS_SUCCESS, 15, {255, 255, 255, 255}},
    {"255.255.255.255:123", STATUS_SUCCESS, 15, {255, 255, 255, 255}},
    {"255.255.255.256", STATUS_INVALID_PARAMETER, 15, NO_IP},
    {"255.255.255.4294967295", STATUS_INVALID_PARAMETER, 22, NO_IP},
    {"255.255.255.4294967296", STATUS_INVALID_PARAMETER, 21, NO_IP},
    {"255.255.255.4294967297", STATUS_INVALID_PARAMETER, 21, NO_IP},
    {"a", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"1.1.1.0xaA", STATUS_SUCCESS, 10, {1, 1, 1, 170}, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0XaA", STATUS_SUCCESS, 10, {1, 1, 1, 170}, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0x", STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0xff", STATUS_SUCCESS, 10, {1, 1, 1, 255}, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0x100", STATUS_INVALID_PARAMETER, 11, NO_IP, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0xffffffff", STATUS_INVALID_PARAMETER, 16, NO_IP, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.0x100000000", STATUS_INVALID_PARAMETER, 16, NO_IP, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"1.1.1.010", STATUS_SUCCESS, 9, {1, 1, 1, 8}, TRUE, STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"1.1.1.00", STATUS_SUCCESS, 8, {1, 1, 1, 0}, TRUE, STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"1.1.1.007", STATUS_SUCCESS, 9, {1, 1, 1, 7}, TRUE, STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"1.1.1.08", STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"1.1.1.008", STATUS_SUCCESS, 8, {1, 1, 1, 0}, TRUE, STATUS_INVALID_PARAMETER, 7, NO_IP, TRUE},
    {"1.1.1.0a", STATUS_SUCCESS, 7, {1, 1, 1, 0}, FALSE, 0, 0, NO_IP, TRUE},
    {"1.1.1.0o10", STATUS_SUCCESS, 7, {1, 1, 1, 0}, FALSE, 0, 0, NO_IP, TRUE},
    {"1.1.1.0b10", STATUS_SUCCESS, 7, {1, 1, 1, 0}, FALSE, 0, 0, NO_IP, TRUE},
    {"1.1.1.-2", STATUS_INVALID_PARAMETER, 6, NO_IP},
    {"1", STATUS_SUCCESS, 1, {0, 0, 0, 1}, TRUE, STATUS_INVALID_PARAMETER, 1, NO_IP},
    {"-1", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"203569230", STATUS_SUCCESS, 9, {12, 34, 56, 78}, TRUE, STATUS_INVALID_PARAMETER, 9, NO_IP},
    {"1.223756", STATUS_SUCCESS, 8, {1, 3, 106, 12}, TRUE, STATUS_INVALID_PARAMETER, 8, NO_IP},
    {"3.4.756", STATUS_SUCCESS, 7, {3, 4, 2, 244}, TRUE, STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"127.1", STATUS_SUCCESS, 5, {127, 0, 0, 1}, TRUE, STATUS_INVALID_PARAMETER, 5, NO_IP},
    {"3.4.756.1", STATUS_INVALID_PARAMETER, 9, NO_IP},
    {"3.4.65536", STATUS_INVALID_PARAMETER, 9, NO_IP},
    {"3.4.5.6.7", STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"3.4.5.+6", STATUS_INVALID_PARAMETER, 6, NO_IP},
    {" 3.4.5.6", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"\t3.4.5.6", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"3.4.5.6 ", STATUS_SUCCESS, 7, {3, 4, 5, 6}, FALSE, 0, 0, NO_IP, TRUE},
    {"3. 4.5.6", STATUS_INVALID_PARAMETER, 2, NO_IP},
    {".", STATUS_INVALID_PARAMETER, 1, NO_IP},
    {"..", STATUS_INVALID_PARAMETER, 1, NO_IP},
    {"1.", STATUS_INVALID_PARAMETER, 2, NO_IP},
    {"1..", STATUS_INVALID_PARAMETER, 3, NO_IP},
    {".1", STATUS_INVALID_PARAMETER, 1, NO_IP},
    {".1.", STATUS_INVALID_PARAMETER, 1, NO_IP},
    {".1.2.3", STATUS_INVALID_PARAMETER, 1, NO_IP},
    {"0.1.2.3", STATUS_SUCCESS, 7, {0, 1, 2, 3}},
    {"0.1.2.3.", STATUS_INVALID_PARAMETER, 7, NO_IP},
    {"[0.1.2.3]", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {"::1", STATUS_INVALID_PARAMETER, 0, NO_IP},
    {":1", STATUS_INVALID_PARAMETER, 0, NO_IP},
};

static ULONG ip_value(const int ip[4])
{
    if (ip[0] == -1)
        return UNTOUCHED;
    return make4(ip[0], ip[1], ip[2], ip[3]).S_un.S_addr;
}

static void test_ipv4_from_string(void)
{
    for (size_t i = 0; i < ARRAYSIZE(ipv4_cases); i++) {
        const ipv4_case *c = &ipv4_cases[i];
        for (int strict = 0; strict < 2; strict++) {
            BOOLEAN diff = strict && c->strict_differs;
            NTSTATUS want_st = diff ? c->st_strict : c->st;
            int want_term = diff ? c->term_strict : c->term;
            ULONG want_ip = ip_value(diff ? c->ip_strict : c->ip);

            struct in_addr a;
            a.S_un.S_addr = UNTOUCHED;
            PCSTR term = NULL;
            NTSTATUS st = RtlIpv4StringToAddressA(c->text, (BOOLEAN)strict, &term, &a);
            if (st != want_st || term != c->text + want_term || a.S_un.S_addr != want_ip)
                WT_FAIL("RtlIpv4StringToAddressA(\"%s\", strict %d): 0x%x term %d ip %08x; expected 0x%x %d %08x",
                        c->text, strict, (unsigned)st, (int)(term - c->text), a.S_un.S_addr, (unsigned)want_st,
                        want_term, want_ip);

            /* The W form agrees, terminator included. */
            WCHAR w[40];
            size_t n = strlen(c->text);
            for (size_t k = 0; k <= n; k++)
                w[k] = (unsigned char)c->text[k];
            a.S_un.S_addr = UNTOUCHED;
            LPCWSTR wterm = NULL;
            st = RtlIpv4StringToAddressW(w, (BOOLEAN)strict, &wterm, &a);
            if (st != want_st || wterm != w + want_term || a.S_un.S_addr != want_ip)
                WT_FAIL("RtlIpv4StringToAddressW(\"%s\", strict %d) differs", c->text, strict);

            /* Ex: the whole string must be used; no port here except 123. */
            NTSTATUS want_ex = c->ex_fails ? STATUS_INVALID_PARAMETER : want_st;
            USHORT port = 0xdead;
            a.S_un.S_addr = UNTOUCHED;
            st = RtlIpv4StringToAddressExA(c->text, (BOOLEAN)strict, &a, &port);
            if (st != want_ex || a.S_un.S_addr != want_ip)
                WT_FAIL("RtlIpv4StringToAddressExA(\"%s\", strict %d): 0x%x ip %08x", c->text, strict,
                        (unsigned)st, a.S_un.S_addr);
            if (st == STATUS_SUCCESS)
                CHECK_EQ(port, strcmp(c->text, "255.255.255.255:123") == 0 ? net16(123) : 0);
            else
                CHECK_EQ(port, 0xdead);
        }
    }

    struct in_addr a;
    PCSTR term;
    CHECK_EQ(RtlIpv4StringToAddressA(NULL, FALSE, &term, &a), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4StringToAddressA("1.2.3.4", FALSE, &term, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4StringToAddressA("1.2.3.4", TRUE, NULL, &a), STATUS_SUCCESS); /* tolerated */
    CHECK_EQ(a.S_un.S_addr, make4(1, 2, 3, 4).S_un.S_addr);
    /* A non-ASCII wide character simply ends the address. */
    LPCWSTR wterm;
    static const WCHAR arabic_one[] = {'1', '.', '2', '.', '3', '.', '4', 0x0661, 0};
    CHECK_EQ(RtlIpv4StringToAddressW(arabic_one, TRUE, &wterm, &a), STATUS_SUCCESS);
    CHECK(wterm == arabic_one + 7);
}

static void test_ipv4_from_string_ex(void)
{
    static const struct {
        const char *text;
        NTSTATUS st;
        int ip[4];
        int port; /* host order, -1 = untouched */
    } cases[] = {
        {"1.1.1.1:", STATUS_INVALID_PARAMETER, {1, 1, 1, 1}, -1},
        {"1.1.1.1+", STATUS_INVALID_PARAMETER, {1, 1, 1, 1}, -1},
        {"1.1.1.1:1", STATUS_SUCCESS, {1, 1, 1, 1}, 1},
        {"256.1.1.1:1", STATUS_INVALID_PARAMETER, NO_IP, -1},
        {"-1.1.1.1:1", STATUS_INVALID_PARAMETER, NO_IP, -1},
        {"0.0.0.0:0", STATUS_INVALID_PARAMETER, {0, 0, 0, 0}, -1},
        {"0.0.0.0:1", STATUS_SUCCESS, {0, 0, 0, 0}, 1},
        {"1.2.3.4:65535", STATUS_SUCCESS, {1, 2, 3, 4}, 65535},
        {"1.2.3.4:65536", STATUS_INVALID_PARAMETER, {1, 2, 3, 4}, -1},
        {"1.2.3.4:0xffff", STATUS_SUCCESS, {1, 2, 3, 4}, 65535},
        {"1.2.3.4:0XfFfF", STATUS_SUCCESS, {1, 2, 3, 4}, 65535},
        {"1.2.3.4:011064", STATUS_SUCCESS, {1, 2, 3, 4}, 0x1234},
        {"1.2.3.4:1234a", STATUS_INVALID_PARAMETER, {1, 2, 3, 4}, -1},
        {"1.2.3.4:1234+", STATUS_INVALID_PARAMETER, {1, 2, 3, 4}, -1},
        {"1.2.3.4: 1234", STATUS_INVALID_PARAMETER, {1, 2, 3, 4}, -1},
        {"1.2.3.4:\t1234", STATUS_INVALID_PARAMETER, {1, 2, 3, 4}, -1},
        {"127.1:8080", STATUS_SUCCESS, {127, 0, 0, 1}, 8080},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        /* Strict only concerns the address part. */
        for (int strict = 0; strict < 2; strict++) {
            if (strict && strcmp(cases[i].text, "127.1:8080") == 0)
                continue;
            struct in_addr a;
            a.S_un.S_addr = UNTOUCHED;
            USHORT port = 0xdead;
            NTSTATUS st = RtlIpv4StringToAddressExA(cases[i].text, (BOOLEAN)strict, &a, &port);
            USHORT want_port = cases[i].port < 0 ? 0xdead : net16((USHORT)cases[i].port);
            if (st != cases[i].st || a.S_un.S_addr != ip_value(cases[i].ip) || port != want_port)
                WT_FAIL("RtlIpv4StringToAddressExA(\"%s\", %d): 0x%x ip %08x port %04x", cases[i].text, strict,
                        (unsigned)st, a.S_un.S_addr, port);
        }
    }
    struct in_addr a;
    a.S_un.S_addr = UNTOUCHED;
    USHORT port = 0xdead;
    CHECK_EQ(RtlIpv4StringToAddressExA(NULL, FALSE, &a, &port), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4StringToAddressExA("1.1.1.1", FALSE, NULL, &port), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv4StringToAddressExA("1.1.1.1", FALSE, &a, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(a.S_un.S_addr, UNTOUCHED);
    CHECK_EQ(port, 0xdead);
    CHECK_EQ(RtlIpv4StringToAddressExW(L"10.0.0.1:443", TRUE, &a, &port), STATUS_SUCCESS);
    CHECK_EQ(a.S_un.S_addr, make4(10, 0, 0, 1).S_un.S_addr);
    CHECK_EQ(port, net16(443));
}

/* ===================================================================== */
/* Text -> IPv6                                                           */
/* ===================================================================== */

#define W6_NONE {0xabab, 0xabab, 0xabab, 0xabab, 0xabab, 0xabab, 0xabab, 0xabab}

static const struct {
    const char *text;
    NTSTATUS st;
    int term; /* -1: not compared (Windows leaves it unset) */
    USHORT w[8];
    BOOLEAN check_value;
    BOOLEAN ex_fails;
} ipv6_cases[] = {
    {"0000:0000:0000:0000:0000:0000:0000:0000", STATUS_SUCCESS, 39, {0}, TRUE},
    {"0000:0000:0000:0000:0000:0000:0000:0001", STATUS_SUCCESS, 39, {0, 0, 0, 0, 0, 0, 0, 1}, TRUE},
    {"0:0:0:0:0:0:13.1.68.3", STATUS_SUCCESS, 21, {0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}, TRUE},
    {"0:0:0:0:0:FFFF:129.144.52.38", STATUS_SUCCESS, 28, {0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426}, TRUE},
    {"::ffff:1.2.3.4", STATUS_SUCCESS, 14, {0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304}, TRUE},
    {"::1", STATUS_SUCCESS, 3, {0, 0, 0, 0, 0, 0, 0, 1}, TRUE},
    {"1::", STATUS_SUCCESS, 3, {1, 0, 0, 0, 0, 0, 0, 0}, TRUE},
    {"0::", STATUS_SUCCESS, 3, {0}, TRUE},
    {"fe80::1", STATUS_SUCCESS, 7, {0xfe80, 0, 0, 0, 0, 0, 0, 1}, TRUE},
    {"1080:0:0:0:8:800:200c:417a", STATUS_SUCCESS, 26, {0x1080, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}, TRUE},
    {"1111:2222:3333:4444:5555:6666:123.123.123.123", STATUS_SUCCESS, 45,
     {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7b7b, 0x7b7b}, TRUE},
    {"1111:2222:3333:4444:5555:6666::", STATUS_SUCCESS, 31, {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0, 0},
     TRUE},
    {"1111:2222:3333:4444:5555:6666::8888", STATUS_SUCCESS, 35,
     {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0, 0x8888}, TRUE},
    {"1111::123.123.123.123", STATUS_SUCCESS, 21, {0x1111, 0, 0, 0, 0, 0, 0x7b7b, 0x7b7b}, TRUE},
    {"1111::3333:4444:5555:6666:7777:8888", STATUS_SUCCESS, 35,
     {0x1111, 0, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 0x8888}, TRUE},
    {"1:2:3:4:5:6:1.2.3.4", STATUS_SUCCESS, 19, {1, 2, 3, 4, 5, 6, 0x0102, 0x0304}, TRUE},
    {"2001:0000:1234:0000:0000:C1C0:ABCD:0876", STATUS_SUCCESS, 39,
     {0x2001, 0, 0x1234, 0, 0, 0xc1c0, 0xabcd, 0x0876}, TRUE},
    {"2001:db8:85a3::8a2e:370:7334", STATUS_SUCCESS, 28, {0x2001, 0xdb8, 0x85a3, 0, 0, 0x8a2e, 0x370, 0x7334},
     TRUE},
    {"::", STATUS_SUCCESS, 2, {0}, TRUE},
    {"::%16", STATUS_SUCCESS, 2, {0}, TRUE},
    {"::/16", STATUS_SUCCESS, 2, {0}, TRUE, TRUE},
    {"::0:0:0:0:0:0", STATUS_SUCCESS, 13, {0}, TRUE},
    /* Windows' quirk: at most six groups after a leading "::" */
    {"::0:0:0:0:0:0:0", STATUS_SUCCESS, 13, {0}, TRUE, TRUE},
    {"::0:a:b:c:d:e:f", STATUS_SUCCESS, 13, {0, 0, 0, 0xa, 0xb, 0xc, 0xd, 0xe}, TRUE, TRUE},
    {"::123.123.123.123", STATUS_SUCCESS, 17, {0, 0, 0, 0, 0, 0, 0x7b7b, 0x7b7b}, TRUE},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", STATUS_SUCCESS, 39,
     {0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}, TRUE},
    /* the address ends early but is complete */
    {"1111:2222:3333:4444:5555:6666:7777:1.2.3.4", STATUS_SUCCESS, 36,
     {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 1}, TRUE, TRUE},
    {"1111:2222:3333:4444:5555:6666:7777:8888:", STATUS_SUCCESS, 39,
     {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 0x8888}, TRUE, TRUE},
    {"1111:2222:3333:4444:5555:6666:7777:8888:9999", STATUS_SUCCESS, 39,
     {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 0x8888}, TRUE, TRUE},
    {"1111:2222:::", STATUS_SUCCESS, 11, {0x1111, 0x2222, 0, 0, 0, 0, 0, 0}, TRUE, TRUE},
    {"1111::3333:4444:5555:6666:7777::", STATUS_SUCCESS, 30,
     {0x1111, 0, 0, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777}, TRUE, TRUE},
    {"1111:2222:::4444:5555:6666:1.2.3.4", STATUS_SUCCESS, 11, {0x1111, 0x2222, 0, 0, 0, 0, 0, 0}, TRUE, TRUE},
    {"1111::3333::5555:6666:1.2.3.4", STATUS_SUCCESS, 10, {0x1111, 0, 0, 0, 0, 0, 0, 0x3333}, TRUE, TRUE},
    {"1::1.2.3.4", STATUS_SUCCESS, 10, {1, 0, 0, 0, 0, 0, 0x0102, 0x0304}, TRUE},
    {"1::1.2.3.4::1", STATUS_SUCCESS, 10, {1, 0, 0, 0, 0, 0, 0x0102, 0x0304}, TRUE, TRUE},
    {"1::2::3", STATUS_SUCCESS, 4, {1, 0, 0, 0, 0, 0, 0, 2}, TRUE, TRUE},
    {"2001::FFD3::57ab", STATUS_SUCCESS, 10, {0x2001, 0, 0, 0, 0, 0, 0, 0xffd3}, TRUE, TRUE},
    {"2001:0000:1234:0000:0000:C1C0:ABCD:0876  0", STATUS_SUCCESS, 39,
     {0x2001, 0, 0x1234, 0, 0, 0xc1c0, 0xabcd, 0x0876}, TRUE, TRUE},
    {"::-1", STATUS_SUCCESS, 2, {0}, TRUE, TRUE},
    {"::.", STATUS_SUCCESS, 2, {0}, TRUE, TRUE},
    {"::...", STATUS_SUCCESS, 2, {0}, TRUE, TRUE},
    /* Windows re-reads "0x88" as an IPv4 number; only status and
     * terminator are compared here. */
    {"1111:2222:3333:4444:5555::0x88", STATUS_SUCCESS, 27, {0}, FALSE, TRUE},
    /* malformed */
    {"':10.0.0.1", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {"-1", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {"", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {"02001:0000:1234:0000:0000:C1C0:ABCD:0876", STATUS_INVALID_PARAMETER, -1, W6_NONE, TRUE},
    {"2001:00000:1234:0000:0000:C1C0:ABCD:0876", STATUS_INVALID_PARAMETER, -1, W6_NONE, TRUE},
    {"1111:2222:3333:4444:0x5555:6666:7777:8888", STATUS_INVALID_PARAMETER, 21, W6_NONE, TRUE},
    {"1111:2222:3333:4444:x555:6666:7777:8888", STATUS_INVALID_PARAMETER, 20, W6_NONE, TRUE},
    {"1111:2222:3333:4444:5555::08888", STATUS_INVALID_PARAMETER, 31, W6_NONE, TRUE},
    {"1111:2222:3333:4444:5555::fffff", STATUS_INVALID_PARAMETER, 31, W6_NONE, TRUE},
    {"1111:2222:3333::fffff", STATUS_INVALID_PARAMETER, 21, W6_NONE, TRUE},
    {"1.2.3.4", STATUS_INVALID_PARAMETER, 7, W6_NONE, TRUE},
    {"1.2.3.4:1111::5555", STATUS_INVALID_PARAMETER, 7, W6_NONE, TRUE},
    {"1.2.3.4::5555", STATUS_INVALID_PARAMETER, 7, W6_NONE, TRUE},
    {"11112222:3333:4444:5555:6666:7777:8888", STATUS_INVALID_PARAMETER, -1, W6_NONE, TRUE},
    {"1111", STATUS_INVALID_PARAMETER, 4, W6_NONE, TRUE},
    {"1111:2222:", STATUS_INVALID_PARAMETER, 10, W6_NONE, TRUE},
    {"1111:2222:1.2.3.4", STATUS_INVALID_PARAMETER, 17, W6_NONE, TRUE},
    {"1111:2222:3333", STATUS_INVALID_PARAMETER, 14, W6_NONE, TRUE},
    {"1111::5555:", STATUS_INVALID_PARAMETER, 11, W6_NONE, TRUE},
    {"12345::6:7:8", STATUS_INVALID_PARAMETER, -1, W6_NONE, TRUE},
    {"1::1.2.256.4", STATUS_INVALID_PARAMETER, -1, W6_NONE, TRUE},
    {"1::1.2.3.256", STATUS_INVALID_PARAMETER, 12, W6_NONE, TRUE},
    {"1::1.2.3.300", STATUS_INVALID_PARAMETER, 12, W6_NONE, TRUE},
    {"1::1.2::1", STATUS_INVALID_PARAMETER, 6, W6_NONE, TRUE},
    {"1::1.", STATUS_INVALID_PARAMETER, 5, W6_NONE, TRUE},
    {"1::1.2", STATUS_INVALID_PARAMETER, 6, W6_NONE, TRUE},
    {"1::1.2.", STATUS_INVALID_PARAMETER, 7, W6_NONE, TRUE},
    {"1::1.2.3", STATUS_INVALID_PARAMETER, 8, W6_NONE, TRUE},
    {"1::1.2.3.", STATUS_INVALID_PARAMETER, 9, W6_NONE, TRUE},
    {"1::1.2.3.900", STATUS_INVALID_PARAMETER, 12, W6_NONE, TRUE},
    {"2001:0000:1234: 0000:0000:C1C0:ABCD:0876", STATUS_INVALID_PARAMETER, 15, W6_NONE, TRUE},
    {"2001:1:1:1:1:1:255Z255X255Y255", STATUS_INVALID_PARAMETER, 18, W6_NONE, TRUE},
    {":", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {":1111:2222:3333:4444:5555:6666:1.2.3.4", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {":1111::", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {"XXXX:XXXX:XXXX:XXXX:XXXX:XXXX:1.2.3.4", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
    {"[::]", STATUS_INVALID_PARAMETER, 0, W6_NONE, TRUE},
};

static struct in6_addr untouched6(void)
{
    struct in6_addr a;
    memset(&a, 0xab, sizeof a);
    return a;
}

static void test_ipv6_from_string(void)
{
    for (size_t i = 0; i < ARRAYSIZE(ipv6_cases); i++) {
        const char *text = ipv6_cases[i].text;
        struct in6_addr want = make6(ipv6_cases[i].w);
        struct in6_addr a = untouched6();
        PCSTR term = NULL;
        NTSTATUS st = RtlIpv6StringToAddressA(text, &term, &a);
        BOOLEAN bad = st != ipv6_cases[i].st;
        if (ipv6_cases[i].term >= 0 && term != text + ipv6_cases[i].term)
            bad = TRUE;
        if (ipv6_cases[i].check_value && memcmp(&a, &want, sizeof a) != 0)
            bad = TRUE;
        if (bad)
            WT_FAIL("RtlIpv6StringToAddressA(\"%s\"): 0x%x term %d", text, (unsigned)st,
                    term ? (int)(term - text) : -99);

        WCHAR w[64];
        size_t n = strlen(text);
        for (size_t k = 0; k <= n; k++)
            w[k] = (unsigned char)text[k];
        struct in6_addr aw = untouched6();
        PCWSTR wterm = NULL;
        NTSTATUS stw = RtlIpv6StringToAddressW(w, &wterm, &aw);
        if (stw != st || wterm - w != term - text || memcmp(&a, &aw, sizeof a) != 0)
            WT_FAIL("RtlIpv6StringToAddressW(\"%s\") differs from A", text);

        /* Ex: whole string; on failure scope and port stay untouched.
         * "[...]" is a non-Ex failure but valid Ex syntax (tested below). */
        if (text[0] == '[')
            continue;
        NTSTATUS want_ex = ipv6_cases[i].ex_fails ? STATUS_INVALID_PARAMETER : ipv6_cases[i].st;
        ULONG scope = 0xbadf00d;
        USHORT port = 0xbeef;
        a = untouched6();
        st = RtlIpv6StringToAddressExA(text, &a, &scope, &port);
        if (st != want_ex)
            WT_FAIL("RtlIpv6StringToAddressExA(\"%s\"): 0x%x", text, (unsigned)st);
        if (st == STATUS_SUCCESS) {
            CHECK_EQ(scope, strcmp(text, "::%16") == 0 ? 16 : 0);
            CHECK_EQ(port, 0);
            if (ipv6_cases[i].check_value)
                CHECK_MEM(&a, &want, sizeof a);
        } else {
            CHECK_EQ(scope, 0xbadf00d);
            CHECK_EQ(port, 0xbeef);
        }
    }

    struct in6_addr a;
    PCSTR term;
    CHECK_EQ(RtlIpv6StringToAddressA(NULL, &term, &a), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6StringToAddressA("::", &term, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6StringToAddressA("::1", NULL, &a), STATUS_SUCCESS);

    /* The terminator of "fe80::1%4" is the '%'. */
    CHECK_EQ(RtlIpv6StringToAddressA("fe80::1%4", &term, &a), STATUS_SUCCESS);
    CHECK_EQ(*term, '%');
}

static void test_ipv6_from_string_ex(void)
{
    static const struct {
        const char *text;
        NTSTATUS st;
        ULONG scope;  /* on success */
        USHORT port;  /* host order, on success */
        USHORT w[8];  /* expected address; W6_NONE: untouched */
    } cases[] = {
        {"[::]", STATUS_SUCCESS, 0, 0, {0}},
        {"[::1]:8080", STATUS_SUCCESS, 0, 8080, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:80", STATUS_SUCCESS, 0, 80, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:0x80", STATUS_SUCCESS, 0, 0x80, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:0X80", STATUS_SUCCESS, 0, 0x80, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:080", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:800000000080", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[::1]:", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"[FEDC:BA98:7654:3210:FEDC:BA98:7654:3210]:80", STATUS_SUCCESS, 0, 80,
         {0xfedc, 0xba98, 0x7654, 0x3210, 0xfedc, 0xba98, 0x7654, 0x3210}},
        {"[1080:0:0:0:8:800:200C:417A]:1234", STATUS_SUCCESS, 0, 1234, {0x1080, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[3ffe:2a00:100:7031::1]:8080", STATUS_SUCCESS, 0, 8080, {0x3ffe, 0x2a00, 0x100, 0x7031, 0, 0, 0, 1}},
        {"[ 3ffe:2a00:100:7031::1]:8080", STATUS_INVALID_PARAMETER, 0, 0, W6_NONE},
        {"[3ffe:2a00:100:7031::1 ]:8080", STATUS_INVALID_PARAMETER, 0, 0, {0x3ffe, 0x2a00, 0x100, 0x7031, 0, 0, 0, 1}},
        {"[3ffe:2a00:100:7031::1].8080", STATUS_INVALID_PARAMETER, 0, 0, {0x3ffe, 0x2a00, 0x100, 0x7031, 0, 0, 0, 1}},
        {"[1080::8:800:200C:417A]!8080", STATUS_INVALID_PARAMETER, 0, 0, {0x1080, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[::FFFF:129.144.52.38]:80", STATUS_SUCCESS, 0, 80, {0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426}},
        {"[::FFFF:129.144.52.38]:-80", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426}},
        {"[::FFFF:129.144.52.38]:999999999999", STATUS_INVALID_PARAMETER, 0, 0,
         {0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426}},
        {"[::FFFF:129.144.52.38%-8]:80", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426}},
        {"[12345::6:7:8]:80", STATUS_INVALID_PARAMETER, 0, 0, W6_NONE},
        {"[ff01::8:800:200C:417A%16]:8080", STATUS_SUCCESS, 16, 8080, {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%1000000]:8080", STATUS_SUCCESS, 1000000, 8080,
         {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%4294967295]:8080", STATUS_SUCCESS, 0xffffffffu, 8080,
         {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%4294967296]:8080", STATUS_INVALID_PARAMETER, 0, 0,
         {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%-1]:8080", STATUS_INVALID_PARAMETER, 0, 0, {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%0]:8080", STATUS_SUCCESS, 0, 8080, {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%1", STATUS_INVALID_PARAMETER, 0, 0, {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A%0x1000]:8080", STATUS_INVALID_PARAMETER, 0, 0,
         {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"[ff01::8:800:200C:417A/16]:8080", STATUS_INVALID_PARAMETER, 0, 0, {0xff01, 0, 0, 0, 8, 0x800, 0x200c, 0x417a}},
        {"fe80::1%4", STATUS_SUCCESS, 4, 0, {0xfe80, 0, 0, 0, 0, 0, 0, 1}},
        {"fe80::1%", STATUS_INVALID_PARAMETER, 0, 0, {0xfe80, 0, 0, 0, 0, 0, 0, 1}},
        {"::1 ", STATUS_INVALID_PARAMETER, 0, 0, {0, 0, 0, 0, 0, 0, 0, 1}},
        {"::1:80", STATUS_SUCCESS, 0, 0, {0, 0, 0, 0, 0, 0, 1, 0x80}},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        struct in6_addr a = untouched6();
        ULONG scope = 0xbadf00d;
        USHORT port = 0xbeef;
        NTSTATUS st = RtlIpv6StringToAddressExA(cases[i].text, &a, &scope, &port);
        struct in6_addr want = make6(cases[i].w);
        BOOLEAN bad = st != cases[i].st || memcmp(&a, &want, sizeof a) != 0;
        if (st == STATUS_SUCCESS)
            bad = bad || scope != cases[i].scope || port != net16(cases[i].port);
        else
            bad = bad || scope != 0xbadf00d || port != 0xbeef;
        if (bad)
            WT_FAIL("RtlIpv6StringToAddressExA(\"%s\"): 0x%x scope %u port %04x", cases[i].text, (unsigned)st,
                    scope, port);

        WCHAR w[64];
        size_t n = strlen(cases[i].text);
        for (size_t k = 0; k <= n; k++)
            w[k] = (unsigned char)cases[i].text[k];
        struct in6_addr aw = untouched6();
        ULONG scope_w = 0xbadf00d;
        USHORT port_w = 0xbeef;
        NTSTATUS stw = RtlIpv6StringToAddressExW(w, &aw, &scope_w, &port_w);
        if (stw != st || memcmp(&a, &aw, sizeof a) != 0 || scope_w != scope || port_w != port)
            WT_FAIL("RtlIpv6StringToAddressExW(\"%s\") differs from A", cases[i].text);
    }

    struct in6_addr a = untouched6(), ref = untouched6();
    ULONG scope = 0xbadf00d;
    USHORT port = 0xbeef;
    CHECK_EQ(RtlIpv6StringToAddressExA(NULL, &a, &scope, &port), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6StringToAddressExA("::", NULL, &scope, &port), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6StringToAddressExA("::", &a, NULL, &port), STATUS_INVALID_PARAMETER);
    CHECK_EQ(RtlIpv6StringToAddressExA("::", &a, &scope, NULL), STATUS_INVALID_PARAMETER);
    CHECK_MEM(&a, &ref, sizeof a);
    CHECK_EQ(scope, 0xbadf00d);
    CHECK_EQ(port, 0xbeef);
}

/* ===================================================================== */
/* Round trips                                                            */
/* ===================================================================== */

static ULONG rng_state = 12345;

static ULONG rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void test_round_trips(void)
{
    char buf[80];
    for (int i = 0; i < 2000; i++) {
        struct in_addr a = make4((int)(rng() & 0xff), (int)(rng() & 0xff), (int)(rng() & 0xff), (int)(rng() & 0xff));
        USHORT port = (USHORT)(rng() & 0xffff);
        ULONG len = sizeof buf;
        CHECK_EQ(RtlIpv4AddressToStringExA(&a, net16(port), buf, &len), STATUS_SUCCESS);
        struct in_addr b;
        USHORT p = 0xdead;
        if (RtlIpv4StringToAddressExA(buf, TRUE, &b, &p) != STATUS_SUCCESS || b.S_un.S_addr != a.S_un.S_addr ||
            p != net16(port))
            WT_FAIL("IPv4 round trip of \"%s\"", buf);
    }
    for (int i = 0; i < 4000; i++) {
        USHORT w[8];
        for (int k = 0; k < 8; k++) {
            ULONG r = rng();
            /* Plenty of zeros, small values and IPv4-tail shapes. */
            w[k] = (r & 3) == 0 ? 0 : (r & 3) == 1 ? (USHORT)((r >> 4) & 0xf) : (USHORT)(r >> 4);
        }
        if ((i & 7) == 0) {
            w[0] = w[1] = w[2] = w[3] = w[4] = 0;
            w[5] = (i & 8) ? 0xffff : 0;
        }
        struct in6_addr a = make6(w);
        PCSTR term;
        struct in6_addr b;
        RtlIpv6AddressToStringA(&a, buf);
        if (RtlIpv6StringToAddressA(buf, &term, &b) != STATUS_SUCCESS || *term != '\0' ||
            memcmp(&a, &b, sizeof a) != 0)
            WT_FAIL("IPv6 round trip of \"%s\"", buf);

        ULONG scope = (i & 1) ? rng() : 0;
        USHORT port = (i & 2) ? (USHORT)(rng() | 1) : 0;
        ULONG len = sizeof buf;
        CHECK_EQ(RtlIpv6AddressToStringExA(&a, scope, net16(port), buf, &len), STATUS_SUCCESS);
        ULONG s2 = 0;
        USHORT p2 = 0;
        if (RtlIpv6StringToAddressExA(buf, &b, &s2, &p2) != STATUS_SUCCESS || memcmp(&a, &b, sizeof a) != 0 ||
            s2 != scope || p2 != net16(port))
            WT_FAIL("IPv6 Ex round trip of \"%s\"", buf);
    }
    check_no_leak();
}

int main(void)
{
    WT_RUN(test_ipv4_to_string);
    WT_RUN(test_ipv6_to_string);
    WT_RUN(test_ipv6_to_string_ex);
    WT_RUN(test_ipv4_from_string);
    WT_RUN(test_ipv4_from_string_ex);
    WT_RUN(test_ipv6_from_string);
    WT_RUN(test_ipv6_from_string_ex);
    WT_RUN(test_round_trips);
    return wt_finish();
}
