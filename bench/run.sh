#!/usr/bin/env bash
# run.sh - benchmark heapgraph against heaptrack: slowdown, CPU, peak RSS, trace size, analysis
#
# Each workload runs bare, under `heapgraph record` and under `heaptrack`, BENCH_RUNS times each.
# The runs are interleaved (run 1 of every tool, then run 2, with the tool order rotated each
# round) so that a machine that slows down or warms up part-way hurts every tool alike. Every
# command runs under build/bench/measure, which reports wall time, CPU time and peak RSS of the
# whole process tree: heaptrack's interpreter and compressor, or a recorder's drain process,
# count as much as the traced program. After a traced run the trace is analysed (`heapgraph
# report` or `heaptrack_print`) and timed the same way, then deleted.
#
# A benchmark of a tracer that broke the program would measure nothing, so every run's output is
# checked against the first run of the same workload: churn's, scan's and the python script's
# checksum line, and the hash of the `git log -p` output, of the sqlite3 query's result and of
# the object file gcc writes (startup has no output to check). A mismatch, a failed run or a
# missing trace aborts that workload with a message and the table leaves it out; the script goes
# on with the next workload and exits 1 at the end.
#
# Usage: bench/run.sh [WORKLOAD...]          (default: all; make bench runs this)
#   churn1  bench/churn.c on 1 thread        churn2  the same on 2 threads
#   python  python3 building millions of small objects, PYTHONMALLOC=malloc
#   git     git log -p on a generated repository of 600 commits
#   sqlite3 the sqlite3 shell: 200,000 inserts into two tables in one transaction, then a join
#           with an aggregate (bench/sqlgen.py); its output is hashed
#   cc1     GCC's compiler proper, cc1, on a generated C file of about 5,400 lines
#           (bench/cgen.py), as `gcc -O2 -S` runs it: cc1 itself rather than the gcc driver,
#           whose children heaptrack would not trace; the assembly must be byte-identical in
#           every run
#   scan    bench/scan.c: 1,000,000 blocks of 1 KiB reachable from a global plus 10,000
#           leaked ones at exit, to time exit-time heap scans; its analysis is `heapgraph leaks`
#   startup bash running /bin/true 200 times: the cost per process start, reported apart
# Tools: bare, heapgraph, heaptrack; lsan (LeakSanitizer's runtime, liblsan.so.0, preloaded)
# and memcheck (valgrind) only on the workloads listed in LSAN_WORKLOADS and
# MEMCHECK_WORKLOADS below, for the reasons given there; the table marks the others "not run".
# Environment:
#   BENCH_RUNS=N     runs per tool and workload (default 5)
#   BENCH_SLOW_RUNS=N  at most this many runs for memcheck (default 3, to keep make bench short)
#   BENCH_QUICK=1    smoke test: 1 run, small inputs
#   BENCH_TOOLS=...  tools to run, from "bare heapgraph heaptrack lsan memcheck" (the default)
#   BENCH_DOC=FILE   where the markdown report goes; default docs/PERFORMANCE.md for a full run
#                    (every workload and tool, not quick), build/bench/PERFORMANCE.md otherwise
#   BENCH_KEEP=1     keep the work directory (traces, outputs) and print its path
#   BUILD=DIR        build directory (default build), CC=compiler (default cc)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CC=${CC:-cc}
HG=$BUILD/heapgraph
MEASURE=$BUILD/bench/measure
CHURN=$BUILD/bench/churn
PYTHON=/usr/bin/python3 # not the first python3 on PATH: a pyenv or venv shim would be traced
GIT=/usr/bin/git
SCAN=$BUILD/bench/scan
SQLITE=/usr/bin/sqlite3
GCC=/usr/bin/gcc
ALL_WORKLOADS="churn1 churn2 python git sqlite3 cc1 scan startup"
ALL_TOOLS="bare heapgraph heaptrack lsan memcheck"
# LeakSanitizer's runtime preloaded into a program it was not built into works for these; the
# sqlite3 and git binaries of Debian 12 die of SIGSEGV at once under it (even `sqlite3 :memory:
# "select 1"`), and cc1 is C++ with its own allocators.
LSAN_WORKLOADS="churn1 churn2 python scan startup"
# memcheck only where one run takes under a minute (measured on a busy 2-CPU EPYC: churn2 50 s,
# its two threads serialised by valgrind; sqlite3 31 s, churn1 22 s, python 19 s, git 14 s,
# scan 8 s); cc1 takes several minutes and startup ~0.9 s per traced process (3 min a run).
# With memcheck at 3 runs, make bench takes about 22 minutes.
MEMCHECK_WORKLOADS="churn1 churn2 python git sqlite3 scan"
MEMCHECK=(valgrind --tool=memcheck --leak-check=full -q --error-exitcode=0 --trace-children=yes)
LSAN_OPTS="exitcode=0"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1} CHURN_OPS=200000 PY_ROWS=60000 GIT_COMMITS=60
	SQL_ROWS=10000 CC_FUNCS=40 SCAN_BLOCKS=100000 STARTUP_N=50
