#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs packages, builds rose, runs
# every CTest test (lit IR/frontend/end-to-end suites, unit tests, format check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

BUILD=${ROSE_BUILD_DIR:-build}
JOBS=${ROSE_JOBS:-$(nproc)}
start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja \
  -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$BUILD" -j "$JOBS"
built=$(date +%s)
echo "test.sh: build took $((built - start)) s"

# The runtime must also build alone, without MLIR (the GPU machine has none).
bash scripts/check-runtime-standalone.sh "${BUILD}-runtime"

ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"
echo "test.sh: tests took $(($(date +%s) - built)) s"
