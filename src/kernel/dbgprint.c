/*
 * dbgprint.c - DbgPrint, DbgPrintEx and their va_list forms, with a
 * Microsoft-compatible printf formatter (hazard H10 of wsk-clients.md).
 *
 * The formatter parses every conversion itself; glibc only ever sees one
 * rebuilt numeric conversion at a time, because glibc gives 'I', 'l', 'S',
 * 'Z' and 'w' different meanings.  Microsoft rules implemented here:
 *   %ld %lu %lx       32-bit (LONG/ULONG are 32-bit on Windows)
 *   %lld %I64d %Id    64-bit (%I/%z/%j/%t/%L are 64-bit on x64; %I32 is 32-bit)
 *   %ls %ws %S        NUL-terminated UTF-16 string, converted to UTF-8
 *   %lc %wc %C        one UTF-16 unit
 *   %hs %hc           narrow string / char whatever the function's width
 *   %wZ / %Z          PCUNICODE_STRING / PCANSI_STRING (counted, Length bytes)
 *   %p                16 upper-case hex digits, zero-padded, no "0x"
 *   %n                argument consumed, nothing stored (as in the kernel)
 * NULL strings and NULL or Buffer-less counted strings print "(null)".
 *
 * Floating point: Windows documents that DbgPrint does not support %e %f
 * %g %a.  We consume the double (long double with L) so that later
 * arguments stay aligned, and print the conversion text literally, e.g.
 * "%5.2f".  Unknown conversions are printed literally too.
 *
 * Width and precision count bytes for narrow strings and characters (code
 * points) for wide strings: on Windows the wide string becomes one byte per
 * character in the ANSI code page, so counting characters keeps columns
 * aligned.  The 0 flag pads strings and characters with zeros, as the
 * Microsoft CRT does.  Wide text is emitted as UTF-8 (Windows emits the
 * ANSI code page); narrow text is passed through unchanged.
 *
 * Output: one call emits at most 512 bytes (Windows transmits at most 512
 * bytes per DbgPrint), with one write(2) to stderr so that lines from
 * different threads never interleave.  A cut inside a UTF-8 sequence is
 * moved back to the sequence start.
 *
 * Filtering follows Windows Vista and later: Level 0..31 means the mask
 * 1 << Level, a larger Level is itself the mask (DPFLTR_MASK stripped), and
 * the message is printed when mask & importance-mask is non-zero.  The
 * importance mask comes from OPENWSK_DBGPRINT_MASK, read once:
 *   unset/empty/"all"  0xFFFFFFFF, everything prints (developers want it)
 *   "windows"          0x1, Windows' default: only DPFLTR_ERROR_LEVEL;
 *                      DbgPrint (INFO level) is then silent, as on Windows
 *   a number           that mask (strtoul syntax, e.g. 0x1 or 0xF); 0 = silent
 * One mask covers every component; per-component filters are not modelled.
 */
#include "ke_internal.h"
#include "dbgprint_internal.h"

#include <ntstrsafe.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ===================================================================== */
/* Output buffer                                                          */
/* ===================================================================== */

typedef struct dbg_out {
    char *buf;
    size_t room; /* bytes of text buf can hold (its size minus the terminator) */
    size_t len;  /* bytes the complete output needs */
} dbg_out;

static void dbg_put(dbg_out *o, const char *s, size_t n)
{
    if (o->len < o->room) {
        size_t avail = o->room - o->len;
        memcpy(o->buf + o->len, s, n < avail ? n : avail);
    }
    o->len = (o->len + n < o->len) ? SIZE_MAX : o->len + n;
}

static void dbg_put_char(dbg_out *o, char c)
{
    dbg_put(o, &c, 1);
}

static void dbg_pad(dbg_out *o, char c, size_t n)
{
    char chunk[32];
    memset(chunk, c, sizeof chunk);
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        /* Past the buffer only the count matters. */
        if (o->len >= o->room) {
            o->len = (o->len + n < o->len) ? SIZE_MAX : o->len + n;
            return;
        }
        dbg_put(o, chunk, k);
        n -= k;
    }
}

static void dbg_put_codepoint(dbg_out *o, ULONG cp)
{
    char u[4];
    dbg_put(o, u, openwsk_utf8_encode(cp, u));
}

