/*
 * openwsk_user.h - the Win32 calls a Linux program uses to talk to a
 * driver running under wskhost: CreateFileW / CreateFileA on "\\.\Name"
 * (the driver's \DosDevices\Name link) or "\\.\GLOBALROOT\Device\Name",
 * DeviceIoControl, ReadFile, WriteFile, CloseHandle, GetLastError.
 * Link with libopenwsk_user.  An ordinary Linux header: it does not use
 * the WDK-compatible kernel headers and needs no special compiler flags
 * (wide strings are char16_t: u"\\\\.\\Name").
 *
 * A handle opened without FILE_FLAG_OVERLAPPED is synchronous: one request
 * at a time, as the I/O manager serializes a synchronous file object (a
 * thread's call waits for another thread's call on the handle to finish).
 * With FILE_FLAG_OVERLAPPED, calls given an OVERLAPPED always return FALSE
 * with ERROR_IO_PENDING and any number may be in flight; collect each with
 * GetOverlappedResult (hEvent is not used: wait with bWait = TRUE),
 * cancel with CancelIoEx.  One request carries at most
 * OPENWSK_MAX_TRANSFER bytes of input plus output.
 */
#ifndef OPENWSK_USER_H
#define OPENWSK_USER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int BOOL;
typedef uint32_t DWORD;
typedef DWORD *LPDWORD;
typedef int32_t LONG;
typedef int32_t NTSTATUS;
typedef void *HANDLE;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef uint16_t WCHAR;
typedef const WCHAR *LPCWSTR;
typedef const char *LPCSTR;
/* On a synchronous handle (the only kind here) an OVERLAPPED gives ReadFile
 * and WriteFile their offset and receives the status and byte count. */
typedef struct _OVERLAPPED {
    uintptr_t Internal;     /* the NTSTATUS */
    uintptr_t InternalHigh; /* the bytes transferred */
    DWORD Offset;
    DWORD OffsetHigh;
    HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;
typedef void *LPSECURITY_ATTRIBUTES;

#ifndef TRUE
#define TRUE 1
#define FALSE 0
#endif

#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#define OPENWSK_MAX_TRANSFER (128u * 1024u)

#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_ALL 0x10000000u
#define FILE_READ_DATA 0x0001u
#define FILE_WRITE_DATA 0x0002u
#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define FILE_SHARE_DELETE 0x00000004u
#define CREATE_NEW 1
#define CREATE_ALWAYS 2
#define OPEN_EXISTING 3
#define OPEN_ALWAYS 4
#define TRUNCATE_EXISTING 5
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define FILE_FLAG_OVERLAPPED 0x40000000u

/* winioctl.h */
#ifndef CTL_CODE
#define CTL_CODE(DeviceType, Function, Method, Access) \
    (((DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method))
#endif
#define DEVICE_TYPE_FROM_CTL_CODE(ctrlCode) (((DWORD)(ctrlCode & 0xffff0000)) >> 16)
#define METHOD_FROM_CTL_CODE(ctrlCode) ((DWORD)(ctrlCode & 3))
#define METHOD_BUFFERED 0
#define METHOD_IN_DIRECT 1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER 3
#define FILE_ANY_ACCESS 0
#define FILE_SPECIAL_ACCESS FILE_ANY_ACCESS
#define FILE_READ_ACCESS 0x0001
#define FILE_WRITE_ACCESS 0x0002
#define FILE_DEVICE_UNKNOWN 0x00000022

/* winerror.h: the codes RtlNtStatusToDosError gives for common statuses. */
#define ERROR_SUCCESS 0
#define ERROR_INVALID_FUNCTION 1
#define ERROR_FILE_NOT_FOUND 2
#define ERROR_PATH_NOT_FOUND 3
#define ERROR_ACCESS_DENIED 5
#define ERROR_INVALID_HANDLE 6
#define ERROR_NOT_ENOUGH_MEMORY 8
#define ERROR_NOT_READY 21
#define ERROR_GEN_FAILURE 31
#define ERROR_SHARING_VIOLATION 32
#define ERROR_HANDLE_EOF 38
#define ERROR_NOT_SUPPORTED 50
#define ERROR_DEV_NOT_EXIST 55
#define ERROR_INVALID_PARAMETER 87
#define ERROR_INSUFFICIENT_BUFFER 122
#define ERROR_INVALID_NAME 123
#define ERROR_BUSY 170
#define ERROR_ALREADY_EXISTS 183
#define ERROR_MORE_DATA 234
#define ERROR_MR_MID_NOT_FOUND 317
#define ERROR_OPERATION_ABORTED 995
#define ERROR_IO_INCOMPLETE 996
#define ERROR_IO_PENDING 997
#define ERROR_NOT_FOUND 1168
#define ERROR_NO_SYSTEM_RESOURCES 1450
#define ERROR_TIMEOUT 1460

HANDLE CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
HANDLE CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
BOOL DeviceIoControl(HANDLE hDevice, DWORD dwIoControlCode, LPVOID lpInBuffer, DWORD nInBufferSize,
                     LPVOID lpOutBuffer, DWORD nOutBufferSize, LPDWORD lpBytesReturned, LPOVERLAPPED lpOverlapped);
BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
              LPOVERLAPPED lpOverlapped);
BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten,
               LPOVERLAPPED lpOverlapped);
BOOL CloseHandle(HANDLE hObject);
BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
/* Cancels every request in flight on the handle (Windows: the calling thread's). */
BOOL CancelIo(HANDLE hFile);
#define HasOverlappedIoCompleted(lpOverlapped) ((lpOverlapped)->Internal != 0x00000103)
/* Thread-local, as on Windows. */
DWORD GetLastError(void);
void SetLastError(DWORD dwErrCode);
/* ntdll's mapping from an NTSTATUS to a Win32 error code. */
DWORD RtlNtStatusToDosError(NTSTATUS Status);
/* The NTSTATUS of the calling thread's last failed (or warning) request;
 * openwsk's addition: Windows keeps it in the TEB (LastStatusValue). */
NTSTATUS OpenwskGetLastNtStatus(void);

#ifdef __cplusplus
}
#endif

#endif /* OPENWSK_USER_H */
