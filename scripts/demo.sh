#!/usr/bin/env bash
# The main job, from a fresh machine: installs packages, builds rose, makes a
# small GPT-2 with random weights in PyTorch (the rosellm config: vocab 10000,
# d_model 64, 4 heads, 2 layers), imports its Hugging Face checkpoint, shards
# it for tp=2, runs it on the CPU, and compares the logits with PyTorch's; then
# the same for a small Llama (grouped-query attention, rotary, SwiGLU); then
# generates text at tp=2 with the demo model, a small Llama trained on
# Debian's fortunes (models/fortunes-llama, scripts/train-demo-model.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

BUILD=${ROSE_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" --target rose-compile rose-run >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONPATH="$PWD/test/lib"
py=/usr/bin/python3
tokens="1,2,3,4,5,6,7,8;9,8,7,6,5,4,3,2"

echo "== 1. a random GPT-2 (rosellm config) in PyTorch, saved as a Hugging Face checkpoint"
$py -m gpt2ref make --config rosellm-2l --seed 1 --hf "$work/gpt2" 2>/dev/null
$py -m gpt2ref logits --config rosellm-2l --seed 1 --tokens "$tokens" --out "$work/torch.npy"
$py -c "import numpy as np; np.save('$work/tokens.npy', np.array([[int(t) for t in r.split(',')] for r in '$tokens'.split(';')]))"

echo "== 2. rose-compile: import, shard for tp=2, lower"
"$BUILD/bin/rose-compile" "$work/gpt2" --tp 2 -o "$work/model.rose"

echo "== 3. rose-run: 2 ranks on the CPU"
"$BUILD/bin/rose-run" "$work/model.rose" --tokens "$work/tokens.npy" --out "$work/rose.npy" --loss

echo "== 4. compare with PyTorch"
$py test/lib/check_logits.py "$work/torch.npy" "$work/rose.npy" --atol 1e-4
$py -c "import numpy as np; t=np.load('$work/torch.npy'); print('PyTorch next-token argmax:', ' '.join(str(i) for i in t[:, -1].argmax(-1)))"

echo "== 5. a random Llama (8 heads over 2 kv heads, rotary, SwiGLU) as a Hugging Face checkpoint, tp=2"
$py -m llamaref make --config gqa --seed 1 --hf "$work/llama"
$py -m llamaref logits --config gqa --seed 1 --tokens "$work/tokens.npy" --out "$work/llama-torch.npy"
"$BUILD/bin/rose-compile" "$work/llama" --tp 2 -o "$work/llama.rose"
"$BUILD/bin/rose-run" "$work/llama.rose" --tokens "$work/tokens.npy" --out "$work/llama-rose.npy"
$py test/lib/check_logits.py "$work/llama-torch.npy" "$work/llama-rose.npy" --atol 0 --rel 1e-4

echo "== 6. text: the demo model (a 4.2M-parameter Llama trained on Debian's fortunes), tp=2"
"$BUILD/bin/rose-compile" models/fortunes-llama --tp 2 -o "$work/fortunes.rose"
echo "-- greedy:"
"$BUILD/bin/rose-run" "$work/fortunes.rose" --prompt "The meaning of life is" --generate 48
echo "-- sampled (temperature 0.8, top-k 40, seed 7; the same seed gives the same text at any tp):"
"$BUILD/bin/rose-run" "$work/fortunes.rose" --prompt "Never trust a" --prompt "A wise man" \
  --generate 48 --temperature 0.8 --top-k 40 --seed 7
