#!/usr/bin/env bash
# Everything that verifies rose on a GPU machine, in one command. Needs
# CUDA 13 (nvcc, cuBLAS), NCCL, CMake, ninja and PyTorch; no MLIR, no
# internet. First, on a CPU machine with the full toolchain:
#
#   bash scripts/gpu-prepare.sh gpu-bundle     # programs, weights, references
#
# then, on the GPU machine, in the repository root:
#
#   bash scripts/gpu-check.sh gpu-bundle
#
# It builds the runtime with the compiler off and CUDA on, checks the CUDA
# backend's logits against the CPU backend and PyTorch (float64 on the CPU and
# PyTorch on this GPU) at tp=1, 2, 4 with the ranks sharing the GPU, in fp32,
# tf32, bf16 and fp16; generates with the KV cache (greedy tokens vs float64
# PyTorch without a cache); exercises NCCL as far as the GPUs allow; checks the
# error paths (no device, out of memory, a peer that never comes, NCCL on a
# shared GPU); runs compute-sanitizer on a small model; and runs the GPU
# benchmark. Prints PASS/FAIL per check and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${1:-gpu-bundle}
BUILD=${ROSE_GPU_BUILD_DIR:-build-gpu}
py=${PYTHON:-python3}
export PYTHONPATH="$PWD/test/lib"
failures=0
skips=0
skip() { echo "SKIP $*"; skips=$((skips + 1)); }
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# check LABEL CMD...: runs CMD, prints its last line, records the outcome.
check() {
  local label=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    pass "$label: $(tail -1 <<<"$out")"
  else
    fail "$label: $(tail -3 <<<"$out" | tr '\n' ' ')"
  fi
}
# step LABEL CMD...: a step a check depends on; its failure is recorded.
step() {
  local label=$1
  shift
  local out
  if out=$("$@" 2>&1); then return 0; fi
  fail "$label: $(tail -2 <<<"$out" | tr '\n' ' ')"
  return 1
}
# expect_error LABEL PATTERN CMD...: CMD must exit 1 (not crash, not hang)
# with a one-line error matching PATTERN.
expect_error() {
  local label=$1 pattern=$2
  shift 2
  local out rc
  out=$(timeout 300 "$@" 2>&1)
  rc=$?
  if [ $rc -eq 1 ] && grep -qE "$pattern" <<<"$out"; then
    pass "$label: $(grep -E "$pattern" <<<"$out" | head -1)"
  else
    fail "$label: exit $rc, output: $(tail -3 <<<"$out" | tr '\n' ' ')"
  fi
}

# expect_output LABEL PATTERN CMD...: CMD must succeed and print PATTERN (a
# check that merely exits 0 could have run another communicator).
expect_output() {
  local label=$1 pattern=$2
  shift 2
  local out
  if out=$("$@" 2>&1) && grep -qE "$pattern" <<<"$out"; then
    pass "$label: $(grep -E "$pattern" <<<"$out" | head -1)"
  else
    fail "$label: no '$pattern' in: $(tail -3 <<<"$out" | tr '\n' ' ')"
  fi
}

[ -d "$BUNDLE/models" ] || { echo "gpu-check: no $BUNDLE/models; run scripts/gpu-prepare.sh on a CPU machine first"; exit 1; }
nvidia-smi -L || { echo "gpu-check: no GPU (nvidia-smi -L failed)"; exit 1; }
gpus=$(nvidia-smi -L | grep -c '^GPU')
echo "== environment"
nvcc --version | tail -1
$py -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" ||
  fail "PyTorch cannot see the GPU"

echo "== build: runtime alone, CUDA on"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROSE_BUILD_COMPILER=OFF \
  -DROSE_BUILD_TESTS=OFF -DROSE_ENABLE_CUDA=ON -DROSE_BUILD_CUDA_KERNEL_TESTS=ON \
  -DROSE_GTEST_SOURCE="$PWD/$BUNDLE/third_party/googletest" \
  -DROSE_THIRD_PARTY_INCLUDE="$PWD/$BUNDLE/third_party/include" >"$BUILD.log" 2>&1 &&
  cmake --build "$BUILD" >>"$BUILD.log" 2>&1 ||
  { tail -40 "$BUILD.log"; echo "gpu-check: build failed"; exit 1; }
