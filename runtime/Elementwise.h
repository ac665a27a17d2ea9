//===- Elementwise.h - elementwise math, host and device ----*- C++ -*-===//
//
// One definition of every unary and binary function and reduction, compiled
// into the CPU kernels and (with nvcc) the CUDA kernels, so both backends
// compute the same formula. The enumerators' values are the program file's
// (Program.fbs UnaryFn, ReduceFn); the executor checks that they agree.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_ELEMENTWISE_H
#define ROSE_RUNTIME_ELEMENTWISE_H

#include <math.h>

#ifdef __CUDACC__
#define ROSE_HOST_DEVICE __host__ __device__
#else
#define ROSE_HOST_DEVICE
#endif

namespace rose {

/// What a matmul applies to its product (plus bias) as it produces it;
/// values are the program file's (Program.fbs Epilogue).
enum class Epilogue : int { None = 0, GeluTanh = 1, GeluErf = 2 };

enum class UnaryKind : int {
  Relu = 0,
  Silu = 1,
  Neg = 2,
  Exp = 3,
  Sqrt = 4,
  Reciprocal = 5,
  Tanh = 6,
  Erf = 7,
  Sigmoid = 8,
  Not = 9,
  Cos = 10,
  Sin = 11,
};

enum class BinaryKind : int {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Max,
  Min,
  Equal,
  Less,
  Greater,
};

enum class ReduceKind : int { Sum = 0, Mean = 1, Max = 2 };

ROSE_HOST_DEVICE inline float applyUnary(UnaryKind kind, float x) {
  switch (kind) {
  case UnaryKind::Relu:
    return x > 0.0f ? x : 0.0f;
  case UnaryKind::Silu:
    return x / (1.0f + expf(-x));
  case UnaryKind::Neg:
    return -x;
  case UnaryKind::Exp:
    return expf(x);
  case UnaryKind::Sqrt:
    return sqrtf(x);
  case UnaryKind::Reciprocal:
    return 1.0f / x;
  case UnaryKind::Tanh:
    return tanhf(x);
  case UnaryKind::Erf:
    return erff(x);
  case UnaryKind::Sigmoid:
    return 1.0f / (1.0f + expf(-x));
  case UnaryKind::Not:
    return x == 0.0f ? 1.0f : 0.0f;
  case UnaryKind::Cos:
    return cosf(x);
  case UnaryKind::Sin:
    return sinf(x);
  }
  return x;
}

/// Comparisons give 1 where they hold, else 0 (rose's booleans).
ROSE_HOST_DEVICE inline float applyBinary(BinaryKind kind, float a, float b) {
  switch (kind) {
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  case BinaryKind::Div:
    return a / b;
  case BinaryKind::Pow:
    // x^2 and x^3 (layer norms, GELU) exactly as repeated products.
    return b == 2.0f ? a * a : b == 3.0f ? a * a * a : powf(a, b);
  case BinaryKind::Max:
    return a > b || a != a ? a : b;
  case BinaryKind::Min:
    return a < b || a != a ? a : b;
  case BinaryKind::Equal:
    return a == b ? 1.0f : 0.0f;
  case BinaryKind::Less:
    return a < b ? 1.0f : 0.0f;
  case BinaryKind::Greater:
    return a > b ? 1.0f : 0.0f;
  }
  return a;
}

} // namespace rose

#endif // ROSE_RUNTIME_ELEMENTWISE_H
