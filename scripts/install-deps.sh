#!/bin/sh
# install-deps.sh - install the Debian packages heapgraph needs to build, test and benchmark
#
# Idempotent and quick when everything is present: it asks dpkg first and only calls apt-get
# for what is missing. Runs apt-get directly as root, through sudo otherwise.
#
# Usage: scripts/install-deps.sh [build|test|bench]   (each level includes the ones before it)
set -eu

level=${1:-build}
pkgs="gcc make pkg-config libunwind-dev uthash-dev libdw-dev libelf-dev libzstd-dev liblzma-dev"
case "$level" in
build) ;;
test) pkgs="$pkgs check g++ python3 valgrind sqlite3 python3-pandas libc6-dbg" ;;
bench) pkgs="$pkgs check g++ python3 valgrind heaptrack sqlite3 git time liblsan0 libc6-dbg" ;;
*) echo "install-deps.sh: error: unknown level '$level' (build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
