/*
 * record_client.c - the Linux client of the record_sum example: sends
 * records (a 4-byte little-endian length, then that many bytes) one at a
 * time, each in one write, and checks every 8-byte answer (sum of the
 * bytes, length).
 *
 *   record_client PORT COUNT
 * Exits 0 if every answer was right, 1 at the first wrong or missing one
 * (saying which), 2 on a usage or connection error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECORD_MAX 4096

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 when n bytes were read, 0 at EOF first, -1 on error. */
static int read_all(int fd, unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: record_client PORT COUNT\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long count = atol(argv[2]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("record_client: connect");
        return 2;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    static unsigned char record[4 + RECORD_MAX];
    uint32_t state = 12345;
    for (long k = 0; k < count; k++) {
        state = state * 1103515245u + 12345u;
        uint32_t length = 1 + (state >> 8) % RECORD_MAX;
        uint32_t sum = 0;
        for (uint32_t i = 0; i < 4; i++)
            record[i] = (unsigned char)(length >> (8 * i));
        for (uint32_t i = 0; i < length; i++) {
            record[4 + i] = (unsigned char)(k * 31 + i * 7);
            sum += record[4 + i];
        }
        unsigned char answer[8];
        if (write_all(fd, record, 4 + length) != 0 || read_all(fd, answer, 8) != 1) {
            printf("record_client: record %ld (%u bytes): no answer, the driver closed the connection\n", k, length);
            return 1;
        }
        uint32_t got_sum = answer[0] | answer[1] << 8 | answer[2] << 16 | (uint32_t)answer[3] << 24;
        uint32_t got_length = answer[4] | answer[5] << 8 | answer[6] << 16 | (uint32_t)answer[7] << 24;
        if (got_sum != sum || got_length != length) {
            printf("record_client: record %ld: expected sum %u of %u bytes, the driver said sum %u of %u bytes\n", k,
                   sum, length, got_sum, got_length);
            return 1;
        }
    }
    shutdown(fd, SHUT_WR);
    unsigned char rest;
    if (read(fd, &rest, 1) > 0) { /* EOF, or a reset: the driver closes without a disconnect */
        printf("record_client: unexpected bytes after the last answer\n");
        return 1;
    }
    close(fd);
    printf("record_client: %ld records ok\n", count);
    return 0;
}
