#!/usr/bin/env bash
# Fails (listing the files) when any tracked C++ source differs from clang-format's LLVM style.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' 2>/dev/null || true)
[ -n "$files" ] || { echo "check-format: no files"; exit 0; }
bad=()
for f in $files; do
  [ -f "$f" ] || continue
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then bad+=("$f"); fi
done
if [ ${#bad[@]} -ne 0 ]; then
  echo "check-format: not clang-formatted (run clang-format -i): ${bad[*]}"
  exit 1
fi
echo "check-format: $(echo "$files" | wc -w) files clean"
