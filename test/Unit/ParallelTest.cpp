//===- ParallelTest.cpp - the CPU kernels' thread pool --------------------===//
#include "runtime/cpu/Parallel.h"
#include "runtime/cpu/FastMath.h"
#include "runtime/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace rose;
using namespace rose::cpu;

namespace {

/// n draws of N(0, 1) from `gen`.
std::vector<float> randomNormal(std::mt19937 &gen, size_t n) {
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

TEST(ThreadPool, EveryIndexOnceInContiguousParts) {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 5, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> parts{0};
      pool.parallelFor(n, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        ++parts;
        for (int64_t i = begin; i < end; ++i)
          ++hits[i];
      });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " n " << n;
      EXPECT_LE(parts.load(), threads);
    }
  }
}

TEST(ThreadPool, SmallLoopsRunInlineAndThePoolIsPerThread) {
  ThreadPool pool(2);
  setThreadPool(&pool);
  EXPECT_EQ(poolThreads(), 2);
  std::thread::id caller = std::this_thread::get_id();
  bool inline_ = true;
  parallelFor(10, 100, [&](int64_t, int64_t) {
    inline_ = inline_ && std::this_thread::get_id() == caller;
  });
  EXPECT_TRUE(inline_);
  std::thread other([] { EXPECT_EQ(poolThreads(), 1); });
  other.join();
  setThreadPool(nullptr);
  EXPECT_EQ(poolThreads(), 1);
}

/// The GELU epilogue rose-compile fuses into a matmul gives exactly what the
/// unfused ops give (matmul, then gelu over the whole product), for both
/// forms, with a bias and transposed, inline and over a pool of 2.
TEST(ThreadPool, MatmulGeluEpilogueEqualsMatmulThenGelu) {
  std::mt19937 gen(11);
  const int64_t rows = 37, dim = 96, cols = 1000;
  std::vector<float> x = randomNormal(gen, rows * dim),
                     w = randomNormal(gen, dim * cols),
                     b = randomNormal(gen, cols);
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    setThreadPool(&pool);
    for (bool transposed : {false, true})
      for (bool tanhForm : {true, false}) {
        std::vector<float> unfused(rows * cols), fused(rows * cols);
        matmul(x.data(), w.data(), b.data(), rows, dim, cols, transposed,
               unfused.data());
        gelu(unfused.data(), rows * cols, tanhForm, unfused.data());
        matmul(x.data(), w.data(), b.data(), rows, dim, cols, transposed,
               fused.data(), tanhForm ? Epilogue::GeluTanh : Epilogue::GeluErf);
        EXPECT_EQ(unfused, fused) << "threads " << threads << " transposed "
                                  << transposed << " tanh " << tanhForm;
        // Not a vacuous pass: GELU changed the product.
        std::vector<float> plain(rows * cols);
        matmul(x.data(), w.data(), b.data(), rows, dim, cols, transposed,
               plain.data());
        EXPECT_NE(plain, fused);
      }
    setThreadPool(nullptr);
  }
}

/// Kernels split over a pool compute what they compute inline, bit for bit
/// (each element's arithmetic is the same; only who computes it changes).
TEST(ThreadPool, KernelsMatchTheirInlineRun) {
  std::mt19937 gen(7);
  auto random = [&](size_t n) { return randomNormal(gen, n); };
  const int64_t rows = 96, dim = 768, heads = 12, seq = 48;
  std::vector<float> x = random(rows * dim), w = random(dim * 2000),
                     b = random(2000), s = random(dim), t = random(dim);
  auto runAll = [&] {
    std::vector<float> out;
    std::vector<float> y(rows * 2000);
    matmul(x.data(), w.data(), b.data(), rows, dim, 2000, false, y.data());
    out.insert(out.end(), y.begin(), y.end());
    matmul(x.data(), w.data(), nullptr, rows, dim, 1000, true, y.data());
    out.insert(out.end(), y.begin(), y.begin() + rows * 1000);
    std::vector<float> z(rows * dim);
    layerNorm(x.data(), s.data(), t.data(), rows, dim, 1e-5, z.data());
    out.insert(out.end(), z.begin(), z.end());
    layerNorm(x.data(), s.data(), nullptr, rows, dim, 1e-6, z.data());
    out.insert(out.end(), z.begin(), z.end());
    unary(UnaryKind::Silu, x.data(), rows * dim, z.data());
    out.insert(out.end(), z.begin(), z.end());
    gelu(x.data(), rows * dim, true, z.data());
    out.insert(out.end(), z.begin(), z.end());
    binary(BinaryKind::Add, x.data(), {rows, dim}, s.data(), {dim}, z.data(),
           {rows, dim});
    out.insert(out.end(), z.begin(), z.end());
    softmax(x.data(), {rows, dim}, 1, z.data());
    out.insert(out.end(), z.begin(), z.end());
    // [2, seq, heads x 64] attention.
    std::vector<float> q = random(2 * seq * heads * 64), a(q.size());
    attention(q.data(), q.data(), q.data(),
              AttentionShape::self(2, seq, heads, heads, 64, true, 0.125f),
              a.data());
    out.insert(out.end(), a.begin(), a.end());
    // Grouped-query: 12 query heads over 3 kv heads.
    std::vector<float> kv = random(2 * seq * 3 * 64);
    attention(q.data(), kv.data(), kv.data(),
              AttentionShape::self(2, seq, heads, 3, 64, true, 0.125f),
              a.data());
    out.insert(out.end(), a.begin(), a.end());
    return out;
  };
  std::mt19937 saved = gen;
  std::vector<float> alone = runAll();
  gen = saved;
  ThreadPool pool(3);
  setThreadPool(&pool);
  std::vector<float> pooled = runAll();
  setThreadPool(nullptr);
  ASSERT_EQ(alone.size(), pooled.size());
  for (size_t i = 0; i < alone.size(); ++i)
    ASSERT_EQ(alone[i], pooled[i]) << "element " << i;
}

