# summary.awk - the tables of bench/run.sh, from its raw.txt.
#   awk -v have_wsk=yes|no -v impls="wsk-io_uring ... native-io_uring" -v cycle_impls="... native" \
#       -v rows="name:workload:conns:threads ..." -f bench/summary.awk raw.txt
# Per row and implementation: median rate over the rounds, min-max, median
# p50/p99 latency, median server CPU per operation, then the ratios against
# the BEST native server of the row (the native implementation with the
# highest median rate; its CPU and p99 are the references too) and issue
# 13's targets for the WSK server: rate >= 1.0x (socket_cycles >= 0.8x),
# CPU/op <= 1.1x, p99 <= 1.2x; with bench/run.sh --control, the same for
# control-* (a second run of a native server). After the tables, a count
# of the target cells each judged implementation met, then one
# machine-readable ROW line per (row, implementation).
#
# A ratio is paired: the median over rounds of the implementation's figure
# divided by the best native's figure of the SAME round (both ran within
# seconds of each other). On a shared virtual machine whole stretches of
# tens of seconds run about a third slower for every program alike; a
# ratio of medians taken over different rounds mixes those stretches, a
# same-round ratio cancels them. The ratio of the medians is kept in the
# ROW lines (rate_mx, cpu_mx, p99_mx), and so are the paired ratios against
# the native server of the same mechanism (rate_same, cpu_same, p99_same:
# wsk-io_uring against native-io_uring, wsk-epoll against native-epoll).

function sort_n(a, n,    i, j, v) { # insertion sort of a[1..n]
    for (i = 2; i <= n; i++) {
        v = a[i]
        for (j = i - 1; j >= 1 && a[j] > v; j--)
            a[j + 1] = a[j]
        a[j + 1] = v
    }
}

