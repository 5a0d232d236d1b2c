/*
 * openwsk-ioctl - sends one I/O control request by hand to a device that a
 * driver under wskhost exposes, and prints what came back.
 *
 *   openwsk-ioctl [-r] [-w] DEVICE CODE [INPUT-HEX [OUTPUT-SIZE]]
 *
 * DEVICE is a Win32 device path (\\.\Name or \\.\GLOBALROOT\Device\Name);
 * CODE the control code (hex with 0x, or decimal); INPUT-HEX the input
 * bytes as hex digits ("" or "-" for none; spaces and colons ignored);
 * OUTPUT-SIZE the output buffer's size in bytes (default 0).  The handle is
 * opened with GENERIC_READ | GENERIC_WRITE unless -r or -w narrows it.
 * Prints the NTSTATUS, the Win32 error, Information (the bytes returned)
 * and the output bytes in hex; exit status 0 if the request succeeded,
 * 1 if the driver failed it, 2 on a usage or open error.
 */
#include <openwsk_user.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: openwsk-ioctl [-r] [-w] DEVICE CODE [INPUT-HEX [OUTPUT-SIZE]]\n"
          "  e.g. openwsk-ioctl '\\\\.\\IoctlCounter' 0x226000 - 8\n",
          stderr);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses hex digits (pairs) into a new buffer; -1 on a malformed string. */
static long parse_hex(const char *s, unsigned char **out)
{
    size_t cap = strlen(s) / 2 + 1, n = 0;
    *out = malloc(cap);
    if (*out == NULL)
        return -1;
    int high = -1;
    for (; *s; s++) {
        if (*s == ' ' || *s == ':' || *s == '-')
            continue;
        int v = hex_value((unsigned char)*s);
        if (v < 0)
            return -1;
        if (high < 0) {
            high = v;
        } else {
            (*out)[n++] = (unsigned char)(high << 4 | v);
            high = -1;
        }
    }
    return high < 0 ? (long)n : -1;
}

int main(int argc, char **argv)
{
    DWORD access = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-r") == 0)
            access |= GENERIC_READ;
        else if (strcmp(argv[i], "-w") == 0)
            access |= GENERIC_WRITE;
        else {
            usage();
            return 2;
        }
    }
    if (argc - i < 2 || argc - i > 4) {
        usage();
        return 2;
    }
    if (access == 0)
        access = GENERIC_READ | GENERIC_WRITE;
    const char *path = argv[i];
    char *end;
    unsigned long code = strtoul(argv[i + 1], &end, 0);
    if (*end != '\0' || code > 0xFFFFFFFFul) {
        usage();
        return 2;
    }
    unsigned char *in = NULL;
    long in_n = 0;
    if (argc - i >= 3 && strcmp(argv[i + 2], "-") != 0) {
        in_n = parse_hex(argv[i + 2], &in);
        if (in_n < 0) {
            fprintf(stderr, "openwsk-ioctl: \"%s\" is not hex bytes\n", argv[i + 2]);
            free(in);
            return 2;
        }
    }
    unsigned long out_n = 0;
    if (argc - i >= 4) {
        out_n = strtoul(argv[i + 3], &end, 0);
        if (*end != '\0' || out_n > OPENWSK_MAX_TRANSFER) {
            usage();
            free(in);
            return 2;
        }
    }
    HANDLE h = CreateFileA(path, access, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "openwsk-ioctl: CreateFile %s: status 0x%08X, error %u\n", path,
                (unsigned)OpenwskGetLastNtStatus(), (unsigned)GetLastError());
        free(in);
        return 2;
    }
    unsigned char *out = out_n ? calloc(1, out_n) : NULL;
    DWORD returned = 0;
    BOOL ok = DeviceIoControl(h, (DWORD)code, in, (DWORD)in_n, out, (DWORD)out_n, &returned, NULL);
    DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    printf("status 0x%08X\n", ok ? 0u : (unsigned)OpenwskGetLastNtStatus());
    printf("error %u\n", (unsigned)error);
    printf("information %u\n", (unsigned)returned);
    printf("output");
    for (DWORD k = 0; k < returned && k < out_n; k++)
        printf(" %02x", out[k]);
    printf("\n");
    CloseHandle(h);
    free(in);
    free(out);
    return ok ? 0 : 1;
}
