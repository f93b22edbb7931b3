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
# checked against the first run of the same workload: churn's and the python script's checksum
# line, and the hash of the `git log -p` output. A mismatch, a failed run or a missing trace
# aborts that workload with a message and the table leaves it out; the script goes on with the
# next workload and exits 1 at the end.
#
# Usage: bench/run.sh [WORKLOAD...]          (default: all; make bench runs this)
#   churn1  bench/churn.c on 1 thread        churn2  the same on 2 threads
#   python  python3 building millions of small objects, PYTHONMALLOC=malloc
#   git     git log -p on a generated repository of 600 commits
# Environment:
#   BENCH_RUNS=N     runs per tool and workload (default 5)
#   BENCH_QUICK=1    smoke test: 1 run, small inputs
#   BENCH_TOOLS=...  tools to run, from "bare heapgraph heaptrack" (the default)
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
ALL_WORKLOADS="churn1 churn2 python git"
ALL_TOOLS="bare heapgraph heaptrack"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1} CHURN_OPS=200000 PY_ROWS=60000 GIT_COMMITS=60
else
	RUNS=${BENCH_RUNS:-5} CHURN_OPS=5000000 PY_ROWS=600000 GIT_COMMITS=600
fi
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
	[ -x "$PYTHON" ] || die "'$PYTHON' not found; install python3"
	[ -x "$GIT" ] || die "'$GIT' not found; install git"
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

# Sets WL_CMD (argv), WL_ENV (VAR=value list), WL_OUT (a file the workload writes, or "") and
# WL_SHOW (the command as the report prints it) for workload $1.
workload_setup() {
	WL_ENV=(GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null) WL_OUT=""
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
	esac
}

# ---- one run ----

# What must not change when the program is traced: the checksum line, or the output file's hash.
fingerprint() {
	if [ -n "$WL_OUT" ]; then
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
	if [ "$tool" = heapgraph ]; then
		"$MEASURE" -o "$base.a" -- "$HG" report "$trace" >/dev/null 2>"$base.aerr" || rc=$?
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

# Runs workload $W under tool $1 (run number $2) and appends a line to $WORK/results.tsv.
run_once() {
	local tool=$1 run=$2 base="$WORK/$W.$1.$2" fp trace size ana rc=0 wall user sys maxrss tree
	local ana_wall=- ana_rss=- ana_cpu=-
	local -a cmd
	case $tool in
	bare) cmd=("${WL_CMD[@]}") ;;
	heapgraph) cmd=("$HG" record -o "$base.hgt" -- "${WL_CMD[@]}") ;;
	heaptrack) cmd=("$HEAPTRACK" -o "$base.ht" "${WL_CMD[@]}") ;;
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
	if [ "$tool" != bare ]; then
		trace=$(trace_file "$base")
		[ -n "$trace" ] || { fail_run "$tool run $run wrote no trace at '$base.*'" "$base"; return 1; }
		size=$(stat -c %s "$trace")
		ana=$(analyse "$tool" "$trace" "$base")
		read -r ana_wall ana_rss ana_cpu <<<"$ana"
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
	local run i n t
	local -a tools
	read -r -a tools <<<"$TOOLS"
	n=${#tools[@]}
	workload_setup "$W"
	echo "$W	$WL_SHOW" >>"$WORK/commands"
	REF=""
	for ((run = 1; run <= RUNS; run++)); do
		for ((i = 0; i < n; i++)); do
			t=${tools[$(((i + run - 1) % n))]}
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
		-f "$ROOT/bench/summary.awk" "$WORK/results.tsv"
}

notes() {
	cat <<'EOF'

## Reading the numbers

- **What each tool keeps.** heaptrack's interpreter turns every event into an index into a table
  of (size, stack) pairs and drops addresses and per-event times, so a program that repeats
  the same allocations (the python workload) compresses to almost nothing. A heapgraph trace
  keeps each event's address and time, so it is larger but can be replayed exactly.
- **heaptrack's cost is partly off the program's thread.** `heaptrack_interpret` and `zstd` run
  beside the program in a pipeline; wall time ends when they finish, and their CPU time and
  memory count, as does the `heapgraph record` process that drains the ring into the trace.
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
		echo "heaptrack's: below 1.00x heapgraph costs less. CPU is user + system time of every"
		echo "process in the tree. Peak RSS is the largest sum of resident sets of the processes"
		echo "alive at once, sampled every 20 ms (never below the largest single process, which"
		echo "the kernel reports exactly). Trace is the file the tool leaves behind; analysis is"
		echo "\`heapgraph report T\` or \`heaptrack_print T.zst\`, output discarded."
		echo
		summary md
		if [ -s "$WORK/aborted" ]; then
			echo
			echo "Aborted workloads:"
			echo
			sed 's/^/- /' "$WORK/aborted"
		fi
		echo
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
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	note "keeping work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
: >"$WORK/results.tsv"
: >"$WORK/commands"
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
