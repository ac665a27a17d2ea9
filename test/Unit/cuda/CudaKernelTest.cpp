//===- CudaKernelTest.cpp - each CUDA kernel against the CPU kernel -------===//
//
// Every kernel of runtime/cuda/Kernels.h on seeded random inputs, in each
// storage type, against the CPU backend's kernel (or a direct loop) on the
// same inputs rounded to that storage type, so a GPU session pinpoints a
// broken kernel in seconds (scripts/gpu-check.sh runs this first). Skipped
// where no CUDA device answers (CI, developer machines).
//
// Tolerances: the CPU kernels compute in float/double; the CUDA kernels in
// float with a different summation order, then round the result to the
// storage type: fp32 ~1e-5 relative to the values' scale, fp16 half an ulp
// of 10 bits (5e-4) and bf16 of 7 bits (4e-3) on top.
//
//===----------------------------------------------------------------------===//
#include "runtime/Shape.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/Kernels.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace rose;
using rose::cuda::Storage;

namespace {

bool haveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    if (!haveDevice())                                                         \
      GTEST_SKIP() << "no CUDA device";                                        \
  } while (0)

const Storage kStorages[] = {Storage::F32, Storage::BF16, Storage::F16};

const char *name(Storage s) {
  return s == Storage::F32 ? "fp32" : s == Storage::BF16 ? "bf16" : "fp16";
}

/// Relative rounding of one stored value.
double storageEps(Storage s) {
  return s == Storage::F32 ? 1e-5 : s == Storage::F16 ? 1e-3 : 8e-3;
}

std::vector<float> randomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// A device buffer holding float data converted to storage `s`.
struct DeviceTensor {
  void *data = nullptr;
  size_t n = 0;
  Storage s = Storage::F32;
  DeviceTensor(Storage s, size_t n) : n(n), s(s) {
    EXPECT_EQ(cudaMalloc(&data, std::max<size_t>(n, 1) * 4), cudaSuccess);
  }
  DeviceTensor(Storage s, const std::vector<float> &host)
      : DeviceTensor(s, host.size()) {
    upload(host);
  }
  ~DeviceTensor() { cudaFree(data); }
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;

  void upload(const std::vector<float> &host) {
    void *staging = nullptr;
    ASSERT_EQ(cudaMalloc(&staging, std::max<size_t>(n, 1) * 4), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(staging, host.data(), n * 4, cudaMemcpyHostToDevice),
              cudaSuccess);
    cuda::convert(Storage::F32, staging, s, data, n, nullptr);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    cudaFree(staging);
  }
  std::vector<float> download() const {
    std::vector<float> host(n);
    void *staging = nullptr;
    EXPECT_EQ(cudaMalloc(&staging, std::max<size_t>(n, 1) * 4), cudaSuccess);
    cuda::convert(s, data, Storage::F32, staging, n, nullptr);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(host.data(), staging, n * 4, cudaMemcpyDeviceToHost),
              cudaSuccess);
    cudaFree(staging);
    return host;
  }
};

/// `host` as storage `s` holds it (what the CPU reference must see).
std::vector<float> rounded(Storage s, const std::vector<float> &host) {
  return DeviceTensor(s, host).download();
}

void expectClose(const std::vector<float> &want, const std::vector<float> &got,
                 double tolerance, const std::string &what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  double scale = 1e-6, worst = 0.0;
  for (float w : want)
    scale = std::max(scale, double(std::fabs(w)));
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(double(want[i]) - got[i]));
  EXPECT_LE(worst, tolerance * scale)
      << what << ": max abs diff " << worst << " at scale " << scale;
}

