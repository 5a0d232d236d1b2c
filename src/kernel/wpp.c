/*
 * wpp.c - WPP software tracing shim: trace messages are rewritten from
 * WPP's %!TYPE! syntax into printf conversions and printed like DbgPrintEx,
 * one line each.
 */
#include "ke_internal.h"

#include <openwsk_wpp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WPP_FORMAT_MAX 1024

/* Appends text with every '%' doubled, so it prints literally. */
static size_t wpp_append_literal(char *out, size_t used, const char *text)
{
    for (; *text && used + 2 < WPP_FORMAT_MAX; text++) {
        if (*text == '%')
            out[used++] = '%';
        out[used++] = *text;
    }
    return used;
}

static size_t wpp_append(char *out, size_t used, const char *text)
{
    size_t n = strlen(text);
    if (used + n >= WPP_FORMAT_MAX)
        n = WPP_FORMAT_MAX - 1 - used;
    memcpy(out + used, text, n);
    return used + n;
}

/* Rewrites one WPP format string into a DbgPrint one.  The built-in names
 * (FUNC, LINE, FILE) take no argument; typed ones map to a conversion. */
static void wpp_rewrite(char *out, const char *format, const char *file, int line, const char *function)
{
    size_t used = 0;
    const char *p = format;
    while (*p && used + 1 < WPP_FORMAT_MAX) {
        if (p[0] == '%' && p[1] == '!') {
            const char *end = strchr(p + 2, '!');
            if (end != NULL) {
                char name[32];
                size_t len = (size_t)(end - (p + 2));
                if (len >= sizeof(name))
                    len = sizeof(name) - 1;
                memcpy(name, p + 2, len);
                name[len] = '\0';
                char number[16];
                if (strcmp(name, "FUNC") == 0) {
                    used = wpp_append_literal(out, used, function);
                } else if (strcmp(name, "LINE") == 0) {
                    snprintf(number, sizeof(number), "%d", line);
                    used = wpp_append(out, used, number);
                } else if (strcmp(name, "FILE") == 0) {
                    const char *base = strrchr(file, '/');
                    used = wpp_append_literal(out, used, base ? base + 1 : file);
                } else if (strcmp(name, "STATUS") == 0 || strcmp(name, "HRESULT") == 0 ||
                           strcmp(name, "NTSTATUS") == 0 || strcmp(name, "WINERROR") == 0) {
                    used = wpp_append(out, used, "0x%08X");
                } else if (strcmp(name, "bool") == 0 || strcmp(name, "BOOLEAN") == 0) {
                    used = wpp_append(out, used, "%d");
                } else if (strcmp(name, "IPADDR") == 0) {
                    used = wpp_append(out, used, "0x%08X");
                } else if (strcmp(name, "PORT") == 0) {
                    used = wpp_append(out, used, "%hu");
                } else {
                    /* Unknown complex type: its argument is pointer-sized in
                     * every WPP type we have seen (e.g. %!HEXDUMP! is a struct
                     * passed by pointer after WPP's rewrite, which we lack). */
                    used = wpp_append(out, used, "<");
                    used = wpp_append_literal(out, used, name);
                    used = wpp_append(out, used, ":%p>");
                }
                p = end + 1;
                continue;
            }
        }
        out[used++] = *p++;
    }
    out[used] = '\0';
}

/* In parentheses: openwsk_wpp.h also defines the name as a macro. */
void(openwsk_wpp_trace)(const char *flag, const char *file, int line, const char *function, const char *format, ...)
{
    char rewritten[WPP_FORMAT_MAX];
    char prefix[64];
    wpp_rewrite(rewritten, format, file, line, function);
    snprintf(prefix, sizeof(prefix), "[%s] ", flag);
    va_list ap;
    va_start(ap, format);
    /* Each message is one line: WPP messages carry no line ending of their
     * own (a trace viewer shows each as a record). */
    openwsk_dbg_vprint_line(prefix, DPFLTR_INFO_LEVEL, rewritten, ap);
    va_end(ap);
}