else
	RUNS=${BENCH_RUNS:-5} CHURN_OPS=5000000 PY_ROWS=600000 GIT_COMMITS=600
	SQL_ROWS=100000 CC_FUNCS=200 SCAN_BLOCKS=1000000 STARTUP_N=200
fi
SLOW_RUNS=${BENCH_SLOW_RUNS:-3}
TOOLS=${BENCH_TOOLS:-$ALL_TOOLS}

# The python workload: rows of (int, str, list), a dict over them, a string split into words.
PY_CODE="import sys
n = int(sys.argv[1])
rows = [(i, str(i), [i]) for i in range(n)]
index = {r[1]: r for r in rows}
words = ' '.join(r[1] for r in rows[::7]).split()
print('checksum', sum(len(k) for k in index) + len(words))"

die() {
	echo "bench/run.sh: error: $*" >&2
	exit 2
}

note() {
	echo "bench: $*" >&2
}

# ---- setup ----

check_args() {
	local w t
	for w in "${WORKLOADS[@]}"; do
		[[ " $ALL_WORKLOADS " == *" $w "* ]] ||
			die "unknown workload '$w' (choose from: $ALL_WORKLOADS)"
	done
	for t in $TOOLS; do
		[[ " $ALL_TOOLS " == *" $t "* ]] || die "unknown tool '$t' in BENCH_TOOLS ($ALL_TOOLS)"
	done
	[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$RUNS'"
	[[ "$SLOW_RUNS" =~ ^[1-9][0-9]*$ ]] ||
		die "BENCH_SLOW_RUNS must be a positive number, not '$SLOW_RUNS'"
}

# Whether tool $1 runs workload $2; prints the reason when it does not.
tool_applies() {
	case $1 in
	lsan) [[ " $LSAN_WORKLOADS " == *" $2 "* ]] && return 0
		echo "lsan: not run on $2 (see LSAN_WORKLOADS in bench/run.sh)" ;;
	memcheck) [[ " $MEMCHECK_WORKLOADS " == *" $2 "* ]] && return 0
		echo "memcheck: not run on $2 (over 60 s a run; see MEMCHECK_WORKLOADS in bench/run.sh)" ;;
	*) return 0 ;;
	esac
	return 1
}

# Runs of tool $1: memcheck is slow, so it gets at most BENCH_SLOW_RUNS.
tool_runs() {
	if [ "$1" = memcheck ] && [ "$SLOW_RUNS" -lt "$RUNS" ]; then
		echo "$SLOW_RUNS"
	else
		echo "$RUNS"
	fi
}

# The path of LeakSanitizer's runtime (gcc's liblsan0 package), or nothing.
find_lsan() {
	local f
	f=$(ldconfig -p 2>/dev/null | awk '$1 == "liblsan.so.0" && /x86-64|64bit/ { print $NF; exit }')
	[ -z "$f" ] && f=$(dpkg -L liblsan0 2>/dev/null | grep '/liblsan\.so\.0$' | head -n 1)
	[ -n "$f" ] && [ -f "$f" ] && echo "$f"
	return 0
}

check_tools() {
	if [[ " $TOOLS " == *" heapgraph "* ]] && [ ! -x "$HG" ]; then
		die "'$HG' not found or not executable; build it first with 'make all'" \
			"(or set BENCH_TOOLS=\"bare heaptrack\" to benchmark without it)"
	fi
	if [[ " $TOOLS " == *" heaptrack "* ]]; then
		if ! command -v heaptrack >/dev/null || ! command -v heaptrack_print >/dev/null; then
			die "heaptrack not found; install it with 'scripts/install-deps.sh bench'"
		fi
	fi
	if [[ " $TOOLS " == *" lsan "* ]]; then
		LSAN_LIB=$(find_lsan)
		[ -n "$LSAN_LIB" ] || die "liblsan.so.0 not found; install it with" \
			"'apt-get install liblsan0' (or leave lsan out of BENCH_TOOLS)"
	fi
	if [[ " $TOOLS " == *" memcheck "* ]] && ! command -v valgrind >/dev/null; then
		die "valgrind not found; install it with 'scripts/install-deps.sh bench'"
	fi
	[ -x "$PYTHON" ] || die "'$PYTHON' not found; install python3"
	[ -x "$GIT" ] || die "'$GIT' not found; install git"
	[ -x "$SQLITE" ] || die "'$SQLITE' not found; install it with 'scripts/install-deps.sh bench'"
	[ -x "$GCC" ] || die "'$GCC' not found; install gcc"
	CC1=$("$GCC" -print-prog-name=cc1)
	[ -x "$CC1" ] || die "gcc's cc1 not found ('$GCC -print-prog-name=cc1' says '$CC1')"
}

