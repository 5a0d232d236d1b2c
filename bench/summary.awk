# summary.awk - the table of bench/run.sh, from its raw.txt.
#   awk -v have_wsk=yes|no -v impls="wsk-io_uring ... native-io_uring" -f bench/summary.awk raw.txt
# Per workload and implementation: median rate, min-max, median p50/p99
# (where meaningful), median server CPU per operation, and the ratios of the
# medians against the native servers: rate ratio > 1 and CPU ratio < 1 mean
# better than the native server.

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

# Median (and min/max) of one metric of one (workload, impl).
function stat(w, impl, metric,    n, i, a) {
    n = runs[w, impl] + 0
    for (i = 1; i <= n; i++)
        a[i] = val[w, impl, metric, i]
    sort_n(a, n)
    lo = n ? a[1] : 0
    hi = n ? a[n] : 0
    return median(a, n)
}

function num(x) { return x >= 1000 ? sprintf("%.0f", x) : sprintf("%.1f", x) }
function ratio(x, y) { return (y > 0 && x > 0) ? sprintf("%.2f", x / y) : "-" }

/^RUN / {
    delete f
    for (i = 2; i <= NF; i++) {
        eq = index($i, "=")
        f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    w = f["workload"]; impl = f["impl"]
    if (f["status"] != "ok") { failed[w, impl]++; next }
    n = ++runs[w, impl]
    val[w, impl, "rate", n] = f["rate"] + 0
    val[w, impl, "p50", n] = f["p50_us"] + 0
    val[w, impl, "p99", n] = f["p99_us"] + 0
    val[w, impl, "cpu", n] = f["cpu_us_per_op"] + 0
    val[w, impl, "lost", n] = f["lost"] + 0
    unit[w] = f["unit"]
    next
}
/^# / { header = header $0 "\n" }

END {
    printf "%s", header
    nw = split("tcp_echo tcp_stream udp_echo tcp_connect socket_cycles", wl, " ")
    nnet = split(impls, netimpl, " ")
    ncyc = 0
    for (i = 1; i <= nnet; i++)
        if (netimpl[i] ~ /^wsk-/) cycimpl[++ncyc] = netimpl[i]
    cycimpl[++ncyc] = "native"

    for (k = 1; k <= nw; k++) {
        w = wl[k]
        cyc = (w == "socket_cycles")
        lat = (w != "tcp_stream" && !cyc)
        printf "\n== %s (%s; %s)\n", w, unit[w] == "" ? "no results" : unit[w],
            cyc ? "CPU = the program's own, all threads" : "CPU = the server's"
        if (cyc)
            printf "%-16s %4s %11s %23s %8s %8s %8s %8s\n", "impl", "runs", "rate", "min-max", "p50_us", "p99_us",
                "cpu_us", "rate/nat cpu/nat"
        else
            printf "%-16s %4s %11s %23s %8s %8s %8s  %8s %8s %8s %8s\n", "impl", "runs", "rate", "min-max", "p50_us",
                "p99_us", "cpu_us", "rate/ep", "cpu/ep", "rate/ur", "cpu/ur"
        # reference medians
        ep_rate = stat(w, "native-epoll", "rate"); ep_cpu = stat(w, "native-epoll", "cpu")
        ur_rate = stat(w, "native-io_uring", "rate"); ur_cpu = stat(w, "native-io_uring", "cpu")
        nat_rate = stat(w, "native", "rate"); nat_cpu = stat(w, "native", "cpu")
        m = cyc ? ncyc : nnet
        for (i = 1; i <= m; i++) {
            impl = cyc ? cycimpl[i] : netimpl[i]
            if (runs[w, impl] + 0 == 0) {
                printf "%-16s %4d   (no successful run%s)\n", impl, 0,
                    failed[w, impl] ? sprintf(", %d failed", failed[w, impl]) : ""
                continue
            }
            rate = stat(w, impl, "rate"); range = num(lo) "-" num(hi)
            p50 = lat ? num(stat(w, impl, "p50")) : "-"
            p99 = lat ? num(stat(w, impl, "p99")) : "-"
            cpu = stat(w, impl, "cpu")
            line = sprintf("%-16s %4d %11s %23s %8s %8s %8.2f", impl, runs[w, impl], num(rate), range, p50, p99, cpu)
            if (cyc)
                line = line sprintf(" %8s %8s", ratio(rate, nat_rate), ratio(cpu, nat_cpu))
            else
                line = line sprintf("  %8s %8s %8s %8s", ratio(rate, ep_rate), ratio(cpu, ep_cpu),
                    ratio(rate, ur_rate), ratio(cpu, ur_cpu))
            if (failed[w, impl]) line = line sprintf("  (%d failed)", failed[w, impl])
            print line
        }
    }
    print ""
    print "rate: median over rounds (min-max); p50/p99: medians of the per-run latency percentiles (us);"
    print "cpu_us: median CPU microseconds per operation; ratios compare medians with native epoll (ep),"
    print "native io_uring (ur) or the native program (nat): rate ratio > 1 and cpu ratio < 1 beat the native side."
    if (have_wsk != "yes")
        print "NOTE: WSK programs not available (not written yet or not building): WSK rows skipped."
}
