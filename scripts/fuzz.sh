#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) on a copy of its committed corpus. New crashes are
# written to fuzz-artifacts/<target>/; minimize them and add them to
# test/Fuzz/corpus/<target>/ so the test suite replays them.
#
#   bash scripts/fuzz.sh [SECONDS] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy program onnx hf rose-opt)

# ROSE_FUZZ_BUILD_DIR may name an existing fuzzer build (test.sh's
# sanitizer build): then it is only brought up to date, not reconfigured.
BUILD=${ROSE_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DROSE_BUILD_FUZZERS=ON -DROSE_BUILD_TESTS=OFF -DROSE_ENABLE_CUDA=OFF >/dev/null
fi
cmake --build "$BUILD" --target $(printf 'fuzz-%s ' "${targets[@]}")

status=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp -r "test/Fuzz/corpus/$t/." "$work/"
  mkdir -p "fuzz-artifacts/$t"
  echo "fuzz.sh: $t for ${seconds}s"
  # -rss_limit_mb and -timeout turn unbounded allocations and hangs into
  # reported failures.
  if ! "$BUILD/bin/fuzz-$t" "$work" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="fuzz-artifacts/$t/" >"fuzz-artifacts/$t.log" 2>&1; then
    echo "fuzz.sh: $t FAILED; see fuzz-artifacts/$t.log"
    grep -m1 -A12 -E "ERROR|runtime error|deadly signal|timeout|out-of-memory" \
      "fuzz-artifacts/$t.log" || tail -30 "fuzz-artifacts/$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "fuzz-artifacts/$t.log" | tail -2
  fi
  rm -rf "$work"
done
exit $status
