#include "tcp_reset.h"

#include <arpa/inet.h>
#include <string.h>

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The Internet checksum's running sum over big-endian 16-bit words. */
static uint32_t sum16(uint32_t sum, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

int tcp_parse(const unsigned char *pkt, size_t len, tcp_view *v)
{
    if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != 6 /* IPPROTO_TCP */)
        return 0;
    size_t ihl = (size_t)(pkt[0] & 0x0F) * 4;
    size_t total = (size_t)pkt[2] << 8 | pkt[3];
    unsigned frag = ((unsigned)pkt[6] << 8 | pkt[7]) & 0x3FFF; /* MF flag and offset */
    if (ihl < 20 || total > len || total < ihl + 20 || frag != 0)
        return 0;
    const unsigned char *t = pkt + ihl;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (doff < 20 || ihl + doff > total)
        return 0;
    memcpy(&v->saddr, pkt + 12, 4);
    memcpy(&v->daddr, pkt + 16, 4);
    memcpy(&v->sport, t, 2);
    memcpy(&v->dport, t + 2, 2);
    v->seq = get32(t + 4);
    v->ack = get32(t + 8);
    v->flags = t[13];
    v->payload = total - ihl - doff;
    return 1;
}

size_t tcp_make_rst_reply(const tcp_view *v, unsigned char out[40])
{
    unsigned char *ip = out, *t = out + 20;
    memset(out, 0, 40);
    ip[0] = 0x45;
    ip[3] = 40; /* total length */
    ip[6] = 0x40; /* don't fragment */
    ip[8] = 64; /* TTL */
    ip[9] = 6;
    memcpy(ip + 12, &v->daddr, 4);
    memcpy(ip + 16, &v->saddr, 4);
    uint16_t c = fold(sum16(0, ip, 20));
    ip[10] = (unsigned char)(c >> 8);
    ip[11] = (unsigned char)c;

    memcpy(t, &v->dport, 2);
    memcpy(t + 2, &v->sport, 2);
    /* SYN and FIN take a sequence number each. */
    uint32_t consumed = (uint32_t)v->payload + ((v->flags & TCP_SYN) != 0) + ((v->flags & TCP_FIN) != 0);
    put32(t + 4, (v->flags & TCP_ACK) ? v->ack : 0);
    put32(t + 8, v->seq + consumed);
    t[12] = 5 << 4;
    t[13] = TCP_RST | TCP_ACK;
    /* Pseudo-header: addresses, protocol, TCP length. */
    uint32_t sum = sum16(0, ip + 12, 8) + 6 + 20;
    c = fold(sum16(sum, t, 20));
    t[16] = (unsigned char)(c >> 8);
    t[17] = (unsigned char)c;
    return 40;
}