build() {
	local flags="-std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
		-Wformat=2 -Wwrite-strings -Wvla -Wpointer-arith -O2 -g"
	mkdir -p "$BUILD/bench"
	# -fomit-frame-pointer is what -O2 does anyway on x86-64; spelled out because the point of
	# churn is stacks that need real unwinding.
	# shellcheck disable=SC2086
	$CC $flags -fomit-frame-pointer -o "$CHURN" "$ROOT/bench/churn.c" -lpthread ||
		die "cannot build bench/churn.c"
	# shellcheck disable=SC2086
	$CC $flags -o "$MEASURE" "$ROOT/bench/measure.c" || die "cannot build bench/measure.c"
	# shellcheck disable=SC2086
	$CC $flags -o "$SCAN" "$ROOT/bench/scan.c" || die "cannot build bench/scan.c"
}

# heaptrack's script opens heaptrack_gui on the trace when it sits next to it. Run a copy of the
# script from a directory without the GUI instead; it finds its libraries through ../lib.
setup_heaptrack() {
	local real dir
	HEAPTRACK=$(command -v heaptrack || true)
	[ -n "$HEAPTRACK" ] || return 0
	real=$(readlink -f "$HEAPTRACK")
	dir=$(dirname "$real")
	if [ -x "$dir/heaptrack_gui" ]; then
		mkdir -p "$WORK/heaptrack/bin" "$WORK/heaptrack/lib"
		cp "$real" "$WORK/heaptrack/bin/heaptrack"
		ln -s "$(readlink -f "$dir/../lib/heaptrack")" "$WORK/heaptrack/lib/heaptrack"
		HEAPTRACK=$WORK/heaptrack/bin/heaptrack
		note "heaptrack_gui found; running a copy of the heaptrack script that cannot start it"
	fi
}

# Runs a private copy of heapgraph and its shim (record finds the shim next to itself), so that a
# rebuild in the work tree during a long benchmark cannot mix two versions in one table.
snapshot_heapgraph() {
	[[ " $TOOLS " == *" heapgraph "* ]] || return 0
	mkdir -p "$WORK/hg"
	cp "$HG" "$WORK/hg/heapgraph"
	[ -f "$BUILD/libheapgraph.so" ] && cp "$BUILD/libheapgraph.so" "$WORK/hg/"
	HG=$WORK/hg/heapgraph
	"$HG" --version >/dev/null 2>&1 || die "the copy of '$BUILD/heapgraph' does not run" \
		"(was it being rebuilt?)"
}

# CPU seconds all CPUs have spent busy since boot.
cpu_busy_s() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

# Busy CPU time of the whole machine during the runs against the CPU time of the measured
# commands: the gap is other work on the machine (plus this script's own), which skews the
# numbers. Sets FOREIGN_CPU, a sentence for the report.
check_foreign_cpu() {
	local busy measured
	busy=$(awk -v a="$BUSY_START" -v b="$(cpu_busy_s)" 'BEGIN { printf "%.0f", b - a }')
	measured=$(awk -F'\t' '{ s += $5 + $6 + ($12 == "-" ? 0 : $12) } END { printf "%.0f", s }' \
		"$WORK/results.tsv")
	FOREIGN_CPU="$busy s busy, $measured s of it in the measured commands"
	if [ $((busy - measured)) -gt $((measured / 10 + 5)) ]; then
		FOREIGN_CPU="$FOREIGN_CPU: other work ran on the machine, treat the numbers with care"
		note "warning: the machine was busy with other work during the runs ($FOREIGN_CPU)"
	fi
}

# Other work on the machine skews every number; say so up front and in the report.
check_load() {
	local load
	read -r load _ </proc/loadavg
	LOAD_START=$load
	if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; then
		note "warning: load average is $load on $(nproc) CPUs; other work will skew the numbers"
	fi
}