function median(a, n) { # a[1..n] sorted
    if (n == 0) return 0
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

# Median (and min/max in lo/hi) of one metric of one (row, impl).
function stat(r, impl, metric,    n, i, a) {
    n = runs[r, impl] + 0
    for (i = 1; i <= n; i++)
        a[i] = val[r, impl, metric, i]
    sort_n(a, n)
    lo = n ? a[1] : 0
    hi = n ? a[n] : 0
    return median(a, n)
}

# Median over the rounds where both ran of impl's metric / best's metric.
function paired(r, impl, best, metric,    k, n, a, x, y) {
    n = 0
    for (k = 1; k <= maxround; k++) {
        if (!((r, impl, k) in inround) || !((r, best, k) in inround)) continue
        x = val[r, impl, metric, inround[r, impl, k]]
        y = val[r, best, metric, inround[r, best, k]]
        if (x > 0 && y > 0) a[++n] = x / y
    }
    sort_n(a, n)
    return n ? sprintf("%.2f", median(a, n)) : "-"
}

# Counts one target cell of a judged implementation (WSK or control).
function tally(impl, r, metric, verdict) {
    if (verdict == "-") return
    if (!(impl in cells)) judged[++njudged] = impl
    cells[impl]++
    if (verdict == "met") met[impl]++
    else missed_cells[impl] = missed_cells[impl] " " r ":" metric
}

function num(x) { return x >= 1000 ? sprintf("%.0f", x) : sprintf("%.1f", x) }
function ratio(x, y) { return (y > 0 && x > 0) ? sprintf("%.2f", x / y) : "-" }
# "met" / "MISSED" for ratio x against a limit; "-" without a ratio.
function judge(x, limit, higher_is_better) {
    if (x == "-") return "-"
    return (higher_is_better ? x + 0 >= limit : x + 0 <= limit) ? "met" : "MISSED"
}

/^RUN / {
    delete f
    for (i = 2; i <= NF; i++) {
        eq = index($i, "=")
        f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    r = f["row"]; impl = f["impl"]
    if (f["status"] != "ok") { failed[r, impl]++; nfailed++; next }
    n = ++runs[r, impl]
    val[r, impl, "rate", n] = f["rate"] + 0
    val[r, impl, "p50", n] = f["p50_us"] + 0
    val[r, impl, "p99", n] = f["p99_us"] + 0
    val[r, impl, "cpu", n] = f["cpu_us_per_op"] + 0
    rd = f["round"] + 0
    inround[r, impl, rd] = n
    if (rd > maxround) maxround = rd
    unit[r] = f["unit"]
    pinned[r] = f["pinned"]
    next
}
/^# / { header = header $0 "\n" }

END {
    printf "%s", header
    nrows = split(rows, rowspec, " ")
    nnet = split(impls, netimpl, " ")
    ncyc = split(cycle_impls, cycimpl, " ")
    machine = ""
    for (k = 1; k <= nrows; k++) {
        split(rowspec[k], p, ":")
        r = p[1]; w = p[2]; conns = p[3]; threads = p[4]
        cyc = (w == "socket_cycles")
        lat = !cyc
        rate_limit = cyc ? 0.8 : 1.0
        if (cyc)
            printf "\n== %s: WskSocket+WskBind+WskCloseSocket vs socket+bind+close (%s; CPU = the program's own, all threads; not pinned)\n",
                r, unit[r] == "" ? "no results" : unit[r]
        else
            printf "\n== %s: %s, %s %s, %s server thread%s, pinned: %s (%s; CPU = the server's)\n", r, w, conns,
                w == "udp_echo" ? "sockets" : w == "tcp_connect" ? "at a time" : "connections", threads,
                threads == 1 ? "" : "s", pinned[r] == "" ? "-" : pinned[r], unit[r] == "" ? "no results" : unit[r]
        printf "%-16s %4s %10s %19s %8s %8s %8s %7s %7s %7s  %s\n", "impl", "runs", "rate", "min-max", "p50_us",
            "p99_us", "cpu_us", "rate/bn", "cpu/bn", "p99/bn", "target (rate cpu p99)"
        m = cyc ? ncyc : nnet
        # the best native: highest median rate among the native implementations
        best = ""; best_rate = 0
        for (i = 1; i <= m; i++) {
            impl = cyc ? cycimpl[i] : netimpl[i]
            if (impl !~ /^native/ || runs[r, impl] + 0 == 0) continue
            x = stat(r, impl, "rate")
            if (best == "" || x > best_rate) { best = impl; best_rate = x }
        }
        best_cpu = best == "" ? 0 : stat(r, best, "cpu")
        best_p99 = (best == "" || !lat) ? 0 : stat(r, best, "p99")
        for (i = 1; i <= m; i++) {
            impl = cyc ? cycimpl[i] : netimpl[i]
            nf = failed[r, impl] + 0
            if (runs[r, impl] + 0 == 0) {
                printf "%-16s %4d   (no successful run%s)\n", impl, 0, nf ? sprintf(", %d FAILED", nf) : ""
                machine = machine sprintf("ROW row=%s workload=%s conns=%s threads=%s impl=%s runs=0 failed=%d\n",
                    r, w, conns, threads, impl, nf)
                continue
            }
            rate = stat(r, impl, "rate"); rlo = lo; rhi = hi
            p50 = lat ? stat(r, impl, "p50") : 0
            p99 = lat ? stat(r, impl, "p99") : 0
            cpu = stat(r, impl, "cpu")
            rmx = ratio(rate, best_rate); cmx = ratio(cpu, best_cpu); pmx = lat ? ratio(p99, best_p99) : "-"
            rx = paired(r, impl, best, "rate"); cx = paired(r, impl, best, "cpu")
            px = lat ? paired(r, impl, best, "p99") : "-"
            same = cyc ? "native" : impl ~ /io_uring$/ ? "native-io_uring" : "native-epoll"
            rs = paired(r, impl, same, "rate"); cs = paired(r, impl, same, "cpu")
            ps = lat ? paired(r, impl, same, "p99") : "-"
            if (impl ~ /^native/) {
                target = impl == best ? "(best native)" : ""
            } else {
                target = judge(rx, rate_limit, 1) " " judge(cx, 1.1, 0) " " (lat ? judge(px, 1.2, 0) : "n/a")
                tally(impl, r, "rate", judge(rx, rate_limit, 1))
                tally(impl, r, "cpu", judge(cx, 1.1, 0))
                if (lat) tally(impl, r, "p99", judge(px, 1.2, 0))
            }
            line = sprintf("%-16s %4d %10s %19s %8s %8s %8.2f %7s %7s %7s  %s", impl, runs[r, impl], num(rate),
                num(rlo) "-" num(rhi), lat ? num(p50) : "-", lat ? num(p99) : "-", cpu, rx, cx, px, target)
            if (nf) line = line sprintf("  (%d FAILED)", nf)
            print line
            machine = machine sprintf("ROW row=%s workload=%s conns=%s threads=%s pinned=%s impl=%s runs=%d failed=%d " \
                "unit=%s rate=%.1f rate_min=%.1f rate_max=%.1f p50_us=%.1f p99_us=%.1f cpu_us=%.3f best_native=%s " \
                "rate_x=%s cpu_x=%s p99_x=%s rate_mx=%s cpu_mx=%s p99_mx=%s rate_same=%s cpu_same=%s p99_same=%s " \
                "rate_target=%s cpu_target=%s p99_target=%s\n",
                r, w, conns, threads, cyc ? "no" : pinned[r], impl, runs[r, impl], nf, unit[r], rate, rlo, rhi,
                p50, p99, cpu, best == "" ? "none" : best, rx, cx, px, rmx, cmx, pmx, rs, cs, ps,
                impl ~ /^native/ ? "-" : judge(rx, rate_limit, 1), impl ~ /^native/ ? "-" : judge(cx, 1.1, 0),
                impl ~ /^native/ || !lat ? "-" : judge(px, 1.2, 0))
        }
    }
    print ""
    print "rate: median over rounds (min-max); p50/p99: medians of the per-run latency percentiles (us; tcp_stream:"
    print "per 64 KiB message); cpu_us: median CPU microseconds per operation (tcp_stream: per 64 KiB message)."
    print "x/bn: against the best native server of the row (highest median rate; its CPU and p99 are the"
    print "references), paired: the median over rounds of the same round's ratio (ROW lines: *_mx, the ratio of"
    print "the medians). Targets (issue 13): rate >= 1.0 (socket_cycles >= 0.8), cpu <= 1.1, p99 <= 1.2."
    for (i = 1; i <= njudged; i++) {
        impl = judged[i]
        printf "%s %-16s %2d of %2d target cells met; missed:%s\n", i == 1 ? "Targets:" : "        ", impl,
            met[impl] + 0, cells[impl], missed_cells[impl] == "" ? " none" : missed_cells[impl]
        if (impl ~ /^control/) controls = 1
    }
    if (controls)
        print "control-*: the native server of that mechanism run a second time, judged like the WSK server."
    if (have_wsk != "yes")
        print "NOTE: WSK programs not available (not building): WSK rows skipped."
    if (nfailed)
        printf "FAILED runs: %d (see raw.txt)\n", nfailed
    print ""
    print "# machine-readable, one line per row and implementation:"
    printf "%s", machine
}
