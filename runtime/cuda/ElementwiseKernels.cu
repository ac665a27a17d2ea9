//===- ElementwiseKernels.cu - elementwise CUDA kernels -------------------===//
//
// Unary maps, binary ops and `where` with broadcasting, bias adds and the
// one-axis reductions. The math is Elementwise.h's, shared with the CPU.
//
//===----------------------------------------------------------------------===//
#include "runtime/Elementwise.h"
#include "runtime/cuda/DeviceUtil.cuh"
#include "runtime/cuda/Kernels.h"

using namespace rose;
using namespace rose::cuda;
using namespace rose::cuda::detail;

namespace {

/// The offsets of output element i in up to three broadcast operands.
struct Offsets {
  int64_t a = 0, b = 0, c = 0;
};
__device__ __forceinline__ Offsets offsetsOf(const BroadcastShape &shape,
                                             int64_t i) {
  Offsets o;
  for (int d = shape.rank - 1; d >= 0; --d) {
    int64_t idx = i % shape.shape[d];
    i /= shape.shape[d];
    o.a += idx * shape.aStride[d];
    o.b += idx * shape.bStride[d];
    o.c += idx * shape.cStride[d];
  }
  return o;
}

template <typename T>
__global__ void binaryKernel(BinaryKind kind, const T *a, const T *b, T *y,
                             BroadcastShape shape, int64_t n) {
  GRID_STRIDE(i, n) {
    Offsets o = offsetsOf(shape, i);
    y[i] = store<T>(applyBinary(kind, load(a + o.a), load(b + o.b)));
  }
}

/// Same-shape operands, or b repeating every nb elements (a bias).
template <typename T>
__global__ void binaryRepeatKernel(BinaryKind kind, const T *a, const T *b,
                                   T *y, int64_t n, int64_t nb) {
  GRID_STRIDE(i, n) {
    y[i] = store<T>(
        applyBinary(kind, load(a + i), load(b + (nb == n ? i : i % nb))));
  }
}

template <typename T>
__global__ void unaryKernel(UnaryKind kind, const T *x, int64_t n, T *y) {
  GRID_STRIDE(i, n) { y[i] = store<T>(applyUnary(kind, load(x + i))); }
}

/// c selects a (nonzero) or b; BroadcastShape's a, b, c strides.
template <typename T>
__global__ void whereKernel(const T *c, const T *a, const T *b, T *y,
                            BroadcastShape shape, int64_t n) {
  GRID_STRIDE(i, n) {
    Offsets o = offsetsOf(shape, i);
    y[i] = load(c + o.c) != 0.0f ? a[o.a] : b[o.b];
  }
}

template <typename T> __global__ void fillKernel(T *y, int64_t n, float v) {
  GRID_STRIDE(i, n) { y[i] = store<T>(v); }
}

template <typename T>
__global__ void castKernel(const int64_t *x, int64_t n, T *y) {
  GRID_STRIDE(i, n) { y[i] = store<T>(static_cast<float>(x[i])); }
}

template <typename T>
__global__ void triluKernel(const T *x, int64_t n, int64_t rows, int64_t cols,
                            int64_t k, bool upper, T *y) {
  GRID_STRIDE(e, n) {
    int64_t i = (e / cols) % rows, j = e % cols;
    bool keep = upper ? j >= i + k : j <= i + k;
    y[e] = keep ? x[e] : store<T>(0.0f);
  }
}

/// One thread per (outer, inner) line; accumulates in float.
template <typename T>
__global__ void reduceKernel(ReduceKind kind, const T *x, int64_t outer,
                             int64_t axis, int64_t inner, T *y) {
  GRID_STRIDE(line, outer * inner) {
    int64_t base = (line / inner) * axis * inner + line % inner;
    float acc = kind == ReduceKind::Max ? -INFINITY : 0.0f;
    for (int64_t a = 0; a < axis; ++a) {
      float v = load(x + base + a * inner);
      acc = kind == ReduceKind::Max ? (v > acc || v != v ? v : acc) : acc + v;
    }
    if (kind == ReduceKind::Mean)
      acc /= static_cast<float>(axis);
    y[line] = store<T>(acc);
  }
}

} // namespace

void rose::cuda::biasAdd(Storage s, void *y, const void *bias, int64_t rows,
                         int64_t n, cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    // The bias is the repeating operand of an in-place add.
    binaryRepeatKernel<<<blocksFor(rows * n, kThreads), kThreads, 0, stream>>>(
        BinaryKind::Add, static_cast<const T *>(y),
        static_cast<const T *>(bias), static_cast<T *>(y), rows * n, n);
  });
}

void rose::cuda::binary(Storage s, BinaryKind kind, const void *a,
                        const void *b, void *y, const BroadcastShape &shape,
                        int64_t n, cudaStream_t stream) {
  // a spans the output and b is a contiguous suffix (same shape, or a bias
  // broadcast over leading dims): no index arithmetic needed.
  bool aFull = true, bSuffix = true, seenBroadcast = false;
  int64_t expectA = 1, expectB = 1, nb = 1;
  for (int d = shape.rank - 1; d >= 0; --d) {
    aFull &= shape.shape[d] == 1 || shape.aStride[d] == expectA;
    expectA *= shape.shape[d];
    if (shape.shape[d] == 1)
      continue;
    if (shape.bStride[d] == 0) {
      seenBroadcast = true;
    } else {
      bSuffix &= !seenBroadcast && shape.bStride[d] == expectB;
      expectB *= shape.shape[d];
      nb = expectB;
    }
  }
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    if (aFull && bSuffix)
      binaryRepeatKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
          kind, static_cast<const T *>(a), static_cast<const T *>(b),
          static_cast<T *>(y), n, nb);
    else
      binaryKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
          kind, static_cast<const T *>(a), static_cast<const T *>(b),
          static_cast<T *>(y), shape, n);
  });
}

void rose::cuda::unary(Storage s, UnaryKind kind, const void *x, int64_t n,
                       void *y, cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    unaryKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        kind, static_cast<const T *>(x), n, static_cast<T *>(y));
  });
}

void rose::cuda::where(Storage s, const void *c, const void *a, const void *b,
                       void *y, const BroadcastShape &shape, int64_t n,
                       cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    whereKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(c), static_cast<const T *>(a),
        static_cast<const T *>(b), static_cast<T *>(y), shape, n);
  });
}

void rose::cuda::reduce(Storage s, ReduceKind kind, const void *x,
                        int64_t outer, int64_t axis, int64_t inner, void *y,
                        cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    reduceKernel<<<blocksFor(outer * inner, kThreads), kThreads, 0, stream>>>(
        kind, static_cast<const T *>(x), outer, axis, inner,
        static_cast<T *>(y));
  });
}

void rose::cuda::fill(Storage s, void *y, int64_t n, float value,
                      cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    fillKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<T *>(y), n, value);
  });
}

void rose::cuda::castToFloat(Storage s, const int64_t *x, int64_t n, void *y,
                             cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    castKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        x, n, static_cast<T *>(y));
  });
}

void rose::cuda::trilu(Storage s, const void *x, int64_t batch, int64_t rows,
                       int64_t cols, int64_t k, bool upper, void *y,
                       cudaStream_t stream) {
  int64_t n = batch * rows * cols;
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    triluKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(x), n, rows, cols, k, upper,
        static_cast<T *>(y));
  });
}