// Grouped-query attention equals multi-head attention on k and v with each
// kv head repeated for its group of query heads (Llama's repeat_kv): an
// independent construction of the same result.
TEST(CpuKernels, GroupedQueryEqualsRepeatedKv) {
  const int64_t batch = 2, seq = 9, heads = 8, kvHeads = 2, dim = 16;
  std::mt19937 gen(5);
  auto random = [&](size_t n) { return randomNormal(gen, n); };
  std::vector<float> q = random(batch * seq * heads * dim),
                     k = random(batch * seq * kvHeads * dim),
                     v = random(batch * seq * kvHeads * dim);
  std::vector<float> kr(q.size()), vr(q.size());
  for (int64_t t = 0; t < batch * seq; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t d = 0; d < dim; ++d) {
        int64_t src = (t * kvHeads + h / (heads / kvHeads)) * dim + d;
        kr[(t * heads + h) * dim + d] = k[src];
        vr[(t * heads + h) * dim + d] = v[src];
      }
  std::vector<float> gqa(q.size()), mha(q.size());
  attention(q.data(), k.data(), v.data(),
            AttentionShape::self(batch, seq, heads, kvHeads, dim, true, 0.25f),
            gqa.data());
  attention(q.data(), kr.data(), vr.data(),
            AttentionShape::self(batch, seq, heads, heads, dim, true, 0.25f),
            mha.data());
  for (size_t i = 0; i < q.size(); ++i)
    ASSERT_EQ(gqa[i], mha[i]) << "element " << i;
}

// Attention over a KV cache (generation): the last `fresh` queries over a
// cache with spare rows equal the last rows of causal self-attention over
// the whole sequence; garbage in the spare rows must not leak in.
TEST(CpuKernels, CachedAttentionEqualsLastRowsOfSelfAttention) {
  const int64_t batch = 2, seq = 11, heads = 4, kvHeads = 2, dim = 8;
  const int64_t rows = 16; // cache rows, past seq
  std::mt19937 gen(9);
  auto random = [&](size_t n) { return randomNormal(gen, n); };
  std::vector<float> q = random(batch * seq * heads * dim),
                     k = random(batch * seq * kvHeads * dim),
                     v = random(batch * seq * kvHeads * dim);
  std::vector<float> full(q.size());
  attention(q.data(), k.data(), v.data(),
            AttentionShape::self(batch, seq, heads, kvHeads, dim, true, 0.3f),
            full.data());
  std::vector<float> kc = random(batch * rows * kvHeads * dim),
                     vc = random(kc.size());
  int64_t kvWidth = kvHeads * dim, width = heads * dim;
  for (int64_t b = 0; b < batch; ++b)
    std::copy_n(k.begin() + b * seq * kvWidth, seq * kvWidth,
                kc.begin() + b * rows * kvWidth);
  for (int64_t b = 0; b < batch; ++b)
    std::copy_n(v.begin() + b * seq * kvWidth, seq * kvWidth,
                vc.begin() + b * rows * kvWidth);
  for (int64_t fresh : {1, 3}) {
    std::vector<float> qs(batch * fresh * width), ys(qs.size());
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(q.begin() + (b * seq + seq - fresh) * width, fresh * width,
                  qs.begin() + b * fresh * width);
    AttentionShape shape{batch,   fresh, seq,  rows, heads,
                         kvHeads, dim,   true, 0.3f};
    attention(qs.data(), kc.data(), vc.data(), shape, ys.data());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < fresh * width; ++i) {
        float want = full[(b * seq + seq - fresh) * width + i];
        ASSERT_NEAR(ys[b * fresh * width + i], want, 1e-5f)
            << "fresh " << fresh << " batch " << b << " element " << i;
      }
  }
}

