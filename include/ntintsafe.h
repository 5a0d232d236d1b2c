/*
 * ntintsafe.h - the WDK's overflow-checked integer conversions and
 * arithmetic (header-only).
 *
 * Every function returns STATUS_SUCCESS with the exact result, or
 * STATUS_INTEGER_OVERFLOW with *pResult set to the type's error value
 * (ULONG_ERROR 0xFFFFFFFF, SIZET_ERROR SIZE_T max, LONG_ERROR -1 ...), as
 * the WDK documents.  Checks use __builtin_*_overflow, which compares the
 * mathematically exact result with the destination type, so conversions
 * between any signed and unsigned types are exact too.
 *
 * Types follow Windows x64 (LLP64): ULONG/LONG/DWORD are 32-bit, SIZE_T,
 * ULONG_PTR and LONG_PTR 64-bit; the size_t and ptrdiff_t functions use
 * SIZE_T and LONG_PTR, which is what they are on Windows, and in C their
 * results may also be stored through size_t / ptrdiff_t pointers.  The WDK only declares the signed
 * arithmetic functions when ENABLE_INTSAFE_SIGNED_FUNCTIONS is defined;
 * they are always available here.
 */
#ifndef OPENWSK_NTINTSAFE_H
#define OPENWSK_NTINTSAFE_H

#include <stddef.h>

#include <ntdef.h>
#include <ntstatus.h>

EXTERN_C_START

#define INT8_ERROR ((INT8)-1)
#define UINT8_ERROR ((UINT8)0xff)
#define BYTE_ERROR ((BYTE)0xff)
#define SHORT_ERROR ((SHORT)-1)
#define USHORT_ERROR ((USHORT)0xffff)
#define WORD_ERROR USHORT_ERROR
#define INT_ERROR (-1)
#define UINT_ERROR 0xffffffffu
#define LONG_ERROR ((LONG)-1)
#define ULONG_ERROR 0xffffffffu
#define DWORD_ERROR ULONG_ERROR
#define LONGLONG_ERROR ((LONGLONG)-1)
#define LONG64_ERROR LONGLONG_ERROR
#define INT64_ERROR LONGLONG_ERROR
#define ULONGLONG_ERROR 0xffffffffffffffffull
#define ULONG64_ERROR ULONGLONG_ERROR
#define DWORD64_ERROR ULONGLONG_ERROR
#define UINT64_ERROR ULONGLONG_ERROR
#define INT_PTR_ERROR ((INT_PTR)-1)
#define LONG_PTR_ERROR ((LONG_PTR)-1)
#define UINT_PTR_ERROR ((UINT_PTR)~(UINT_PTR)0)
#define ULONG_PTR_ERROR ((ULONG_PTR)~(ULONG_PTR)0)
#define DWORD_PTR_ERROR ULONG_PTR_ERROR
#define SIZET_ERROR ((SIZE_T)~(SIZE_T)0)
#define SSIZET_ERROR ((SSIZE_T)-1)
#define PTRDIFF_T_ERROR ((LONG_PTR)-1)

/* Conversion: fails when the value is not representable in the target. */
#define NTINTSAFE_CONVERT(name, from_t, to_t, err)                                  \
    static inline NTSTATUS name(from_t Operand, to_t *pResult)                    \
    {                                                                             \
        to_t r;                                                                   \
        if (__builtin_add_overflow(Operand, (from_t)0, &r)) {                     \
            *pResult = (err);                                                     \
            return STATUS_INTEGER_OVERFLOW;                                       \
        }                                                                         \
        *pResult = r;                                                             \
        return STATUS_SUCCESS;                                                    \
    }

#define NTINTSAFE_OP(name, type, err, builtin)                                      \
    static inline NTSTATUS name(type Operand1, type Operand2, type *pResult)      \
    {                                                                             \
        type r;                                                                   \
        if (builtin(Operand1, Operand2, &r)) {                                    \
            *pResult = (err);                                                     \
            return STATUS_INTEGER_OVERFLOW;                                       \
        }                                                                         \
        *pResult = r;                                                             \
        return STATUS_SUCCESS;                                                    \
    }