/* ===================================================================== */
/* Conversion specifications                                              */
/* ===================================================================== */

enum dbg_char_kind { DBG_CHARS_DEFAULT, DBG_CHARS_NARROW, DBG_CHARS_WIDE };

typedef struct dbg_spec {
    BOOLEAN left, plus, space, alt, zero;
    int width;     /* 0 when absent */
    int precision; /* -1 when absent */
    int int_size;  /* 0 = int, 1 = char (hh), 2 = short (h), 4 = 32-bit, 8 = 64-bit */
    enum dbg_char_kind chars;
    BOOLEAN long_double;
} dbg_spec;

/* Pads for a field of `used` columns. */
static void dbg_pad_before(dbg_out *o, const dbg_spec *sp, size_t used)
{
    if (!sp->left && (size_t)sp->width > used)
        dbg_pad(o, sp->zero ? '0' : ' ', (size_t)sp->width - used);
}

static void dbg_pad_after(dbg_out *o, const dbg_spec *sp, size_t used)
{
    if (sp->left && (size_t)sp->width > used)
        dbg_pad(o, ' ', (size_t)sp->width - used);
}

/* Narrow text: s[0..count) or up to NUL when count is SIZE_MAX.  In the
 * wide printf functions narrow text is Latin-1 (see rtl_string.c) and is
 * transcoded to UTF-8 on its way through the UTF-8 intermediate. */
static void dbg_emit_narrow(dbg_out *o, const dbg_spec *sp, const char *s, size_t count, BOOLEAN latin1)
{
    if (s == NULL) {
        s = "(null)";
        count = SIZE_MAX;
        latin1 = FALSE;
    }
    size_t limit = sp->precision >= 0 ? (size_t)sp->precision : SIZE_MAX;
    size_t n = 0;
    while (n < limit && n < count && (count != SIZE_MAX || s[n] != '\0'))
        n++;
    dbg_pad_before(o, sp, n);
    if (!latin1) {
        dbg_put(o, s, n);
    } else {
        for (size_t i = 0; i < n; i++)
            dbg_put_codepoint(o, (unsigned char)s[i]);
    }
    dbg_pad_after(o, sp, n);
}

/* UTF-16 text: s[0..count) units or up to NUL when count is SIZE_MAX. */
static void dbg_emit_wide(dbg_out *o, const dbg_spec *sp, const WCHAR *s, size_t count)
{
    if (s == NULL) {
        dbg_emit_narrow(o, sp, NULL, 0, FALSE);
        return;
    }
    size_t limit = sp->precision >= 0 ? (size_t)sp->precision : SIZE_MAX;
    size_t i = 0, chars = 0;
    BOOLEAN bad = FALSE;
    while (chars < limit && i < count && (count != SIZE_MAX || s[i] != 0)) {
        (void)openwsk_utf16_decode(s, count, &i, &bad);
        chars++;
    }
    size_t end = i;
    dbg_pad_before(o, sp, chars);
    for (i = 0; i < end;)
        dbg_put_codepoint(o, openwsk_utf16_decode(s, end, &i, &bad));
    dbg_pad_after(o, sp, chars);
}

static void dbg_emit_char(dbg_out *o, const dbg_spec *sp, ULONG cp, BOOLEAN raw_byte)
{
    dbg_pad_before(o, sp, 1);
    if (raw_byte)
        dbg_put_char(o, (char)cp);
    else
        dbg_put_codepoint(o, cp);
    dbg_pad_after(o, sp, 1);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* One integer conversion through snprintf with a rebuilt, glibc-clean spec. */
static void dbg_emit_integer(dbg_out *o, const dbg_spec *sp, char conv, BOOLEAN is_signed, ULONGLONG bits)
{
    char spec[24], *q = spec;
    *q++ = '%';
    if (sp->left)
        *q++ = '-';
    if (sp->plus)
        *q++ = '+';
    if (sp->space)
        *q++ = ' ';
    if (sp->alt)
        *q++ = '#';
    if (sp->zero)
        *q++ = '0';
    *q++ = '*';
    *q++ = '.';
    *q++ = '*';
    *q++ = 'l';
    *q++ = 'l';
    *q++ = conv;
    *q = '\0';

    /* Precision -1 means "absent" to glibc as well. */
    char small[96];
    int n = is_signed ? snprintf(small, sizeof small, spec, sp->width, sp->precision, (long long)bits)
                      : snprintf(small, sizeof small, spec, sp->width, sp->precision, (unsigned long long)bits);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        dbg_put(o, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        dbg_put(o, small, sizeof small - 1);
        return;
    }
    if (is_signed)
        snprintf(big, (size_t)n + 1, spec, sp->width, sp->precision, (long long)bits);
    else
        snprintf(big, (size_t)n + 1, spec, sp->width, sp->precision, (unsigned long long)bits);
    dbg_put(o, big, (size_t)n);
    free(big);
}
#pragma GCC diagnostic pop

/* ===================================================================== */
/* The formatter                                                          */
/* ===================================================================== */

static int dbg_parse_number(const char **pp)
{
    const char *p = *pp;
    int v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v < INT_MAX / 10)
            v = v * 10 + (*p - '0');
        p++;
    }
    *pp = p;
    return v;
}