/// The kernels' broadcast description of operands a, b (and c) of `out`.
static cuda::BroadcastShape
broadcastShapeOf(const std::vector<int64_t> &out, const std::vector<int64_t> &a,
                 const std::vector<int64_t> &b,
                 const std::vector<int64_t> &c = {}) {
  cuda::BroadcastShape shape;
  shape.rank = static_cast<int>(out.size());
  std::vector<int64_t> as = broadcastStrides(a, out.size()),
                       bs = broadcastStrides(b, out.size()),
                       cs = broadcastStrides(c, out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    shape.shape[d] = out[d];
    shape.aStride[d] = as[d];
    shape.bStride[d] = bs[d];
    shape.cStride[d] = cs[d];
  }
  return shape;
}

TEST(CudaKernel, ConvertRoundTrip) {
  REQUIRE_GPU();
  std::vector<float> x = randomVector(1000, 1);
  for (Storage s : kStorages)
    expectClose(x, rounded(s, x), storageEps(s), name(s));
}

TEST(CudaKernel, EmbeddingWholeAndMasked) {
  REQUIRE_GPU();
  const int64_t rows = 50, dim = 24, tokens = 17;
  std::vector<float> table = randomVector(rows * dim, 2);
  std::vector<int64_t> ids(tokens);
  for (int64_t t = 0; t < tokens; ++t)
    ids[t] = (t * 7) % 100; // half of them outside [first, first + rows)
  int64_t *dIds = nullptr, *error = nullptr;
  ASSERT_EQ(cudaMalloc(&dIds, tokens * 8), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&error, 16), cudaSuccess);
  cudaMemcpy(dIds, ids.data(), tokens * 8, cudaMemcpyHostToDevice);
  for (Storage s : kStorages) {
    DeviceTensor dTable(s, table), y(s, tokens * dim);
    std::vector<float> t = rounded(s, table), want(tokens * dim);
    cuda::embedding(s, dTable.data, rows, dim, dIds, tokens, /*first=*/50,
                    /*masked=*/true, y.data, error, nullptr);
    cpu::embedding(t.data(), rows, dim, ids.data(), tokens, 50, want.data());
    expectClose(want, y.download(), 0.0, std::string("masked ") + name(s));
  }
  // Unmasked: an id past the table raises the error flag, reads nothing.
  DeviceTensor dTable(Storage::F32, table), y(Storage::F32, tokens * dim);
  cudaMemset(error, 0, 16);
  cuda::embedding(Storage::F32, dTable.data, rows, dim, dIds, tokens, 0, false,
                  y.data, error, nullptr);
  int64_t flag[2] = {0, 0};
  cudaMemcpy(flag, error, 16, cudaMemcpyDeviceToHost);
  EXPECT_EQ(flag[0], 1);
  EXPECT_GE(flag[1], rows);
  cudaFree(dIds);
  cudaFree(error);
}

TEST(CudaKernel, Positions) {
  REQUIRE_GPU();
  int64_t *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 3 * 5 * 8), cudaSuccess);
  cuda::positions(out, 3, 5, 7, nullptr);
  std::vector<int64_t> host(15);
  cudaMemcpy(host.data(), out, 15 * 8, cudaMemcpyDeviceToHost);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t s = 0; s < 5; ++s)
      EXPECT_EQ(host[b * 5 + s], s + 7);
  cudaFree(out);
}

TEST(CudaKernel, CastToFloat) {
  REQUIRE_GPU();
  // Positions up to 2^24 (exact in float32), a negative, in every storage.
  std::vector<int64_t> host = {0, 1, 7, -3, 4095, (int64_t(1) << 24) - 1};
  int64_t *x = nullptr;
  ASSERT_EQ(cudaMalloc(&x, host.size() * 8), cudaSuccess);
  cudaMemcpy(x, host.data(), host.size() * 8, cudaMemcpyHostToDevice);
  std::vector<float> want(host.begin(), host.end());
  for (Storage s : kStorages) {
    DeviceTensor y(s, host.size());
    cuda::castToFloat(s, x, host.size(), y.data, nullptr);
    expectClose(rounded(s, want), y.download(), 0.0,
                std::string("cast ") + name(s));
  }
  cudaFree(x);
}

