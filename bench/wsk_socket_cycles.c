/*
 * wsk_socket_cycles.c - WskSocket + WskBind (127.0.0.1:0) + WskCloseSocket
 * on a UDP datagram socket, in a loop, each call waited for the way driver
 * code waits (IRP, completion routine, event): the provider's per-socket
 * cost against bench_native_socket_cycles' socket + bind + close.
 *
 *   wsk_socket_cycles --seconds S
 *
 * Prints the same RESULT line as the native program.
 */
#include <ntddk.h>
#include <wsk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static NTSTATUS signal_event(PDEVICE_OBJECT device, PIRP irp, PVOID event)
{
    (void)device;
    (void)irp;
    KeSetEvent(event, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP arm(PIRP irp, PKEVENT done)
{
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(done);
    IoSetCompletionRoutine(irp, signal_event, done, TRUE, TRUE, TRUE);
    return irp;
}

static NTSTATUS finish(PIRP irp, PKEVENT done, NTSTATUS returned)
{
    if (returned == STATUS_PENDING) {
        KeWaitForSingleObject(done, Executive, KernelMode, FALSE, NULL);
        returned = irp->IoStatus.Status;
    }
    return returned;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = 0;
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0)
        seconds = atof(argv[2]);
    if (seconds <= 0) {
        fprintf(stderr, "usage: wsk_socket_cycles --seconds S\n");
        return 2;
    }
    static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
    WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI provider;
    if (!NT_SUCCESS(WskRegister(&npi, &registration)) ||
        !NT_SUCCESS(WskCaptureProviderNPI(&registration, WSK_INFINITE_WAIT, &provider))) {
        fprintf(stderr, "wsk_socket_cycles: WSK registration failed\n");
        return 1;
    }
    PIRP irp = IoAllocateIrp(1, FALSE);
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    SOCKADDR_IN local = {0};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
    unsigned long long ops = 0, errors = 0;
    double start = now(), elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 256; i++) {
            NTSTATUS st = finish(irp, &done,
                                 provider.Dispatch->WskSocket(provider.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                                                              WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                                              arm(irp, &done)));
            if (!NT_SUCCESS(st)) {
                errors++;
                continue;
            }
            PWSK_SOCKET s = (PWSK_SOCKET)irp->IoStatus.Information;
            const WSK_PROVIDER_DATAGRAM_DISPATCH *d = s->Dispatch;
            st = finish(irp, &done, d->WskBind(s, (PSOCKADDR)&local, 0, arm(irp, &done)));
            errors += !NT_SUCCESS(st);
            st = finish(irp, &done, d->WskCloseSocket(s, arm(irp, &done)));
            errors += !NT_SUCCESS(st);
            ops++;
        }
        elapsed = now() - start;
    }
    IoFreeIrp(irp);
    WskReleaseProviderNPI(&registration);
    WskDeregister(&registration);
    printf("RESULT workload=socket_cycles rate=%.1f unit=ops/s ops=%llu seconds=%.3f p50_us=0 p99_us=0 lost=0 "
           "errors=%llu\n",
           (double)ops / elapsed, ops, elapsed, errors);
    return errors ? 1 : 0;
}
