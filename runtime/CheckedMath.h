//===- CheckedMath.h - overflow-checked products and sums of sizes --------===//
//
// Every product or sum of dims, element counts or byte sizes that comes from
// an input file (ONNX, safetensors, config.json, .npy, a program file) or
// from IR goes through these: a malformed file must give a one-line error,
// never signed-overflow UB or a wrapped allocation size. Header-only and free
// of LLVM, so the compiler and the runtime (which links no MLIR) share it.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CHECKEDMATH_H
#define ROSE_RUNTIME_CHECKEDMATH_H

#include <cstdint>
#include <optional>

namespace rose {

/// a * b for sizes: nullopt when either is negative or the product does not
/// fit in int64.
inline std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

/// a * b * c for sizes.
inline std::optional<int64_t> checkedMul(int64_t a, int64_t b, int64_t c) {
  std::optional<int64_t> ab = checkedMul(a, b);
  return ab ? checkedMul(*ab, c) : std::nullopt;
}

/// a + b for sizes: nullopt when either is negative or the sum overflows.
inline std::optional<int64_t> checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

/// init * the product of `dims`: nullopt on a negative dim or overflow, even
/// when a later dim is 0 (a prefix that overflows is already malformed).
template <typename Range>
std::optional<int64_t> checkedProduct(const Range &dims, int64_t init = 1) {
  std::optional<int64_t> r = init;
  for (auto d : dims)
    if (!(r = checkedMul(*r, static_cast<int64_t>(d))))
      return std::nullopt;
  return r;
}

} // namespace rose

#endif // ROSE_RUNTIME_CHECKEDMATH_H