TEST(CudaKernel, BiasAddAndBroadcastBinary) {
  REQUIRE_GPU();
  const int64_t rows = 33, n = 70;
  std::vector<float> a = randomVector(rows * n, 3), bias = randomVector(n, 4);
  for (Storage s : kStorages) {
    DeviceTensor y(s, a), dBias(s, bias);
    cuda::biasAdd(s, y.data, dBias.data, rows, n, nullptr);
    std::vector<float> ra = rounded(s, a), rb = rounded(s, bias),
                       want(a.size());
    cpu::binary(BinaryKind::Add, ra.data(), {rows, n}, rb.data(), {n},
                want.data(), {rows, n});
    expectClose(want, y.download(), 2 * storageEps(s),
                std::string("biasAdd ") + name(s));
    // [rows, 1, n] (op) [1, 4, n] -> [rows, 4, n], each kind.
    std::vector<float> b = randomVector(4 * n, 5);
    // Positive operands where a kind needs them (a divisor, pow's base).
    std::vector<float> positive = a;
    for (float &x : positive)
      x = std::fabs(x) + 0.5f;
    for (BinaryKind kind :
         {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul, BinaryKind::Div,
          BinaryKind::Pow, BinaryKind::Max, BinaryKind::Min, BinaryKind::Equal,
          BinaryKind::Less, BinaryKind::Greater}) {
      std::vector<float> lhs = kind == BinaryKind::Pow ? positive : a;
      std::vector<float> rhs = b;
      if (kind == BinaryKind::Div)
        for (float &x : rhs)
          x = std::copysign(std::fabs(x) + 0.5f, x);
      if (kind == BinaryKind::Equal) // some equal pairs
        for (int64_t i = 0; i < n; i += 3)
          rhs[i] = lhs[i];
      DeviceTensor da(s, lhs), db(s, rhs), out(s, rows * 4 * n);
      std::vector<int64_t> outShape = {rows, 4, n};
      cuda::BroadcastShape shape =
          broadcastShapeOf(outShape, {rows, 1, n}, {1, 4, n});
      cuda::binary(s, kind, da.data, db.data, out.data, shape, rows * 4 * n,
                   nullptr);
      std::vector<float> rl = rounded(s, lhs), rr = rounded(s, rhs),
                         w(rows * 4 * n);
      cpu::binary(kind, rl.data(), {rows, 1, n}, rr.data(), {1, 4, n}, w.data(),
                  outShape);
      expectClose(w, out.download(), 4 * storageEps(s),
                  "binary " + std::to_string(static_cast<int>(kind)) + " " +
                      name(s));
    }
    // where: a [rows, 1, n] mask of 0/1 selects [1, 4, n] or a scalar.
    std::vector<float> mask(rows * n);
    for (size_t i = 0; i < mask.size(); ++i)
      mask[i] = a[i] > 0.0f ? 1.0f : 0.0f;
    std::vector<float> fill = {-3.5f};
    DeviceTensor dm(s, mask), db(s, b), df(s, fill), out(s, rows * 4 * n);
    std::vector<int64_t> outShape = {rows, 4, n};
    cuda::BroadcastShape shape =
        broadcastShapeOf(outShape, {1, 4, n}, {}, {rows, 1, n});
    cuda::where(s, dm.data, db.data, df.data, out.data, shape, rows * 4 * n,
                nullptr);
    std::vector<float> rbb = rounded(s, b), rf = rounded(s, fill),
                       w(rows * 4 * n);
    cpu::where(mask.data(), {rows, 1, n}, rbb.data(), {1, 4, n}, rf.data(), {},
               w.data(), outShape);
    expectClose(w, out.download(), 0.0, std::string("where ") + name(s));
  }
}

