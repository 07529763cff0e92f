#!/bin/sh
# Model speed side by side: `quant bench model` against the reference's
# llama-bench on the same file with the same tests (-p 512 -n 128 by
# default) and threads, alternating the two so that a change of the
# machine's load hits both. Prints per model and test the mean tokens/s of
# each (the mean of each tool's -r runs, then the median over the repeats of
# this script) and the ratio ours / reference's.
#
# Run by hand on an idle machine, never in CI (it calls ../shared/peer):
#   bench/model_speed.sh BUILD_DIR [-p N] [-n N] [-t THREADS] [-r RUNS] [-R REPEATS] MODEL...
# Defaults: -p 512 -n 128, 2 threads, 5 runs per tool call, 1 repeat.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shared=${LQ_SHARED_DIR:-$here/../../shared}
build=${1:?usage: $0 BUILD_DIR [-p N] [-n N] [-t THREADS] [-r RUNS] [-R REPEATS] MODEL...}
shift
quant=$build/tools/quant
peer=${PEER_BENCH:-$shared/peer/bin/llama-bench}
n_prompt=512
n_gen=128
threads=2
runs=5
repeats=1
while [ $# -gt 0 ]; do
    case $1 in
    -p) n_prompt=$2; shift 2 ;;
    -n) n_gen=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    -R) repeats=$2; shift 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 BUILD_DIR [-p N] [-n N] [-t THREADS] [-r RUNS] [-R REPEATS] MODEL..." >&2; exit 2; }
[ -x "$quant" ] || { echo "$0: no $quant (build first)" >&2; exit 1; }
[ -x "$peer" ] || { echo "$0: no $peer" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# "ppN value" / "tgN value" lines from either tool's JSON: both give every
# test's n_prompt, n_gen and avg_ts in that order
tests_of() {
    tr ',{}' '\n\n\n' | awk -F: '
        /"n_prompt"/ { p = $2 + 0 }
        /"n_gen"/ { g = $2 + 0 }
        /"avg_ts"/ { print (g > 0 ? "tg" g : "pp" p), $2 + 0 }'
}

printf '# %s, -p %s -n %s, %s threads, %s runs, median of %s\n' "$(date -u +%Y-%m-%d)" \
    "$n_prompt" "$n_gen" "$threads" "$runs" "$repeats"
printf '%-32s %8s %12s %12s %6s\n' model test ours_tok/s ref_tok/s x
for model in "$@"; do
    # absolute, since the reference runs in a scratch directory
    case $model in /*) ;; *) model=$(pwd)/$model ;; esac
    : >"$work/ours"
    : >"$work/ref"
    i=0
    while [ $i -lt "$repeats" ]; do
        "$quant" bench model -m "$model" -p "$n_prompt" -n "$n_gen" -t "$threads" -r "$runs" \
            --json 2>/dev/null | tests_of >>"$work/ours" ||
            { echo "$model: quant bench model failed" >&2; exit 1; }
        (cd "$work" && "$peer" -m "$model" -p "$n_prompt" -n "$n_gen" -t "$threads" -r "$runs" \
            -o json 2>/dev/null) | tests_of >>"$work/ref" ||
            { echo "$model: the reference failed" >&2; exit 1; }
        i=$((i + 1))
    done
    for test in $(cut -d' ' -f1 "$work/ours" | sort -u); do
        ours=$(awk -v t="$test" '$1 == t { print $2 }' "$work/ours" | median)
        ref=$(awk -v t="$test" '$1 == t { print $2 }' "$work/ref" | median)
        printf '%-32s %8s %12.2f %12.2f %6s\n' "$(basename "$model")" "$test" "$ours" \
            "${ref:-0}" "$(echo "$ours ${ref:-0}" | awk '{ printf "%.3f", ($2 > 0 ? $1 / $2 : 0) }')"
    done
done
