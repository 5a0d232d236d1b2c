#!/bin/sh
# check_deb.sh BUILD_DIR SOURCE_DIR - makes the Debian package with cpack,
# checks what it declares and holds, unpacks it into a scratch root (no
# system install), and runs check_install.sh's builds against that root.
set -eu
build=$1; src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work/pkg" >/dev/null)
deb=$(ls "$work"/pkg/openwsk_*.deb)
dpkg-deb --field "$deb" Package Version Depends
contents=$(dpkg-deb --contents "$deb")
for want in usr/include/openwsk/wsk.h usr/include/openwsk/wdm.h usr/bin/wskhost usr/bin/openwsk-wpp-tmh \
    openwsk.pc openwskConfig.cmake openwskDriver.cmake libopenwsk.a libopenwsk.so \
    usr/include/openwsk/openwsk_user.h libopenwsk_user.so usr/bin/openwsk-ioctl; do
    echo "$contents" | grep -q "$want" || { echo "check_deb: $want missing from $deb" >&2; exit 1; }
done
dpkg-deb -x "$deb" "$work/root"
OPENWSK_CHECK_PREFIX="$work/root/usr" sh "$src/tests/client_compat/check_install.sh" "$build" "$src"
# A user-mode companion program, built against the unpacked user library:
# opening a device nobody serves fails the Win32 way.
cat > "$work/companion.c" <<'C'
#include <openwsk_user.h>
#include <stdio.h>
int main(void)
{
    HANDLE h = CreateFileA("\\\\.\\NoSuchDevice", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h != INVALID_HANDLE_VALUE || GetLastError() != ERROR_FILE_NOT_FOUND) {
        printf("unexpected: handle %p, error %lu\n", (void *)h, (unsigned long)GetLastError());
        return 1;
    }
    return 0;
}
C
libdir=$(dirname "$(find "$work/root" -name 'libopenwsk_user.so' | head -n 1)")
${CC:-cc} -o "$work/companion" "$work/companion.c" -I"$work/root/usr/include/openwsk" -L"$libdir" -lopenwsk_user
LD_LIBRARY_PATH="$libdir" "$work/companion"
echo "deb check: $(basename "$deb") unpacked and built against"