/* wide_mode: the format belongs to a wide printf function, where %s and %c
 * take wide arguments and %S and %C narrow ones. */
static size_t dbg_vformat(char *out, size_t cap, const char *fmt, va_list args, BOOLEAN wide_mode)
{
    if (out == NULL)
        cap = 0; /* size query */
    dbg_out o = {out, cap > 0 ? cap - 1 : 0, 0};
    va_list ap;
    va_copy(ap, args);

    if (fmt == NULL)
        fmt = "(null)";

    const char *p = fmt;
    while (*p != '\0') {
        if (*p != '%') {
            const char *run = p;
            while (*p != '\0' && *p != '%')
                p++;
            dbg_put(&o, run, (size_t)(p - run));
            continue;
        }

        const char *start = p++;
        dbg_spec sp = {FALSE, FALSE, FALSE, FALSE, FALSE, 0, -1, 0, DBG_CHARS_DEFAULT, FALSE};

        for (;; p++) {
            if (*p == '-')
                sp.left = TRUE;
            else if (*p == '+')
                sp.plus = TRUE;
            else if (*p == ' ')
                sp.space = TRUE;
            else if (*p == '#')
                sp.alt = TRUE;
            else if (*p == '0')
                sp.zero = TRUE;
            else
                break;
        }
        if (*p == '*') {
            int w = va_arg(ap, int);
            p++;
            if (w < 0) {
                sp.left = TRUE;
                w = (w == INT_MIN) ? INT_MAX : -w;
            }
            sp.width = w;
        } else {
            sp.width = dbg_parse_number(&p);
        }
        if (*p == '.') {
            p++;
            if (*p == '*') {
                int prec = va_arg(ap, int);
                p++;
                sp.precision = prec < 0 ? -1 : prec;
            } else {
                sp.precision = dbg_parse_number(&p);
            }
        }

        for (BOOLEAN more = TRUE; more;) {
            switch (*p) {
            case 'h':
                if (p[1] == 'h') {
                    sp.int_size = 1;
                    p += 2;
                } else {
                    sp.int_size = 2;
                    p++;
                }
                sp.chars = DBG_CHARS_NARROW;
                break;
            case 'l':
                if (p[1] == 'l') {
                    sp.int_size = 8;
                    p += 2;
                } else {
                    sp.int_size = 4;
                    p++;
                }
                sp.chars = DBG_CHARS_WIDE;
                break;
            case 'w':
                sp.int_size = 4;
                sp.chars = DBG_CHARS_WIDE;
                p++;
                break;
            case 'L':
                /* long double for %Lf; glibc's 64-bit meaning for integers. */
                sp.int_size = 8;
                sp.long_double = TRUE;
                p++;
                break;
            case 'z':
            case 'j':
            case 't':
                sp.int_size = 8;
                p++;
                break;
            case 'I':
                if (p[1] == '6' && p[2] == '4') {
                    sp.int_size = 8;
                    p += 3;
                } else if (p[1] == '3' && p[2] == '2') {
                    sp.int_size = 4;
                    p += 3;
                } else {
                    sp.int_size = 8; /* pointer-sized */
                    p++;
                }
                break;
            default:
                more = FALSE;
                break;
            }
        }

        char conv = *p;
        if (conv == '\0') {
            /* Incomplete specification at the end: print it as it is. */
            dbg_put(&o, start, (size_t)(p - start));
            break;
        }
        p++;

        switch (conv) {
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            BOOLEAN is_signed = (conv == 'd' || conv == 'i');
            ULONGLONG bits;
            if (sp.int_size == 8) {
                bits = va_arg(ap, unsigned long long);
                if (is_signed)
                    bits = (ULONGLONG)(long long)bits;
            } else {
                unsigned int v = va_arg(ap, unsigned int);
                if (sp.int_size == 1)
                    bits = is_signed ? (ULONGLONG)(long long)(signed char)v : (unsigned char)v;
                else if (sp.int_size == 2)
                    bits = is_signed ? (ULONGLONG)(long long)(short)v : (unsigned short)v;
                else
                    bits = is_signed ? (ULONGLONG)(long long)(int)v : v;
            }
            dbg_emit_integer(&o, &sp, conv, is_signed, bits);
            break;
        }
        case 'p': {
            ULONGLONG v = (ULONGLONG)(ULONG_PTR)va_arg(ap, void *);
            dbg_spec ps = sp;
            ps.plus = ps.space = ps.alt = ps.zero = FALSE;
            ps.precision = 16;
            dbg_emit_integer(&o, &ps, 'X', FALSE, v);
            break;
        }
        case 'c':
        case 'C': {
            BOOLEAN wide = sp.chars == DBG_CHARS_WIDE ||
                           (sp.chars == DBG_CHARS_DEFAULT && (conv == 'C') != (wide_mode != FALSE));
            unsigned int v = va_arg(ap, unsigned int);
            if (wide) {
                WCHAR w = (WCHAR)v;
                size_t i = 0;
                BOOLEAN bad = FALSE;
                dbg_emit_char(&o, &sp, openwsk_utf16_decode(&w, 1, &i, &bad), FALSE);
            } else {
                dbg_emit_char(&o, &sp, (unsigned char)v, !wide_mode);
            }
            break;
        }
        case 's':
        case 'S': {
            BOOLEAN wide = sp.chars == DBG_CHARS_WIDE ||
                           (sp.chars == DBG_CHARS_DEFAULT && (conv == 'S') != (wide_mode != FALSE));
            const void *s = va_arg(ap, const void *);
            if (wide)
                dbg_emit_wide(&o, &sp, (const WCHAR *)s, SIZE_MAX);
            else
                dbg_emit_narrow(&o, &sp, (const char *)s, SIZE_MAX, wide_mode);
            break;
        }
        case 'Z': {
            const void *arg = va_arg(ap, const void *);
            if (sp.chars == DBG_CHARS_WIDE) {
                const UNICODE_STRING *us = (const UNICODE_STRING *)arg;
                if (us == NULL || us->Buffer == NULL)
                    dbg_emit_wide(&o, &sp, NULL, 0);
                else
                    dbg_emit_wide(&o, &sp, us->Buffer, us->Length / sizeof(WCHAR));
            } else {
                const ANSI_STRING *as = (const ANSI_STRING *)arg;
                if (as == NULL || as->Buffer == NULL)
                    dbg_emit_narrow(&o, &sp, NULL, 0, FALSE);
                else
                    dbg_emit_narrow(&o, &sp, as->Buffer, as->Length, wide_mode);
            }
            break;
        }
        case 'n':
            (void)va_arg(ap, void *);
            break;
        case '%':
            dbg_put_char(&o, '%');
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (sp.long_double)
                (void)va_arg(ap, long double);
            else
                (void)va_arg(ap, double);
            dbg_put(&o, start, (size_t)(p - start));
            break;
        default:
            dbg_put(&o, start, (size_t)(p - start));
            break;
        }
    }
    va_end(ap);

    if (cap > 0)
        out[o.len < o.room ? o.len : o.room] = '\0';
    return o.len;
}

