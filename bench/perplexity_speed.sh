#!/bin/sh
# Whole-model speed side by side: `quant perplexity` against the reference's
# llama-perplexity on the same file, same arguments, same run, alternating
# the two so that a change of the machine's load hits both. Prints per model
# the tokens/s of each (the median of the repeats; the reference's is its
# "prompt eval time" line, ours the forward-pass time, both without loading
# and tokenizing), the ratio ours / reference's, and both perplexities.
#
# Run by hand on an idle machine, never in CI (it calls ../shared/peer):
#   bench/perplexity_speed.sh BUILD_DIR [-c CHUNKS] [-t THREADS] [-r REPEATS] MODEL...
# Defaults: 20 chunks of 512 tokens of ../shared/text/test.txt, 2 threads,
# 3 repeats.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shared=${LQ_SHARED_DIR:-$here/../../shared}
build=${1:?usage: $0 BUILD_DIR [-c CHUNKS] [-t THREADS] [-r REPEATS] MODEL...}
shift
quant=$build/tools/quant
peer=${PEER_PERPLEXITY:-$shared/peer/bin/llama-perplexity}
text=$shared/text/test.txt
chunks=20
threads=2
repeats=3
while [ $# -gt 0 ]; do
    case $1 in
    -c) chunks=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -r) repeats=$2; shift 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 BUILD_DIR [-c CHUNKS] [-t THREADS] [-r REPEATS] MODEL..." >&2; exit 2; }
[ -x "$quant" ] || { echo "$0: no $quant (build first)" >&2; exit 1; }
[ -x "$peer" ] || { echo "$0: no $peer" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '# %s, %s chunks of 512, %s threads, median of %s\n' "$(date -u +%Y-%m-%d)" \
    "$chunks" "$threads" "$repeats"
printf '%-32s %10s %10s %6s %10s %10s\n' model ours_tok/s ref_tok/s x ours_ppl ref_ppl
for model in "$@"; do
    # absolute, since the reference runs in a scratch directory
    case $model in /*) ;; *) model=$(pwd)/$model ;; esac
    : >"$work/ours"
    : >"$work/ref"
    i=0
    while [ $i -lt "$repeats" ]; do
        "$quant" perplexity -m "$model" -f "$text" -c 512 --chunks "$chunks" -t "$threads" \
            >"$work/ours.out" 2>&1 || { echo "$model: quant perplexity failed" >&2; exit 1; }
        sed -n 's/.* s: \([0-9.]*\) tokens\/s.*/\1/p' "$work/ours.out" >>"$work/ours"
        (cd "$work" && "$peer" -m "$model" -f "$text" -c 512 --chunks "$chunks" -t "$threads" \
            >"$work/ref.out" 2>&1) || { echo "$model: the reference failed" >&2; exit 1; }
        sed -n 's/.*prompt eval time.*, *\([0-9.]*\) tokens per second.*/\1/p' "$work/ref.out" \
            >>"$work/ref"
        i=$((i + 1))
    done
    ours=$(median <"$work/ours")
    ref=$(median <"$work/ref")
    ours_ppl=$(sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$work/ours.out")
    ref_ppl=$(sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$work/ref.out")
    printf '%-32s %10.1f %10.1f %6.2f %10s %10s\n' "$(basename "$model")" "$ours" "$ref" \
        "$(echo "$ours $ref" | awk '{ printf "%.3f", $1 / $2 }')" "$ours_ppl" "$ref_ppl"
done
