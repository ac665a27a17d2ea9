#!/usr/bin/env bash
# Builds runtime/ with the compiler off (as on the GPU machine, which has no MLIR),
# runs its unit tests, and fails if any runtime binary links MLIR or LLVM.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-runtime}
cmake -S . -B "$BUILD" -G Ninja -DROSE_BUILD_COMPILER=OFF -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" -j "${ROSE_JOBS:-$(nproc)}"
ctest --test-dir "$BUILD" --output-on-failure
for bin in "$BUILD"/bin/*; do
  if ldd "$bin" | grep -iE 'libMLIR|libLLVM'; then
    echo "check-runtime-standalone: $bin links MLIR/LLVM"
    exit 1
  fi
done
echo "check-runtime-standalone: runtime builds and tests without MLIR/LLVM"
