#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and fuzzes each on a
# copy of its committed corpus. Two modes:
#
#   bash scripts/fuzz.sh [SECONDS] [target ...]   random search for SECONDS
#       (default 60) per target, fresh seed each run: the tool for finding bugs.
#   bash scripts/fuzz.sh --smoke [target ...]     the gate's smoke: a fixed
#       number of executions per target from a fixed seed, so the same commit
#       always runs the same inputs (test.sh runs this).
#
# New crashes are written to fuzz-artifacts/<target>/; see docs/reliability.md
# for turning one into a regression input that CTest replays.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=0
seconds=60
if [ "${1:-}" = --smoke ]; then
  smoke=1
  shift
elif [ $# -gt 0 ]; then
  seconds=$1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors weight-index npy program onnx hf rose-opt)

# The smoke's executions per target: about 30 s each under ASan on one core of
# this machine kind (measured executions per second x 30, rounded down).
declare -A SMOKE_RUNS=(
  [safetensors]=80000 [weight-index]=30000 [npy]=20000 [program]=80000
  [onnx]=15000 [hf]=24000 [rose-opt]=60000
)
SMOKE_SEED=20261130

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
  runner=()
  if [ $smoke = 1 ]; then
    # The same inputs on every run of a commit: a fixed seed and count; no
    # time limits (a slow input on a loaded machine must not fail the gate;
    # -timeout stays as a hang detector only); no -reload (a timer re-reads
    # the corpus); no compare or memmem tracing (-use_cmp feeds compared values, which
    # include heap addresses, into mutations); the address space without
    # randomization (hash tables keyed by pointers in instrumented code change
    # coverage); and a fixed scratch path (FuzzUtil.h).
    budget=(-runs="${SMOKE_RUNS[$t]}" -seed=$SMOKE_SEED -timeout=300
      -reload=0 -use_cmp=0 -use_memmem=0)
    if setarch "$(uname -m)" -R true 2>/dev/null; then
      runner=(setarch "$(uname -m)" -R)
    else
      echo "fuzz.sh: setarch -R is not available: address randomization stays on"
    fi
    export ROSE_FUZZ_SCRATCH=/tmp/rose-fuzz-smoke-$t ROSE_FUZZ_DETERMINISTIC=1
    rm -rf "$ROSE_FUZZ_SCRATCH"
    echo "fuzz.sh: $t for ${SMOKE_RUNS[$t]} runs from seed $SMOKE_SEED"
  else
    budget=(-max_total_time="$seconds" -timeout=10)
    unset ROSE_FUZZ_SCRATCH ROSE_FUZZ_DETERMINISTIC
    echo "fuzz.sh: $t for ${seconds}s"
  fi
  # -rss_limit_mb and -timeout turn unbounded allocations and hangs into
  # reported failures.
  if ! "${runner[@]}" "$BUILD/bin/fuzz-$t" "$work" "${budget[@]}" \
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