make_git_repo() {
	[ -d "$WORK/repo" ] && return 0
	note "generating a git repository of $GIT_COMMITS commits"
	"$GIT" init -q -b main "$WORK/repo"
	"$PYTHON" "$ROOT/bench/gitrepo.py" "$GIT_COMMITS" | "$GIT" -C "$WORK/repo" fast-import --quiet
}

# Sets WL_CMD (argv), WL_ENV (VAR=value list), WL_OUT (a file the workload writes, or ""),
# WL_FP (what fingerprint compares: the "checksum" line or WL_OUT's hash, or "none") and WL_SHOW
# (the command as the report prints it) for workload $1.
workload_setup() {
	WL_ENV=(GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null) WL_OUT="" WL_FP=checksum
	case $1 in
	churn1 | churn2)
		WL_CMD=("$CHURN" -t "${1#churn}" -n "$CHURN_OPS")
		WL_SHOW="build/bench/churn -t ${1#churn} -n $CHURN_OPS"
		;;
	python)
		WL_CMD=("$PYTHON" -c "$PY_CODE" "$PY_ROWS")
		WL_ENV+=(PYTHONMALLOC=malloc)
		WL_SHOW="PYTHONMALLOC=malloc $PYTHON -c \"\$PY_CODE\" $PY_ROWS  (PY_CODE: see bench/run.sh)"
		;;
	git)
		make_git_repo
		WL_OUT=$WORK/git-log.out
		WL_CMD=("$GIT" -C "$WORK/repo" log -p --output="$WL_OUT" main)
		WL_SHOW="git -C REPO log -p --output=FILE main  (REPO: bench/gitrepo.py $GIT_COMMITS)"
		;;
	sqlite3)
		[ -f "$WORK/bench.sql" ] || "$PYTHON" "$ROOT/bench/sqlgen.py" "$SQL_ROWS" >"$WORK/bench.sql"
		# The query's result goes to a file: heaptrack prints its own lines on stdout.
		WL_OUT=$WORK/sqlite.out
		WL_CMD=("$SQLITE" -bail :memory: ".output $WL_OUT" ".read $WORK/bench.sql")
		WL_SHOW="sqlite3 -bail :memory: \".output OUT\" \".read SQL\""
		WL_SHOW+="  (SQL: bench/sqlgen.py $SQL_ROWS)"
		;;
	cc1)
		[ -f "$WORK/bench.c" ] || "$PYTHON" "$ROOT/bench/cgen.py" "$CC_FUNCS" >"$WORK/bench.c"
		# What `gcc -O2 -S FILE.c -o FILE.s` runs (gcc -###), defaults left out.
		WL_OUT=$WORK/bench.s
		WL_CMD=("$CC1" -quiet -O2 -fasynchronous-unwind-tables "$WORK/bench.c" -o "$WL_OUT")
		WL_SHOW="cc1 -quiet -O2 -fasynchronous-unwind-tables FILE.c -o FILE.s  (cc1: gcc"
		WL_SHOW+=" -print-prog-name=cc1; FILE.c: bench/cgen.py $CC_FUNCS,"
		WL_SHOW+=" $(wc -l <"$WORK/bench.c") lines)"
		;;
	scan)
		WL_CMD=("$SCAN" -n "$SCAN_BLOCKS")
		WL_SHOW="build/bench/scan -n $SCAN_BLOCKS"
		;;
	startup)
		WL_CMD=(/bin/bash -c "for i in \$(seq $STARTUP_N); do /bin/true; done")
		WL_FP=none
		WL_SHOW="bash -c 'for i in \$(seq $STARTUP_N); do /bin/true; done'"
		;;
	esac
}

# ---- one run ----

# What must not change when the program is traced: the checksum line, or the output file's hash.
fingerprint() {
	if [ "$WL_FP" = none ]; then
		echo "no output"
	elif [ -n "$WL_OUT" ]; then
		sha256sum "$WL_OUT" | cut -d' ' -f1
	else
		grep -m1 '^checksum ' "$1" || echo "no checksum line"
	fi
}

# Prints the trace file a tool wrote for base name $1, or nothing.
trace_file() {
	local f
	for f in "$1.hgt" "$1.ht.zst" "$1.ht.gz"; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 0
}