run="$BUILD/bin/rose-run"
echo "built $run"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== per-kernel checks: each CUDA kernel vs the CPU kernel, fp32/bf16/fp16"
# First, so a broken kernel is named in seconds before the model checks.
if [ -x "$BUILD/bin/rose-cuda-kernel-tests" ]; then
  "$BUILD/bin/rose-cuda-kernel-tests" >"$tmp/kernels.txt" 2>&1
  while read -r line; do
    case "$line" in
    "[       OK ] "*) pass "kernel ${line#\[       OK \] }" ;;
    "[  FAILED  ] "*" ms)") fail "kernel ${line#\[  FAILED  \] }" ;;
    "[  SKIPPED ] CudaCommunicator.NcclCollectives"*) [ "$gpus" -lt 2 ] &&
      skip "kernel NCCL collectives: one GPU" || fail "kernel ${line#\[  SKIPPED \] } skipped with $gpus GPUs" ;;
    "[  SKIPPED ] "*" ms)") fail "kernel ${line#\[  SKIPPED \] } skipped on a GPU machine" ;;
    esac
  done <"$tmp/kernels.txt"
  grep -E "Failure|max abs diff" "$tmp/kernels.txt" | head -20
else
  fail "per-kernel tests were not built (see $BUILD.log)"
fi

# Tolerances come from measured noise, not from habit: for each model and
# precision, PyTorch on this GPU computes the same logits at that precision,
# and rose may differ from float64 PyTorch by at most FACTOR x PyTorch's own
# error there (plus a small absolute floor for fp32, whose noise can be ~0).
# Each check also requires argmax agreement and the reference's argmax in
# rose's top 5. The sharp model (peaked attention) carries the canaries: its
# deliberately wrong references (q/k swapped, no 1/sqrt(d) scale) must FAIL
# the same check, proving these tolerances catch attention bugs.
FACTOR=3
declare -A precision=([fp32]=float32 [tf32]=tf32 [bf16]=bf16 [fp16]=fp16)
declare -A floor=([fp32]=1e-5 [tf32]=0 [bf16]=0 [fp16]=0)
declare -A agree=([fp32]=0.99 [tf32]=0.99 [bf16]=0.9 [fp16]=0.9)
# refute LABEL CMD...: CMD must fail (a canary).
refute() {
  local label=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    fail "$label: the check passed on a deliberately wrong reference: $(tail -1 <<<"$out")"
  else
    pass "$label: rejected as it must be: $(tail -1 <<<"$out")"
  fi
}

