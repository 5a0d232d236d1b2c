/*
 * dbgprint_internal.h - test and runtime hooks of the Microsoft-compatible
 * formatter behind DbgPrint/DbgPrintEx (src/kernel/dbgprint.c).  Not
 * installed.
 */
#ifndef OPENWSK_DBGPRINT_INTERNAL_H
#define OPENWSK_DBGPRINT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <ntdef.h>

EXTERN_C_START

/* Formats fmt with Microsoft printf rules (%wZ, %ls, %I64u, %ld = 32-bit...)
 * without any filtering or 512-byte limit.  Writes at most cap bytes
 * including the NUL terminator (always terminated when cap > 0) and returns
 * the length the complete output has, like C99 vsnprintf. */
OPENWSK_API size_t openwsk_dbg_format(char *out, size_t cap, const char *fmt, va_list ap);

/* Replaces the importance mask that DbgPrintEx levels are tested against
 * (the value OPENWSK_DBGPRINT_MASK selects at startup). */
OPENWSK_API void openwsk_dbg_set_mask(ULONG mask);

/* Current importance mask. */
OPENWSK_API ULONG openwsk_dbg_get_mask(void);

/* Sends every emitted message (at most 512 bytes, not NUL-terminated) to
 * sink instead of stderr; NULL restores stderr. */
OPENWSK_API void openwsk_dbg_set_sink(void (*sink)(const char *text, size_t len));

/* Maximum number of bytes one DbgPrint call emits, as on Windows. */
#define OPENWSK_DBG_MAX_MESSAGE 512

/* ---- Unicode helpers shared by the formatter and rtl_string.c ---- */

#define OPENWSK_REPLACEMENT_CHAR 0xFFFDu

/* Decodes one code point from the UTF-16 units s[*i..n).  A surrogate pair
 * yields one supplementary code point; a lone surrogate yields U+FFFD and
 * sets *bad.  For NUL-terminated input pass n = (size_t)-1: a high
 * surrogate is never the last unit then, so reading s[*i + 1] is safe. */
static inline ULONG openwsk_utf16_decode(const WCHAR *s, size_t n, size_t *i, BOOLEAN *bad)
{
    ULONG c = s[*i];
    *i += 1;
    if (c < 0xD800 || c > 0xDFFF)
        return c;
    if (c <= 0xDBFF && *i < n && s[*i] >= 0xDC00 && s[*i] <= 0xDFFF) {
        ULONG lo = s[*i];
        *i += 1;
        return 0x10000u + ((c - 0xD800u) << 10) + (lo - 0xDC00u);
    }
    *bad = TRUE;
    return OPENWSK_REPLACEMENT_CHAR;
}

/* Decodes one UTF-8 sequence from s[*i..n).  An ill-formed sequence yields
 * U+FFFD, sets *bad and consumes its maximal well-formed prefix (at least
 * one byte), the replacement practice the Unicode standard recommends:
 * overlong forms, encoded surrogates and values above U+10FFFF are
 * ill-formed. */
static inline ULONG openwsk_utf8_decode(const unsigned char *s, size_t n, size_t *i, BOOLEAN *bad)
{
    unsigned char c = s[*i];
    ULONG cp;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *i += 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0Fu;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07u;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *i += 1;
        *bad = TRUE;
        return OPENWSK_REPLACEMENT_CHAR;
    }
    size_t j = *i + 1;
    for (int k = 0; k < need; k++, j++) {
        if (j >= n || s[j] < lo || s[j] > hi) {
            *i = j;
            *bad = TRUE;
            return OPENWSK_REPLACEMENT_CHAR;
        }
        cp = (cp << 6) | (s[j] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *i = j;
    return cp;
}

/* Bytes the UTF-8 form of cp takes (cp must be a scalar value). */
static inline size_t openwsk_utf8_length(ULONG cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Writes the UTF-8 form of cp to out (room for 4 bytes); returns its length. */
static inline size_t openwsk_utf8_encode(ULONG cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

EXTERN_C_END

#endif /* OPENWSK_DBGPRINT_INTERNAL_H */