fail_run() {
	local what=$1 base=$2
	echo "bench/run.sh: error: $what; workload '$W' aborted" >&2
	[ -f "$base.err" ] && tail -n 5 "$base.err" | sed 's/^/    /' >&2
	echo "$W: $what" >>"$WORK/aborted"
	return 1
}

# Times the analysis of trace $2 by tool $1; prints "wall_s tree_peak_kb cpu_s", or "- - -" on
# failure.
analyse() {
	local tool=$1 trace=$2 base=$3 rc=0
	# heapgraph's debug cache is the run's own: the run's first analysis inflates libc6-dbg's
	# sections into it (cold, in the max), the later ones read the copy, as a user's would.
	if [ "$tool" = heapgraph ] && [ "$W" = scan ]; then
		"$MEASURE" -o "$base.a" -- "$HG" leaks "$trace" \
			>/dev/null 2>"$base.aerr" || rc=$?
	elif [ "$tool" = heapgraph ]; then
		"$MEASURE" -o "$base.a" -- "$HG" report "$trace" \
			>/dev/null 2>"$base.aerr" || rc=$?
	else
		"$MEASURE" -o "$base.a" -- heaptrack_print "$trace" >/dev/null 2>"$base.aerr" || rc=$?
	fi
	if [ "$rc" != 0 ]; then
		note "$W: analysis by $tool exited $rc: $(tail -n 1 "$base.aerr")"
		echo "- - -"
		return 0
	fi
	awk '{ print $1, $5, $2 + $3 }' "$base.a"
}

# The tracer's own memory in heapgraph trace $1, as the shim sampled it (the largest sample of
# each process, its tables and the ring pages it touched), and the heap peaks of the same
# processes: "tables_bytes ring_bytes peak_bytes processes", summed over the processes with a
# sample. Appended to $WORK/ownmem.tsv with the workload's name.
own_memory() {
	"$HG" report --format json --top 1 "$1" 2>/dev/null | "$PYTHON" -c '
import json, sys
tables = ring = peak = n = 0
for p in json.load(sys.stdin)["processes"]:
    t = p["tracer"]
    if t is not None:
        tables += t["tables_bytes"]
        ring += t["ring_bytes"] or 0
        peak += p["totals"]["peak_bytes"]
        n += 1
print(tables, ring, peak, n)' | sed "s/^/$W /" >>"$WORK/ownmem.tsv"
}

# Runs workload $W under tool $1 (run number $2) and appends a line to $WORK/results.tsv.
run_once() {
	local tool=$1 run=$2 base="$WORK/$W.$1.$2" fp trace size ana rc=0 wall user sys maxrss tree
	local ana_wall=- ana_rss=- ana_cpu=-
	local -a cmd
	case $tool in
	bare) cmd=("${WL_CMD[@]}") ;;
	heapgraph) cmd=("$HG" record -o "$base.hgt" -- "${WL_CMD[@]}") ;;
	heaptrack) cmd=("$HEAPTRACK" -o "$base.ht" "${WL_CMD[@]}") ;;
	lsan) cmd=(env "LD_PRELOAD=$LSAN_LIB" "LSAN_OPTIONS=$LSAN_OPTS" "${WL_CMD[@]}") ;;
	memcheck) cmd=("${MEMCHECK[@]}" "${WL_CMD[@]}") ;;
	esac
	[ -n "$WL_OUT" ] && rm -f "$WL_OUT"
	env "${WL_ENV[@]}" "$MEASURE" -o "$base.m" -- "${cmd[@]}" \
		</dev/null >"$base.out" 2>"$base.err" || rc=$?
	[ "$rc" = 0 ] || { fail_run "$tool run $run exited $rc" "$base"; return 1; }
	fp=$(fingerprint "$base.out")
	[ -n "$REF" ] || REF=$fp
	[ "$fp" = "$REF" ] ||
		{ fail_run "$tool run $run changed the output: '$fp', expected '$REF'" "$base"; return 1; }
	size=-
	if [ "$tool" = heapgraph ] || [ "$tool" = heaptrack ]; then
		trace=$(trace_file "$base")
		[ -n "$trace" ] || { fail_run "$tool run $run wrote no trace at '$base.*'" "$base"; return 1; }
		size=$(stat -c %s "$trace")
		ana=$(analyse "$tool" "$trace" "$base")
		read -r ana_wall ana_rss ana_cpu <<<"$ana"
		[ "$tool" != heapgraph ] || own_memory "$trace"
	fi
	read -r wall user sys maxrss tree _ <"$base.m"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$W" "$tool" "$run" "$wall" \
		"$user" "$sys" "$maxrss" "$tree" "$size" "$ana_wall" "$ana_rss" "$ana_cpu" \
		>>"$WORK/results.tsv"
	note "$(printf '%-7s %-9s run %d: %6.2f s wall, %7.0f MiB peak, trace %s' "$W" "$tool" \
		"$run" "$wall" "$((tree / 1024))" "$size")"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$base".*
}

