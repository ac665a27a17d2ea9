#!/usr/bin/env bash
# The CPU-machine half of GPU verification. The GPU machine has CUDA, NCCL,
# CMake and PyTorch but no MLIR, no Debian -dev packages and no internet, so
# this makes everything it cannot: compiled programs (tp=1, 2, 4), their
# weights and tokens, reference logits from the CPU backend and from PyTorch in
# float64, GPT-2 124M programs for the benchmark (its weights are regenerated
# there: 500 MB does not travel), and copies of the header-only libraries
# and flatc the runtime build needs. Then, on the GPU machine:
#
#   bash scripts/gpu-check.sh gpu-bundle
#
#   bash scripts/gpu-prepare.sh [OUT]   (default: gpu-bundle, under 64 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-bundle}
BUILD=${ROSE_BUILD_DIR:-build}
bash scripts/setup.sh >/dev/null
cmake -S . -B "$BUILD" -G Ninja -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" --target rose-compile rose-run >/dev/null

rm -rf "$OUT"
mkdir -p "$OUT/third_party/include" "$OUT/third_party/bin" "$OUT/models"
cp -r /usr/include/nlohmann /usr/include/flatbuffers /usr/include/CLI \
  "$OUT/third_party/include/"
cp "$(command -v flatc)" "$OUT/third_party/bin/"

export PYTHONPATH="$PWD/test/lib"
py=/usr/bin/python3
compile=("$BUILD/bin/rose-compile")
run=("$BUILD/bin/rose-run")

# name config seed batch seq tps
models=(
  "tiny tiny 3 2 32 1,2"
  "rosellm rosellm-2l 1 1 128 1,2,4"
  "wide wide 5 3 17 1,2"
  "deep deep 7 2 64 1,2,4"
)
for spec in "${models[@]}"; do
  read -r name config seed batch seq tps <<<"$spec"
  dir="$OUT/models/$name"
  mkdir -p "$dir"
  $py -m gpt2ref make --config "$config" --seed "$seed" --hf "$dir/hf" 2>/dev/null
  vocab=$($py -c "import json; print(json.load(open('$dir/hf/config.json'))['vocab_size'])")
  $py -m gpt2ref tokens --vocab "$vocab" --batch "$batch" --seq "$seq" \
    --seed "$seed" --out "$dir/tokens.npy"
  $py -m gpt2ref logits --config "$config" --seed "$seed" \
    --tokens "$dir/tokens.npy" --out "$dir/torch-f64.npy"
  echo "$config $seed" >"$dir/model.txt"
  for tp in ${tps//,/ }; do
    "${compile[@]}" "$dir/hf" --tp "$tp" --no-dense -o "$dir/tp$tp.rose"
    "${run[@]}" "$dir/tp$tp.rose" --tokens "$dir/tokens.npy" \
      --out "$dir/cpu-tp$tp.npy" --quiet
  done
  if [ "$name" = rosellm ]; then
    "${compile[@]}" "$dir/hf" --tp 2 --vocab-parallel --no-dense -o "$dir/tp2vp.rose"
    "${run[@]}" "$dir/tp2vp.rose" --tokens "$dir/tokens.npy" \
      --out "$dir/cpu-tp2vp.npy" --quiet
  fi
  echo "gpu-prepare: $name ($config) tp=$tps"
done

# GPT-2 124M: programs only; gpu-check.sh remakes the same-named weights.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir="$OUT/models/gpt2-124m"
mkdir -p "$dir"
$py -m gpt2ref make --config gpt2-124m --seed 0 --hf "$tmp/hf" 2>/dev/null
cp "$tmp/hf/config.json" "$dir/"
for tp in 1 2 4; do
  "${compile[@]}" "$tmp/hf" --tp "$tp" --no-dense -o "$dir/tp$tp.rose"
done
echo "gpt2-124m 0" >"$dir/model.txt"
echo "gpu-prepare: gpt2-124m programs tp=1,2,4"

du -sh "$OUT"
echo "gpu-prepare: done; on the GPU machine run: bash scripts/gpu-check.sh $OUT"
