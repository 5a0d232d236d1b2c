/*
 * ntifs.h - file-system kit header; for WSK clients it only needs ntddk.h.
 */
#ifndef OPENWSK_NTIFS_H
#define OPENWSK_NTIFS_H
#include <ntddk.h>
#endif