#define NTINTSAFE_ARITH(prefix, type, err)                                          \
    NTINTSAFE_OP(prefix##Add, type, err, __builtin_add_overflow)                  \
    NTINTSAFE_OP(prefix##Sub, type, err, __builtin_sub_overflow)                  \
    NTINTSAFE_OP(prefix##Mult, type, err, __builtin_mul_overflow)

/* ---- unsigned arithmetic ---- */
NTINTSAFE_ARITH(RtlUInt8, UINT8, UINT8_ERROR)
NTINTSAFE_ARITH(RtlByte, BYTE, BYTE_ERROR)
NTINTSAFE_ARITH(RtlUShort, USHORT, USHORT_ERROR)
NTINTSAFE_ARITH(RtlWord, WORD, WORD_ERROR)
NTINTSAFE_ARITH(RtlUInt, UINT, UINT_ERROR)
NTINTSAFE_ARITH(RtlULong, ULONG, ULONG_ERROR)
NTINTSAFE_ARITH(RtlDWord, DWORD, DWORD_ERROR)
NTINTSAFE_ARITH(RtlULongLong, ULONGLONG, ULONGLONG_ERROR)
NTINTSAFE_ARITH(RtlDWordLong, DWORDLONG, ULONGLONG_ERROR)
NTINTSAFE_ARITH(RtlULong64, ULONG64, ULONG64_ERROR)
NTINTSAFE_ARITH(RtlDWord64, DWORD64, DWORD64_ERROR)
NTINTSAFE_ARITH(RtlUInt64, UINT64, UINT64_ERROR)
NTINTSAFE_ARITH(RtlUIntPtr, UINT_PTR, UINT_PTR_ERROR)
NTINTSAFE_ARITH(RtlULongPtr, ULONG_PTR, ULONG_PTR_ERROR)
NTINTSAFE_ARITH(RtlDWordPtr, DWORD_PTR, DWORD_PTR_ERROR)
NTINTSAFE_ARITH(RtlSizeT, SIZE_T, SIZET_ERROR)
NTINTSAFE_ARITH(RtlSIZET, SIZE_T, SIZET_ERROR)

/* ---- signed arithmetic ---- */
NTINTSAFE_ARITH(RtlInt8, INT8, INT8_ERROR)
NTINTSAFE_ARITH(RtlShort, SHORT, SHORT_ERROR)
NTINTSAFE_ARITH(RtlInt, INT, INT_ERROR)
NTINTSAFE_ARITH(RtlLong, LONG, LONG_ERROR)
NTINTSAFE_ARITH(RtlLongLong, LONGLONG, LONGLONG_ERROR)
NTINTSAFE_ARITH(RtlLong64, LONG64, LONG64_ERROR)
NTINTSAFE_ARITH(RtlInt64, INT64, INT64_ERROR)
NTINTSAFE_ARITH(RtlIntPtr, INT_PTR, INT_PTR_ERROR)
NTINTSAFE_ARITH(RtlLongPtr, LONG_PTR, LONG_PTR_ERROR)
NTINTSAFE_ARITH(RtlSSIZET, SSIZE_T, SSIZET_ERROR)
NTINTSAFE_ARITH(RtlPtrdiffT, LONG_PTR, PTRDIFF_T_ERROR)

/* ---- conversions to 8 bits ---- */
NTINTSAFE_CONVERT(RtlInt8ToUChar, INT8, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlInt8ToUInt8, INT8, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlUInt8ToInt8, UINT8, INT8, INT8_ERROR)
NTINTSAFE_CONVERT(RtlShortToUChar, SHORT, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlShortToUInt8, SHORT, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlUShortToUChar, USHORT, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlUShortToUInt8, USHORT, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlUShortToByte, USHORT, BYTE, BYTE_ERROR)
NTINTSAFE_CONVERT(RtlIntToUChar, INT, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlIntToUInt8, INT, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlIntToInt8, INT, INT8, INT8_ERROR)
NTINTSAFE_CONVERT(RtlUIntToUChar, UINT, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlUIntToUInt8, UINT, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlUIntToInt8, UINT, INT8, INT8_ERROR)
NTINTSAFE_CONVERT(RtlLongToUChar, LONG, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlLongToUInt8, LONG, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlULongToUChar, ULONG, UCHAR, (UCHAR)0xff)
NTINTSAFE_CONVERT(RtlULongToUInt8, ULONG, UINT8, UINT8_ERROR)
NTINTSAFE_CONVERT(RtlULongToByte, ULONG, BYTE, BYTE_ERROR)
NTINTSAFE_CONVERT(RtlULongToInt8, ULONG, INT8, INT8_ERROR)

/* ---- conversions to 16 bits ---- */
NTINTSAFE_CONVERT(RtlShortToUShort, SHORT, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlUShortToShort, USHORT, SHORT, SHORT_ERROR)
NTINTSAFE_CONVERT(RtlIntToShort, INT, SHORT, SHORT_ERROR)
NTINTSAFE_CONVERT(RtlIntToUShort, INT, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlUIntToShort, UINT, SHORT, SHORT_ERROR)
NTINTSAFE_CONVERT(RtlUIntToUShort, UINT, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlLongToShort, LONG, SHORT, SHORT_ERROR)
NTINTSAFE_CONVERT(RtlLongToUShort, LONG, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlULongToShort, ULONG, SHORT, SHORT_ERROR)
NTINTSAFE_CONVERT(RtlULongToUShort, ULONG, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlULongToWord, ULONG, WORD, WORD_ERROR)
NTINTSAFE_CONVERT(RtlDWordToWord, DWORD, WORD, WORD_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToUShort, LONGLONG, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToUShort, ULONGLONG, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToUShort, SIZE_T, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToUShort, SIZE_T, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToUShort, ULONG_PTR, USHORT, USHORT_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToUShort, LONG_PTR, USHORT, USHORT_ERROR)

/* ---- conversions to 32 bits ---- */
NTINTSAFE_CONVERT(RtlIntToUInt, INT, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlIntToULong, INT, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlIntToDWord, INT, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlUIntToInt, UINT, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlUIntToLong, UINT, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlLongToInt, LONG, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlLongToUInt, LONG, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlLongToULong, LONG, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlLongToDWord, LONG, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlULongToInt, ULONG, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlULongToUInt, ULONG, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlULongToLong, ULONG, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlDWordToInt, DWORD, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlDWordToLong, DWORD, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToInt, LONGLONG, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToUInt, LONGLONG, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToLong, LONGLONG, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToULong, LONGLONG, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToDWord, LONGLONG, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToInt, ULONGLONG, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToUInt, ULONGLONG, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToLong, ULONGLONG, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToULong, ULONGLONG, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToDWord, ULONGLONG, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToInt, SIZE_T, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToUInt, SIZE_T, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToLong, SIZE_T, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToULong, SIZE_T, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToDWord, SIZE_T, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToInt, SIZE_T, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToUInt, SIZE_T, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToLong, SIZE_T, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToULong, SIZE_T, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToDWord, SIZE_T, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToInt, ULONG_PTR, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToUInt, ULONG_PTR, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToLong, ULONG_PTR, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToULong, ULONG_PTR, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlDWordPtrToDWord, DWORD_PTR, DWORD, DWORD_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToInt, LONG_PTR, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToUInt, LONG_PTR, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToLong, LONG_PTR, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToULong, LONG_PTR, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToInt, INT_PTR, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToUInt, INT_PTR, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToLong, INT_PTR, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToULong, INT_PTR, ULONG, ULONG_ERROR)
NTINTSAFE_CONVERT(RtlUIntPtrToInt, UINT_PTR, INT, INT_ERROR)
NTINTSAFE_CONVERT(RtlUIntPtrToUInt, UINT_PTR, UINT, UINT_ERROR)
NTINTSAFE_CONVERT(RtlUIntPtrToLong, UINT_PTR, LONG, LONG_ERROR)
NTINTSAFE_CONVERT(RtlUIntPtrToULong, UINT_PTR, ULONG, ULONG_ERROR)

/* ---- conversions to 64 bits (only sign changes can fail) ---- */
NTINTSAFE_CONVERT(RtlIntToULongLong, INT, ULONGLONG, ULONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlIntToSizeT, INT, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlIntToSIZET, INT, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlIntToULongPtr, INT, ULONG_PTR, ULONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlIntToUIntPtr, INT, UINT_PTR, UINT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlLongToULongLong, LONG, ULONGLONG, ULONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlLongToSizeT, LONG, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlLongToSIZET, LONG, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlLongToULongPtr, LONG, ULONG_PTR, ULONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlLongToUIntPtr, LONG, UINT_PTR, UINT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToULongLong, LONGLONG, ULONGLONG, ULONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToSizeT, LONGLONG, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlLongLongToULongPtr, LONGLONG, ULONG_PTR, ULONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToLongLong, ULONGLONG, LONGLONG, LONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToLongPtr, ULONGLONG, LONG_PTR, LONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToIntPtr, ULONGLONG, INT_PTR, INT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlULongLongToSSIZET, ULONGLONG, SSIZE_T, SSIZET_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToLongLong, SIZE_T, LONGLONG, LONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToLongPtr, SIZE_T, LONG_PTR, LONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToIntPtr, SIZE_T, INT_PTR, INT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToLongLong, SIZE_T, LONGLONG, LONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToLongPtr, SIZE_T, LONG_PTR, LONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToIntPtr, SIZE_T, INT_PTR, INT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToLongPtr, ULONG_PTR, LONG_PTR, LONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlULongPtrToLongLong, ULONG_PTR, LONGLONG, LONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToULongPtr, LONG_PTR, ULONG_PTR, ULONG_PTR_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToULongLong, LONG_PTR, ULONGLONG, ULONGLONG_ERROR)
NTINTSAFE_CONVERT(RtlLongPtrToSizeT, LONG_PTR, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToUIntPtr, INT_PTR, UINT_PTR, UINT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlIntPtrToSizeT, INT_PTR, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlUIntPtrToIntPtr, UINT_PTR, INT_PTR, INT_PTR_ERROR)
NTINTSAFE_CONVERT(RtlSSIZETToSIZET, SSIZE_T, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlSIZETToSSIZET, SIZE_T, SSIZE_T, SSIZET_ERROR)
NTINTSAFE_CONVERT(RtlPtrdiffTToSizeT, LONG_PTR, SIZE_T, SIZET_ERROR)
NTINTSAFE_CONVERT(RtlSizeTToPtrdiffT, SIZE_T, LONG_PTR, PTRDIFF_T_ERROR)

#undef NTINTSAFE_ARITH
#undef NTINTSAFE_OP
#undef NTINTSAFE_CONVERT

#ifndef __cplusplus
/* Windows' size_t, SIZE_T, ULONG_PTR and ULONGLONG are one 64-bit type,
 * so drivers pass any of them for any other.  Here size_t, SIZE_T and
 * ULONG_PTR are unsigned long while ULONGLONG is unsigned long long
 * (likewise the signed ones), and GCC 14 and clang 16 reject the
 * mismatched pointer (hazard H5).  These wrappers let a 64-bit result go
 * through either pointer type; anything else still fails to compile.
 * (C only: _Generic.) */
#define NTINTSAFE_U64_OUT(p) _Generic((p), unsigned long *: (ULONGLONG *)(void *)(p), default: (p))
#define NTINTSAFE_S64_OUT(p) _Generic((p), long *: (LONGLONG *)(void *)(p), default: (p))
#define NTINTSAFE_UPTR_OUT(p) _Generic((p), unsigned long long *: (ULONG_PTR *)(void *)(p), default: (p))
#define NTINTSAFE_SPTR_OUT(p) _Generic((p), long long *: (LONG_PTR *)(void *)(p), default: (p))
#define RtlULongLongAdd(a, b, r) RtlULongLongAdd((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlULongLongSub(a, b, r) RtlULongLongSub((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlULongLongMult(a, b, r) RtlULongLongMult((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWordLongAdd(a, b, r) RtlDWordLongAdd((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWordLongSub(a, b, r) RtlDWordLongSub((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWordLongMult(a, b, r) RtlDWordLongMult((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlULong64Add(a, b, r) RtlULong64Add((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlULong64Sub(a, b, r) RtlULong64Sub((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlULong64Mult(a, b, r) RtlULong64Mult((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWord64Add(a, b, r) RtlDWord64Add((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWord64Sub(a, b, r) RtlDWord64Sub((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlDWord64Mult(a, b, r) RtlDWord64Mult((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlUInt64Add(a, b, r) RtlUInt64Add((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlUInt64Sub(a, b, r) RtlUInt64Sub((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlUInt64Mult(a, b, r) RtlUInt64Mult((a), (b), NTINTSAFE_U64_OUT(r))
#define RtlUIntPtrAdd(a, b, r) RtlUIntPtrAdd((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlUIntPtrSub(a, b, r) RtlUIntPtrSub((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlUIntPtrMult(a, b, r) RtlUIntPtrMult((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlULongPtrAdd(a, b, r) RtlULongPtrAdd((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlULongPtrSub(a, b, r) RtlULongPtrSub((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlULongPtrMult(a, b, r) RtlULongPtrMult((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlDWordPtrAdd(a, b, r) RtlDWordPtrAdd((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlDWordPtrSub(a, b, r) RtlDWordPtrSub((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlDWordPtrMult(a, b, r) RtlDWordPtrMult((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSizeTAdd(a, b, r) RtlSizeTAdd((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSizeTSub(a, b, r) RtlSizeTSub((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSizeTMult(a, b, r) RtlSizeTMult((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSIZETAdd(a, b, r) RtlSIZETAdd((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSIZETSub(a, b, r) RtlSIZETSub((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlSIZETMult(a, b, r) RtlSIZETMult((a), (b), NTINTSAFE_UPTR_OUT(r))
#define RtlLongLongAdd(a, b, r) RtlLongLongAdd((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlLongLongSub(a, b, r) RtlLongLongSub((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlLongLongMult(a, b, r) RtlLongLongMult((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlLong64Add(a, b, r) RtlLong64Add((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlLong64Sub(a, b, r) RtlLong64Sub((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlLong64Mult(a, b, r) RtlLong64Mult((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlInt64Add(a, b, r) RtlInt64Add((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlInt64Sub(a, b, r) RtlInt64Sub((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlInt64Mult(a, b, r) RtlInt64Mult((a), (b), NTINTSAFE_S64_OUT(r))
#define RtlIntPtrAdd(a, b, r) RtlIntPtrAdd((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlIntPtrSub(a, b, r) RtlIntPtrSub((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlIntPtrMult(a, b, r) RtlIntPtrMult((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlLongPtrAdd(a, b, r) RtlLongPtrAdd((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlLongPtrSub(a, b, r) RtlLongPtrSub((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlLongPtrMult(a, b, r) RtlLongPtrMult((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlSSIZETAdd(a, b, r) RtlSSIZETAdd((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlSSIZETSub(a, b, r) RtlSSIZETSub((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlSSIZETMult(a, b, r) RtlSSIZETMult((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlPtrdiffTAdd(a, b, r) RtlPtrdiffTAdd((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlPtrdiffTSub(a, b, r) RtlPtrdiffTSub((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlPtrdiffTMult(a, b, r) RtlPtrdiffTMult((a), (b), NTINTSAFE_SPTR_OUT(r))
#define RtlIntToULongLong(v, r) RtlIntToULongLong((v), NTINTSAFE_U64_OUT(r))
#define RtlIntToSizeT(v, r) RtlIntToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlIntToSIZET(v, r) RtlIntToSIZET((v), NTINTSAFE_UPTR_OUT(r))
#define RtlIntToULongPtr(v, r) RtlIntToULongPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlIntToUIntPtr(v, r) RtlIntToUIntPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongToULongLong(v, r) RtlLongToULongLong((v), NTINTSAFE_U64_OUT(r))
#define RtlLongToSizeT(v, r) RtlLongToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongToSIZET(v, r) RtlLongToSIZET((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongToULongPtr(v, r) RtlLongToULongPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongToUIntPtr(v, r) RtlLongToUIntPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongLongToULongLong(v, r) RtlLongLongToULongLong((v), NTINTSAFE_U64_OUT(r))
#define RtlLongLongToSizeT(v, r) RtlLongLongToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongLongToULongPtr(v, r) RtlLongLongToULongPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongPtrToULongPtr(v, r) RtlLongPtrToULongPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlLongPtrToULongLong(v, r) RtlLongPtrToULongLong((v), NTINTSAFE_U64_OUT(r))
#define RtlLongPtrToSizeT(v, r) RtlLongPtrToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlIntPtrToUIntPtr(v, r) RtlIntPtrToUIntPtr((v), NTINTSAFE_UPTR_OUT(r))
#define RtlIntPtrToSizeT(v, r) RtlIntPtrToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlSSIZETToSIZET(v, r) RtlSSIZETToSIZET((v), NTINTSAFE_UPTR_OUT(r))
#define RtlPtrdiffTToSizeT(v, r) RtlPtrdiffTToSizeT((v), NTINTSAFE_UPTR_OUT(r))
#define RtlULongLongToLongLong(v, r) RtlULongLongToLongLong((v), NTINTSAFE_S64_OUT(r))
#define RtlULongLongToLongPtr(v, r) RtlULongLongToLongPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlULongLongToIntPtr(v, r) RtlULongLongToIntPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlULongLongToSSIZET(v, r) RtlULongLongToSSIZET((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSizeTToLongLong(v, r) RtlSizeTToLongLong((v), NTINTSAFE_S64_OUT(r))
#define RtlSizeTToLongPtr(v, r) RtlSizeTToLongPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSizeTToIntPtr(v, r) RtlSizeTToIntPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSIZETToLongLong(v, r) RtlSIZETToLongLong((v), NTINTSAFE_S64_OUT(r))
#define RtlSIZETToLongPtr(v, r) RtlSIZETToLongPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSIZETToIntPtr(v, r) RtlSIZETToIntPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlULongPtrToLongPtr(v, r) RtlULongPtrToLongPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlULongPtrToLongLong(v, r) RtlULongPtrToLongLong((v), NTINTSAFE_S64_OUT(r))
#define RtlUIntPtrToIntPtr(v, r) RtlUIntPtrToIntPtr((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSIZETToSSIZET(v, r) RtlSIZETToSSIZET((v), NTINTSAFE_SPTR_OUT(r))
#define RtlSizeTToPtrdiffT(v, r) RtlSizeTToPtrdiffT((v), NTINTSAFE_SPTR_OUT(r))
#endif /* !__cplusplus */

EXTERN_C_END

#endif /* OPENWSK_NTINTSAFE_H */
