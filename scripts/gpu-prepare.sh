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
# GoogleTest sources (Debian's libgtest-dev ships them) for the per-kernel
# CUDA tests: the GPU machine has no GTest package.
cp -r /usr/src/googletest "$OUT/third_party/googletest"

export PYTHONPATH="$PWD/test/lib"
py=/usr/bin/python3
compile=("$BUILD/bin/rose-compile")
run=("$BUILD/bin/rose-run")

# name seed batch seq tps -- gpt2ref model flags. The sharp model (large
# attention weights: peaked softmax) also gets canary references, deliberately
# wrong, which gpu-check requires its checks to reject.
models=(
  "tiny 3 2 32 1,2 --config tiny"
  "rosellm 1 1 64 1,2,4 --config rosellm-2l"
  "sharp 2 2 32 1,2 --config rosellm-2l --sharp"
  "wide 5 3 17 1,2 --config wide"
  "deep 7 2 64 1,2,4 --config deep --gelu erf --untied"
)
for spec in "${models[@]}"; do
  read -r name seed batch seq tps flags <<<"$spec"
  read -r -a margs <<<"$flags --seed $seed"
  dir="$OUT/models/$name"
  mkdir -p "$dir"
  $py -m gpt2ref make "${margs[@]}" --hf "$dir/hf" 2>/dev/null
  vocab=$($py -c "import json; print(json.load(open('$dir/hf/config.json'))['vocab_size'])")
  $py -m gpt2ref tokens --vocab "$vocab" --batch "$batch" --seq "$seq" \
    --seed "$seed" --out "$dir/tokens.npy"
  $py -m gpt2ref logits "${margs[@]}" --tokens "$dir/tokens.npy" --out "$dir/torch-f64.npy"
  echo "${margs[*]}" >"$dir/model.txt"
  if [ "$name" = sharp ]; then
    for bug in swap-qk no-scale; do
      $py -m gpt2ref logits "${margs[@]}" --bug $bug --tokens "$dir/tokens.npy" \
        --out "$dir/canary-$bug.npy"
    done
  fi
  for tp in ${tps//,/ }; do
    "${compile[@]}" "$dir/hf" --tp "$tp" --no-dense -o "$dir/tp$tp.rose"
    "${run[@]}" "$dir/tp$tp.rose" --tokens "$dir/tokens.npy" \
      --out "$dir/cpu-tp$tp.npy" --quiet
  done
  if [ "$name" = rosellm ]; then
    "${compile[@]}" "$dir/hf" --tp 4 --vocab-parallel --no-dense -o "$dir/tp4vp.rose"
    "${run[@]}" "$dir/tp4vp.rose" --tokens "$dir/tokens.npy" \
      --out "$dir/cpu-tp4vp.npy" --quiet
    # With its dense program, for --check-against (not a tp*.rose: run once).
    "${compile[@]}" "$dir/hf" --tp 2 -o "$dir/check-tp2-dense.rose"
  fi
  echo "gpu-prepare: $name (${margs[*]}) tp=$tps"
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
echo "--config gpt2-124m --seed 0" >"$dir/model.txt"
echo "gpu-prepare: gpt2-124m programs tp=1,2,4"

# Hand-written one-block models, with the CPU backend's logits to compare
# against: Llama's ops (RMS norm, SiLU, grouped-query attention; the block of
# test/E2E/llama-ops.test) and the primitive ops ONNX imports to before
# raising (batched matmuls of activations, where, reductions, the unary
# functions, constants; test/E2E/primitive-ops.test).
for block in llama-ops:llama-block primitive-ops:primitives-block; do
  dir="$OUT/${block%%:*}"
  model="test/Inputs/${block#*:}.mlir"
  mkdir -p "$dir"
  $py test/lib/random_weights.py "$model" --out "$dir/w.safetensors"
  $py -m gpt2ref tokens --vocab 32 --batch 2 --seq 12 --seed 2 --out "$dir/tokens.npy"
  for tp in 1 2; do
    "${compile[@]}" "$model" --weights "$dir/w.safetensors" \
      --tp "$tp" --no-dense -o "$dir/tp$tp.rose"
    "${run[@]}" "$dir/tp$tp.rose" --tokens "$dir/tokens.npy" --out "$dir/cpu-tp$tp.npy" --quiet
  done
  echo "gpu-prepare: ${block%%:*} block tp=1,2"
done
# A split moved between dims by all_to_all (test/E2E/all-to-all.test), at
# tp=2, 4 and on a dp=2 x tp=2 mesh (per-axis groups on the GPU).
dir="$OUT/all-to-all"
mkdir -p "$dir"
$py test/lib/random_weights.py test/Inputs/all-to-all.mlir --out "$dir/w.safetensors"
$py -m gpt2ref tokens --vocab 32 --batch 2 --seq 12 --seed 2 --out "$dir/tokens.npy"
for mesh in tp=2 tp=4 dp=2,tp=2; do
  variant="tp-${mesh//[=,]/}"
  "${compile[@]}" test/Inputs/all-to-all.mlir --weights "$dir/w.safetensors" \
    --mesh "$mesh" --no-dense -o "$dir/$variant.rose"
  "${run[@]}" "$dir/$variant.rose" --tokens "$dir/tokens.npy" --out "$dir/cpu-$variant.npy" --quiet
done
echo "gpu-prepare: all-to-all block tp=2,4 and dp=2 x tp=2"

# A Llama checkpoint (8 heads over 2 kv heads) at tp=2 and tp=4: at tp=4 the
# kv heads are replicated (#rose.slice replicas = 2), a weight-loading path
# of its own (test/E2E/llama-hf.test).
dir="$OUT/llama-hf"
mkdir -p "$dir"
$py -m llamaref make --config gqa --seed 1 --hf "$dir/hf"
cp "$dir/hf/model.safetensors" "$dir/w.safetensors"
$py -m gpt2ref tokens --vocab 50 --batch 2 --seq 12 --seed 2 --out "$dir/tokens.npy"
for tp in 2 4; do
  "${compile[@]}" "$dir/hf" --tp "$tp" --no-dense -o "$dir/tp$tp.rose"
  "${run[@]}" "$dir/tp$tp.rose" --tokens "$dir/tokens.npy" --out "$dir/cpu-tp$tp.npy" --quiet
done
echo "gpu-prepare: llama-hf gqa tp=2,4 (kv heads replicated at 4)"

# Generation: greedy references without a cache (float64 PyTorch) for the
# programs above (they carry prefill and decode entries), and the demo model
# (its weights and tokenizer are in the repository: models/fortunes-llama).
$py -m llamaref generate --config gqa --seed 1 --tokens "$dir/tokens.npy" --steps 16 \
  --out "$dir/greedy.npy" >/dev/null
dir="$OUT/models/sharp"
$py -m gpt2ref generate --config rosellm-2l --sharp --seed 2 --tokens "$dir/tokens.npy" \
  --steps 16 --out "$dir/greedy.npy" >/dev/null
dir="$OUT/demo"
mkdir -p "$dir"
printf 'The meaning of life is\n' | spm_encode --model=models/fortunes-llama/tokenizer.model \
  --output_format=id >"$dir/ids.txt"
$py -c "import numpy as np; ids = [1] + [int(t) for t in open('$dir/ids.txt').read().split()]; np.save('$dir/prompt.npy', np.array([ids], dtype=np.int64))"
$py -m llamaref generate --checkpoint models/fortunes-llama --tokens "$dir/prompt.npy" --steps 32 \
  --out "$dir/greedy.npy" >/dev/null
for tp in 1 2; do
  "${compile[@]}" models/fortunes-llama --tp "$tp" --no-dense -o "$dir/tp$tp.rose" >/dev/null
done
echo "gpu-prepare: generation references (sharp GPT-2, gqa Llama, the demo model)"

du -sh "$OUT"
# The device tool carries at most 64 MiB of ignored paths to the GPU machine.
mib=$(du -sm --apparent-size "$OUT" | cut -f1)
if [ "$mib" -gt 60 ]; then
  echo "gpu-prepare: $OUT is $mib MiB; it must stay under 60 MiB to travel" >&2
  exit 1
fi
echo "gpu-prepare: done; on the GPU machine run: bash scripts/gpu-check.sh $OUT"