size_t openwsk_dbg_format(char *out, size_t cap, const char *fmt, va_list ap)
{
    return dbg_vformat(out, cap, fmt, ap, FALSE);
}

size_t openwsk_vsnprintf_ms(char *out, size_t cap, const char *fmt, va_list ap)
{
    return dbg_vformat(out, cap, fmt, ap, FALSE);
}

/* UTF-16 format and output: the format goes to UTF-8, through the
 * formatter in wide mode, and the result back to UTF-16. */
size_t openwsk_vformat_utf16_ms(WCHAR *out, size_t cch, size_t *written, const WCHAR *fmt, va_list ap)
{
    size_t stored = 0;
    if (written != NULL)
        *written = 0;
    if (fmt == NULL)
        return (size_t)-1;

    size_t units = 0, bytes = 0;
    BOOLEAN bad = FALSE;
    while (fmt[units] != 0)
        units++;
    for (size_t i = 0; i < units;)
        bytes += openwsk_utf8_length(openwsk_utf16_decode(fmt, units, &i, &bad));
    char *fmt8 = malloc(bytes + 1);
    if (fmt8 == NULL)
        return (size_t)-1;
    size_t pos = 0;
    for (size_t i = 0; i < units;)
        pos += openwsk_utf8_encode(openwsk_utf16_decode(fmt, units, &i, &bad), fmt8 + pos);
    fmt8[pos] = '\0';

    va_list a1;
    va_copy(a1, ap);
    size_t n = dbg_vformat(NULL, 0, fmt8, a1, TRUE);
    va_end(a1);
    char *text = (n < SIZE_MAX) ? malloc(n + 1) : NULL;
    if (text == NULL) {
        free(fmt8);
        return (size_t)-1;
    }
    va_list a2;
    va_copy(a2, ap);
    dbg_vformat(text, n + 1, fmt8, a2, TRUE);
    va_end(a2);
    free(fmt8);

    /* Back to UTF-16; a surrogate pair that does not fit is left out whole
     * and nothing after it is stored, so the output stays a prefix. */
    size_t total = 0;
    BOOLEAN storing = out != NULL;
    for (size_t i = 0; i < n;) {
        ULONG cp = openwsk_utf8_decode((const unsigned char *)text, n, &i, &bad);
        size_t need = cp >= 0x10000 ? 2 : 1;
        if (storing && total + need <= cch) {
            if (need == 2) {
                out[total] = (WCHAR)(0xD800 + ((cp - 0x10000) >> 10));
                out[total + 1] = (WCHAR)(0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                out[total] = (WCHAR)cp;
            }
            stored = total + need;
        } else {
            storing = FALSE;
        }
        total += need;
    }
    free(text);
    if (written != NULL)
        *written = stored;
    return total;
}

/* ===================================================================== */
/* Filtering and emission                                                 */
/* ===================================================================== */

static pthread_once_t dbg_once = PTHREAD_ONCE_INIT;
static ULONG dbg_mask = 0xFFFFFFFFu;
static void (*dbg_sink)(const char *text, size_t len);

static void dbg_read_environment(void)
{
    ULONG mask = 0xFFFFFFFFu;
    const char *v = getenv("OPENWSK_DBGPRINT_MASK");
    if (v != NULL && *v != '\0') {
        if (strcasecmp(v, "windows") == 0) {
            mask = 1u << DPFLTR_ERROR_LEVEL;
        } else if (strcasecmp(v, "all") != 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 0);
            if (errno != 0 || end == v || *end != '\0' || x > 0xFFFFFFFFull || strchr(v, '-') != NULL)
                openwsk_log("OPENWSK_DBGPRINT_MASK=\"%s\" is not \"windows\", \"all\" or a 32-bit mask; "
                            "printing everything",
                            v);
            else
                mask = (ULONG)x;
        }
    }
    __atomic_store_n(&dbg_mask, mask, __ATOMIC_RELEASE);
}

