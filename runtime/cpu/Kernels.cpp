//===- Kernels.cpp - CPU kernels
//-------------------------------------------===//
#include "runtime/cpu/Kernels.h"
#include "runtime/Shape.h"
#include "runtime/cpu/FastMath.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#ifdef ROSE_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

using rose::applyBinary;
using rose::applyUnary;
using rose::BinaryKind;
using rose::ReduceKind;
using rose::UnaryKind;
using namespace rose::cpu;

/// Loops over fewer elements run on the calling thread: waking a worker
/// costs microseconds.
static constexpr int64_t kParallelMin = 1 << 15;

/// Rows of `width` elements each, split over the pool when large enough.
template <typename F>
static void forRows(int64_t rows, int64_t width, const F &f) {
  rose::cpu::parallelFor(
      rows, std::max<int64_t>(2, kParallelMin / std::max<int64_t>(1, width)),
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          f(r);
      });
}

/// Elements [0, n) in contiguous blocks.
template <typename F> static void forBlocks(int64_t n, const F &f) {
  rose::cpu::parallelFor(n, kParallelMin, f);
}

/// Row-major C = alpha A B' + beta C, with B' = B or B^T. OpenBLAS where the
/// build has it; a plain loop otherwise, which only the runtime-alone build
/// on a machine without OpenBLAS (the GPU machine) uses.
static void sgemm(bool transB, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
#ifdef ROSE_HAVE_OPENBLAS
  cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  std::vector<float> row(n);
  for (int64_t i = 0; i < m; ++i) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int64_t p = 0; p < k; ++p) {
      float av = a[i * lda + p];
      if (transB)
        for (int64_t j = 0; j < n; ++j)
          row[j] += av * b[j * ldb + p];
      else
        for (int64_t j = 0; j < n; ++j)
          row[j] += av * b[p * ldb + j];
    }
    for (int64_t j = 0; j < n; ++j)
      c[i * ldc + j] =
          alpha * row[j] + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
  }
#endif
}

void rose::cpu::setBlasThreads(int threads) {
#ifdef ROSE_HAVE_OPENBLAS
  openblas_set_num_threads(std::max(1, threads));
#else
  (void)threads;
#endif
}

void rose::cpu::embedding(const float *table, int64_t rows, int64_t dim,
                          const int64_t *ids, int64_t tokens, int64_t first,
                          float *y) {
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t row = ids[t] - first;
    if (row >= 0 && row < rows)
      std::memcpy(y + t * dim, table + row * dim, dim * sizeof(float));
    else
      std::memset(y + t * dim, 0, dim * sizeof(float));
  }
}

/// GELU of one element: tanh form (tanh(u) = 1 - 2 / (exp(2u) + 1) with
/// expApprox, which vectorizes where tanh and std::exp do not; the clamp
/// keeps exp finite, tanh is +-1 to float precision beyond it) or exact
/// (erf).
static inline float geluTanh(float v) {
  const float c = 0.7978845608028654f; // sqrt(2 / pi)
  float u = std::min(9.0f, std::max(-9.0f, c * (v + 0.044715f * v * v * v)));
  float t = 1.0f - 2.0f / (expApprox(2.0f * u) + 1.0f);
  return 0.5f * v * (1.0f + t);
}
static inline float geluErf(float v) {
  return 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f));
}

/// The epilogue on rows [0, m) x columns [j, j + cols) of y (row stride n).
static void applyEpilogue(rose::Epilogue e, float *y, int64_t m, int64_t n,
                          int64_t j, int64_t cols) {
  for (int64_t i = 0; i < m; ++i) {
    float *row = y + i * n + j;
    if (e == rose::Epilogue::GeluTanh)
      for (int64_t c = 0; c < cols; ++c)
        row[c] = geluTanh(row[c]);
    else
      for (int64_t c = 0; c < cols; ++c)
        row[c] = geluErf(row[c]);
  }
}

void rose::cpu::matmul(const float *x, const float *w, const float *bias,
                       int64_t m, int64_t k, int64_t n, bool transposed,
                       float *y, Epilogue epilogue) {
  float beta = 0.0f;
  if (bias) {
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(y + i * n, bias, n * sizeof(float));
    beta = 1.0f;
  }
  // Output columns in blocks that depend on n alone: each block is one
  // one-thread GEMM call, the pool takes whole blocks, so every thread count
  // makes the same calls and the same bits (OpenBLAS picks its algorithm
  // by the call's shape). About 8 blocks for the model's layers, at most
  // kColumnBlock columns for the LM head, whose weight block then stays in
  // cache while every row uses it.
  constexpr int64_t kColumnBlock = 1024, kBlocks = 8, kQuantum = 64;
  int64_t block = (n + kBlocks - 1) / kBlocks;
  block = std::clamp((block + kQuantum - 1) / kQuantum * kQuantum, kQuantum,
                     kColumnBlock);
  int64_t blocks = (n + block - 1) / block;
  rose::cpu::parallelFor(blocks, 2, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      int64_t j = b * block, cols = std::min(block, n - j);
      sgemm(transposed, m, cols, k, 1.0f, x, k, transposed ? w + j * k : w + j,
            transposed ? k : n, beta, y + j, n);
      if (epilogue != Epilogue::None)
        applyEpilogue(epilogue, y, m, n, j, cols);
    }
  });
}

