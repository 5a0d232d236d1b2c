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
    openwsk.pc openwskConfig.cmake openwskDriver.cmake libopenwsk.a libopenwsk.so; do
    echo "$contents" | grep -q "$want" || { echo "check_deb: $want missing from $deb" >&2; exit 1; }
done
dpkg-deb -x "$deb" "$work/root"
OPENWSK_CHECK_PREFIX="$work/root/usr" sh "$src/tests/client_compat/check_install.sh" "$build" "$src"
echo "deb check: $(basename "$deb") unpacked and built against"
