//===- FastMath.h - an exp the compiler can vectorize -----------*- C++ -*-===//
//
// std::exp is a call into libm per element (GCC vectorizes it only under
// -ffast-math), which made GELU's tanh and the softmaxes exp-bound. This is
// Cephes' expf (range reduction by ln 2 in two parts, a degree-5 polynomial,
// the exponent set in the bits), written with selects instead of branches so
// loops over it vectorize. Accuracy: within 2 ulp of the correctly rounded
// exp over the float range (test/Unit/ParallelTest.cpp measures it against
// double-precision exp on 2^20 points); 0 below -87.34 (exp's result would
// be subnormal), +inf above 88.72, NaN for NaN.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CPU_FASTMATH_H
#define ROSE_RUNTIME_CPU_FASTMATH_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace rose::cpu {

inline float expApprox(float x) {
  constexpr float kHi = 88.7228390520683f, kLo = -87.3365447505531f;
  float c = std::min(kHi, std::max(kLo, x));
  // n = round(c / ln 2) (adding and subtracting 1.5 x 2^23 rounds to the
  // nearest integer in plain float arithmetic), r = c - n ln 2 with ln 2
  // split in two for exactness.
  constexpr float kRound = 12582912.0f;
  float n = (c * 1.44269504088896341f + kRound) - kRound;
  float r = c - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float e = p * r * r + r + 1.0f;
  // 2^n: n in [-126, 128]; 2^128 overflows the bits, so scale twice.
  int32_t half = static_cast<int32_t>(n) / 2;
  int32_t bits1 = (half + 127) << 23,
          bits2 = (static_cast<int32_t>(n) - half + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &bits1, sizeof s1);
  std::memcpy(&s2, &bits2, sizeof s2);
  float y = e * s1 * s2;
  y = x < kLo ? 0.0f : y;
  y = x > kHi ? std::numeric_limits<float>::infinity() : y;
  return x != x ? x : y;
}

} // namespace rose::cpu

#endif // ROSE_RUNTIME_CPU_FASTMATH_H