TEST(CudaKernel, UnaryAndReduce) {
  REQUIRE_GPU();
  const int64_t rows = 19, dim = 200;
  std::vector<float> x = randomVector(rows * dim, 16, 3.0f);
  std::vector<float> positive = x;
  for (float &v : positive)
    v = std::fabs(v) + 0.25f;
  for (Storage s : kStorages) {
    for (UnaryKind kind :
         {UnaryKind::Relu, UnaryKind::Silu, UnaryKind::Neg, UnaryKind::Exp,
          UnaryKind::Sqrt, UnaryKind::Reciprocal, UnaryKind::Tanh,
          UnaryKind::Erf, UnaryKind::Sigmoid, UnaryKind::Not, UnaryKind::Cos,
          UnaryKind::Sin}) {
      bool needsPositive =
          kind == UnaryKind::Sqrt || kind == UnaryKind::Reciprocal;
      std::vector<float> in = needsPositive ? positive : x;
      if (kind == UnaryKind::Not)
        for (size_t i = 0; i < in.size(); i += 4)
          in[i] = 0.0f;
      std::vector<float> rin = rounded(s, in), want(in.size());
      DeviceTensor dx(s, in), y(s, in.size());
      cuda::unary(s, kind, dx.data, rows * dim, y.data, nullptr);
      cpu::unary(kind, rin.data(), rows * dim, want.data());
      expectClose(want, y.download(), 2 * storageEps(s),
                  "unary " + std::to_string(static_cast<int>(kind)) + " " +
                      name(s));
    }
    // trilu over 5 matrices of [19, 40], lower and upper; fill.
    {
      std::vector<float> rin = rounded(s, x), want(x.size());
      DeviceTensor dx(s, x), y(s, x.size());
      for (bool upper : {false, true})
        for (int64_t k : {-2, 0, 3}) {
          cuda::trilu(s, dx.data, 5, rows, dim / 5, k, upper, y.data, nullptr);
          cpu::trilu(rin.data(), 5, rows, dim / 5, k, upper, want.data());
          expectClose(want, y.download(), 0.0,
                      std::string(upper ? "triu " : "tril ") +
                          std::to_string(k) + " " + name(s));
        }
      cuda::fill(s, y.data, rows * dim, -2.5f, nullptr);
      expectClose(std::vector<float>(rows * dim, -2.5f), y.download(), 0.0,
                  std::string("fill ") + name(s));
    }
    // Each reduction over the middle dim of [rows, 8, dim / 8].
    std::vector<float> rx = rounded(s, x);
    DeviceTensor dx(s, x), y(s, rows * dim / 8);
    for (ReduceKind kind :
         {ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max}) {
      std::vector<float> want(rows * dim / 8);
      cuda::reduce(s, kind, dx.data, rows, 8, dim / 8, y.data, nullptr);
      cpu::reduce(kind, rx.data(), rows, 8, dim / 8, want.data());
      expectClose(want, y.download(), 8 * storageEps(s),
                  "reduce " + std::to_string(static_cast<int>(kind)) + " " +
                      name(s));
    }
  }
}