ULONG openwsk_dbg_get_mask(void)
{
    pthread_once(&dbg_once, dbg_read_environment);
    return __atomic_load_n(&dbg_mask, __ATOMIC_ACQUIRE);
}

void openwsk_dbg_set_mask(ULONG mask)
{
    pthread_once(&dbg_once, dbg_read_environment); /* so the environment cannot override it later */
    __atomic_store_n(&dbg_mask, mask, __ATOMIC_RELEASE);
}

void openwsk_dbg_set_sink(void (*sink)(const char *text, size_t len))
{
    __atomic_store_n(&dbg_sink, sink, __ATOMIC_RELEASE);
}

static BOOLEAN dbg_level_enabled(ULONG level)
{
    ULONG mask = level < 32 ? (1u << level) : (level & ~(ULONG)DPFLTR_MASK);
    return (mask & openwsk_dbg_get_mask()) != 0;
}

static void dbg_emit(const char *text, size_t len)
{
    void (*sink)(const char *, size_t) = __atomic_load_n(&dbg_sink, __ATOMIC_ACQUIRE);
    if (sink != NULL) {
        sink(text, len);
        return;
    }
    int saved = errno;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, text, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        text += w;
        len -= (size_t)w;
    }
    errno = saved;
}

/* Length of text[0..len) without a trailing incomplete UTF-8 sequence. */
static size_t dbg_utf8_boundary(const char *text, size_t len)
{
    size_t k = len;
    int cont = 0;
    while (k > 0 && cont < 3 && ((unsigned char)text[k - 1] & 0xC0) == 0x80) {
        k--;
        cont++;
    }
    if (k == 0)
        return len;
    unsigned char lead = (unsigned char)text[k - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0xC0 && (size_t)cont + 1 < want)
        return k - 1;
    return len;
}

