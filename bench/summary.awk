# summary.awk - turn bench/run.sh's per-run measurements into the results table
#
# Input: one tab-separated line per run, as bench/run.sh writes them:
#   workload tool run wall_s user_s sys_s max_proc_rss_kb tree_peak_rss_kb trace_bytes
#   analysis_wall_s analysis_tree_peak_rss_kb analysis_cpu_s
# ("-" where a field does not apply: bare runs have no trace). For each workload and tool it
# prints the median with min-max of wall time, CPU time (user + sys) and peak RSS of the process
# tree, each also as a ratio to the bare run's median; the median trace size; and the median
# analysis time and RSS. A "heapgraph/heaptrack" row divides heapgraph's medians by heaptrack's:
# below 1 means heapgraph costs less.
#
# A tool that a workload leaves out (skipfile: lines "workload<TAB>tool<TAB>reason") gets a row
# of "-" saying "not run". When the startup workload ran, a second table gives each tool's cost
# per process start: (tool's median wall - bare's) / startup_n, and the same for CPU time.
#
# Variables: mode=text (aligned columns) or mode=md (a markdown table); workloads and tools
# give the row order, space-separated; startup_n, skipfile as above. Plain POSIX awk: mawk has no asort, so medians use an
# insertion sort, which is fine for a handful of runs.

function sort_list(key,    n, i, j, v) {
	n = cnt[key]
	for (i = 2; i <= n; i++) {
		v = val[key, i]
		for (j = i - 1; j >= 1 && val[key, j] > v; j--)
			val[key, j + 1] = val[key, j]
		val[key, j + 1] = v
	}
}

function median(key,    n) {
	n = cnt[key]
	if (n == 0)
		return ""
	sort_list(key)
	if (n % 2)
		return val[key, (n + 1) / 2]
	return (val[key, n / 2] + val[key, n / 2 + 1]) / 2
}

function add(key, v) {
	if (v == "-" || v == "")
		return
	cnt[key]++
	val[key, cnt[key]] = v + 0
}

# "1.52 (1.50-1.60)" for key, scaled by div; just the median when there was one run.
function spread(key, div, fmt,    m) {
	m = median(key)
	if (m == "")
		return "-"
	if (cnt[key] == 1)
		return sprintf(fmt, m / div)
	return sprintf(fmt " (" fmt "-" fmt ")", m / div, val[key, 1] / div, val[key, cnt[key]] / div)
}

function ratio(a, b) {
	if (a == "" || b == "" || b == 0)
		return "-"
	return sprintf("%.2fx", a / b)
}

function row(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11) {
	if (mode == "md")
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", \
			c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11
	else
		printf "%-8s %-19s %-22s %-7s %-22s %-7s %-20s %-7s %-9s %-20s %-8s\n", \
			c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11
}

function tool_row(w, t,    b) {
	b = w SUBSEP "bare"
	row(w, t, spread(w SUBSEP t SUBSEP "wall", 1, "%.2f"),
	    ratio(med[w, t, "wall"], med[b, "wall"]),
	    spread(w SUBSEP t SUBSEP "cpu", 1, "%.2f"),
	    ratio(med[w, t, "cpu"], med[b, "cpu"]),
	    spread(w SUBSEP t SUBSEP "rss", 1024, "%.0f"),
	    ratio(med[w, t, "rss"], med[b, "rss"]),
	    med[w, t, "trace"] == "" ? "-" : sprintf("%.1f", med[w, t, "trace"] / 1048576),
	    spread(w SUBSEP t SUBSEP "ana", 1, "%.2f"),
	    med[w, t, "ana_rss"] == "" ? "-" : sprintf("%.0f", med[w, t, "ana_rss"] / 1024))
}

function skipped_row(w, t) {
	row(w, t, "not run", "-", "-", "-", "-", "-", "-", "-", "-")
}

# Milliseconds per process that tool t adds to the startup workload, for metric m.
function per_process(t, m) {
	if (med["startup", t, m] == "" || med["startup", "bare", m] == "" || startup_n <= 0)
		return "-"
	return sprintf("%.1f", (med["startup", t, m] - med["startup", "bare", m]) * 1000 / startup_n)
}

function startup_table(    j) {
	print ""
	if (mode == "md") {
		print "| tool | wall ms per process | CPU ms per process |"
		print "|---|--:|--:|"
	} else
		printf "%-10s %-20s %-20s\n", "tool", "wall ms per process", "CPU ms per process"
	for (j = 1; j <= nt; j++) {
		if (tl[j] == "bare" || !(("startup", tl[j]) in seen))
			continue
		if (mode == "md")
			printf "| %s | %s | %s |\n", tl[j], per_process(tl[j], "wall"),
			    per_process(tl[j], "cpu")
		else
			printf "%-10s %-20s %-20s\n", tl[j], per_process(tl[j], "wall"),
			    per_process(tl[j], "cpu")
	}
}

function versus_row(w,    h, k) {
	h = w SUBSEP "heapgraph"
	k = w SUBSEP "heaptrack"
	row(w, "heapgraph/heaptrack", ratio(med[h, "wall"], med[k, "wall"]), "",
	    ratio(med[h, "cpu"], med[k, "cpu"]), "", ratio(med[h, "rss"], med[k, "rss"]), "",
	    ratio(med[h, "trace"], med[k, "trace"]), ratio(med[h, "ana"], med[k, "ana"]),
	    ratio(med[h, "ana_rss"], med[k, "ana_rss"]))
}

BEGIN {
	FS = "\t"
	if (skipfile != "")
		while ((getline line < skipfile) > 0) {
			split(line, f, "\t")
			skip[f[1], f[2]] = 1
		}
}

{
	k = $1 SUBSEP $2
	seen[k] = 1
	add(k SUBSEP "wall", $4)
	add(k SUBSEP "cpu", ($5 == "-" ? "-" : $5 + $6))
	add(k SUBSEP "rss", $8)
	add(k SUBSEP "trace", $9)
	add(k SUBSEP "ana", $10)
	add(k SUBSEP "ana_rss", $11)
}

END {
	nw = split(workloads, wl, " ")
	nt = split(tools, tl, " ")
	for (k in seen)
		for (m = split("wall cpu rss trace ana ana_rss", metric, " "); m > 0; m--)
			med[k, metric[m]] = median(k SUBSEP metric[m])
	row("workload", "tool", "wall s", "x bare", "CPU s", "x bare", "peak RSS MiB", "x bare",
	    "trace MiB", "analysis s", "anl MiB")
	if (mode == "md")
		print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= nw; i++) {
		for (j = 1; j <= nt; j++)
			if ((wl[i], tl[j]) in seen)
				tool_row(wl[i], tl[j])
			else if ((wl[i], tl[j]) in skip)
				skipped_row(wl[i], tl[j])
		if ((wl[i], "heapgraph") in seen && (wl[i], "heaptrack") in seen)
			versus_row(wl[i])
	}
	if (("startup", "bare") in seen)
		startup_table()
}
