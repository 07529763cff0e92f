#!/usr/bin/env bash
# Per-core side by side: the reference's kernels and libquant's on the same weight bytes, one thread, timed in
# thread CPU time (bench/sbs_cpu.c). Other processes on a shared machine then change the figures little, where
# the wall-clock ../shared/peer/sbs.sh needs an idle machine. Run by hand, never in CI (it links ../shared/peer).
# usage (from the project root): bench/sbs_cpu.sh BUILD_DIR [-k COLS] [-n ROWS] [-r REPEATS] TYPE...
# Defaults: 1024 rows x 4096 columns, best of 5; prints GF/s per core at n = 1, 16, 256 and ours / reference's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${LQ_SHARED_DIR:-$here/../../shared}/peer
build=${1:?usage: bench/sbs_cpu.sh BUILD_DIR [-k COLS] [-n ROWS] [-r REPEATS] TYPE...}
shift
[ -f "$build/libquant.a" ] || { echo "sbs_cpu: $build/libquant.a not found (a release build)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -march=native -c "$here/sbs_cpu.c" -I"$peer/include" -I"$here/../libquant/include" -o "$out/sbs_cpu.o"
g++ "$out/sbs_cpu.o" "$build/libquant.a" "$peer/lib/libggml.a" -fopenmp -lpthread -lm -o "$out/sbs_cpu"
"$out/sbs_cpu" "$@"
