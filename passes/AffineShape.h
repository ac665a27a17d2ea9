//===- AffineShape.h - dims as affine functions of symbols -----*- C++ -*-===//
//
// A dynamic dim of a lowered value as (constant + coeff . symbols) /
// divisor over the program's symbols: the token ids' `batch` and `seq`, and
// `past` (the cache length of a generation step).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_AFFINESHAPE_H
#define ROSE_PASSES_AFFINESHAPE_H

#include "runtime/CheckedMath.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <optional>
#include <vector>

namespace mlir::rose {

enum Symbol { kBatch = 0, kSeq = 1, kPast = 2, kNumSymbols = 3 };

/// (constant + coeff . symbols) / divisor, kept in lowest terms.
struct AffineDim {
  int64_t constant = 0;
  std::array<int64_t, kNumSymbols> coeff{};
  int64_t divisor = 1;

  static AffineDim known(int64_t c) { return {c, {}, 1}; }
  static AffineDim symbol(Symbol s) {
    AffineDim d;
    d.coeff[s] = 1;
    return d;
  }
  bool isStatic() const {
    return std::all_of(coeff.begin(), coeff.end(),
                       [](int64_t c) { return c == 0; });
  }
  /// Statically 1: a broadcast dim, which says nothing about a dynamic one.
  bool isOne() const { return isStatic() && constant == divisor; }
  void normalize() {
    int64_t g = std::gcd(constant, divisor);
    for (int64_t c : coeff)
      g = std::gcd(g, c);
    if (g > 1) {
      constant /= g;
      divisor /= g;
      for (int64_t &c : coeff)
        c /= g;
    }
  }
  /// x k, or nullopt on overflow.
  std::optional<AffineDim> times(int64_t k) const {
    AffineDim d = *this;
    int64_t g = std::gcd(k, d.divisor);
    d.divisor /= g;
    k /= g;
    auto c = ::rose::checkedMul(d.constant, k);
    if (!c)
      return std::nullopt;
    d.constant = *c;
    for (int64_t &x : d.coeff) {
      auto m = ::rose::checkedMul(x, k);
      if (!m)
        return std::nullopt;
      x = *m;
    }
    d.normalize();
    return d;
  }
  std::optional<AffineDim> dividedBy(int64_t k) const {
    AffineDim d = *this;
    auto m = ::rose::checkedMul(d.divisor, k);
    if (!m)
      return std::nullopt;
    d.divisor = *m;
    d.normalize();
    return d;
  }
  bool operator==(const AffineDim &o) const {
    return constant == o.constant && coeff == o.coeff && divisor == o.divisor;
  }
};
using AffineShape = std::vector<AffineDim>;

/// True when `d` grows with symbol `s` (a dim along which tokens lie, for
/// s = kSeq).
inline bool dependsOn(const AffineDim &d, Symbol s) { return d.coeff[s] != 0; }

} // namespace mlir::rose

#endif // ROSE_PASSES_AFFINESHAPE_H