template <typename F>
static void broadcastLoop(const float *a, const Shape &aShape, const float *b,
                          const Shape &bShape, float *y, const Shape &out,
                          F f) {
  size_t rank = out.size();
  int64_t n = rose::numElements(out);
  if (aShape == out && bShape == out) {
    forBlocks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        y[i] = f(a[i], b[i]);
    });
    return;
  }
  // Common case: a full, b broadcast along rows ([.., N] + [N]).
  if (aShape == out && !bShape.empty() && bShape.back() == out.back()) {
    int64_t bn = 1;
    for (int64_t d : bShape)
      bn *= d;
    if (bn == out.back()) {
      forRows(n / bn, bn, [&](int64_t r) {
        for (int64_t j = 0; j < bn; ++j)
          y[r * bn + j] = f(a[r * bn + j], b[j]);
      });
      return;
    }
  }
  Shape as = rose::broadcastStrides(aShape, rank),
        bs = rose::broadcastStrides(bShape, rank);
  Shape index(rank, 0);
  int64_t ai = 0, bi = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = f(a[ai], b[bi]);
    for (size_t d = rank; d-- > 0;) {
      ai += as[d];
      bi += bs[d];
      if (++index[d] < out[d])
        break;
      ai -= as[d] * out[d];
      bi -= bs[d] * out[d];
      index[d] = 0;
    }
  }
}

template <BinaryKind K>
static void binaryAs(const float *a, const Shape &aShape, const float *b,
                     const Shape &bShape, float *y, const Shape &outShape) {
  broadcastLoop(a, aShape, b, bShape, y, outShape,
                [](float x, float z) { return applyBinary(K, x, z); });
}

void rose::cpu::binary(BinaryKind kind, const float *a, const Shape &aShape,
                       const float *b, const Shape &bShape, float *y,
                       const Shape &outShape) {
  switch (kind) {
#define ROSE_BINARY_CASE(K)                                                    \
  case BinaryKind::K:                                                          \
    return binaryAs<BinaryKind::K>(a, aShape, b, bShape, y, outShape);
    ROSE_BINARY_CASE(Add)
    ROSE_BINARY_CASE(Sub)
    ROSE_BINARY_CASE(Mul)
    ROSE_BINARY_CASE(Div)
    ROSE_BINARY_CASE(Pow)
    ROSE_BINARY_CASE(Max)
    ROSE_BINARY_CASE(Min)
    ROSE_BINARY_CASE(Equal)
    ROSE_BINARY_CASE(Less)
    ROSE_BINARY_CASE(Greater)
#undef ROSE_BINARY_CASE
  }
}

void rose::cpu::where(const float *c, const Shape &cShape, const float *a,
                      const Shape &aShape, const float *b, const Shape &bShape,
                      float *y, const Shape &out) {
  size_t rank = out.size();
  Shape cs = rose::broadcastStrides(cShape, rank),
        as = rose::broadcastStrides(aShape, rank),
        bs = rose::broadcastStrides(bShape, rank);
  int64_t inner = rank ? out[rank - 1] : 1;
  int64_t rows = inner ? rose::numElements(out) / inner : 0;
  forRows(rows, inner, [&](int64_t r) {
    // The offsets of row r's first element in each operand.
    int64_t ci = 0, ai = 0, bi = 0, rest = r;
    for (size_t d = rank ? rank - 1 : 0; d-- > 0;) {
      int64_t i = rest % out[d];
      rest /= out[d];
      ci += i * cs[d];
      ai += i * as[d];
      bi += i * bs[d];
    }
    int64_t cl = rank ? cs[rank - 1] : 0, al = rank ? as[rank - 1] : 0,
            bl = rank ? bs[rank - 1] : 0;
    float *row = y + r * inner;
    for (int64_t j = 0; j < inner; ++j)
      row[j] = c[ci + j * cl] != 0.0f ? a[ai + j * al] : b[bi + j * bl];
  });
}

