#define _GNU_SOURCE
#include "tun_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int attach(const char *ifname)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "netimpair: /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI; /* bare IPv4/IPv6 packets, no header */
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        fprintf(stderr, "netimpair: TUNSETIFF %s: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int tun_open_in_netns(const char *netns_path, const char *ifname)
{
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(netns_path, O_RDONLY | O_CLOEXEC);
    int fd = -1;
    if (home < 0 || target < 0) {
        fprintf(stderr, "netimpair: cannot open %s: %s\n", home < 0 ? "/proc/self/ns/net" : netns_path,
                strerror(errno));
    } else if (setns(target, CLONE_NEWNET) != 0) {
        fprintf(stderr, "netimpair: setns %s: %s\n", netns_path, strerror(errno));
    } else {
        fd = attach(ifname);
        if (setns(home, CLONE_NEWNET) != 0) {
            fprintf(stderr, "netimpair: cannot return to the original namespace: %s\n", strerror(errno));
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    if (home >= 0)
        close(home);
    if (target >= 0)
        close(target);
    return fd;
}
