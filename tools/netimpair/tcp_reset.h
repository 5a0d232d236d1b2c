/*
 * tcp_reset.h - just enough IPv4/TCP to reset a connection from the middle.
 *
 * A Linux endpoint accepts a RST only if its sequence number is exactly
 * the next one it expects (RFC 5961, section 3); any other in-window RST
 * draws a challenge ACK.  The next sequence number an endpoint expects is
 * the acknowledgment number of the last segment it sent, so the relay
 * answers a segment with a RST whose sequence number is that segment's
 * acknowledgment number: every segment an endpoint sends after the
 * connection was cut (retransmissions, window probes, delayed ACKs) is
 * answered with a RST it accepts.
 */
#ifndef NETIMPAIR_TCP_RESET_H
#define NETIMPAIR_TCP_RESET_H

#include <stddef.h>
#include <stdint.h>

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10 };

typedef struct tcp_view {
    uint32_t saddr, daddr; /* network byte order */
    uint16_t sport, dport; /* network byte order */
    uint32_t seq, ack;     /* host byte order */
    uint8_t flags;
    size_t payload;        /* TCP payload bytes */
} tcp_view;

/* 1 if PKT is an unfragmented IPv4 TCP segment (V filled in), else 0. */
int tcp_parse(const unsigned char *pkt, size_t len, tcp_view *v);

/* Writes into OUT (40 bytes) a RST|ACK from V's receiver to V's sender
 * that the sender accepts; returns its length. */
size_t tcp_make_rst_reply(const tcp_view *v, unsigned char out[40]);

#endif