void rose::cpu::trilu(const float *x, int64_t batch, int64_t rows, int64_t cols,
                      int64_t k, bool upper, float *y) {
  forRows(batch * rows, cols, [&](int64_t r) {
    int64_t i = r % rows;
    for (int64_t j = 0; j < cols; ++j) {
      bool keep = upper ? j >= i + k : j <= i + k;
      y[r * cols + j] = keep ? x[r * cols + j] : 0.0f;
    }
  });
}

void rose::cpu::reduce(ReduceKind kind, const float *x, int64_t outer,
                       int64_t axis, int64_t inner, float *y) {
  forRows(outer, axis * inner, [&](int64_t o) {
    const float *in = x + o * axis * inner;
    for (int64_t i = 0; i < inner; ++i) {
      double acc = kind == ReduceKind::Max ? -INFINITY : 0.0;
      for (int64_t a = 0; a < axis; ++a) {
        double v = in[a * inner + i];
        acc = kind == ReduceKind::Max ? (v > acc || v != v ? v : acc) : acc + v;
      }
      if (kind == ReduceKind::Mean)
        acc /= static_cast<double>(axis);
      y[o * inner + i] = static_cast<float>(acc);
    }
  });
}

void rose::cpu::layerNorm(const float *x, const float *scale, const float *bias,
                          int64_t rows, int64_t dim, double eps, float *y) {
  if (!bias) {
    forRows(rows, dim, [&](int64_t r) {
      const float *row = x + r * dim;
      double sq = 0.0; // in double, like layer norm's statistics
      for (int64_t i = 0; i < dim; ++i)
        sq += double(row[i]) * row[i];
      float inv = static_cast<float>(1.0 / std::sqrt(sq / dim + eps));
      float *out = y + r * dim;
      for (int64_t i = 0; i < dim; ++i)
        out[i] = row[i] * inv * scale[i];
    });
    return;
  }
  forRows(rows, dim, [&](int64_t r) {
    const float *row = x + r * dim;
    // Two passes in double: the mean and variance of 768 floats.
    double mean = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      mean += row[i];
    mean /= dim;
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      var += (row[i] - mean) * (row[i] - mean);
    var /= dim;
    float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    float m = static_cast<float>(mean);
    float *out = y + r * dim;
    for (int64_t i = 0; i < dim; ++i)
      out[i] = (row[i] - m) * inv * scale[i] + bias[i];
  });
}

void rose::cpu::gelu(const float *x, int64_t n, bool tanhForm, float *y) {
  if (tanhForm) {
    forBlocks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        y[i] = geluTanh(x[i]);
    });
  } else {
    forBlocks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        y[i] = geluErf(x[i]);
    });
  }
}

template <UnaryKind K>
static void unaryAs(const float *x, int64_t n, float *y) {
  forBlocks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      y[i] = applyUnary(K, x[i]);
  });
}

void rose::cpu::unary(UnaryKind kind, const float *x, int64_t n, float *y) {
  switch (kind) {
#define ROSE_UNARY_CASE(K)                                                     \
  case UnaryKind::K:                                                           \
    return unaryAs<UnaryKind::K>(x, n, y);
    ROSE_UNARY_CASE(Relu)
    ROSE_UNARY_CASE(Silu)
    ROSE_UNARY_CASE(Neg)
    ROSE_UNARY_CASE(Exp)
    ROSE_UNARY_CASE(Sqrt)
    ROSE_UNARY_CASE(Reciprocal)
    ROSE_UNARY_CASE(Tanh)
    ROSE_UNARY_CASE(Erf)
    ROSE_UNARY_CASE(Sigmoid)
    ROSE_UNARY_CASE(Not)
    ROSE_UNARY_CASE(Cos)
    ROSE_UNARY_CASE(Sin)
#undef ROSE_UNARY_CASE
  }
}

void rose::cpu::rotary(const float *x, const int64_t *positions, int64_t rows,
                       int64_t heads, int64_t headDim, const float *invFreq,
                       int64_t pairs, bool interleaved, float *y) {
  int64_t width = heads * headDim;
  forRows(rows, width, [&](int64_t r) {
    float pos = static_cast<float>(positions[r]);
    for (int64_t h = 0; h < heads; ++h) {
      const float *in = x + r * width + h * headDim;
      float *out = y + r * width + h * headDim;
      for (int64_t d = 2 * pairs; d < headDim; ++d)
        out[d] = in[d];
      for (int64_t i = 0; i < pairs; ++i) {
        float angle = pos * invFreq[i];
        float c = std::cos(angle), s = std::sin(angle);
        int64_t a = interleaved ? 2 * i : i;
        int64_t b = interleaved ? 2 * i + 1 : i + pairs;
        float xa = in[a], xb = in[b];
        out[a] = xa * c - xb * s;
        out[b] = xb * c + xa * s;
      }
    }
  });
}