TEST(CudaKernel, LayerNormGeluSoftmax) {
  REQUIRE_GPU();
  const int64_t rows = 19, dim = 200;
  std::vector<float> x = randomVector(rows * dim, 6, 3.0f);
  std::vector<float> scale = randomVector(dim, 7), bias = randomVector(dim, 8);
  for (Storage s : kStorages) {
    std::vector<float> rx = rounded(s, x), rs = rounded(s, scale),
                       rb = rounded(s, bias), want(x.size());
    DeviceTensor dx(s, x), ds(s, scale), db(s, bias), y(s, x.size());
    cuda::layerNorm(s, dx.data, ds.data, db.data, rows, dim, 1e-5f, y.data,
                    nullptr);
    cpu::layerNorm(rx.data(), rs.data(), rb.data(), rows, dim, 1e-5,
                   want.data());
    expectClose(want, y.download(), 4 * storageEps(s),
                std::string("layerNorm ") + name(s));
    cuda::layerNorm(s, dx.data, ds.data, nullptr, rows, dim, 1e-6f, y.data,
                    nullptr);
    cpu::layerNorm(rx.data(), rs.data(), nullptr, rows, dim, 1e-6, want.data());
    expectClose(want, y.download(), 4 * storageEps(s),
                std::string("rmsNorm ") + name(s));
    for (bool tanhForm : {true, false}) {
      cuda::gelu(s, dx.data, rows * dim, tanhForm, y.data, nullptr);
      cpu::gelu(rx.data(), rows * dim, tanhForm, want.data());
      expectClose(want, y.download(), 2 * storageEps(s),
                  std::string(tanhForm ? "gelu tanh " : "gelu erf ") + name(s));
    }
    // Rotary on [rows, 4 heads, 50]: 20 pairs, both layouts.
    std::vector<int64_t> positions(rows);
    for (int64_t r = 0; r < rows; ++r)
      positions[r] = 3 * r + 1;
    std::vector<float> freqs(20);
    for (size_t i = 0; i < freqs.size(); ++i)
      freqs[i] = std::pow(10000.0f, -2.0f * i / 40.0f);
    int64_t *dpos = nullptr;
    ASSERT_EQ(cudaMalloc(&dpos, rows * sizeof(int64_t)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dpos, positions.data(), rows * sizeof(int64_t),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
    for (bool interleaved : {false, true}) {
      ASSERT_TRUE(cuda::rotary(s, dx.data, dpos, rows, 4, dim / 4, freqs.data(),
                               20, interleaved, y.data, nullptr));
      cpu::rotary(rx.data(), positions.data(), rows, 4, dim / 4, freqs.data(),
                  20, interleaved, want.data());
      expectClose(want, y.download(), 4 * storageEps(s),
                  std::string(interleaved ? "rotary interleaved " : "rotary ") +
                      name(s));
    }
    cudaFree(dpos);
    // Softmax over the middle dim of [rows, 8, dim / 8].
    cuda::softmax(s, dx.data, rows, 8, dim / 8, y.data, nullptr);
    cpu::softmax(rx.data(), {rows, 8, dim / 8}, 1, want.data());
    expectClose(want, y.download(), 2 * storageEps(s),
                std::string("softmax ") + name(s));
  }
}

TEST(CudaKernel, AttentionShapes) {
  REQUIRE_GPU();
  // Head dims around the kernel's tiling, sequences around its tiles; large
  // scores (peaked softmax) so a missing online-softmax rescale shows.
  // kvHeads < heads: grouped-query (and 1: multi-query) attention.
  struct Case {
    int64_t batch, seq, heads, kvHeads, headDim;
    bool causal;
  };
  for (Case c : {Case{2, 17, 3, 3, 16, true}, Case{1, 70, 2, 2, 64, true},
                 Case{2, 33, 2, 2, 33, false}, Case{1, 129, 1, 1, 128, true},
                 Case{1, 5, 4, 4, 256, false}, Case{2, 40, 8, 2, 64, true},
                 Case{1, 37, 4, 1, 32, true}}) {
    int64_t width = c.heads * c.headDim, n = c.batch * c.seq * width;
    int64_t nkv = c.batch * c.seq * c.kvHeads * c.headDim;
    std::vector<float> q = randomVector(n, 9, 2.0f),
                       k = randomVector(nkv, 10, 2.0f),
                       v = randomVector(nkv, 11);
    float scale = 1.0f / std::sqrt(float(c.headDim));
    for (Storage s : kStorages) {
      std::vector<float> rq = rounded(s, q), rk = rounded(s, k),
                         rv = rounded(s, v), want(n);
      DeviceTensor dq(s, q), dk(s, k), dv(s, v), y(s, n);
      AttentionShape shape = AttentionShape::self(
          c.batch, c.seq, c.heads, c.kvHeads, c.headDim, c.causal, scale);
      ASSERT_TRUE(cuda::attention(s, dq.data, dk.data, dv.data, shape, y.data,
                                  nullptr));
      cpu::attention(rq.data(), rk.data(), rv.data(), shape, want.data());
      expectClose(want, y.download(), 4 * storageEps(s),
                  "attention seq " + std::to_string(c.seq) + " head dim " +
                      std::to_string(c.headDim) + " " + name(s));
    }
  }
}

// Attention over a KV cache (generation): queries at the end of `keys`
// cached positions, in a cache with spare rows of garbage; against the CPU
// kernel on the same geometry (which the CPU unit test checks against
// self-attention over the whole sequence).
TEST(CudaKernel, AttentionOverCache) {
  REQUIRE_GPU();
  struct Case {
    int64_t batch, seq, keys, rows, heads, kvHeads, headDim;
  };
  for (Case c : {Case{2, 1, 17, 40, 4, 2, 64}, Case{1, 3, 70, 70, 2, 2, 32},
                 Case{2, 33, 40, 64, 8, 2, 64}, Case{1, 1, 1, 8, 4, 1, 128}}) {
    int64_t width = c.heads * c.headDim, n = c.batch * c.seq * width;
    int64_t nkv = c.batch * c.rows * c.kvHeads * c.headDim;
    std::vector<float> q = randomVector(n, 13, 2.0f),
                       k = randomVector(nkv, 14, 2.0f),
                       v = randomVector(nkv, 15);
    AttentionShape shape{
        c.batch,   c.seq,   c.keys,
        c.rows,    c.heads, c.kvHeads,
        c.headDim, true,    1.0f / std::sqrt(float(c.headDim))};
    for (Storage s : kStorages) {
      std::vector<float> rq = rounded(s, q), rk = rounded(s, k),
                         rv = rounded(s, v), want(n);
      DeviceTensor dq(s, q), dk(s, k), dv(s, v), y(s, n);
      ASSERT_TRUE(cuda::attention(s, dq.data, dk.data, dv.data, shape, y.data,
                                  nullptr));
      cpu::attention(rq.data(), rk.data(), rv.data(), shape, want.data());
      expectClose(want, y.download(), 4 * storageEps(s),
                  "cached attention keys " + std::to_string(c.keys) +
                      " queries " + std::to_string(c.seq) + " " + name(s));
    }
  }
}

TEST(CudaKernel, TransposeAndSumInto) {
  REQUIRE_GPU();
  std::vector<int64_t> shape = {2, 3, 5, 7}, perm = {0, 2, 1, 3};
  std::vector<float> x = randomVector(2 * 3 * 5 * 7, 12);
  for (Storage s : kStorages) {
    std::vector<float> rx = rounded(s, x), want(x.size());
    DeviceTensor dx(s, x), y(s, x.size());
    cuda::transpose(s, dx.data, 4, shape.data(), perm.data(), y.data, nullptr);
    cpu::transpose(rx.data(), shape, perm, want.data());
    expectClose(want, y.download(), 0.0, std::string("transpose ") + name(s));
  }
  // Three sources summed in order into two destinations.
  std::vector<std::vector<float>> src = {
      randomVector(999, 13), randomVector(999, 14), randomVector(999, 15)};
  for (Storage s : kStorages) {
    DeviceTensor a(s, src[0]), b(s, src[1]), c(s, src[2]), d0(s, 999),
        d1(s, 999);
    const void *srcs[] = {a.data, b.data, c.data};
    void *dsts[] = {d0.data, d1.data};
    cuda::sumInto(s, srcs, 3, dsts, 2, 999, nullptr);
    std::vector<float> ra = rounded(s, src[0]), rb = rounded(s, src[1]),
                       rc = rounded(s, src[2]), want(999);
    for (int i = 0; i < 999; ++i)
      want[i] = (ra[i] + rb[i]) + rc[i];
    expectClose(want, d0.download(), 2 * storageEps(s),
                std::string("sumInto ") + name(s));
    expectClose(want, d1.download(), 2 * storageEps(s),
                std::string("sumInto ") + name(s));
  }
}

} // namespace
