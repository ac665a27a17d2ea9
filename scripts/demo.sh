#!/usr/bin/env bash
# The main job, from a fresh machine: installs packages, builds rose, and runs
# rose-opt on the sample 2-layer GPT-2 (verify, canonicalize, CSE, print).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

BUILD=${ROSE_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" --target rose-opt >/dev/null

model=test/Models/gpt2-2layer.mlir
echo "== rose-opt $model -canonicalize -cse"
"$BUILD/bin/rose-opt" "$model" -canonicalize -cse
echo "== op counts"
"$BUILD/bin/rose-opt" "$model" -canonicalize -cse | grep -o 'rose\.[a-z_]*' | sort | uniq -c