void rose::cpu::softmax(const float *x, const Shape &shape, int64_t axis,
                        float *y) {
  int64_t outer = 1, inner = 1, len = shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  forRows(outer * inner, len, [&](int64_t oi) {
    int64_t o = oi / inner, in = oi % inner;
    {
      const float *src = x + o * len * inner + in;
      float *dst = y + o * len * inner + in;
      float mx = -INFINITY;
      for (int64_t i = 0; i < len; ++i)
        mx = std::max(mx, src[i * inner]);
      for (int64_t i = 0; i < len; ++i)
        dst[i * inner] = expApprox(src[i * inner] - mx);
      float sum = 0.0f;
      for (int64_t i = 0; i < len; ++i)
        sum += dst[i * inner];
      for (int64_t i = 0; i < len; ++i)
        dst[i * inner] /= sum;
    }
  });
}

void rose::cpu::attention(const float *q, const float *k, const float *v,
                          const AttentionShape &a, float *y) {
  // Per (batch, head) and block of query rows: scores = q k^T and out =
  // p v as strided GEMMs over the packed [rows, heads * headDim] layout,
  // softmax per row in between. A causal block stops at the last key its
  // last row sees, so the masked half of the scores is never computed, and
  // the scratch is one block's rows. (batch, head) pairs are split over the
  // pool; each part has its own scores and runs single-threaded GEMMs
  // (OpenBLAS overlaps concurrent one-thread calls: measured 1.06x the
  // time of one). Blocks depend on the shape alone: every thread count
  // makes the same calls and the same bits.
  constexpr int64_t kQueryBlock = 64;
  const int64_t seq = a.seq, keys = a.keys, heads = a.heads;
  int64_t width = heads * a.headDim, kvWidth = a.kvHeads * a.headDim;
  int64_t group = heads / a.kvHeads; // query heads per kv head
  int64_t before = keys - seq;       // cached positions before the queries
  rose::cpu::parallelFor(a.batch * heads, 2, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(std::min(seq, kQueryBlock) * keys);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / heads, h = bh % heads;
      const float *kh = k + b * a.kvRows * kvWidth + (h / group) * a.headDim;
      const float *vh = v + b * a.kvRows * kvWidth + (h / group) * a.headDim;
      for (int64_t i0 = 0; i0 < seq; i0 += kQueryBlock) {
        int64_t rows = std::min(kQueryBlock, seq - i0);
        // Keys the block's last row sees (all of them without a mask).
        int64_t span = a.causal ? before + i0 + rows : keys;
        const float *qh = q + (b * seq + i0) * width + h * a.headDim;
        float *yh = y + (b * seq + i0) * width + h * a.headDim;
        sgemm(true, rows, span, a.headDim, a.scale, qh, width, kh, kvWidth,
              0.0f, scores.data(), span);
        for (int64_t i = 0; i < rows; ++i) {
          float *row = scores.data() + i * span;
          int64_t seen = a.causal ? before + i0 + i + 1 : keys;
          float mx = row[0];
          for (int64_t j = 1; j < seen; ++j)
            mx = std::max(mx, row[j]);
          for (int64_t j = 0; j < seen; ++j)
            row[j] = expApprox(row[j] - mx);
          float sum = 0.0f;
          for (int64_t j = 0; j < seen; ++j)
            sum += row[j];
          float inv = 1.0f / sum;
          for (int64_t j = 0; j < seen; ++j)
            row[j] *= inv;
          // Masked keys get probability zero.
          std::fill(row + seen, row + span, 0.0f);
        }
        sgemm(false, rows, a.headDim, span, 1.0f, scores.data(), span, vh,
              kvWidth, 0.0f, yh, width);
      }
    }
  });
}

void rose::cpu::transpose(const float *x, const Shape &shape,
                          const std::vector<int64_t> &perm, float *y) {
  size_t rank = shape.size();
  Shape strides(rank, 1), out(rank);
  for (size_t d = rank - 1; d-- > 0;)
    strides[d] = strides[d + 1] * shape[d + 1];
  int64_t n = 1;
  for (size_t i = 0; i < rank; ++i) {
    out[i] = shape[perm[i]];
    n *= out[i];
  }
  Shape index(rank, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = x[src];
    for (size_t d = rank; d-- > 0;) {
      src += strides[perm[d]];
      if (++index[d] < out[d])
        break;
      src -= strides[perm[d]] * out[d];
      index[d] = 0;
    }
  }
}
