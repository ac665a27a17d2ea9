#!/usr/bin/env bash
# Installs every Debian package that building and testing rose needs. Idempotent and non-interactive:
# packages already present are skipped so a warm machine pays only the dpkg query.
set -euo pipefail

PACKAGES=(
  # Build tools.
  cmake ninja-build ccache g++ clang-format
  # Compiler side: LLVM/MLIR 19 (all four packages; lit ships in llvm-19-tools).
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  # ONNX frontend: protobuf classes from libonnx-dev.
  libonnx-dev libprotobuf-dev protobuf-compiler
  # Libraries shared by compiler and runtime.
  nlohmann-json3-dev libflatbuffers-dev flatbuffers-compiler libcli11-dev
  libopenblas-dev libopenblas0-pthread
  # Tokenizers: the GPT-2 pre-tokenization regex (Unicode classes, lookahead),
  # Llama-2's sentencepiece models (and its CLI, which the tests train with).
  libpcre2-dev libsentencepiece-dev sentencepiece
  # CPU ranks as processes (mpirun) and their collectives.
  libopenmpi-dev openmpi-bin
  # Tests and benchmarks.
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch python3-onnx python3-numpy
  # Fuzzing and sanitizers (libFuzzer runtime).
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
