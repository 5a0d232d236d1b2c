#!/bin/sh
# valgrind_driver.sh sanitize=[SANITIZE] RUN_SCRIPT WSKHOST DRIVER.so READY -- CLIENT [ARGS...]
#     Runs an example driver the way its own test does (tools/wskhost-run.sh
#     with its client; @PORT@ in ARGS is the driver's port) with wskhost
#     under valgrind memcheck: any memory error, or a definite or indirect
#     leak, fails the test.
#     Exits 77 (a CTest skip) in sanitizer builds (SANITIZE not empty:
#     sanitized binaries do not run under valgrind) and without valgrind.
set -u
sanitize=${1#sanitize=} run=$2 wskhost=$3 driver=$4 ready=$5
shift 5
[ "${1:-}" = "--" ] && shift
if [ -n "$sanitize" ]; then
    echo "skipped: sanitizer build ($sanitize)"
    exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "skipped: valgrind is not installed"
    exit 77
fi

# wskhost-run.sh starts "WSKHOST DRIVER -- params" and signals that pid, so
# the wrapper execs valgrind in its place (valgrind hands SIGTERM to wskhost).
wrapper=$(mktemp)
trap 'rm -f "$wrapper"' EXIT
cat >"$wrapper" <<SH
#!/bin/sh
exec valgrind --quiet --error-exitcode=99 --track-origins=yes \\
    --leak-check=full --errors-for-leak-kinds=definite,indirect "$wskhost" "\$@"
SH
chmod +x "$wrapper"

# io_uring is not reliably supported under valgrind (its syscalls and the
# shared rings are not fully modelled), so the epoll backend is forced.
OPENWSK_IO_BACKEND=epoll sh "$run" "$wrapper" "$driver" "$ready" -- "$@"
