#!/bin/sh
# raise-nofile.sh COMMAND [ARGS...]
#
# Runs COMMAND with the soft RLIMIT_NOFILE raised to the hard limit (at
# least as far as the shell allows): wskhost holds one Linux socket per
# WSK connection, and 1,000 connections do not fit the common default of
# 1,024 descriptors.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null
exec "$@"