run_workload() {
	local run i n t why
	local -a tools=()
	for t in $TOOLS; do
		if why=$(tool_applies "$t" "$W"); then
			tools+=("$t")
		else
			printf '%s\t%s\t%s\n' "$W" "$t" "$why" >>"$WORK/skipped"
		fi
	done
	n=${#tools[@]}
	workload_setup "$W"
	echo "$W	$WL_SHOW" >>"$WORK/commands"
	REF=""
	for ((run = 1; run <= RUNS; run++)); do
		for ((i = 0; i < n; i++)); do
			t=${tools[$(((i + run - 1) % n))]}
			[ "$run" -le "$(tool_runs "$t")" ] || continue
			run_once "$t" "$run" || return 0
		done
	done
}

# ---- report ----

machine_info() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
	echo "| CPU | ${cpu:-unknown}, $(nproc) CPUs online |"
	echo "| memory | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| OS | $(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release) |"
	echo "| compiler | $($CC --version | head -n 1) |"
	echo "| heaptrack | $(heaptrack --version 2>/dev/null || echo 'not installed') |"
	echo "| heapgraph | $("$HG" --version 2>/dev/null | head -n 1 || echo 'not built')," \
		"commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'none') |"
	echo "| python, git | $("$PYTHON" --version 2>&1), $("$GIT" --version) |"
	echo "| load average | $LOAD_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end |"
	echo "| CPU time during the runs | $FOREIGN_CPU |"
}

summary() {
	awk -v mode="$1" -v workloads="${WORKLOADS[*]}" -v tools="$TOOLS" \
		-v startup_n="$STARTUP_N" -v skipfile="$WORK/skipped" \
		-f "$ROOT/bench/summary.awk" "$WORK/results.tsv"
}

# The shim's own memory per workload: medians over the heapgraph runs of own_memory's figures.
own_memory_table() {
	[ -s "$WORK/ownmem.tsv" ] || return 0
	echo "## The shim's own memory"
	echo
	echo "What tracing adds to the traced processes' resident sets, as the shim counts it from"
	echo "their page tables at the exit snapshot and as each process exits (\`report\`'s"
	echo "\"tracer's own memory\" line): its tables (stack table, unwind rules, per-thread walk"
	echo "state, snapshot buffers) and the pages of the shared ring each process touched, summed"
	echo "over the processes, against the sum of the same processes' heap peaks (live bytes)."
	echo "The heapgraph run with the median own figure. Target: at most 10% of the heap's peak."
	echo
	echo "| workload | processes | tables KiB | ring KiB | own KiB | heap peak KiB | own / peak |"
	echo "|---|--:|--:|--:|--:|--:|--:|"
	for w in "${WORKLOADS[@]}"; do
		awk -v w="$w" '$1 == w { print $2 + $3, $2, $3, $4, $5 }' "$WORK/ownmem.tsv" |
			sort -n -k1,1 |
			awk -v w="$w" '{ t[NR] = $2; r[NR] = $3; p[NR] = $4; n = $5 }
			END {
				if (!NR) exit
				m = int((NR + 1) / 2)
				own = t[m] + r[m]
				printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.1f%% |\n", w, n,
					t[m] / 1024, r[m] / 1024, own / 1024, p[m] / 1024,
					p[m] ? 100 * own / p[m] : 0
			}'
	done
	echo
}

