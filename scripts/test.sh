#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs packages, builds rose, runs
# every CTest test (lit IR/frontend/end-to-end suites, unit tests, format check,
# fuzz corpus replay), then the same under ASan+UBSan and a fuzz smoke.
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
tested=$(date +%s)
echo "test.sh: tests took $((tested - built)) s"

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang,
# which also builds the libFuzzer targets), then a short fuzz of every
# parser. ROSE_SKIP_SANITIZERS=1 skips both (a quick local loop).
if [ "${ROSE_SKIP_SANITIZERS:-0}" != 1 ]; then
  ASAN_BUILD=${ROSE_ASAN_BUILD_DIR:-${BUILD}-asan}
  cmake -S . -B "$ASAN_BUILD" -G Ninja \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DROSE_BUILD_FUZZERS=ON -DROSE_ENABLE_CUDA=OFF
  cmake --build "$ASAN_BUILD" -j "$JOBS"
  asan_built=$(date +%s)
  echo "test.sh: sanitizer build took $((asan_built - tested)) s"
  ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS"
  asan_tested=$(date +%s)
  echo "test.sh: sanitizer tests took $((asan_tested - asan_built)) s"
  # Fixed seed and execution counts: the same commit runs the same inputs.
  ROSE_FUZZ_BUILD_DIR="$ASAN_BUILD" bash scripts/fuzz.sh --smoke
  echo "test.sh: fuzz smoke took $(($(date +%s) - asan_tested)) s"
fi
