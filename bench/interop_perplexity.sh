#!/bin/sh
# Do libquant's files compute in the reference's kernels what they encode?
# For each type: quantize a model --pure with `quant`, score the file with the
# reference's llama-perplexity, then decode it to f32 with `quant` and score
# that (the exact value of the same weights); print both and the gap.
# A gap beyond the reference's kernel precision means the file holds codes
# its kernels do not expect (issue 19: q8_0's -128).
#
# Run by hand, never in CI (it calls ../shared/peer):
#   bench/interop_perplexity.sh BUILD_DIR [-m MODEL]... [-c CHUNKS] [TYPE...]
# Defaults: both models of ../shared/models, 4 chunks of 512 tokens of
# ../shared/text/test.txt, every type libquant encodes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shared=${LQ_SHARED_DIR:-$here/../../shared}
build=${1:?usage: $0 BUILD_DIR [-m MODEL]... [-c CHUNKS] [TYPE...]}
shift
quant=$build/tools/quant
# PEER_PERPLEXITY: another build of the reference (an AVX2-only machine, see sbs_native.sh)
peer=${PEER_PERPLEXITY:-$shared/peer/bin/llama-perplexity}
text=$shared/text/test.txt
chunks=4
threads=2
models=""
while [ $# -gt 0 ]; do
    case $1 in
    -m) models="$models $2"; shift 2 ;;
    -c) chunks=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    *) break ;;
    esac
done
[ -n "$models" ] ||
    models="$shared/models/tiny-llama-bf16.gguf $shared/models/tiny-qwen3moe-bf16.gguf"
# every type with LQ_CAP_ENCODE but f32 (the file is already exact)
types=${*:-"f16 bf16 bf16_r16 q4_0 q4_1 q5_0 q5_1 q6_0 q8_0 q8_KV q8_K
    q2_K q3_K q4_K q5_K q6_K iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s iq1_s iq1_m
    iq4_nl iq4_xs mxfp4 iq1_bn iq2_bn iq2_k iq3_k iq4_k iq5_k iq6_k iq2_ks
    iq3_ks iq4_ks iq4_kss iq5_ks iq2_kl iq1_kt iq2_kt iq3_kt iq4_kt
    q4_0_r8 q5_0_r4 q6_0_r4 q8_0_r8 q2_k_r4 q3_k_r4 q4_k_r4 q5_k_r4 q6_k_r4
    iq2_xxs_r4 iq2_xs_r4 iq2_s_r4 iq3_xxs_r4 iq3_s_r4 iq1_s_r4 iq1_m_r4
    iq4_nl_r4 iq4_xs_r8 mxfp4_r8 iq2_bn_r4 iq2_k_r4 iq3_k_r4 iq4_k_r4
    iq5_k_r4 iq4_ks_r4 iq5_ks_r4 q8_KV_r8 q8_k_r8 q8_k_r16"}

[ -x "$quant" ] || { echo "$0: no $quant (build first)" >&2; exit 1; }
[ -x "$peer" ] || { echo "$0: no $peer" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The reference's final estimate, or a word saying why there is none.
reference_ppl() {
    # the status is kept in the subshell so that a crash is reported there,
    # into /dev/null, not by this shell
    if ! (cd "$work" && "$peer" -m "$1" -f "$text" -c 512 --chunks "$chunks" \
        -t "$threads" >"$work/ppl.out" 2>&1; exit $?) 2>/dev/null; then
        echo "fails"
        return
    fi
    ppl=$(sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$work/ppl.out")
    echo "${ppl:-none}"
}

# The reference decodes token embeddings with its to_float, which for the
# Bitnet types ignores the row scale (../shared/vectors/README.md): a --pure
# Bitnet file computes garbage there whatever its blocks hold. Those types
# are scored a second time with q8_0 token embeddings, which shows whether
# the reference's matrix kernels compute our blocks right.
embedding_decoder_broken="iq1_bn iq2_bn iq2_bn_r4"

# score MODEL_NAME MODEL LABEL TYPE [quantize options]: one line of the table
score() {
    name=$1 model=$2 label=$3 type=$4
    shift 4
    if ! "$quant" quantize --pure "$@" -t "$threads" "$model" "$work/q.gguf" "$type" \
        >"$work/quantize.out" 2>&1; then
        printf '%-24s %-20s %12s\n' "$name" "$label" "(quant fails)"
        return
    fi
    "$quant" quantize --pure --allow-requantize -t "$threads" "$work/q.gguf" \
        "$work/exact.gguf" f32 >/dev/null 2>&1
    direct=$(reference_ppl "$work/q.gguf")
    exact=$(reference_ppl "$work/exact.gguf")
    gap=$(awk -v a="$direct" -v b="$exact" 'BEGIN {
        if (a + 0 > 0 && b + 0 > 0) printf "%+.2f%%", 100 * (a / b - 1); else print "-" }')
    printf '%-24s %-20s %12s %12s %9s\n' "$name" "$label" "$direct" "$exact" "$gap"
    rm -f "$work/q.gguf" "$work/exact.gguf"
}

echo "# $(date -u +%Y-%m-%d), $chunks chunks of 512 tokens, $threads threads"
printf '%-24s %-20s %12s %12s %9s\n' model type reference exact gap
for model in $models; do
    name=$(basename "$model" .gguf)
    for type in $types; do
        score "$name" "$model" "$type" "$type"
        case " $embedding_decoder_broken " in
        *" $type "*) score "$name" "$model" "$type,embd=q8_0" "$type" \
            --token-embedding-type q8_0 ;;
        esac
    done
done