notes() {
	cat <<'EOF'

## Reading the numbers

- **What each tool keeps.** heaptrack's interpreter turns every event into an index into a table
  of (size, stack) pairs and drops addresses and per-event times (it writes a time every
  10 ms). A heapgraph trace keeps every event's address, and its time to 1 ms (`record
  --time-resolution`), so that it can be replayed exactly: the heap at a snapshot, what each
  address held. It writes them as references to what the trace said before (the pair's index,
  the address malloc freed last of that size, how many allocations ago a freed block was made,
  or its rank among its pair's recent ones), each kind of field in a column of its own, in one
  zstd stream through the file, which is how it gets close to heaptrack's size or under it.
  Exact times (`--time-resolution 1ns`) make a trace several times larger. The exit snapshot
  (the words that point into the heap) is in heapgraph's trace and has no counterpart in
  heaptrack's; it is most of scan's trace.
- **Symbolizing: once at record time, or in every report.** heaptrack symbolizes while it
  records (`heaptrack_interpret`), so `heaptrack_print` reads names. `heapgraph report` reads
  DWARF each time; libc6-dbg's is zlib-compressed, and libdw inflates all of it (30 ms) for the
  first libc frame. heapgraph keeps an inflated copy in its cache (`HEAPGRAPH_CACHE`, here a
  directory of the run's own): the run's first analysis makes it, which shows in the analysis
  column's max, and the later ones read it.
- **heaptrack's cost is partly off the program's thread.** `heaptrack_interpret` and `zstd` run
  beside the program in a pipeline; wall time ends when they finish, and their CPU time and
  memory count, as does the `heapgraph record` process that drains the ring into the trace.
- **Start-up cost per process.** The startup workload's own table divides each tool's extra
  wall and CPU time by the number of processes the loop starts. heapgraph and lsan are
  inherited through LD_PRELOAD, so every /bin/true pays; heaptrack and memcheck: see below.
- **scan** measures what a leak check at exit costs on about 1 GiB of reachable heap:
  heapgraph's exit snapshot (taken by default: the shim stops the threads, reads every writable
  private mapping and writes each word that points into the heap to the trace) in the run,
  `heapgraph leaks` (which turns those words into edges and walks them) in the analysis column;
  lsan and memcheck scan inside the run. The bare run's wall time is noisy here (tearing down
  1 GiB); compare CPU time.
- **Run-to-run spread.** churn2 uses both CPUs of a 2-CPU machine, so anything else running
  shows up as outliers in its min-max; compare medians.

## Known quirks

- **heaptrack 1.4 dies on many sizes per call site.** With `churn -w` (every path asks for
  every size in its range, hundreds of thousands of distinct (size, stack) pairs)
  `heaptrack_interpret` grows to the machine's memory and aborts with `std::bad_alloc`; the
  traced program then dies of SIGPIPE. Its set of (size, trace) pairs uses a hash that collides
  on such pairs (32,372 pairs gave 23,038 distinct hash values, up to 8 pairs per value).
  `heaptrack -r` (raw data, no interpreter) is fine. Reproduce with
  `heaptrack build/bench/churn -w -n 200000`. churn therefore uses 16 sizes per path by default
  (2,675 distinct sizes in a default run), which heaptrack handles.
- **heaptrack has a fixed start-up cost** of about half a second (its interpreter and the
  wrapper script), which dominates the quick-mode ratios; full runs are long enough to hide it.
- **heaptrack_gui.** The heaptrack script opens the GUI on the trace when `heaptrack_gui` is
  installed next to it; run.sh then runs a copy of the script from a directory without it.
- **heaptrack does not follow child processes.** The heaptrack script preloads its library
  into the command it starts only; a child (each /bin/true of startup) runs untraced, so its
  startup per-process figure is bash's extra cost, not a traced start-up; heapgraph traces
  every process. For the same reason the cc1 workload runs cc1 itself, not the gcc driver
  (which forks cc1 and as): every tool then traces the compiler.
- **memcheck** runs with `--trace-children=yes`, so that it would check the processes the
  workload starts, but only where a run takes under a minute (MEMCHECK_WORKLOADS in run.sh):
  not cc1 (minutes) or startup (about 0.9 s per traced process, three minutes a run). It runs
  at most BENCH_SLOW_RUNS times (default 3) to keep make bench near 20 minutes.
- **lsan** is gcc's LeakSanitizer runtime (liblsan0) preloaded, with `exitcode=0` so that the
  leaks it finds do not fail the run. Debian 12's sqlite3 and git die of SIGSEGV at start-up
  under it (even `sqlite3 :memory: "select 1"`), and cc1 is C++; lsan runs only on churn1,
  churn2, python, scan and startup.
- **Absolute paths for python and git.** A pyenv or virtualenv `python3` on PATH is a shell
  shim that execs the real interpreter; a tracer would record the shim. run.sh runs
  `/usr/bin/python3` and `/usr/bin/git`.
EOF
}

write_doc() {
	mkdir -p "$(dirname "$DOC")"
	{
		echo "# heapgraph performance"
		echo
		echo "Generated by \`bench/run.sh\` (\`make bench\`); rerun it rather than editing this file."
		echo "Settings: $RUNS run(s) per tool, interleaved; quick mode: $QUICK; tools: $TOOLS."
		echo
		echo "| machine | |"
		echo "|---|---|"
		machine_info
		echo
		echo "## Results"
		echo
		echo "Median over the runs, with min-max in parentheses. *x bare* is the tool's median"
		echo "divided by the bare run's. *heapgraph/heaptrack* divides heapgraph's median by"
		echo "heaptrack's: below 1.00x heapgraph costs less. Wall time runs from the command's"
		echo "start to the exit of the last process of its tree (bench/measure wakes on each"
		echo "SIGCHLD; tables before commit 9fcea09 rounded it up to the next 20 ms sample)."
		echo "CPU is user + system time of every"
		echo "process in the tree. Peak RSS is the largest sum of resident sets of the processes"
		echo "alive at once, sampled every 20 ms (never below the largest single process, which"
		echo "the kernel reports exactly). Trace is the file the tool leaves behind; analysis is"
		echo "\`heapgraph report T\` (\`heapgraph leaks T\` for scan) or \`heaptrack_print T.zst\`,"
		echo "output discarded. lsan and memcheck write no trace: their leak check is part of the"
		echo "run. memcheck ran at most $SLOW_RUNS time(s) per workload (BENCH_SLOW_RUNS); *not run*"
		echo "marks a tool left out of a workload, for the reasons under Known quirks."
		echo
		summary md
		if [ -s "$WORK/skipped" ]; then
			echo
			echo "Not run:"
			echo
			cut -f3 "$WORK/skipped" | sed 's/^/- /'
		fi
		if [ -s "$WORK/aborted" ]; then
			echo
			echo "Aborted workloads:"
			echo
			sed 's/^/- /' "$WORK/aborted"
		fi
		echo
		own_memory_table
		echo "## Commands"
		echo
		echo "Every command runs under \`build/bench/measure -o RESULT -- ...\` with stdin from"
		echo "/dev/null. A workload is WORKLOAD below; T is a trace path in a temporary directory."
		echo
		echo "| tool | record | analyse |"
		echo "|---|---|---|"
		echo "| bare | \`WORKLOAD\` | |"
		echo "| heapgraph | \`build/heapgraph record -o T.hgt -- WORKLOAD\` |" \
			"\`build/heapgraph report T.hgt\` |"
		echo "| heaptrack | \`heaptrack -o T WORKLOAD\` (writes T.zst) | \`heaptrack_print T.zst\` |"
		echo "| lsan | \`LD_PRELOAD=${LSAN_LIB:-liblsan.so.0} LSAN_OPTIONS=$LSAN_OPTS WORKLOAD\` | |"
		echo "| memcheck | \`${MEMCHECK[*]} WORKLOAD\` | |"
		echo
		echo "| workload | command |"
		echo "|---|---|"
		awk -F'\t' '{ printf "| %s | `%s` |\n", $1, $2 }' "$WORK/commands"
		echo
		echo "Rerun: \`make bench\`, or \`BENCH_RUNS=5 bench/run.sh churn1 git\` for some workloads,"
		echo "\`BENCH_QUICK=1 bench/run.sh\` for a smoke test."
		notes
	} >"$DOC"
}

# ---- main ----

WORKLOADS=("$@")
[ $# -gt 0 ] || read -r -a WORKLOADS <<<"$ALL_WORKLOADS"
check_args
check_tools
if [ -n "${BENCH_DOC:-}" ]; then
	DOC=$BENCH_DOC
elif [ "$QUICK" != 1 ] && [ "${WORKLOADS[*]}" = "$ALL_WORKLOADS" ] &&
	[ "$TOOLS" = "$ALL_TOOLS" ]; then
	DOC=$ROOT/docs/PERFORMANCE.md
else
	DOC=$BUILD/bench/PERFORMANCE.md
fi
build
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hgbench.XXXXXX")
# heapgraph's debug cache is the run's own, for every heapgraph command the run makes.
export HEAPGRAPH_CACHE=$WORK/cache
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	note "keeping work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
: >"$WORK/results.tsv"
: >"$WORK/commands"
: >"$WORK/skipped"
setup_heaptrack
snapshot_heapgraph
check_load
BUSY_START=$(cpu_busy_s)
for W in "${WORKLOADS[@]}"; do
	run_workload
done
check_foreign_cpu
echo
summary text
if [ -s "$WORK/aborted" ]; then
	echo
	sed 's/^/aborted: /' "$WORK/aborted"
fi
write_doc
echo
echo "report written to ${DOC#"$ROOT"/}"
[ ! -s "$WORK/aborted" ]
