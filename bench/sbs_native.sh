#!/usr/bin/env bash
# Side by side with the reference on a machine the reference in ../shared/peer
# was not built for (its libggml.a needs AVX-512; a Zen 2/3 or most Intel
# desktops have AVX2 only and stop with "Illegal instruction").
#
# usage (from the project root):
#   bench/sbs_native.sh REF_BUILD BUILD_DIR [sbs options] TYPE...
# REF_BUILD is a CMake build of ik_llama.cpp (the commit named in
# ../shared/peer/README.md) made on this machine:
#   cmake -S ik_llama.cpp -B REF_BUILD -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
#         -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_OPENMP=ON \
#         -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
#   cmake --build REF_BUILD -j --target ggml llama-perplexity llama-bench
# The program is ../shared/peer/sbs.c, unchanged; only the library differs.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,15p "$0" >&2; exit 2; }
ref=$1 build=$2; shift 2
peer=$(cd "$(dirname "$0")/../../shared/peer" && pwd)
lib=$ref/ggml/src/libggml.a
[ -f libquant/include/quant.h ] || { echo "sbs_native: run it from the project root" >&2; exit 2; }
[ -f "$lib" ] || { echo "sbs_native: $lib not found (build the reference, see above)" >&2; exit 2; }
[ -f "$build/libquant.a" ] || { echo "sbs_native: $build/libquant.a not found" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -march=native -Wno-deprecated-declarations -c "$peer/sbs.c" -I"$peer/include" \
    -Ilibquant/include -o "$out/sbs.o"
g++ "$out/sbs.o" "$build/libquant.a" "$lib" -fopenmp -lpthread -lm -o "$out/sbs"
"$out/sbs" "$@"
