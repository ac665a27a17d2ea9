//===- CudaExecutorTest.cpp - the executor on the CUDA backend ------------===//
//
// The executor paths that are copies, not kernels, on the GPU: the
// persistent buffer program of TestPrograms.h (cache_write at an offset,
// a buffer shared by two entries, reset), checked against the numbers the
// CPU test checks, in every storage type (the values are small integers,
// exact in bf16 and fp16). Skipped without a device.
//
//===----------------------------------------------------------------------===//
#include "../TestPrograms.h"
#include "runtime/cuda/CudaBackend.h"

#include <gtest/gtest.h>

using namespace rose;
using namespace rose::test;

namespace {

bool haveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

TEST(CudaExecutor, PersistentBufferInEveryPrecision) {
  if (!haveDevice())
    GTEST_SKIP() << "no CUDA device";
  for (cuda::Precision p :
       {cuda::Precision::FP32, cuda::Precision::BF16, cuda::Precision::FP16}) {
    SCOPED_TRACE(cuda::precisionName(p));
    auto backend = cuda::CudaBackend::create(p);
    ASSERT_TRUE(backend.ok()) << backend.status().message();
    Builder b;
    Rig rig(b.finish(), **backend);
    std::vector<int64_t> prompt = {1, 2}, next = {3};
    Status s =
        rig.writer->run(prompt.data(), 1, 2, nullptr, nullptr, {{"past", 0}});
    ASSERT_TRUE(s.ok()) << s.message();
    s = rig.writer->run(next.data(), 1, 1, nullptr, nullptr, {{"past", 2}});
    ASSERT_TRUE(s.ok()) << s.message();
    std::vector<float> out = runRead(rig);
    ASSERT_EQ(out.size(), size_t(kCacheRows * kWidth));
    for (int64_t r = 0; r < kCacheRows; ++r)
      for (int64_t j = 0; j < kWidth; ++j)
        EXPECT_EQ(out[r * kWidth + j], expectedCache(r, j)) << "row " << r;
    s = rig.writer->run(prompt.data(), 1, 2, nullptr, nullptr, {{"past", 7}});
    EXPECT_EQ(s.message(),
              "CacheWrite: writing rows [7, 9) of a cache of 8 rows");
    rig.buffers.reset();
    out = runRead(rig);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out[0], 0.0f);
  }
}

} // namespace