echo "== logits: CUDA backend vs float64 PyTorch, tolerance from PyTorch's own error on this GPU"
for dir in "$BUNDLE"/models/*/; do
  name=$(basename "$dir")
  if [ ! -f "$dir/tokens.npy" ]; then
    skip "$name: no tokens in the bundle (programs for the benchmark only)"
    continue
  fi
  read -r -a margs <"$dir/model.txt"
  for dtype in fp32 tf32 bf16 fp16; do
    noise="$tmp/$name-torch-$dtype.npy"
    step "$name PyTorch ${precision[$dtype]} on GPU" $py -m gpt2ref logits "${margs[@]}" \
      --tokens "$dir/tokens.npy" --device cuda --precision "${precision[$dtype]}" \
      --out "$noise" || continue
    for program in "$dir"/tp*.rose; do
      variant=$(basename "$program" .rose)
      out="$tmp/$name-$variant-$dtype.npy"
      step "$name $variant $dtype: rose-run" "$run" "$program" --backend cuda --dtype "$dtype" \
        --comm shared --weights "$dir/hf/model.safetensors" --tokens "$dir/tokens.npy" \
        --out "$out" --quiet || continue
      tolerance=(--atol "${floor[$dtype]}" --noise "$noise" --factor $FACTOR
        --argmax "${agree[$dtype]}" --topk 5)
      check "$name $variant $dtype vs float64 PyTorch" $py test/lib/check_logits.py \
        "$dir/torch-f64.npy" "$out" "${tolerance[@]}"
      if [ "$dtype" = fp32 ] && [ -f "$dir/cpu-$variant.npy" ]; then
        check "$name $variant fp32 vs CPU backend" \
          $py test/lib/check_logits.py "$dir/cpu-$variant.npy" "$out" --atol 1e-5
      fi
      for bug in "$dir"/canary-*.npy; do
        [ -f "$bug" ] || continue
        refute "$name $variant $dtype canary $(basename "$bug" .npy)" \
          $py test/lib/check_logits.py "$bug" "$out" "${tolerance[@]}"
      done
    done
  done
done

echo "== Hand-written blocks (Llama ops; ONNX primitives; a split moved by all_to_all, on a dp x tp mesh too) and a Llama checkpoint (kv heads replicated at tp=4): CUDA fp32 vs the CPU backend"
for block in llama-ops primitive-ops llama-hf all-to-all; do
  if [ ! -d "$BUNDLE/$block" ]; then
    skip "$block: not in the bundle (rerun gpu-prepare.sh)"
    continue
  fi
  lo="$BUNDLE/$block"
  for program in "$lo"/tp*.rose; do
    variant=$(basename "$program" .rose)
    step "$block $variant: rose-run" "$run" "$program" --backend cuda --dtype fp32 \
      --comm shared --weights "$lo/w.safetensors" --tokens "$lo/tokens.npy" \
      --out "$tmp/$block-$variant.npy" --quiet || continue
    check "$block $variant fp32 vs CPU backend" $py test/lib/check_logits.py \
      "$lo/cpu-$variant.npy" "$tmp/$block-$variant.npy" --atol 0 --rel 1e-5 --argmax 1
  done
done

echo "== generation on the GPU: greedy tokens vs float64 PyTorch without a cache"
# The same loop as the CPU's: prefill fills each rank's cache, decode runs one
# token per step. The references recompute the whole sequence every step.
for spec in "models/sharp:hf/model.safetensors:tokens.npy:tp1 tp2" \
  "llama-hf:w.safetensors:tokens.npy:tp2 tp4" "demo:$PWD/models/fortunes-llama/model.safetensors:prompt.npy:tp1 tp2"; do
  IFS=: read -r sub weights tokens variants <<<"$spec"
  gd="$BUNDLE/$sub"
  [[ $weights = /* ]] || weights="$gd/$weights"
  if [ ! -f "$gd/greedy.npy" ]; then
    skip "generation $sub: no greedy.npy in the bundle (rerun gpu-prepare.sh)"
    continue
  fi
  steps=$($py -c "import numpy as np; print(np.load('$gd/greedy.npy').shape[1])")
  for variant in $variants; do
    step "generate $sub $variant: rose-run" "$run" "$gd/$variant.rose" --backend cuda --comm shared \
      --weights "$weights" --tokens "$gd/$tokens" --generate "$steps" --ignore-eos \
      --out-tokens "$tmp/gen.npy" --quiet &&
      check "generate $sub $variant fp32: greedy tokens equal the reference" \
        $py test/lib/compare_tokens.py "$gd/greedy.npy" "$tmp/gen.npy"
  done
done
# Decode steps as CUDA graphs (one rank, or NCCL: capturable collectives):
# the run says so, and its tokens equal those of plain launches.
if [ -f "$BUNDLE/demo/tp1.rose" ]; then
  demo_args=(--backend cuda --weights models/fortunes-llama/model.safetensors
    --tokens "$BUNDLE/demo/prompt.npy" --generate 32 --ignore-eos)
  expect_output "generate demo tp1: decode steps as CUDA graphs" "31 decode steps as CUDA graphs" \
    "$run" "$BUNDLE/demo/tp1.rose" "${demo_args[@]}" --out-tokens "$tmp/graph.npy"
  step "generate demo tp1 --no-graphs: rose-run" "$run" "$BUNDLE/demo/tp1.rose" "${demo_args[@]}" \
    --no-graphs --out-tokens "$tmp/nograph.npy" --quiet &&
    check "generate demo tp1: graph tokens equal plain launches" \
      $py test/lib/compare_tokens.py "$tmp/nograph.npy" "$tmp/graph.npy"
fi
if [ -f "$BUNDLE/demo/tp2.rose" ]; then
  expect_output "generate demo tp2 bf16 --prompt (text out)" "^The meaning of life is" \
    "$run" "$BUNDLE/demo/tp2.rose" --backend cuda --comm shared --dtype bf16 \
    --weights models/fortunes-llama/model.safetensors --tokenizer models/fortunes-llama \
    --prompt "The meaning of life is" --generate 32
  if [ "$gpus" -ge 2 ]; then
    step "generate demo tp2 over NCCL: rose-run" "$run" "$BUNDLE/demo/tp2.rose" --backend cuda \
      --comm nccl --weights models/fortunes-llama/model.safetensors --tokens "$BUNDLE/demo/prompt.npy" \
      --generate 32 --ignore-eos --out-tokens "$tmp/gen.npy" --quiet &&
      check "generate demo tp2 nccl: greedy tokens equal the reference" \
        $py test/lib/compare_tokens.py "$BUNDLE/demo/greedy.npy" "$tmp/gen.npy"
  fi
fi

echo "== --check-against dense on the GPU"
cad="$BUNDLE/models/rosellm"
if [ -f "$cad/check-tp2-dense.rose" ]; then
  check "rosellm tp2 --check-against dense" "$run" "$cad/check-tp2-dense.rose" --backend cuda \
    --comm shared --weights "$cad/hf/model.safetensors" --check-against dense --prompt-ids 1,2,3
else
  skip "--check-against dense: no check-tp2-dense.rose in the bundle"
fi

echo "== NCCL"
small="$BUNDLE/models/rosellm"
w="$small/hf/model.safetensors"
t="$small/tokens.npy"
expect_output "nccl tp=1 (threads)" "communicator nccl" \
  "$run" "$small/tp1.rose" --backend cuda --comm nccl --weights "$w" --tokens "$t"
expect_output "nccl tp=1 (RANK/WORLD_SIZE=1)" "communicator nccl" \
  env RANK=0 WORLD_SIZE=1 "$run" "$small/tp1.rose" --backend cuda --weights "$w" --tokens "$t"
if [ "$gpus" -lt 2 ]; then
  skip "NCCL collectives numerically (tp>=2 over NCCL needs 2+ GPUs; this machine has $gpus)"
fi
if [ "$gpus" -ge 2 ]; then
  for tp in 2 4; do
    [ "$gpus" -ge $tp ] || continue
    step "nccl tp=$tp threads: rose-run" "$run" "$small/tp$tp.rose" --backend cuda --comm nccl \
      --weights "$w" --tokens "$t" --out "$tmp/nccl.npy" --quiet &&
      check "nccl tp=$tp threads vs CPU" $py test/lib/check_logits.py "$small/cpu-tp$tp.npy" "$tmp/nccl.npy" --atol 1e-4
    if command -v mpirun >/dev/null; then
      step "nccl tp=$tp mpirun: rose-run" env MASTER_PORT=29611 mpirun --allow-run-as-root \
        -x MASTER_PORT -np $tp "$run" "$small/tp$tp.rose" --backend cuda \
        --weights "$w" --tokens "$t" --out "$tmp/mpi.npy" --quiet &&
        check "nccl tp=$tp mpirun -np $tp vs CPU" $py test/lib/check_logits.py "$small/cpu-tp$tp.npy" "$tmp/mpi.npy" --atol 1e-4
    fi
  done
  # all_to_all over NCCL (grouped send/recv), and a dp x tp mesh whose
  # per-axis groups ncclCommSplit makes.
  a2a="$BUNDLE/all-to-all"
  for variant in tp-tp2 tp-dp2tp2; do
    need=$([ $variant = tp-tp2 ] && echo 2 || echo 4)
    if [ ! -f "$a2a/$variant.rose" ] || [ "$gpus" -lt "$need" ]; then
      skip "nccl all-to-all $variant (needs the bundle's block and $need GPUs)"
      continue
    fi
    step "nccl all-to-all $variant: rose-run" "$run" "$a2a/$variant.rose" --backend cuda --comm nccl \
      --weights "$a2a/w.safetensors" --tokens "$a2a/tokens.npy" --out "$tmp/a2a.npy" --quiet &&
      check "nccl all-to-all $variant vs CPU" $py test/lib/check_logits.py "$a2a/cpu-$variant.npy" \
        "$tmp/a2a.npy" --atol 0 --rel 1e-5
  done
else
  expect_error "nccl tp=2 on one GPU is refused" "needs one GPU per rank" \
    "$run" "$small/tp2.rose" --backend cuda --comm nccl --weights "$w" --tokens "$t"
  if command -v mpirun >/dev/null; then
    # Two processes on one GPU: NCCL refuses (duplicate GPU); rose must exit
    # with that error, not hang.
    expect_error "mpirun -np 2 on one GPU fails cleanly" "NCCL|rank" \
      env MASTER_PORT=29612 mpirun --allow-run-as-root -x MASTER_PORT -np 2 "$run" "$small/tp2.rose" \
      --backend cuda --weights "$w" --tokens "$t" --timeout 60
  fi
fi

echo "== error paths"
expect_error "no visible device" "no CUDA device" env CUDA_VISIBLE_DEVICES= \
  "$run" "$small/tp1.rose" --backend cuda --weights "$w" --tokens "$t"
expect_error "a peer that never joins times out" "within 5 s" env RANK=0 WORLD_SIZE=2 MASTER_PORT=29613 \
  "$run" "$small/tp2.rose" --backend cuda --weights "$w" --tokens "$t" --timeout 5
$py -c "import numpy as np; np.save('$tmp/huge.npy', np.zeros((65536, 128), np.int64))"
expect_error "out of GPU memory" "out of GPU memory" \
  "$run" "$small/tp1.rose" --backend cuda --weights "$w" --tokens "$tmp/huge.npy" --quiet
$py -c "import numpy as np; np.save('$tmp/long.npy', np.zeros((1, 129), np.int64))"
expect_error "sequence past the positions" "out of range" \
  "$run" "$small/tp1.rose" --backend cuda --weights "$w" --tokens "$tmp/long.npy"

echo "== compute-sanitizer"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
  tiny="$BUNDLE/models/tiny"
  for tool in memcheck racecheck synccheck initcheck; do
    check "compute-sanitizer $tool (tiny tp=2 shared, bf16)" "$sanitizer" --tool $tool --error-exitcode 1 \
      "$run" "$tiny/tp2.rose" --backend cuda --comm shared --dtype bf16 \
      --weights "$tiny/hf/model.safetensors" --tokens "$tiny/tokens.npy" --quiet
  done
  check "compute-sanitizer memcheck (tiny tp=1 fp32, graph repeats)" "$sanitizer" --tool memcheck \
    --error-exitcode 1 "$run" "$tiny/tp1.rose" --backend cuda --repeat 2 \
    --weights "$tiny/hf/model.safetensors" --tokens "$tiny/tokens.npy" --quiet
else
  fail "compute-sanitizer not found"
fi

echo "== GPT-2 124M: B1 x S1024 logits vs PyTorch on this GPU, then the benchmark"
big="$BUNDLE/models/gpt2-124m"
if $py bench/gpu_gpt2.py --build "$BUILD" --bundle "$BUNDLE" >"$tmp/bench.txt" 2>&1; then
  cat "$tmp/bench.txt"
  pass "benchmark"
else
  cat "$tmp/bench.txt"
  fail "benchmark"
fi
$py -c "import numpy as np; np.save('$tmp/b1.npy', np.random.default_rng(1).integers(0, 50257, (1, 1024)))"
step "gpt2-124m PyTorch fp32 on GPU" $py -m gpt2ref logits --config gpt2-124m --seed 0 \
  --tokens "$tmp/b1.npy" --device cuda --precision float32 --out "$tmp/torch124.npy" &&
for v in tp1 tp2 tp4; do
  step "gpt2-124m $v: rose-run" "$run" "$big/$v.rose" --backend cuda --comm shared \
    --weights "$big/hf/model.safetensors" --tokens "$tmp/b1.npy" --out "$tmp/rose124.npy" \
    --quiet &&
    check "gpt2-124m $v fp32 B1xS1024 vs PyTorch fp32 GPU" $py test/lib/check_logits.py \
      "$tmp/torch124.npy" "$tmp/rose124.npy" --atol 1e-3
done

echo "== summary: $failures failure(s), $skips section(s) skipped (SKIP lines above)"
[ $failures -eq 0 ]
