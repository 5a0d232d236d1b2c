/*
 * echo_demo.c - hosts echo_driver.c in this process (until wskhost exists):
 * DriverEntry, a Linux client exchanging data with the driver, DriverUnload,
 * then the leak report.  Exit status 0 only if every byte came back and
 * nothing leaked.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <stdio.h>

#include "demo_client.h"

extern USHORT EchoPort;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

int main(void)
{
    static DRIVER_OBJECT driver;
    UNICODE_STRING path;
    RtlInitUnicodeString(&path, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\echo");
    NTSTATUS status = DriverEntry(&driver, &path);
    if (!NT_SUCCESS(status)) {
        fprintf(stderr, "echo demo: DriverEntry failed: 0x%08X\n", (unsigned)status);
        return 1;
    }
    int failures = demo_client_run(EchoPort);
    driver.DriverUnload(&driver);
    SIZE_T leaks = openwsk_leak_report();
    printf("echo demo: %s (%d failures, %zu leaked allocations)\n", failures || leaks ? "FAILED" : "OK", failures,
           (size_t)leaks);
    return failures || leaks ? 1 : 0;
}
