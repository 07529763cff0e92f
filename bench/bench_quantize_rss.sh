#!/bin/sh
# Peak resident memory of `quant quantize` against the model's largest
# tensor in F32. Usage: bench/bench_quantize_rss.sh BUILD_DIR MODEL [TYPE]
# (e.g. bench/bench_quantize_rss.sh build ../shared/models/tiny-llama-bf16.gguf q4_0)
set -eu
build=$1
model=$2
type=${3:-q4_0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# the largest tensor: rows x cols from `quant quantize --dry-run`'s shapes
largest=$("$build/tools/quant" quantize --dry-run "$model" "$out/x.gguf" "$type" |
    sed -n 's/^\[[ 0-9/]*\] [^ ]* *\[\([0-9 x]*\)\].*/\1/p' |
    awk -F' x ' '{ n = 1; for (i = 1; i <= NF; i++) n *= $i; if (n > m) m = n } END { print m }')
/usr/bin/time -v "$build/tools/quant" quantize -t 2 "$model" "$out/q.gguf" "$type" \
    >/dev/null 2>"$out/time.txt"
rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time.txt")
model_bytes=$(stat -c %s "$model")
echo "model: $model ($((model_bytes / 1048576)) MiB), type $type"
echo "largest tensor: $largest weights = $((largest * 4 / 1048576)) MiB as F32"
echo "peak RSS: $((rss_kib / 1024)) MiB"