/* With `line`, the message ends in exactly one line ending: one is added
 * (within the 512 bytes, cutting the text if need be) unless the text has
 * its own. */
static ULONG dbg_vprint(PCCH prefix, ULONG level, PCCH format, va_list ap, BOOLEAN line)
{
    if (format == NULL)
        return (ULONG)STATUS_INVALID_PARAMETER;
    if (!dbg_level_enabled(level))
        return (ULONG)STATUS_SUCCESS;

    char buf[OPENWSK_DBG_MAX_MESSAGE + 1];
    size_t plen = prefix != NULL ? strnlen(prefix, OPENWSK_DBG_MAX_MESSAGE) : 0;
    if (plen > 0)
        memcpy(buf, prefix, plen);
    size_t n = dbg_vformat(buf + plen, sizeof buf - plen, format, ap, FALSE);
    size_t total = plen + n;
    if (total < plen) /* size_t wrap: only the bound matters */
        total = SIZE_MAX;
    if (total > OPENWSK_DBG_MAX_MESSAGE)
        total = dbg_utf8_boundary(buf, OPENWSK_DBG_MAX_MESSAGE);
    if (line && (total == 0 || buf[total - 1] != '\n')) {
        if (total == OPENWSK_DBG_MAX_MESSAGE)
            total = dbg_utf8_boundary(buf, OPENWSK_DBG_MAX_MESSAGE - 1);
        buf[total++] = '\n';
    }
    dbg_emit(buf, total);
    return (ULONG)STATUS_SUCCESS;
}

/* The names are in parentheses: wdm.h also defines them as macros. */
ULONG(DbgPrint)(PCSTR Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    ULONG r = dbg_vprint(NULL, DPFLTR_INFO_LEVEL, Format, ap, FALSE);
    va_end(ap);
    return r;
}

ULONG(DbgPrintEx)(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    (void)ComponentId;
    va_list ap;
    va_start(ap, Format);
    ULONG r = dbg_vprint(NULL, Level, Format, ap, FALSE);
    va_end(ap);
    return r;
}

ULONG vDbgPrintEx(ULONG ComponentId, ULONG Level, PCCH Format, __builtin_va_list arglist)
{
    (void)ComponentId;
    return dbg_vprint(NULL, Level, Format, arglist, FALSE);
}

ULONG vDbgPrintExWithPrefix(PCCH Prefix, ULONG ComponentId, ULONG Level, PCCH Format, __builtin_va_list arglist)
{
    (void)ComponentId;
    return dbg_vprint(Prefix, Level, Format, arglist, FALSE);
}

ULONG openwsk_dbg_vprint_line(PCCH Prefix, ULONG Level, PCCH Format, va_list Arguments)
{
    return dbg_vprint(Prefix, Level, Format, Arguments, TRUE);
}

/* No kernel debugger can press Ctrl+C here, so this is DbgPrint. */
ULONG(DbgPrintReturnControlC)(PCCH Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    ULONG r = dbg_vprint(NULL, DPFLTR_INFO_LEVEL, Format, ap, FALSE);
    va_end(ap);
    return r;
}