// Rotary embedding as a complex rotation: pair (a, b) -> (a + ib) e^{i theta}
// with theta = position x inv_freq, in both layouts; dims past the rotated
// ones pass through.
TEST(CpuKernels, RotaryIsAComplexRotation) {
  const int64_t rows = 3, heads = 2, headDim = 6, pairs = 2;
  const int64_t positions[rows] = {0, 5, 17};
  const float invFreq[pairs] = {1.0f, 0.01f};
  std::vector<float> x(rows * heads * headDim), y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::cos(1.3 * i);
  for (bool interleaved : {false, true}) {
    rotary(x.data(), positions, rows, heads, headDim, invFreq, pairs,
           interleaved, y.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t h = 0; h < heads; ++h) {
        const float *in = x.data() + (r * heads + h) * headDim;
        const float *out = y.data() + (r * heads + h) * headDim;
        for (int64_t i = 0; i < pairs; ++i) {
          int64_t a = interleaved ? 2 * i : i;
          int64_t b = interleaved ? 2 * i + 1 : i + pairs;
          double theta = double(float(positions[r]) * invFreq[i]);
          std::complex<double> z(in[a], in[b]);
          z *= std::polar(1.0, theta);
          EXPECT_NEAR(out[a], z.real(), 1e-5);
          EXPECT_NEAR(out[b], z.imag(), 1e-5);
        }
        for (int64_t d = 2 * pairs; d < headDim; ++d)
          EXPECT_EQ(out[d], in[d]);
      }
  }
}

// RMS norm and SiLU against their definitions, in double.
TEST(CpuKernels, RmsNormAndSilu) {
  const int64_t rows = 3, dim = 10;
  std::vector<float> x(rows * dim), scale(dim), y(rows * dim);
  for (int64_t i = 0; i < rows * dim; ++i)
    x[i] = std::sin(0.7 * i) * 3.0f;
  for (int64_t i = 0; i < dim; ++i)
    scale[i] = 0.5f + 0.1f * i;
  layerNorm(x.data(), scale.data(), nullptr, rows, dim, 1e-6, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (int64_t i = 0; i < dim; ++i)
      sq += double(x[r * dim + i]) * x[r * dim + i];
    double inv = 1.0 / std::sqrt(sq / dim + 1e-6);
    for (int64_t i = 0; i < dim; ++i)
      EXPECT_NEAR(y[r * dim + i], x[r * dim + i] * inv * scale[i], 1e-5);
  }
  unary(UnaryKind::Silu, x.data(), rows * dim, y.data());
  for (int64_t i = 0; i < rows * dim; ++i)
    EXPECT_NEAR(y[i], x[i] / (1.0 + std::exp(-double(x[i]))), 1e-5);
}

} // namespace

namespace {

/// Distance in units in the last place between two finite floats of the
/// same sign.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  return std::llabs(static_cast<int64_t>(ia) - ib);
}

TEST(FastMath, ExpApproxWithinTwoUlpOfExp) {
  // 2^20 points over [-87.3, 88.7], against exp in double rounded to float.
  int64_t worst = 0;
  float worstAt = 0;
  const int n = 1 << 20;
  for (int i = 0; i <= n; ++i) {
    float x = -87.33f + (88.72f + 87.33f) * static_cast<float>(i) / n;
    float want = static_cast<float>(std::exp(static_cast<double>(x)));
    if (want < std::numeric_limits<float>::min())
      continue; // subnormal results: exp's own accuracy is lost there
    int64_t d = ulps(expApprox(x), want);
    if (d > worst) {
      worst = d;
      worstAt = x;
    }
  }
  EXPECT_LE(worst, 2) << "at x = " << worstAt;
  EXPECT_EQ(expApprox(0.0f), 1.0f);
  EXPECT_EQ(expApprox(-100.0f), 0.0f);
  EXPECT_EQ(expApprox(-INFINITY), 0.0f);
  EXPECT_EQ(expApprox(100.0f), INFINITY);
  EXPECT_EQ(expApprox(INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(expApprox(NAN)));
}

TEST(CpuKernels, GeluAndSoftmaxAgainstDouble) {
  // GELU (tanh form) within 2e-7 of |x| + 1e-7 of the double formula;
  // softmax rows within 1e-6 relative, masked (-inf) entries exactly 0.
  std::vector<float> x(4001), y(4001);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = -20.0f + 40.0f * static_cast<float>(i) / 4000;
  gelu(x.data(), static_cast<int64_t>(x.size()), true, y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    double v = x[i];
    double want =
        0.5 * v *
        (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(y[i], want, 2e-7 * std::fabs(v) + 1e-7) << "gelu(" << v << ")";
  }
  std::mt19937 gen(3);
  std::vector<float> s = randomNormal(gen, 3 * 50);
  for (float &v : s)
    v *= 10;
  s[7] = -INFINITY;
  std::vector<float> p(s.size());
  softmax(s.data(), {3, 50}, 1, p.data());
  for (int r = 0; r < 3; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < 50; ++j)
      mx = std::max(mx, static_cast<double>(s[r * 50 + j]));
    for (int j = 0; j < 50; ++j)
      sum += std::exp(s[r * 50 + j] - mx);
    for (int j = 0; j < 50; ++j) {
      double want = std::exp(s[r * 50 + j] - mx) / sum;
      EXPECT_NEAR(p[r * 50 + j], want, 1e-6 * want + 1e-12);
    }
  }
  EXPECT_EQ(p[7], 0.0f);
}

} // namespace
